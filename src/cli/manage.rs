//! `delete`, `copy`, `prune` and `vacuum`: changing what is stored.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, SystemTime};

use checkpointer::saver::{ThreadSummary, Vacuumed, written_before};
use checkpointer::{CheckpointAdmin, PruneStrategy};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};

use super::args::{CopyArgs, DeleteArgs, PruneArgs};
use super::error::{CliError, CliResult};
use super::open::require_thread;

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

/// `delete THREAD --yes`.
pub(crate) fn delete(saver: &dyn CheckpointAdmin, path: &Path, args: &DeleteArgs) -> CliResult<()> {
    require_thread(saver, path, &args.thread)?;
    if !args.yes {
        return Err(CliError::NotConfirmed {
            thread: args.thread.clone(),
        });
    }
    let count = count_of(saver, &args.thread)?;
    saver.delete_thread(&args.thread)?;
    outln!("deleted thread {:?} ({count} checkpoints)", args.thread);
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
        "copied thread {:?} to {:?} ({} checkpoints)",
        args.source,
        args.target,
        count_of(saver, &args.target)?
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

/// `prune (THREAD ... | --all) [--keep-latest] [--older-than AGE]`.
pub(crate) fn prune(saver: &dyn CheckpointAdmin, path: &Path, args: &PruneArgs) -> CliResult<()> {
    let cutoff = args.older_than.as_deref().map(cutoff).transpose()?;
    let all = saver.threads(None)?;
    let selected: Vec<&ThreadSummary> = if args.all {
        all.iter().collect()
    } else {
        let mut out = Vec::new();
        for name in &args.threads {
            match all.iter().find(|t| &t.thread_id == name) {
                Some(t) => out.push(t),
                None => {
                    return Err(CliError::UnknownThread {
                        thread: name.clone(),
                        path: path.to_path_buf(),
                    });
                }
            }
        }
        out
    };
    let before: u64 = selected.iter().map(|t| t.checkpoints).sum();
    let chunk = 50;
    if !args.keep_latest {
        let doomed: Vec<String> = selected
            .iter()
            .filter(|t| cutoff.is_none_or(|c| latest_older_than(t, c)))
            .map(|t| t.thread_id.clone())
            .collect();
        let removed: u64 = selected
            .iter()
            .filter(|t| doomed.contains(&t.thread_id))
            .map(|t| t.checkpoints)
            .sum();
        let bar = progress(doomed.len(), "deleting threads");
        for part in doomed.chunks(chunk) {
            saver.prune(part, PruneStrategy::Delete)?;
            bar.inc(part.len() as u64);
        }
        bar.finish_and_clear();
        outln!(
            "deleted {} of {} threads ({removed} checkpoints)",
            doomed.len(),
            selected.len()
        );
        return Ok(());
    }
    let ids: Vec<String> = selected.iter().map(|t| t.thread_id.clone()).collect();
    let bar = progress(ids.len(), "pruning threads");
    let mut removed = 0u64;
    for part in ids.chunks(chunk) {
        if let Some(c) = cutoff {
            removed += saver.prune_older_than(part, c)?;
        } else {
            let before_part: u64 = selected
                .iter()
                .filter(|t| part.contains(&t.thread_id))
                .map(|t| t.checkpoints)
                .sum();
            saver.prune(part, PruneStrategy::KeepLatest)?;
            let after_part: u64 = saver
                .threads(None)?
                .iter()
                .filter(|t| part.contains(&t.thread_id))
                .map(|t| t.checkpoints)
                .sum();
            removed += before_part.saturating_sub(after_part);
        }
        bar.inc(part.len() as u64);
    }
    bar.finish_and_clear();
    outln!(
        "pruned {} threads: removed {removed} checkpoints, kept {}",
        ids.len(),
        before.saturating_sub(removed)
    );
    Ok(())
}

/// Sizes over this get a spinner while `VACUUM` runs (on a terminal).
const VACUUM_SPINNER_BYTES: u64 = 16 * 1024 * 1024;

/// `vacuum`: prints the size before and after.
pub(crate) fn vacuum(saver: &dyn CheckpointAdmin, path: &Path) -> CliResult<()> {
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
    outln!(
        "vacuumed {}: {before} bytes before, {after} bytes after ({} bytes freed)",
        path.display(),
        before.saturating_sub(after)
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
