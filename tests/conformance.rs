//! The conformance suite for the in-memory saver, directly, through the
//! async wrapper, and behind `Box<dyn BaseCheckpointSaver>`.

mod suite;

use checkpointer::{BaseCheckpointSaver, InMemorySaver};
use suite::blocking::BlockingAsync;

conformance_suite!(memory, (InMemorySaver::new(), ()));

conformance_suite!(async_memory, (BlockingAsync::new(InMemorySaver::new()), ()));

conformance_suite!(
    boxed,
    (
        Box::new(InMemorySaver::new()) as Box<dyn BaseCheckpointSaver>,
        ()
    )
);
