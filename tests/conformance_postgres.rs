//! The conformance suite for `PostgresSaver` (feature `postgres`), each
//! case in a fresh schema: directly, through the async wrapper and as
//! `Box<dyn BaseCheckpointSaver>`. Needs `CHECKPOINTER_PG_URL`.
#![cfg(feature = "postgres")]

mod pg_support;

use checkpointer::conformance::BlockingAsync;
use checkpointer::{BaseCheckpointSaver, conformance_suite};

conformance_suite!(
    postgres,
    match crate::pg_support::fresh("conformance") {
        Some(made) => made,
        None => return,
    }
);

conformance_suite!(
    postgres_async,
    match crate::pg_support::fresh("conformance") {
        Some((saver, schema)) => (BlockingAsync::new(saver), schema),
        None => return,
    }
);

conformance_suite!(
    postgres_dyn,
    match crate::pg_support::fresh("conformance") {
        Some((saver, schema)) => (Box::new(saver) as Box<dyn BaseCheckpointSaver>, schema),
        None => return,
    }
);
