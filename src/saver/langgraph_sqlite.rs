//! LangGraph's SQLite files (`langgraph-checkpoint-sqlite` 3.x): read every
//! thread of one into any saver, and write threads of any saver into one
//! that Python's `SqliteSaver` lists, reads and resumes.
//!
//! A [`LangGraphSqliteFile`] is such a file: [`open`](LangGraphSqliteFile::open)
//! reads one (read-only), [`create`](LangGraphSqliteFile::create) makes or
//! opens one for writing, with the tables Python's `setup()` makes.
//! [`import_file`] stores every thread of a file through a
//! [`CheckpointAdmin`] (so every check and the value encoding of the target
//! apply); [`export_threads`] writes threads of any saver into a file.
//!
//! # What is converted
//!
//! - A checkpoint row holds the whole checkpoint as one `msgpack` (or
//!   `json`) blob, its metadata as JSON text; writes are typed blobs.
//!   Values this crate cannot hold as JSON (Python's `Interrupt`, `Send`,
//!   messages, binary) are kept as `{"__msgpack__": "<hex>"}` and written
//!   back byte for byte, so Python reads them as it wrote them.
//! - Channel versions: Python's `"<32 digits>.<random>"` reads as a
//!   [`ChannelVersion`] with the same counter; on export a version is
//!   written `"<32 digits>.<salt as 16 hex digits>"`, which Python's
//!   `get_next_version` continues and which orders as Python's strings do
//!   (and which reads back as the same version).
//! - Ids, parents, namespaces, metadata and pending writes (with their
//!   `task_path` and `idx`) are kept.
//!
//! # Example
//!
//! ```
//! use checkpointer::saver::langgraph_sqlite::{LangGraphSqliteFile, export_threads, import_file};
//! use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource,
//!     Config, InMemorySaver, SqliteSaver};
//! use serde_json::json;
//!
//! let dir = tempfile::tempdir()?;
//! let memory = InMemorySaver::new();
//! let cp = Checkpoint::new(0).with_value("messages", json!(["hi"]), 1);
//! memory.put(&Config::thread("t1"), &cp, &CheckpointMetadata::new(CheckpointSource::Loop, 0),
//!     &cp.channel_versions)?;
//!
//! // Into a file Python's SqliteSaver reads...
//! let path = dir.path().join("langgraph.sqlite");
//! let mut file = LangGraphSqliteFile::create(&path)?;
//! export_threads(&memory, &["t1".to_owned()], &mut file, &mut |_| {})?;
//!
//! // ...and back, into a SQLite saver of this crate.
//! let ours = SqliteSaver::in_memory()?;
//! let imported = import_file(&ours, &LangGraphSqliteFile::open(&path)?, &mut |_| {})?;
//! assert_eq!((imported.threads, imported.checkpoints), (1, 1));
//! assert_eq!(ours.get(&Config::thread("t1"))?, Some(cp));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Map, Value};

use super::admin::CheckpointAdmin;
use super::base::BaseCheckpointSaver;
use super::checkpoint::{ChannelVersions, Checkpoint, CheckpointMetadata};
use super::config::Config;
use super::error::{Error, Result};
use super::langgraph_values::{dump_channel, load_channel, load_typed, to_msgpack};
use super::list::ListOptions;
use super::tuple::{CheckpointTuple, PendingWrite};
use super::version::ChannelVersion;
use super::writes::sort_pending_writes;

/// The backend name in errors.
const BACKEND: &str = "langgraph-sqlite";

/// Python's `setup()`, statement for statement (`PRAGMA journal_mode=WAL`
/// is run apart, as it returns a row).
const SETUP: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    type TEXT,
    checkpoint BLOB,
    metadata BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);
CREATE TABLE IF NOT EXISTS writes (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_path TEXT NOT NULL DEFAULT '',
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT,
    value BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);";

/// The columns a `checkpoints` table of LangGraph's must have.
const CHECKPOINT_COLUMNS: [&str; 7] = [
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "type",
    "checkpoint",
    "metadata",
];

/// The columns a `writes` table must have (`task_path` is optional: files
/// from before it existed read it as `''`, as Python does).
const WRITE_COLUMNS: [&str; 8] = [
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "task_id",
    "idx",
    "channel",
    "type",
    "value",
];

/// A SQLite file in the schema of LangGraph's `SqliteSaver`.
pub struct LangGraphSqliteFile {
    conn: Connection,
    path: PathBuf,
    has_task_path: bool,
}

impl fmt::Debug for LangGraphSqliteFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LangGraphSqliteFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LangGraphSqliteFile {
    /// Opens an existing file read-only. A missing file is [`Error::Io`];
    /// a file that is not SQLite, or has no `checkpoints` and `writes`
    /// tables of LangGraph's shape, is [`Error::NotACheckpointDatabase`]
    /// naming it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Err(source) = std::fs::metadata(&path) {
            return Err(Error::Io { path, source });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|e| not_langgraph(&path, &e))?;
        Self::checked(conn, path)
    }

    /// Opens `path` for writing, creating the file and its tables as
    /// Python's `setup()` does (WAL mode, `checkpoints`, `writes`, the
    /// `task_path` migration). An existing LangGraph file is kept as it is;
    /// another kind of file is [`Error::NotACheckpointDatabase`].
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|e| not_langgraph(&path, &e))?;
        let context = |what: &str| {
            let what = format!("{what} of {}", path.display());
            move |e| Error::backend(BACKEND, what, e)
        };
        let _mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| not_langgraph(&path, &e))?;
        conn.execute_batch(SETUP).map_err(context("setup"))?;
        match conn.execute(
            "ALTER TABLE writes ADD COLUMN task_path TEXT NOT NULL DEFAULT ''",
            [],
        ) {
            Ok(_) => {}
            Err(e) if e.to_string().contains("duplicate column name") => {}
            Err(e) => return Err(context("the task_path migration")(e)),
        }
        Self::checked(conn, path)
    }

    /// Checks the tables of a freshly opened file.
    fn checked(conn: Connection, path: PathBuf) -> Result<Self> {
        let checkpoints = columns(&conn, &path, "checkpoints")?;
        let writes = columns(&conn, &path, "writes")?;
        for (table, found, wanted) in [
            ("checkpoints", &checkpoints, &CHECKPOINT_COLUMNS[..]),
            ("writes", &writes, &WRITE_COLUMNS[..]),
        ] {
            if found.is_empty() {
                return Err(Error::NotACheckpointDatabase {
                    path,
                    reason: format!(
                        "it has no {table} table (not a file of LangGraph's SqliteSaver)"
                    ),
                });
            }
            if let Some(missing) = wanted.iter().find(|c| !found.contains(**c)) {
                return Err(Error::NotACheckpointDatabase {
                    path,
                    reason: format!(
                        "its {table} table has no {missing} column (not a file of \
                         LangGraph's SqliteSaver)"
                    ),
                });
            }
        }
        let has_task_path = writes.contains("task_path");
        Ok(LangGraphSqliteFile {
            conn,
            path,
            has_task_path,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many checkpoints the file holds, over all threads.
    pub fn checkpoint_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM checkpoints", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| {
                let what = format!("count the checkpoints of {}", self.path.display());
                Error::backend(BACKEND, what, e)
            })
    }

    /// Every thread of the file, sorted.
    pub fn thread_ids(&self) -> Result<Vec<String>> {
        let what = || format!("list the threads of {}", self.path.display());
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id")
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| Error::backend(BACKEND, what(), e))
    }

    /// Every checkpoint of `thread_id` with its pending writes, over all
    /// namespaces, oldest first (by id, then namespace). An unknown thread
    /// gives an empty list.
    pub fn read_thread(&self, thread_id: &str) -> Result<Vec<CheckpointTuple>> {
        let what = || format!("read thread {thread_id:?} of {}", self.path.display());
        let sql = "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint,
                metadata FROM checkpoints WHERE thread_id = ?1
            ORDER BY checkpoint_id, checkpoint_ns";
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
        let rows = stmt
            .query_map([thread_id], |r| {
                Ok(CheckpointRow {
                    ns: r.get(0)?,
                    id: r.get(1)?,
                    parent: r.get(2)?,
                    kind: r.get(3)?,
                    blob: bytes_at(r, 4)?,
                    metadata: bytes_at(r, 5)?,
                })
            })
            .map_err(|e| Error::backend(BACKEND, what(), e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
        let mut writes = self.read_writes(thread_id)?;
        rows.into_iter()
            .map(|row| {
                let key = (row.ns.clone(), row.id.clone());
                let mut tuple = self.tuple(thread_id, row)?;
                tuple.pending_writes = writes.remove(&key).unwrap_or_default();
                sort_pending_writes(&mut tuple.pending_writes);
                Ok(tuple)
            })
            .collect()
    }

    /// The writes of `thread_id`, by `(namespace, checkpoint id)`.
    fn read_writes(&self, thread_id: &str) -> Result<HashMap<(String, String), Vec<PendingWrite>>> {
        let what = || {
            format!(
                "read the writes of thread {thread_id:?} of {}",
                self.path.display()
            )
        };
        let task_path = if self.has_task_path {
            "task_path"
        } else {
            "''"
        };
        let sql = format!(
            "SELECT checkpoint_ns, checkpoint_id, task_id, {task_path}, idx, channel, type, value
            FROM writes WHERE thread_id = ?1 ORDER BY checkpoint_ns, checkpoint_id, task_id, idx"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
        let mut rows = stmt
            .query([thread_id])
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
        let mut out: HashMap<(String, String), Vec<PendingWrite>> = HashMap::new();
        while let Some(r) = rows
            .next()
            .map_err(|e| Error::backend(BACKEND, what(), e))?
        {
            let get = |e| Error::backend(BACKEND, what(), e);
            let ns: String = r.get(0).map_err(get)?;
            let id: String = r.get(1).map_err(get)?;
            let task_id: String = r.get(2).map_err(get)?;
            let task_path: String = r.get(3).map_err(get)?;
            let idx: i64 = r.get(4).map_err(get)?;
            let channel: String = r.get(5).map_err(get)?;
            let kind: Option<String> = r.get(6).map_err(get)?;
            let blob = bytes_at(r, 7).map_err(get)?;
            let kind = kind.unwrap_or_else(|| "msgpack".to_owned());
            // Python's Sends and interrupts as the runtime's forms.
            let value = load_channel(&channel, &kind, blob.as_deref())
                .map_err(|reason| {
                    self.unreadable(
                        thread_id,
                        &id,
                        &format!("write {idx} of task {task_id} on {channel:?}: {reason}"),
                    )
                })?
                .unwrap_or(Value::Null);
            out.entry((ns, id)).or_default().push(PendingWrite {
                task_id,
                channel,
                value,
                task_path,
                idx,
            });
        }
        Ok(out)
    }

    /// The tuple of one checkpoint row (without its writes).
    fn tuple(&self, thread_id: &str, row: CheckpointRow) -> Result<CheckpointTuple> {
        let unreadable = |reason: String| self.unreadable(thread_id, &row.id, &reason);
        let kind = row.kind.as_deref().unwrap_or("msgpack");
        if !matches!(kind, "msgpack" | "json") {
            return Err(unreadable(format!(
                "its checkpoint has type {kind:?}: only msgpack and json are read (the \
                 serializer of langgraph-checkpoint-sqlite 3.x; an encrypted or pickled \
                 file cannot be)"
            )));
        }
        let value = load_typed(kind, row.blob.as_deref())
            .map_err(|e| unreadable(format!("its checkpoint: {e}")))?
            .unwrap_or(Value::Null);
        let mut checkpoint = checkpoint_from(value).map_err(&unreadable)?;
        checkpoint.id.clone_from(&row.id);
        let metadata: CheckpointMetadata = match row.metadata.as_deref() {
            Some(text) => serde_json::from_slice(text)
                .map_err(|e| unreadable(format!("its metadata JSON: {e}")))?,
            None => return Err(unreadable("it has no metadata".into())),
        };
        let config = Config::thread(thread_id).with_ns(row.ns);
        Ok(CheckpointTuple {
            config: config.clone().with_checkpoint_id(row.id),
            parent_config: row.parent.map(|p| config.with_checkpoint_id(p)),
            checkpoint,
            metadata,
            pending_writes: Vec::new(),
        })
    }

    /// A row this crate cannot read, as an error naming the file.
    fn unreadable(&self, thread_id: &str, checkpoint_id: &str, reason: &str) -> Error {
        Error::NotACheckpointDatabase {
            path: self.path.clone(),
            reason: format!(
                "checkpoint {checkpoint_id:?} of thread {thread_id:?} cannot be read: {reason}"
            ),
        }
    }

    /// Writes the tuples of `thread_id` (from any saver) into the file in
    /// one transaction, replacing rows with the same keys, as Python's
    /// `put` and `put_writes` would store them.
    pub fn write_thread(&mut self, thread_id: &str, tuples: &[CheckpointTuple]) -> Result<usize> {
        let what = || format!("write thread {thread_id:?} into {}", self.path.display());
        let tx = self
            .conn
            .transaction()
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
        for t in tuples {
            let ns = t.config.ns();
            let id = &t.checkpoint.id;
            let metadata = serde_json::to_vec(&t.metadata).map_err(|source| Error::Serialize {
                thread_id: thread_id.to_owned(),
                what: format!("the metadata of checkpoint {id}"),
                source,
            })?;
            let parent = t
                .parent_config
                .as_ref()
                .and_then(|p| p.checkpoint_id.as_deref());
            tx.execute(
                "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,
                    parent_checkpoint_id, type, checkpoint, metadata)
                VALUES (?1, ?2, ?3, ?4, 'msgpack', ?5, ?6)",
                params![
                    thread_id,
                    ns,
                    id,
                    parent,
                    checkpoint_msgpack(&t.checkpoint),
                    metadata
                ],
            )
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
            for w in &t.pending_writes {
                let (kind, blob) = dump_channel(&w.channel, &w.value);
                tx.execute(
                    "INSERT OR REPLACE INTO writes (thread_id, checkpoint_ns, checkpoint_id,
                        task_id, task_path, idx, channel, type, value)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        thread_id,
                        ns,
                        id,
                        w.task_id,
                        w.task_path,
                        w.idx,
                        w.channel,
                        kind,
                        blob
                    ],
                )
                .map_err(|e| Error::backend(BACKEND, what(), e))?;
            }
        }
        tx.commit()
            .map_err(|e| Error::backend(BACKEND, what(), e))?;
        Ok(tuples.len())
    }
}

/// A checkpoint row as read.
struct CheckpointRow {
    ns: String,
    id: String,
    parent: Option<String>,
    kind: Option<String>,
    blob: Option<Vec<u8>>,
    metadata: Option<Vec<u8>>,
}

/// Column `i` as bytes: SQLite's dynamic typing lets a writer other than
/// Python's store a blob column as text (JSON metadata, most often).
fn bytes_at(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(i)? {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        ValueRef::Integer(n) => Some(n.to_string().into_bytes()),
        ValueRef::Real(x) => Some(x.to_string().into_bytes()),
    })
}

/// An open that failed: the file is not SQLite (or cannot be read).
fn not_langgraph(path: &Path, e: &rusqlite::Error) -> Error {
    Error::NotACheckpointDatabase {
        path: path.to_path_buf(),
        reason: format!("it cannot be opened as SQLite: {e}"),
    }
}

/// The column names of `table` (empty if there is no such table).
fn columns(conn: &Connection, path: &Path, table: &str) -> Result<BTreeSet<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .map_err(|e| not_langgraph(path, &e))?;
    let names = stmt
        .query_map([table], |r| r.get::<_, String>(0))
        .and_then(Iterator::collect)
        .map_err(|e| not_langgraph(path, &e))?;
    Ok(names)
}

/// Our checkpoint from the dict Python serialised. Versions are Python's
/// strings (or integers); `pending_sends` (format v<4) has no place here.
fn checkpoint_from(value: Value) -> std::result::Result<Checkpoint, String> {
    let Value::Object(mut map) = value else {
        return Err("its checkpoint is not a map".into());
    };
    map.remove("pending_sends");
    let mut checkpoint: Checkpoint =
        serde_json::from_value(Value::Object(map)).map_err(|e| format!("its checkpoint: {e}"))?;
    for version in checkpoint.channel_versions.values_mut() {
        *version = exported_version(version);
    }
    for seen in checkpoint.versions_seen.values_mut() {
        for version in seen.values_mut() {
            *version = exported_version(version);
        }
    }
    Ok(checkpoint)
}

/// A version [`langgraph_version`] wrote for one of this crate's older
/// forms (`{n:032}.{16 hex digits}`) as that form again, so an export read
/// back is the same thread; any other text (Python's `{n:032}.0.123…`, the
/// runtime's) is kept verbatim.
fn exported_version(version: &ChannelVersion) -> ChannelVersion {
    let text = version.to_string();
    match text.split_once('.') {
        Some((counter, hex))
            if counter.len() == 32
                && hex.len() == 16
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            u64::from_str_radix(hex, 16).map_or(*version, |salt| {
                ChannelVersion::with_salt(version.counter(), salt)
            })
        }
        _ => *version,
    }
}

/// A version as LangGraph writes it, 32 digits of counter, a dot and a
/// suffix, so that Python's string comparison orders it. A version already
/// in that form (every version the graph runtime makes, and every one
/// Python made) is written verbatim; an older form of this crate
/// (`"<n>.<hex>"`, a plain counter) gets the 32-digit counter and its salt
/// as 16 hex digits.
pub fn langgraph_version(version: &ChannelVersion) -> String {
    let text = version.to_string();
    let python_form = text.len() > 33
        && text.as_bytes()[32] == b'.'
        && text.as_bytes()[..32].iter().all(u8::is_ascii_digit);
    if python_form {
        return text;
    }
    format!("{:032}.{:016x}", version.counter(), version.salt())
}

fn versions_json(versions: &ChannelVersions) -> Value {
    Value::Object(
        versions
            .iter()
            .map(|(ch, v)| (ch.clone(), Value::String(langgraph_version(v))))
            .collect(),
    )
}

/// The checkpoint dict Python's `dumps_typed` would have made, as msgpack.
fn checkpoint_msgpack(cp: &Checkpoint) -> Vec<u8> {
    let mut map = Map::new();
    map.insert("v".into(), Value::from(cp.v));
    map.insert("ts".into(), Value::String(cp.ts.clone()));
    map.insert("id".into(), Value::String(cp.id.clone()));
    let values: Map<String, Value> = cp
        .channel_values
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    map.insert("channel_values".into(), Value::Object(values));
    map.insert(
        "channel_versions".into(),
        versions_json(&cp.channel_versions),
    );
    let seen: Map<String, Value> = cp
        .versions_seen
        .iter()
        .map(|(node, vs)| (node.clone(), versions_json(vs)))
        .collect();
    map.insert("versions_seen".into(), Value::Object(seen));
    map.insert(
        "updated_channels".into(),
        cp.updated_channels
            .as_ref()
            .map_or(Value::Null, |chs| Value::from(chs.clone())),
    );
    to_msgpack(&Value::Object(map))
}

/// What [`import_file`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LangGraphImport {
    /// Threads of the file that got checkpoints or writes they lacked.
    pub threads: usize,
    /// Threads that were already there in full (nothing was added).
    pub unchanged_threads: usize,
    /// Checkpoints added.
    pub checkpoints: usize,
    /// Pending writes added.
    pub writes: usize,
}

/// Stores every thread of `file` into `admin`, keeping ids, parents,
/// namespaces, metadata and pending writes; `progress` is called with the
/// number of checkpoints of the file gone through so far.
///
/// Idempotent: a thread the target does not have is imported whole with
/// [`CheckpointAdmin::import_thread`]; of a thread it has, only the
/// checkpoints and writes it lacks are added (with `put` and
/// `put_writes`), so importing a file again adds nothing, and importing it
/// after Python went on with a thread adds what Python wrote since. What
/// the target already has is never changed.
pub fn import_file(
    admin: &dyn CheckpointAdmin,
    file: &LangGraphSqliteFile,
    progress: &mut dyn FnMut(usize),
) -> Result<LangGraphImport> {
    let mut done = 0;
    let mut summary = LangGraphImport::default();
    for thread_id in file.thread_ids()? {
        let tuples = file.read_thread(&thread_id)?;
        let (checkpoints, writes) = if admin.has_thread(&thread_id)? {
            add_missing(admin, &thread_id, &tuples)?
        } else {
            let base = done;
            admin.import_thread(&thread_id, &tuples, &mut |n| progress(base + n))?;
            let writes = tuples.iter().map(|t| t.pending_writes.len()).sum();
            (tuples.len(), writes)
        };
        done += tuples.len();
        progress(done);
        if checkpoints + writes == 0 {
            summary.unchanged_threads += 1;
        } else {
            summary.threads += 1;
        }
        summary.checkpoints += checkpoints;
        summary.writes += writes;
    }
    Ok(summary)
}

/// Adds the checkpoints and writes of `tuples` that thread `thread_id` of
/// `saver` lacks; returns how many of each it added.
fn add_missing(
    saver: &dyn BaseCheckpointSaver,
    thread_id: &str,
    tuples: &[CheckpointTuple],
) -> Result<(usize, usize)> {
    let existing = saver.list(Some(&Config::thread(thread_id)), &ListOptions::new())?;
    let mut have: HashMap<(String, String), BTreeSet<(String, i64)>> = existing
        .iter()
        .map(|t| {
            let writes = t.pending_writes.iter().map(|w| (w.task_id.clone(), w.idx));
            (
                (t.config.ns().to_owned(), t.checkpoint.id.clone()),
                writes.collect(),
            )
        })
        .collect();
    let (mut checkpoints, mut writes) = (0, 0);
    for t in tuples {
        let ns = t.config.ns();
        let key = (ns.to_owned(), t.checkpoint.id.clone());
        let here = Config::thread(thread_id)
            .with_ns(ns)
            .with_checkpoint_id(t.checkpoint.id.clone());
        if !have.contains_key(&key) {
            let mut parent = Config::thread(thread_id).with_ns(ns);
            parent.checkpoint_id = t
                .parent_config
                .as_ref()
                .and_then(|p| p.checkpoint_id.clone());
            saver.put(
                &parent,
                &t.checkpoint,
                &t.metadata,
                &t.checkpoint.channel_versions,
            )?;
            checkpoints += 1;
        }
        let known = have.remove(&key).unwrap_or_default();
        let missing: Vec<&PendingWrite> = t
            .pending_writes
            .iter()
            .filter(|w| !known.contains(&(w.task_id.clone(), w.idx)))
            .collect();
        writes += put_missing_writes(saver, &here, &missing)?;
    }
    Ok((checkpoints, writes))
}

/// Puts `writes` (of one checkpoint) task by task: each task's ordinary
/// writes in one call in `idx` order (so `put_writes` numbers them as
/// Python did, by position), its special ones in another.
fn put_missing_writes(
    saver: &dyn BaseCheckpointSaver,
    config: &Config,
    writes: &[&PendingWrite],
) -> Result<usize> {
    let mut batches: BTreeMap<(&str, &str, bool), Vec<&PendingWrite>> = BTreeMap::new();
    for w in writes {
        batches
            .entry((&w.task_id, &w.task_path, w.idx < 0))
            .or_default()
            .push(w);
    }
    for ((task_id, task_path, _), mut batch) in batches {
        batch.sort_by_key(|w| w.idx);
        let pairs: Vec<(String, Value)> = batch
            .iter()
            .map(|w| (w.channel.clone(), w.value.clone()))
            .collect();
        saver.put_writes(config, &pairs, task_id, task_path)?;
    }
    Ok(writes.len())
}

/// Writes threads `thread_ids` of `saver` (every namespace, pending writes
/// included) into `file`; `progress` is called with the number of
/// threads written so far. Returns how many checkpoints it wrote. A
/// thread the saver does not have is [`Error::ThreadNotFound`], and
/// nothing of it is written.
pub fn export_threads(
    saver: &dyn BaseCheckpointSaver,
    thread_ids: &[String],
    file: &mut LangGraphSqliteFile,
    progress: &mut dyn FnMut(usize),
) -> Result<usize> {
    let mut checkpoints = 0;
    for (done, thread_id) in thread_ids.iter().enumerate() {
        let mut tuples = saver.list(
            Some(&Config::thread(thread_id.clone())),
            &ListOptions::new(),
        )?;
        if tuples.is_empty() {
            return Err(Error::ThreadNotFound {
                thread_id: thread_id.clone(),
            });
        }
        tuples.reverse();
        checkpoints += file.write_thread(thread_id, &tuples)?;
        progress(done + 1);
    }
    Ok(checkpoints)
}
