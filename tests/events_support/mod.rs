//! The event log's model test, shared by `events.rs` (JSONL, SQLite) and
//! `events_postgres.rs`: random calls applied to a durable backend and to
//! `MemoryEventLog`, the reference, must agree.

#![allow(dead_code)]

use checkpointer::events::{Event, EventKind, EventLog, MemoryEventLog, RunState};
use serde_json::json;

/// One random call, applied to both logs; their answers must agree.
pub fn step(rng: &mut fastrand::Rng, runs: &[&str], model: &MemoryEventLog, real: &dyn EventLog) {
    let run = runs[rng.usize(..runs.len())];
    match rng.u8(..10) {
        0..=4 => {
            let kind = EventKind::ALL[rng.usize(..EventKind::ALL.len())];
            let event = Event::new(run, kind)
                .with_seq(rng.u64(0..12))
                .with_lane(["main", "b"][rng.usize(..2)])
                .with_payload(json!({"n": rng.u32(..), "s": "é"}));
            let want = model.save_event(&event).map_err(|e| e.to_string());
            let got = real.save_event(&event).map_err(|e| e.to_string());
            assert_eq!(got, want, "save_event {event:?}");
        }
        5..=6 => {
            let since = rng.u64(0..12);
            assert_eq!(
                real.list_events(run, since).expect("list_events"),
                model.list_events(run, since).expect("list_events"),
                "list_events({run:?}, {since})"
            );
        }
        7 => {
            let mut state = RunState::new(run);
            state.current_step = rng.u64(..100);
            model.save_snapshot(run, &state).expect("save_snapshot");
            real.save_snapshot(run, &state).expect("save_snapshot");
        }
        8 => {
            assert_eq!(
                real.load_latest(run).expect("load"),
                model.load_latest(run).expect("load")
            );
            assert_eq!(
                real.list_runs().expect("runs"),
                model.list_runs().expect("runs")
            );
        }
        _ => {
            model.delete_run(run).expect("delete_run");
            real.delete_run(run).expect("delete_run");
        }
    }
}

/// 400 random calls from `seed` on `real` and on a fresh memory log,
/// then every run's events compared.
pub fn model_test(real: &dyn EventLog, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let model = MemoryEventLog::new();
    let runs = ["r1", "r2", "../r3", "https://x/r4"];
    for _ in 0..400 {
        step(&mut rng, &runs, &model, real);
    }
    for run in runs {
        assert_eq!(
            real.list_events(run, 0).expect("list"),
            model.list_events(run, 0).expect("list")
        );
    }
}
