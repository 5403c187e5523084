//! An event of a run: purpose-agent's `PAEvent`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::kind::{EventKind, Visibility};

/// One event of a run, in purpose-agent's `PAEvent.to_dict()` shape (the
/// fields serialize in its key order).
///
/// Keys this crate does not know, at the top level and in `payload`, are
/// kept: they read into [`extra`](Event::extra) and `payload` and are
/// written back as they were. A missing key reads as purpose-agent's
/// default, except `span_id`, which reads as `""` (purpose-agent makes a
/// random one on every read) and `ts`, which reads as `0.0` (purpose-agent
/// takes the time of the read).
///
/// ```
/// use checkpointer::events::{Event, EventKind};
/// use serde_json::json;
///
/// let event = Event::new("run-1", EventKind::ToolResult)
///     .with_seq(3)
///     .with_payload(json!({"tool": "search", "hits": 2}));
/// assert_eq!(event.lane_id, "main");
/// assert_eq!(serde_json::to_value(&event)?["kind"], "tool.result");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The run.
    pub run_id: String,
    /// The session that groups runs (a conversation); `""` by default.
    #[serde(default)]
    pub session_id: String,
    /// The lane (parallel branch) of the run; `"main"` by default.
    #[serde(default = "main_lane")]
    pub lane_id: String,
    /// This event's id.
    #[serde(default)]
    pub span_id: String,
    /// The enclosing event's id (run, agent, tool nesting).
    #[serde(default)]
    pub parent_span_id: Option<String>,
    /// The sequence number, increasing within a lane, from 1.
    #[serde(default)]
    pub seq: u64,
    /// Unix time in seconds.
    #[serde(default)]
    pub ts: f64,
    /// What happened.
    pub kind: EventKind,
    /// Who may see it.
    #[serde(default)]
    pub visibility: Visibility,
    /// The event's data; any keys.
    #[serde(default)]
    pub payload: Map<String, Value>,
    /// Top-level keys beyond purpose-agent's, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn main_lane() -> String {
    MAIN_LANE.to_owned()
}

/// The lane of an event that names none.
pub const MAIN_LANE: &str = "main";

impl Event {
    /// An event of `run_id` of `kind`, now, in lane `main` with seq 1, a
    /// new random span id and an empty payload.
    pub fn new(run_id: impl Into<String>, kind: EventKind) -> Self {
        Event {
            run_id: run_id.into(),
            session_id: String::new(),
            lane_id: main_lane(),
            span_id: new_span_id(),
            parent_span_id: None,
            seq: 1,
            ts: unix_now(),
            kind,
            visibility: Visibility::Public,
            payload: Map::new(),
            extra: Map::new(),
        }
    }

    /// Sets the sequence number.
    #[must_use]
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }

    /// Sets the lane.
    #[must_use]
    pub fn with_lane(mut self, lane_id: impl Into<String>) -> Self {
        self.lane_id = lane_id.into();
        self
    }

    /// Sets the session.
    #[must_use]
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = session_id.into();
        self
    }

    /// Sets the parent span.
    #[must_use]
    pub fn with_parent_span(mut self, parent_span_id: impl Into<String>) -> Self {
        self.parent_span_id = Some(parent_span_id.into());
        self
    }

    /// Sets the visibility.
    #[must_use]
    pub fn with_visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = visibility;
        self
    }

    /// Sets the time (Unix seconds).
    #[must_use]
    pub fn with_ts(mut self, ts: f64) -> Self {
        self.ts = ts;
        self
    }

    /// Sets the payload: the keys of `payload` when it is an object,
    /// otherwise `{"value": payload}`.
    #[must_use]
    pub fn with_payload(mut self, payload: Value) -> Self {
        self.payload = match payload {
            Value::Object(map) => map,
            other => Map::from_iter([("value".to_owned(), other)]),
        };
        self
    }

    /// purpose-agent's `is_terminal`: see [`EventKind::is_terminal`].
    pub fn is_terminal(&self) -> bool {
        self.kind.is_terminal()
    }
}

/// A new span id: 12 random hex digits, as purpose-agent's
/// `uuid4().hex[:12]`.
pub fn new_span_id() -> String {
    format!("{:012x}", fastrand::u64(..) >> 16)
}

/// The time now in Unix seconds (0 before 1970).
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
