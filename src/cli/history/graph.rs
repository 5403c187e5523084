//! `history --graph`: the checkpoints of a thread as a tree of branches,
//! drawn as `git log --graph --topo-order` draws commits. Newest branch
//! first; each branch is printed whole before the fork point it started
//! from, so lanes never cross; the latest checkpoint of each branch is
//! marked.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{HistoryRow, node_list, user_channels};
use crate::cli::error::CliResult;
use crate::cli::fmt::{Colour, escape, paint};
use crate::cli::ids::Shortener;
use crate::cli::table::{Table, local_time, ns_label, print_json};

/// One checkpoint as drawn.
#[derive(Debug, Serialize)]
struct Drawn<'r, 'a> {
    /// The lines drawn above it that join branches (`|/`).
    joins: Vec<String>,
    /// The graph part of its own line (`| *`).
    graph: String,
    /// Its lane, 0 on the left.
    lane: usize,
    /// Whether it is the latest checkpoint of its branch.
    latest_of_branch: bool,
    #[serde(flatten)]
    row: &'r HistoryRow<'a>,
}

/// The rows of one namespace in drawing order: a post-order walk from the
/// roots, the child with the newest descendant first.
fn topo_order<'r, 'a>(rows: &[&'r HistoryRow<'a>]) -> Vec<&'r HistoryRow<'a>> {
    let by_id: HashMap<&str, &'r HistoryRow<'a>> =
        rows.iter().map(|r| (r.checkpoint_id, *r)).collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut roots: Vec<&str> = Vec::new();
    for r in rows {
        match r.parent_checkpoint_id.filter(|p| by_id.contains_key(p)) {
            Some(p) => children.entry(p).or_default().push(r.checkpoint_id),
            None => roots.push(r.checkpoint_id),
        }
    }
    // The newest id in each subtree: children sort after their parents,
    // so newest first visits every child before its parent.
    let mut ids: Vec<&str> = by_id.keys().copied().collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut newest: HashMap<&str, &str> = HashMap::new();
    for id in &ids {
        let mut top = *id;
        for c in children.get(id).into_iter().flatten() {
            top = top.max(newest.get(c).copied().unwrap_or(c));
        }
        newest.insert(id, top);
    }
    let by_newest = |list: &mut Vec<&str>| {
        list.sort_by(|a, b| newest.get(b).cmp(&newest.get(a)).then(b.cmp(a)));
    };
    by_newest(&mut roots);
    let mut out = Vec::with_capacity(rows.len());
    let mut stack: Vec<(&str, bool)> = roots.iter().rev().map(|r| (*r, false)).collect();
    while let Some((id, expanded)) = stack.pop() {
        if expanded {
            out.push(by_id[id]);
            continue;
        }
        stack.push((id, true));
        let mut kids = children.get(id).cloned().unwrap_or_default();
        by_newest(&mut kids);
        stack.extend(kids.iter().rev().map(|k| (*k, false)));
    }
    out
}

/// Lays out `ordered` in lanes.
fn draw<'r, 'a>(ordered: &[&'r HistoryRow<'a>]) -> Vec<Drawn<'r, 'a>> {
    let present: std::collections::HashSet<&str> =
        ordered.iter().map(|r| r.checkpoint_id).collect();
    // Each lane waits for the checkpoint it continues to (its parent).
    let mut lanes: Vec<Option<&str>> = Vec::new();
    let mut out = Vec::with_capacity(ordered.len());
    for row in ordered {
        let id = row.checkpoint_id;
        let waiting: Vec<usize> = (0..lanes.len()).filter(|i| lanes[*i] == Some(id)).collect();
        let mut joins = Vec::new();
        let (lane, latest) = if let Some(first) = waiting.first() {
            // The lanes waiting for a fork point are the last ones (each
            // branch was printed whole): fold them in from the right.
            for j in waiting.iter().skip(1).rev() {
                joins.push(format!("{}|/", "| ".repeat(j - 1)));
                lanes.remove(*j);
            }
            (*first, false)
        } else {
            lanes.push(Some(id));
            (lanes.len() - 1, true)
        };
        let graph: Vec<&str> = (0..lanes.len())
            .map(|i| if i == lane { "*" } else { "|" })
            .collect();
        let parent = row.parent_checkpoint_id.filter(|p| present.contains(p));
        match parent {
            Some(p) => lanes[lane] = Some(p),
            None => {
                lanes.remove(lane);
            }
        }
        out.push(Drawn {
            joins,
            graph: graph.join(" "),
            lane,
            latest_of_branch: latest,
            row,
        });
    }
    out
}

/// Prints the tree (or, with `json`, the rows with their lanes).
pub(super) fn print(rows: &[HistoryRow<'_>], short: &Shortener, json: bool) -> CliResult<()> {
    let mut namespaces: Vec<&str> = rows.iter().map(|r| r.checkpoint_ns).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let mut drawn = Vec::new();
    for ns in &namespaces {
        let of_ns: Vec<&HistoryRow<'_>> = rows.iter().filter(|r| r.checkpoint_ns == *ns).collect();
        drawn.push((*ns, draw(&topo_order(&of_ns))));
    }
    if json {
        let all: Vec<&Drawn<'_, '_>> = drawn.iter().flat_map(|(_, d)| d).collect();
        return print_json(&all);
    }
    if rows.is_empty() {
        outln!("no checkpoints match");
        return Ok(());
    }
    let headings = namespaces.len() > 1;
    for (ns, lines) in &drawn {
        if headings {
            outln!("namespace {}", escape(ns_label(ns)));
        }
        print_lines(lines, short)?;
    }
    Ok(())
}

/// The lines of one namespace, their columns aligned.
fn print_lines(lines: &[Drawn<'_, '_>], short: &Shortener) -> CliResult<()> {
    let width = lines.iter().map(|d| d.graph.len()).max().unwrap_or(1);
    let mut table = Table::default();
    for d in lines {
        let r = d.row;
        let mark = if d.latest_of_branch {
            paint("(latest)", Colour::Bold)
        } else {
            String::new()
        };
        table.row(vec![
            format!("{:<width$}", d.graph),
            paint(&escape(short.short(r.checkpoint_id)), Colour::Yellow),
            format!("step {}", r.step),
            r.source.to_owned(),
            node_list(&r.nodes),
            user_channels(&r.changed),
            paint(&local_time(r.ts), Colour::Dim),
            mark,
        ]);
    }
    let text = table.render_rows();
    for (d, line) in lines.iter().zip(text.lines()) {
        for join in &d.joins {
            outln!("{join}");
        }
        outln!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use checkpointer::{CheckpointMetadata, CheckpointSource};

    use super::*;

    /// Rows for `(id, parent)` pairs, newest first as `history` gives them.
    fn rows<'a>(
        links: &'a [(&'a str, Option<&'a str>)],
        md: &'a CheckpointMetadata,
    ) -> Vec<HistoryRow<'a>> {
        let mut rows: Vec<HistoryRow<'a>> = links
            .iter()
            .map(|(id, parent)| HistoryRow {
                checkpoint_id: id,
                checkpoint_ns: "",
                step: 0,
                source: "loop",
                parent_checkpoint_id: *parent,
                ts: "",
                changed: Vec::new(),
                nodes: Vec::new(),
                children: 0,
                branch_start: false,
                metadata: md,
            })
            .collect();
        rows.reverse();
        rows
    }

    /// The graph column of each line, joins included.
    fn picture(rows: &[HistoryRow<'_>]) -> Vec<String> {
        let refs: Vec<&HistoryRow<'_>> = rows.iter().collect();
        let mut out = Vec::new();
        for d in draw(&topo_order(&refs)) {
            out.extend(d.joins.iter().cloned());
            out.push(format!("{} {}", d.graph, d.row.checkpoint_id));
        }
        out
    }

    #[test]
    fn branches_from_two_fork_points_never_cross() {
        // c0 - c1 - c2 - c3, f2 from c1, g3 from c2; made in that order,
        // so by time the branches interleave.
        let md = CheckpointMetadata::new(CheckpointSource::Loop, 0);
        let links = [
            ("c0", None),
            ("c1", Some("c0")),
            ("c2", Some("c1")),
            ("c3", Some("c2")),
            ("f2", Some("c1")),
            ("g3", Some("c2")),
        ];
        let rows = rows(&links, &md);
        assert_eq!(
            picture(&rows),
            [
                "* g3", "| * c3", "|/", "* c2", "| * f2", "|/", "* c1", "* c0"
            ]
        );
    }

    #[test]
    fn a_row_whose_parent_is_not_listed_starts_a_tree_of_its_own() {
        let md = CheckpointMetadata::new(CheckpointSource::Loop, 0);
        let links = [("b1", Some("gone")), ("b2", Some("b1")), ("a9", None)];
        let rows = rows(&links, &md);
        assert_eq!(picture(&rows), ["* b2", "* b1", "* a9"]);
    }
}
