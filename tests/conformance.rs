//! The conformance suite for the in-memory saver, directly, through the
//! async wrapper, behind `Box<dyn BaseCheckpointSaver>`, and with the
//! trait's default `put_with_writes` (the hooked wrapper in trait-defaults
//! form).

use checkpointer::conformance::{BlockingAsync, HookedSaver};
use checkpointer::{BaseCheckpointSaver, InMemorySaver, conformance_suite};

conformance_suite!(memory, (InMemorySaver::new(), ()));

conformance_suite!(async_memory, (BlockingAsync::new(InMemorySaver::new()), ()));

conformance_suite!(
    boxed,
    (
        Box::new(InMemorySaver::new()) as Box<dyn BaseCheckpointSaver>,
        ()
    )
);

conformance_suite!(
    default_put_with_writes,
    (
        HookedSaver::new(InMemorySaver::new()).with_trait_defaults(),
        ()
    )
);

conformance_suite!(hooked, (HookedSaver::new(InMemorySaver::new()), ()));
