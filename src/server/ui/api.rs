//! The JSON endpoints behind the page (all `GET`, paths relative to where
//! the router is mounted; ids are single path segments, percent-encoded,
//! so `/` in an id is `%2F`):
//!
//! - `api/threads?offset=0&limit=50`: the threads the viewer may see, most
//!   recently updated first, one page (`limit` 1 to 500).
//! - `api/threads/{thread_id}/history?ns=&limit=1000`: one namespace of a
//!   thread (the root by default) laid out as branches, newest first, and
//!   every namespace of the thread.
//! - `api/checkpoints/{thread_id}/{checkpoint_id}?ns=`: a checkpoint's
//!   state, metadata and pending writes, and its diff against its parent
//!   (`ns` is found from the id when left out).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::UiState;
use super::access::Viewer;
use super::error::ApiError;
use super::layout::{HistoryNode, layout};
use crate::saver::diff::diff_channels;
use crate::saver::{CheckpointAdmin, CheckpointTuple, Config, ThreadSummary};

/// The longest thread id, checkpoint id or namespace accepted, in bytes.
const MAX_ID_BYTES: usize = 4096;
/// Threads per page, by default and at most.
const THREADS_PAGE: (usize, usize) = (50, 500);
/// Checkpoints in a history picture, by default and at most.
const HISTORY_PAGE: (usize, usize) = (1000, 10_000);

/// Runs a saver call off the async threads.
async fn blocking<T: Send + 'static>(
    state: &UiState,
    what: String,
    f: impl FnOnce(&dyn CheckpointAdmin) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let saver = Arc::clone(&state.saver);
    tokio::task::spawn_blocking(move || f(&*saver))
        .await
        .map_err(|e| ApiError::internal(&what, &e))?
}

/// A path or query value checked for length and NUL bytes (which
/// PostgreSQL cannot store in text: refused alike on every backend).
fn checked<'a>(what: &str, id: &'a str) -> Result<&'a str, ApiError> {
    if id.contains('\0') {
        return Err(ApiError::bad_request(format!(
            "{what} {id:?} contains a NUL byte"
        )));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(ApiError::bad_request(format!(
            "{what} is {} bytes long; at most {MAX_ID_BYTES} are accepted",
            id.len()
        )));
    }
    Ok(id)
}

/// A query's `limit`, checked against `(default, max)`.
fn page_limit(limit: Option<usize>, (default, max): (usize, usize)) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n} is out of range: give 1 to {max}"
        ))),
    }
}

fn bad_query(e: &QueryRejection) -> ApiError {
    ApiError::bad_request(format!("bad query: {}", e.body_text()))
}

fn bad_path(e: &PathRejection) -> ApiError {
    ApiError::bad_request(format!("bad id in the path: {}", e.body_text()))
}

/// 404 unless the thread exists and the viewer may see it (a thread the
/// viewer may not see is reported exactly as a missing one).
fn require_thread(
    saver: &dyn CheckpointAdmin,
    viewer: &Viewer,
    thread: &str,
) -> Result<(), ApiError> {
    let what = || format!("read thread {thread:?}");
    if viewer.may_see(thread)
        && saver
            .has_thread(thread)
            .map_err(|e| ApiError::from_saver(&what(), &e))?
    {
        return Ok(());
    }
    Err(ApiError::not_found(format!("thread {thread:?} not found")))
}

/// `api/threads`'s query.
#[derive(Debug, Deserialize)]
pub(crate) struct ThreadsQuery {
    offset: Option<usize>,
    limit: Option<usize>,
}

/// `GET api/threads`.
pub(crate) async fn threads(
    State(state): State<UiState>,
    viewer: Viewer,
    query: Result<Query<ThreadsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| bad_query(&e))?;
    let limit = page_limit(query.limit, THREADS_PAGE)?;
    let offset = query.offset.unwrap_or(0);
    let rows = blocking(&state, "list threads".into(), move |saver| {
        // One more than the page says whether another follows. A viewer
        // who sees only some threads needs them all to count past the
        // hidden ones.
        let wanted = viewer
            .sees_all()
            .then(|| offset.saturating_add(limit).saturating_add(1));
        let all = saver
            .threads(wanted)
            .map_err(|e| ApiError::from_saver("list threads", &e))?;
        Ok(all
            .into_iter()
            .filter(|t| viewer.may_see(&t.thread_id))
            .skip(offset)
            .take(limit + 1)
            .collect::<Vec<_>>())
    })
    .await?;
    let has_more = rows.len() > limit;
    // A row is the saver's summary, field for field.
    let rows: Vec<ThreadSummary> = rows.into_iter().take(limit).collect();
    Ok(Json(json!({
        "threads": rows,
        "offset": offset,
        "limit": limit,
        "has_more": has_more,
    })))
}

/// `api/threads/{id}/history`'s query.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryQuery {
    ns: Option<String>,
    limit: Option<usize>,
}

/// `GET api/threads/{thread_id}/history`.
pub(crate) async fn history(
    State(state): State<UiState>,
    viewer: Viewer,
    thread: Result<Path<String>, PathRejection>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(thread) = thread.map_err(|e| bad_path(&e))?;
    let Query(query) = query.map_err(|e| bad_query(&e))?;
    checked("the thread id", &thread)?;
    if let Some(ns) = &query.ns {
        checked("the namespace", ns)?;
    }
    let limit = page_limit(query.limit, HISTORY_PAGE)?;
    let what = format!("read the history of thread {thread:?}");
    blocking(&state, what.clone(), move |saver| {
        require_thread(saver, &viewer, &thread)?;
        let all = saver
            .checkpoint_summaries(&thread, None)
            .map_err(|e| ApiError::from_saver(&what, &e))?;
        let mut namespaces: Vec<&str> = all.iter().map(|s| s.checkpoint_ns.as_str()).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        let ns = match query.ns.as_deref() {
            Some(ns) if namespaces.contains(&ns) => ns,
            Some(ns) => {
                return Err(ApiError::not_found(format!(
                    "thread {thread:?} has no checkpoint in namespace {ns:?}"
                )));
            }
            // The root graph, else (only subgraph checkpoints) the first.
            None => namespaces.first().copied().unwrap_or(""),
        };
        let mut in_ns: Vec<_> = all
            .iter()
            .filter(|s| s.checkpoint_ns == ns)
            .cloned()
            .collect();
        in_ns.sort_by(|a, b| b.checkpoint.id.cmp(&a.checkpoint.id));
        let total = in_ns.len();
        in_ns.truncate(limit);
        let (nodes, lanes): (Vec<HistoryNode>, usize) = layout(&in_ns);
        Ok(Json(json!({
            "thread_id": thread,
            "checkpoint_ns": ns,
            "namespaces": namespaces,
            "total": total,
            "has_more": total > limit,
            "lanes": lanes,
            "checkpoints": nodes,
        })))
    })
    .await
}

/// `api/checkpoints/{thread_id}/{checkpoint_id}`'s query.
#[derive(Debug, Deserialize)]
pub(crate) struct CheckpointQuery {
    ns: Option<String>,
}

/// `GET api/checkpoints/{thread_id}/{checkpoint_id}`.
pub(crate) async fn checkpoint(
    State(state): State<UiState>,
    viewer: Viewer,
    ids: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<CheckpointQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((thread, id)) = ids.map_err(|e| bad_path(&e))?;
    let Query(query) = query.map_err(|e| bad_query(&e))?;
    checked("the thread id", &thread)?;
    checked("the checkpoint id", &id)?;
    if let Some(ns) = &query.ns {
        checked("the namespace", ns)?;
    }
    let what = format!("read checkpoint {id:?} of thread {thread:?}");
    blocking(&state, what.clone(), move |saver| {
        require_thread(saver, &viewer, &thread)?;
        let read = |config: &Config| {
            saver
                .get_tuple(config)
                .map_err(|e| ApiError::from_saver(&what, &e))
        };
        let missing =
            || ApiError::not_found(format!("checkpoint {id:?} not found in thread {thread:?}"));
        let ns = match query.ns {
            Some(ns) => ns,
            None => namespace_of(saver, &thread, &id)?.ok_or_else(missing)?,
        };
        let config = Config::thread(thread.as_str())
            .with_ns(ns)
            .with_checkpoint_id(id.as_str());
        let tuple = read(&config)?.ok_or_else(missing)?;
        let parent = match &tuple.parent_config {
            Some(p) => read(p)?,
            None => None,
        };
        Ok(Json(checkpoint_json(&tuple, parent.as_ref())))
    })
    .await
}

/// The namespace in which `thread` has checkpoint `id`, if any.
fn namespace_of(
    saver: &dyn CheckpointAdmin,
    thread: &str,
    id: &str,
) -> Result<Option<String>, ApiError> {
    let summaries = saver
        .checkpoint_summaries(thread, None)
        .map_err(|e| ApiError::from_saver(&format!("read the history of thread {thread:?}"), &e))?;
    Ok(summaries
        .into_iter()
        .find(|s| s.checkpoint.id == id)
        .map(|s| s.checkpoint_ns))
}

/// A checkpoint as the page shows it; the diff is against `parent` (every
/// channel added for a checkpoint without a parent; none computed when the
/// parent is named but gone).
fn checkpoint_json(t: &CheckpointTuple, parent: Option<&CheckpointTuple>) -> Value {
    let parent_id = t
        .parent_config
        .as_ref()
        .and_then(|p| p.checkpoint_id.clone());
    let empty = BTreeMap::new();
    let channels = match (parent_id.is_some(), parent) {
        (true, None) => Vec::new(),
        (_, parent) => {
            let old = parent.map_or(&empty, |p| &p.checkpoint.channel_values);
            diff_channels(old, &t.checkpoint.channel_values)
        }
    };
    json!({
        "thread_id": t.config.thread_id,
        "checkpoint_ns": t.config.ns(),
        "checkpoint_id": t.checkpoint.id,
        "parent_checkpoint_id": parent_id,
        "ts": t.checkpoint.ts,
        "step": t.metadata.step,
        "source": t.metadata.source.as_str(),
        "metadata": t.metadata,
        "state": t.checkpoint.channel_values,
        "channel_versions": t.checkpoint.channel_versions,
        "pending_writes": t.pending_writes,
        "diff": {
            "against": parent_id,
            "parent_found": parent_id.is_none() || parent.is_some(),
            "channels": channels,
        },
    })
}

/// Any other path: a JSON 404.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such page or endpoint")
}

/// A method other than GET (or POST on the sign-in routes).
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
