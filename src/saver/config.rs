//! The config map that addresses a thread, a namespace and a checkpoint.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Addresses checkpoints: which thread, which namespace, and optionally
/// which checkpoint.
///
/// This is LangGraph's `{"configurable": {"thread_id", "checkpoint_ns",
/// "checkpoint_id"}}` map. `checkpoint_ns` defaults to the root namespace
/// `""` for reads and writes; [`BaseCheckpointSaver::list`] filters by
/// namespace only when one was set, so `Config::thread("t")` lists every
/// namespace of `t` while `Config::thread("t").with_ns("")` lists the root only.
///
/// Further user keys travel in [`Config::configurable`] (for example
/// `run_id`) and [`Config::metadata`]; scalar values among them are merged
/// into the metadata of the checkpoints that `put` stores (see the
/// contract of [`BaseCheckpointSaver::put`]).
///
/// ```
/// use checkpointer::Config;
/// let cfg = Config::thread("t1").with_ns("child:1").with_checkpoint_id("1ef...");
/// assert_eq!(cfg.thread_id, "t1");
/// assert_eq!(cfg.ns(), "child:1");
/// assert_eq!(cfg.checkpoint_id.as_deref(), Some("1ef..."));
/// ```
///
/// [`BaseCheckpointSaver::list`]: crate::BaseCheckpointSaver::list
/// [`BaseCheckpointSaver::put`]: crate::BaseCheckpointSaver::put
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The conversation this config belongs to. Must not be empty.
    pub thread_id: String,
    /// The namespace: `""` for the root graph, `node:<task_id>` for a
    /// subgraph. `None` means the root for reads and writes and "every
    /// namespace" for `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_ns: Option<String>,
    /// One checkpoint of the thread; `None` means the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_id: Option<String>,
    /// Further `configurable` keys, such as `run_id`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configurable: BTreeMap<String, Value>,
    /// User metadata to attach to the checkpoints written with this config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
}

impl Config {
    /// A config for the latest checkpoint of `thread_id`.
    pub fn thread(thread_id: impl Into<String>) -> Self {
        Config {
            thread_id: thread_id.into(),
            ..Config::default()
        }
    }

    /// The same config, pointing at one checkpoint.
    #[must_use]
    pub fn with_checkpoint_id(mut self, checkpoint_id: impl Into<String>) -> Self {
        self.checkpoint_id = Some(checkpoint_id.into());
        self
    }

    /// The same config, in namespace `ns`.
    #[must_use]
    pub fn with_ns(mut self, ns: impl Into<String>) -> Self {
        self.checkpoint_ns = Some(ns.into());
        self
    }

    /// The same config with one more `configurable` key (e.g. `run_id`).
    #[must_use]
    pub fn with_configurable(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.configurable.insert(key.into(), value.into());
        self
    }

    /// The same config with one more metadata key.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The namespace, `""` (the root) when none was set.
    pub fn ns(&self) -> &str {
        self.checkpoint_ns.as_deref().unwrap_or("")
    }

    /// The same thread and namespace, without a checkpoint id: "the latest".
    #[must_use]
    pub fn latest(&self) -> Self {
        Config {
            checkpoint_id: None,
            ..self.clone()
        }
    }
}
