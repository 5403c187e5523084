//! A thread as JSON Lines: [`export_thread`] writes one from any
//! [`BaseCheckpointSaver`], [`read_export`] reads one back, and
//! [`import_thread`] stores it into any [`CheckpointAdmin`], so a program
//! can move a thread from one backend to another.
//!
//! # Format, version 2 ([`EXPORT_VERSION`])
//!
//! One JSON object per line, keys in this order:
//!
//! 1. a header: `{"format":"checkpointer-thread","version":2,"thread_id":...}`;
//! 2. per checkpoint, oldest first across namespaces (ordered by id, then
//!    namespace): `{"type":"checkpoint","checkpoint_ns","checkpoint":{...
//!    with channel_values},"metadata":{...},"parent_checkpoint_id"}`;
//! 3. right after it, its pending writes in stored order:
//!    `{"type":"write","checkpoint_ns","checkpoint_id","task_id",
//!    "task_path","idx","channel","value"}`;
//! 4. last, a trailer with the counts:
//!    `{"type":"trailer","checkpoints":N,"writes":M}`.
//!
//! The trailer makes an export that was cut short (a full disk, a killed
//! process, a truncated copy) fail to read instead of importing part of a
//! thread: [`read_export`] refuses a version-2 export without a trailer,
//! with counts that disagree with the lines read, or with lines after it.
//! Version 1 (no trailer) is still read; [`ExportedThread::version`] tells
//! a caller to warn that its completeness cannot be checked.
//!
//! Export is deterministic, and import restores exactly what was exported
//! (writes keep their `idx`), so export, delete, import, export gives the
//! same bytes. Blank lines are skipped on reading; a header of another
//! format or version is refused.
//!
//! # Example
//!
//! ```
//! use checkpointer::saver::export::{export_thread, import_thread};
//! use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource,
//!     Config, InMemorySaver, SqliteSaver};
//! use serde_json::json;
//!
//! // A thread in memory...
//! let memory = InMemorySaver::new();
//! let cp = Checkpoint::new(0).with_value("messages", json!(["hi"]), 1);
//! memory.put(&Config::thread("t1"), &cp, &CheckpointMetadata::new(CheckpointSource::Loop, 0),
//!     &cp.channel_versions)?;
//!
//! // ...exported as JSON Lines...
//! let mut lines = Vec::new();
//! assert_eq!(export_thread(&memory, "t1", &mut lines)?, 1);
//!
//! // ...and imported into SQLite, under its own id or another one.
//! let sqlite = SqliteSaver::in_memory()?;
//! let imported = import_thread(&sqlite, lines.as_slice(), Some("t1-copy"))?;
//! assert_eq!((imported.thread_id.as_str(), imported.checkpoints), ("t1-copy", 1));
//! let back = sqlite.get(&Config::thread("t1-copy"))?.expect("imported");
//! assert_eq!(back, cp);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::admin::CheckpointAdmin;
use super::base::BaseCheckpointSaver;
use super::checkpoint::{Checkpoint, CheckpointMetadata};
use super::config::Config;
use super::error::Error;
use super::list::ListOptions;
use super::tuple::{CheckpointTuple, PendingWrite};

/// The `format` of the header line.
pub const EXPORT_FORMAT: &str = "checkpointer-thread";
/// The format version this crate writes (it reads this one and 1).
pub const EXPORT_VERSION: u64 = 2;

/// The oldest format version this crate reads: version 1, which has no
/// trailer.
pub const OLDEST_EXPORT_VERSION: u64 = 1;

/// What can go wrong writing or reading an export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Reading or writing the stream failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The saver failed (reading the thread, or storing it).
    #[error(transparent)]
    Saver(#[from] Error),
    /// A line is not what the format allows.
    #[error("line {line}: {reason}")]
    BadLine {
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A thread read from an export.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportedThread {
    /// The thread id the header names.
    pub thread_id: String,
    /// Its checkpoints in file order (oldest first), each with its writes.
    pub tuples: Vec<CheckpointTuple>,
    /// The format version of the file: [`EXPORT_VERSION`], or 1 for a file
    /// without a trailer, whose completeness could not be checked.
    pub version: u64,
}

/// What [`import_thread`] stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The thread it was stored under.
    pub thread_id: String,
    /// How many checkpoints.
    pub checkpoints: usize,
}

/// The first line.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u64,
    thread_id: String,
}

/// A checkpoint line.
#[derive(Debug, Serialize, Deserialize)]
struct CheckpointLine {
    #[serde(rename = "type")]
    kind: String,
    checkpoint_ns: String,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    parent_checkpoint_id: Option<String>,
}

/// A write line.
#[derive(Debug, Serialize, Deserialize)]
struct WriteLine {
    #[serde(rename = "type")]
    kind: String,
    checkpoint_ns: String,
    checkpoint_id: String,
    task_id: String,
    task_path: String,
    idx: i64,
    channel: String,
    value: Value,
}

/// The last line: how many checkpoint and write lines came before it.
#[derive(Debug, Serialize, Deserialize)]
struct Trailer {
    #[serde(rename = "type")]
    kind: String,
    checkpoints: u64,
    writes: u64,
}

/// Writes one value as a line.
fn line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Writes thread `thread_id` of `saver` as JSON Lines to `out` (then
/// flushes it) and returns how many checkpoints it wrote. A thread with no
/// checkpoints gives the header and a trailer of zeros.
///
/// # Errors
///
/// [`ExportError::Saver`] if the thread cannot be read,
/// [`ExportError::Io`] if `out` fails.
pub fn export_thread(
    saver: &dyn BaseCheckpointSaver,
    thread_id: &str,
    mut out: impl Write,
) -> Result<usize, ExportError> {
    let mut tuples = saver.list(Some(&Config::thread(thread_id)), &ListOptions::new())?;
    tuples
        .sort_by(|a, b| (&a.checkpoint.id, a.config.ns()).cmp(&(&b.checkpoint.id, b.config.ns())));
    let header = Header {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        thread_id: thread_id.into(),
    };
    line(&mut out, &header)?;
    for t in &tuples {
        write_tuple(&mut out, t)?;
    }
    let trailer = Trailer {
        kind: "trailer".into(),
        checkpoints: tuples.len() as u64,
        writes: tuples.iter().map(|t| t.pending_writes.len() as u64).sum(),
    };
    line(&mut out, &trailer)?;
    out.flush()?;
    Ok(tuples.len())
}

/// One checkpoint line and its write lines.
fn write_tuple(out: &mut impl Write, t: &CheckpointTuple) -> std::io::Result<()> {
    let ns = t.config.ns().to_owned();
    let checkpoint = CheckpointLine {
        kind: "checkpoint".into(),
        checkpoint_ns: ns.clone(),
        checkpoint: t.checkpoint.clone(),
        metadata: t.metadata.clone(),
        parent_checkpoint_id: t
            .parent_config
            .as_ref()
            .and_then(|p| p.checkpoint_id.clone()),
    };
    line(out, &checkpoint)?;
    for w in &t.pending_writes {
        let write = WriteLine {
            kind: "write".into(),
            checkpoint_ns: ns.clone(),
            checkpoint_id: t.checkpoint.id.clone(),
            task_id: w.task_id.clone(),
            task_path: w.task_path.clone(),
            idx: w.idx,
            channel: w.channel.clone(),
            value: w.value.clone(),
        };
        line(out, &write)?;
    }
    Ok(())
}

/// Reads an export: its header's thread id and its checkpoints with their
/// writes.
///
/// # Errors
///
/// [`ExportError::Io`] if `reader` fails, [`ExportError::BadLine`] for
/// the first line that is not valid JSON, not a header of this format and
/// version, not a checkpoint or write line, a checkpoint seen twice or a
/// write before its checkpoint; an input without a header is a bad line 1.
/// A version-2 export must end with a trailer whose counts match what was
/// read (a missing trailer is a bad line one past the end); nothing may
/// follow the trailer.
pub fn read_export(reader: impl BufRead) -> Result<ExportedThread, ExportError> {
    let mut header: Option<(String, u64)> = None;
    let mut tuples = Tuples::default();
    let mut trailer_at: Option<usize> = None;
    let mut lines = 0;
    for (n, text) in reader.lines().enumerate() {
        let n = n + 1;
        lines = n;
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| bad(n, format!("invalid JSON: {e}")))?;
        if let Some(at) = trailer_at {
            return Err(bad(n, format!("a line after the trailer (line {at})")));
        }
        match &header {
            None => header = Some(read_header(value).map_err(|reason| bad(n, reason))?),
            Some(_) if value.get("type").and_then(Value::as_str) == Some("trailer") => {
                tuples
                    .check_trailer(value)
                    .map_err(|reason| bad(n, reason))?;
                trailer_at = Some(n);
            }
            Some((thread, _)) => tuples.add(thread, value).map_err(|reason| bad(n, reason))?,
        }
    }
    let (thread_id, version) =
        header.ok_or_else(|| bad(1, "empty input: no export header".into()))?;
    if version >= 2 && trailer_at.is_none() {
        return Err(bad(
            lines + 1,
            format!(
                "the export ends without its trailer line after {} checkpoints and {} \
                 writes: it was cut short (export it again)",
                tuples.read.len(),
                tuples.writes
            ),
        ));
    }
    Ok(ExportedThread {
        thread_id,
        tuples: tuples.read,
        version,
    })
}

/// A [`ExportError::BadLine`].
fn bad(line: usize, reason: String) -> ExportError {
    ExportError::BadLine { line, reason }
}

/// The thread id and version of a header line that names this format and
/// a version this crate reads.
fn read_header(value: Value) -> Result<(String, u64), String> {
    let header: Header = serde_json::from_value(value)
        .map_err(|e| format!("not a {EXPORT_FORMAT} export header: {e}"))?;
    if header.format != EXPORT_FORMAT {
        return Err(format!(
            "format is {:?}, expected {EXPORT_FORMAT:?}",
            header.format
        ));
    }
    if !(OLDEST_EXPORT_VERSION..=EXPORT_VERSION).contains(&header.version) {
        return Err(format!(
            "export format version {} is not supported (this checkpointer reads versions \
             {OLDEST_EXPORT_VERSION} to {EXPORT_VERSION})",
            header.version
        ));
    }
    if header.thread_id.is_empty() {
        return Err("the header's thread_id is empty".into());
    }
    Ok((header.thread_id, header.version))
}

/// The tuples read so far, with where each checkpoint is.
#[derive(Default)]
struct Tuples {
    read: Vec<CheckpointTuple>,
    index: HashMap<(String, String), usize>,
    writes: u64,
}

impl Tuples {
    /// Checks a trailer line against what was read.
    fn check_trailer(&self, value: Value) -> Result<(), String> {
        let t: Trailer =
            serde_json::from_value(value).map_err(|e| format!("invalid trailer line: {e}"))?;
        let read = (self.read.len() as u64, self.writes);
        if (t.checkpoints, t.writes) != read {
            return Err(format!(
                "the trailer counts {} checkpoints and {} writes but the export holds {} and \
                 {}: lines were lost or added",
                t.checkpoints, t.writes, read.0, read.1
            ));
        }
        Ok(())
    }

    /// Adds a checkpoint or write line of thread `thread`.
    fn add(&mut self, thread: &str, value: Value) -> Result<(), String> {
        match value.get("type").and_then(Value::as_str) {
            Some("checkpoint") => {
                let c: CheckpointLine = serde_json::from_value(value)
                    .map_err(|e| format!("invalid checkpoint line: {e}"))?;
                self.add_checkpoint(thread, c)
            }
            Some("write") => {
                let w: WriteLine = serde_json::from_value(value)
                    .map_err(|e| format!("invalid write line: {e}"))?;
                self.add_write(w)
            }
            other => Err(format!(
                "unknown line type {other:?} (expected \"checkpoint\", \"write\" or \"trailer\")"
            )),
        }
    }

    fn add_checkpoint(&mut self, thread: &str, c: CheckpointLine) -> Result<(), String> {
        let key = (c.checkpoint_ns.clone(), c.checkpoint.id.clone());
        if self.index.contains_key(&key) {
            return Err(format!("checkpoint {} appears twice", key.1));
        }
        self.index.insert(key, self.read.len());
        let config = Config::thread(thread).with_ns(c.checkpoint_ns);
        self.read.push(CheckpointTuple {
            config: config.clone().with_checkpoint_id(c.checkpoint.id.clone()),
            parent_config: c
                .parent_checkpoint_id
                .map(|p| config.clone().with_checkpoint_id(p)),
            checkpoint: c.checkpoint,
            metadata: c.metadata,
            pending_writes: Vec::new(),
        });
        Ok(())
    }

    fn add_write(&mut self, w: WriteLine) -> Result<(), String> {
        let key = (w.checkpoint_ns, w.checkpoint_id);
        let at = self.index.get(&key).copied().ok_or_else(|| {
            format!(
                "write for checkpoint {} before (or without) its checkpoint line",
                key.1
            )
        })?;
        self.writes += 1;
        self.read[at].pending_writes.push(PendingWrite {
            task_id: w.task_id,
            channel: w.channel,
            value: w.value,
            task_path: w.task_path,
            idx: w.idx,
        });
        Ok(())
    }
}

/// Reads an export from `reader` and stores it into `admin` with
/// [`CheckpointAdmin::import_thread`], under `thread_id` if given, else
/// under the thread id of the export.
///
/// # Errors
///
/// Those of [`read_export`], and [`ExportError::Saver`] with
/// [`Error::TargetNotEmpty`] if the thread already has checkpoints
/// (nothing is changed) or any other error of the import.
pub fn import_thread(
    admin: &dyn CheckpointAdmin,
    reader: impl BufRead,
    thread_id: Option<&str>,
) -> Result<Imported, ExportError> {
    let export = read_export(reader)?;
    let thread_id = thread_id.map_or(export.thread_id, str::to_owned);
    admin.import_thread(&thread_id, &export.tuples, &mut |_| {})?;
    Ok(Imported {
        thread_id,
        checkpoints: export.tuples.len(),
    })
}
