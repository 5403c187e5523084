//! `threads` and `history`: what is in the database, thread by thread and
//! checkpoint by checkpoint.

mod graph;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use checkpointer::saver::CheckpointSummary;
use checkpointer::{CheckpointAdmin, ListOptions};
use serde::Serialize;
use serde_json::Value;

use super::args::{HistoryArgs, ThreadsArgs};
use super::error::{CliError, CliResult};
use super::fmt::{Colour, escape, paint, quoted};
use super::ids::{Shortener, require_thread, resolve};
use super::show::is_internal;
use super::table::{Table, local_time, ns_label, print_json};

/// One row of `threads --json`.
#[derive(Debug, Serialize)]
struct ThreadRow<'a> {
    thread_id: &'a str,
    checkpoints: u64,
    namespaces: u64,
    last_step: i64,
    last_checkpoint_id: &'a str,
    last_updated: Option<&'a str>,
}

/// `threads`: one line per thread, most recently updated first.
pub(crate) fn threads(saver: &dyn CheckpointAdmin, args: &ThreadsArgs) -> CliResult<()> {
    let threads = saver.threads(args.limit)?;
    if args.out.json {
        let rows: Vec<ThreadRow<'_>> = threads
            .iter()
            .map(|t| ThreadRow {
                thread_id: &t.thread_id,
                checkpoints: t.checkpoints,
                namespaces: t.namespaces,
                last_step: t.last_step,
                last_checkpoint_id: &t.latest_checkpoint_id,
                last_updated: t.last_ts.as_deref(),
            })
            .collect();
        return print_json(&rows);
    }
    if threads.is_empty() {
        outln!("no threads");
        return Ok(());
    }
    let mut table = Table::new(["THREAD", "CHECKPOINTS", "LAST STEP", "LAST UPDATE"]);
    for t in &threads {
        table.row(vec![
            escape(&t.thread_id),
            t.checkpoints.to_string(),
            t.last_step.to_string(),
            t.last_ts.as_deref().map(local_time).unwrap_or_default(),
        ]);
    }
    out!("{}", table.render());
    Ok(())
}

/// Parses `--filter key=value` arguments into list options. A value is
/// JSON if it parses as JSON (`2`, `true`, `null`, `"quoted"`), else a
/// string.
pub(crate) fn parse_filters(args: &[String]) -> CliResult<ListOptions> {
    let mut options = ListOptions::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(CliError::BadFilter {
                arg: arg.clone(),
                reason: "expected KEY=VALUE".into(),
            });
        };
        let value = serde_json::from_str::<Value>(value).unwrap_or_else(|_| value.into());
        options = options.filter(key, value);
        options.validate().map_err(|e| CliError::BadFilter {
            arg: arg.clone(),
            reason: match e {
                checkpointer::Error::InvalidFilterKey { .. } => {
                    "keys are metadata keys: ASCII letters, digits, '_' and '-'".into()
                }
                other => other.to_string(),
            },
        })?;
    }
    Ok(options)
}

/// One checkpoint of a history, as drawn and as printed by `--json`.
#[derive(Debug, Serialize)]
pub(crate) struct HistoryRow<'a> {
    checkpoint_id: &'a str,
    checkpoint_ns: &'a str,
    step: i64,
    source: &'a str,
    parent_checkpoint_id: Option<&'a str>,
    ts: &'a str,
    /// Channels whose version changed from the parent (the table leaves
    /// out the graph's internal `branch:*` channels).
    changed: Vec<&'a str>,
    /// The nodes that ran to make it: those whose `versions_seen` moved
    /// from the parent's.
    nodes: Vec<&'a str>,
    /// How many checkpoints name this one as parent.
    children: usize,
    /// Whether this checkpoint's parent has more than one child: the first
    /// checkpoint of a branch.
    branch_start: bool,
    metadata: &'a checkpointer::CheckpointMetadata,
}

/// The channels `summary` changed: its `updated_channels` when the runtime
/// recorded them, else the channels whose version differs from the parent's.
fn changed_channels<'a>(
    summary: &'a CheckpointSummary,
    parent: Option<&'a CheckpointSummary>,
) -> Vec<&'a str> {
    if let Some(updated) = &summary.checkpoint.updated_channels {
        return updated.iter().map(String::as_str).collect();
    }
    let versions = &summary.checkpoint.channel_versions;
    let mut changed: BTreeSet<&str> = BTreeSet::new();
    for (channel, version) in versions {
        let before = parent.and_then(|p| p.checkpoint.channel_versions.get(channel));
        if before != Some(version) {
            changed.insert(channel);
        }
    }
    if let Some(p) = parent {
        for channel in p.checkpoint.channel_versions.keys() {
            if !versions.contains_key(channel) {
                changed.insert(channel);
            }
        }
    }
    changed.into_iter().collect()
}

/// The nodes whose `versions_seen` differ from the parent's: the nodes
/// that ran in the step that made `summary`.
fn nodes_ran<'a>(
    summary: &'a CheckpointSummary,
    parent: Option<&'a CheckpointSummary>,
) -> Vec<&'a str> {
    summary
        .checkpoint
        .versions_seen
        .iter()
        .filter(|(node, _)| node.as_str() != checkpointer::saver::INTERRUPT)
        .filter(|(node, seen)| {
            parent.and_then(|p| p.checkpoint.versions_seen.get(*node)) != Some(*seen)
        })
        .map(|(node, _)| node.as_str())
        .collect()
}

/// `history`: newest first, one line per checkpoint, forks marked.
pub(crate) fn history(
    saver: &dyn CheckpointAdmin,
    path: &Path,
    args: &HistoryArgs,
) -> CliResult<()> {
    let options = parse_filters(&args.filter)?;
    require_thread(saver, path, &args.thread)?;
    let all = saver.checkpoint_summaries(&args.thread, args.ns.as_deref())?;
    let before = args
        .before
        .as_deref()
        .map(|b| resolve(&all, &args.thread, b, args.ns.as_deref()))
        .transpose()?
        .map(|s| s.checkpoint.id.as_str());
    let rows = history_rows(&all, before, args, &options);
    let short = Shortener::new(&all);
    if args.graph {
        return graph::print(&rows, &short, args.out.json);
    }
    if args.out.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("no checkpoints match in thread {}", quoted(&args.thread));
        return Ok(());
    }
    print_table(&rows, &short, args.ns.is_none())
}

/// The rows `history` shows: `all` after `--before`, the filters and
/// `--limit`, each with its changes, children and fork marks.
fn history_rows<'a>(
    all: &'a [CheckpointSummary],
    before: Option<&str>,
    args: &HistoryArgs,
    options: &ListOptions,
) -> Vec<HistoryRow<'a>> {
    let by_key: BTreeMap<(&str, &str), &CheckpointSummary> = all
        .iter()
        .map(|s| ((s.checkpoint_ns.as_str(), s.checkpoint.id.as_str()), s))
        .collect();
    let mut children: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for s in all {
        if let Some(parent) = &s.parent_checkpoint_id {
            *children
                .entry((s.checkpoint_ns.as_str(), parent.as_str()))
                .or_default() += 1;
        }
    }
    all.iter()
        .filter(|s| before.is_none_or(|b| s.checkpoint.id.as_str() < b))
        .filter(|s| options.matches(&s.metadata))
        .take(args.limit.unwrap_or(usize::MAX))
        .map(|s| {
            let ns = s.checkpoint_ns.as_str();
            let parent_id = s.parent_checkpoint_id.as_deref();
            let parent = parent_id.and_then(|p| by_key.get(&(ns, p)).copied());
            HistoryRow {
                checkpoint_id: &s.checkpoint.id,
                checkpoint_ns: ns,
                step: s.metadata.step,
                source: s.metadata.source.as_str(),
                parent_checkpoint_id: parent_id,
                ts: &s.checkpoint.ts,
                changed: changed_channels(s, parent),
                nodes: nodes_ran(s, parent),
                children: children
                    .get(&(ns, s.checkpoint.id.as_str()))
                    .copied()
                    .unwrap_or(0),
                branch_start: parent_id
                    .is_some_and(|p| children.get(&(ns, p)).copied().unwrap_or(0) > 1),
                metadata: &s.metadata,
            }
        })
        .collect()
}

/// The user channels of `changed`, joined (the graph's own `branch:*`,
/// `__start__` ... left out).
pub(crate) fn user_channels(changed: &[&str]) -> String {
    let shown: Vec<String> = changed
        .iter()
        .filter(|c| !is_internal(c))
        .map(|c| escape(c))
        .collect();
    shown.join(", ")
}

/// The nodes, joined, or `-`.
pub(crate) fn node_list(nodes: &[&str]) -> String {
    if nodes.is_empty() {
        "-".to_owned()
    } else {
        nodes
            .iter()
            .map(|n| escape(n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The history as a table (short ids, the nodes that ran), with a
/// namespace column when `all_namespaces` were listed and some row is in
/// a subgraph, and the fork legend.
fn print_table(rows: &[HistoryRow<'_>], short: &Shortener, all_namespaces: bool) -> CliResult<()> {
    let show_ns = all_namespaces && rows.iter().any(|r| !r.checkpoint_ns.is_empty());
    let mut header = vec![
        "",
        "CHECKPOINT",
        "STEP",
        "SOURCE",
        "NODE",
        "PARENT",
        "TIME",
        "CHANGED",
    ];
    if show_ns {
        header.insert(2, "NAMESPACE");
    }
    let mut table = Table::new(header);
    for r in rows {
        let marker = match (r.branch_start, r.children > 1) {
            (true, true) => "+*",
            (true, false) => "+",
            (false, true) => "*",
            (false, false) => "",
        };
        let mut cells = vec![
            paint(marker, Colour::Bold),
            paint(&escape(short.short(r.checkpoint_id)), Colour::Yellow),
            r.step.to_string(),
            r.source.to_owned(),
            node_list(&r.nodes),
            r.parent_checkpoint_id
                .map_or_else(|| "-".to_owned(), |p| escape(short.short(p))),
            local_time(r.ts),
            user_channels(&r.changed),
        ];
        if show_ns {
            cells.insert(2, escape(ns_label(r.checkpoint_ns)));
        }
        table.row(cells);
    }
    out!("{}", table.render());
    let forks = rows.iter().any(|r| r.branch_start || r.children > 1);
    if forks {
        outln!(
            "\n* a fork point: several checkpoints continue from it\n\
             + the first checkpoint of a branch (its parent is a fork point)"
        );
    }
    Ok(())
}
