//! The conformance suite for the in-memory saver, directly, through the
//! async wrapper, behind `Box<dyn BaseCheckpointSaver>`, and with the
//! trait's default `put_with_writes`.

mod suite;

use checkpointer::{BaseCheckpointSaver, InMemorySaver};
use suite::blocking::BlockingAsync;
use suite::plain::Plain;

conformance_suite!(memory, (InMemorySaver::new(), ()));

conformance_suite!(async_memory, (BlockingAsync::new(InMemorySaver::new()), ()));

conformance_suite!(
    boxed,
    (
        Box::new(InMemorySaver::new()) as Box<dyn BaseCheckpointSaver>,
        ()
    )
);

conformance_suite!(default_put_with_writes, (Plain(InMemorySaver::new()), ()));
