//! `export` and `import`: a thread as JSON Lines.
//!
//! The format (version 1), one JSON object per line, keys in this order:
//!
//! 1. a header: `{"format":"checkpointer-thread","version":1,"thread_id":...}`;
//! 2. per checkpoint, oldest first across namespaces (ordered by id, then
//!    namespace): `{"type":"checkpoint","checkpoint_ns","checkpoint":{...
//!    with channel_values},"metadata":{...},"parent_checkpoint_id"}`;
//! 3. right after it, its pending writes in stored order:
//!    `{"type":"write","checkpoint_ns","checkpoint_id","task_id",
//!    "task_path","idx","channel","value"}`.
//!
//! Export is deterministic, and import restores exactly what was exported
//! (writes keep their `idx`), so export, delete, import, export gives the
//! same bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointTuple, Config, ListOptions,
    PendingWrite, SqliteSaver,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::args::{ExportArgs, ImportArgs};
use super::error::{CliError, CliResult};
use super::manage::progress;
use super::open::require_thread;

/// The `format` of the header line.
pub(crate) const FORMAT: &str = "checkpointer-thread";
/// The format version this tool writes and reads.
pub(crate) const VERSION: u64 = 1;

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

/// Writes one value as a line.
fn line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Writes thread `thread` of `saver` as JSON Lines to `out`.
pub(crate) fn write_export(
    saver: &SqliteSaver,
    thread: &str,
    out: &mut impl Write,
) -> std::io::Result<usize> {
    let mut tuples = saver
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .map_err(std::io::Error::other)?;
    tuples
        .sort_by(|a, b| (&a.checkpoint.id, a.config.ns()).cmp(&(&b.checkpoint.id, b.config.ns())));
    line(
        out,
        &Header {
            format: FORMAT.into(),
            version: VERSION,
            thread_id: thread.into(),
        },
    )?;
    for t in &tuples {
        let ns = t.config.ns().to_owned();
        line(
            out,
            &CheckpointLine {
                kind: "checkpoint".into(),
                checkpoint_ns: ns.clone(),
                checkpoint: t.checkpoint.clone(),
                metadata: t.metadata.clone(),
                parent_checkpoint_id: t
                    .parent_config
                    .as_ref()
                    .and_then(|p| p.checkpoint_id.clone()),
            },
        )?;
        for w in &t.pending_writes {
            line(
                out,
                &WriteLine {
                    kind: "write".into(),
                    checkpoint_ns: ns.clone(),
                    checkpoint_id: t.checkpoint.id.clone(),
                    task_id: w.task_id.clone(),
                    task_path: w.task_path.clone(),
                    idx: w.idx,
                    channel: w.channel.clone(),
                    value: w.value.clone(),
                },
            )?;
        }
    }
    out.flush()?;
    Ok(tuples.len())
}

/// `export THREAD [--out FILE]`.
pub(crate) fn export(saver: &SqliteSaver, path: &Path, args: &ExportArgs) -> CliResult<()> {
    require_thread(saver, path, &args.thread)?;
    match &args.out {
        Some(file) => {
            let what = format!("write {}", file.display());
            let f = File::create(file).map_err(CliError::io(what.clone()))?;
            let mut w = BufWriter::new(f);
            let n = write_export(saver, &args.thread, &mut w).map_err(CliError::io(what))?;
            eprintln!(
                "exported thread {:?} ({n} checkpoints) to {}",
                args.thread,
                file.display()
            );
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            write_export(saver, &args.thread, &mut w)
                .map_err(CliError::io("write standard output"))?;
        }
    }
    Ok(())
}

/// Reads an export into its thread id and tuples.
fn read_export(
    reader: impl BufRead,
    source_name: &str,
) -> CliResult<(String, Vec<CheckpointTuple>)> {
    let bad = |line: usize, reason: String| CliError::BadImport {
        source_name: source_name.to_owned(),
        line,
        reason,
    };
    let mut thread_id: Option<String> = None;
    let mut tuples: Vec<CheckpointTuple> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for (n, text) in reader.lines().enumerate() {
        let n = n + 1;
        let text = text.map_err(CliError::io(format!("read {source_name}")))?;
        if text.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&text).map_err(|e| bad(n, format!("invalid JSON: {e}")))?;
        let Some(thread) = &thread_id else {
            let header: Header = serde_json::from_value(value)
                .map_err(|e| bad(n, format!("not a {FORMAT} export header: {e}")))?;
            if header.format != FORMAT {
                return Err(bad(
                    n,
                    format!("format is {:?}, expected {FORMAT:?}", header.format),
                ));
            }
            if header.version != VERSION {
                return Err(bad(
                    n,
                    format!(
                        "export format version {} is not supported (this checkpointer reads version {VERSION})",
                        header.version
                    ),
                ));
            }
            if header.thread_id.is_empty() {
                return Err(bad(n, "the header's thread_id is empty".into()));
            }
            thread_id = Some(header.thread_id);
            continue;
        };
        match value.get("type").and_then(Value::as_str) {
            Some("checkpoint") => {
                let c: CheckpointLine = serde_json::from_value(value)
                    .map_err(|e| bad(n, format!("invalid checkpoint line: {e}")))?;
                let key = (c.checkpoint_ns.clone(), c.checkpoint.id.clone());
                if index.contains_key(&key) {
                    return Err(bad(n, format!("checkpoint {} appears twice", key.1)));
                }
                index.insert(key, tuples.len());
                let config = Config::thread(thread.clone()).with_ns(c.checkpoint_ns.clone());
                tuples.push(CheckpointTuple {
                    config: config.clone().with_checkpoint_id(c.checkpoint.id.clone()),
                    parent_config: c
                        .parent_checkpoint_id
                        .map(|p| config.clone().with_checkpoint_id(p)),
                    checkpoint: c.checkpoint,
                    metadata: c.metadata,
                    pending_writes: Vec::new(),
                });
            }
            Some("write") => {
                let w: WriteLine = serde_json::from_value(value)
                    .map_err(|e| bad(n, format!("invalid write line: {e}")))?;
                let key = (w.checkpoint_ns, w.checkpoint_id);
                let Some(&at) = index.get(&key) else {
                    return Err(bad(
                        n,
                        format!(
                            "write for checkpoint {} before (or without) its checkpoint line",
                            key.1
                        ),
                    ));
                };
                tuples[at].pending_writes.push(PendingWrite {
                    task_id: w.task_id,
                    channel: w.channel,
                    value: w.value,
                    task_path: w.task_path,
                    idx: w.idx,
                });
            }
            other => {
                return Err(bad(
                    n,
                    format!("unknown line type {other:?} (expected \"checkpoint\" or \"write\")"),
                ));
            }
        }
    }
    let thread_id = thread_id.ok_or_else(|| bad(1, "empty input: no export header".into()))?;
    Ok((thread_id, tuples))
}

/// `import [FILE] [--thread ID]`.
pub(crate) fn import(saver: &SqliteSaver, path: &Path, args: &ImportArgs) -> CliResult<()> {
    let (exported, tuples) = match args.file.as_deref().filter(|f| *f != Path::new("-")) {
        Some(file) => {
            let name = file.display().to_string();
            let f = File::open(file).map_err(CliError::io(format!("open {name}")))?;
            read_export(BufReader::new(f), &name)?
        }
        None => read_export(std::io::stdin().lock(), "<stdin>")?,
    };
    let thread = args.thread.clone().unwrap_or(exported);
    if saver.has_thread(&thread)? {
        return Err(CliError::ThreadExists {
            thread,
            path: path.to_path_buf(),
        });
    }
    let bar = progress(tuples.len(), "importing checkpoints");
    saver.import_thread(&thread, &tuples, |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    outln!(
        "imported thread {thread:?} ({} checkpoints) into {}",
        tuples.len(),
        path.display()
    );
    Ok(())
}
