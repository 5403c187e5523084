//! The event log conformance group on `PostgresEventLog` (feature
//! `postgres`), each case in a fresh schema, directly and by URL; then
//! the model test of `events.rs` (`events_support/`) against the memory
//! log, a fresh schema per seed.
//! Needs `CHECKPOINTER_PG_URL` (`. .ci/postgres` starts a server).
#![cfg(all(feature = "postgres", feature = "events"))]

mod events_support;
mod pg_support;

use checkpointer::event_log_suite;
use checkpointer::events::{PostgresEventLog, open_event_log};
use events_support::model_test;

event_log_suite!(
    postgres,
    match crate::pg_support::server_url("events_postgres") {
        Some(url) => {
            let schema = crate::pg_support::Schema::new(&url);
            (
                PostgresEventLog::open(&schema.url()).expect("open the event log"),
                schema,
            )
        }
        None => return,
    }
);

event_log_suite!(
    postgres_by_url,
    match crate::pg_support::server_url("events_postgres") {
        Some(url) => {
            let schema = crate::pg_support::Schema::new(&url);
            (open_event_log(&schema.url()).expect("open by URL"), schema)
        }
        None => return,
    }
);

#[test]
fn postgres_matches_the_memory_model() {
    let Some(url) = pg_support::server_url("postgres_matches_the_memory_model") else {
        return;
    };
    for seed in 0..5 {
        let schema = pg_support::Schema::new(&url);
        let log = PostgresEventLog::open(&schema.url()).expect("open the event log");
        model_test(&log, seed);
    }
}
