//! The lease conformance group on `PostgresSaver` (feature `postgres`),
//! each case in a fresh schema: directly, through the async wrapper and
//! as `Box<dyn ThreadLeases>`.
//! Needs `CHECKPOINTER_PG_URL` (`. .ci/postgres` starts a server).
#![cfg(feature = "postgres")]

mod pg_support;

use checkpointer::conformance::BlockingAsync;
use checkpointer::{ThreadLeases, lease_suite};

lease_suite!(
    postgres,
    match crate::pg_support::fresh("conformance_lease") {
        Some(made) => made,
        None => return,
    }
);

lease_suite!(
    postgres_dyn,
    match crate::pg_support::fresh("conformance_lease") {
        Some((saver, schema)) => (Box::new(saver) as Box<dyn ThreadLeases>, schema),
        None => return,
    }
);

lease_suite!(
    postgres_async,
    match crate::pg_support::fresh("conformance_lease") {
        Some((saver, schema)) => (BlockingAsync::new(saver), schema),
        None => return,
    }
);
