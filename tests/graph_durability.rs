//! Durability: what each mode saves and when, failed tasks and failing
//! savers, dropped runs, and resuming after each (finished work is not run
//! again). Every test runs once per saver form, the hooked test wrapper over
//! each saver included (see `durability_tests!` at the bottom). How a
//! durable step's writes are saved is in `graph_step_saves.rs`; a killed
//! process in `graph_crash.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use checkpointer::conformance::Op;
use checkpointer::graph::{
    Command, CompileOptions, Durability, END, GraphError, Input, NodeContext, NodeError, Reducer,
    START, SendTo, State, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, ChannelVersions, Config, ListOptions, new_checkpoint_id};
use serde_json::json;

mod graph_support;
use graph_support::*;

// ---------------------------------------------------------------------------
// Durability modes

async fn durability_modes_save_as_documented(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    for (mode, thread, saved) in [
        (Durability::Sync, "sync", 4),
        (Durability::Async, "async", 4),
        (Durability::Exit, "exit", 1),
    ] {
        let app = compile(&linear(&c), &saver).with_durability(mode);
        let cfg = Config::thread(thread);
        let out = app.invoke(json!({"x": 1}), &cfg).await.unwrap();
        assert_eq!(out.values, json!({"x": 1, "log": ["a", "b"]}), "{mode:?}");
        let h = app
            .get_state_history(&cfg, &ListOptions::new())
            .await
            .unwrap();
        assert_eq!(h.len(), saved, "{mode:?}");
        assert_eq!(h[0].values, out.values, "{mode:?}");
        assert_eq!(h[0].metadata.as_ref().unwrap().step, 2, "{mode:?}");
    }

    // Exit mode still saves on error, so the thread can resume.
    let fail_once = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicUsize::new(0));
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", {
            let (fail, runs) = (Arc::clone(&fail_once), Arc::clone(&runs));
            move |_, _| {
                runs.fetch_add(1, Ordering::SeqCst);
                if fail.swap(false, Ordering::SeqCst) {
                    return Err(checkpointer::graph::NodeError::msg("down"));
                }
                Ok(Update::new().set("log", "b"))
            }
        })
        .add_edge(START, "a")
        .add_edge("a", "b");
    let app = compile(&g, &saver).with_durability(Durability::Exit);
    let cfg = Config::thread("exit-error");
    assert!(app.invoke(json!({}), &cfg).await.is_err());
    let h = app
        .get_state_history(&cfg, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].next, vec!["b"]);
    assert_eq!(h[0].tasks[0].error.as_deref(), Some("down"));
    let out = app.invoke(Input::Continue, &cfg).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b"]));
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // Exit and async modes save an interrupt too, and resume from it.
    for (mode, thread, saved) in [
        (Durability::Exit, "exit-interrupt", 1),
        (Durability::Async, "async-interrupt", 3),
    ] {
        let mut g = StateGraph::new();
        g.add_channel("log", Reducer::append())
            .add_sync_node("a", logger(&c, "a"))
            .add_sync_node("ask", |_, ctx| {
                let v = ctx.interrupt("?")?;
                Ok(Update::new().set("log", v))
            })
            .add_edge(START, "a")
            .add_edge("a", "ask");
        let app = compile(&g, &saver).with_durability(mode);
        let cfg = Config::thread(thread);
        let out = app.invoke(json!({}), &cfg).await.unwrap();
        assert_eq!(out.interrupts.len(), 1, "{mode:?}");
        let h = app
            .get_state_history(&cfg, &ListOptions::new())
            .await
            .unwrap();
        assert_eq!(h.len(), saved, "{mode:?}");
        assert_eq!(h[0].interrupts, out.interrupts, "{mode:?}");
        let out = app.invoke(Command::resume("fine"), &cfg).await.unwrap();
        assert_eq!(out.values["log"], json!(["a", "fine"]), "{mode:?}");
    }
}

async fn task_writes_are_saved_as_soon_as_the_task_ends(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("fast", |_, _| Ok(Update::new().set("log", "fast")))
        .add_node("slow", {
            let saver = Arc::clone(&saver);
            move |_s, ctx: NodeContext| {
                let saver = Arc::clone(&saver);
                async move {
                    // Wait until fast's write is in the saver, while this
                    // step is still running.
                    let thread = ctx.config().clone();
                    for _ in 0..20_000 {
                        let tuple = saver.get_tuple(&thread)?;
                        let saved = tuple.is_some_and(|t| {
                            t.pending_writes
                                .iter()
                                .any(|w| w.channel == "log" && w.value == json!("fast"))
                        });
                        if saved {
                            return Ok(Update::new().set("log", "slow saw fast saved"));
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                    Ok(Update::new().set("log", "slow gave up"))
                }
            }
        })
        .add_edge(START, "fast")
        .add_edge(START, "slow");
    let app = compile(&g, &saver);
    let out = app.invoke(json!({}), &Config::thread("t")).await.unwrap();
    assert_eq!(out.values["log"], json!(["fast", "slow saw fast saved"]));
}

async fn async_saves_land_in_order_before_invoke_returns(factory: Factory) {
    let (inner, _guard) = factory();
    // Each put sleeps first (a slow disk).
    let slow = flaky(&inner, 0, 0).with_delay(Op::Put, std::time::Duration::from_millis(3));
    let slow = Arc::new(slow);
    let saver: Arc<dyn BaseCheckpointSaver> = slow.clone();
    let c = Counter::default();
    let app = compile(&fan_graph(&c), &saver).with_durability(Durability::Async);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(put_steps(&slow), vec![-1, 0, 1, 2]);
    // Read straight from the inner saver: everything is there already.
    let tuples = inner.list(Some(&thread), &ListOptions::new()).unwrap();
    assert_eq!(tuples.len(), 4);
    assert_eq!(
        out.config.unwrap().checkpoint_id.as_deref(),
        Some(tuples[0].checkpoint.id.as_str())
    );
    for w in tuples.windows(2) {
        assert_eq!(
            w[0].parent_config
                .as_ref()
                .unwrap()
                .checkpoint_id
                .as_deref(),
            Some(w[1].checkpoint.id.as_str())
        );
    }
}

// ---------------------------------------------------------------------------
// Failed tasks

async fn failed_task_resumes_without_rerunning_finished_ones(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let fail_once = Arc::new(AtomicBool::new(true));
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", {
            let (c, fail) = (c.clone(), Arc::clone(&fail_once));
            move |_, _| {
                c.hit("b");
                if fail.swap(false, Ordering::SeqCst) {
                    return Err(checkpointer::graph::NodeError::msg("flaky service"));
                }
                Ok(Update::new().set("log", "b"))
            }
        })
        .add_sync_node("c", logger(&c, "c"))
        .add_edge(START, "a")
        .add_edge(START, "b")
        .add_edge(["a", "b"], "c")
        .add_edge("c", END);
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let err = app.invoke(json!({}), &thread).await.unwrap_err();
    match &err {
        GraphError::NodeFailed {
            node,
            step,
            thread_id,
            message,
            ..
        } => {
            assert_eq!((node.as_str(), *step, thread_id.as_str()), ("b", 1, "t"));
            assert_eq!(message, "flaky service");
        }
        other => panic!("unexpected {other:?}"),
    }
    // a's writes and b's error are saved on the step's checkpoint.
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.metadata.as_ref().unwrap().step, 0);
    // a finished: left out of `next`, as in LangGraph.
    assert_eq!(s.next, vec!["b"]);
    assert_eq!(s.tasks.len(), 2);
    assert_eq!(s.tasks[0].name, "a");
    assert!(s.tasks[0].result.is_some() && s.tasks[0].error.is_none());
    assert_eq!(s.tasks[1].error.as_deref(), Some("flaky service"));
    let tuple = saver.get_tuple(&thread).unwrap().unwrap();
    let channels: Vec<(&str, &str)> = tuple
        .pending_writes
        .iter()
        .map(|w| (w.task_id.as_str(), w.channel.as_str()))
        .collect();
    assert!(channels.contains(&(s.tasks[1].id.as_str(), "__error__")));
    assert!(channels.contains(&(s.tasks[0].id.as_str(), "log")));

    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b", "c"]));
    assert_eq!((c.get("a"), c.get("b"), c.get("c")), (1, 2, 1));
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(
        sources(&h),
        vec![(LOOP, 2), (LOOP, 1), (LOOP, 0), (INPUT, -1)]
    );
}

async fn failing_parallel_task_reruns_alone_until_it_succeeds(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("ok", logger(&c, "ok"))
        .add_sync_node("flaky", {
            let c = c.clone();
            move |_, _| {
                if c.hit("flaky") < 3 {
                    return Err(NodeError::msg("not yet"));
                }
                Ok(Update::new().set("log", "flaky"))
            }
        })
        .add_sync_node("after", logger(&c, "after"))
        .add_edge(START, "ok")
        .add_edge(START, "flaky")
        .add_edge(["ok", "flaky"], "after");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    for round in 0..2 {
        let err = if round == 0 {
            app.invoke(json!({}), &thread).await
        } else {
            app.invoke(Input::Continue, &thread).await
        }
        .unwrap_err();
        assert!(
            matches!(&err, GraphError::NodeFailed { node, step: 1, .. } if node == "flaky"),
            "{err}"
        );
    }
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.next, vec!["flaky"]);
    assert_eq!(s.tasks[0].error.as_deref(), Some("not yet"));
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["flaky", "ok", "after"]));
    assert_eq!((c.get("ok"), c.get("flaky"), c.get("after")), (1, 3, 1));
}

async fn a_failed_send_task_reruns_alone(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("results", Reducer::append())
        .add_sync_node("work", {
            let c = c.clone();
            move |s, _| {
                let i: i64 = s.get("i")?;
                let n = c.hit(&format!("work{i}"));
                if i == 1 && n == 1 {
                    return Err(NodeError::msg("flaky"));
                }
                Ok(Update::new().set("results", vec![i]))
            }
        })
        .add_sync_node("reduce", logger(&c, "reduce"))
        .add_channel("log", Reducer::append())
        .add_edge("work", "reduce")
        .add_conditional_edges(
            START,
            |_: &State| -> Vec<SendTo> {
                (0..3)
                    .map(|i| SendTo::new("work", json!({"i": i})))
                    .collect()
            },
            &["work"],
        );
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["work"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.next, vec!["work", "work", "work"]);
    let err = app.invoke(Input::Continue, &thread).await.unwrap_err();
    assert!(matches!(&err, GraphError::NodeFailed { node, .. } if node == "work"));
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["results"], json!([0, 1, 2]));
    assert_eq!(
        (
            c.get("work0"),
            c.get("work1"),
            c.get("work2"),
            c.get("reduce")
        ),
        (1, 2, 1, 1)
    );
}

async fn error_then_new_input_drops_the_failed_task(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_channel("fail", Reducer::last_value())
        .add_sync_node("n", {
            let c = c.clone();
            move |s, _| {
                c.hit("n");
                if s.get_or_default::<bool>("fail")? {
                    return Err(NodeError::msg("asked to fail"));
                }
                Ok(Update::new().set("log", "n"))
            }
        })
        .add_edge(START, "n");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    assert!(app.invoke(json!({"fail": true}), &thread).await.is_err());
    let out = app.invoke(json!({"fail": false}), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["n"]));
    assert_eq!(c.get("n"), 2);
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["n"]));
    assert_eq!(c.get("n"), 2);
}

// ---------------------------------------------------------------------------
// Failing savers and dropped runs

async fn failing_saver_is_an_error_and_the_thread_resumes(factory: Factory) {
    for mode in [Durability::Sync, Durability::Async, Durability::Exit] {
        // Puts: input, step 0, step 1 (after a and b), step 2.
        for (fail_put, fail_writes) in [(3, 0), (0, 3), (1, 0), (4, 0)] {
            let (inner, _guard) = factory();
            let c = Counter::default();
            let flaky: Arc<dyn BaseCheckpointSaver> =
                Arc::new(flaky(&inner, fail_put, fail_writes));
            let g = fan_graph(&c);
            let app = compile(&g, &flaky).with_durability(mode);
            let thread = Config::thread("t");
            let what = format!("{mode:?} put#{fail_put} writes#{fail_writes}");
            let res = app.invoke(json!({}), &thread).await;
            let err = match res {
                Err(e) => e,
                // Exit saves one checkpoint and no writes: only put#1 can hit.
                Ok(_) if mode == Durability::Exit && fail_put != 1 => continue,
                Ok(o) => panic!("{what}: run claimed success: {o:?}"),
            };
            assert!(
                matches!(&err, GraphError::Saver { thread_id, .. } if thread_id == "t"),
                "{what}: {err}"
            );
            assert!(err.to_string().contains("injected"), "{what}: {err}");
            // A working saver over the same storage finishes the thread.
            let app = compile(&g, &inner).with_durability(mode);
            // Continue where it stopped; with no checkpoint saved at all,
            // there is nothing to continue: start again.
            let out = match app.invoke(Input::Continue, &thread).await {
                Err(GraphError::InvalidCommand { .. }) => {
                    app.invoke(json!({}), &thread).await.unwrap()
                }
                other => other.unwrap(),
            };
            assert_eq!(out.values["log"], json!(["a", "b", "z"]), "{what}");
            if mode == Durability::Async {
                // Async saves overlap the next step: the run may go on a
                // step past the failed save (like a crash would), and that
                // step runs again on resume.
                assert!(c.get("z") <= 2, "{what}");
            } else if mode == Durability::Exit {
                // Exit saves at the end: the failed save loses the whole run.
                assert_eq!(c.get("z"), 2, "{what}");
            } else {
                assert_eq!(c.get("z"), 1, "{what}");
            }
            assert!(c.get("a") <= 2 && c.get("b") <= 2, "{what}");
            if mode == Durability::Sync && fail_put == 3 {
                // a's and b's writes were saved: they do not run again.
                assert_eq!((c.get("a"), c.get("b")), (1, 1), "{what}");
            }
        }
    }
}

async fn a_failed_interrupt_save_is_an_error_not_an_interrupt(factory: Factory) {
    for mode in [Durability::Sync, Durability::Async, Durability::Exit] {
        let (inner, _guard) = factory();
        let c = Counter::default();
        // put_writes #1 is the __start__ task's; #2 the first interrupt's
        // (Exit saves the held writes at the end, in the same order).
        let flaky: Arc<dyn BaseCheckpointSaver> = Arc::new(flaky(&inner, 0, 2));
        let app = compile(&two_askers(&c), &flaky).with_durability(mode);
        let thread = Config::thread("t");
        let err = app.invoke(json!({}), &thread).await.unwrap_err();
        assert!(matches!(err, GraphError::Saver { .. }), "{mode:?}: {err}");
        // With a working saver the thread asks both questions again (or
        // for the first time), and the answers finish it.
        let app = compile(&two_askers(&c), &inner).with_durability(mode);
        let out = app.invoke(Input::Continue, &thread).await.unwrap();
        assert_eq!(out.interrupts.len(), 2, "{mode:?}");
        let answers = out.interrupts.iter().map(|i| (i.id.clone(), json!("ok")));
        let out = app
            .invoke(Command::resume_map(answers), &thread)
            .await
            .unwrap();
        assert_eq!(out.values["log"], json!(["p:ok", "q:ok"]), "{mode:?}");
    }
}

async fn a_dropped_invoke_leaves_a_resumable_thread(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("fast", logger(&c, "fast"))
        .add_node("slow", {
            let (c, gate) = (c.clone(), Arc::clone(&gate));
            move |_, _| {
                let (c, gate) = (c.clone(), Arc::clone(&gate));
                async move {
                    c.hit("slow started");
                    // Waits until the test opens the gate (never, the first time).
                    gate.acquire().await.unwrap().forget();
                    c.hit("slow");
                    Ok(Update::new().set("log", "slow"))
                }
            }
        })
        .add_sync_node("after", logger(&c, "after"))
        .add_edge(START, "fast")
        .add_edge(START, "slow")
        .add_edge(["fast", "slow"], "after");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    {
        let run = app.invoke(json!({}), &thread);
        tokio::pin!(run);
        // Drive the run until fast's writes are saved, then drop it (as a
        // request timeout would).
        for polls in 0.. {
            assert!(polls < 1_000_000, "fast's writes were never saved");
            tokio::select! {
                r = &mut run => panic!("the run cannot finish: {r:?}"),
                () = tokio::task::yield_now() => {}
            }
            let saved = saver
                .get_tuple(&thread)
                .unwrap()
                .is_some_and(|t| t.pending_writes.iter().any(|w| w.value == json!("fast")));
            if saved && c.get("slow started") == 1 {
                break;
            }
        }
    }
    assert_eq!((c.get("fast"), c.get("slow")), (1, 0));
    gate.add_permits(10);
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["fast", "slow", "after"]));
    assert_eq!((c.get("fast"), c.get("slow"), c.get("after")), (1, 1, 1));
    // The dropped run's slow task was stopped: it did not take a permit.
    assert_eq!(c.get("slow started"), 2);
}

/// `id` (a UUIDv6 made here) as a host whose clock is `ahead` would have
/// made it: the timestamp raised by hand, so this process's own id clock
/// never sees it (a clock that saw it would move past it by itself).
fn made_by_a_clock_ahead(id: &str, ahead: Duration) -> String {
    // The first 12 hex digits are the top 48 bits of the 60-bit timestamp
    // in 100 ns ticks.
    let top: String = id.chars().filter(|c| *c != '-').take(12).collect();
    let top = u64::from_str_radix(&top, 16).unwrap();
    let ticks = u64::try_from(ahead.as_nanos() / 100).unwrap();
    let raised = format!("{:012x}", top + (ticks >> 12));
    format!("{}-{}{}", &raised[..8], &raised[8..], &id[13..])
}

/// A thread whose latest checkpoint was made on a host whose clock is ten
/// minutes ahead of this one: the run goes on, and every checkpoint it
/// saves sorts after its parent (a saver refuses one that does not).
async fn a_thread_from_a_host_whose_clock_is_ahead_goes_on(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&linear(&c), &saver);
    let thread = Config::thread("clock-ahead");
    app.invoke(json!({"x": 1}), &thread).await.unwrap();
    // The other host's checkpoint: the latest state again, under an id made
    // with its clock.
    let latest = saver.get_tuple(&thread).unwrap().unwrap();
    let mut theirs = latest.checkpoint.clone();
    theirs.id = made_by_a_clock_ahead(&new_checkpoint_id(3), Duration::from_mins(10));
    let mut metadata = latest.metadata.clone();
    metadata.step = 3;
    let theirs_cfg = saver
        .put(&latest.config, &theirs, &metadata, &ChannelVersions::new())
        .unwrap();

    let out = app.invoke(json!({"x": 2}), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b", "a", "b"]));
    let history = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    let ids: Vec<String> = history.iter().map(|s| id(&s.config)).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "history is newest first by id");
    let after: Vec<&String> = ids.iter().take_while(|i| **i != id(&theirs_cfg)).collect();
    assert_eq!(
        after.len(),
        4,
        "the input checkpoint and three steps follow the other host's checkpoint"
    );
    assert!(after.iter().all(|i| **i > id(&theirs_cfg)));
}

/// Every test above, once per saver (emitted by `per_saver_tests!`, or by
/// the macro named after `@with`).
macro_rules! durability_tests {
    ($module:ident, $factory:path) => {
        durability_tests!(@with per_saver_tests, $module, $factory);
    };
    (@with $emit:ident, $module:ident, $factory:path) => {
        $emit!($module, $factory;
            durability_modes_save_as_documented,
            task_writes_are_saved_as_soon_as_the_task_ends,
            async_saves_land_in_order_before_invoke_returns,
            failed_task_resumes_without_rerunning_finished_ones,
            failing_parallel_task_reruns_alone_until_it_succeeds,
            a_failed_send_task_reruns_alone,
            error_then_new_input_drops_the_failed_task,
            failing_saver_is_an_error_and_the_thread_resumes,
            a_failed_interrupt_save_is_an_error_not_an_interrupt,
            a_dropped_invoke_leaves_a_resumable_thread,
            a_thread_from_a_host_whose_clock_is_ahead_goes_on,
        );
    };
}

durability_tests!(memory, super::memory_saver);
durability_tests!(sqlite, super::sqlite_saver);
durability_tests!(hooked_memory, super::hooked_memory_saver);
durability_tests!(hooked_sqlite, super::hooked_sqlite_saver);

#[cfg(feature = "postgres")]
durability_tests!(@with pg_tests, postgres, super::postgres_saver);
#[cfg(feature = "postgres")]
durability_tests!(@with pg_tests, hooked_postgres, super::hooked_postgres_saver);
