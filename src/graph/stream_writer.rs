//! What a node streams while it runs: `custom` values (LangGraph's
//! `get_stream_writer()`) and `messages` chunks, tagged with the task.

use serde_json::{Value, json};

use super::stream::{EventSink, StreamEvent, StreamMode};

/// A node's writer of [`StreamMode::Custom`] events, from
/// [`NodeContext::writer`](crate::graph::NodeContext::writer).
///
/// Cheap to clone. Outside a streamed run, or when the stream does not
/// ask for the mode, writing does nothing. A write waits while the
/// stream's channel is full (see
/// [`StreamOptions::capacity`](crate::graph::StreamOptions::capacity)),
/// so a node that streams a lot is slowed by a slow consumer instead of
/// queueing without bound. An async node
/// ([`StateGraph::add_node`](crate::graph::StateGraph::add_node)) awaits
/// [`write`](Self::write); a synchronous one
/// ([`StateGraph::add_sync_node`](crate::graph::StateGraph::add_sync_node),
/// which then runs on tokio's blocking pool) calls
/// [`write_blocking`](Self::write_blocking).
#[derive(Clone, Debug)]
pub struct StreamWriter {
    pub(crate) sink: Option<EventSink>,
    pub(crate) task: TaskTag,
}

/// Who emits: the task's step, node, id, triggers, path and namespace.
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskTag {
    pub(crate) thread_id: String,
    pub(crate) step: i64,
    pub(crate) node: String,
    pub(crate) task_id: String,
    pub(crate) triggers: Vec<String>,
    /// LangGraph's task path (`["__pregel_pull", node]`, or
    /// `["__pregel_push", index]`).
    pub(crate) path: Value,
    /// The namespace of the task's own runs, `<parent ns|>node:task_id`.
    pub(crate) task_ns: String,
}

impl StreamWriter {
    /// Streams `value` as a [`StreamEvent::Custom`] of this node and step.
    pub async fn write(&self, value: impl Into<Value>) {
        let Some(sink) = self.wanted(StreamMode::Custom) else {
            return;
        };
        sink.emit(StreamEvent::Custom {
            step: self.task.step,
            node: self.task.node.clone(),
            value: value.into(),
        })
        .await;
    }

    /// [`write`](Self::write) for a synchronous node: blocks the node's
    /// thread while the stream's channel is full. Do not call it from async
    /// code (it would hold a runtime thread; use `write` there).
    ///
    /// ```
    /// use checkpointer::graph::{CompileOptions, StateGraph, StreamEvent, StreamMode, Update, START};
    /// use checkpointer::Config;
    /// use futures::StreamExt;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_sync_node("count", |_state, ctx| {
    ///         let progress = ctx.writer();
    ///         for done in 1..=3 {
    ///             progress.write_blocking(json!({"done": done}));
    ///         }
    ///         Ok(Update::new())
    ///     })
    ///     .add_edge(START, "count");
    /// let app = graph.compile(CompileOptions::new())?;
    /// let events: Vec<StreamEvent> = app
    ///     .stream(json!({}), &Config::default(), StreamMode::Custom)
    ///     .map(Result::unwrap)
    ///     .collect()
    ///     .await;
    /// assert_eq!(events.len(), 3);
    /// assert_eq!(
    ///     events[2],
    ///     StreamEvent::Custom { step: 1, node: "count".into(), value: json!({"done": 3}) }
    /// );
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    pub fn write_blocking(&self, value: impl Into<Value>) {
        futures::executor::block_on(self.write(value));
    }

    /// Whether the run takes what nodes stream (custom values or message
    /// chunks), so a synchronous node must run where it may block.
    pub(crate) fn streams_from_node(&self) -> bool {
        self.wanted(StreamMode::Custom).is_some() || self.wanted(StreamMode::Messages).is_some()
    }

    /// Streams `chunk` as a [`StreamEvent::Message`] with LangGraph's
    /// metadata.
    pub(crate) async fn message_chunk(&self, chunk: Value) {
        let Some(sink) = self.wanted(StreamMode::Messages) else {
            return;
        };
        let t = &self.task;
        let metadata = json!({
            "thread_id": t.thread_id,
            "langgraph_step": t.step,
            "langgraph_node": t.node,
            "langgraph_triggers": t.triggers,
            "langgraph_path": t.path,
            "langgraph_checkpoint_ns": t.task_ns,
            "checkpoint_ns": t.task_ns,
        });
        sink.emit(StreamEvent::Message {
            step: t.step,
            node: t.node.clone(),
            task_id: t.task_id.clone(),
            chunk,
            metadata,
        })
        .await;
    }

    fn wanted(&self, mode: StreamMode) -> Option<&EventSink> {
        self.sink.as_ref().filter(|s| s.needs(mode))
    }
}

/// LangGraph's path of a task from ours (`~__pregel_pull, a` or
/// `~__pregel_push, 0000000002`).
pub(crate) fn langgraph_path(path: &str) -> Value {
    let mut parts = path.trim_start_matches('~').splitn(2, ", ");
    let kind = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default();
    match rest.parse::<u64>() {
        Ok(index) if kind == "__pregel_push" => json!([kind, index]),
        _ => json!([kind, rest]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_langgraph_tuples() {
        assert_eq!(
            langgraph_path("~__pregel_pull, a"),
            json!(["__pregel_pull", "a"])
        );
        assert_eq!(
            langgraph_path("~__pregel_push, 0000000002"),
            json!(["__pregel_push", 2])
        );
    }
}
