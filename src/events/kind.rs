//! What an event says happened, and who may see it.

use serde::{Deserialize, Serialize};

/// purpose-agent's 27 event kinds, spelled as it spells them.
///
/// An event whose kind is not one of these is refused when read
/// ([`EventError::Corrupt`](super::EventError::Corrupt)), as purpose-agent
/// refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `run.started`
    RunStarted,
    /// `run.finished` (terminal)
    RunFinished,
    /// `run.error` (terminal)
    RunError,
    /// `agent.started`
    AgentStarted,
    /// `agent.progress` (purpose-agent's default kind)
    AgentProgress,
    /// `agent.finished` (terminal)
    AgentFinished,
    /// `agent.error` (terminal)
    AgentError,
    /// `reasoning.summary`
    ReasoningSummary,
    /// `model.request`
    ModelRequest,
    /// `model.response`
    ModelResponse,
    /// `text.delta`
    TextDelta,
    /// `text.done`
    TextDone,
    /// `tool.started`
    ToolStarted,
    /// `tool.args`
    ToolArgs,
    /// `tool.result`
    ToolResult,
    /// `tool.error`
    ToolError,
    /// `state.snapshot`
    StateSnapshot,
    /// `state.delta`
    StateDelta,
    /// `checkpoint.saved`
    CheckpointSaved,
    /// `human.approval.requested`
    HumanApprovalRequested,
    /// `human.approval.received`
    HumanApprovalReceived,
    /// `memory.candidate`
    MemoryCandidate,
    /// `memory.promoted`
    MemoryPromoted,
    /// `memory.archived`
    MemoryArchived,
    /// `skill.selected`
    SkillSelected,
    /// `skill.updated`
    SkillUpdated,
    /// `skill.rollback`
    SkillRollback,
}

impl EventKind {
    /// Every kind, in purpose-agent's order.
    pub const ALL: [EventKind; 27] = [
        EventKind::RunStarted,
        EventKind::RunFinished,
        EventKind::RunError,
        EventKind::AgentStarted,
        EventKind::AgentProgress,
        EventKind::AgentFinished,
        EventKind::AgentError,
        EventKind::ReasoningSummary,
        EventKind::ModelRequest,
        EventKind::ModelResponse,
        EventKind::TextDelta,
        EventKind::TextDone,
        EventKind::ToolStarted,
        EventKind::ToolArgs,
        EventKind::ToolResult,
        EventKind::ToolError,
        EventKind::StateSnapshot,
        EventKind::StateDelta,
        EventKind::CheckpointSaved,
        EventKind::HumanApprovalRequested,
        EventKind::HumanApprovalReceived,
        EventKind::MemoryCandidate,
        EventKind::MemoryPromoted,
        EventKind::MemoryArchived,
        EventKind::SkillSelected,
        EventKind::SkillUpdated,
        EventKind::SkillRollback,
    ];

    /// The kind's string, e.g. `"tool.result"`.
    pub fn as_str(self) -> &'static str {
        KIND_NAMES[self as usize]
    }

    /// The kind a string names, or `None` for a string that is not one of
    /// the 27.
    pub fn parse(s: &str) -> Option<EventKind> {
        KIND_NAMES
            .iter()
            .position(|name| *name == s)
            .map(|i| Self::ALL[i])
    }

    /// `run.finished`, `run.error`, `agent.finished` and `agent.error`:
    /// purpose-agent's `TERMINAL_KINDS`, delivered even under backpressure.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EventKind::RunFinished
                | EventKind::RunError
                | EventKind::AgentFinished
                | EventKind::AgentError
        )
    }
}

/// The names of [`EventKind::ALL`], in the same order.
const KIND_NAMES: [&str; 27] = [
    "run.started",
    "run.finished",
    "run.error",
    "agent.started",
    "agent.progress",
    "agent.finished",
    "agent.error",
    "reasoning.summary",
    "model.request",
    "model.response",
    "text.delta",
    "text.done",
    "tool.started",
    "tool.args",
    "tool.result",
    "tool.error",
    "state.snapshot",
    "state.delta",
    "checkpoint.saved",
    "human.approval.requested",
    "human.approval.received",
    "memory.candidate",
    "memory.promoted",
    "memory.archived",
    "skill.selected",
    "skill.updated",
    "skill.rollback",
];

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        EventKind::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event kind {s:?}")))
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may see an event (purpose-agent's `Visibility`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Safe for UIs, logs and external consumers (the default).
    #[default]
    Public,
    /// Framework internals.
    Internal,
    /// Verbose debugging, never in production streams.
    Debug,
}
