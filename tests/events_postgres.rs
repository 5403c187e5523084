//! The event log conformance group on `PostgresEventLog` (feature
//! `postgres`), each case in a fresh schema, directly and by URL.
//! Needs `CHECKPOINTER_PG_URL` (`. .ci/postgres` starts a server).
#![cfg(all(feature = "postgres", feature = "events"))]

mod pg_support;

use checkpointer::event_log_suite;
use checkpointer::events::{PostgresEventLog, open_event_log};

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
