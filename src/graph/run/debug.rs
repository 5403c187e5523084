//! LangGraph's `debug` stream events (`checkpoint`, `task`,
//! `task_result`), in its shapes; built only when the stream asks for
//! [`StreamMode::Debug`](crate::graph::StreamMode::Debug).

use serde_json::{Value, json};

use super::Run;
use crate::graph::algo::prepare_tasks;
use crate::graph::interrupt::Interrupt;
use crate::graph::state::State;
use crate::graph::stream::StreamEvent;
use crate::graph::task::Task;
use crate::saver::timestamp::now_iso;
use crate::saver::{CheckpointMetadata, CheckpointSource};

impl Run {
    /// A task's state writes as an object (channel to value), as
    /// LangGraph shows a node's update.
    pub(super) fn state_update(&self, writes: &[(String, Value)]) -> Value {
        let state_channels = &self.settings.spec.state_channels;
        Value::Object(
            writes
                .iter()
                .filter(|(ch, _)| state_channels.contains(ch))
                .cloned()
                .collect(),
        )
    }

    /// LangGraph's config of checkpoint `id` of this run's thread.
    fn debug_config(&self, id: &str) -> Value {
        json!({"configurable": {
            "checkpoint_ns": self.config.ns(),
            "thread_id": self.thread_id,
            "checkpoint_id": id,
        }})
    }

    /// `checkpoint`: the checkpoint just made, its parent, values,
    /// metadata and the tasks of the next step.
    pub(super) async fn emit_debug_checkpoint(
        &self,
        step: i64,
        source: CheckpointSource,
        parent_id: Option<&str>,
    ) {
        let next_tasks = prepare_tasks(
            &self.settings.spec,
            &self.checkpoint,
            self.config.ns(),
            step + 1,
            &self.pending,
        );
        let tasks: Vec<Value> = next_tasks
            .iter()
            .map(|t| json!({"id": t.id, "name": t.name, "interrupts": [], "state": null}))
            .collect();
        let next: Vec<&str> = next_tasks.iter().map(|t| t.name.as_str()).collect();
        let metadata =
            serde_json::to_value(CheckpointMetadata::new(source, step)).unwrap_or(Value::Null);
        let payload = json!({
            "config": self.debug_config(&self.checkpoint.id),
            "parent_config": parent_id.map(|id| self.debug_config(id)),
            "values": self.values(),
            "metadata": metadata,
            "next": next,
            "tasks": tasks,
        });
        self.emit(|| StreamEvent::Debug {
            step,
            kind: "checkpoint".to_owned(),
            timestamp: self.checkpoint.ts.clone(),
            payload,
        })
        .await;
    }

    /// `task`: a task starts, with its input and triggers.
    pub(super) async fn emit_debug_task(&self, task: &Task, step: i64, input: &State) {
        self.emit(|| StreamEvent::Debug {
            step,
            kind: "task".to_owned(),
            timestamp: now_iso(),
            payload: json!({
                "id": task.id,
                "name": task.name,
                "input": input.to_value(),
                "triggers": task.triggers,
            }),
        })
        .await;
    }

    /// `task_result`: a task ended with its update, error or interrupts.
    pub(super) async fn emit_debug_result(
        &self,
        task: &Task,
        step: i64,
        result: Option<Value>,
        error: Option<&str>,
        interrupts: &[Interrupt],
    ) {
        self.emit(|| StreamEvent::Debug {
            step,
            kind: "task_result".to_owned(),
            timestamp: now_iso(),
            payload: json!({
                "id": task.id,
                "name": task.name,
                "error": error,
                "result": result,
                "interrupts": interrupts,
            }),
        })
        .await;
    }
}
