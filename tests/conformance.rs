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

// ------------------------------------------------------- the hooked wrapper

mod hooked_wrapper {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use checkpointer::conformance::{HookedSaver, Op, Outcome};
    use checkpointer::saver::WriteBatch;
    use checkpointer::{
        BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
        InMemorySaver, ListOptions,
    };
    use serde_json::{Value, json};

    fn metadata(step: i64) -> CheckpointMetadata {
        CheckpointMetadata::new(CheckpointSource::Loop, step)
    }

    /// The Nth call of an operation fails with an error that says so, the
    /// wrapped saver never sees it, and the record says which ended how.
    #[test]
    fn fails_the_nth_call_only() {
        let saver = HookedSaver::new(InMemorySaver::new()).with_failure(Op::Put, 2);
        let thread = Config::thread("t");
        let first = Checkpoint::new(0);
        let stored = saver
            .put(&thread, &first, &metadata(0), &first.channel_versions)
            .expect("first put");
        let second = first.successor(1);
        let err = saver
            .put(&stored, &second, &metadata(1), &second.channel_versions)
            .expect_err("second put is injected");
        assert!(err.to_string().contains("injected put failure"), "{err}");
        let third = first.successor(2);
        saver
            .put(&stored, &third, &metadata(2), &third.channel_versions)
            .expect("third put");
        let outcomes: Vec<(usize, Outcome, Option<i64>)> = saver
            .calls_of(Op::Put)
            .into_iter()
            .map(|c| (c.nth, c.outcome, c.step))
            .collect();
        assert_eq!(
            outcomes,
            [
                (1, Outcome::Ok, Some(0)),
                (2, Outcome::Injected, Some(1)),
                (3, Outcome::Ok, Some(2)),
            ]
        );
        let ids: Vec<String> = saver
            .inner()
            .list(Some(&thread), &ListOptions::new())
            .expect("list")
            .into_iter()
            .map(|t| t.checkpoint.id)
            .collect();
        assert_eq!(ids, [third.id, first.id]);
    }

    /// In the trait-defaults form, `put_with_writes` reaches the wrapper's
    /// own `put_writes` and `put` (hooked and recorded); forwarded, it is
    /// one call.
    #[test]
    fn trait_defaults_route_through_the_hooks() {
        for (defaults, expected) in [
            (true, vec![Op::PutWrites, Op::Put, Op::PutWithWrites]),
            (false, vec![Op::PutWithWrites]),
        ] {
            let inner = InMemorySaver::new();
            let mut saver = HookedSaver::new(inner);
            if defaults {
                saver = saver.with_trait_defaults();
            }
            let thread = Config::thread("t");
            let first = Checkpoint::new(0);
            let stored = saver
                .put(&thread, &first, &metadata(0), &first.channel_versions)
                .expect("put");
            saver.clear_calls();
            let writes: Vec<(String, Value)> = vec![("ch".to_owned(), json!(1))];
            let batch = WriteBatch {
                writes: &writes,
                task_id: "task",
                task_path: "",
            };
            let next = first.successor(1);
            saver
                .put_with_writes(
                    &stored,
                    &[batch],
                    &next,
                    &metadata(1),
                    &next.channel_versions,
                )
                .expect("put_with_writes");
            let ops: Vec<Op> = saver.calls().iter().map(|c| c.op).collect();
            assert_eq!(ops, expected, "trait defaults: {defaults}");
            let fused = saver.calls_of(Op::PutWithWrites);
            assert_eq!(fused[0].task_ids, ["task"]);
        }
    }

    /// Delays and start/finish hooks run on every call of their operation.
    #[test]
    fn delays_and_hooks_run_per_call() {
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let (s, f) = (Arc::clone(&started), Arc::clone(&finished));
        let saver = HookedSaver::new(InMemorySaver::new())
            .with_delay(Op::GetTuple, Duration::from_millis(20))
            .on_start(move |args| {
                if args.op() == Op::GetTuple {
                    s.fetch_add(1, Ordering::SeqCst);
                }
            })
            .on_finish(move |call| {
                if call.op == Op::GetTuple && call.succeeded() {
                    f.fetch_add(1, Ordering::SeqCst);
                }
            });
        let begun = Instant::now();
        for _ in 0..2 {
            assert!(
                saver
                    .get_tuple(&Config::thread("t"))
                    .expect("read")
                    .is_none()
            );
        }
        assert!(begun.elapsed() >= Duration::from_millis(40));
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert_eq!(finished.load(Ordering::SeqCst), 2);
        assert_eq!(saver.count(Op::GetTuple), 2);
        assert_eq!(saver.count(Op::Put), 0);
    }
}
