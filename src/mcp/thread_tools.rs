//! Read-only thread tools: an agent looks at its own history (its
//! threads, a thread's checkpoints, a checkpoint's state) through
//! [`CheckpointAdmin`], whatever the backend.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::tool::{Args, ToolError, ToolOutput, ToolSpec, object_schema};
use crate::saver::{CheckpointAdmin, CheckpointMetadata, CheckpointSummary, Config, PendingWrite};

/// The tool that lists threads.
pub const THREADS_LIST: &str = "threads_list";
/// The tool that lists a thread's checkpoints.
pub const THREAD_HISTORY: &str = "thread_history";
/// The tool that shows one checkpoint's state.
pub const CHECKPOINT_STATE: &str = "checkpoint_state";

/// How many rows a listing gives when no `limit` is given, and at most.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

/// The three thread tools, with their schemas.
pub fn thread_tool_specs() -> Vec<ToolSpec> {
    let limit = json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
        "description": "At most this many rows (default 50)."});
    let thread = json!({"type": "string", "minLength": 1, "description": "The thread id."});
    let ns = json!({"type": "string",
        "description": "The checkpoint namespace (\"\" is the root graph)."});
    vec![
        ToolSpec {
            name: THREADS_LIST,
            description: "List the threads of the checkpoint store, most recently updated \
                first: id, number of checkpoints and namespaces, last step, last checkpoint \
                id and time. Read-only.",
            input_schema: object_schema(json!({"limit": limit}), &[]),
        },
        ToolSpec {
            name: THREAD_HISTORY,
            description: "List a thread's checkpoints, newest first, without their state: \
                id, namespace, step, source, parent, time and metadata. `before` pages back \
                (checkpoints older than that id); `checkpoint_ns` keeps one namespace. \
                Read-only.",
            input_schema: object_schema(
                json!({
                    "thread_id": thread,
                    "checkpoint_ns": ns,
                    "before": {"type": "string", "description": "Only checkpoints older than this checkpoint id."},
                    "limit": limit,
                }),
                &["thread_id"],
            ),
        },
        ToolSpec {
            name: CHECKPOINT_STATE,
            description: "One checkpoint of a thread (the latest unless `checkpoint_id` is \
                given): its channel values, metadata, parent and pending writes. Read-only.",
            input_schema: object_schema(
                json!({
                    "thread_id": thread,
                    "checkpoint_id": {"type": "string", "description": "The checkpoint (default: the latest)."},
                    "checkpoint_ns": ns,
                }),
                &["thread_id"],
            ),
        },
    ]
}

fn saver_error(tool: &'static str, thread_id: &str) -> impl FnOnce(crate::Error) -> ToolError {
    let thread_id = thread_id.to_owned();
    move |source| ToolError::Saver {
        tool,
        thread_id,
        source: Box::new(source),
    }
}

/// One thread in `threads_list`.
#[derive(Debug, Serialize)]
struct ThreadRow<'a> {
    thread_id: &'a str,
    checkpoints: u64,
    namespaces: u64,
    last_step: i64,
    last_checkpoint_id: &'a str,
    last_updated: Option<&'a str>,
}

/// The result of `threads_list`.
#[derive(Debug, Serialize)]
struct Threads<'a> {
    threads: Vec<ThreadRow<'a>>,
}

/// `threads_list {limit?}`: `{"threads": [{thread_id, checkpoints,
/// namespaces, last_step, last_checkpoint_id, last_updated}]}`, most
/// recently updated first.
pub fn threads_list(
    saver: &dyn CheckpointAdmin,
    args: Option<&Map<String, Value>>,
) -> Result<ToolOutput, ToolError> {
    let tool = THREADS_LIST;
    let limit = Args::new(tool, args, &["limit"])?.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let threads = saver.threads(Some(limit)).map_err(saver_error(tool, ""))?;
    let rows: Vec<ThreadRow<'_>> = threads
        .iter()
        .map(|t| ThreadRow {
            thread_id: &t.thread_id,
            checkpoints: t.checkpoints,
            namespaces: t.namespaces,
            last_step: t.last_step,
            last_checkpoint_id: &t.latest_checkpoint_id,
            last_updated: t.last_ts.as_deref(),
        })
        .collect();
    ToolOutput::of(tool, &Threads { threads: rows })
}

/// One checkpoint in `thread_history`.
#[derive(Debug, Serialize)]
struct HistoryRow<'a> {
    checkpoint_id: &'a str,
    checkpoint_ns: &'a str,
    step: i64,
    source: &'a str,
    parent_checkpoint_id: Option<&'a str>,
    ts: &'a str,
    metadata: &'a CheckpointMetadata,
}

impl<'a> HistoryRow<'a> {
    fn of(s: &'a CheckpointSummary) -> Self {
        HistoryRow {
            checkpoint_id: &s.checkpoint.id,
            checkpoint_ns: &s.checkpoint_ns,
            step: s.metadata.step,
            source: s.metadata.source.as_str(),
            parent_checkpoint_id: s.parent_checkpoint_id.as_deref(),
            ts: &s.checkpoint.ts,
            metadata: &s.metadata,
        }
    }
}

/// The result of `thread_history`.
#[derive(Debug, Serialize)]
struct History<'a> {
    thread_id: &'a str,
    checkpoints: Vec<HistoryRow<'a>>,
    more: bool,
}

/// `thread_history {thread_id, checkpoint_ns?, before?, limit?}`:
/// `{"thread_id", "checkpoints": [{checkpoint_id, checkpoint_ns, step,
/// source, parent_checkpoint_id, ts, metadata}], "more": bool}`, newest
/// first. An unknown thread, or a `before` that is not one of its
/// checkpoints, is an error.
pub fn thread_history(
    saver: &dyn CheckpointAdmin,
    args: Option<&Map<String, Value>>,
) -> Result<ToolOutput, ToolError> {
    let tool = THREAD_HISTORY;
    let args = Args::new(
        tool,
        args,
        &["thread_id", "checkpoint_ns", "before", "limit"],
    )?;
    let thread_id = args.required_str("thread_id")?;
    let ns = args.opt_str("checkpoint_ns")?;
    let before = args.opt_str("before")?;
    let limit = args.limit("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let all = saver
        .checkpoint_summaries(thread_id, ns)
        .map_err(saver_error(tool, thread_id))?;
    if all.is_empty()
        && !saver
            .has_thread(thread_id)
            .map_err(saver_error(tool, thread_id))?
    {
        return Err(ToolError::UnknownThread {
            tool,
            thread_id: thread_id.to_owned(),
        });
    }
    let start = match before {
        None => 0,
        Some(id) => {
            let at = all.iter().position(|s| s.checkpoint.id == id);
            at.ok_or_else(|| ToolError::UnknownCheckpoint {
                tool,
                thread_id: thread_id.to_owned(),
                checkpoint_ns: ns.unwrap_or("(any)").to_owned(),
                checkpoint_id: id.to_owned(),
            })? + 1
        }
    };
    let rows: Vec<HistoryRow<'_>> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(HistoryRow::of)
        .collect();
    let more = all.len() > start + rows.len();
    ToolOutput::of(
        tool,
        &History {
            thread_id,
            checkpoints: rows,
            more,
        },
    )
}

/// The result of `checkpoint_state`.
#[derive(Debug, Serialize)]
struct State<'a> {
    thread_id: &'a str,
    checkpoint_ns: &'a str,
    checkpoint_id: &'a str,
    parent_checkpoint_id: Option<&'a str>,
    ts: &'a str,
    step: i64,
    source: &'a str,
    metadata: &'a CheckpointMetadata,
    values: &'a std::collections::BTreeMap<String, Value>,
    pending_writes: &'a [PendingWrite],
}

/// `checkpoint_state {thread_id, checkpoint_id?, checkpoint_ns?}`: the
/// checkpoint (the latest of the namespace, root by default, unless
/// `checkpoint_id` is given) with its channel `values`, `metadata`,
/// parent and `pending_writes`. An unknown thread or checkpoint is an
/// error.
pub fn checkpoint_state(
    saver: &dyn CheckpointAdmin,
    args: Option<&Map<String, Value>>,
) -> Result<ToolOutput, ToolError> {
    let tool = CHECKPOINT_STATE;
    let args = Args::new(tool, args, &["thread_id", "checkpoint_id", "checkpoint_ns"])?;
    let thread_id = args.required_str("thread_id")?;
    let ns = args.opt_str("checkpoint_ns")?.unwrap_or("");
    let id = args.opt_str("checkpoint_id")?;
    let mut config = Config::thread(thread_id).with_ns(ns);
    if let Some(id) = id {
        config = config.with_checkpoint_id(id);
    }
    let tuple = saver
        .get_tuple(&config)
        .map_err(saver_error(tool, thread_id))?;
    let Some(t) = tuple else {
        if !saver
            .has_thread(thread_id)
            .map_err(saver_error(tool, thread_id))?
        {
            return Err(ToolError::UnknownThread {
                tool,
                thread_id: thread_id.to_owned(),
            });
        }
        return Err(ToolError::UnknownCheckpoint {
            tool,
            thread_id: thread_id.to_owned(),
            checkpoint_ns: ns.to_owned(),
            checkpoint_id: id.unwrap_or("(latest)").to_owned(),
        });
    };
    ToolOutput::of(
        tool,
        &State {
            thread_id,
            checkpoint_ns: ns,
            checkpoint_id: &t.checkpoint.id,
            parent_checkpoint_id: t
                .parent_config
                .as_ref()
                .and_then(|p| p.checkpoint_id.as_deref()),
            ts: &t.checkpoint.ts,
            step: t.metadata.step,
            source: t.metadata.source.as_str(),
            metadata: &t.metadata,
            values: &t.checkpoint.channel_values,
            pending_writes: &t.pending_writes,
        },
    )
}
