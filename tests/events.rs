//! The event log conformance group on every backend this build has:
//! memory (directly, boxed, shared), the JSONL directory and SQLite on a
//! real file; then a model test: random calls on each durable backend
//! against the memory log, the reference.
#![cfg(all(feature = "events", feature = "sqlite"))]

use std::sync::Arc;

use checkpointer::conformance::events::BlockingAsyncEventLog;
use checkpointer::event_log_suite;
use checkpointer::events::{
    Event, EventKind, EventLog, JsonlEventLog, MemoryEventLog, RunState, SqliteEventLog,
    open_event_log,
};
use serde_json::json;
use tempfile::TempDir;

fn jsonl() -> (JsonlEventLog, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (
        JsonlEventLog::open(dir.path().join("runs")).expect("open"),
        dir,
    )
}

fn sqlite() -> (SqliteEventLog, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (
        SqliteEventLog::open(dir.path().join("events.db")).expect("open"),
        dir,
    )
}

event_log_suite!(memory, (MemoryEventLog::new(), ()));
event_log_suite!(
    boxed,
    (Box::new(MemoryEventLog::new()) as Box<dyn EventLog>, ())
);
event_log_suite!(
    shared,
    (Arc::new(MemoryEventLog::new()) as Arc<dyn EventLog>, ())
);
event_log_suite!(
    memory_async,
    (BlockingAsyncEventLog::new(MemoryEventLog::new()), ())
);
event_log_suite!(sqlite_async, {
    let (log, dir) = sqlite();
    (BlockingAsyncEventLog::new(log), dir)
});
event_log_suite!(jsonl_dir, jsonl());
event_log_suite!(sqlite_file, sqlite());
event_log_suite!(jsonl_by_url, {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("jsonl://{}", dir.path().display());
    (open_event_log(&url).expect("open by URL"), dir)
});
event_log_suite!(sqlite_by_url, {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("e.db").display());
    (open_event_log(&url).expect("open by URL"), dir)
});

/// One random call, applied to both logs; their answers must agree.
fn step(rng: &mut fastrand::Rng, runs: &[&str], model: &MemoryEventLog, real: &dyn EventLog) {
    let run = runs[rng.usize(..runs.len())];
    match rng.u8(..10) {
        0..=4 => {
            let kind = EventKind::ALL[rng.usize(..EventKind::ALL.len())];
            let event = Event::new(run, kind)
                .with_seq(rng.u64(0..12))
                .with_lane(["main", "b"][rng.usize(..2)])
                .with_payload(json!({"n": rng.u32(..), "s": "é"}));
            let want = model.save_event(&event).map_err(|e| e.to_string());
            let got = real.save_event(&event).map_err(|e| e.to_string());
            assert_eq!(got, want, "save_event {event:?}");
        }
        5..=6 => {
            let since = rng.u64(0..12);
            assert_eq!(
                real.list_events(run, since).expect("list_events"),
                model.list_events(run, since).expect("list_events"),
                "list_events({run:?}, {since})"
            );
        }
        7 => {
            let mut state = RunState::new(run);
            state.current_step = rng.u64(..100);
            model.save_snapshot(run, &state).expect("save_snapshot");
            real.save_snapshot(run, &state).expect("save_snapshot");
        }
        8 => {
            assert_eq!(
                real.load_latest(run).expect("load"),
                model.load_latest(run).expect("load")
            );
            assert_eq!(
                real.list_runs().expect("runs"),
                model.list_runs().expect("runs")
            );
        }
        _ => {
            model.delete_run(run).expect("delete_run");
            real.delete_run(run).expect("delete_run");
        }
    }
}

fn model_test(real: &dyn EventLog, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let model = MemoryEventLog::new();
    let runs = ["r1", "r2", "../r3", "https://x/r4"];
    for _ in 0..400 {
        step(&mut rng, &runs, &model, real);
    }
    for run in runs {
        assert_eq!(
            real.list_events(run, 0).expect("list"),
            model.list_events(run, 0).expect("list")
        );
    }
}

#[test]
fn jsonl_matches_the_memory_model() {
    for seed in 0..5 {
        let (log, _dir) = jsonl();
        model_test(&log, seed);
    }
}

#[test]
fn sqlite_matches_the_memory_model() {
    for seed in 0..5 {
        let (log, _dir) = sqlite();
        model_test(&log, seed);
    }
}

#[test]
fn unknown_urls_are_refused_with_the_reason() {
    for (url, reason) in [
        ("ftp://x", "unknown scheme"),
        ("jsonl://", "no path"),
        ("memory://x", "nothing after"),
        ("no-scheme", "SCHEME://"),
    ] {
        let err = open_event_log(url).expect_err(url).to_string();
        assert!(err.contains(reason) && err.contains(url), "{url}: {err}");
    }
    #[cfg(not(feature = "postgres"))]
    assert!(
        open_event_log("postgres://h/db")
            .expect_err("no pg")
            .to_string()
            .contains("feature `postgres`")
    );
}
