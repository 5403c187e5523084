//! The superstep loop, its static interrupts, and a tracing span per step.

use std::collections::BTreeSet;

use tracing::Instrument;

use super::step::StepEnd;
use super::{INTERRUPT_SEEN, Run};
use crate::graph::algo::{ordered_writes, prepare_tasks};
use crate::graph::error::GraphError;
use crate::graph::io::RunOutcome;
use crate::graph::stream::StreamEvent;
use crate::graph::task::Task;
use crate::saver::CheckpointSource;

impl Run {
    /// Runs supersteps until no task is left, an interrupt, an error or
    /// the recursion limit: the steps up to [`Run::stop`] run, as in
    /// LangGraph.
    pub(super) async fn run_loop(&mut self) -> Result<RunOutcome, GraphError> {
        let limit = self.settings.recursion_limit;
        loop {
            let step = self.step + 1;
            // As LangGraph's `tick`: the step numbered `stop` still runs
            // and is checkpointed; the next one is the error, checked
            // before its tasks, so even when nothing is left to run.
            if step > self.stop {
                return Err(GraphError::RecursionLimit {
                    limit,
                    step,
                    thread_id: self.thread_id.clone(),
                });
            }
            let tasks = prepare_tasks(
                &self.settings.spec,
                &self.checkpoint,
                self.config.ns(),
                step,
                &self.pending,
            );
            if tasks.is_empty() {
                return Ok(self.outcome(Vec::new(), Vec::new()));
            }
            let listed = &self.settings.interrupt_before;
            if self.should_interrupt(listed, tasks.iter().map(|t| t.name.as_str())) {
                let next = tasks.iter().map(|t| t.name.clone()).collect();
                return Ok(self.static_interrupt(next).await);
            }
            // Debug spans cost one check of a cached flag when no
            // subscriber listens; the fields are only built when one does.
            let span = tracing::debug_span!(
                "graph_step",
                thread_id = %self.thread_id,
                ns = %self.config.ns(),
                checkpoint_id = self.saved_id.as_deref().unwrap_or(""),
                step,
                outcome = tracing::field::Empty,
            );
            let ended = self.superstep(&tasks, step).instrument(span.clone()).await;
            span.record(
                "outcome",
                match &ended {
                    Ok(None) => "checkpointed",
                    Ok(Some(_)) => "stopped",
                    Err(_) => "failed",
                },
            );
            if let Some(outcome) = ended? {
                return Ok(outcome);
            }
        }
    }

    /// Runs one step and checkpoints it; `Some` when the run stops after
    /// it (a dynamic interrupt, or `interrupt_after`).
    async fn superstep(
        &mut self,
        tasks: &[Task],
        step: i64,
    ) -> Result<Option<RunOutcome>, GraphError> {
        let finished = match self.run_step(tasks, step).await? {
            StepEnd::Done(f) => f,
            StepEnd::Stop {
                interrupts,
                next,
                done,
            } => {
                self.emit(|| StreamEvent::Interrupt {
                    interrupts: interrupts.clone(),
                    next: next.clone(),
                })
                .await;
                let mut outcome = self.outcome(next, interrupts);
                // As LangGraph does, the returned values include the
                // writes of the step's finished tasks (they are saved as
                // pending writes, not yet in a checkpoint).
                if !done.is_empty() {
                    outcome.values = self.values_with(&done, step)?;
                }
                return Ok(Some(outcome));
            }
        };
        let updated = match self.apply(ordered_writes(&finished), step) {
            Ok(updated) => updated,
            Err(e) => {
                // No checkpoint for this step: the held writes are
                // saved alone, as they would have been.
                self.save_held().await?;
                return Err(e);
            }
        };
        self.checkpoint(step, CheckpointSource::Loop, &updated)
            .await?;
        self.emit(|| StreamEvent::Values {
            step,
            values: self.values(),
        })
        .await;
        let listed = &self.settings.interrupt_after;
        if !self.should_interrupt(listed, finished.iter().map(|(t, _)| t.name.as_str())) {
            return Ok(None);
        }
        let next: Vec<String> = prepare_tasks(
            &self.settings.spec,
            &self.checkpoint,
            self.config.ns(),
            step + 1,
            &self.pending,
        )
        .into_iter()
        .map(|t| t.name)
        .collect();
        if next.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.static_interrupt(next).await))
    }

    /// Stops for `interrupt_before` or `interrupt_after`, before `next`.
    async fn static_interrupt(&self, next: Vec<String>) -> RunOutcome {
        self.emit(|| StreamEvent::Interrupt {
            interrupts: Vec::new(),
            next: next.clone(),
        })
        .await;
        self.outcome(next, Vec::new())
    }

    /// Whether the run must stop for a static interrupt: a task of `names`
    /// is listed, and some channel changed since the last interrupt.
    fn should_interrupt<'a>(
        &self,
        listed: &BTreeSet<String>,
        mut names: impl Iterator<Item = &'a str>,
    ) -> bool {
        if listed.is_empty() || !names.any(|n| listed.contains(n)) {
            return false;
        }
        let seen = self.checkpoint.versions_seen.get(INTERRUPT_SEEN);
        self.checkpoint
            .channel_versions
            .iter()
            .any(|(ch, v)| Some(v) > seen.and_then(|s| s.get(ch)))
    }
}
