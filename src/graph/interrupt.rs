//! Interrupts, and the `Command` that answers them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::task::SendTo;

/// A pause a node asked for with
/// [`NodeContext::interrupt`](crate::graph::NodeContext::interrupt): the
/// value it showed the human, and the id to answer it by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interrupt {
    /// What the node passed to `interrupt`.
    pub value: Value,
    /// Stable id of this interrupt (its task and its position in the task),
    /// the key of [`Command::resume_map`].
    pub id: String,
}

/// The signal `interrupt` returns when there is no answer yet. Propagate it
/// with `?`: it converts into [`NodeError`](crate::graph::NodeError), and
/// the runner records the interrupt instead of an error.
#[derive(Clone, Debug, PartialEq)]
pub struct Interrupted(pub Interrupt);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted: {}", self.0.value)
    }
}

/// Where to go next: a node by name, or a [`SendTo`] packet.
///
/// Routers and [`Command::goto`] return these; `&str`, `String` and
/// [`SendTo`] convert into it. [`END`](crate::graph::END) as a node means
/// "nowhere".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Goto {
    /// Run this node in the next step (with the whole state).
    Node(String),
    /// Run `SendTo::node` in the next step with `SendTo::arg` as its state.
    Send(SendTo),
}

impl From<&str> for Goto {
    fn from(node: &str) -> Self {
        Goto::Node(node.to_owned())
    }
}

impl From<String> for Goto {
    fn from(node: String) -> Self {
        Goto::Node(node)
    }
}

impl From<SendTo> for Goto {
    fn from(send: SendTo) -> Self {
        Goto::Send(send)
    }
}

/// What a router returns: zero or more [`Goto`]s.
///
/// Converts from a node name, a list of names, a [`SendTo`] or a list of
/// them, so a router can return `"node"`, `vec!["a", "b"]` or
/// `vec![SendTo::new("n", json!(..))]` directly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route(pub Vec<Goto>);

impl From<&str> for Route {
    fn from(node: &str) -> Self {
        Route(vec![node.into()])
    }
}

impl From<String> for Route {
    fn from(node: String) -> Self {
        Route(vec![node.into()])
    }
}

impl From<SendTo> for Route {
    fn from(send: SendTo) -> Self {
        Route(vec![send.into()])
    }
}

impl<T: Into<Goto>> From<Vec<T>> for Route {
    fn from(list: Vec<T>) -> Self {
        Route(list.into_iter().map(Into::into).collect())
    }
}

/// Continues a thread: answers interrupts, updates the state and/or says
/// which nodes run next. Pass it as the input of `invoke` or `stream`.
///
/// ```
/// use checkpointer::graph::Command;
/// use serde_json::json;
///
/// let cmd = Command::resume(json!("approved"))
///     .with_update(json!({"reviewer": "ann"}))
///     .with_goto("publish");
/// assert_eq!(cmd.resume, Some(json!("approved")));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Command {
    /// The answer to the pending interrupt (the first `interrupt` call that
    /// has no answer yet gets it).
    pub resume: Option<Value>,
    /// Answers by [`Interrupt::id`], for runs stopped on several interrupts.
    pub resume_map: BTreeMap<String, Value>,
    /// Values written to state channels (through their reducers) before the
    /// next step.
    pub update: Option<Value>,
    /// Nodes (or Send packets) to run in the next step.
    pub goto: Vec<Goto>,
}

impl Command {
    /// An empty command.
    pub fn new() -> Self {
        Command::default()
    }

    /// A command that answers the pending interrupt with `value`.
    pub fn resume(value: impl Into<Value>) -> Self {
        Command {
            resume: Some(value.into()),
            ..Command::default()
        }
    }

    /// A command that answers interrupts by id.
    pub fn resume_map(answers: impl IntoIterator<Item = (String, Value)>) -> Self {
        Command {
            resume_map: answers.into_iter().collect(),
            ..Command::default()
        }
    }

    /// The same command, also writing `update` (a JSON object) to the state.
    #[must_use]
    pub fn with_update(mut self, update: impl Into<Value>) -> Self {
        self.update = Some(update.into());
        self
    }

    /// The same command, also running `goto` in the next step.
    #[must_use]
    pub fn with_goto(mut self, goto: impl Into<Goto>) -> Self {
        self.goto.push(goto.into());
        self
    }
}
