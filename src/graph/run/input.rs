//! A run's input, in one place: new values, `Continue`, a
//! [`Command`](crate::graph::Command) (see `command`), and what is pending
//! at the checkpoint and applies first (a command's update and goto, the
//! writes of tasks that finished). `update_state` goes through the same
//! functions.

use std::collections::BTreeSet;

use serde_json::Value;
use tracing::Instrument;

use super::{INPUT_NODE, INTERRUPT_SEEN, Run};
use crate::graph::algo::{
    TaskWrites, finished_writes, null_task_writes, prepare_tasks, task_interrupts,
};
use crate::graph::channel::START_CHANNEL;
use crate::graph::error::GraphError;
use crate::graph::interrupt::Interrupt;
use crate::graph::io::{Input, RunNotice, RunOutcome};
use crate::graph::spec::START;
use crate::graph::stream::StreamEvent;
use crate::graph::task::Task;
use crate::saver::{CheckpointSource, Config};

impl Run {
    /// Applies the input, then runs the supersteps.
    pub(super) async fn drive(
        &mut self,
        input: Input,
        config: &Config,
    ) -> Result<RunOutcome, GraphError> {
        let resuming = !matches!(input, Input::Values(_));
        if resuming && self.settings.saver.is_none() {
            return Err(GraphError::NoSaver {
                operation: "continuing a thread",
            });
        }
        match input {
            Input::Values(value) => {
                let span = tracing::debug_span!(
                    "graph_input",
                    thread_id = %self.thread_id,
                    ns = %self.config.ns(),
                    checkpoint_id = self.saved_id.as_deref().unwrap_or(""),
                    step = self.step + 1,
                );
                self.apply_input(value).instrument(span).await?;
            }
            Input::Continue => {
                // Nothing to continue (LangGraph: EmptyInputError); most
                // likely a wrong thread id, which must not look like a
                // finished run.
                self.require_checkpoint(
                    "the thread has no checkpoint to continue (Input::Continue \
                     needs a thread that has run; start it with input values)",
                )?;
                if config.checkpoint_id.is_some() {
                    self.fork_if_old().await?;
                }
            }
            Input::Command(cmd) => {
                self.require_checkpoint("the thread has no checkpoint to continue")?;
                self.apply_command(cmd).await?;
            }
        }
        if resuming {
            self.resume().await?;
        }
        self.run_loop().await
    }

    /// An error unless the thread has a checkpoint to continue from.
    fn require_checkpoint(&self, reason: &str) -> Result<(), GraphError> {
        if self.saved_id.is_some() {
            return Ok(());
        }
        Err(GraphError::InvalidCommand {
            operation: "invoke",
            thread_id: self.thread_id.clone(),
            reason: reason.to_owned(),
        })
    }

    /// Before a resumed thread's next step: commands' state updates and
    /// gotos (NULL-task writes) apply first; then the interrupt marker
    /// moves to the current versions, so the interrupt that stopped the
    /// run does not fire again.
    async fn resume(&mut self) -> Result<(), GraphError> {
        self.apply_null_writes()?;
        let versions = self.checkpoint.channel_versions.clone();
        self.checkpoint
            .versions_seen
            .insert(INTERRUPT_SEEN.to_owned(), versions);
        self.emit(|| StreamEvent::Values {
            step: self.step,
            values: self.values(),
        })
        .await;
        Ok(())
    }

    /// Applies the NULL-task writes pending at the checkpoint (a
    /// [`Command`](crate::graph::Command)'s update and goto), as
    /// LangGraph does before a resume or a new input. The channels they
    /// change are announced by the next checkpoint.
    pub(super) fn apply_null_writes(&mut self) -> Result<(), GraphError> {
        let null_writes = null_task_writes(&self.settings.spec, &self.pending);
        if null_writes.is_empty() {
            return Ok(());
        }
        let step = self.step + 1;
        let mut updated = self.apply(
            vec![TaskWrites {
                name: INPUT_NODE,
                triggers: &[],
                writes: null_writes,
            }],
            step,
        )?;
        self.carried.append(&mut updated);
        Ok(())
    }

    /// Applies the saved writes of the `tasks` that finished at the
    /// checkpoint (in a step stopped by an interrupt or an error), so their
    /// work is kept and they do not run again. The channels they change
    /// are announced by the next checkpoint.
    pub(super) fn apply_finished(&mut self, tasks: &[Task]) -> Result<(), GraphError> {
        let finished: Vec<TaskWrites<'_>> = tasks
            .iter()
            .filter_map(|task| {
                Some(TaskWrites {
                    name: &task.name,
                    triggers: &task.triggers,
                    writes: finished_writes(&self.pending, &task.id)?,
                })
            })
            .collect();
        if finished.is_empty() {
            return Ok(());
        }
        let step = self.step + 1;
        let mut updated = self.apply(finished, step)?;
        self.carried.append(&mut updated);
        Ok(())
    }

    /// Applies a new input to `__start__` and saves the `input` checkpoint.
    async fn apply_input(&mut self, value: Value) -> Result<(), GraphError> {
        let step = self.step + 1;
        if !matches!(value, Value::Object(_)) {
            return Err(GraphError::InvalidUpdate {
                node: START.to_owned(),
                step,
                thread_id: self.thread_id.clone(),
                reason: format!("the input must be a JSON object of channel values, got {value}"),
            });
        }
        // As LangGraph does, a command's update pending at the current
        // checkpoint still applies, and a new input discards the tasks
        // still pending there: their triggers count as seen, their saved
        // writes are not applied.
        self.apply_null_writes()?;
        let pending = if self.saved_id.is_some() {
            prepare_tasks(
                &self.settings.spec,
                &self.checkpoint,
                self.config.ns(),
                step,
                &self.pending,
            )
        } else {
            Vec::new()
        };
        let dropped: Vec<Interrupt> = pending
            .iter()
            .filter(|t| finished_writes(&self.pending, &t.id).is_none())
            .flat_map(|t| task_interrupts(&self.pending, &t.id))
            .collect();
        if !dropped.is_empty() {
            self.notices.push(RunNotice::InterruptsDropped(dropped));
        }
        let mut tasks: Vec<TaskWrites<'_>> = pending
            .iter()
            .map(|t| TaskWrites {
                name: &t.name,
                triggers: &t.triggers,
                writes: Vec::new(),
            })
            .collect();
        tasks.push(TaskWrites {
            name: INPUT_NODE,
            triggers: &[],
            writes: vec![(START_CHANNEL.to_owned(), value)],
        });
        let updated = self.apply(tasks, step)?;
        self.checkpoint(step, CheckpointSource::Input, &updated)
            .await?;
        self.emit(|| StreamEvent::Values {
            step,
            values: self.values(),
        })
        .await;
        Ok(())
    }

    /// Replaying an older checkpoint: saves a `fork` copy of it (step + 1,
    /// parent = it, as LangGraph numbers it), so the new run branches off
    /// and the original history stays as it was. At the latest checkpoint
    /// this is a plain resume.
    async fn fork_if_old(&mut self) -> Result<(), GraphError> {
        let Some(saver) = self.settings.saver.clone() else {
            return Ok(());
        };
        let latest = saver
            .get_tuple(&self.config_for(None))
            .await
            .map_err(GraphError::saver("get_tuple", &self.thread_id))?;
        if latest.map(|t| t.checkpoint.id) == self.saved_id {
            return Ok(());
        }
        let step = self.step + 1;
        // Keep the copied checkpoint's `updated_channels` meaningful: none.
        self.checkpoint(step, CheckpointSource::Fork, &BTreeSet::new())
            .await?;
        Ok(())
    }
}
