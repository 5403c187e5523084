//! Commands that delete ask first: `--yes`, a `[y/N]` question on a
//! terminal, or `--dry-run`, which prints exactly what would go.

use std::io::{BufRead, IsTerminal, Write};

use checkpointer::saver::CheckpointSummary;
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};

use super::args::Destructive;
use super::error::{CliError, CliResult};
use super::fmt::{bytes, count, escape};
use super::table::print_json;

/// What one thread would lose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loss {
    /// The thread.
    pub(crate) thread: String,
    /// Whether the whole thread goes (else some of its checkpoints).
    pub(crate) whole: bool,
    /// How many checkpoints go.
    pub(crate) checkpoints: u64,
    /// How many pending writes go with them.
    pub(crate) writes: u64,
    /// The size of what goes, as JSON (checkpoints with their values and
    /// writes): what an export of it would take.
    pub(crate) bytes: u64,
}

/// What a command would remove: one [`Loss`] per thread that loses
/// something.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The threads, in the order they were asked for.
    pub(crate) losses: Vec<Loss>,
}

impl Plan {
    /// The total checkpoints.
    pub(crate) fn checkpoints(&self) -> u64 {
        self.losses.iter().map(|l| l.checkpoints).sum()
    }

    /// The total bytes.
    pub(crate) fn bytes(&self) -> u64 {
        self.losses.iter().map(|l| l.bytes).sum()
    }

    /// "2 threads (7 checkpoints, 3.1 KiB)" or "5 checkpoints of 1 thread
    /// (2.0 KiB)".
    pub(crate) fn summary(&self) -> String {
        let whole = self.losses.iter().all(|l| l.whole);
        let threads = count(self.losses.len() as u64, "thread", "threads");
        let checkpoints = count(self.checkpoints(), "checkpoint", "checkpoints");
        if whole {
            format!("{threads} ({checkpoints}, {})", bytes(self.bytes()))
        } else {
            format!("{checkpoints} of {threads} ({})", bytes(self.bytes()))
        }
    }

    /// The plan for `--dry-run --json`: exact counts and bytes.
    fn to_json(&self, verb: &str) -> serde_json::Value {
        let threads: Vec<serde_json::Value> = self
            .losses
            .iter()
            .map(|l| {
                serde_json::json!({
                    "thread_id": l.thread,
                    "whole_thread": l.whole,
                    "checkpoints": l.checkpoints,
                    "pending_writes": l.writes,
                    "bytes": l.bytes,
                })
            })
            .collect();
        serde_json::json!({
            "dry_run": true,
            "action": verb,
            "checkpoints": self.checkpoints(),
            "bytes": self.bytes(),
            "threads": threads,
        })
    }

    /// One line per thread, for `--dry-run`.
    fn lines(&self) -> Vec<String> {
        self.losses
            .iter()
            .map(|l| {
                let what = if l.whole { "thread" } else { "from thread" };
                format!(
                    "  {what} {}: {}, {}, {}",
                    escape(&l.thread),
                    count(l.checkpoints, "checkpoint", "checkpoints"),
                    count(l.writes, "pending write", "pending writes"),
                    bytes(l.bytes)
                )
            })
            .collect()
    }
}

/// What `thread` loses: every checkpoint if `whole`, else those that
/// `doomed` picks.
pub(crate) fn loss_of(
    saver: &dyn BaseCheckpointSaver,
    thread: &str,
    whole: bool,
    doomed: impl Fn(&checkpointer::CheckpointTuple) -> bool,
) -> CliResult<Loss> {
    let mut loss = Loss {
        thread: thread.to_owned(),
        whole,
        checkpoints: 0,
        writes: 0,
        bytes: 0,
    };
    for t in saver.list_iter(Some(&Config::thread(thread)), &ListOptions::new())? {
        let t = t?;
        if !whole && !doomed(&t) {
            continue;
        }
        loss.checkpoints += 1;
        loss.writes += t.pending_writes.len() as u64;
        loss.bytes += serde_json::to_vec(&t).map_or(0, |v| v.len() as u64);
    }
    Ok(loss)
}

/// The latest checkpoint id of each namespace of `summaries`.
pub(crate) fn latest_ids(summaries: &[CheckpointSummary]) -> Vec<(&str, &str)> {
    let mut latest: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for s in summaries {
        let e = latest.entry(s.checkpoint_ns.as_str()).or_default();
        if s.checkpoint.id.as_str() > *e {
            *e = s.checkpoint.id.as_str();
        }
    }
    latest.into_iter().collect()
}

/// Decides whether `verb` ("delete", "prune") may go ahead with `plan`:
/// prints the plan and says no under `--dry-run`; yes with `--yes`; asks
/// on a terminal; otherwise [`CliError::NotConfirmed`].
pub(crate) fn confirm(flags: Destructive, verb: &str, plan: &Plan) -> CliResult<bool> {
    if flags.json && !flags.dry_run {
        return Err(CliError::JsonNeedsDryRun);
    }
    if flags.dry_run && flags.json {
        print_json(&plan.to_json(verb))?;
        return Ok(false);
    }
    if flags.dry_run {
        if plan.losses.is_empty() {
            outln!("dry run: nothing to {verb}");
        } else {
            outln!("dry run: would {verb} {}:", plan.summary());
            for line in plan.lines() {
                outln!("{line}");
            }
        }
        return Ok(false);
    }
    if flags.yes || plan.losses.is_empty() {
        return Ok(true);
    }
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        return ask(verb, plan);
    }
    Err(CliError::NotConfirmed {
        what: format!("{verb} {}", plan.summary()),
    })
}

/// Asks on the terminal; anything but `y`/`yes` is [`CliError::Aborted`].
fn ask(verb: &str, plan: &Plan) -> CliResult<bool> {
    let mut err = std::io::stderr();
    for line in plan.lines() {
        writeln!(err, "{line}").map_err(CliError::io("write standard error"))?;
    }
    write!(err, "{} {}? [y/N] ", capitalised(verb), plan.summary())
        .and_then(|()| err.flush())
        .map_err(CliError::io("write standard error"))?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(CliError::io("read the answer"))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(true)
    } else {
        Err(CliError::Aborted)
    }
}

/// `verb` with a capital first letter.
fn capitalised(verb: &str) -> String {
    let mut chars = verb.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}
