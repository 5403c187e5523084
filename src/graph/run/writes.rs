//! Saving a run's task writes: at once, or held for the step's checkpoint.

use serde_json::Value;

use super::Run;
use crate::graph::error::GraphError;
use crate::saver::{OwnedWriteBatch, PendingWrite, write_idx};

impl Run {
    /// Saves writes against the current checkpoint and keeps them in
    /// `pending`.
    pub(super) async fn save_writes(
        &mut self,
        writes: Vec<(String, Value)>,
        task_id: &str,
        task_path: &str,
    ) -> Result<(), GraphError> {
        let config = self.config_for(self.saved_id.as_deref());
        self.record_writes(&writes, task_id, task_path);
        self.persist
            .put_writes(&config, writes, task_id, task_path)
            .await
    }

    /// Keeps writes in `pending` and holds them to be saved with the next
    /// checkpoint ([`checkpoint`](Run::checkpoint)), or alone by
    /// [`save_held`](Self::save_held) if the step ends otherwise.
    pub(super) fn hold_writes(
        &mut self,
        writes: Vec<(String, Value)>,
        task_id: &str,
        task_path: &str,
    ) {
        self.record_writes(&writes, task_id, task_path);
        self.held.push(OwnedWriteBatch {
            writes,
            task_id: task_id.to_owned(),
            task_path: task_path.to_owned(),
        });
    }

    /// Saves the held writes on their own (the step they were held for
    /// ends without a checkpoint).
    pub(super) async fn save_held(&mut self) -> Result<(), GraphError> {
        let config = self.config_for(self.saved_id.as_deref());
        for w in std::mem::take(&mut self.held) {
            self.persist
                .put_writes(&config, w.writes, &w.task_id, &w.task_path)
                .await?;
        }
        Ok(())
    }

    /// Adds writes to `pending` as the saver stores them.
    fn record_writes(&mut self, writes: &[(String, Value)], task_id: &str, task_path: &str) {
        for (i, (ch, v)) in writes.iter().enumerate() {
            let idx = write_idx(ch, i);
            let existing = self
                .pending
                .iter()
                .position(|w| w.task_id == task_id && w.idx == idx);
            match existing {
                // Special channels: the new write replaces the old one.
                Some(at) if idx < 0 => {
                    self.pending.remove(at);
                }
                // Others: the first write at an index stays, as in the saver.
                Some(_) => continue,
                None => {}
            }
            self.pending.push(PendingWrite {
                task_id: task_id.to_owned(),
                channel: ch.clone(),
                value: v.clone(),
                task_path: task_path.to_owned(),
                idx,
            });
        }
    }
}
