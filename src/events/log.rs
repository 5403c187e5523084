//! The event log contract.

use super::error::{EventError, EventResult};
use super::event::Event;
use super::state::RunState;

/// An append-only log of the events of runs, plus the latest snapshot of
/// each run's state: after a crash a run loads its latest snapshot and the
/// events after it. purpose-agent's checkpointers do this; every backend
/// here reads and writes purpose-agent's shapes (and the JSONL and SQLite
/// backends its files).
///
/// Synchronous, `Send + Sync` and `dyn`-safe, like
/// [`BaseCheckpointSaver`](crate::BaseCheckpointSaver): front doors hold
/// an `Arc<dyn EventLog>`.
///
/// # Contract
///
/// Every backend guarantees, and the conformance suite
/// (`checkpointer::conformance::events`) checks:
///
/// - **Sequence numbers start at 1.** `save_event` refuses `seq == 0`
///   ([`EventError::InvalidSeq`]): purpose-agent's default seq is 0, and
///   its durable backends never return such an event.
/// - **One `since_seq` rule.** `list_events(run, since)` returns the
///   run's events with `seq > since`, for every `since` including 0 (so
///   `since = 0` is "all of them"). purpose-agent's backends disagree here
///   (its in-memory log ignores the filter when `since` is 0); this crate
///   does not.
/// - **Order.** Events come back by `seq` ascending; events of different
///   lanes with the same `seq` come back in the order they were saved.
/// - **Unique numbers.** A second event with the same `(run_id, lane_id,
///   seq)` is refused ([`EventError::DuplicateSeq`]) and changes nothing.
/// - **Events as saved.** An event comes back equal to what was saved,
///   unknown payload and top-level keys included.
/// - **One snapshot per run.** `save_snapshot` replaces the run's
///   snapshot; `load_latest` gives the last one saved, or `None`.
///   Snapshots and events are independent: a snapshot needs no event and
///   the reverse.
/// - **`list_runs`** gives the runs that have a snapshot, the most
///   recently snapshotted first.
/// - **`delete_run`** removes the run's events and snapshot; it is a
///   no-op for an unknown run. Other runs are untouched.
/// - **Run ids.** An empty run id is refused ([`EventError::EmptyRunId`]);
///   any other string is a valid run id, and a file backend never uses an
///   id that is unsafe as a file name as a path (see
///   [`run_dir_name`](super::run_dir_name)).
/// - Reads never create anything.
///
/// ```
/// use checkpointer::events::{Event, EventKind, EventLog, MemoryEventLog, RunState};
///
/// let log = MemoryEventLog::new();
/// for (seq, kind) in [(1, EventKind::RunStarted), (2, EventKind::ToolStarted), (3, EventKind::ToolResult)] {
///     log.save_event(&Event::new("run-1", kind).with_seq(seq))?;
/// }
/// log.save_snapshot("run-1", &RunState::new("run-1"))?;
///
/// // After a crash: the latest snapshot, then what happened after it.
/// let state = log.load_latest("run-1")?.expect("saved above");
/// let after: Vec<u64> = log.list_events("run-1", 1)?.iter().map(|e| e.seq).collect();
/// assert_eq!(after, [2, 3]);
/// assert_eq!(log.list_runs()?, ["run-1"]);
/// # let _ = state;
/// # Ok::<(), checkpointer::events::EventError>(())
/// ```
pub trait EventLog: Send + Sync + std::fmt::Debug {
    /// Appends `event` to its run's log.
    fn save_event(&self, event: &Event) -> EventResult<()>;

    /// The events of `run_id` with `seq > since_seq`, by `seq`.
    fn list_events(&self, run_id: &str, since_seq: u64) -> EventResult<Vec<Event>>;

    /// Stores `state` as the latest snapshot of `run_id`, replacing the
    /// previous one.
    fn save_snapshot(&self, run_id: &str, state: &RunState) -> EventResult<()>;

    /// The latest snapshot of `run_id`, or `None`.
    fn load_latest(&self, run_id: &str) -> EventResult<Option<RunState>>;

    /// Removes the events and the snapshot of `run_id`.
    fn delete_run(&self, run_id: &str) -> EventResult<()>;

    /// The runs with a snapshot, the most recently snapshotted first.
    fn list_runs(&self) -> EventResult<Vec<String>>;

    /// The highest `seq` of `run_id` in `lane_id`, or 0 for none. The
    /// default reads every event of the run; backends with an index
    /// answer it directly.
    fn last_seq(&self, run_id: &str, lane_id: &str) -> EventResult<u64> {
        Ok(self
            .list_events(run_id, 0)?
            .iter()
            .filter(|e| e.lane_id == lane_id)
            .map(|e| e.seq)
            .max()
            .unwrap_or(0))
    }
}

macro_rules! forward_event_log {
    ($($ty:ty),*) => {$(
        impl<L: EventLog + ?Sized> EventLog for $ty {
            fn save_event(&self, event: &Event) -> EventResult<()> {
                (**self).save_event(event)
            }
            fn list_events(&self, run_id: &str, since_seq: u64) -> EventResult<Vec<Event>> {
                (**self).list_events(run_id, since_seq)
            }
            fn save_snapshot(&self, run_id: &str, state: &RunState) -> EventResult<()> {
                (**self).save_snapshot(run_id, state)
            }
            fn load_latest(&self, run_id: &str) -> EventResult<Option<RunState>> {
                (**self).load_latest(run_id)
            }
            fn delete_run(&self, run_id: &str) -> EventResult<()> {
                (**self).delete_run(run_id)
            }
            fn list_runs(&self) -> EventResult<Vec<String>> {
                (**self).list_runs()
            }
            fn last_seq(&self, run_id: &str, lane_id: &str) -> EventResult<u64> {
                (**self).last_seq(run_id, lane_id)
            }
        }
    )*};
}

forward_event_log!(Box<L>, std::sync::Arc<L>);

/// The input checks of the contract, for backends: refuses an empty run
/// id.
pub fn check_run_id(operation: &'static str, run_id: &str) -> EventResult<()> {
    if run_id.is_empty() {
        return Err(EventError::EmptyRunId { operation });
    }
    Ok(())
}

/// The input checks of `save_event`, for backends: an empty run id and
/// `seq == 0` are refused.
pub fn check_event(event: &Event) -> EventResult<()> {
    check_run_id("save_event", &event.run_id)?;
    if event.seq == 0 {
        return Err(EventError::InvalidSeq {
            run_id: event.run_id.clone(),
            lane_id: event.lane_id.clone(),
        });
    }
    Ok(())
}

/// The [`EventError::DuplicateSeq`] of `event`.
pub fn duplicate(event: &Event) -> EventError {
    EventError::DuplicateSeq {
        run_id: event.run_id.clone(),
        lane_id: event.lane_id.clone(),
        seq: event.seq,
    }
}

/// Applies the `since_seq` rule and the order of the contract to events in
/// the order they were saved: keeps `seq > since_seq`, then sorts by `seq`
/// (stable, so equal numbers keep their saved order).
pub fn select_since(events: impl IntoIterator<Item = Event>, since_seq: u64) -> Vec<Event> {
    let mut kept: Vec<Event> = events.into_iter().filter(|e| e.seq > since_seq).collect();
    kept.sort_by_key(|e| e.seq);
    kept
}
