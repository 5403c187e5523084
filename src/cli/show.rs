//! `show`: what a checkpoint means for its thread (finished, waiting for
//! a human, failed, stopped before a node; what continues it), then its
//! state, metadata and pending writes.

use std::path::Path;

use checkpointer::{CheckpointAdmin, CheckpointTuple, Config, ListOptions};
use serde_json::Value;

use super::args::ShowArgs;
use super::error::{CliError, CliResult};
use super::fmt::{Colour, clip, count, escape, fold, paint, width};
use super::ids::{require_thread, resolve};
use super::status::{Status, continue_hint, next_nodes, status};
use super::table::{Table, compact, local_time, ns_label, print_json};

/// The checkpoint `id` (an id or an unambiguous prefix) of `thread` (the
/// latest of namespace `ns`, root by default, if `id` is `None`). Without
/// `ns`, an id is looked up in every namespace of the thread.
pub(crate) fn find_tuple(
    saver: &dyn CheckpointAdmin,
    path: &Path,
    thread: &str,
    id: Option<&str>,
    ns: Option<&str>,
) -> CliResult<CheckpointTuple> {
    require_thread(saver, path, thread)?;
    let Some(id) = id else {
        let config = Config::thread(thread).with_ns(ns.unwrap_or(""));
        return saver
            .get_tuple(&config)?
            .ok_or_else(|| CliError::EmptyNamespace {
                thread: thread.to_owned(),
                ns: ns.unwrap_or("").to_owned(),
            });
    };
    let summaries = saver.checkpoint_summaries(thread, ns)?;
    let found = resolve(&summaries, thread, id, ns)?;
    let config = Config::thread(thread)
        .with_ns(found.checkpoint_ns.clone())
        .with_checkpoint_id(found.checkpoint.id.clone());
    saver
        .list_iter(Some(&config), &ListOptions::new().limit(1))?
        .next()
        .transpose()?
        .ok_or_else(|| CliError::UnknownCheckpoint {
            thread: thread.to_owned(),
            id: id.to_owned(),
        })
}

/// Whether `channel` is one of the graph's own (`branch:to:*`, `join:*`,
/// `__start__`, `__pregel_tasks`, ...), not one the user declared.
pub(crate) fn is_internal(channel: &str) -> bool {
    channel.starts_with("branch:") || channel.starts_with("join:") || channel.starts_with("__")
}

/// `show`: the status header, then state, metadata and pending writes.
pub(crate) fn show(saver: &dyn CheckpointAdmin, path: &Path, args: &ShowArgs) -> CliResult<()> {
    let t = find_tuple(
        saver,
        path,
        &args.thread,
        args.checkpoint_id.as_deref(),
        args.ns.as_deref(),
    )?;
    let latest = saver
        .get_tuple(&Config::thread(&args.thread).with_ns(t.config.ns()))?
        .is_some_and(|l| l.checkpoint.id == t.checkpoint.id);
    let next = next_nodes(&t);
    let status = status(&t, &next);
    let hint = continue_hint(&t, &status, latest);
    if args.out.json {
        let mut value = serde_json::to_value(&t).map_err(|e| CliError::Io {
            what: "write JSON".into(),
            source: e.into(),
        })?;
        if let Value::Object(map) = &mut value {
            map.insert(
                "status".into(),
                serde_json::to_value(&status).unwrap_or_default(),
            );
            map.insert("next".into(), next.clone().into());
            map.insert("latest".into(), latest.into());
            map.insert("continue".into(), hint.clone().into());
        }
        return print_json(&value);
    }
    print_status(&status, &next, hint.as_deref())?;
    outln!();
    print_identity(&t)?;
    outln!();
    print_state(&t, args.all)?;
    outln!();
    print_writes(&t)
}

/// The header: status, what was asked or what failed, next, continue.
fn print_status(status: &Status, next: &[String], hint: Option<&str>) -> CliResult<()> {
    let names = |nodes: &[String]| {
        nodes
            .iter()
            .map(|n| escape(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match status {
        Status::Finished => outln!("status      {}", paint("finished", Colour::Green)),
        Status::Waiting { nodes, values } => {
            let line = format!("waiting for a human in node {}", names(nodes));
            outln!("status      {}", paint(&line, Colour::Magenta));
            for (i, value) in values.iter().enumerate() {
                let label = if values.len() == 1 {
                    "asked".to_owned()
                } else {
                    format!("asked [{i}]")
                };
                print_pretty(&label, value)?;
            }
        }
        Status::Failed { nodes, errors } => {
            let line = format!("failed in node {}", names(nodes));
            outln!("status      {}", paint(&line, Colour::Red));
            for e in errors {
                for (i, line) in fold(&escape(e), 12, 12, width()).iter().enumerate() {
                    let label = if i == 0 { "error       " } else { "" };
                    outln!("{label}{line}");
                }
            }
        }
        Status::Before { nodes } => {
            let line = format!("interrupted before {} (or still running)", names(nodes));
            outln!("status      {}", paint(&line, Colour::Yellow));
        }
    }
    let next = if next.is_empty() {
        "-".to_owned()
    } else {
        names(next)
    };
    outln!("next        {next}");
    if let Some(hint) = hint {
        outln!("continue    {}", paint(hint, Colour::Bold));
    }
    Ok(())
}

/// `value` as pretty JSON under a 12-column label, strings escaped.
fn print_pretty(label: &str, value: &Value) -> CliResult<()> {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    for (i, line) in text.lines().enumerate() {
        let label = if i == 0 {
            format!("{label:<12}")
        } else {
            " ".repeat(12)
        };
        outln!("{label}{}", escape(line));
    }
    Ok(())
}

/// Thread, namespace, checkpoint, parent, step, source, time, metadata.
fn print_identity(t: &CheckpointTuple) -> CliResult<()> {
    let cp = &t.checkpoint;
    let parent = t
        .parent_config
        .as_ref()
        .and_then(|p| p.checkpoint_id.as_deref())
        .unwrap_or("-");
    let mut extra = serde_json::Map::new();
    if let Some(run_id) = &t.metadata.run_id {
        extra.insert("run_id".into(), run_id.clone().into());
    }
    if !t.metadata.parents.is_empty() {
        extra.insert(
            "parents".into(),
            serde_json::to_value(&t.metadata.parents).unwrap_or_default(),
        );
    }
    for (k, v) in &t.metadata.extra {
        extra.insert(k.clone(), v.clone());
    }
    outln!("thread      {}", escape(&t.config.thread_id));
    outln!("namespace   {}", escape(ns_label(t.config.ns())));
    outln!("checkpoint  {}", paint(&escape(&cp.id), Colour::Yellow));
    outln!("parent      {}", escape(parent));
    outln!("step        {}", t.metadata.step);
    outln!("source      {}", t.metadata.source);
    outln!("time        {}", local_time(&cp.ts));
    if !extra.is_empty() {
        outln!(
            "metadata    {}",
            escape(&compact(&serde_json::Value::Object(extra)))
        );
    }
    Ok(())
}

/// The channels (user channels only unless `all`), aligned; a value too
/// long for the line is folded, a list too long one item per line.
fn print_state(t: &CheckpointTuple, all: bool) -> CliResult<()> {
    let values = &t.checkpoint.channel_values;
    let shown: Vec<(&String, &Value)> = values
        .iter()
        .filter(|(k, _)| all || !is_internal(k))
        .collect();
    let hidden = values.len() - shown.len();
    let mut title = format!(
        "state ({})",
        count(shown.len() as u64, "channel", "channels")
    );
    if hidden > 0 {
        title = format!("{title}, {hidden} internal not shown (--all)");
    }
    outln!("{}", paint(&title, Colour::Bold));
    let pad = shown
        .iter()
        .map(|(k, _)| escape(k).chars().count())
        .max()
        .unwrap_or(0);
    let width = width();
    for (channel, value) in shown {
        let name = escape(channel);
        let lead = format!("  {name}{} = ", " ".repeat(pad - name.chars().count()));
        for (i, line) in value_lines(value, lead.chars().count(), width)
            .iter()
            .enumerate()
        {
            if i == 0 {
                outln!("{lead}{line}");
            } else {
                outln!("{line}");
            }
        }
    }
    Ok(())
}

/// A value as lines after a lead of `lead` characters: compact if it
/// fits, a list one indexed item per line, a string folded.
fn value_lines(value: &Value, lead: usize, width: usize) -> Vec<String> {
    let text = escape(&compact(value));
    if lead + text.chars().count() <= width {
        return vec![text];
    }
    match value {
        Value::Array(items) => {
            let mut lines = vec![format!("[{} items]", items.len())];
            let digits = items.len().saturating_sub(1).to_string().len();
            for (i, item) in items.iter().enumerate() {
                let label = format!("    [{i:>digits$}] ");
                let text = escape(&item_text(item));
                let folded = fold(&text, label.len(), label.len(), width);
                for (j, line) in folded.into_iter().enumerate() {
                    if j == 0 {
                        lines.push(format!("{label}{line}"));
                    } else {
                        lines.push(line);
                    }
                }
            }
            lines
        }
        Value::String(s) => fold(&escape(s), lead, lead, width),
        _ => fold(&text, lead, lead, width),
    }
}

/// An item of a list: a string as its text, anything else as JSON.
fn item_text(item: &Value) -> String {
    match item {
        Value::String(s) => s.clone(),
        other => compact(other),
    }
}

/// The pending writes, as a table; values cut to the terminal's width
/// (`--json` has them whole).
fn print_writes(t: &CheckpointTuple) -> CliResult<()> {
    if t.pending_writes.is_empty() {
        outln!("pending writes: none");
        return Ok(());
    }
    outln!("pending writes ({})", t.pending_writes.len());
    let cells: Vec<[String; 4]> = t
        .pending_writes
        .iter()
        .map(|w| {
            [
                clip(&escape(&w.task_id), 13),
                escape(&w.task_path),
                w.idx.to_string(),
                escape(&w.channel),
            ]
        })
        .collect();
    let widest = |i: usize, title: &str| {
        cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let used = 2 + widest(0, "TASK") + widest(1, "PATH") + widest(2, "IDX") + widest(3, "CHANNEL");
    let room = width().saturating_sub(used + 8).max(20);
    let mut table = Table::new(["TASK", "PATH", "IDX", "CHANNEL", "VALUE"]);
    for (w, c) in t.pending_writes.iter().zip(cells) {
        let [task, path, idx, channel] = c;
        let value = clip(&escape(&compact(&w.value)), room);
        table.row(vec![task, path, idx, channel, value]);
    }
    for line in table.render().lines() {
        outln!("  {line}");
    }
    Ok(())
}
