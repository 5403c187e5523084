//! Leases under real contention: two savers on one database (two pools,
//! as two processes would have) race for the same threads; exactly one
//! acquire wins each round, and the loser's writes are fenced off.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, Error,
    SqliteSaver, ThreadLeases,
};

const ROUNDS: usize = 200;

/// Both savers try to lease and then write thread `r<i>` at once, for
/// `ROUNDS` rounds: one acquire wins, the other is `LeaseHeld` naming the
/// winner; the loser's tokenless put is refused, so each thread has
/// exactly one checkpoint, the winner's.
fn race(a: &Arc<dyn ThreadLeases + Send + Sync>, b: Arc<dyn ThreadLeases + Send + Sync>) {
    let barrier = Arc::new(Barrier::new(2));
    let run = |saver: Arc<dyn ThreadLeases + Send + Sync>, owner: &'static str| {
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || {
            let mut won = Vec::new();
            for i in 0..ROUNDS {
                let tid = format!("r{i}");
                barrier.wait();
                let cp = Checkpoint::new(-1);
                let meta =
                    CheckpointMetadata::new(CheckpointSource::Input, -1).with_extra("owner", owner);
                match saver.acquire(&tid, owner, Duration::from_hours(1)) {
                    Ok(lease) => {
                        let config = Config::thread(&tid).with_lease_token(lease.token);
                        saver
                            .put(&config, &cp, &meta, &cp.channel_versions)
                            .unwrap_or_else(|e| panic!("{owner}: put under the lease: {e}"));
                        won.push(i);
                    }
                    Err(Error::LeaseHeld { holder, .. }) => {
                        assert_ne!(holder, owner, "round {i}: held by itself");
                        let refused =
                            saver.put(&Config::thread(&tid), &cp, &meta, &cp.channel_versions);
                        assert!(
                            matches!(refused, Err(Error::LeaseHeld { .. })),
                            "round {i}: {owner}'s put without the lease: {refused:?}"
                        );
                    }
                    Err(e) => panic!("round {i}: {owner}: acquire: {e}"),
                }
            }
            won
        })
    };
    let (ta, tb) = (run(Arc::clone(a), "a"), run(b, "b"));
    let (wa, wb) = (ta.join().expect("a"), tb.join().expect("b"));
    assert_eq!(wa.len() + wb.len(), ROUNDS, "one winner per round");
    for i in 0..ROUNDS {
        let tid = format!("r{i}");
        let history = a
            .list(
                Some(&Config::thread(&tid)),
                &checkpointer::ListOptions::new(),
            )
            .expect("list");
        assert_eq!(history.len(), 1, "round {i}: one checkpoint, no fork");
        let winner = if wa.contains(&i) { "a" } else { "b" };
        assert_eq!(
            history[0].metadata.extra.get("owner"),
            Some(&serde_json::json!(winner)),
            "round {i}: the winner's checkpoint"
        );
        let lease = a.current(&tid).expect("current").expect("live");
        assert_eq!(lease.owner, winner, "round {i}");
    }
}

#[test]
fn two_sqlite_savers_race_on_one_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("race.db");
    let a = SqliteSaver::open(&path).expect("open a");
    let b = SqliteSaver::open(&path).expect("open b");
    race(
        &(Arc::new(a) as Arc<dyn ThreadLeases + Send + Sync>),
        Arc::new(b),
    );
}

#[cfg(feature = "postgres")]
mod pg_support;

/// The same race on one PostgreSQL schema (two savers, two pools).
#[cfg(feature = "postgres")]
#[test]
fn two_postgres_savers_race_on_one_schema() {
    let Some((a, schema)) = pg_support::fresh("lease_race") else {
        return;
    };
    let b = checkpointer::PostgresSaver::open(&schema.url()).expect("open b");
    race(
        &(Arc::new(a) as Arc<dyn ThreadLeases + Send + Sync>),
        Arc::new(b),
    );
    drop(schema);
}
