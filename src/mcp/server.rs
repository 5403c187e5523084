//! The MCP server: the tools, dispatched by name, served over stdio with
//! the `rmcp` crate.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value};

use super::job_tools::{
    JOBS_CHECKPOINT_STATUS, JOBS_CHECKPOINT_STATUS_DOTTED, JOBS_RESUME_CONTEXT,
    JOBS_RESUME_CONTEXT_DOTTED, job_tool_specs, jobs_checkpoint_status, jobs_resume_context,
};
use super::thread_tools::{
    CHECKPOINT_STATE, THREAD_HISTORY, THREADS_LIST, checkpoint_state, thread_history,
    thread_tool_specs, threads_list,
};
use super::tool::{ToolError, ToolOutput, ToolSpec};
use crate::jobs::JobStore;
use crate::saver::CheckpointAdmin;

/// An MCP server with the job tools over a [`JobStore`] and, when it has a
/// checkpoint store, the read-only thread tools over it.
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::InMemorySaver;
/// use checkpointer::jobs::{JobStore, SaverJobStore};
/// use checkpointer::mcp::McpServer;
/// use serde_json::json;
///
/// let saver = Arc::new(InMemorySaver::new());
/// let server = McpServer::new(Arc::new(SaverJobStore::new(Arc::clone(&saver))))
///     .with_threads(saver);
/// let names: Vec<&str> = server.tools().iter().map(|t| t.name).collect();
/// assert!(names.contains(&"jobs_resume_context") && names.contains(&"threads_list"));
///
/// let out = server.call("jobs.resume_context", json!({"job_id": "render"}).as_object())?;
/// assert_eq!(out.value["context"]["has_checkpoint"], false);
/// # Ok::<(), checkpointer::mcp::ToolError>(())
/// ```
#[derive(Clone)]
pub struct McpServer {
    jobs: Arc<dyn JobStore>,
    threads: Option<Arc<dyn CheckpointAdmin>>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("thread_tools", &self.threads.is_some())
            .finish_non_exhaustive()
    }
}

impl McpServer {
    /// A server with the job tools over `jobs`.
    pub fn new(jobs: Arc<dyn JobStore>) -> Self {
        McpServer {
            jobs,
            threads: None,
        }
    }

    /// Adds the thread tools, over `saver`.
    #[must_use]
    pub fn with_threads(mut self, saver: Arc<dyn CheckpointAdmin>) -> Self {
        self.threads = Some(saver);
        self
    }

    /// The tools this server has, in the order `tools/list` gives them.
    pub fn tools(&self) -> Vec<ToolSpec> {
        let mut tools = job_tool_specs();
        if self.threads.is_some() {
            tools.extend(thread_tool_specs());
        }
        tools
    }

    /// Calls the tool `name` with `arguments` (blocking: it reads the
    /// store).
    pub fn call(
        &self,
        name: &str,
        arguments: Option<&Map<String, Value>>,
    ) -> Result<ToolOutput, ToolError> {
        let jobs = &*self.jobs;
        match (name, &self.threads) {
            (JOBS_CHECKPOINT_STATUS | JOBS_CHECKPOINT_STATUS_DOTTED, _) => {
                jobs_checkpoint_status(jobs, arguments)
            }
            (JOBS_RESUME_CONTEXT | JOBS_RESUME_CONTEXT_DOTTED, _) => {
                jobs_resume_context(jobs, arguments)
            }
            (THREADS_LIST, Some(saver)) => threads_list(&**saver, arguments),
            (THREAD_HISTORY, Some(saver)) => thread_history(&**saver, arguments),
            (CHECKPOINT_STATE, Some(saver)) => checkpoint_state(&**saver, arguments),
            _ => Err(ToolError::UnknownTool {
                name: name.to_owned(),
            }),
        }
    }

    /// Serves MCP on standard input and output until the client closes
    /// them. Nothing else may write to standard output meanwhile.
    pub async fn serve_stdio(self) -> Result<(), ServeError> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| ServeError(e.to_string()))?;
        running
            .waiting()
            .await
            .map_err(|e| ServeError(e.to_string()))?;
        Ok(())
    }
}

/// The MCP session could not start or ended in an error.
#[derive(Debug, thiserror::Error)]
#[error("MCP server on stdio: {0}")]
pub struct ServeError(String);

fn rmcp_tool(spec: ToolSpec) -> Tool {
    let schema = match spec.input_schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    Tool::new(spec.name, spec.description, Arc::new(schema))
        .with_annotations(ToolAnnotations::new().read_only(true).open_world(false))
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "checkpointer",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Job progress checkpoints (jobs_checkpoint_status, jobs_resume_context) and \
                 read-only views of the checkpoint store's threads (threads_list, \
                 thread_history, checkpoint_state).",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self.tools().into_iter().map(rmcp_tool).collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !self.tools().iter().any(|t| t.name == name) {
            let error = ToolError::UnknownTool { name };
            tracing::warn!(error = %error, "tools/call refused");
            return Err(ErrorData::invalid_params(error.to_string(), None));
        }
        let server = self.clone();
        let tool = name.clone();
        let called =
            tokio::task::spawn_blocking(move || server.call(&tool, request.arguments.as_ref()))
                .await
                .unwrap_or_else(|e| {
                    Err(ToolError::Aborted {
                        tool: "tools/call",
                        reason: e.to_string(),
                    })
                });
        Ok(match called {
            Ok(out) => {
                let mut result = CallToolResult::success(vec![ContentBlock::text(out.text)]);
                result.structured_content = Some(out.value);
                result
            }
            Err(e) => {
                tracing::warn!(tool = %name, error = %e, "tool call failed");
                CallToolResult::error(vec![ContentBlock::text(e.to_string())])
            }
        }
        .into())
    }
}
