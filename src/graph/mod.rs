//! Durable graph workflows: a LangGraph-style `StateGraph` and a Pregel
//! superstep runner that checkpoints through any
//! [`BaseCheckpointSaver`](crate::BaseCheckpointSaver).
//!
//! - **State** is a set of named channels holding JSON values, each with a
//!   [`Reducer`] (last value, append, or your own function).
//! - **Typed state** (feature `derive`): a struct with
//!   `#[derive(GraphState)]` as the state, one channel per field, nodes
//!   from `&State` to its partial update; see [`GraphState`](trait@GraphState) and
//!   [`TypedStateGraph`].
//! - **Nodes** are async or sync closures from the [`State`] and a
//!   [`NodeContext`] to an [`Update`].
//! - **Edges**: `add_edge(a, b)`, from [`START`] and to [`END`], joins
//!   (`add_edge(["a", "b"], "c")`), conditional edges whose router returns
//!   node names or [`SendTo`] packets (dynamic fan-out).
//! - **Running**: every superstep runs its triggered tasks concurrently on
//!   tokio, saves each task's writes as it ends, applies all writes through
//!   the reducers and saves a checkpoint, as LangGraph's runtime does (the
//!   last task's writes go with the checkpoint, in one saver call; see
//!   below), so a stored thread means the same thing: an `input` checkpoint
//!   at step -1, then a `loop` checkpoint per step, `update` checkpoints
//!   from [`CompiledGraph::update_state`], `fork` checkpoints when replaying
//!   an older checkpoint.
//! - **Durable**: a run that failed or crashed continues with
//!   [`Input::Continue`]: finished tasks are not run again. Interrupts
//!   (static, or [`NodeContext::interrupt`]) stop a run with `Ok`; a
//!   [`Command`] continues it.
//!
//! # What a run stores
//!
//! The graph keeps LangGraph's runtime protocol, so a thread written by this
//! crate reads like one written by LangGraph:
//!
//! - **Checkpoints**: an `input` checkpoint per new input (step = last
//!   step + 1, so `-1` on a new thread), then one `loop` checkpoint per
//!   superstep; metadata `{source, step, parents}`, `parents` `{}` for the
//!   root graph and, for a subgraph, the checkpoint of each enclosing
//!   graph by namespace (`{"": <root checkpoint id>}`). `channel_versions`
//!   grow only for channels the step changed (one new version per step, the
//!   saver's `get_next_version` of the highest version), `new_versions`
//!   passed to `put` are exactly those (plus the channels a [`Command`]'s
//!   update or goto changed just before the step), `updated_channels`
//!   lists them sorted, and `versions_seen[node]` records the trigger
//!   versions each node consumed (`versions_seen["__interrupt__"]`: the
//!   versions when the thread was last resumed, for static interrupts).
//! - **Channels**: the user's state channels, plus `__start__` (the input),
//!   `branch:to:<node>` (a node's trigger, written by its predecessors and
//!   routers), `join:<a>+<b>:<node>` (a join barrier, holding the sorted
//!   names seen) and `__pregel_tasks` (pending [`SendTo`] packets as
//!   `{"node", "arg"}`).
//! - **Task writes**: saved with `put_writes` against the step's starting
//!   checkpoint as each task ends. With [`Durability::Sync`], the task
//!   that ends last in a step that completes (no error, no interrupt) is
//!   saved with the step's new checkpoint in one
//!   [`put_with_writes`](crate::BaseCheckpointSaver::put_with_writes) call
//!   (one transaction and one fsync on SQLite), so a durable step of one
//!   task costs one save. The stored result is the same; those writes
//!   become durable with the checkpoint, and a crash before that loses
//!   both, as a crash just before their own save would. If the step ends
//!   without a checkpoint (its writes conflict) or that save fails, the
//!   writes are saved on their own. A task's writes are: its writes (or
//!   `__no_writes__`), or
//!   `__error__` with the error text, or `__interrupt__` with
//!   `[{"value", "id"}]`; with `__resume__` holding its answers so far
//!   when it took one (so a failed task retries with the human's answer
//!   instead of asking again). A
//!   [`Command`]'s update, goto and resume value go under the NULL task id.
//! - **Task ids** are LangGraph's, byte for byte: xxh3-128 over the
//!   checkpoint id's bytes, the task's namespace (`node`, or
//!   `parent_ns|node`), the step, the node and `__pregel_pull` with the
//!   sorted triggers (pulled tasks) or `__pregel_push` with the packet
//!   index (Send tasks); interrupt ids hash `<task namespace>:<task id>`
//!   (and `|k` once the task holds k answers). So Python and this crate
//!   each find the tasks the other finished. Threads written by earlier
//!   versions of this crate, whose ids were UUIDv5, still resume: the ids
//!   their pending writes use are recognised per checkpoint. Paths are
//!   `~__pregel_pull, <node>` and, for Send tasks, Python's three parts
//!   `~__pregel_push, <index padded to 10>, 0000000000`.
//! - **Versions** are LangGraph's text, `{n:032}.{random fraction}`; a
//!   taken resume value is left as a `null` NULL-task `__resume__` (no
//!   answer, to Python too), never a private marker.
//!
//! Differences from LangGraph worth knowing: [`Input::Continue`] at a config
//! naming the *latest* checkpoint resumes it (finished tasks are not run
//! again) instead of replaying it; at an older checkpoint it replays, saving
//! a `fork` copy first as LangGraph 1.x does.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use checkpointer::graph::{Command, CompileOptions, Input, Reducer, StateGraph, Update, START, END};
//! use checkpointer::{Config, InMemorySaver};
//! use serde_json::json;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut graph = StateGraph::new();
//! graph
//!     .add_channel("draft", Reducer::last_value())
//!     .add_channel("log", Reducer::append())
//!     .add_node("write", |_state, _ctx| async move {
//!         Ok(Update::new().set("draft", "hello world").set("log", "written"))
//!     })
//!     .add_node("review", |state, ctx| async move {
//!         // Ask a human; the run stops here until it is resumed.
//!         let verdict = ctx.interrupt(json!({"draft": state.get::<String>("draft")?}))?;
//!         Ok(Update::new().set("log", format!("review: {verdict}")))
//!     })
//!     .add_edge(START, "write")
//!     .add_edge("write", "review")
//!     .add_edge("review", END);
//! let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
//! let thread = Config::thread("doc-1");
//!
//! let out = app.invoke(json!({}), &thread).await?;
//! assert_eq!(out.next, vec!["review"]);
//! assert_eq!(out.interrupts[0].value, json!({"draft": "hello world"}));
//!
//! let out = app.invoke(Command::resume("ok"), &thread).await?;
//! assert_eq!(out.values["log"], json!(["written", "review: \"ok\""]));
//! assert!(!out.is_interrupted());
//! # Ok::<(), checkpointer::graph::GraphError>(())
//! # }).unwrap();
//! ```

mod algo;
mod builder;
// issue 17: the node cache.
mod cache;
mod channel;
mod compiled;
// issue 14 part 4: durable, resumable graph streams.
#[cfg(feature = "events")]
mod durable_stream;
mod error;
mod finite;
mod interrupt;
mod io;
mod legacy_ids;
mod mermaid;
mod node;
mod options;
mod persist;
mod retry;
mod run;
mod snapshot;
mod spec;
mod state;
#[cfg(test)]
mod step_spans;
// issue 12 part 2: `NodeContext::step_once` over the step ledger.
#[cfg(feature = "ledger")]
mod step_once;
mod stream;
// issue 17: several modes, subgraphs and the bound of a stream.
mod stream_options;
// issue 17: what a node streams while it runs (custom, messages).
mod stream_writer;
mod subgraph;
mod task;
// issue 17: typed state (`#[derive(GraphState)]`, `TypedStateGraph`).
#[cfg(feature = "derive")]
mod typed;

pub use builder::{EdgeSources, StateGraph};
pub use cache::{CACHE_THREAD_PREFIX, CachePolicy};
pub use channel::Reducer;
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use checkpointer_derive::GraphState;
pub use compiled::CompiledGraph;
#[cfg(feature = "events")]
#[cfg_attr(docsrs, doc(cfg(feature = "events")))]
pub use durable_stream::{DurableStream, FollowOptions, follow_stream, follow_stream_with};
pub use error::{GraphError, GraphResult};
pub use interrupt::{Command, Goto, Interrupt, Interrupted, Route};
pub use io::{CachedTask, Input, RunNotice, RunOutcome};
pub use node::{Node, NodeContext, NodeError, NodeResult};
pub use options::{CompileOptions, DEFAULT_LEASE_TTL, DEFAULT_RECURSION_LIMIT, RunOptions};
pub use persist::Durability;
pub use retry::RetryPolicy;
pub use snapshot::{StateSnapshot, TaskSnapshot};
pub use spec::{END, START};
pub use state::{State, Update};
#[cfg(feature = "ledger")]
pub use step_once::{STEP_LEASE, STEP_NAMESPACE};
pub use stream::{GraphStream, StreamEvent, StreamMode};
pub use stream_options::{DEFAULT_STREAM_CAPACITY, StreamOptions};
pub use stream_writer::StreamWriter;
pub use task::SendTo;
#[cfg(feature = "derive")]
#[doc(hidden)]
pub use typed::__derive;
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use typed::{
    GraphState, StateDecodeError, TypedCommand, TypedEvent, TypedGraph, TypedInput, TypedOutcome,
    TypedSnapshot, TypedStateGraph, TypedStream,
};
