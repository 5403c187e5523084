//! The node cache: a node with a [`CachePolicy`] whose input was seen
//! before gets the writes of that call back instead of running again, as
//! LangGraph's `CachePolicy` with a graph `cache`.
//!
//! # How entries are stored
//!
//! Through a checkpoint saver ([`CompileOptions::cache`](crate::graph::CompileOptions::cache)),
//! so the cache is as durable and as shared as the saver: a SQLite file
//! serves every graph and process that opens it, PostgreSQL every host.
//! One entry is one thread, `__node_cache__:<node>:<uuid>` (the UUIDv5 of
//! the key), whose latest checkpoint holds `writes` (the task's writes,
//! `[channel, value]` pairs, edges included, as LangGraph caches them),
//! `key`, `node` and `stored_at_ms`. A read takes that checkpoint; an
//! entry older than the policy's TTL is a miss, and the node's new result
//! replaces the entry (the thread is deleted and written again). Give the
//! cache a saver of its own to keep these threads out of the listings of
//! the graph's threads.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::error::GraphError;
use super::persist::Saver;
use crate::saver::{
    AsyncSaver, BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata,
    CheckpointSource, Config, ListOptions,
};

type KeyFn = dyn Fn(&Value) -> String + Send + Sync;

/// The thread id prefix of cache entries.
pub const CACHE_THREAD_PREFIX: &str = "__node_cache__";

/// The metadata key of an entry's checkpoint that names its node.
const CACHE_NODE_KEY: &str = "node_cache_node";

/// Caching of a node's results, set with
/// [`StateGraph::add_cache_policy`](crate::graph::StateGraph::add_cache_policy)
/// (LangGraph's `add_node(..., cache_policy=CachePolicy(...))`).
///
/// The key is the node's input (the state it is called with, or a
/// [`SendTo`](crate::graph::SendTo)'s argument) as canonical JSON text (object
/// keys sorted), or what [`key`](Self::key) makes of it; entries never
/// expire unless [`ttl`](Self::ttl) says. Only tasks that finish are
/// cached (not errors or interrupts). A hit is streamed as an
/// [`Updates`](crate::graph::StreamEvent::Updates) event with `cached:
/// true` and, as in LangGraph, no `TaskEnd`. Entries are per node name:
/// a node whose code changes keeps its old entries until they expire.
///
/// ```
/// use std::time::Duration;
/// use checkpointer::graph::CachePolicy;
/// use serde_json::json;
///
/// let by_question = CachePolicy::new()
///     .key(|input| input["question"].to_string())
///     .ttl(Duration::from_hours(1));
/// assert_eq!(by_question.key_of(&json!({"question": "why?", "n": 1})), "\"why?\"");
/// assert_eq!(CachePolicy::new().key_of(&json!({"b": 1, "a": 2})), r#"{"a":2,"b":1}"#);
/// ```
#[derive(Clone, Default)]
pub struct CachePolicy {
    key: Option<Arc<KeyFn>>,
    ttl: Option<Duration>,
}

impl fmt::Debug for CachePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachePolicy")
            .field("key", &self.key.as_ref().map(|_| ".."))
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl CachePolicy {
    /// Keyed by the whole input, no expiry.
    pub fn new() -> Self {
        CachePolicy::default()
    }

    /// Makes the key from the node's input with `f` instead.
    #[must_use]
    pub fn key<F>(mut self, f: F) -> Self
    where
        F: Fn(&Value) -> String + Send + Sync + 'static,
    {
        self.key = Some(Arc::new(f));
        self
    }

    /// Entries older than `ttl` are not used: the node runs again.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The cache key of a call with `input`.
    pub fn key_of(&self, input: &Value) -> String {
        match &self.key {
            Some(f) => f(input),
            None => canonical(input).to_string(),
        }
    }

    pub(crate) fn ttl_value(&self) -> Option<Duration> {
        self.ttl
    }
}

/// `value` with every object's keys sorted (whatever map the JSON crate
/// was built with), so equal inputs give equal keys.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The store of cached task writes (see the module doc).
#[derive(Clone, Debug)]
pub(crate) struct NodeCache {
    saver: Saver,
}

/// Why the cache could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("node cache of {node:?} (key thread {thread}): {reason}")]
pub(crate) struct CacheError {
    node: String,
    thread: String,
    reason: String,
}

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

impl NodeCache {
    pub(crate) fn new(saver: Arc<dyn BaseCheckpointSaver>) -> Self {
        NodeCache {
            saver: AsyncSaver::from_arc(saver),
        }
    }

    /// The thread of `node`'s entry for `key`.
    pub(crate) fn thread_of(node: &str, key: &str) -> String {
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes());
        format!("{CACHE_THREAD_PREFIX}:{node}:{id}")
    }

    /// The writes cached for `node` and `key`, unless there are none or
    /// they are older than `ttl`.
    pub(crate) async fn get(
        &self,
        node: &str,
        key: &str,
        ttl: Option<Duration>,
    ) -> Result<Option<Vec<(String, Value)>>, CacheError> {
        let thread = Self::thread_of(node, key);
        let fail = |reason: String| CacheError {
            node: node.to_owned(),
            thread: thread.clone(),
            reason,
        };
        let tuple = self
            .saver
            .get_tuple(&Config::thread(thread.clone()).with_ns(""))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let Some(tuple) = tuple else {
            return Ok(None);
        };
        let values = &tuple.checkpoint.channel_values;
        // Two keys with one UUID would share a thread: the stored key decides.
        if values.get("key").and_then(Value::as_str) != Some(key) {
            return Ok(None);
        }
        let stored_at = values
            .get("stored_at_ms")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let expired = ttl.is_some_and(|ttl| {
            let age = now_ms().saturating_sub(stored_at);
            u128::from(age) >= ttl.as_millis()
        });
        if expired {
            return Ok(None);
        }
        let writes = values.get("writes").cloned().unwrap_or(Value::Null);
        serde_json::from_value(writes)
            .map(Some)
            .map_err(|e| fail(format!("the stored writes do not read: {e}")))
    }

    /// Removes every entry of each node of `nodes` (LangGraph's
    /// `cache.clear(namespaces)`): the threads under the node's prefix
    /// whose checkpoint names the node.
    pub(crate) async fn clear(&self, nodes: &[String]) -> Result<(), GraphError> {
        for node in nodes {
            let prefix = format!("{CACHE_THREAD_PREFIX}:{node}:");
            let options = ListOptions::new().filter(CACHE_NODE_KEY, node.as_str());
            let entries = self
                .saver
                .list(None, &options)
                .await
                .map_err(GraphError::saver("list", &format!("{prefix}*")))?;
            let mut threads: Vec<String> = entries
                .into_iter()
                .map(|t| t.config.thread_id)
                .filter(|t| t.starts_with(&prefix))
                .collect();
            threads.dedup();
            for thread in threads {
                self.saver
                    .delete_thread(&thread)
                    .await
                    .map_err(GraphError::saver("delete_thread", &thread))?;
            }
        }
        Ok(())
    }

    /// Stores `writes` as `node`'s result for `key`, replacing an older
    /// entry.
    pub(crate) async fn put(
        &self,
        node: &str,
        key: &str,
        writes: &[(String, Value)],
    ) -> Result<(), CacheError> {
        let thread = Self::thread_of(node, key);
        let fail = |e: crate::saver::Error| CacheError {
            node: node.to_owned(),
            thread: thread.clone(),
            reason: e.to_string(),
        };
        self.saver.delete_thread(&thread).await.map_err(fail)?;
        let checkpoint = Checkpoint::new(-1)
            .with_value("writes", json!(writes), 1u64)
            .with_value("key", key, 1u64)
            .with_value("node", node, 1u64)
            .with_value("stored_at_ms", now_ms(), 1u64);
        // The node in the metadata is what `clear` finds its entries by.
        let metadata =
            CheckpointMetadata::new(CheckpointSource::Input, -1).with_extra(CACHE_NODE_KEY, node);
        self.saver
            .put(
                &Config::thread(thread.clone()).with_ns(""),
                &checkpoint,
                &metadata,
                &ChannelVersions::new(),
            )
            .await
            .map_err(fail)?;
        Ok(())
    }
}
