//! `events`: the event log of agent runs (purpose-agent's checkpointer
//! layout) at `--url`: `jsonl://DIR`, `sqlite://PATH` (by default the
//! `--db` file), `postgres://…`.

use std::path::Path;
use std::sync::Arc;

use checkpointer::events::{EventLog, open_event_log};
use clap::{Args, Subcommand};

use super::args::JsonFlag;
use super::error::{CliError, CliResult};
use super::fmt::{clip, quoted, width};
use super::jobs::when;
use super::table::{Table, compact, print_json};

/// `events`.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// The event log's URL.
    #[arg(
        long,
        global = true,
        env = "CHECKPOINTER_EVENTS_URL",
        value_name = "URL",
        help = "The event log: jsonl://DIR, sqlite://PATH or postgres://... \
                [default: sqlite://<the --db file>, or the --db PostgreSQL URL]"
    )]
    pub(crate) url: Option<String>,
    /// What to show.
    #[command(subcommand)]
    pub(crate) command: EventsCommand,
}

/// The `events` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// The events of a run, by sequence number.
    List {
        /// The run.
        run: String,
        /// Only the events after this sequence number (seq > SEQ).
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        since: u64,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// The runs with a snapshot, the most recently saved first.
    Runs(JsonFlag),
    /// The latest snapshot of a run's state.
    Snapshot {
        /// The run.
        run: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

/// Runs `events ...`.
pub(crate) fn events(db: &Path, args: &EventsArgs) -> CliResult<()> {
    let db = db.display().to_string();
    let url = args.url.clone().unwrap_or_else(|| {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") {
            db
        } else {
            format!("sqlite://{db}")
        }
    });
    let log = open(&url)?;
    match &args.command {
        EventsCommand::List { run, since, out } => list(&*log, &url, run, *since, out.json),
        EventsCommand::Runs(out) => runs(&*log, &url, out.json),
        EventsCommand::Snapshot { run, out } => snapshot(&*log, &url, run, out.json),
    }
}

/// Opens the log, refusing a file or directory that does not exist (a
/// read must not create one).
fn open(url: &str) -> CliResult<Arc<dyn EventLog>> {
    for scheme in ["sqlite://", "jsonl://"] {
        if let Some(path) = url.strip_prefix(scheme)
            && !path.is_empty()
            && !Path::new(path).exists()
        {
            return Err(CliError::NoEventLog {
                url: url.to_owned(),
            });
        }
    }
    Ok(open_event_log(url)?)
}

fn list(log: &dyn EventLog, url: &str, run: &str, since: u64, json: bool) -> CliResult<()> {
    let events = log.list_events(run, since)?;
    if json {
        return print_json(&events);
    }
    if events.is_empty() {
        let after = if since > 0 {
            format!(" after seq {since}")
        } else {
            String::new()
        };
        outln!("no events of run {}{after} in {url}", quoted(run));
        return Ok(());
    }
    let mut table = Table::new(["SEQ", "LANE", "TIME", "KIND", "PAYLOAD"]);
    let room = width().saturating_sub(70).max(20);
    for e in &events {
        table.row(vec![
            e.seq.to_string(),
            e.lane_id.clone(),
            when(e.ts),
            e.kind.to_string(),
            clip(
                &compact(&serde_json::Value::Object(e.payload.clone())),
                room,
            ),
        ]);
    }
    outln!("{}", table.render());
    Ok(())
}

fn runs(log: &dyn EventLog, url: &str, json: bool) -> CliResult<()> {
    let runs = log.list_runs()?;
    if json {
        return print_json(&runs);
    }
    if runs.is_empty() {
        outln!("no runs with a snapshot in {url}");
    }
    for run in &runs {
        outln!("{}", quoted(run));
    }
    Ok(())
}

fn snapshot(log: &dyn EventLog, url: &str, run: &str, json: bool) -> CliResult<()> {
    let state = log.load_latest(run)?.ok_or_else(|| CliError::UnknownRun {
        run: run.to_owned(),
        url: url.to_owned(),
    })?;
    if json {
        return print_json(&state);
    }
    let status = serde_json::to_value(state.status).unwrap_or_default();
    outln!("run       {}", quoted(run));
    outln!("status    {}", status.as_str().unwrap_or_default());
    outln!("purpose   {}", state.purpose);
    outln!(
        "node      {} (step {} of {})",
        state.current_node,
        state.current_step,
        state.max_steps
    );
    outln!("updated   {}", when(state.updated_at));
    outln!("completed {}", state.completed_nodes.join(", "));
    let data = serde_json::to_string_pretty(&state.data).unwrap_or_default();
    outln!("data      {}", data.replace('\n', "\n          "));
    Ok(())
}
