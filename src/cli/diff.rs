//! `diff`: which channels differ between two checkpoints.

use std::path::Path;

use checkpointer::CheckpointAdmin;
use checkpointer::saver::diff::{Change, ChannelDiff, diff_channels};
use serde::Serialize;
use serde_json::Value;

use super::args::DiffArgs;
use super::error::CliResult;
use super::fmt::escape;
use super::show::find_tuple;
use super::table::{compact, print_json};

/// The `--json` output.
#[derive(Debug, Serialize)]
struct DiffOutput<'a> {
    thread_id: &'a str,
    a: &'a str,
    b: &'a str,
    channels: Vec<ChannelDiff<'a>>,
}

/// `diff THREAD A [B]` (B: the latest checkpoint by default).
pub(crate) fn diff(saver: &dyn CheckpointAdmin, path: &Path, args: &DiffArgs) -> CliResult<()> {
    let a = find_tuple(saver, path, &args.thread, Some(&args.a), None)?;
    let b = match &args.b {
        Some(b) => find_tuple(saver, path, &args.thread, Some(b), None)?,
        None => find_tuple(saver, path, &args.thread, None, Some(a.config.ns()))?,
    };
    let (va, vb) = (&a.checkpoint.channel_values, &b.checkpoint.channel_values);
    let diffs = diff_channels(va, vb);
    if args.out.json {
        return print_json(&DiffOutput {
            thread_id: &args.thread,
            a: &a.checkpoint.id,
            b: &b.checkpoint.id,
            channels: diffs,
        });
    }
    let latest = if args.b.is_none() { ", the latest" } else { "" };
    outln!("a: {} (step {})", escape(&a.checkpoint.id), a.metadata.step);
    outln!(
        "b: {} (step {}{latest})",
        escape(&b.checkpoint.id),
        b.metadata.step
    );
    if diffs.is_empty() {
        outln!("\nno channel differs");
        return Ok(());
    }
    for d in &diffs {
        outln!();
        let show =
            |v: Option<&Value>| v.map_or_else(|| "(absent)".to_owned(), |v| escape(&compact(v)));
        let channel = escape(d.channel);
        match d.change {
            Change::Added => outln!("{channel}: added\n  new: {}", show(d.new)),
            Change::Removed => outln!("{channel}: removed\n  old: {}", show(d.old)),
            Change::Appended | Change::Truncated | Change::Diverged => {
                let label = match d.change {
                    Change::Appended => "appended",
                    Change::Truncated => "items dropped from the end",
                    _ => "lists diverge",
                };
                let common = d.common_items.unwrap_or(0);
                outln!("{channel}: {label} (first {common} items in common)");
                for item in d.removed_items.unwrap_or_default() {
                    outln!("  - {}", escape(&compact(item)));
                }
                for item in d.added_items.unwrap_or_default() {
                    outln!("  + {}", escape(&compact(item)));
                }
            }
            Change::Changed => outln!(
                "{channel}: changed\n  old: {}\n  new: {}",
                show(d.old),
                show(d.new)
            ),
        }
    }
    Ok(())
}
