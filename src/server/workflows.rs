//! Workflows on a checkpoint saver: a workflow is a thread, a save a
//! checkpoint of it with the state in channel `state` and SnapState's
//! fields in its metadata, so the CLI, the graph and the service see the
//! same data (`checkpointer history WORKFLOW`).
//!
//! # Accounts and threads
//!
//! ★ Data is scoped per account. The workflows of the default account
//! ([`DEFAULT_ACCOUNT`], the one `checkpointer keys create` mints for)
//! are the threads of the same name; those of any other account, and any
//! workflow id that starts with `~`, are the thread `~ACCOUNT~WORKFLOW`
//! ([`thread_for`], inverse [`workflow_of`]). Account ids never hold `~`,
//! so the mapping is one-to-one, and threads starting with `~~` (the
//! service's own records) belong to no account.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::diff::{StateDiff, diff_state};
use super::error::{ApiError, ApiResult};
use super::jsform::{self, JsValue};
use crate::saver::timestamp::{parse_rfc3339_nanos, system_time_iso};
use crate::saver::{
    BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource,
    CheckpointTuple, Config, ListOptions,
};

/// The account whose workflows are threads of the same name.
pub const DEFAULT_ACCOUNT: &str = "default";

/// The channel that holds a save's state.
pub const STATE_CHANNEL: &str = "state";

/// The metadata key with a save's SnapState checkpoint id; every save of
/// the service has it.
pub const SNAPSTATE_ID: &str = "snapstate_id";

/// The thread that holds `workflow_id` of `account_id`.
///
/// ```
/// use checkpointer::server::{thread_for, workflow_of};
/// assert_eq!(thread_for("default", "wf-1"), "wf-1");
/// assert_eq!(thread_for("acct_0a1b2c3d4e5f", "wf-1"), "~acct_0a1b2c3d4e5f~wf-1");
/// assert_eq!(workflow_of("~acct_0a1b2c3d4e5f~wf-1"),
///     Some(("acct_0a1b2c3d4e5f".to_owned(), "wf-1".to_owned())));
/// assert_eq!(workflow_of("wf-1"), Some(("default".to_owned(), "wf-1".to_owned())));
/// ```
pub fn thread_for(account_id: &str, workflow_id: &str) -> String {
    if account_id == DEFAULT_ACCOUNT && !workflow_id.starts_with('~') {
        workflow_id.to_owned()
    } else {
        format!("~{account_id}~{workflow_id}")
    }
}

/// The account and workflow a thread holds; `None` for the service's own
/// threads (`~~…`) and for a `~` thread without a second `~`.
pub fn workflow_of(thread_id: &str) -> Option<(String, String)> {
    let Some(rest) = thread_id.strip_prefix('~') else {
        return Some((DEFAULT_ACCOUNT.to_owned(), thread_id.to_owned()));
    };
    let (account, workflow) = rest.split_once('~')?;
    if account.is_empty() {
        return None;
    }
    Some((account.to_owned(), workflow.to_owned()))
}

/// SnapState's checkpoint id: `cp_` + workflow + `_` + the step padded to
/// three digits (`cp_wf_007`, `cp_wf_1234`).
pub fn snapstate_checkpoint_id(workflow_id: &str, step: u64) -> String {
    format!("cp_{workflow_id}_{step:03}")
}

/// The workflow and step a SnapState checkpoint id names.
fn parse_checkpoint_id(id: &str) -> Option<(&str, u64)> {
    let (workflow, step) = id.strip_prefix("cp_")?.rsplit_once('_')?;
    if step.is_empty() || !step.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((workflow, step.parse().ok()?))
}

/// `time` as SnapState writes times (`toISOString()`: milliseconds, `Z`).
pub fn iso_millis(time: SystemTime) -> String {
    let micros = system_time_iso(time);
    format!("{}Z", micros.get(..23).unwrap_or(&micros))
}

/// Whether an ISO time has passed at `now`.
fn is_past(iso: &str, now: SystemTime) -> bool {
    let now = crate::saver::timestamp::unix_nanos(now);
    parse_rfc3339_nanos(iso).is_some_and(|at| at <= now)
}

/// One save, as `GET /checkpoints/{id}` returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SavedCheckpoint {
    /// SnapState's id (`cp_<workflow>_<step>`).
    pub checkpoint_id: String,
    /// The workflow.
    pub workflow_id: String,
    /// The step.
    pub step: u64,
    /// The label, if any.
    pub label: Option<String>,
    /// The state.
    pub state: Value,
    /// The metadata given, with `agent_id` merged in; `null` if neither.
    pub metadata: Option<Value>,
    /// SnapState's etag of the state.
    pub etag: String,
    /// When it was saved.
    pub created_at: String,
    /// When it expires.
    pub expires_at: String,
    /// The diff from the save before it.
    pub diff_from_previous: StateDiff,
    /// The size of the state as JavaScript writes it.
    pub size_bytes: u64,
    /// The checkpoint's own id in the saver (not part of SnapState's API).
    #[serde(skip)]
    pub saver_checkpoint_id: String,
}

impl SavedCheckpoint {
    fn from_tuple(tuple: &CheckpointTuple) -> ApiResult<SavedCheckpoint> {
        let meta = &tuple.metadata;
        let text = |key: &str| meta.get(key).and_then(|v| v.as_str().map(str::to_owned));
        let damaged = |what: &str| {
            ApiError::Internal(format!(
                "thread {} checkpoint {}: not a service save ({what})",
                tuple.config.thread_id, tuple.checkpoint.id
            ))
        };
        let workflow_id = workflow_of(&tuple.config.thread_id)
            .map(|(_, wf)| wf)
            .ok_or_else(|| damaged("no workflow"))?;
        Ok(SavedCheckpoint {
            checkpoint_id: text(SNAPSTATE_ID).ok_or_else(|| damaged("no snapstate_id"))?,
            workflow_id,
            step: u64::try_from(meta.step).map_err(|_| damaged("negative step"))?,
            label: text("label"),
            state: tuple
                .checkpoint
                .channel_values
                .get(STATE_CHANNEL)
                .cloned()
                .unwrap_or_else(|| json!({})),
            metadata: meta.get("user_metadata").filter(|v| !v.is_null()),
            etag: text("etag").ok_or_else(|| damaged("no etag"))?,
            created_at: text("created_at").unwrap_or_default(),
            expires_at: text("expires_at").unwrap_or_default(),
            diff_from_previous: meta
                .get("diff_from_previous")
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
            size_bytes: meta.get("size_bytes").and_then(|v| v.as_u64()).unwrap_or(0),
            saver_checkpoint_id: tuple.checkpoint.id.clone(),
        })
    }

    /// The form of a checkpoint in `resume` and `replay`: SnapState's
    /// fields (`label` `""` as null, metadata `{}` when none) ★ plus
    /// `etag`, `workflow_id` and `size_bytes`.
    pub fn summary(&self) -> Value {
        json!({
            "checkpoint_id": self.checkpoint_id,
            "workflow_id": self.workflow_id,
            "step": self.step,
            "label": self.label.as_deref().filter(|l| !l.is_empty()),
            "state": self.state,
            "metadata": self.metadata.clone().unwrap_or_else(|| json!({})),
            "etag": self.etag,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at,
        })
    }

    /// The body of a 201 answer to a save.
    pub fn save_answer(&self) -> Value {
        json!({
            "checkpoint_id": self.checkpoint_id,
            "workflow_id": self.workflow_id,
            "step": self.step,
            "etag": self.etag,
            "created_at": self.created_at,
            "diff_from_previous": self.diff_from_previous,
            "size_bytes": self.size_bytes,
        })
    }
}

/// A validated save request.
#[derive(Clone, Debug)]
pub struct SaveRequest {
    /// The workflow.
    pub workflow_id: String,
    /// The step.
    pub step: u64,
    /// The state, keys in JavaScript's order.
    pub state: JsValue,
    /// The label.
    pub label: Option<String>,
    /// The agent.
    pub agent_id: Option<String>,
    /// The metadata object.
    pub metadata: Option<Map<String, Value>>,
    /// The TTL of this save.
    pub ttl: Duration,
    /// The `If-Match` header.
    pub if_match: Option<String>,
    /// ★ Whether `If-Match` is checked against the workflow's latest etag
    /// (`If-Match-Scope: workflow`) instead of SnapState's per-step rule.
    pub workflow_if_match: bool,
}

/// What a save did.
#[derive(Clone, Debug)]
pub enum SaveOutcome {
    /// A new checkpoint.
    Created(SavedCheckpoint),
    /// The step existed with the `If-Match` etag: nothing was written.
    Idempotent(SavedCheckpoint),
}

/// Saves of one workflow run one at a time in this process (a step is
/// looked up, then written).
#[derive(Debug)]
pub struct WorkflowLocks {
    stripes: [Mutex<()>; 64],
}

impl Default for WorkflowLocks {
    fn default() -> Self {
        WorkflowLocks {
            stripes: std::array::from_fn(|_| Mutex::new(())),
        }
    }
}

impl WorkflowLocks {
    pub(crate) fn lock(&self, thread: &str) -> ApiResult<std::sync::MutexGuard<'_, ()>> {
        let hash = thread.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let stripe = &self.stripes[usize::try_from(hash % 64).unwrap_or(0)];
        stripe
            .lock()
            .map_err(|_| ApiError::Internal(format!("workflow lock of thread {thread} poisoned")))
    }
}

fn find_step(
    saver: &dyn BaseCheckpointSaver,
    thread: &str,
    checkpoint_id: &str,
) -> ApiResult<Option<CheckpointTuple>> {
    let options = ListOptions::new()
        .filter(SNAPSTATE_ID, checkpoint_id)
        .limit(1);
    Ok(saver
        .list(Some(&Config::thread(thread)), &options)?
        .into_iter()
        .next())
}

/// Saves a checkpoint of a workflow (SnapState's `POST /checkpoints`).
pub fn save(
    saver: &dyn BaseCheckpointSaver,
    locks: &WorkflowLocks,
    account_id: &str,
    request: &SaveRequest,
) -> ApiResult<SaveOutcome> {
    let thread = thread_for(account_id, &request.workflow_id);
    let checkpoint_id = snapstate_checkpoint_id(&request.workflow_id, request.step);
    let _one_save = locks.lock(&thread)?;
    if let Some(existing) = find_step(saver, &thread, &checkpoint_id)? {
        let existing = SavedCheckpoint::from_tuple(&existing)?;
        return match &request.if_match {
            Some(tag) if *tag == existing.etag => Ok(SaveOutcome::Idempotent(existing)),
            Some(_) => Err(ApiError::Conflict {
                message: "ETag mismatch — checkpoint was modified".to_owned(),
                existing: None,
            }),
            None => Err(ApiError::Conflict {
                message: format!("Checkpoint {checkpoint_id} already exists"),
                existing: Some((existing.checkpoint_id, existing.etag)),
            }),
        };
    }
    let latest = saver.get_tuple(&Config::thread(&thread))?;
    let previous = latest
        .as_ref()
        .map(SavedCheckpoint::from_tuple)
        .transpose()?;
    if request.workflow_if_match
        && let Some(tag) = &request.if_match
    {
        let current = previous.as_ref().map(|p| p.etag.as_str());
        if current != Some(tag.as_str()) {
            return Err(ApiError::PreconditionFailed(format!(
                "If-Match {tag} is not the latest etag of workflow {} ({})",
                request.workflow_id,
                current.unwrap_or("none: no checkpoint yet")
            )));
        }
    }
    let saved = write_save(
        saver,
        latest.as_ref(),
        previous.as_ref(),
        &thread,
        &checkpoint_id,
        request,
    )?;
    Ok(SaveOutcome::Created(saved))
}

fn write_save(
    saver: &dyn BaseCheckpointSaver,
    latest: Option<&CheckpointTuple>,
    previous: Option<&SavedCheckpoint>,
    thread: &str,
    checkpoint_id: &str,
    request: &SaveRequest,
) -> ApiResult<SavedCheckpoint> {
    let js = request.state.stringify();
    let etag = jsform::etag(&js);
    let prev_state = previous.map(|p| JsValue::from_value(&p.state));
    let diff = diff_state(prev_state.as_ref(), &request.state);
    let now = SystemTime::now();
    let created_at = iso_millis(now);
    let expires_at = iso_millis(now.checked_add(request.ttl).unwrap_or(now));
    let mut user_metadata = request.metadata.clone();
    if let Some(agent) = &request.agent_id {
        user_metadata
            .get_or_insert_with(Map::new)
            .insert("agent_id".to_owned(), Value::from(agent.as_str()));
    }
    let step = i64::try_from(request.step)
        .map_err(|_| ApiError::Validation("body/step must be <= 9007199254740991".to_owned()))?;
    let mut metadata = CheckpointMetadata::new(CheckpointSource::Update, step)
        .with_extra(SNAPSTATE_ID, checkpoint_id)
        .with_extra("etag", etag.as_str())
        .with_extra("size_bytes", jsform::size_bytes(&js))
        .with_extra("created_at", created_at.as_str())
        .with_extra("expires_at", expires_at.as_str())
        .with_extra(
            "diff_from_previous",
            serde_json::to_value(&diff).unwrap_or(Value::Null),
        );
    if let Some(label) = &request.label {
        metadata = metadata.with_extra("label", label.as_str());
    }
    if let Some(agent) = &request.agent_id {
        metadata = metadata.with_extra("agent_id", agent.as_str());
    }
    if let Some(user) = user_metadata {
        metadata = metadata.with_extra("user_metadata", Value::Object(user));
    }
    let (config, base) = match latest {
        Some(t) => (t.config.clone(), t.checkpoint.successor(step)),
        None => (Config::thread(thread), Checkpoint::new(step)),
    };
    let version = saver.get_next_version(base.channel_versions.get(STATE_CHANNEL));
    let checkpoint = base.with_value(STATE_CHANNEL, request.state.to_value(), version);
    let mut versions = ChannelVersions::new();
    versions.insert(STATE_CHANNEL.to_owned(), version);
    saver.put(&config, &checkpoint, &metadata, &versions)?;
    let stored = CheckpointTuple {
        config: Config::thread(thread).with_checkpoint_id(&checkpoint.id),
        checkpoint,
        metadata,
        parent_config: None,
        pending_writes: Vec::new(),
    };
    SavedCheckpoint::from_tuple(&stored)
}

/// One save by its SnapState id, `None` if unknown or expired.
pub fn get(
    saver: &dyn BaseCheckpointSaver,
    account_id: &str,
    checkpoint_id: &str,
) -> ApiResult<Option<SavedCheckpoint>> {
    let Some((workflow, _)) = parse_checkpoint_id(checkpoint_id) else {
        return Ok(None);
    };
    let thread = thread_for(account_id, workflow);
    let Some(tuple) = find_step(saver, &thread, checkpoint_id)? else {
        return Ok(None);
    };
    let saved = SavedCheckpoint::from_tuple(&tuple)?;
    Ok((!is_past(&saved.expires_at, SystemTime::now())).then_some(saved))
}

/// Every save of a workflow, oldest first (none if it expired).
pub fn history(
    saver: &dyn BaseCheckpointSaver,
    account_id: &str,
    workflow_id: &str,
) -> ApiResult<Vec<SavedCheckpoint>> {
    let thread = thread_for(account_id, workflow_id);
    let options = ListOptions::new();
    let mut saves = Vec::new();
    for tuple in saver.list_iter(Some(&Config::thread(&thread)), &options)? {
        let tuple = tuple?;
        if tuple.config.ns().is_empty() && tuple.metadata.get(SNAPSTATE_ID).is_some() {
            saves.push(SavedCheckpoint::from_tuple(&tuple)?);
        }
    }
    saves.reverse();
    if saves
        .last()
        .is_some_and(|latest| is_past(&latest.expires_at, SystemTime::now()))
    {
        return Ok(Vec::new());
    }
    Ok(saves)
}

/// `GET /workflows/{id}/resume`: the latest save and the workflow's
/// counts; `None` for an unknown (or expired) workflow.
pub fn resume(
    saver: &dyn BaseCheckpointSaver,
    account_id: &str,
    workflow_id: &str,
) -> ApiResult<Option<Value>> {
    let saves = history(saver, account_id, workflow_id)?;
    let (Some(first), Some(latest)) = (saves.first(), saves.last()) else {
        return Ok(None);
    };
    Ok(Some(json!({
        "workflow_id": workflow_id,
        "latest_checkpoint": latest.summary(),
        "total_checkpoints": saves.len(),
        "workflow_started_at": first.created_at,
        "last_activity_at": latest.created_at,
    })))
}

/// The filter and page of `GET /workflows/{id}/replay`.
#[derive(Clone, Copy, Debug)]
pub struct ReplayQuery {
    /// Lowest step, inclusive.
    pub from_step: Option<u64>,
    /// Highest step, inclusive.
    pub to_step: Option<u64>,
    /// At most this many (1..=1000).
    pub limit: usize,
}

/// Replay as SnapState meant it: save order, filter, then page;
/// `has_more` when more matches remain; `total` is the page's length. An
/// unknown workflow is an empty list.
pub fn replay(
    saver: &dyn BaseCheckpointSaver,
    account_id: &str,
    workflow_id: &str,
    query: ReplayQuery,
) -> ApiResult<Value> {
    let matching: Vec<SavedCheckpoint> = history(saver, account_id, workflow_id)?
        .into_iter()
        .filter(|s| query.from_step.is_none_or(|f| s.step >= f))
        .filter(|s| query.to_step.is_none_or(|t| s.step <= t))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .take(query.limit)
        .map(SavedCheckpoint::summary)
        .collect();
    Ok(json!({
        "workflow_id": workflow_id,
        "checkpoints": page,
        "total": page.len(),
        "has_more": matching.len() > query.limit,
    }))
}

/// Whether the latest save of `thread` is a service save that expired by
/// `now`.
pub fn is_expired(
    saver: &dyn BaseCheckpointSaver,
    thread: &str,
    now: SystemTime,
) -> ApiResult<bool> {
    let Some(latest) = saver.get_tuple(&Config::thread(thread))? else {
        return Ok(false);
    };
    let expires = latest.metadata.get("expires_at");
    let expires = expires.as_ref().and_then(Value::as_str);
    Ok(latest.metadata.get(SNAPSTATE_ID).is_some() && expires.is_some_and(|e| is_past(e, now)))
}

/// Deletes every workflow whose latest save expired by `now` (graph
/// threads, which have no service saves, are never touched), each under
/// its workflow lock so that a save racing the sweep is kept; returns
/// `(account, workflow)` of each deleted.
pub fn delete_expired(
    saver: &dyn crate::saver::CheckpointAdmin,
    locks: &WorkflowLocks,
    now: SystemTime,
) -> ApiResult<Vec<(String, String)>> {
    let mut deleted = Vec::new();
    for thread in saver.threads(None)? {
        let Some((account, workflow)) = workflow_of(&thread.thread_id) else {
            continue;
        };
        if !is_expired(saver, &thread.thread_id, now)? {
            continue;
        }
        let _no_save = locks.lock(&thread.thread_id)?;
        if is_expired(saver, &thread.thread_id, now)? {
            saver.delete_thread(&thread.thread_id)?;
            deleted.push((account, workflow));
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_ids_pad_to_three_and_parse_back() {
        assert_eq!(snapstate_checkpoint_id("wf", 7), "cp_wf_007");
        assert_eq!(snapstate_checkpoint_id("wf", 1234), "cp_wf_1234");
        assert_eq!(parse_checkpoint_id("cp_a_b_007"), Some(("a_b", 7)));
        assert_eq!(parse_checkpoint_id("cp_ab"), None);
        assert_eq!(parse_checkpoint_id("cp_a_x"), None);
    }

    #[test]
    fn account_mapping_is_one_to_one() {
        for (account, wf) in [
            ("default", "a"),
            ("default", "~x~y"),
            ("acct_1", "a"),
            ("acct_1", "~"),
        ] {
            let thread = thread_for(account, wf);
            assert_eq!(
                workflow_of(&thread),
                Some((account.to_owned(), wf.to_owned())),
                "{thread}"
            );
        }
        assert_eq!(workflow_of("~~service~keys"), None);
    }

    #[test]
    fn iso_millis_has_the_javascript_form() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(iso_millis(t), "2023-11-14T22:13:20.123Z");
    }
}
