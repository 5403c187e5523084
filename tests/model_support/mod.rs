//! The model test's operations, shared by every saver's model test
//! (`sqlite_model.rs`, `postgres_model.rs`): random call sequences applied
//! to a saver and to `InMemorySaver`, the reference, must agree.

#![allow(dead_code)]

use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointMetadata,
    CheckpointSource, Config, ListOptions, PruneStrategy,
};
use proptest::prelude::*;
use serde_json::json;

pub const THREADS: [&str; 3] = ["a", "b", "c"];
pub const NAMESPACES: [&str; 2] = ["", "sub:1"];
const CHANNELS: [&str; 3] = ["x", "y", "z"];
const WRITE_CHANNELS: [&str; 4] = ["x", "out", "__error__", "__interrupt__"];

#[derive(Clone, Debug)]
pub enum Op {
    /// Put a successor of the latest checkpoint of (thread, ns), changing
    /// the channels in `change`, announcing those in `announce`.
    Put {
        thread: usize,
        ns: usize,
        change: Vec<usize>,
        announce: Vec<usize>,
        drop_channel: Option<usize>,
        run: Option<usize>,
    },
    Writes {
        thread: usize,
        ns: usize,
        task: usize,
        channels: Vec<usize>,
        value: i64,
    },
    DeleteThread(usize),
    DeleteRuns(Vec<usize>),
    Copy(usize, usize),
    Prune(Vec<usize>, bool),
}

pub fn op() -> impl Strategy<Value = Op> {
    let idx = |n: usize| 0..n;
    prop_oneof![
        6 => (
            idx(3),
            idx(2),
            prop::collection::vec(idx(3), 0..3),
            prop::collection::vec(idx(3), 0..3),
            prop::option::weighted(0.15, idx(3)),
            prop::option::of(idx(3)),
        )
            .prop_map(|(thread, ns, change, announce, drop_channel, run)| Op::Put {
                thread,
                ns,
                change,
                announce,
                drop_channel,
                run
            }),
        3 => (idx(3), idx(2), idx(2), prop::collection::vec(idx(4), 0..4), 0..5i64).prop_map(
            |(thread, ns, task, channels, value)| Op::Writes {
                thread,
                ns,
                task,
                channels,
                value
            }
        ),
        1 => idx(3).prop_map(Op::DeleteThread),
        1 => prop::collection::vec(idx(3), 0..3).prop_map(Op::DeleteRuns),
        1 => (idx(3), idx(3)).prop_map(|(a, b)| Op::Copy(a, b)),
        1 => (prop::collection::vec(idx(3), 0..3), any::<bool>()).prop_map(|(t, k)| Op::Prune(t, k)),
    ]
}

/// Applies `op` to both savers; results (Ok or the error's kind) must agree.
pub fn apply(op: &Op, savers: [&dyn BaseCheckpointSaver; 2], counter: &mut u64) {
    let agree = |a: String, b: String| assert_eq!(a, b, "{op:?}");
    match op {
        Op::Put {
            thread,
            ns,
            change,
            announce,
            drop_channel,
            run,
        } => {
            let mut cfg = Config::thread(THREADS[*thread]).with_ns(NAMESPACES[*ns]);
            if let Some(run) = run {
                cfg = cfg.with_configurable("run_id", format!("run-{run}"));
            }
            let latest = savers[1].get_tuple(&cfg).unwrap();
            let (mut cp, step) = match &latest {
                Some(t) => {
                    cfg.checkpoint_id = Some(t.checkpoint.id.clone());
                    (t.checkpoint.clone(), t.metadata.step + 1)
                }
                None => (Checkpoint::new(-1), 0),
            };
            cp = cp.successor(step);
            let mut new_versions = ChannelVersions::new();
            for &c in change {
                *counter += 1;
                let ch = CHANNELS[c];
                let v = ChannelVersion::next_after(cp.channel_versions.get(ch));
                cp = cp.with_value(ch, json!({"c": ch, "n": *counter}), v);
                new_versions.insert(ch.to_owned(), v);
            }
            for &c in announce {
                if let Some(v) = cp.channel_versions.get(CHANNELS[c]) {
                    new_versions.insert(CHANNELS[c].to_owned(), *v);
                }
            }
            if let Some(c) = drop_channel {
                cp.channel_versions.remove(CHANNELS[*c]);
                cp.channel_values.remove(CHANNELS[*c]);
            }
            let md = CheckpointMetadata::new(CheckpointSource::Loop, step);
            let [a, b] = savers.map(|s| format!("{:?}", s.put(&cfg, &cp, &md, &new_versions)));
            agree(a, b);
        }
        Op::Writes {
            thread,
            ns,
            task,
            channels,
            value,
        } => {
            let cfg = Config::thread(THREADS[*thread]).with_ns(NAMESPACES[*ns]);
            let Some(latest) = savers[1].get_tuple(&cfg).unwrap() else {
                return;
            };
            let writes: Vec<(String, serde_json::Value)> = channels
                .iter()
                .map(|&c| (WRITE_CHANNELS[c].to_owned(), json!(value)))
                .collect();
            let [a, b] = savers.map(|s| {
                let r = s.put_writes(&latest.config, &writes, &format!("task-{task}"), "p");
                format!("{r:?}")
            });
            agree(a, b);
        }
        Op::DeleteThread(t) => {
            let [a, b] = savers.map(|s| format!("{:?}", s.delete_thread(THREADS[*t])));
            agree(a, b);
        }
        Op::DeleteRuns(runs) => {
            let runs: Vec<String> = runs.iter().map(|r| format!("run-{r}")).collect();
            let [a, b] = savers.map(|s| format!("{:?}", s.delete_for_runs(&runs)));
            agree(a, b);
        }
        Op::Copy(from, to) => {
            let [a, b] = savers.map(|s| {
                s.copy_thread(THREADS[*from], THREADS[*to])
                    .map_err(|e| std::mem::discriminant(&e))
                    .is_ok()
                    .to_string()
            });
            agree(a, b);
        }
        Op::Prune(threads, keep) => {
            let threads: Vec<String> = threads.iter().map(|t| THREADS[*t].to_owned()).collect();
            let strategy = if *keep {
                PruneStrategy::KeepLatest
            } else {
                PruneStrategy::Delete
            };
            let [a, b] = savers.map(|s| format!("{:?}", s.prune(&threads, strategy)));
            agree(a, b);
        }
    }
}

/// Applies `ops` to `saver` and `memory` in turn; after each, every
/// checkpoint and each (thread, namespace)'s latest must be the same.
pub fn run_model(
    ops: &[Op],
    saver: &dyn BaseCheckpointSaver,
    memory: &dyn BaseCheckpointSaver,
) -> Result<(), TestCaseError> {
    let mut counter = 0;
    for op in ops {
        apply(op, [memory, saver], &mut counter);
        let all = |s: &dyn BaseCheckpointSaver| s.list(None, &ListOptions::new()).unwrap();
        prop_assert_eq!(all(saver), all(memory), "after {:?}", op);
        for thread in THREADS {
            for ns in NAMESPACES {
                let cfg = Config::thread(thread).with_ns(ns);
                prop_assert_eq!(
                    saver.get_tuple(&cfg).unwrap(),
                    memory.get_tuple(&cfg).unwrap()
                );
            }
        }
    }
    Ok(())
}
