//! [`RecordTables`] in any checkpoint saver: each table is a reserved
//! thread, each change a new checkpoint of it.
//!
//! Why a saver and not tables of its own: the service already runs on a
//! checkpoint saver, SQLite or PostgreSQL, and its records are a few small
//! tables written rarely (a key minted, an agent registered). Keeping them
//! as threads gives both backends (and any later one) the service's
//! records with no schema, migration or SQL to keep twice, and a history
//! of every change for free (`checkpointer history '~~service~keys'`).
//! A change holds the table's thread lease ([`ThreadLeases`]) from its
//! read to its write, so writers in different processes (the service and
//! `checkpointer keys`) never lose each other's changes. The cost is a
//! whole table rewritten per change, which is right for tens of rows and
//! wrong for millions.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::store::{RecordTables, StoreError, StoreResult, TableStore};
use crate::saver::{
    ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource, CheckpointTuple, Config,
    Lease, ThreadLeases,
};

/// The prefix of the service's reserved threads. No workflow maps to a
/// thread that starts with it (see [`thread_for`](super::thread_for)).
pub const SERVICE_THREAD_PREFIX: &str = "~~service~";

const ROWS: &str = "rows";

/// How long a writer waits for a table's lease before giving up.
const LEASE_WAIT: Duration = Duration::from_secs(10);

/// How long a lease lives if its holder dies mid-change.
const LEASE_TTL: Duration = Duration::from_secs(10);

/// Tables kept in a checkpoint saver with thread leases (every saver of
/// this crate has them), safe to share between processes.
pub struct SaverTables {
    saver: Arc<dyn ThreadLeases>,
    owner: String,
    writing: Mutex<()>,
}

impl std::fmt::Debug for SaverTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaverTables")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// The [`ServiceStore`](super::store::ServiceStore) the service ships:
/// its records in the same saver as its workflows.
pub type SaverServiceStore = TableStore<SaverTables>;

impl SaverServiceStore {
    /// The service's records in `saver`.
    pub fn in_saver(saver: Arc<dyn ThreadLeases>) -> Self {
        let owner = format!(
            "checkpointer-service-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        );
        TableStore::new(SaverTables {
            saver,
            owner,
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

    /// The table's lease, waiting (a few milliseconds at a time) while
    /// another writer holds it.
    fn acquire(&self, table: &str) -> StoreResult<Lease> {
        let started = Instant::now();
        loop {
            match self.saver.acquire(&thread(table), &self.owner, LEASE_TTL) {
                Ok(lease) => return Ok(lease),
                Err(crate::Error::LeaseHeld { .. }) if started.elapsed() < LEASE_WAIT => {
                    std::thread::sleep(Duration::from_millis(2 + fastrand::u64(..8)));
                }
                Err(crate::Error::LeaseHeld { .. }) => {
                    return Err(StoreError::Busy(table.to_owned()));
                }
                Err(e) => return Err(storage("lease", table)(e)),
            }
        }
    }

    fn write(
        &self,
        table: &str,
        base: Option<&CheckpointTuple>,
        rows: Vec<Value>,
        token: u64,
    ) -> StoreResult<()> {
        let (config, step) = match base {
            Some(t) => (t.config.clone(), t.metadata.step + 1),
            None => (Config::thread(thread(table)), 0),
        };
        let config = config.with_lease_token(token);
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
        Ok(())
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
        let lease = self.acquire(table)?;
        let changed = (|| {
            let base = self.latest(table)?;
            let mut rows = rows_of(table, base.as_ref())?;
            change(&mut rows)?;
            self.write(table, base.as_ref(), rows, lease.token)
        })();
        if let Err(e) = self.saver.release(&lease) {
            tracing::warn!(table, error = %e, "service table lease not released; it expires on its own");
        }
        changed
    }
}
