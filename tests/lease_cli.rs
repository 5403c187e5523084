//! The CLI's writes to a leased thread (issue 12, part 1): `delete`,
//! `copy` onto it and `prune` (whole threads, `--keep-latest`, and
//! `--older-than`) of a thread whose lease another runner holds fail with
//! an error naming the thread and the holder, and change nothing; the
//! same commands on a thread without a live lease work as before.
#![cfg(feature = "cli")]

mod cli_support;

use std::time::Duration;

use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, ListOptions,
    ThreadLeases,
};
use cli_support::Fixture;

/// Two checkpoints of `thread`.
fn seed(fx: &Fixture, thread: &str) {
    let saver = fx.saver();
    let mut parent = Config::thread(thread);
    for step in 0..2 {
        let cp = Checkpoint::new(step);
        let meta = CheckpointMetadata::new(CheckpointSource::Loop, step);
        parent = saver
            .put(&parent, &cp, &meta, &cp.channel_versions)
            .expect("seed a checkpoint");
    }
}

fn count(fx: &Fixture, thread: &str) -> usize {
    fx.saver()
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .expect("list")
        .len()
}

#[test]
fn writes_to_a_leased_thread_are_refused_naming_the_holder() {
    let fx = Fixture::new();
    seed(&fx, "busy");
    seed(&fx, "src");
    let saver = fx.saver();
    saver
        .acquire("busy", "worker-7", Duration::from_hours(1))
        .expect("a lease");
    for args in [
        &["delete", "busy", "--yes"][..],
        &["prune", "busy", "--yes"],
        &["prune", "busy", "--keep-latest", "--yes"],
        &[
            "prune",
            "busy",
            "--keep-latest",
            "--older-than",
            "0m",
            "--yes",
        ],
        &["prune", "--all", "--older-than", "0m", "--yes"],
    ] {
        let err = fx.fails(args, "worker-7");
        assert!(err.contains("busy"), "{args:?}: {err}");
        assert_eq!(count(&fx, "busy"), 2, "{args:?} changed nothing");
    }
    saver
        .acquire("target", "worker-8", Duration::from_hours(1))
        .expect("a lease of the target");
    let err = fx.fails(&["copy", "src", "target"], "worker-8");
    assert!(err.contains("target"), "{err}");
    assert_eq!(count(&fx, "target"), 0, "nothing copied");
}

#[test]
fn the_same_writes_without_a_live_lease_work() {
    let fx = Fixture::new();
    seed(&fx, "free");
    let saver = fx.saver();
    let lease = saver
        .acquire("free", "worker-7", Duration::from_hours(1))
        .expect("a lease");
    saver.release(&lease).expect("release");
    fx.ok(&["copy", "free", "copy"]);
    assert_eq!(count(&fx, "copy"), 2);
    fx.ok(&["prune", "free", "--keep-latest", "--yes"]);
    assert_eq!(count(&fx, "free"), 1);
    fx.ok(&["delete", "free", "--yes"]);
    assert_eq!(count(&fx, "free"), 0);
}
