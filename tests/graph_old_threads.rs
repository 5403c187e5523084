//! Threads written before the graph runtime used LangGraph's ids and
//! versions still continue: UUIDv5 task and interrupt ids, `<n>.<hex>`
//! channel versions, two-part Send paths and the
//! `{"__resume_consumed__": true}` marker. Finished tasks of such a thread
//! are not run again, and a taken answer is not handed out twice.
//!
//! The old threads are made from a run of today's runtime, copied through
//! the saver with every id, version, path and marker rewritten into the
//! old forms (the formulas are pinned here, as the old code computed
//! them).

mod graph_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use checkpointer::graph::{
    Command, CompiledGraph, END, Input, NodeError, Reducer, START, SendTo, State, StateGraph,
    Update,
};
use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, Config, InMemorySaver,
    ListOptions, PendingWrite,
};
use graph_support::{Counter, Factory, compile};
use serde_json::{Value, json};
use uuid::Uuid;

/// The namespace of the old UUIDv5 task ids.
const OLD_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_3e4a_8b2d_4f71_9a0e_5d3c_2b1a_0f99);
const NULL_TASK: &str = "00000000-0000-0000-0000-000000000000";

fn old_uuid(parts: &[&str]) -> String {
    Uuid::new_v5(&OLD_NAMESPACE, parts.join("\0").as_bytes()).to_string()
}

/// A Send fan-out to three workers (worker 2 fails while `fail` is set),
/// then a reviewer that asks twice.
fn graph(c: &Counter, fail: &Arc<AtomicBool>) -> StateGraph {
    let mut g = StateGraph::new();
    let (work_calls, review_calls, fail) = (c.clone(), c.clone(), Arc::clone(fail));
    g.add_channel("results", Reducer::append())
        .add_channel("verdict", Reducer::last_value())
        .add_sync_node("work", move |s, _| {
            let item: i64 = s.get("item")?;
            work_calls.hit(&format!("work{item}"));
            if item == 2 && fail.swap(false, Ordering::SeqCst) {
                return Err(NodeError::msg("worker 2 is flaky"));
            }
            Ok(Update::new().set("results", item))
        })
        .add_sync_node("review", move |_, ctx| {
            review_calls.hit("review");
            let first = ctx.interrupt("first?")?;
            let second = ctx.interrupt("second?")?;
            Ok(Update::new().set("verdict", json!([first, second])))
        })
        .add_conditional_edges(
            START,
            |_: &State| -> Vec<SendTo> {
                (0..3)
                    .map(|i| SendTo::new("work", json!({ "item": i })))
                    .collect()
            },
            &["work"],
        )
        .add_edge("work", "review")
        .add_edge("review", END);
    g
}

/// The old text of a version: `<counter>.<16 hex digits>`.
fn old_version(v: ChannelVersion) -> ChannelVersion {
    ChannelVersion::with_salt(v.counter(), v.salt().max(1))
}

fn old_versions(versions: &ChannelVersions) -> ChannelVersions {
    versions
        .iter()
        .map(|(ch, v)| (ch.clone(), old_version(*v)))
        .collect()
}

/// The old id and path of the task that wrote under `path` at `cp`.
fn old_task(cp: &Checkpoint, step: i64, task_id: &str, path: &str) -> (String, String) {
    let step_text = step.to_string();
    if let Some(node) = path.strip_prefix("~__pregel_pull, ") {
        let trigger = if node == START {
            START.to_owned()
        } else {
            format!("branch:to:{node}")
        };
        let id = old_uuid(&[&cp.id, "", &step_text, node, "__pregel_pull", &trigger]);
        return (id, path.to_owned());
    }
    if let Some(rest) = path.strip_prefix("~__pregel_push, ") {
        let idx_text = rest.split(", ").next().unwrap();
        let idx: usize = idx_text.parse().unwrap();
        let node = cp.channel_values["__pregel_tasks"][idx]["node"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = old_uuid(&[
            &cp.id,
            "",
            &step_text,
            &node,
            "__pregel_push",
            &idx.to_string(),
        ]);
        return (id, format!("~__pregel_push, {idx_text}"));
    }
    (task_id.to_owned(), path.to_owned())
}

/// The old value of a write: interrupt ids in the old form, the taken
/// NULL resume as the marker.
fn old_value(task_id: &str, channel: &str, value: &Value) -> Value {
    match channel {
        "__resume__" if task_id == NULL_TASK && value.is_null() => {
            json!({"__resume_consumed__": true})
        }
        "__interrupt__" => {
            let mut value = value.clone();
            for interrupt in value.as_array_mut().unwrap() {
                let idx = usize::from(interrupt["value"] == json!("second?"));
                let id = Uuid::new_v5(
                    &OLD_NAMESPACE,
                    format!("{task_id}\0interrupt\0{idx}").as_bytes(),
                );
                interrupt["id"] = json!(id.simple().to_string());
            }
            value
        }
        _ => value.clone(),
    }
}

/// A checkpoint's writes by `(task id, path)`: `(idx, channel, value)`.
type WritesByTask = BTreeMap<(String, String), Vec<(i64, String, Value)>>;

/// Copies `thread` from `src` to `dst` as the old runtime would have
/// written it.
fn copy_as_old(src: &dyn BaseCheckpointSaver, dst: &dyn BaseCheckpointSaver, thread: &str) {
    let mut tuples = src
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .unwrap();
    tuples.reverse();
    for t in tuples {
        let mut cp = t.checkpoint.clone();
        cp.channel_versions = old_versions(&cp.channel_versions);
        for seen in cp.versions_seen.values_mut() {
            *seen = old_versions(seen);
        }
        let parent = t
            .parent_config
            .clone()
            .unwrap_or_else(|| Config::thread(thread));
        let all = cp.channel_versions.clone();
        let stored = dst.put(&parent, &cp, &t.metadata, &all).unwrap();
        let step = t.metadata.step + 1;
        let mut by_task = WritesByTask::new();
        for w in &t.pending_writes {
            let (id, path) = old_task(&t.checkpoint, step, &w.task_id, &w.task_path);
            let value = old_value(&id, &w.channel, &w.value);
            by_task
                .entry((id, path))
                .or_default()
                .push((w.idx, w.channel.clone(), value));
        }
        for ((id, path), mut writes) in by_task {
            // Special channels (negative idx) keep their place after the rest.
            writes.sort_by_key(|(idx, _, _)| if *idx < 0 { i64::MAX + *idx } else { *idx });
            let writes: Vec<(String, Value)> = writes.into_iter().map(|(_, c, v)| (c, v)).collect();
            dst.put_writes(&stored, &writes, &id, &path).unwrap();
        }
    }
}

/// Thread `t` copied into a saver of `factory` in the old form, and the
/// app on the copy.
struct OldThread {
    app: CompiledGraph,
    saver: Arc<dyn BaseCheckpointSaver>,
    _guard: Box<dyn std::any::Any + Send>,
}

fn old_thread(factory: Factory, src: &dyn BaseCheckpointSaver, g: &StateGraph) -> OldThread {
    let (saver, guard) = factory();
    copy_as_old(src, saver.as_ref(), "t");
    OldThread {
        app: compile(g, &saver),
        saver,
        _guard: guard,
    }
}

fn latest_writes(saver: &dyn BaseCheckpointSaver) -> Vec<PendingWrite> {
    saver
        .get_tuple(&Config::thread("t"))
        .unwrap()
        .unwrap()
        .pending_writes
}

async fn a_failed_old_step_reruns_only_the_failed_send(factory: Factory) {
    let (c, fail) = (Counter::default(), Arc::new(AtomicBool::new(true)));
    let g = graph(&c, &fail);
    let src: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    let thread = Config::thread("t");
    let failed = compile(&g, &src).invoke(json!({}), &thread).await;
    assert!(failed.is_err(), "{failed:?}");
    let new_ids: Vec<String> = latest_writes(src.as_ref())
        .iter()
        .map(|w| w.task_id.clone())
        .collect();
    let old = old_thread(factory, src.as_ref(), &g);
    let old_writes = latest_writes(old.saver.as_ref());
    assert!(old_writes.iter().all(|w| !new_ids.contains(&w.task_id)));
    assert!(
        old_writes
            .iter()
            .all(|w| w.task_path.matches(", ").count() <= 1)
    );

    let out = old.app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(out.interrupts[0].value, json!("first?"));
    let mut results: Vec<i64> = serde_json::from_value(out.values["results"].clone()).unwrap();
    results.sort_unstable();
    assert_eq!(results, [0, 1, 2]);
    // Only the failed worker ran again.
    assert_eq!([c.get("work0"), c.get("work1"), c.get("work2")], [1, 1, 2]);
    assert_eq!(c.get("review"), 1);
}

async fn an_old_taken_answer_is_not_handed_out_again(factory: Factory) {
    let (c, fail) = (Counter::default(), Arc::new(AtomicBool::new(false)));
    let g = graph(&c, &fail);
    let src: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    let thread = Config::thread("t");
    let app = compile(&g, &src);
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!("first?"));
    let out = app.invoke(Command::resume("a"), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!("second?"));
    // Today's runtime leaves `null` (no answer, for Python too), no marker.
    let taken = latest_writes(src.as_ref())
        .into_iter()
        .find(|w| w.task_id == NULL_TASK && w.channel == "__resume__")
        .unwrap();
    assert_eq!(taken.value, Value::Null);

    let old = old_thread(factory, src.as_ref(), &g);
    let marker = latest_writes(old.saver.as_ref())
        .into_iter()
        .find(|w| w.task_id == NULL_TASK && w.channel == "__resume__")
        .unwrap();
    assert_eq!(marker.value, json!({"__resume_consumed__": true}));
    let reviews = c.get("review");
    let out = old.app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(out.interrupts[0].value, json!("second?"));
    let out = old.app.invoke(Command::resume("b"), &thread).await.unwrap();
    assert!(!out.is_interrupted());
    assert_eq!(out.values["verdict"], json!(["a", "b"]));
    assert_eq!(c.get("review"), reviews + 2);
    assert_eq!([c.get("work0"), c.get("work1"), c.get("work2")], [1, 1, 1]);
}

async fn an_old_interrupt_is_answered_by_its_old_id(factory: Factory) {
    let (c, fail) = (Counter::default(), Arc::new(AtomicBool::new(false)));
    let g = graph(&c, &fail);
    let src: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    let thread = Config::thread("t");
    let out = compile(&g, &src).invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!("first?"));
    let old = old_thread(factory, src.as_ref(), &g);
    let state = old.app.get_state(&thread).await.unwrap();
    let asked: Vec<&checkpointer::graph::Interrupt> =
        state.tasks.iter().flat_map(|t| &t.interrupts).collect();
    assert_eq!(asked.len(), 1);
    assert_ne!(asked[0].id, out.interrupts[0].id, "the copy has the old id");
    let out = old
        .app
        .invoke(
            Command::resume_map([(asked[0].id.clone(), json!("a"))]),
            &thread,
        )
        .await
        .unwrap();
    assert_eq!(out.interrupts[0].value, json!("second?"));
    let out = old.app.invoke(Command::resume("b"), &thread).await.unwrap();
    assert_eq!(out.values["verdict"], json!(["a", "b"]));
    assert_eq!(c.get("work0"), 1);
}

per_saver_tests!(memory, crate::graph_support::memory_saver;
    a_failed_old_step_reruns_only_the_failed_send,
    an_old_taken_answer_is_not_handed_out_again,
    an_old_interrupt_is_answered_by_its_old_id,
);
per_saver_tests!(sqlite, crate::graph_support::sqlite_saver;
    a_failed_old_step_reruns_only_the_failed_send,
    an_old_taken_answer_is_not_handed_out_again,
    an_old_interrupt_is_answered_by_its_old_id,
);
