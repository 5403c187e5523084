//! `AsyncSaver` under concurrency and cancellation: many tasks share one
//! saver, and a dropped future never leaves half a write.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkpointer::conformance::{HookedSaver, Op};
use checkpointer::{
    AsyncSaver, BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint,
    CheckpointMetadata, CheckpointSource, Config, InMemorySaver, ListOptions, PendingWrite,
};
use futures::FutureExt;
use serde_json::{Value, json};

const TASKS: usize = 8;
const STEPS: u64 = 12;

fn thread_id(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand::u64(..))
}

/// One step of a task: the stored config, the checkpoint, its writes.
type Step = (Config, Checkpoint, Vec<(String, Value)>);

/// What one task wrote, to check afterwards.
struct Written {
    thread_id: String,
    steps: Vec<Step>,
}

/// One task: a chain of checkpoints in its own thread, each with writes,
/// reading and listing as it goes.
async fn run_task(saver: AsyncSaver<InMemorySaver>, task: usize) -> Written {
    let tid = thread_id(&format!("task{task}"));
    let mut parent = Config::thread(&tid).with_ns("");
    let mut steps = Vec::new();
    let mut prev: Option<Checkpoint> = None;
    for step in 0..STEPS {
        let mut cp = match &prev {
            Some(p) => p.successor(i64::try_from(step).expect("small")),
            None => Checkpoint::new(0).with_value(
                "system",
                json!({"task": task, "prompt": "be brief"}),
                1,
            ),
        };
        cp = cp.with_value("counter", json!({"task": task, "step": step}), step + 1);
        let new_versions: ChannelVersions = if step == 0 {
            cp.channel_versions.clone()
        } else {
            [("counter".to_owned(), ChannelVersion::new(step + 1))].into()
        };
        let md =
            CheckpointMetadata::new(CheckpointSource::Loop, i64::try_from(step).expect("small"))
                .with_extra("task", task);
        let stored = saver
            .put(&parent, &cp, &md, &new_versions)
            .await
            .expect("put");

        let writes: Vec<(String, Value)> = (0..3)
            .map(|i| {
                (
                    format!("out{i}"),
                    json!({"task": task, "step": step, "i": i}),
                )
            })
            .collect();
        saver
            .put_writes(&stored, &writes, &format!("t{task}-{step}"), "")
            .await
            .expect("put_writes");

        // Read while the others write.
        let latest = saver
            .get_tuple(&Config::thread(&tid))
            .await
            .expect("get_tuple")
            .expect("own latest checkpoint");
        assert_eq!(latest.checkpoint.id, cp.id, "task {task} sees its latest");
        assert_eq!(latest.checkpoint.channel_values, cp.channel_values);
        assert_eq!(latest.pending_writes.len(), 3);
        let history = saver
            .list(Some(&Config::thread(&tid)), &ListOptions::new())
            .await
            .expect("list");
        assert_eq!(history.len(), usize::try_from(step + 1).expect("small"));
        let others = saver
            .list(None, &ListOptions::new().filter("step", 0).limit(TASKS))
            .await
            .expect("list(None)");
        assert!(!others.is_empty(), "at least our own first checkpoint");

        steps.push((stored.clone(), cp.clone(), writes));
        parent = stored;
        prev = Some(cp);
        tokio::task::yield_now().await;
    }
    Written {
        thread_id: tid,
        steps,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tasks_share_one_saver() {
    let saver = AsyncSaver::new(InMemorySaver::new());
    let handles: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(run_task(saver.clone(), task)))
        .collect();
    let mut written = Vec::new();
    for handle in handles {
        written.push(handle.await.expect("task panicked"));
    }

    // Every checkpoint and write reads back intact.
    for w in &written {
        let history = saver
            .list(Some(&Config::thread(&w.thread_id)), &ListOptions::new())
            .await
            .expect("list");
        assert_eq!(history.len(), w.steps.len(), "thread {}", w.thread_id);
        for (i, (stored, cp, writes)) in w.steps.iter().enumerate() {
            let tup = saver
                .get_tuple(stored)
                .await
                .expect("get_tuple")
                .unwrap_or_else(|| panic!("checkpoint {} missing", cp.id));
            assert_eq!(&tup.checkpoint, cp, "checkpoint {} of {}", i, w.thread_id);
            let got: Vec<(String, Value)> = tup
                .pending_writes
                .iter()
                .map(|pw| (pw.channel.clone(), pw.value.clone()))
                .collect();
            assert_eq!(&got, writes, "writes of checkpoint {i} of {}", w.thread_id);
            let expected_parent = i.checked_sub(1).map(|p| w.steps[p].0.checkpoint_id.clone());
            assert_eq!(
                tup.parent_config.map(|c| c.checkpoint_id),
                expected_parent,
                "parent of checkpoint {i}"
            );
            // Newest first.
            assert_eq!(history[w.steps.len() - 1 - i].checkpoint.id, cp.id);
        }
    }
    let everything = saver
        .list(None, &ListOptions::new())
        .await
        .expect("list(None)");
    assert_eq!(
        everything.len(),
        TASKS * usize::try_from(STEPS).expect("small")
    );
}

// ------------------------------------------------------------ cancellation

/// The test's ends of the gate that `gated()`'s saver holds `put` and
/// `put_writes` at: the saver reports that the call started, waits to be
/// released, runs the call, reports that it finished. So a test knows the
/// call is in flight when it drops the future.
struct Gate {
    started: Receiver<&'static str>,
    release: Sender<()>,
    finished: Receiver<&'static str>,
}

const WAIT: Duration = Duration::from_secs(20);

impl Gate {
    fn wait_started(&self, what: &str) {
        let got = self
            .started
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("{what} never reached the saver"));
        assert_eq!(got, what);
    }

    fn release_and_wait(&self, what: &str) {
        self.release.send(()).expect("saver gone");
        let got = self
            .finished
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("{what} never finished"));
        assert_eq!(got, what);
    }
}

/// The operations the gate holds, by name.
fn held(op: Op) -> Option<&'static str> {
    matches!(op, Op::Put | Op::PutWrites).then(|| op.name())
}

/// An in-memory saver in the hooked wrapper (trait-defaults form, so a
/// `put_with_writes` is held at each of its `put_writes` and its `put`),
/// with the gate's hooks.
fn gated() -> (Arc<HookedSaver<InMemorySaver>>, Gate) {
    let (started_tx, started_rx) = channel();
    let (release_tx, release_rx) = channel();
    let (finished_tx, finished_rx) = channel();
    let release = Mutex::new(release_rx);
    let saver = HookedSaver::new(InMemorySaver::new())
        .with_trait_defaults()
        .on_start(move |args| {
            if let Some(what) = held(args.op()) {
                started_tx.send(what).expect("test gone");
                release
                    .lock()
                    .expect("gate lock")
                    .recv_timeout(WAIT)
                    .expect("never released");
            }
        })
        .on_finish(move |call| {
            if let Some(what) = held(call.op) {
                finished_tx.send(what).expect("test gone");
            }
        });
    let gate = Gate {
        started: started_rx,
        release: release_tx,
        finished: finished_rx,
    };
    (Arc::new(saver), gate)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A checkpoint with many channels, so a half write would show.
fn wide_checkpoint(channels: u64) -> Checkpoint {
    (0..channels).fold(Checkpoint::new(0), |cp, i| {
        cp.with_value(
            format!("ch{i}"),
            json!({"i": i, "pad": "x".repeat(64)}),
            i + 1,
        )
    })
}

#[test]
fn timed_out_put_completes_whole() {
    let rt = runtime();
    let (gated, gate) = gated();
    let saver = AsyncSaver::from_arc(Arc::clone(&gated));
    let tid = thread_id("timeout");
    let cfg = Config::thread(&tid).with_ns("");
    let cp = wide_checkpoint(64);
    let md = CheckpointMetadata::new(CheckpointSource::Loop, 0);

    let outcome = rt.block_on(async {
        tokio::time::timeout(
            Duration::ZERO,
            saver.put(&cfg, &cp, &md, &cp.channel_versions),
        )
        .await
    });
    assert!(
        outcome.is_err(),
        "a zero timeout drops the held put future: {outcome:?}"
    );
    gate.wait_started("put");
    assert!(
        gated.inner().get_tuple(&cfg).expect("get_tuple").is_none(),
        "nothing is visible while the put is held"
    );
    gate.release_and_wait("put");

    // The blocking call ran to its end although its future was dropped.
    let tup = gated
        .inner()
        .get_tuple(&cfg)
        .expect("get_tuple")
        .expect("the put completed after its future was dropped");
    assert_eq!(tup.checkpoint, cp, "every value is there");
    assert_eq!(tup.metadata, md);
}

#[test]
fn aborted_put_writes_completes_whole() {
    let rt = runtime();
    let (gated, gate) = gated();
    let saver = AsyncSaver::from_arc(Arc::clone(&gated));
    let tid = thread_id("abort");
    let cp = Checkpoint::new(0).with_value("a", json!(1), 1);
    let stored = gated
        .inner()
        .put(
            &Config::thread(&tid),
            &cp,
            &CheckpointMetadata::new(CheckpointSource::Loop, 0),
            &cp.channel_versions,
        )
        .expect("put");
    let writes: Vec<(String, Value)> = (0..50).map(|i| (format!("w{i}"), json!(i))).collect();

    let handle = {
        let (saver, stored, writes) = (saver.clone(), stored.clone(), writes.clone());
        rt.spawn(async move { saver.put_writes(&stored, &writes, "task", "").await })
    };
    gate.wait_started("put_writes");
    handle.abort();
    let joined = rt.block_on(handle);
    assert!(
        joined
            .as_ref()
            .is_err_and(tokio::task::JoinError::is_cancelled),
        "the task was aborted while the write was held: {joined:?}"
    );
    assert!(
        gated
            .inner()
            .get_tuple(&stored)
            .expect("get")
            .expect("checkpoint")
            .pending_writes
            .is_empty(),
        "nothing is visible while the write is held"
    );
    gate.release_and_wait("put_writes");

    let tup = gated
        .inner()
        .get_tuple(&stored)
        .expect("get")
        .expect("checkpoint");
    let expected: Vec<PendingWrite> = writes
        .iter()
        .enumerate()
        .map(|(i, (ch, v))| PendingWrite {
            task_id: "task".to_owned(),
            channel: ch.clone(),
            value: v.clone(),
            task_path: String::new(),
            idx: i64::try_from(i).expect("small"),
        })
        .collect();
    assert_eq!(tup.pending_writes, expected, "all 50 writes, none missing");
}

/// Without a gate: many puts whose futures are polled once and dropped,
/// raced by readers. Every read sees a checkpoint either absent or
/// complete, and in the end all are complete.
#[test]
fn dropped_puts_are_never_seen_half_written() {
    let rt = runtime();
    let inner = Arc::new(InMemorySaver::new());
    let saver = AsyncSaver::from_arc(Arc::clone(&inner));
    let tid = thread_id("race");
    let md = CheckpointMetadata::new(CheckpointSource::Loop, 0);
    let checkpoints: Vec<Checkpoint> = (0..40).map(|_| wide_checkpoint(32)).collect();

    rt.block_on(async {
        for cp in &checkpoints {
            let cfg = Config::thread(&tid).with_ns("");
            // One poll starts the blocking call; then the future is dropped
            // (unless the call already finished, which must then be Ok).
            let early = saver
                .put(&cfg, cp, &md, &cp.channel_versions)
                .now_or_never();
            if let Some(result) = early {
                result.expect("a put that finished at once succeeded");
            }
        }
    });

    let deadline = Instant::now() + WAIT;
    let mut pending: Vec<&Checkpoint> = checkpoints.iter().collect();
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} puts never completed",
            pending.len()
        );
        pending.retain(|cp| {
            let cfg = Config::thread(&tid).with_ns("").with_checkpoint_id(&cp.id);
            match inner.get_tuple(&cfg).expect("get_tuple") {
                None => true,
                Some(tup) => {
                    assert_eq!(&tup.checkpoint, *cp, "a checkpoint was seen half written");
                    false
                }
            }
        });
        std::thread::sleep(Duration::from_millis(1));
    }
    let all = inner
        .list(Some(&Config::thread(&tid)), &ListOptions::new())
        .expect("list");
    assert_eq!(all.len(), checkpoints.len());
}
