//! `delete`, `copy`, `prune` and `vacuum`: changing what is stored.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, SystemTime};

use checkpointer::saver::{ThreadSummary, Vacuumed, written_before};
use checkpointer::{CheckpointAdmin, PruneStrategy};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};

use super::args::{CopyArgs, DeleteArgs, PruneArgs};
use super::confirm::{Plan, confirm, latest_ids, loss_of};
use super::error::{CliError, CliResult};
use super::fmt::{bytes, count, escape, quoted};
use super::ids::require_thread;
use super::table::print_json;

/// Work of more items than this gets a progress bar (on a terminal).
pub(crate) const PROGRESS_THRESHOLD: usize = 100;

/// A progress bar on stderr for `len` items, or a hidden one when stderr
/// is not a terminal or the work is short.
pub(crate) fn progress(len: usize, message: &'static str) -> ProgressBar {
    if len <= PROGRESS_THRESHOLD || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64).with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// `delete THREAD` (asks first; `--yes`, `--dry-run`).
pub(crate) fn delete(saver: &dyn CheckpointAdmin, path: &Path, args: &DeleteArgs) -> CliResult<()> {
    require_thread(saver, path, &args.thread)?;
    let plan = Plan {
        losses: vec![loss_of(saver, &args.thread, true, |_| true)?],
    };
    if !confirm(args.confirm, "delete", &plan)? {
        return Ok(());
    }
    saver.delete_thread(&args.thread)?;
    let (checkpoints, size) = (plan.checkpoints(), bytes(plan.bytes()));
    outln!(
        "deleted thread {} ({}); {size} of checkpoint data",
        quoted(&args.thread),
        count(checkpoints, "checkpoint", "checkpoints")
    );
    Ok(())
}

/// The number of checkpoints of one thread.
fn count_of(saver: &dyn CheckpointAdmin, thread: &str) -> CliResult<u64> {
    Ok(saver
        .threads(None)?
        .iter()
        .find(|t| t.thread_id == thread)
        .map_or(0, |t| t.checkpoints))
}

/// `copy SOURCE TARGET`.
pub(crate) fn copy(saver: &dyn CheckpointAdmin, path: &Path, args: &CopyArgs) -> CliResult<()> {
    require_thread(saver, path, &args.source)?;
    saver.copy_thread(&args.source, &args.target)?;
    outln!(
        "copied thread {} to {} ({})",
        escape(&args.source),
        escape(&args.target),
        count(count_of(saver, &args.target)?, "checkpoint", "checkpoints")
    );
    Ok(())
}

/// Parses a duration such as `30m`, `12h`, `7d`, `2w` (also `90s`, and
/// sums such as `1d12h`).
pub(crate) fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("number too large: {}", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            "" => return Err(format!("missing unit after {number}")),
            other => return Err(format!("unknown unit {other:?}")),
        };
        total = number
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| "duration too large".to_owned())?;
    }
    Ok(Duration::from_secs(total))
}

/// The moment `--older-than` names: now minus the duration. Computed with
/// chrono, whose range decides what is "too large".
fn cutoff(arg: &str) -> CliResult<SystemTime> {
    let bad = |reason: String| CliError::BadDuration {
        arg: arg.to_owned(),
        reason,
    };
    let age = parse_age(arg).map_err(bad)?;
    let age = chrono::Duration::from_std(age).map_err(|_| bad("duration too large".into()))?;
    Utc::now()
        .checked_sub_signed(age)
        .map(SystemTime::from)
        .ok_or_else(|| bad("duration too large".into()))
}

/// Whether the thread's latest checkpoint is older than `cutoff` (a time
/// that does not parse counts as new).
fn latest_older_than(t: &ThreadSummary, cutoff: SystemTime) -> bool {
    t.last_ts
        .as_deref()
        .is_some_and(|ts| written_before(ts, cutoff))
}

/// The threads `prune` was asked about: every thread, or those named
/// (each must exist).
fn prune_selection<'a>(
    saver: &dyn CheckpointAdmin,
    all: &'a [ThreadSummary],
    path: &Path,
    args: &PruneArgs,
) -> CliResult<Vec<&'a ThreadSummary>> {
    if args.all {
        return Ok(all.iter().collect());
    }
    let mut out = Vec::new();
    for name in &args.threads {
        match all.iter().find(|t| &t.thread_id == name) {
            Some(t) => out.push(t),
            None => require_thread(saver, path, name)?,
        }
    }
    Ok(out)
}

/// What `prune` would remove from `selected`: whole threads (idle past
/// `cutoff` if given), or with `keep_latest` every checkpoint but the
/// latest of each namespace (only those older than `cutoff` if given).
fn prune_plan(
    saver: &dyn CheckpointAdmin,
    selected: &[&ThreadSummary],
    keep_latest: bool,
    cutoff: Option<SystemTime>,
) -> CliResult<Plan> {
    let mut plan = Plan::default();
    for t in selected {
        let loss = if keep_latest {
            let summaries = saver.checkpoint_summaries(&t.thread_id, None)?;
            let latest = latest_ids(&summaries);
            loss_of(saver, &t.thread_id, false, |tuple| {
                let key = (tuple.config.ns(), tuple.checkpoint.id.as_str());
                !latest.contains(&key)
                    && cutoff.is_none_or(|c| written_before(&tuple.checkpoint.ts, c))
            })?
        } else if cutoff.is_none_or(|c| latest_older_than(t, c)) {
            loss_of(saver, &t.thread_id, true, |_| true)?
        } else {
            continue;
        };
        if loss.checkpoints > 0 {
            plan.losses.push(loss);
        }
    }
    Ok(plan)
}

/// `prune (THREAD ... | --all) [--keep-latest] [--older-than AGE]` (asks
/// first; `--yes`, `--dry-run`). `--all` alone is refused.
pub(crate) fn prune(saver: &dyn CheckpointAdmin, path: &Path, args: &PruneArgs) -> CliResult<()> {
    if args.all && !args.keep_latest && args.older_than.is_none() {
        return Err(CliError::PruneEverything);
    }
    let cutoff = args.older_than.as_deref().map(cutoff).transpose()?;
    let all = saver.threads(None)?;
    let selected = prune_selection(saver, &all, path, args)?;
    let plan = prune_plan(saver, &selected, args.keep_latest, cutoff)?;
    let verb = if args.keep_latest { "prune" } else { "delete" };
    if !confirm(args.confirm, verb, &plan)? {
        return Ok(());
    }
    let before: u64 = selected.iter().map(|t| t.checkpoints).sum();
    let ids: Vec<String> = plan.losses.iter().map(|l| l.thread.clone()).collect();
    let bar = progress(ids.len(), "pruning threads");
    let chunk = 50;
    // What the saver reports where it reports it, else what was planned.
    let mut removed = 0;
    for part in ids.chunks(chunk) {
        let planned: u64 = plan
            .losses
            .iter()
            .filter(|l| part.contains(&l.thread))
            .map(|l| l.checkpoints)
            .sum();
        removed += match (args.keep_latest, cutoff) {
            (true, Some(c)) => saver.prune_older_than(part, c)?,
            (true, None) => {
                saver.prune(part, PruneStrategy::KeepLatest)?;
                planned
            }
            (false, _) => {
                saver.prune(part, PruneStrategy::Delete)?;
                planned
            }
        };
        bar.inc(part.len() as u64);
    }
    bar.finish_and_clear();
    let threads = count(selected.len() as u64, "thread", "threads");
    if args.keep_latest {
        outln!(
            "pruned {threads}: removed {}, kept {} ({} freed)",
            count(removed, "checkpoint", "checkpoints"),
            before.saturating_sub(removed),
            bytes(plan.bytes())
        );
    } else {
        outln!(
            "deleted {} of {threads} ({}, {})",
            plan.losses.len(),
            count(removed, "checkpoint", "checkpoints"),
            bytes(plan.bytes())
        );
    }
    Ok(())
}

/// Sizes over this get a spinner while `VACUUM` runs (on a terminal).
const VACUUM_SPINNER_BYTES: u64 = 16 * 1024 * 1024;

/// `vacuum [--json]`: prints the size before and after (in `--json`, in
/// exact bytes).
pub(crate) fn vacuum(saver: &dyn CheckpointAdmin, path: &Path, json: bool) -> CliResult<()> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let spinner = if size > VACUUM_SPINNER_BYTES && std::io::stderr().is_terminal() {
        let s = ProgressBar::new_spinner().with_message("vacuuming");
        s.enable_steady_tick(Duration::from_millis(100));
        s
    } else {
        ProgressBar::hidden()
    };
    let vacuumed = saver.vacuum()?;
    spinner.finish_and_clear();
    let Some(Vacuumed {
        bytes_before: before,
        bytes_after: after,
    }) = vacuumed
    else {
        outln!("{}: nothing to vacuum (not stored on disk)", path.display());
        return Ok(());
    };
    let freed = before.saturating_sub(after);
    if json {
        return print_json(&serde_json::json!({
            "path": path.display().to_string(),
            "bytes_before": before,
            "bytes_after": after,
            "bytes_freed": freed,
        }));
    }
    outln!(
        "vacuumed {}: {} before, {} after, {} freed; exactly {before} bytes before, \
         {after} bytes after ({freed} bytes freed)",
        path.display(),
        bytes(before),
        bytes(after),
        bytes(freed)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("30m"), Ok(Duration::from_mins(30)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_hours(12)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_hours(7 * 24)));
        assert_eq!(parse_age("2w"), Ok(Duration::from_hours(14 * 24)));
        assert_eq!(parse_age("1d12h"), Ok(Duration::from_hours(36)));
        for bad in ["", "7", "d", "7y", "-1d", "99999999999999999999d", "3 d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
