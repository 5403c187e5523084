//! [`RecordTables`] in any checkpoint saver: each table is a reserved
//! thread, each change a new checkpoint of it.
//!
//! Why a saver and not tables of its own: the service already runs on
//! `Arc<dyn CheckpointAdmin>`, SQLite or PostgreSQL, and its records are a
//! few small tables written rarely (a key minted, an agent registered).
//! Keeping them as threads gives both backends (and any later one) the
//! service's records with no schema, migration or SQL to keep twice, and
//! a history of every change for free (`checkpointer history
//! '~~service~keys'`). The cost is a whole table rewritten per change,
//! which is right for tens of rows and wrong for millions.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::store::{RecordTables, StoreError, StoreResult, TableStore};
use crate::saver::{
    BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource,
    CheckpointTuple, Config,
};

/// The prefix of the service's reserved threads. No workflow maps to a
/// thread that starts with it (see [`thread_for`](super::thread_for)).
pub const SERVICE_THREAD_PREFIX: &str = "~~service~";

const ROWS: &str = "rows";

/// How often a change is tried again when other processes keep writing
/// the same table.
const ATTEMPTS: usize = 32;

/// Tables kept in a checkpoint saver, safe to share between processes:
/// a change is written as a successor of the checkpoint it read, then
/// checked to be in the newest checkpoint's ancestry; if another process
/// wrote in between, the change runs again on what is there.
pub struct SaverTables {
    saver: Arc<dyn BaseCheckpointSaver>,
    writing: Mutex<()>,
}

impl std::fmt::Debug for SaverTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaverTables").finish_non_exhaustive()
    }
}

/// The [`ServiceStore`](super::store::ServiceStore) the service ships:
/// its records in the same saver as its workflows.
pub type SaverServiceStore = TableStore<SaverTables>;

impl SaverServiceStore {
    /// The service's records in `saver`.
    pub fn in_saver(saver: Arc<dyn BaseCheckpointSaver>) -> Self {
        TableStore::new(SaverTables {
            saver,
            writing: Mutex::new(()),
        })
    }
}

fn thread(table: &str) -> String {
    format!("{SERVICE_THREAD_PREFIX}{table}")
}

fn storage(operation: &'static str, table: &str) -> impl FnOnce(crate::Error) -> StoreError {
    let table = table.to_owned();
    move |source| StoreError::Storage {
        operation,
        table,
        source,
    }
}

fn rows_of(table: &str, tuple: Option<&CheckpointTuple>) -> StoreResult<Vec<Value>> {
    let Some(tuple) = tuple else {
        return Ok(Vec::new());
    };
    match tuple.checkpoint.channel_values.get(ROWS) {
        None => Ok(Vec::new()),
        Some(Value::Array(rows)) => Ok(rows.clone()),
        Some(_) => Err(StoreError::Corrupt {
            table: table.to_owned(),
            reason: format!("checkpoint {} has no row array", tuple.checkpoint.id),
        }),
    }
}

impl SaverTables {
    fn latest(&self, table: &str) -> StoreResult<Option<CheckpointTuple>> {
        self.saver
            .get_tuple(&Config::thread(thread(table)))
            .map_err(storage("read", table))
    }

    /// Whether checkpoint `ours` is the newest of the table's thread or an
    /// ancestor of it.
    fn landed(&self, table: &str, ours: &str) -> StoreResult<bool> {
        let mut at = self.latest(table)?;
        while let Some(tuple) = at {
            let id = tuple.checkpoint.id.as_str();
            if id == ours {
                return Ok(true);
            }
            if id < ours {
                return Ok(false);
            }
            at = match tuple.parent_config {
                Some(parent) => self
                    .saver
                    .get_tuple(&parent)
                    .map_err(storage("read", table))?,
                None => None,
            };
        }
        Ok(false)
    }

    fn write(
        &self,
        table: &str,
        base: Option<&CheckpointTuple>,
        rows: Vec<Value>,
    ) -> StoreResult<String> {
        let (config, step) = match base {
            Some(t) => (t.config.clone(), t.metadata.step + 1),
            None => (Config::thread(thread(table)), 0),
        };
        let previous = base.and_then(|t| t.checkpoint.channel_versions.get(ROWS));
        let version = self.saver.get_next_version(previous);
        let checkpoint = match base {
            Some(t) => t.checkpoint.successor(step),
            None => Checkpoint::new(step),
        }
        .with_value(ROWS, Value::Array(rows), version);
        let mut versions = ChannelVersions::new();
        versions.insert(ROWS.to_owned(), version);
        let metadata = CheckpointMetadata::new(CheckpointSource::Update, step)
            .with_extra("service_table", table);
        self.saver
            .put(&config, &checkpoint, &metadata, &versions)
            .map_err(storage("write", table))?;
        Ok(checkpoint.id)
    }
}

impl RecordTables for SaverTables {
    fn read(&self, table: &str) -> StoreResult<Vec<Value>> {
        rows_of(table, self.latest(table)?.as_ref())
    }

    fn update(
        &self,
        table: &str,
        change: &mut dyn FnMut(&mut Vec<Value>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let _one_writer_here = self
            .writing
            .lock()
            .map_err(|_| StoreError::Busy(table.to_owned()))?;
        for _ in 0..ATTEMPTS {
            let base = self.latest(table)?;
            let mut rows = rows_of(table, base.as_ref())?;
            change(&mut rows)?;
            let ours = self.write(table, base.as_ref(), rows)?;
            if self.landed(table, &ours)? {
                return Ok(());
            }
        }
        Err(StoreError::Busy(table.to_owned()))
    }
}
