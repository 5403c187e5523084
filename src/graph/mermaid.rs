//! The graph's shape as Mermaid text, in the layout of LangGraph's
//! `get_graph().draw_mermaid()`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::spec::{END, START};

/// One drawn edge: source, target, and whether it is conditional (a
/// router's or a node's goto destination, drawn dotted).
pub(crate) type DrawnEdge = (String, String, bool);

/// Mermaid text for `nodes` (in the order they were added) and `edges`:
/// `START` first, `END` last when an edge reaches it, then the edges
/// sorted by source and target, as LangGraph prints them.
pub(crate) fn render(nodes: &[String], edges: &BTreeSet<DrawnEdge>) -> String {
    let mut out = String::from("---\nconfig:\n  flowchart:\n    curve: linear\n---\ngraph TD;\n");
    let _ = writeln!(out, "\t{START}([<p>{START}</p>]):::first");
    for n in nodes {
        let _ = writeln!(out, "\t{n}({n})");
    }
    if edges.iter().any(|(_, to, _)| to == END) {
        let _ = writeln!(out, "\t{END}([<p>{END}</p>]):::last");
    }
    for (from, to, conditional) in edges {
        let arrow = if *conditional { "-.->" } else { "-->" };
        let _ = writeln!(out, "\t{from} {arrow} {to};");
    }
    out.push_str(
        "\tclassDef default fill:#f2f0ff,line-height:1.2\n\
         \tclassDef first fill-opacity:0\n\
         \tclassDef last fill:#bfb6fc\n",
    );
    out
}
