//! A [`Command`]'s writes: its update and goto under the NULL task, its
//! answers as `__resume__` writes of the tasks that asked.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{INPUT_NODE, Run};
use crate::graph::algo::{finished_writes, goto_writes, pending_value, prepare_tasks};
use crate::graph::error::GraphError;
use crate::graph::interrupt::Command;
use crate::graph::io::RunNotice;
use crate::graph::spec::GraphSpec;
use crate::saver::{INTERRUPT, NULL_TASK_ID, RESUME};

/// Answers by the task that asked, keyed by `(task_id, task_path)`: the
/// task's answers so far, then the new ones.
type AnswersByTask = BTreeMap<(String, String), Vec<Value>>;

/// A resume map's `(interrupt id, answer)` pairs by the task that asked.
pub(super) type AnswersById = BTreeMap<String, Vec<(String, Value)>>;

/// The NULL-task writes of a command's update and goto (the update must be
/// an object of state channels, the goto must name nodes).
fn command_writes(spec: &GraphSpec, cmd: &Command) -> Result<Vec<(String, Value)>, String> {
    let mut writes: Vec<(String, Value)> = Vec::new();
    match &cmd.update {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (ch, v) in map {
                if !spec.state_channels.contains(ch) {
                    return Err(format!("update names {ch:?}, which is not a state channel"));
                }
                writes.push((ch.clone(), v.clone()));
            }
        }
        Some(other) => return Err(format!("update must be a JSON object, got {other}")),
    }
    for goto in &cmd.goto {
        goto_writes(spec, INPUT_NODE, goto.clone(), &mut writes)?;
    }
    Ok(writes)
}

impl Run {
    /// Saves a command's writes (as `__resume__` and NULL-task writes) on
    /// the current checkpoint.
    pub(super) async fn apply_command(&mut self, cmd: Command) -> Result<(), GraphError> {
        let invalid = |reason: String| GraphError::InvalidCommand {
            operation: "invoke",
            thread_id: self.thread_id.clone(),
            reason,
        };
        if cmd.resume.is_none()
            && cmd.resume_map.is_empty()
            && cmd.goto.is_empty()
            && matches!(cmd.update, None | Some(Value::Null))
        {
            return Err(invalid(
                "the command is empty: give it a resume value, an update or a goto \
                 (use Input::Continue to continue the thread as it is)"
                    .to_owned(),
            ));
        }
        let null_writes = command_writes(&self.settings.spec, &cmd).map_err(invalid)?;
        let (by_task, by_id) = self.answers_by_task(cmd.resume_map).map_err(invalid)?;
        self.answers_by_id = by_id;
        if cmd.resume.is_some() {
            self.check_bare_resume(&by_task).map_err(invalid)?;
            if cmd.goto.is_empty() && !self.is_waiting() {
                self.notices.push(RunNotice::ResumeNotWaiting);
            }
        }
        if !null_writes.is_empty() {
            // NULL-task writes accumulate (as in LangGraph): the batch repeats
            // the earlier ones, so the new writes get fresh indexes instead
            // of colliding with (and being dropped for) the old ones.
            let mut batch: Vec<(String, Value)> = self
                .pending
                .iter()
                .filter(|w| w.task_id == NULL_TASK_ID && w.idx >= 0)
                .map(|w| (w.channel.clone(), w.value.clone()))
                .collect();
            batch.extend(null_writes);
            self.save_writes(batch, NULL_TASK_ID, "").await?;
        }
        if let Some(resume) = cmd.resume {
            self.save_writes(vec![(RESUME.to_owned(), resume)], NULL_TASK_ID, "")
                .await?;
        }
        for ((task_id, path), answers) in by_task {
            self.save_writes(
                vec![(RESUME.to_owned(), Value::Array(answers))],
                &task_id,
                &path,
            )
            .await?;
        }
        Ok(())
    }

    /// Groups answers by interrupt id under the task that asked each.
    /// Also returns the answers by id, by the task that asked.
    fn answers_by_task(
        &self,
        resume_map: BTreeMap<String, Value>,
    ) -> Result<(AnswersByTask, AnswersById), String> {
        let mut by_task = AnswersByTask::new();
        let mut by_id = AnswersById::new();
        for (interrupt_id, answer) in resume_map {
            let owner = self.pending.iter().find(|w| {
                w.channel == INTERRUPT
                    && w.value.as_array().is_some_and(|list| {
                        list.iter().any(|i| {
                            i.get("id").and_then(Value::as_str) == Some(interrupt_id.as_str())
                        })
                    })
            });
            let Some(owner) = owner else {
                return Err(format!("no pending interrupt has id {interrupt_id:?}"));
            };
            by_id
                .entry(owner.task_id.clone())
                .or_default()
                .push((interrupt_id.clone(), answer.clone()));
            let key = (owner.task_id.clone(), owner.task_path.clone());
            let answers = by_task.entry(key).or_insert_with(|| {
                match pending_value(&self.pending, &owner.task_id, RESUME) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                }
            });
            answers.push(answer);
        }
        Ok((by_task, by_id))
    }

    /// Whether the thread waits at its checkpoint: an interrupt pending, or
    /// a task left to run (whose first `interrupt` call a bare resume
    /// value answers, e.g. after `interrupt_before`).
    fn is_waiting(&self) -> bool {
        let asked = self.pending.iter().any(|w| {
            w.channel == INTERRUPT && finished_writes(&self.pending, &w.task_id).is_none()
        });
        asked
            || !prepare_tasks(
                &self.settings.spec,
                &self.checkpoint,
                self.config.ns(),
                self.step + 1,
                &self.pending,
            )
            .is_empty()
    }

    /// A bare answer goes to the first `interrupt` call that asks; with
    /// several tasks waiting, which one that is depends on timing. As
    /// LangGraph does, refuse it: answers must name their interrupt.
    fn check_bare_resume(&self, by_task: &AnswersByTask) -> Result<(), String> {
        let waiting: BTreeSet<&str> = self
            .pending
            .iter()
            .filter(|w| w.channel == INTERRUPT && w.task_id != NULL_TASK_ID)
            .map(|w| w.task_id.as_str())
            .filter(|id| finished_writes(&self.pending, id).is_none())
            .filter(|id| !by_task.keys().any(|(t, _)| t == id))
            .collect();
        if waiting.len() > 1 {
            return Err(format!(
                "{} interrupts are pending; a bare resume value cannot say which one it \
                 answers: answer each by its interrupt id with Command::resume_map",
                waiting.len()
            ));
        }
        Ok(())
    }
}
