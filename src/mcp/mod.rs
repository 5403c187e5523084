//! An MCP server (feature `mcp`) for agents: dcc-mcp-core's job tools and
//! read-only views of the checkpoint store, over stdio
//! (`checkpointer mcp`).
//!
//! - Job tools, over any [`JobStore`](crate::jobs::JobStore):
//!   [`jobs_checkpoint_status`] and [`jobs_resume_context`], with
//!   dcc-mcp-core's exact results (found and not found), also under the
//!   dotted names of its older releases (`jobs.checkpoint_status`,
//!   `jobs.resume_context`).
//! - Thread tools, over any [`CheckpointAdmin`](crate::saver::CheckpointAdmin):
//!   [`threads_list`], [`thread_history`] and [`checkpoint_state`], so an
//!   agent can look at its own history.
//! - [`McpServer`] lists and dispatches them and serves MCP on stdio with
//!   the `rmcp` crate; a bad argument, an unknown thread or a failing
//!   store is a tool error (`isError: true`) whose text says which tool,
//!   argument, thread or checkpoint.
//!
//! The tool functions are plain and blocking: they take the store and the
//! call's arguments and return the result as exact JSON text and as a
//! value, so they can be tested and reused without a transport.

mod job_tools;
mod server;
mod thread_tools;
mod tool;

pub use job_tools::{
    JOBS_CHECKPOINT_STATUS, JOBS_CHECKPOINT_STATUS_DOTTED, JOBS_RESUME_CONTEXT,
    JOBS_RESUME_CONTEXT_DOTTED, job_tool_specs, jobs_checkpoint_status, jobs_resume_context,
};
pub use server::{McpServer, ServeError};
pub use thread_tools::{
    CHECKPOINT_STATE, THREAD_HISTORY, THREADS_LIST, checkpoint_state, thread_history,
    thread_tool_specs, threads_list,
};
pub use tool::{ToolError, ToolOutput, ToolSpec};
