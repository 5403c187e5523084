//! A job store over any checkpoint saver: a job is a thread, a save a
//! checkpoint.

use std::collections::BTreeSet;

use serde_json::Value;

use super::error::check_job_id;
use super::{JobEntry, JobError, JobResult, JobStore};
use crate::saver::{
    BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource,
    CheckpointTuple, Config, ListOptions,
};

/// The metadata key that marks a checkpoint as a job save.
const JOB_MARK: &str = "job_save";
const CONTEXT: &str = "context";
const HINT: &str = "progress_hint";
const SAVED_AT: &str = "saved_at";

/// Jobs stored in a [`BaseCheckpointSaver`]: each job is the thread named
/// by its id (root namespace) and each save a new checkpoint of it, with
/// the channels `context`, `progress_hint` and `saved_at` and the metadata
/// `{"source": "update", "job_save": true, "progress_hint": ...}`. A job
/// therefore keeps its whole history (`checkpointer history JOB`), and a
/// SQLite or PostgreSQL saver makes it durable and shared between
/// processes. `clear` deletes the thread.
///
/// `list_ids` reads every job checkpoint's metadata: it is meant for
/// stores of jobs, not for a database with millions of graph checkpoints.
#[derive(Debug)]
pub struct SaverJobStore<S> {
    saver: S,
}

impl<S: BaseCheckpointSaver> SaverJobStore<S> {
    /// Jobs in `saver`.
    pub fn new(saver: S) -> Self {
        SaverJobStore { saver }
    }

    /// The saver underneath.
    pub fn saver(&self) -> &S {
        &self.saver
    }

    fn latest(&self, operation: &'static str, job_id: &str) -> JobResult<Option<CheckpointTuple>> {
        self.saver
            .get_tuple(&Config::thread(job_id))
            .map_err(|source| saver_error(operation, job_id, source))
    }
}

fn saver_error(operation: &'static str, job_id: &str, source: crate::Error) -> JobError {
    JobError::Saver {
        operation,
        job_id: job_id.to_owned(),
        source,
    }
}

fn entry_of(job_id: &str, tuple: &CheckpointTuple) -> JobResult<JobEntry> {
    let values = &tuple.checkpoint.channel_values;
    let not_a_job = |reason: &str| JobError::NotAJob {
        job_id: job_id.to_owned(),
        checkpoint_id: tuple.checkpoint.id.clone(),
        reason: reason.to_owned(),
    };
    if tuple.metadata.get(JOB_MARK) != Some(Value::Bool(true)) {
        return Err(not_a_job("its metadata has no \"job_save\": true"));
    }
    let saved_at = values
        .get(SAVED_AT)
        .and_then(Value::as_f64)
        .ok_or_else(|| not_a_job("no numeric saved_at channel"))?;
    let progress_hint = values
        .get(HINT)
        .and_then(Value::as_str)
        .ok_or_else(|| not_a_job("no string progress_hint channel"))?;
    Ok(JobEntry {
        job_id: job_id.to_owned(),
        saved_at,
        progress_hint: progress_hint.to_owned(),
        context: values.get(CONTEXT).cloned().unwrap_or(Value::Null),
    })
}

impl<S: BaseCheckpointSaver> JobStore for SaverJobStore<S> {
    fn save(&self, job_id: &str, state: Value, progress_hint: &str) -> JobResult<()> {
        check_job_id("save", job_id)?;
        let parent = self.latest("save", job_id)?;
        let (config, base, step) = match &parent {
            Some(t) => (
                t.config.clone(),
                t.checkpoint.successor(t.metadata.step + 1),
                t.metadata.step + 1,
            ),
            None => (Config::thread(job_id), Checkpoint::new(0), 0),
        };
        let entry = JobEntry::now(job_id, state, progress_hint);
        let mut checkpoint = base;
        let mut versions = ChannelVersions::new();
        for (channel, value) in [
            (CONTEXT, entry.context),
            (HINT, Value::from(entry.progress_hint)),
            (SAVED_AT, Value::from(entry.saved_at)),
        ] {
            let version = self
                .saver
                .get_next_version(checkpoint.channel_versions.get(channel));
            checkpoint = checkpoint.with_value(channel, value, version);
            versions.insert(channel.to_owned(), version);
        }
        let metadata = CheckpointMetadata::new(CheckpointSource::Update, step)
            .with_extra(JOB_MARK, true)
            .with_extra(HINT, progress_hint);
        self.saver
            .put(&config, &checkpoint, &metadata, &versions)
            .map_err(|source| saver_error("save", job_id, source))?;
        Ok(())
    }

    fn get(&self, job_id: &str) -> JobResult<Option<JobEntry>> {
        check_job_id("get", job_id)?;
        self.latest("get", job_id)?
            .map(|t| entry_of(job_id, &t))
            .transpose()
    }

    fn clear(&self, job_id: &str) -> JobResult<bool> {
        check_job_id("clear", job_id)?;
        if self.latest("clear", job_id)?.is_none() {
            return Ok(false);
        }
        self.saver
            .delete_thread(job_id)
            .map_err(|source| saver_error("clear", job_id, source))?;
        Ok(true)
    }

    fn list_ids(&self) -> JobResult<Vec<String>> {
        let options = ListOptions::new().filter(JOB_MARK, true);
        let mut ids = BTreeSet::new();
        let iter = self
            .saver
            .list_iter(None, &options)
            .map_err(|source| saver_error("list_ids", "", source))?;
        for tuple in iter {
            let tuple = tuple.map_err(|source| saver_error("list_ids", "", source))?;
            if tuple.config.ns().is_empty() {
                ids.insert(tuple.config.thread_id);
            }
        }
        Ok(ids.into_iter().collect())
    }

    fn clear_all(&self) -> JobResult<usize> {
        let ids = self.list_ids()?;
        for id in &ids {
            self.saver
                .delete_thread(id)
                .map_err(|source| saver_error("clear_all", id, source))?;
        }
        Ok(ids.len())
    }
}
