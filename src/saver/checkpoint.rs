//! A checkpoint and its metadata: the state of a thread after one step.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::id::{new_checkpoint_id, new_checkpoint_id_after};
use super::timestamp::now_iso;
use super::version::ChannelVersion;

/// Channel name to version, as in [`Checkpoint::channel_versions`] and the
/// `new_versions` argument of [`BaseCheckpointSaver::put`].
///
/// [`BaseCheckpointSaver::put`]: crate::BaseCheckpointSaver::put
pub type ChannelVersions = BTreeMap<String, ChannelVersion>;

/// The checkpoint format version the graph runtime writes (LangGraph's 4).
pub const CHECKPOINT_FORMAT: u32 = 4;

/// A snapshot of every channel of a graph at one point of a thread.
///
/// Mirrors LangGraph's checkpoint dict. Savers store it as given: `v` and
/// `ts` are kept verbatim, and `channel_values` come back exactly for the
/// channels that have a version in `channel_versions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version of the checkpoint (the runtime writes 4).
    pub v: u32,
    /// Checkpoint id; see [`new_checkpoint_id`](crate::new_checkpoint_id).
    pub id: String,
    /// Creation time, ISO 8601 with `+00:00`.
    pub ts: String,
    /// Channel name to value.
    #[serde(default)]
    pub channel_values: BTreeMap<String, Value>,
    /// Channel name to current version.
    #[serde(default)]
    pub channel_versions: ChannelVersions,
    /// Node name to the versions of the channels it has seen.
    #[serde(default)]
    pub versions_seen: BTreeMap<String, ChannelVersions>,
    /// Channels updated in the step that made this checkpoint, sorted.
    #[serde(default)]
    pub updated_channels: Option<Vec<String>>,
}

impl Checkpoint {
    /// An empty checkpoint with a fresh id for superstep `step` and the
    /// current time.
    pub fn new(step: i64) -> Self {
        Checkpoint {
            v: CHECKPOINT_FORMAT,
            id: new_checkpoint_id(step),
            ts: now_iso(),
            channel_values: BTreeMap::new(),
            channel_versions: ChannelVersions::new(),
            versions_seen: BTreeMap::new(),
            updated_channels: None,
        }
    }

    /// The same checkpoint with `channel` set to `value` at `version`.
    #[must_use]
    pub fn with_value(
        mut self,
        channel: impl Into<String>,
        value: impl Into<Value>,
        version: impl Into<ChannelVersion>,
    ) -> Self {
        let channel = channel.into();
        self.channel_versions
            .insert(channel.clone(), version.into());
        self.channel_values.insert(channel, value.into());
        self
    }

    /// A copy of this checkpoint with a fresh id and time for `step`: what
    /// the runtime saves as the next checkpoint of a thread. The new id is
    /// greater than this checkpoint's even when this host's clock is behind
    /// the one that made it ([`new_checkpoint_id_after`](crate::saver::new_checkpoint_id_after)),
    /// so the child sorts after its parent as every saver requires.
    #[must_use]
    pub fn successor(&self, step: i64) -> Self {
        self.clone().into_successor(step)
    }

    /// [`successor`](Self::successor), without the copy.
    pub(crate) fn into_successor(self, step: i64) -> Self {
        Checkpoint {
            id: new_checkpoint_id_after(step, Some(&self.id)),
            ts: now_iso(),
            ..self
        }
    }
}

/// What made a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointSource {
    /// The input of an `invoke` or `stream` call.
    Input,
    /// The end of a superstep of the run loop.
    Loop,
    /// A manual state update (`update_state`).
    Update,
    /// A copy of another checkpoint, made to branch off from it.
    Fork,
}

impl CheckpointSource {
    /// The name stored in metadata: `input`, `loop`, `update` or `fork`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointSource::Input => "input",
            CheckpointSource::Loop => "loop",
            CheckpointSource::Update => "update",
            CheckpointSource::Fork => "fork",
        }
    }
}

impl fmt::Display for CheckpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metadata stored beside a checkpoint; `list` filters on its keys.
///
/// Serialises as one flat JSON object: `{"source", "step", "parents",
/// "run_id", ...extra}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    /// What made the checkpoint.
    pub source: CheckpointSource,
    /// The superstep: -1 for input, 0 for the first loop step, and so on.
    pub step: i64,
    /// Parent namespace to checkpoint id, for checkpoints of subgraphs.
    #[serde(default)]
    pub parents: BTreeMap<String, String>,
    /// The run that wrote the checkpoint, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Further user keys.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl CheckpointMetadata {
    /// Metadata with the given source and step and nothing else.
    pub fn new(source: CheckpointSource, step: i64) -> Self {
        CheckpointMetadata {
            source,
            step,
            parents: BTreeMap::new(),
            run_id: None,
            extra: BTreeMap::new(),
        }
    }

    /// The same metadata with a run id.
    #[must_use]
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// The same metadata with one more user key.
    #[must_use]
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// The value of top-level key `key` as it appears in the stored JSON
    /// object (`source`, `step`, `parents`, `run_id` or a user key).
    pub fn get(&self, key: &str) -> Option<Value> {
        match key {
            "source" => Some(Value::from(self.source.as_str())),
            "step" => Some(Value::from(self.step)),
            "parents" => serde_json::to_value(&self.parents).ok(),
            "run_id" => self.run_id.clone().map(Value::from),
            other => self.extra.get(other).cloned(),
        }
    }
}
