//! `jobs`: the job progress checkpoints of a database (`--db`) or of a
//! dcc-mcp-core JSON file (`--json-file`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use checkpointer::jobs::{JobEntry, JobStore, JsonFileJobStore, SaverJobStore};
use checkpointer::saver::CheckpointAdmin;
use clap::{Args, Subcommand};

use super::args::{Destructive, JsonFlag};
use super::confirm::{Loss, Plan, confirm, loss_of};
use super::error::{CliError, CliResult};
use super::fmt::quoted;
use super::open;
use super::table::print_json;

/// `jobs`.
#[derive(Debug, Args)]
pub(crate) struct JobsArgs {
    /// A dcc-mcp-core checkpoint file (`checkpoints.json`) instead of the
    /// database.
    #[arg(long, value_name = "PATH")]
    pub(crate) json_file: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: JobsCommand,
}

/// The `jobs` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// Every job with its last save time and progress.
    List(JsonFlag),
    /// A job's last save: progress and the state to resume from.
    Get {
        /// The job.
        job: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Save a job's progress (replaces the last save).
    Save {
        /// The job.
        job: String,
        /// The state, as JSON.
        #[arg(long, value_name = "JSON")]
        state: String,
        /// A short progress text such as "120/200".
        #[arg(long, value_name = "TEXT", default_value = "")]
        hint: String,
    },
    /// Remove a job (every save of it).
    Clear {
        /// The job.
        job: String,
        #[command(flatten)]
        confirm: Destructive,
    },
    /// Remove every job.
    ClearAll {
        #[command(flatten)]
        confirm: Destructive,
    },
}

/// Where the jobs are: the store, and for a database the saver (for the
/// plan of what a clear removes).
struct Target {
    store: Box<dyn JobStore>,
    saver: Option<Arc<dyn CheckpointAdmin>>,
    place: PathBuf,
}

fn target(db: &Path, args: &JobsArgs, create: bool) -> CliResult<Target> {
    if let Some(file) = &args.json_file {
        return Ok(Target {
            store: Box::new(JsonFileJobStore::new(file)),
            saver: None,
            place: file.clone(),
        });
    }
    let saver = if create {
        open::open_or_create(db)?
    } else {
        open::open_existing(db)?
    };
    Ok(Target {
        store: Box::new(SaverJobStore::new(Arc::clone(&saver))),
        saver: Some(saver),
        place: db.to_owned(),
    })
}

/// Runs `jobs ...` against the database at `db` or `--json-file`.
pub(crate) fn jobs(db: &Path, args: &JobsArgs) -> CliResult<()> {
    let create = matches!(args.command, JobsCommand::Save { .. });
    let t = target(db, args, create)?;
    match &args.command {
        JobsCommand::List(out) => list(&t, out.json),
        JobsCommand::Get { job, out } => get(&t, job, out.json),
        JobsCommand::Save { job, state, hint } => save(&t, job, state, hint),
        JobsCommand::Clear { job, confirm } => {
            clear(&t, std::slice::from_ref(job), *confirm, "clear")
        }
        JobsCommand::ClearAll { confirm } => {
            let ids = t.store.list_ids()?;
            clear(&t, &ids, *confirm, "clear-all")
        }
    }
}

/// Seconds since the epoch as an RFC 3339 UTC time (also the time of
/// `events list`).
pub(crate) fn when(saved_at: f64) -> String {
    #[allow(clippy::cast_possible_truncation)] // Whole milliseconds of a float time.
    let millis = (saved_at * 1000.0).round() as i64;
    chrono::DateTime::from_timestamp_millis(millis).map_or_else(
        || saved_at.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

fn entries(t: &Target) -> CliResult<Vec<JobEntry>> {
    let mut out = Vec::new();
    for id in t.store.list_ids()? {
        out.extend(t.store.get(&id)?);
    }
    Ok(out)
}

fn list(t: &Target, json: bool) -> CliResult<()> {
    let entries = entries(t)?;
    if json {
        return print_json(&entries);
    }
    if entries.is_empty() {
        outln!("no jobs in {}", t.place.display());
    }
    for e in &entries {
        outln!(
            "{}  {}  {}",
            quoted(&e.job_id),
            when(e.saved_at),
            e.progress_hint
        );
    }
    Ok(())
}

fn get(t: &Target, job: &str, json: bool) -> CliResult<()> {
    let entry = t.store.get(job)?.ok_or_else(|| unknown(t, job))?;
    if json {
        return print_json(&entry);
    }
    outln!("job       {}", quoted(&entry.job_id));
    outln!("saved at  {}", when(entry.saved_at));
    outln!("progress  {}", entry.progress_hint);
    let context = serde_json::to_string_pretty(&entry.context).unwrap_or_default();
    outln!("context   {}", context.replace('\n', "\n          "));
    Ok(())
}

fn save(t: &Target, job: &str, state: &str, hint: &str) -> CliResult<()> {
    let state = serde_json::from_str(state).map_err(|e| CliError::BadJobState {
        job: job.to_owned(),
        reason: e.to_string(),
    })?;
    t.store.save(job, state, hint)?;
    outln!("saved job {} in {}", quoted(job), t.place.display());
    Ok(())
}

fn unknown(t: &Target, job: &str) -> CliError {
    CliError::UnknownJob {
        job: job.to_owned(),
        place: t.place.clone(),
    }
}

/// What clearing `jobs` removes: every checkpoint of each job's thread in
/// a database, one entry per job in a file.
fn plan(t: &Target, jobs: &[String]) -> CliResult<Plan> {
    let mut losses = Vec::new();
    for job in jobs {
        let entry = t.store.get(job)?.ok_or_else(|| unknown(t, job))?;
        losses.push(match &t.saver {
            Some(saver) => loss_of(&**saver, job, true, |_| true)?,
            None => Loss {
                thread: job.clone(),
                whole: true,
                checkpoints: 1,
                writes: 0,
                bytes: serde_json::to_vec(&entry).map_or(0, |v| v.len() as u64),
            },
        });
    }
    Ok(Plan { losses })
}

fn clear(t: &Target, jobs: &[String], flags: Destructive, verb: &str) -> CliResult<()> {
    let plan = plan(t, jobs)?;
    if !confirm(flags, verb, &plan)? {
        return Ok(());
    }
    let mut cleared = 0;
    for job in jobs {
        cleared += usize::from(t.store.clear(job)?);
    }
    outln!(
        "cleared {cleared} of {} job(s) in {}",
        jobs.len(),
        t.place.display()
    );
    Ok(())
}
