//! The event log conformance group on every backend this build has:
//! memory (directly, boxed, shared), the JSONL directory and SQLite on a
//! real file; then a model test: random calls on each durable backend
//! against the memory log, the reference (`events_support/`).
#![cfg(all(feature = "events", feature = "sqlite"))]

mod events_support;

use std::sync::Arc;

use checkpointer::conformance::events::BlockingAsyncEventLog;
use checkpointer::event_log_suite;
use checkpointer::events::{
    EventLog, JsonlEventLog, MemoryEventLog, SqliteEventLog, open_event_log,
};
use events_support::model_test;
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
