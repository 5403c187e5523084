//! `delete_for_runs` and the admin `prune_older_than` respect leases
//! (issue 12, part 1): on a thread whose lease another runner holds, the
//! call is refused with `LeaseHeld` naming the thread and the holder, and
//! changes nothing (on any thread); once the lease is released the same
//! call goes through. On memory, SQLite and (with feature `postgres` and
//! `CHECKPOINTER_PG_URL`) PostgreSQL.

#[cfg(feature = "postgres")]
mod pg_support;

use std::time::{Duration, SystemTime};

use checkpointer::{
    Checkpoint, CheckpointAdmin, CheckpointMetadata, CheckpointSource, Config, Error,
    InMemorySaver, ListOptions, SqliteSaver, ThreadLeases,
};

trait Saver: ThreadLeases + CheckpointAdmin {}
impl<S: ThreadLeases + CheckpointAdmin> Saver for S {}

/// Two checkpoints of `thread`, made by run `run`.
fn seed(saver: &dyn Saver, thread: &str, run: &str) {
    let mut parent = Config::thread(thread).with_configurable("run_id", run);
    for step in 0..2 {
        let cp = Checkpoint::new(step);
        let meta = CheckpointMetadata::new(CheckpointSource::Loop, step);
        let stored = saver
            .put(&parent, &cp, &meta, &cp.channel_versions)
            .expect("seed a checkpoint");
        parent = stored.with_configurable("run_id", run);
    }
}

fn count(saver: &dyn Saver, thread: &str) -> usize {
    saver
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .expect("list")
        .len()
}

fn assert_held(what: &str, result: checkpointer::Result<impl std::fmt::Debug>) {
    match result {
        Err(e @ Error::LeaseHeld { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("leased") && text.contains("holder-9"),
                "{what}: {text}"
            );
        }
        other => panic!("{what}: expected LeaseHeld, got {other:?}"),
    }
}

fn refused_on_a_leased_thread(saver: &dyn Saver) {
    seed(saver, "leased", "run-1");
    seed(saver, "free", "run-1");
    let lease = saver
        .acquire("leased", "holder-9", Duration::from_hours(1))
        .expect("a lease");
    let runs = ["run-1".to_owned()];
    assert_held("delete_for_runs", saver.delete_for_runs(&runs));
    let both = ["free".to_owned(), "leased".to_owned()];
    let future = SystemTime::now() + Duration::from_hours(1);
    assert_held("prune_older_than", saver.prune_older_than(&both, future));
    assert_eq!(
        count(saver, "leased"),
        2,
        "nothing of the leased thread went"
    );
    assert_eq!(count(saver, "free"), 2, "a refused call changes no thread");

    saver.release(&lease).expect("release");
    assert_eq!(saver.prune_older_than(&both, future).expect("prune"), 2);
    saver.delete_for_runs(&runs).expect("delete_for_runs");
    assert_eq!(count(saver, "leased"), 0);
    assert_eq!(count(saver, "free"), 0);
}

#[test]
fn memory() {
    refused_on_a_leased_thread(&InMemorySaver::new());
}

#[test]
fn sqlite() {
    let dir = tempfile::tempdir().expect("a temp dir");
    refused_on_a_leased_thread(&SqliteSaver::open(dir.path().join("a.db")).expect("open"));
}

#[cfg(feature = "postgres")]
#[test]
fn postgres() {
    if let Some((saver, _schema)) = pg_support::fresh("lease_admin") {
        refused_on_a_leased_thread(&saver);
    }
}
