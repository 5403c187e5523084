//! What every tool shares: its description for `tools/list`, the reading
//! of its arguments, its output and its errors.

use serde::Serialize;
use serde_json::{Map, Value};

/// A tool as `tools/list` shows it: its name, what it does and the JSON
/// Schema of its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// The name a client calls it by.
    pub name: &'static str,
    /// What it does, for the model that picks tools.
    pub description: &'static str,
    /// The JSON Schema of its arguments (an object schema).
    pub input_schema: Value,
}

/// What a tool returns: its result as JSON text (the exact bytes a client
/// reads, object keys in the order the tool wrote them) and as a value.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    /// The result, as compact JSON text.
    pub text: String,
    /// The same result, parsed.
    pub value: Value,
}

impl ToolOutput {
    /// The output of a serializable result.
    pub(crate) fn of(tool: &'static str, result: &impl Serialize) -> Result<Self, ToolError> {
        let encode = |e: serde_json::Error| ToolError::Encode {
            tool,
            reason: e.to_string(),
        };
        let text = serde_json::to_string(result).map_err(encode)?;
        let value = serde_json::from_str(&text).map_err(encode)?;
        Ok(ToolOutput { text, value })
    }
}

/// Why a tool call failed. A client sees the message as the tool's error
/// result (`isError: true`), so each names the tool and what it was given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// No tool has this name.
    #[error("no tool named {name:?} (tools/list shows the tools this server has)")]
    UnknownTool {
        /// The name asked for.
        name: String,
    },
    /// The arguments do not fit the tool's input schema.
    #[error("{tool}: {reason}")]
    BadArguments {
        /// The tool.
        tool: &'static str,
        /// What is wrong, naming the argument.
        reason: String,
    },
    /// The thread has no checkpoint.
    #[error("{tool}: no thread {thread_id:?} in the store (threads_list shows the threads)")]
    UnknownThread {
        /// The tool.
        tool: &'static str,
        /// The thread asked for.
        thread_id: String,
    },
    /// The thread has no such checkpoint.
    #[error(
        "{tool}: thread {thread_id:?} has no checkpoint {checkpoint_id:?} in namespace \
         {checkpoint_ns:?} (thread_history shows its checkpoints)"
    )]
    UnknownCheckpoint {
        /// The tool.
        tool: &'static str,
        /// The thread.
        thread_id: String,
        /// The namespace.
        checkpoint_ns: String,
        /// The checkpoint asked for.
        checkpoint_id: String,
    },
    /// The job store failed.
    #[error("{tool}: {source}")]
    Job {
        /// The tool.
        tool: &'static str,
        /// The store's error (it names the job).
        #[source]
        source: Box<crate::jobs::JobError>,
    },
    /// The checkpoint store failed.
    #[error("{tool} on thread {thread_id:?}: {source}")]
    Saver {
        /// The tool.
        tool: &'static str,
        /// The thread (empty for a call on all threads).
        thread_id: String,
        /// The saver's error.
        #[source]
        source: Box<crate::Error>,
    },
    /// The result could not be written as JSON.
    #[error("{tool}: cannot encode the result: {reason}")]
    Encode {
        /// The tool.
        tool: &'static str,
        /// The encoder's message.
        reason: String,
    },
    /// The blocking call did not finish (its thread panicked or the
    /// runtime shut down).
    #[error("{tool}: the call did not finish: {reason}")]
    Aborted {
        /// The tool.
        tool: &'static str,
        /// What happened.
        reason: String,
    },
}

/// A tool's arguments, checked against the names it takes.
#[derive(Debug)]
pub(crate) struct Args<'a> {
    tool: &'static str,
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Args<'a> {
    /// `map` (absent means no arguments); any name not in `known` is
    /// refused, as the schemas say (`additionalProperties: false`).
    pub(crate) fn new(
        tool: &'static str,
        map: Option<&'a Map<String, Value>>,
        known: &[&str],
    ) -> Result<Self, ToolError> {
        if let Some(unknown) = map.and_then(|m| m.keys().find(|k| !known.contains(&k.as_str()))) {
            return Err(ToolError::BadArguments {
                tool,
                reason: format!(
                    "unknown argument {unknown:?} (it takes {})",
                    known.join(", ")
                ),
            });
        }
        Ok(Args { tool, map })
    }

    fn bad(&self, reason: String) -> ToolError {
        ToolError::BadArguments {
            tool: self.tool,
            reason,
        }
    }

    /// A string argument, if given (`null` counts as not given).
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&'a str>, ToolError> {
        match self.map.and_then(|m| m.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.bad(format!("{name} must be a string, not {other}"))),
        }
    }

    /// A string argument that must be given and not be empty.
    pub(crate) fn required_str(&self, name: &str) -> Result<&'a str, ToolError> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(self.bad(format!("{name} must not be empty"))),
            None => Err(self.bad(format!("{name} is required"))),
        }
    }

    /// A whole-number argument in `1..=max`, or `default` when not given.
    pub(crate) fn limit(&self, name: &str, default: usize, max: usize) -> Result<usize, ToolError> {
        let Some(value) = self.map.and_then(|m| m.get(name)).filter(|v| !v.is_null()) else {
            return Ok(default);
        };
        value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                self.bad(format!(
                    "{name} must be a whole number from 1 to {max}, not {value}"
                ))
            })
    }
}

/// An object schema with these properties, none other allowed.
pub(crate) fn object_schema(properties: Value, required: &[&str]) -> Value {
    let mut schema = serde_json::json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
    });
    schema["properties"] = properties;
    schema
}
