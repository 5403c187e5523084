//! The event log conformance group: what every
//! [`EventLog`] must do (its `# Contract`), as
//! plain functions over `&dyn EventLog`, run with
//! [`event_log_suite!`](crate::event_log_suite):
//!
//! ```
//! use checkpointer::event_log_suite;
//! use checkpointer::events::MemoryEventLog;
//!
//! event_log_suite!(memory, (MemoryEventLog::new(), ()));
//! # fn main() {}
//! ```

use serde_json::json;

use crate::events::{
    AsyncEventLog, Event, EventError, EventKind, EventLog, EventResult, RunState, RunStatus,
};

/// A case of the event log group.
pub type EventLogCase = fn(&dyn EventLog);

/// Runs `case` on the log of `made`, then drops the log before its guard.
pub fn run_event_log_case<L: EventLog, G>(made: (L, G), case: EventLogCase) {
    let (log, guard) = made;
    case(&log as &dyn EventLog);
    drop(log);
    drop(guard);
}

/// An [`AsyncEventLog`] driven through the synchronous trait on a runtime
/// of its own, so the async wrapper runs the group through its real async
/// path (`spawn_blocking` on a multi-thread runtime).
#[derive(Debug)]
pub struct BlockingAsyncEventLog {
    runtime: tokio::runtime::Runtime,
    log: AsyncEventLog,
}

impl BlockingAsyncEventLog {
    /// Wraps `log` in an [`AsyncEventLog`] and a runtime of two workers.
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built: this is a test helper.
    pub fn new(log: impl EventLog + 'static) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build a tokio runtime for BlockingAsyncEventLog");
        BlockingAsyncEventLog {
            runtime,
            log: AsyncEventLog::new(log),
        }
    }
}

impl EventLog for BlockingAsyncEventLog {
    fn save_event(&self, event: &Event) -> EventResult<()> {
        self.runtime.block_on(self.log.save_event(event.clone()))
    }
    fn list_events(&self, run_id: &str, since_seq: u64) -> EventResult<Vec<Event>> {
        self.runtime
            .block_on(self.log.list_events(run_id, since_seq))
    }
    fn save_snapshot(&self, run_id: &str, state: &RunState) -> EventResult<()> {
        self.runtime
            .block_on(self.log.save_snapshot(run_id, state.clone()))
    }
    fn load_latest(&self, run_id: &str) -> EventResult<Option<RunState>> {
        self.runtime.block_on(self.log.load_latest(run_id))
    }
    fn delete_run(&self, run_id: &str) -> EventResult<()> {
        self.runtime.block_on(self.log.delete_run(run_id))
    }
    fn list_runs(&self) -> EventResult<Vec<String>> {
        self.runtime.block_on(self.log.list_runs())
    }
    fn last_seq(&self, run_id: &str, lane_id: &str) -> EventResult<u64> {
        self.runtime.block_on(self.log.last_seq(run_id, lane_id))
    }
}

/// A fresh run id with `prefix`.
fn run(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand::u64(..))
}

fn event(run_id: &str, seq: u64, kind: EventKind) -> Event {
    Event::new(run_id, kind)
        .with_seq(seq)
        .with_ts(1_700_000_000.25 + f64::from(u32::try_from(seq).unwrap_or(0)))
}

fn save(log: &dyn EventLog, e: &Event) {
    log.save_event(e)
        .unwrap_or_else(|err| panic!("save_event seq {} of {:?}: {err}", e.seq, e.run_id));
}

fn seqs(log: &dyn EventLog, run_id: &str, since: u64) -> Vec<(String, u64)> {
    log.list_events(run_id, since)
        .unwrap_or_else(|err| panic!("list_events({run_id:?}, {since}): {err}"))
        .into_iter()
        .map(|e| (e.lane_id, e.seq))
        .collect()
}

fn main_seqs(list: &[u64]) -> Vec<(String, u64)> {
    list.iter().map(|s| ("main".to_owned(), *s)).collect()
}

/// An event comes back equal to what was saved, unknown payload and
/// top-level keys, unicode and every field included.
pub fn event_roundtrip_keeps_unknown_keys(log: &dyn EventLog) {
    let id = run("roundtrip");
    let mut e = event(&id, 1, EventKind::ToolResult)
        .with_session("session-1")
        .with_parent_span("parent000001")
        .with_visibility(crate::events::Visibility::Internal)
        .with_payload(json!({"tool": "search", "nested": {"a": [1, 2.5, null]}, "名前": "ü😀"}));
    e.extra.insert("future_key".to_owned(), json!({"x": 1}));
    save(log, &e);
    let back = log.list_events(&id, 0).expect("list_events");
    assert_eq!(
        back,
        vec![e],
        "the event read back differs from the one saved"
    );
}

/// `list_events(run, since)` keeps `seq > since`, for every `since`
/// including 0.
pub fn events_since_rule(log: &dyn EventLog) {
    let id = run("since");
    for seq in 1..=5 {
        save(log, &event(&id, seq, EventKind::AgentProgress));
    }
    assert_eq!(
        seqs(log, &id, 0),
        main_seqs(&[1, 2, 3, 4, 5]),
        "since 0 is all"
    );
    assert_eq!(
        seqs(log, &id, 2),
        main_seqs(&[3, 4, 5]),
        "since 2 is exclusive"
    );
    assert_eq!(seqs(log, &id, 5), main_seqs(&[]), "since the last is none");
    assert_eq!(
        seqs(log, &id, 99),
        main_seqs(&[]),
        "since beyond the last is none"
    );
}

/// Events come back by `seq`; equal numbers of different lanes in the
/// order they were saved.
pub fn events_ordered_by_seq(log: &dyn EventLog) {
    let id = run("order");
    for (lane, seq) in [("main", 3), ("b", 1), ("main", 1), ("b", 2), ("main", 2)] {
        save(log, &event(&id, seq, EventKind::TextDelta).with_lane(lane));
    }
    let got = seqs(log, &id, 0);
    let want: Vec<(String, u64)> = [("b", 1), ("main", 1), ("b", 2), ("main", 2), ("main", 3)]
        .iter()
        .map(|(l, s)| ((*l).to_owned(), *s))
        .collect();
    assert_eq!(got, want, "order by seq, ties in save order");
}

/// `seq == 0` is refused and changes nothing.
pub fn event_seq_zero_refused(log: &dyn EventLog) {
    let id = run("zero");
    let err = log
        .save_event(&event(&id, 0, EventKind::RunStarted))
        .expect_err("seq 0 must be refused");
    assert!(matches!(err, EventError::InvalidSeq { .. }), "got {err:?}");
    assert_eq!(seqs(log, &id, 0), main_seqs(&[]));
}

/// A second `(run, lane, seq)` is refused and changes nothing; the same
/// seq in another lane or run is fine.
pub fn event_duplicate_seq_refused(log: &dyn EventLog) {
    let id = run("dup");
    let other = run("dup-other");
    save(log, &event(&id, 1, EventKind::RunStarted));
    let err = log
        .save_event(&event(&id, 1, EventKind::RunError))
        .expect_err("a repeated (run, lane, seq) must be refused");
    match err {
        EventError::DuplicateSeq {
            run_id,
            lane_id,
            seq,
        } => {
            assert_eq!(
                (run_id.as_str(), lane_id.as_str(), seq),
                (id.as_str(), "main", 1)
            );
        }
        other => panic!("expected DuplicateSeq, got {other:?}"),
    }
    save(log, &event(&id, 1, EventKind::RunStarted).with_lane("side"));
    save(log, &event(&other, 1, EventKind::RunStarted));
    let kinds: Vec<EventKind> = log
        .list_events(&id, 0)
        .expect("list")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::RunStarted, EventKind::RunStarted],
        "the refused event was stored"
    );
}

/// Runs do not see each other's events.
pub fn events_runs_isolated(log: &dyn EventLog) {
    let (a, b) = (run("iso-a"), run("iso-b"));
    save(log, &event(&a, 1, EventKind::RunStarted));
    save(log, &event(&b, 1, EventKind::RunStarted));
    save(log, &event(&b, 2, EventKind::RunFinished));
    assert_eq!(seqs(log, &a, 0), main_seqs(&[1]));
    assert_eq!(seqs(log, &b, 0), main_seqs(&[1, 2]));
    assert_eq!(seqs(log, &run("iso-none"), 0), main_seqs(&[]));
}

/// `save_snapshot` replaces; `load_latest` gives the last, or `None`.
pub fn snapshot_replaced_and_loaded(log: &dyn EventLog) {
    let id = run("snap");
    assert_eq!(log.load_latest(&id).expect("load_latest"), None);
    let mut state = RunState::new(&id);
    "index the repo".clone_into(&mut state.purpose);
    log.save_snapshot(&id, &state).expect("save_snapshot");
    state.status = RunStatus::Completed;
    state.current_step = 7;
    state.data.insert("k".to_owned(), json!({"deep": ["é", 1]}));
    state.extra.insert("unknown".to_owned(), json!(true));
    state.action_history = (0..60).map(|i| json!({"step": i})).collect();
    log.save_snapshot(&id, &state).expect("save_snapshot again");
    assert_eq!(
        log.load_latest(&id).expect("load_latest"),
        Some(state),
        "not the last snapshot, as saved"
    );
}

/// A snapshot needs no events and events need no snapshot.
pub fn snapshot_independent_of_events(log: &dyn EventLog) {
    let (with_events, with_snapshot) = (run("indep-ev"), run("indep-snap"));
    save(log, &event(&with_events, 1, EventKind::RunStarted));
    log.save_snapshot(&with_snapshot, &RunState::new(&with_snapshot))
        .expect("save_snapshot");
    assert_eq!(log.load_latest(&with_events).expect("load"), None);
    assert_eq!(seqs(log, &with_snapshot, 0), main_seqs(&[]));
    let runs = log.list_runs().expect("list_runs");
    assert!(
        runs.contains(&with_snapshot) && !runs.contains(&with_events),
        "list_runs: {runs:?}"
    );
}

/// `list_runs`: the runs with a snapshot, the most recently snapshotted
/// first.
pub fn list_runs_newest_snapshot_first(log: &dyn EventLog) {
    let ids: Vec<String> = (0..3).map(|i| run(&format!("runs{i}"))).collect();
    for id in &ids {
        log.save_snapshot(id, &RunState::new(id))
            .expect("save_snapshot");
    }
    log.save_snapshot(&ids[0], &RunState::new(&ids[0]))
        .expect("save_snapshot");
    let listed: Vec<String> = log
        .list_runs()
        .expect("list_runs")
        .into_iter()
        .filter(|r| ids.contains(r))
        .collect();
    assert_eq!(listed, [ids[0].clone(), ids[2].clone(), ids[1].clone()]);
}

/// `delete_run` removes events and snapshot of that run only; a no-op for
/// an unknown run.
pub fn delete_run_removes_only_that_run(log: &dyn EventLog) {
    let (gone, kept) = (run("del"), run("del-kept"));
    for id in [&gone, &kept] {
        save(log, &event(id, 1, EventKind::RunStarted));
        log.save_snapshot(id, &RunState::new(id))
            .expect("save_snapshot");
    }
    log.delete_run(&gone).expect("delete_run");
    assert_eq!(seqs(log, &gone, 0), main_seqs(&[]));
    assert_eq!(log.load_latest(&gone).expect("load"), None);
    assert!(!log.list_runs().expect("list_runs").contains(&gone));
    assert_eq!(seqs(log, &kept, 0), main_seqs(&[1]));
    assert!(log.load_latest(&kept).expect("load").is_some());
    log.delete_run(&run("del-unknown"))
        .expect("delete_run of an unknown run is a no-op");
    // A deleted run starts again from nothing.
    save(log, &event(&gone, 1, EventKind::RunStarted));
    assert_eq!(seqs(log, &gone, 0), main_seqs(&[1]));
}

/// Every call refuses an empty run id.
pub fn empty_run_id_refused(log: &dyn EventLog) {
    let refused = |r: Result<(), EventError>, call: &str| {
        assert!(
            matches!(r, Err(EventError::EmptyRunId { .. })),
            "{call}: {r:?}"
        );
    };
    refused(
        log.save_event(&event("", 1, EventKind::RunStarted)),
        "save_event",
    );
    refused(log.list_events("", 0).map(drop), "list_events");
    refused(log.save_snapshot("", &RunState::default()), "save_snapshot");
    refused(log.load_latest("").map(drop), "load_latest");
    refused(log.delete_run(""), "delete_run");
}

/// Run ids that are paths, URLs or unicode work like any other, and stay
/// apart.
pub fn unsafe_run_ids_work(log: &dyn EventLog) {
    let tail = run("");
    let ids = [
        format!("../escape{tail}"),
        format!("a/b{tail}"),
        format!("https://x/y?q=中文{tail}"),
        format!("..{tail}/.."),
    ];
    for (i, id) in ids.iter().enumerate() {
        let seq = u64::try_from(i).unwrap_or(0) + 1;
        save(log, &event(id, seq, EventKind::RunStarted));
        log.save_snapshot(id, &RunState::new(id))
            .expect("save_snapshot");
    }
    let runs = log.list_runs().expect("list_runs");
    for (i, id) in ids.iter().enumerate() {
        let seq = u64::try_from(i).unwrap_or(0) + 1;
        assert_eq!(seqs(log, id, 0), main_seqs(&[seq]), "events of {id:?}");
        assert_eq!(
            log.load_latest(id).expect("load").map(|s| s.run_id),
            Some(id.clone())
        );
        assert!(runs.contains(id), "list_runs lacks {id:?}: {runs:?}");
    }
}

/// `last_seq` is the highest number of a lane, 0 for none.
pub fn last_seq_per_lane(log: &dyn EventLog) {
    let id = run("last");
    assert_eq!(log.last_seq(&id, "main").expect("last_seq"), 0);
    for (lane, seq) in [("main", 1), ("main", 4), ("b", 9), ("main", 2)] {
        save(log, &event(&id, seq, EventKind::TextDelta).with_lane(lane));
    }
    assert_eq!(log.last_seq(&id, "main").expect("last_seq"), 4);
    assert_eq!(log.last_seq(&id, "b").expect("last_seq"), 9);
    assert_eq!(log.last_seq(&id, "c").expect("last_seq"), 0);
}

/// Reads of an unknown run create nothing that `list_runs` would show.
pub fn reads_create_nothing(log: &dyn EventLog) {
    let id = run("ghost");
    assert!(log.list_events(&id, 0).expect("list").is_empty());
    assert_eq!(log.load_latest(&id).expect("load"), None);
    assert_eq!(log.last_seq(&id, "main").expect("last_seq"), 0);
    assert!(!log.list_runs().expect("list_runs").contains(&id));
}

/// Emits `mod $name { ... }` with one `#[test]` per event log case.
/// `$make` gives `(log, guard)`, as for
/// [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! event_log_suite {
    ($name:ident, $make:expr $(,)?) => {
        $crate::event_log_suite! { @cases $name, $make, [
            event_roundtrip_keeps_unknown_keys,
            events_since_rule,
            events_ordered_by_seq,
            event_seq_zero_refused,
            event_duplicate_seq_refused,
            events_runs_isolated,
            snapshot_replaced_and_loaded,
            snapshot_independent_of_events,
            list_runs_newest_snapshot_first,
            delete_run_removes_only_that_run,
            empty_run_id_refused,
            unsafe_run_ids_work,
            last_seq_per_lane,
            reads_create_nothing,
        ] }
    };
    (@cases $name:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $case() {
                    $crate::conformance::events::run_event_log_case(
                        $make,
                        $crate::conformance::events::$case,
                    );
                }
            )*
        }
    };
}
