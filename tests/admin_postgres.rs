//! The `CheckpointAdmin` cases (`admin_suite`) on `PostgresSaver`, each in
//! a fresh schema. Needs `CHECKPOINTER_PG_URL` (see `pg_support`).
#![cfg(feature = "postgres")]

mod admin_suite;
mod pg_support;

use admin_suite::Store;

admin_suite!(
    postgres,
    match crate::pg_support::fresh("admin_suite") {
        Some((saver, schema)) => Store {
            admin: Box::new(saver),
            on_disk: true,
            guard: Some(Box::new(schema)),
        },
        None => return,
    }
);
