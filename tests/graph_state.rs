//! State and history: `update_state`, history and metadata per
//! checkpoint, replay and forks (time travel). Every test runs once per
//! saver (see `state_tests!` at the bottom).

use std::sync::Arc;

use checkpointer::graph::{
    Command, CompileOptions, GraphError, Input, Reducer, START, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, CheckpointSource, Config, ListOptions};
use serde_json::json;

mod graph_support;
use graph_support::*;

// ---------------------------------------------------------------------------
// update_state

async fn update_state_writes_an_update_checkpoint(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_channel("x", Reducer::last_value())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", {
            let c = c.clone();
            move |s, _| {
                c.hit("b");
                Ok(Update::new().set("log", format!("b saw x={}", s.get::<i64>("x")?)))
            }
        })
        .add_sync_node("d", logger(&c, "d"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "d");
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["b"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    let before = app.invoke(json!({"x": 1}), &thread).await.unwrap();
    let base = before.config.unwrap();

    // As the node that ran last (a): b is still next.
    let cfg = app
        .update_state(&thread, json!({"x": 2, "log": ["human"]}), None)
        .await
        .unwrap();
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.config.checkpoint_id, cfg.checkpoint_id);
    let m = s.metadata.as_ref().unwrap();
    assert_eq!((m.source, m.step), (CheckpointSource::Update, 2));
    assert_eq!(s.parent_config.as_ref().map(id), Some(id(&base)));
    assert_eq!(s.values, json!({"x": 2, "log": ["a", "human"]}));
    assert_eq!(s.next, vec!["b"]);

    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "human", "b saw x=2", "d"]));

    // As b, at b's interrupt on a second thread: b counts as done, d is next.
    let t2 = Config::thread("t2");
    app.invoke(json!({"x": 1}), &t2).await.unwrap();
    app.update_state(&t2, json!({"log": ["b by hand"]}), Some("b"))
        .await
        .unwrap();
    assert_eq!(app.get_state(&t2).await.unwrap().next, vec!["d"]);
    let out = app.invoke(Input::Continue, &t2).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b by hand", "d"]));
    assert_eq!(c.get("b"), 1);

    let err = app
        .update_state(&t2, json!({}), Some("ghost"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::InvalidCommand { .. }));
}

async fn update_state_as_node_decides_what_runs_next(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", logger(&c, "b"))
        .add_sync_node("c", logger(&c, "c"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "c");
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["c"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    // As b (the node that ran last): c is next, as before.
    app.update_state(&thread, json!({"log": ["u1"]}), None)
        .await
        .unwrap();
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.next, vec!["c"]);
    assert_eq!(
        s.metadata.as_ref().unwrap().source,
        CheckpointSource::Update
    );
    // As a: b runs next.
    app.update_state(&thread, json!({"log": ["u2"]}), Some("a"))
        .await
        .unwrap();
    // The update is a superstep of its own in which only a ran: c, which
    // was pending, no longer is (as in LangGraph).
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.next, vec!["b"]);
    let err = app
        .update_state(&thread, json!({}), Some("ghost"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");

    // On a thread with no checkpoint: as START, so the first node is next.
    let fresh = Config::thread("fresh");
    app.update_state(&fresh, json!({"log": ["seed"]}), None)
        .await
        .unwrap();
    let s = app.get_state(&fresh).await.unwrap();
    assert_eq!(s.values, json!({"log": ["seed"]}));
    assert_eq!(s.next, vec!["a"]);
    // As in LangGraph, an update on an empty thread is step 0 (the base
    // step counts as -1), with no parent.
    assert_eq!(s.metadata.as_ref().unwrap().step, 0);
    assert_eq!(s.parent_config, None);
    let out = app.invoke(Input::Continue, &fresh).await.unwrap();
    assert_eq!(out.values["log"], json!(["seed", "a", "b"]));
    let h = app
        .get_state_history(&fresh, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(
        sources(&h),
        vec![
            (CheckpointSource::Loop, 2),
            (CheckpointSource::Loop, 1),
            (CheckpointSource::Update, 0)
        ]
    );
}

async fn update_state_keeps_the_finished_work_of_an_interrupted_step(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("worker", logger(&c, "worker"))
        .add_sync_node("asker", asker(&c, "asker"))
        .add_sync_node("after", logger(&c, "after"))
        .add_edge(START, "worker")
        .add_edge(START, "asker")
        .add_edge("asker", "after");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["worker"]));
    // The human answers by writing asker's update by hand. worker finished
    // in that step: its write is kept (LangGraph applies the pending writes
    // of the latest checkpoint's finished tasks first), and it does not run
    // again.
    app.update_state(&thread, json!({"log": ["by hand"]}), Some("asker"))
        .await
        .unwrap();
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.values["log"], json!(["worker", "by hand"]));
    assert_eq!(s.next, vec!["after"]);
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["worker", "by hand", "after"]));
    assert_eq!((c.get("worker"), c.get("asker"), c.get("after")), (1, 1, 1));

    // A Command's update saved on the latest checkpoint (asker asked
    // again, so no new checkpoint) is kept too, applied first as in a run.
    let t2 = Config::thread("t2");
    app.invoke(json!({}), &t2).await.unwrap();
    let out = app
        .invoke(Command::new().with_update(json!({"log": ["cmd"]})), &t2)
        .await
        .unwrap();
    assert_eq!(out.next, vec!["asker"]);
    app.update_state(&t2, json!({"log": ["by hand"]}), Some("asker"))
        .await
        .unwrap();
    let out = app.invoke(Input::Continue, &t2).await.unwrap();
    assert_eq!(
        out.values["log"],
        json!(["cmd", "worker", "by hand", "after"])
    );
    assert_eq!(c.get("worker"), 2);
}

// ---------------------------------------------------------------------------
// History, replay and forks

async fn metadata_per_checkpoint(factory: Factory) {
    use CheckpointSource::{Input, Loop, Update};
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&fan_graph(&c), &saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    app.update_state(&thread, json!({"log": ["u"]}), Some("z"))
        .await
        .unwrap();
    let tuples = saver.list(Some(&thread), &ListOptions::new()).unwrap();
    let meta: Vec<(CheckpointSource, i64, bool)> = tuples
        .iter()
        .map(|t| {
            (
                t.metadata.source,
                t.metadata.step,
                t.metadata.parents.is_empty(),
            )
        })
        .collect();
    assert_eq!(
        meta,
        vec![
            (Update, 3, true),
            (Loop, 2, true),
            (Loop, 1, true),
            (Loop, 0, true),
            (Input, -1, true)
        ]
    );
}

async fn replay_from_older_checkpoint_forks(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&linear(&c), &saver);
    let thread = Config::thread("t");
    app.invoke(json!({"x": 1}), &thread).await.unwrap();
    let original = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(original.len(), 4);
    // The checkpoint after step 1 (a ran, b next).
    let at_a = original[1].config.clone();
    assert_eq!(original[1].next, vec!["b"]);

    let out = app.invoke(Input::Continue, &at_a).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b"]));
    assert_eq!((c.get("a"), c.get("b")), (1, 2));

    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(
        sources(&h),
        // As in LangGraph: the fork is the replayed step + 1.
        vec![
            (LOOP, 3),
            (FORK, 2),
            (LOOP, 2),
            (LOOP, 1),
            (LOOP, 0),
            (INPUT, -1)
        ]
    );
    // The fork's parent is the replayed checkpoint; the new step follows it.
    assert_eq!(h[1].parent_config.as_ref().map(id), Some(id(&at_a)));
    assert_eq!(h[0].parent_config.as_ref().map(id), Some(id(&h[1].config)));
    // The original branch is untouched.
    for (old, now) in original.iter().zip(&h[2..]) {
        assert_eq!(old, now);
    }

    // New input at an older checkpoint forks too: its parent is that one.
    let first = original[2].config.clone();
    let out = app.invoke(json!({"x": 9}), &first).await.unwrap();
    // The task pending there (a) is discarded by the new input, then runs
    // again from __start__.
    assert_eq!(out.values, json!({"x": 9, "log": ["a", "b"]}));
    let h2 = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(h2.len(), 6 + 4);
    let input = h2
        .iter()
        .find(|s| {
            s.metadata.as_ref().unwrap().step == 1 && s.metadata.as_ref().unwrap().source == INPUT
        })
        .unwrap();
    assert_eq!(input.parent_config.as_ref().map(id), Some(id(&first)));

    let err = app
        .invoke(Input::Continue, &thread.clone().with_checkpoint_id("nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::CheckpointNotFound { .. }));
}

/// Everything the saver holds for a thread, comparable.
fn dump(saver: &Arc<dyn BaseCheckpointSaver>, thread: &Config) -> Vec<String> {
    saver
        .list(Some(thread), &ListOptions::new())
        .unwrap()
        .into_iter()
        .map(|t| format!("{t:?}"))
        .collect()
}

async fn time_travel_keeps_the_original_branch(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", logger(&c, "b"))
        .add_sync_node("c", logger(&c, "c"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "c");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let original = dump(&saver, &thread);
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    // h: loop3 (done), loop2 (next c), loop1 (next b), loop0, input.
    let mid = h[2].config.clone();
    assert_eq!(h[2].next, vec!["b"]);

    let out = app.invoke(Input::Continue, &mid).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b", "c"]));
    assert_eq!((c.get("a"), c.get("b"), c.get("c")), (1, 2, 2));
    let after = dump(&saver, &thread);
    assert_eq!(after.len(), original.len() + 3);
    assert_eq!(&after[3..], &original[..], "the original branch changed");

    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(
        sources(&h[..3]),
        vec![
            (CheckpointSource::Loop, 4),
            (CheckpointSource::Loop, 3),
            (CheckpointSource::Fork, 2)
        ]
    );
    assert_eq!(
        h[2].parent_config.as_ref().unwrap().checkpoint_id,
        mid.checkpoint_id
    );

    // An update at an older checkpoint forks too: a new `update`
    // checkpoint whose parent is it, nothing else touched.
    let before = dump(&saver, &thread);
    let cfg = app
        .update_state(&mid, json!({"log": ["side"]}), Some("a"))
        .await
        .unwrap();
    let after = dump(&saver, &thread);
    assert_eq!(&after[1..], &before[..]);
    let s = app.get_state(&cfg).await.unwrap();
    assert_eq!(s.values["log"], json!(["a", "side"]));
    assert_eq!(s.metadata.as_ref().unwrap().step, 2);
    assert_eq!(
        s.parent_config.as_ref().unwrap().checkpoint_id,
        mid.checkpoint_id
    );

    // History filters.
    let forks = app
        .get_state_history(&thread, &ListOptions::new().filter("source", "fork"))
        .await
        .unwrap();
    assert_eq!(forks.len(), 1);
    let limited = app
        .get_state_history(
            &thread,
            &ListOptions::new()
                .before(mid.checkpoint_id.clone().unwrap())
                .limit(1),
        )
        .await
        .unwrap();
    assert_eq!(sources(&limited), vec![(CheckpointSource::Loop, 0)]);
}

async fn more_command_and_replay_edges(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&two_askers(&c), &saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let before = dump(&saver, &thread);
    // An answer for an interrupt id that is not pending: refused, nothing saved.
    let err = app
        .invoke(
            Command::resume_map([("0123456789abcdef".to_owned(), json!(1))]),
            &thread,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("0123456789abcdef"), "{err}");
    assert_eq!(dump(&saver, &thread), before);
    assert_eq!((c.get("p"), c.get("q")), (1, 1));

    // Answer p only; q asks again. Then replay the interrupted checkpoint:
    // a fork where both ask again, the original branch untouched.
    let s = app.get_state(&thread).await.unwrap();
    let p_id = s
        .interrupts
        .iter()
        .find(|i| i.value == json!("p?"))
        .unwrap()
        .id
        .clone();
    let out = app
        .invoke(Command::resume_map([(p_id, json!("yes"))]), &thread)
        .await
        .unwrap();
    assert_eq!(out.next, vec!["q"]);
    let at = out.config.unwrap();
    // A new input at an older checkpoint branches without touching it.
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    let input_cp = h.last().unwrap().config.clone();
    let before = dump(&saver, &thread);
    app.invoke(json!({}), &input_cp).await.unwrap();
    let after = dump(&saver, &thread);
    assert_eq!(&after[after.len() - before.len()..], &before[..]);
    // Replay at the interrupted checkpoint (no longer the latest).
    let before = dump(&saver, &thread);
    let runs = (c.get("p"), c.get("q"));
    let out = app.invoke(Input::Continue, &at).await.unwrap();
    assert_eq!(out.interrupts.len(), 2);
    assert_eq!((c.get("p"), c.get("q")), (runs.0 + 1, runs.1 + 1));
    let after = dump(&saver, &thread);
    assert_eq!(&after[after.len() - before.len()..], &before[..]);
}

/// Every test above, once per saver.
macro_rules! state_tests {
    ($module:ident, $factory:path) => {
        state_tests!(@with per_saver_tests, $module, $factory);
    };
    (@with $emit:ident, $module:ident, $factory:path) => {
        $emit!($module, $factory;
            update_state_writes_an_update_checkpoint,
            update_state_as_node_decides_what_runs_next,
            update_state_keeps_the_finished_work_of_an_interrupted_step,
            metadata_per_checkpoint,
            replay_from_older_checkpoint_forks,
            time_travel_keeps_the_original_branch,
            more_command_and_replay_edges,
        );
    };
}

state_tests!(memory, super::memory_saver);
state_tests!(sqlite, super::sqlite_saver);

#[cfg(feature = "postgres")]
state_tests!(@with pg_tests, postgres, super::postgres_saver);
