//! dcc-mcp-core's job tools, `jobs_checkpoint_status` and
//! `jobs_resume_context`, with its exact results.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::tool::{Args, ToolError, ToolOutput, ToolSpec, object_schema};
use crate::jobs::{JobEntry, JobStore};

/// The status tool's name (dcc-mcp-core's `JOBS_CHECKPOINT_STATUS_TOOL`).
pub const JOBS_CHECKPOINT_STATUS: &str = "jobs_checkpoint_status";
/// The resume tool's name (dcc-mcp-core's `JOBS_RESUME_CONTEXT_TOOL`).
pub const JOBS_RESUME_CONTEXT: &str = "jobs_resume_context";
/// The status tool's name in dcc-mcp-core's older releases, kept as an
/// alias.
pub const JOBS_CHECKPOINT_STATUS_DOTTED: &str = "jobs.checkpoint_status";
/// The resume tool's name in dcc-mcp-core's older releases, kept as an
/// alias.
pub const JOBS_RESUME_CONTEXT_DOTTED: &str = "jobs.resume_context";

const STATUS_DESCRIPTION: &str = "Return the latest checkpoint state for a job. \
    When to use: to inspect progress of a running or interrupted job. \
    How to use: pass job_id; returns {saved_at, progress_hint, context} or \
    {checkpoint: null} if no checkpoint exists.";

const RESUME_DESCRIPTION: &str = "Check whether a checkpoint exists for a job and return resume \
    context. When to use: before re-submitting an Interrupted job — retrieve saved state to pass \
    as initial parameters so execution resumes from the last checkpoint. How to use: pass \
    job_id; if checkpoint exists, pass context to the tool's next invocation.";

fn schema(description: &str) -> Value {
    object_schema(
        json!({"job_id": {"type": "string", "description": description}}),
        &["job_id"],
    )
}

/// The two job tools, each under its name and its older dotted alias, as
/// dcc-mcp-core describes them (same descriptions, same schemas).
pub fn job_tool_specs() -> Vec<ToolSpec> {
    let status = schema("Job ID to query checkpoint status for.");
    let resume = schema("ID of the interrupted job to resume.");
    vec![
        ToolSpec {
            name: JOBS_CHECKPOINT_STATUS,
            description: STATUS_DESCRIPTION,
            input_schema: status.clone(),
        },
        ToolSpec {
            name: JOBS_RESUME_CONTEXT,
            description: RESUME_DESCRIPTION,
            input_schema: resume.clone(),
        },
        ToolSpec {
            name: JOBS_CHECKPOINT_STATUS_DOTTED,
            description: "Alias of jobs_checkpoint_status (its name in older dcc-mcp-core releases).",
            input_schema: status,
        },
        ToolSpec {
            name: JOBS_RESUME_CONTEXT_DOTTED,
            description: "Alias of jobs_resume_context (its name in older dcc-mcp-core releases).",
            input_schema: resume,
        },
    ]
}

/// dcc-mcp-core's result envelope; the fields in its order.
#[derive(Debug, Serialize)]
struct Envelope<C> {
    success: bool,
    message: String,
    context: C,
}

#[derive(Debug, Serialize)]
struct NoCheckpoint<'a> {
    job_id: &'a str,
    checkpoint: Option<()>,
}

#[derive(Debug, Serialize)]
#[allow(clippy::struct_field_names)] // dcc-mcp-core's key names.
struct Resume<'a> {
    job_id: &'a str,
    has_checkpoint: bool,
    resume_state: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    saved_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    progress_hint: Option<&'a str>,
}

/// The job the arguments name and its latest save. A missing `job_id` is
/// `""`, as in dcc-mcp-core, and an empty id has no save (stores refuse
/// to save one).
fn lookup<'a>(
    tool: &'static str,
    store: &dyn JobStore,
    args: Option<&'a Map<String, Value>>,
) -> Result<(&'a str, Option<JobEntry>), ToolError> {
    let job_id = Args::new(tool, args, &["job_id"])?
        .opt_str("job_id")?
        .unwrap_or("");
    if job_id.is_empty() {
        return Ok((job_id, None));
    }
    let entry = store.get(job_id).map_err(|source| ToolError::Job {
        tool,
        source: Box::new(source),
    })?;
    Ok((job_id, entry))
}

/// `jobs_checkpoint_status {job_id}`: the job's latest save, in exactly
/// dcc-mcp-core's words:
///
/// - none: `{"success":true,"message":"No checkpoint for job '<id>'.","context":{"job_id":"<id>","checkpoint":null}}`
/// - found: `{"success":true,"message":"Checkpoint found: <progress_hint>","context":<the entry>}`
///
/// ```
/// use checkpointer::InMemorySaver;
/// use checkpointer::jobs::{JobStore, SaverJobStore};
/// use checkpointer::mcp::jobs_checkpoint_status;
/// use serde_json::json;
///
/// let store = SaverJobStore::new(InMemorySaver::new());
/// let args = json!({"job_id": "render"});
/// let none = jobs_checkpoint_status(&store, args.as_object())?;
/// assert_eq!(none.text, r#"{"success":true,"message":"No checkpoint for job 'render'.","context":{"job_id":"render","checkpoint":null}}"#);
///
/// store.save("render", json!({"done": 120}), "120/200").unwrap();
/// let found = jobs_checkpoint_status(&store, args.as_object())?;
/// assert_eq!(found.value["message"], "Checkpoint found: 120/200");
/// assert_eq!(found.value["context"]["context"], json!({"done": 120}));
/// # Ok::<(), checkpointer::mcp::ToolError>(())
/// ```
pub fn jobs_checkpoint_status(
    store: &dyn JobStore,
    args: Option<&Map<String, Value>>,
) -> Result<ToolOutput, ToolError> {
    let tool = JOBS_CHECKPOINT_STATUS;
    match lookup(tool, store, args)? {
        (job_id, None) => ToolOutput::of(
            tool,
            &Envelope {
                success: true,
                message: format!("No checkpoint for job '{job_id}'."),
                context: NoCheckpoint {
                    job_id,
                    checkpoint: None,
                },
            },
        ),
        (_, Some(entry)) => ToolOutput::of(
            tool,
            &Envelope {
                success: true,
                message: format!("Checkpoint found: {}", entry.progress_hint),
                context: &entry,
            },
        ),
    }
}

/// `jobs_resume_context {job_id}`: whether the job can resume, and the
/// state to resume from, in exactly dcc-mcp-core's words:
///
/// - none: `{"success":true,"message":"No checkpoint for '<id>' — job will start from the beginning.","context":{"job_id":"<id>","has_checkpoint":false,"resume_state":null}}`
/// - found: `{"success":true,"message":"Checkpoint found at <hint>. Pass resume_state to the skill's initial parameters.","context":{"job_id":"<id>","has_checkpoint":true,"resume_state":<state>,"saved_at":<time>,"progress_hint":"<hint>"}}`
///
/// An empty hint gives `"Checkpoint found at . Pass…"`, as in dcc-mcp-core
/// (whose `unknown progress` is for an entry without the key, which a
/// [`JobEntry`] always has).
pub fn jobs_resume_context(
    store: &dyn JobStore,
    args: Option<&Map<String, Value>>,
) -> Result<ToolOutput, ToolError> {
    let tool = JOBS_RESUME_CONTEXT;
    let (job_id, entry) = lookup(tool, store, args)?;
    let Some(entry) = entry else {
        return ToolOutput::of(
            tool,
            &Envelope {
                success: true,
                message: format!(
                    "No checkpoint for '{job_id}' — job will start from the beginning."
                ),
                context: Resume {
                    job_id,
                    has_checkpoint: false,
                    resume_state: None,
                    saved_at: None,
                    progress_hint: None,
                },
            },
        );
    };
    ToolOutput::of(
        tool,
        &Envelope {
            success: true,
            message: format!(
                "Checkpoint found at {}. Pass resume_state to the skill's initial parameters.",
                entry.progress_hint
            ),
            context: Resume {
                job_id,
                has_checkpoint: true,
                resume_state: Some(&entry.context),
                saved_at: Some(entry.saved_at),
                progress_hint: Some(&entry.progress_hint),
            },
        },
    )
}
