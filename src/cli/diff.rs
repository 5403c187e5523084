//! `diff`: which channels differ between two checkpoints.

use std::collections::BTreeSet;
use std::path::Path;

use checkpointer::CheckpointAdmin;
use serde::Serialize;
use serde_json::Value;

use super::args::DiffArgs;
use super::error::CliResult;
use super::fmt::escape;
use super::show::find_tuple;
use super::table::{compact, print_json};

/// How one channel differs.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Change {
    /// Only in B.
    Added,
    /// Only in A.
    Removed,
    /// B's list is A's list with items added at the end.
    Appended,
    /// B's list is a prefix of A's list (A is newer along the branch).
    Truncated,
    /// Both are lists that share a first part and then differ.
    Diverged,
    /// Any other difference.
    Changed,
}

/// One differing channel.
#[derive(Debug, Serialize)]
pub(crate) struct ChannelDiff<'a> {
    channel: &'a str,
    change: Change,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    /// For `appended` and `diverged`: the items B has after the common
    /// first part.
    #[serde(skip_serializing_if = "Option::is_none")]
    added_items: Option<&'a [Value]>,
    /// For `truncated` and `diverged`: the items A has after the common
    /// first part.
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_items: Option<&'a [Value]>,
    /// For lists: how many first items A and B share.
    #[serde(skip_serializing_if = "Option::is_none")]
    common_items: Option<usize>,
}

/// Compares one channel's values in A and B; `None` if equal.
pub(crate) fn compare<'a>(
    channel: &'a str,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
) -> Option<ChannelDiff<'a>> {
    let mut diff = ChannelDiff {
        channel,
        change: Change::Changed,
        old,
        new,
        added_items: None,
        removed_items: None,
        common_items: None,
    };
    match (old, new) {
        (None, None) => return None,
        (Some(a), Some(b)) if a == b => return None,
        (None, Some(_)) => diff.change = Change::Added,
        (Some(_), None) => diff.change = Change::Removed,
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            diff.common_items = Some(common);
            let (removed, added) = (&a[common..], &b[common..]);
            diff.change = match (removed.is_empty(), added.is_empty()) {
                (true, _) => Change::Appended,
                (false, true) => Change::Truncated,
                (false, false) => Change::Diverged,
            };
            diff.removed_items = (!removed.is_empty()).then_some(removed);
            diff.added_items = (!added.is_empty()).then_some(added);
        }
        _ => {}
    }
    Some(diff)
}

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
    let channels: BTreeSet<&String> = va.keys().chain(vb.keys()).collect();
    let diffs: Vec<ChannelDiff<'_>> = channels
        .into_iter()
        .filter_map(|ch| compare(ch, va.get(ch), vb.get(ch)))
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_show_what_was_appended() {
        let (a, b) = (json!(["x"]), json!(["x", "y", "z"]));
        let d = compare("m", Some(&a), Some(&b)).unwrap();
        assert_eq!(d.change, Change::Appended);
        assert_eq!(d.added_items.unwrap(), &[json!("y"), json!("z")]);
        let d = compare("m", Some(&b), Some(&a)).unwrap();
        assert_eq!(d.change, Change::Truncated);
        assert_eq!(d.removed_items.unwrap(), &[json!("y"), json!("z")]);
        let c = json!(["x", "q"]);
        let d = compare("m", Some(&c), Some(&b)).unwrap();
        assert_eq!(d.change, Change::Diverged);
        assert_eq!(d.common_items, Some(1));
        assert!(compare("m", Some(&a), Some(&a)).is_none());
        let (one, two) = (json!(1), json!(2));
        let d = compare("m", Some(&one), Some(&two)).unwrap();
        assert_eq!(d.change, Change::Changed);
    }
}
