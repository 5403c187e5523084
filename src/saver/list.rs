//! Options for `list`, and the metadata filter every saver applies the same way.

use std::collections::BTreeMap;

use serde_json::Value;

use super::checkpoint::CheckpointMetadata;
use super::error::{Error, Result};

/// How [`BaseCheckpointSaver::list`](crate::BaseCheckpointSaver::list)
/// narrows its result.
///
/// ```
/// use checkpointer::ListOptions;
/// let opts = ListOptions::new().filter("source", "loop").before("1ef...").limit(10);
/// assert_eq!(opts.limit, Some(10));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListOptions {
    /// Metadata keys that must equal these values (all of them).
    pub filter: BTreeMap<String, Value>,
    /// Only checkpoints whose id sorts strictly before this one.
    pub before: Option<String>,
    /// At most this many checkpoints, counted after filtering.
    pub limit: Option<usize>,
}

impl ListOptions {
    /// No filter, no bound, no limit.
    pub fn new() -> Self {
        ListOptions::default()
    }

    /// Adds a metadata key that must equal `value`.
    #[must_use]
    pub fn filter(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.filter.insert(key.into(), value.into());
        self
    }

    /// Only checkpoints older than `checkpoint_id`.
    #[must_use]
    pub fn before(mut self, checkpoint_id: impl Into<String>) -> Self {
        self.before = Some(checkpoint_id.into());
        self
    }

    /// At most `limit` checkpoints.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Checks that every filter key is a plain identifier: ASCII letters,
    /// digits, `_` and `-`. Keys name top-level metadata keys; anything
    /// else (a path, a quote) is rejected rather than interpreted.
    pub fn validate(&self) -> Result<()> {
        for key in self.filter.keys() {
            let plain = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !plain {
                return Err(Error::InvalidFilterKey { key: key.clone() });
            }
        }
        Ok(())
    }

    /// Whether `metadata` has every filter key at the filter's value.
    pub fn matches(&self, metadata: &CheckpointMetadata) -> bool {
        self.filter
            .iter()
            .all(|(key, wanted)| match metadata.get(key) {
                Some(found) => json_eq(&found, wanted),
                None => wanted.is_null(),
            })
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`), as SQL
/// comparison does.
pub(crate) fn json_eq(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(l), Value::Number(r)) => match (l.as_i64(), r.as_i64()) {
            (Some(li), Some(ri)) => li == ri,
            _ => l.as_f64() == r.as_f64(),
        },
        (Value::Array(l), Value::Array(r)) => {
            l.len() == r.len() && l.iter().zip(r).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(l), Value::Object(r)) => {
            l.len() == r.len()
                && l.iter()
                    .all(|(key, value)| r.get(key).is_some_and(|other| json_eq(value, other)))
        }
        _ => left == right,
    }
}
