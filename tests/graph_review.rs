//! Adversarial review of the graph executor. Every test runs once per saver
//! (see `review_tests!` at the bottom), like `tests/graph.rs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use checkpointer::graph::{
    Command, CompileOptions, Durability, END, GraphError, Input, NodeError, Reducer, START, SendTo,
    State, StateGraph, StreamEvent, StreamMode, Update,
};
use checkpointer::saver::{CheckpointIter, PruneStrategy};
use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointMetadata,
    CheckpointSource, CheckpointTuple, Config, InMemorySaver, ListOptions,
};
use futures::StreamExt;

mod graph_support;
use graph_support::*;
use serde_json::{Value, json};

/// A saver that delegates to `inner`, fails the `fail_put`-th put and the
/// `fail_writes`-th put_writes (1-based; 0 = never), and records the
/// `new_versions` of each put.
struct FlakySaver {
    inner: Arc<dyn BaseCheckpointSaver>,
    puts: AtomicUsize,
    writes: AtomicUsize,
    fail_put: usize,
    fail_writes: usize,
    new_versions: Mutex<Vec<(Vec<String>, Vec<String>)>>,
    /// Each put sleeps this long first (a slow disk).
    delay: std::time::Duration,
    /// The metadata step of each stored put, in call order.
    steps: Mutex<Vec<i64>>,
}

impl FlakySaver {
    fn new(inner: Arc<dyn BaseCheckpointSaver>, fail_put: usize, fail_writes: usize) -> Self {
        FlakySaver {
            inner,
            puts: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            fail_put,
            fail_writes,
            new_versions: Mutex::new(Vec::new()),
            delay: std::time::Duration::ZERO,
            steps: Mutex::new(Vec::new()),
        }
    }

    fn boom(what: &str) -> checkpointer::Error {
        checkpointer::Error::InvalidCheckpoint {
            thread_id: "x".into(),
            checkpoint_id: String::new(),
            reason: format!("injected {what} failure"),
        }
    }
}

impl BaseCheckpointSaver for FlakySaver {
    fn get_tuple(&self, config: &Config) -> checkpointer::Result<Option<CheckpointTuple>> {
        self.inner.get_tuple(config)
    }
    fn list_iter(
        &self,
        config: Option<&Config>,
        options: &ListOptions,
    ) -> checkpointer::Result<CheckpointIter> {
        self.inner.list_iter(config, options)
    }
    fn put(
        &self,
        config: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> checkpointer::Result<Config> {
        let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        std::thread::sleep(self.delay);
        if n == self.fail_put {
            return Err(Self::boom("put"));
        }
        self.steps.lock().unwrap().push(metadata.step);
        self.new_versions.lock().unwrap().push((
            new_versions.keys().cloned().collect(),
            checkpoint.updated_channels.clone().unwrap_or_default(),
        ));
        self.inner.put(config, checkpoint, metadata, new_versions)
    }
    fn put_writes(
        &self,
        config: &Config,
        writes: &[(String, Value)],
        task_id: &str,
        task_path: &str,
    ) -> checkpointer::Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_writes {
            return Err(Self::boom("put_writes"));
        }
        self.inner.put_writes(config, writes, task_id, task_path)
    }
    fn delete_thread(&self, thread_id: &str) -> checkpointer::Result<()> {
        self.inner.delete_thread(thread_id)
    }
    fn delete_for_runs(&self, run_ids: &[String]) -> checkpointer::Result<()> {
        self.inner.delete_for_runs(run_ids)
    }
    fn copy_thread(&self, source: &str, target: &str) -> checkpointer::Result<()> {
        self.inner.copy_thread(source, target)
    }
    fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> checkpointer::Result<()> {
        self.inner.prune(thread_ids, strategy)
    }
    fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        self.inner.get_next_version(current)
    }
}

/// START -> {p, q} (both ask a human) -> END.
fn two_askers(c: &Counter) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for name in ["p", "q"] {
        let c = c.clone();
        g.add_sync_node(name, move |_, ctx| {
            c.hit(name);
            let v = ctx.interrupt(format!("{name}?"))?;
            Ok(Update::new().set("log", format!("{name}:{}", v.as_str().unwrap_or("?"))))
        });
        g.add_edge(START, name);
    }
    g
}

// ---------------------------------------------------------------------------
// Resume semantics

async fn bare_resume_with_several_pending_interrupts_is_refused(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&two_askers(&c), &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts.len(), 2);
    let before = saver.get_tuple(&thread).unwrap().unwrap();

    // One bare answer for two questions: which one would it answer? As
    // LangGraph does, refuse it and ask for answers by interrupt id.
    let err = app
        .invoke(Command::resume("yes"), &thread)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::InvalidCommand { reason, .. } if reason.contains("interrupt id")),
        "{err}"
    );
    assert_eq!((c.get("p"), c.get("q")), (1, 1));
    let after = saver.get_tuple(&thread).unwrap().unwrap();
    assert_eq!(after.pending_writes, before.pending_writes);

    // Answering by id still works.
    let answers = out.interrupts.iter().map(|i| {
        (
            i.id.clone(),
            json!(format!("a-{}", i.value.as_str().unwrap())),
        )
    });
    let out = app
        .invoke(Command::resume_map(answers), &thread)
        .await
        .unwrap();
    assert_eq!(out.values["log"], json!(["p:a-p?", "q:a-q?"]));
    assert!(!out.is_interrupted());
}

async fn sequential_interrupts_in_one_node(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("form", {
            let c = c.clone();
            move |_, ctx| {
                c.hit("form");
                let name = ctx.interrupt("name?")?;
                let age = ctx.interrupt("age?")?;
                let city = ctx.interrupt("city?")?;
                Ok(Update::new().set("log", vec![name, age, city]))
            }
        });
    g.add_edge(START, "form");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!("name?"));
    let out = app.invoke(Command::resume("ann"), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!("age?"));
    // A plain Continue asks the same question again, answers kept.
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!("age?"));
    let out = app.invoke(Command::resume(41), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!("city?"));
    let out = app.invoke(Command::resume("oslo"), &thread).await.unwrap();
    assert!(!out.is_interrupted());
    assert_eq!(out.values["log"], json!(["ann", 41, "oslo"]));
    assert_eq!(c.get("form"), 5);
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
    assert_eq!(s.next, vec!["flaky", "ok"]);
    assert_eq!(s.tasks[0].error.as_deref(), Some("not yet"));
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["flaky", "ok", "after"]));
    assert_eq!((c.get("ok"), c.get("flaky"), c.get("after")), (1, 3, 1));
}

async fn resume_with_nothing_interrupted(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("ask", asker(&c, "ask"))
        .add_edge(START, "ask");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    // On an empty thread (a typo in the thread id?): a clear error, for a
    // command and for Continue alike (LangGraph: EmptyInputError).
    let err = app.invoke(Command::resume("x"), &thread).await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidCommand { .. }), "{err}");
    let err = app.invoke(Input::Continue, &thread).await.unwrap_err();
    assert!(
        matches!(&err, GraphError::InvalidCommand { reason, .. } if reason.contains("no checkpoint")),
        "{err}"
    );
    assert!(
        app.get_state_history(&thread, &ListOptions::new())
            .await
            .unwrap()
            .is_empty()
    );
    app.invoke(json!({}), &thread).await.unwrap();
    // An empty command is a mistake, not a silent Continue (LangGraph:
    // "Received empty Command input").
    let before = saver.get_tuple(&thread).unwrap().unwrap();
    let err = app.invoke(Command::new(), &thread).await.unwrap_err();
    assert!(
        matches!(&err, GraphError::InvalidCommand { reason, .. } if reason.contains("empty")),
        "{err}"
    );
    assert_eq!(c.get("ask"), 1);
    assert_eq!(saver.get_tuple(&thread).unwrap().unwrap(), before);
    app.invoke(Command::resume("one"), &thread).await.unwrap();
    // The thread is done: a resume does nothing...
    let out = app.invoke(Command::resume("stale"), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["one"]));
    // ...and is not taken by the next run's interrupt.
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(c.get("ask"), 3);

    // Stopped by a static interrupt before `ask`: the answer is given
    // ahead, and ask's interrupt takes it without stopping (documented).
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["ask"]),
        )
        .unwrap();
    let t2 = Config::thread("t2");
    let out = app.invoke(json!({}), &t2).await.unwrap();
    assert!(out.interrupts.is_empty() && out.next == vec!["ask"]);
    let out = app.invoke(Command::resume("ahead"), &t2).await.unwrap();
    assert!(!out.is_interrupted());
    assert_eq!(out.values["log"], json!(["ahead"]));
}

async fn an_answer_survives_a_failure_after_it_was_taken(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("approve", {
            let c = c.clone();
            move |_, ctx| {
                let n = c.hit("approve");
                let v = ctx.interrupt("ship it?")?;
                // The step after the approval fails once (an API error).
                if n == 2 {
                    return Err(NodeError::msg("upstream timeout"));
                }
                if n == 3 {
                    panic!("upstream panic");
                }
                Ok(Update::new().set("log", v))
            }
        })
        .add_edge(START, "approve");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let err = app
        .invoke(Command::resume("yes"), &thread)
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::NodeFailed { .. }), "{err}");
    // The human already answered: a retry uses the answer, it does not ask
    // again.
    let err = app.invoke(Input::Continue, &thread).await.unwrap_err();
    assert!(matches!(err, GraphError::NodePanicked { .. }), "{err}");
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert!(!out.is_interrupted(), "{out:?}");
    assert_eq!(out.values["log"], json!(["yes"]));
    assert_eq!(c.get("approve"), 4);
}

async fn an_asking_loop_gets_each_answer_once(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("chat", {
            let c = c.clone();
            move |s, ctx| {
                c.hit("chat");
                let turns = s.get_or_default::<Vec<Value>>("log")?.len();
                let v = ctx.interrupt(format!("turn {turns}?"))?;
                Ok(Update::new().set("log", v))
            }
        })
        .add_edge(START, "chat")
        .add_conditional_edges(
            "chat",
            |s: &State| {
                let log: Vec<Value> = s.get_or_default("log").unwrap_or_default();
                if log.last() == Some(&json!("bye")) {
                    END
                } else {
                    "chat"
                }
            },
            &["chat", END],
        );
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!("turn 0?"));
    let mut ids = vec![out.interrupts[0].id.clone()];
    for (i, say) in ["hi", "how are you", "bye"].iter().enumerate() {
        let out = app.invoke(Command::resume(*say), &thread).await.unwrap();
        if *say == "bye" {
            assert!(!out.is_interrupted());
        } else {
            assert_eq!(out.interrupts[0].value, json!(format!("turn {}?", i + 1)));
            ids.push(out.interrupts[0].id.clone());
        }
    }
    let out = app.get_state(&thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["hi", "how are you", "bye"]));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    assert_eq!(c.get("chat"), 6);
}

async fn new_input_while_interrupt_pending_discards_it(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("ask", asker(&c, "ask"))
        .add_edge(START, "a")
        .add_edge("a", "ask");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let out = app.invoke(json!({"log": ["new"]}), &thread).await.unwrap();
    assert_eq!(out.next, vec!["ask"]);
    assert_eq!(out.values["log"], json!(["a", "new", "a"]));
    let out = app.invoke(Command::resume("done"), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "new", "a", "done"]));
    assert_eq!((c.get("a"), c.get("ask")), (2, 3));
}

async fn command_update_is_announced_in_new_versions(factory: Factory) {
    let (inner, _guard) = factory();
    let flaky = Arc::new(FlakySaver::new(Arc::clone(&inner), 0, 0));
    let saver: Arc<dyn BaseCheckpointSaver> = flaky.clone();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_channel("note", Reducer::last_value())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", logger(&c, "b"))
        .add_edge(START, "a")
        .add_edge("a", "b");
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["b"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let puts_before = flaky.new_versions.lock().unwrap().len();
    let out = app
        .invoke(Command::new().with_update(json!({"note": "hi"})), &thread)
        .await
        .unwrap();
    assert_eq!(out.values["note"], json!("hi"));
    let recorded = flaky.new_versions.lock().unwrap().clone();
    // The checkpoint after the command is the first that holds `note`: it
    // changed there, so `put` must be told (new_versions, updated_channels).
    let (new_versions, updated) = &recorded[puts_before];
    assert!(
        new_versions.contains(&"note".to_owned()),
        "{new_versions:?}"
    );
    assert!(updated.contains(&"note".to_owned()), "{updated:?}");
    // Every version a put names as new is one the checkpoint holds.
    let cp = inner.get_tuple(&thread).unwrap().unwrap().checkpoint;
    assert_eq!(cp.channel_values["note"], json!("hi"));
}

async fn two_command_updates_to_a_last_value_channel(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_channel("note", Reducer::last_value())
        .add_sync_node("ask", {
            let c = c.clone();
            move |s, ctx| {
                c.hit("ask");
                let v = ctx.interrupt("?")?;
                let note: String = s.get_or_default("note")?;
                Ok(Update::new().set("log", format!("{} {note}", v.as_str().unwrap_or("?"))))
            }
        })
        .add_edge(START, "ask");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    // Two updates while ask keeps asking: they land on the same checkpoint.
    // The later one wins, as two updates in a row would.
    for note in ["one", "two"] {
        let out = app
            .invoke(Command::new().with_update(json!({"note": note})), &thread)
            .await
            .unwrap();
        assert_eq!(out.values["note"], json!(note));
        assert!(out.is_interrupted());
    }
    let out = app.invoke(Command::resume("ok"), &thread).await.unwrap();
    assert_eq!(out.values["note"], json!("two"));
    assert_eq!(out.values["log"], json!(["ok two"]));
    // And update_state at that point sees the same.
    let t2 = Config::thread("t2");
    app.invoke(json!({}), &t2).await.unwrap();
    for note in ["one", "two"] {
        app.invoke(Command::new().with_update(json!({"note": note})), &t2)
            .await
            .unwrap();
    }
    app.update_state(&t2, json!({"log": ["by hand"]}), Some("ask"))
        .await
        .unwrap();
    let s = app.get_state(&t2).await.unwrap();
    assert_eq!(s.values, json!({"note": "two", "log": ["by hand"]}));
}

// ---------------------------------------------------------------------------
// Static interrupts, joins, routing

async fn interrupt_before_in_a_fan_out_step(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", logger(&c, "b"))
        .add_sync_node("z", logger(&c, "z"))
        .add_edge(START, "a")
        .add_edge(START, "b")
        .add_edge("b", "z");
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["b"])
                .interrupt_after(["z"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.next, vec!["a", "b"]);
    assert_eq!((c.get("a"), c.get("b")), (0, 0));
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    // z is the last node: interrupt_after has nothing to stop before.
    assert!(!out.is_interrupted());
    assert_eq!(out.values["log"], json!(["a", "b", "z"]));
    assert_eq!((c.get("a"), c.get("b"), c.get("z")), (1, 1, 1));
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "b", "z"]));
    assert_eq!(c.get("z"), 1);
}

async fn join_waits_across_supersteps(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("x", logger(&c, "x"))
        .add_sync_node("y", logger(&c, "y"))
        .add_sync_node("b", logger(&c, "b"))
        .add_sync_node("j", logger(&c, "j"))
        .add_edge(START, "a")
        .add_edge(START, "x")
        .add_edge("x", "y")
        .add_edge("y", "b")
        .add_edge(["a", "b"], "j")
        .add_edge("j", END);
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["a", "x", "y", "b", "j"]));
    assert_eq!(c.get("j"), 1);
    // A second input runs the join once more, not twice.
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(
        out.values["log"],
        json!(["a", "x", "y", "b", "j", "a", "x", "y", "b", "j"])
    );
    assert_eq!(c.get("j"), 2);
}

async fn routers_mix_names_sends_and_end(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("route", logger(&c, "route"))
        .add_sync_node("n", logger(&c, "n"))
        .add_sync_node("fan", {
            let c = c.clone();
            move |s, _| {
                c.hit("fan");
                let k: i64 = s.get("k")?;
                Ok(Update::new().set("log", format!("fan{k}")))
            }
        })
        .add_sync_node("leaf", {
            let c = c.clone();
            move |s, _| {
                c.hit("leaf");
                let k: String = s.get("k")?;
                Ok(Update::new().set("log", format!("leaf{k}")))
            }
        })
        .add_edge(START, "route")
        .add_conditional_edges(
            "route",
            |_: &State| -> Vec<checkpointer::graph::Goto> {
                vec![
                    END.into(),
                    "n".into(),
                    SendTo::new("fan", json!({"k": 1})).into(),
                    SendTo::new("fan", json!({"k": 2})).into(),
                ]
            },
            &["n", "fan", END],
        )
        // A Send target that fans out again. Its router sees the graph's
        // state with the task's own writes applied (as in LangGraph), not
        // the Send argument.
        .add_conditional_edges(
            "fan",
            |s: &State| -> Vec<SendTo> {
                let log: Vec<String> = s.get("log").unwrap_or_default();
                let k = log.last().cloned().unwrap_or_default().replace("fan", "");
                vec![
                    SendTo::new("leaf", json!({"k": format!("{k}a")})),
                    SendTo::new("leaf", json!({"k": format!("{k}b")})),
                ]
            },
            &["leaf"],
        );
    let app = compile(&g, &saver);
    let out = app.invoke(json!({}), &Config::thread("t")).await.unwrap();
    assert_eq!(
        out.values["log"],
        json!([
            "route", "n", "fan1", "fan2", "leaf1a", "leaf1b", "leaf2a", "leaf2b"
        ])
    );
    assert_eq!((c.get("n"), c.get("fan"), c.get("leaf")), (1, 2, 4));
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

async fn map_reduce_order_is_packet_order(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("results", Reducer::append())
        .add_channel("n", Reducer::last_value())
        .add_node("work", |s, _| async move {
            let i: u64 = s.get("i")?;
            // Later packets finish first.
            tokio::time::sleep(std::time::Duration::from_millis(12 - i)).await;
            Ok(Update::new().set("results", vec![i]))
        })
        .add_conditional_edges(
            START,
            |s: &State| -> Vec<SendTo> {
                let n: u64 = s.get("n").unwrap_or(0);
                (0..n)
                    .map(|i| SendTo::new("work", json!({"i": i})))
                    .collect()
            },
            &["work"],
        );
    let app = compile(&g, &saver);
    let out = app
        .invoke(json!({"n": 12}), &Config::thread("t"))
        .await
        .unwrap();
    assert_eq!(out.values["results"], json!((0..12).collect::<Vec<u64>>()));
}

async fn reducer_and_channel_errors_name_the_culprits(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("v", Reducer::last_value())
        .add_sync_node("one", |_, _| Ok(Update::new().set("v", 1)))
        .add_sync_node("two", |_, _| Ok(Update::new().set("v", 2)))
        .add_edge(START, "one")
        .add_edge(START, "two");
    let app = compile(&g, &saver);
    let err = app
        .invoke(json!({}), &Config::thread("t"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("\"one\"") && text.contains("\"two\"") && text.contains("\"v\""));

    let mut g = StateGraph::new();
    g.add_channel("v", Reducer::last_value())
        .add_sync_node("typo", |_, _| Ok(Update::new().set("vv", 1)))
        .add_edge(START, "typo");
    let app = compile(&g, &saver);
    let err = app
        .invoke(json!({}), &Config::thread("t2"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::InvalidUpdate { node, reason, .. } if node == "typo" && reason.contains("\"vv\"")),
        "{err}"
    );
    // The input naming an unknown channel is refused too, naming it.
    let err = app
        .invoke(json!({"nope": 1}), &Config::thread("t3"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"nope\""), "{err}");
    // The thread is not stuck on the bad input: a good one runs.
    let mut g = StateGraph::new();
    g.add_channel("v", Reducer::last_value())
        .add_sync_node("ok", |s, _| {
            Ok(Update::new().set("v", s.get::<i64>("v")? + 1))
        })
        .add_edge(START, "ok");
    let app = compile(&g, &saver);
    let t4 = Config::thread("t4");
    assert!(app.invoke(json!({"nope": 1}), &t4).await.is_err());
    assert!(app.invoke(Input::Continue, &t4).await.is_err());
    let out = app.invoke(json!({"v": 1}), &t4).await.unwrap();
    assert_eq!(out.values, json!({"v": 2}));
}

// ---------------------------------------------------------------------------
// Versions, loops, recursion limit

async fn loop_ends_by_router_and_limit_leaves_thread_resumable(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel(
        "n",
        Reducer::custom(|cur, upd| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0))),
    )
    .add_sync_node("inc", {
        let c = c.clone();
        move |_, _| {
            c.hit("inc");
            Ok(Update::new().set("n", 1))
        }
    })
    .add_sync_node("check", {
        let c = c.clone();
        move |_, _| {
            c.hit("check");
            Ok(Update::new())
        }
    })
    .add_edge(START, "inc")
    .add_edge("inc", "check")
    .add_conditional_edges(
        "check",
        |s: &State| {
            if s.get::<i64>("n").unwrap_or(0) >= 4 {
                END
            } else {
                "inc"
            }
        },
        &["inc", END],
    );
    let app = compile(&g, &saver).with_recursion_limit(4);
    let thread = Config::thread("t");
    let err = app.invoke(json!({}), &thread).await.unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::RecursionLimit {
                limit: 4,
                step: 4,
                ..
            }
        ),
        "{err}"
    );
    let done_before = (c.get("inc"), c.get("check"));
    assert_eq!(done_before, (2, 1));
    let out = app
        .clone()
        .with_recursion_limit(100)
        .invoke(Input::Continue, &thread)
        .await
        .unwrap();
    assert_eq!(out.values["n"], json!(4));
    assert_eq!((c.get("inc"), c.get("check")), (4, 4));
    // Nothing runs without new input.
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.values["n"], json!(4));
    assert_eq!((c.get("inc"), c.get("check")), (4, 4));
}

// ---------------------------------------------------------------------------
// update_state, history, time travel

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
            (CheckpointSource::Loop, 3),
            (CheckpointSource::Loop, 2),
            (CheckpointSource::Fork, 1)
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

// ---------------------------------------------------------------------------
// Durability and failing savers

fn fan_graph(c: &Counter) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(c, "a"))
        .add_sync_node("b", logger(c, "b"))
        .add_sync_node("z", logger(c, "z"))
        .add_edge(START, "a")
        .add_edge(START, "b")
        .add_edge(["a", "b"], "z");
    g
}

async fn failing_saver_is_an_error_and_the_thread_resumes(factory: Factory) {
    for mode in [Durability::Sync, Durability::Async, Durability::Exit] {
        // Puts: input, step 0, step 1 (after a and b), step 2.
        for (fail_put, fail_writes) in [(3, 0), (0, 3), (1, 0), (4, 0)] {
            let (inner, _guard) = factory();
            let c = Counter::default();
            let flaky: Arc<dyn BaseCheckpointSaver> =
                Arc::new(FlakySaver::new(Arc::clone(&inner), fail_put, fail_writes));
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

async fn async_saves_land_in_order_before_invoke_returns(factory: Factory) {
    let (inner, _guard) = factory();
    let mut slow = FlakySaver::new(Arc::clone(&inner), 0, 0);
    slow.delay = std::time::Duration::from_millis(3);
    let slow = Arc::new(slow);
    let saver: Arc<dyn BaseCheckpointSaver> = slow.clone();
    let c = Counter::default();
    let app = compile(&fan_graph(&c), &saver).with_durability(Durability::Async);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(*slow.steps.lock().unwrap(), vec![-1, 0, 1, 2]);
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

async fn node_context_matches_the_stored_task(factory: Factory) {
    let (saver, _guard) = factory();
    /// (node, step, task id, thread id) as the node saw them.
    type Seen = Vec<(String, i64, String, String)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", {
            let seen = Arc::clone(&seen);
            move |_, ctx| {
                seen.lock().unwrap().push((
                    ctx.node().to_owned(),
                    ctx.step(),
                    ctx.task_id().to_owned(),
                    ctx.config().thread_id.clone(),
                ));
                ctx.interrupt("?")?;
                Ok(Update::new())
            }
        })
        .add_edge(START, "a");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let s = app.get_state(&thread).await.unwrap();
    let (node, step, task_id, thread_id) = seen.lock().unwrap()[0].clone();
    assert_eq!(node, "a");
    assert_eq!(step, s.metadata.as_ref().unwrap().step + 1);
    assert_eq!(task_id, s.tasks[0].id);
    assert_eq!(thread_id, "t");
    // On resume the task has the same id.
    app.invoke(Command::resume(1), &thread).await.unwrap();
    assert_eq!(seen.lock().unwrap()[1].2, task_id);
}

async fn a_failed_interrupt_save_is_an_error_not_an_interrupt(factory: Factory) {
    for mode in [Durability::Sync, Durability::Async, Durability::Exit] {
        let (inner, _guard) = factory();
        let c = Counter::default();
        // put_writes #1 is the __start__ task's; #2 the first interrupt's
        // (Exit saves the held writes at the end, in the same order).
        let flaky: Arc<dyn BaseCheckpointSaver> =
            Arc::new(FlakySaver::new(Arc::clone(&inner), 0, 2));
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

// ---------------------------------------------------------------------------
// Concurrency and streams

async fn concurrent_runs_share_a_graph(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&fan_graph(&c), &saver);
    let mut handles = Vec::new();
    for i in 0..8 {
        let app = app.clone();
        handles.push(tokio::spawn(async move {
            let thread = Config::thread(format!("t{i}"));
            app.invoke(json!({}), &thread).await.unwrap();
            app.invoke(json!({}), &thread).await.unwrap()
        }));
    }
    for h in handles {
        let out = h.await.unwrap();
        assert_eq!(out.values["log"], json!(["a", "b", "z", "a", "b", "z"]));
    }
    assert_eq!(c.get("z"), 16);
    for i in 0..8 {
        let h = app
            .get_state_history(&Config::thread(format!("t{i}")), &ListOptions::new())
            .await
            .unwrap();
        assert_eq!(h.len(), 8);
    }
}

async fn streams_are_complete_and_end_with_the_error(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&fan_graph(&c), &saver);
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("t"), StreamMode::Updates)
        .collect()
        .await;
    let nodes: Vec<String> = events
        .iter()
        .map(|e| match e.as_ref().unwrap() {
            StreamEvent::Updates { step, node, .. } => format!("{step}:{node}"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(nodes.len(), 3);
    assert_eq!(nodes[2], "2:z");
    let values: Vec<_> = app
        .stream(json!({}), &Config::thread("t2"), StreamMode::Values)
        .collect()
        .await;
    let steps: Vec<i64> = values
        .iter()
        .map(|e| match e.as_ref().unwrap() {
            StreamEvent::Values { step, .. } => *step,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(steps, vec![-1, 0, 1, 2]);

    // Tasks mode: per step, every task starts before any ends; ends carry
    // the writes; steps only grow.
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("t4"), StreamMode::Tasks)
        .collect()
        .await;
    let mut trace = Vec::new();
    for e in &events {
        match e.as_ref().unwrap() {
            StreamEvent::TaskStart { step, name, .. } => trace.push((*step, 0, name.clone())),
            StreamEvent::TaskEnd {
                step, name, result, ..
            } => {
                assert_eq!(result.as_ref().unwrap()[0], json!(["log", name]));
                trace.push((*step, 1, name.clone()));
            }
            other => panic!("{other:?}"),
        }
    }
    let mut sorted = trace.clone();
    sorted.sort_by_key(|(step, kind, _)| (*step, *kind));
    assert_eq!(
        trace.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>(),
        sorted.iter().map(|t| (t.0, t.1)).collect::<Vec<_>>()
    );
    let mut names: Vec<_> = trace
        .iter()
        .map(|t| format!("{}{}:{}", t.0, t.1, t.2))
        .collect();
    names.sort();
    assert_eq!(names, ["10:a", "10:b", "11:a", "11:b", "20:z", "21:z"]);

    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("ok", logger(&c, "ok"))
        .add_sync_node("bad", |_, _| Err(NodeError::msg("broken")))
        .add_edge(START, "ok")
        .add_edge(START, "bad");
    let app = compile(&g, &saver);
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("t3"), StreamMode::Tasks)
        .collect()
        .await;
    let last = events.last().unwrap();
    assert!(
        matches!(last, Err(GraphError::NodeFailed { node, .. }) if node == "bad"),
        "{last:?}"
    );
    let ends = events
        .iter()
        .filter(|e| matches!(e, Ok(StreamEvent::TaskEnd { .. })))
        .count();
    assert_eq!(ends, 2);
}

async fn metadata_per_checkpoint(factory: Factory) {
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
    use CheckpointSource::*;
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

// ---------------------------------------------------------------------------
// More resume paths

async fn interrupts_in_send_tasks_resume_by_id(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("results", Reducer::append())
        .add_sync_node("review", {
            let c = c.clone();
            move |s, ctx| {
                c.hit("review");
                let item: String = s.get("item")?;
                let ok = ctx.interrupt(format!("ok {item}?"))?;
                Ok(Update::new().set("results", format!("{item}={ok}")))
            }
        })
        .add_conditional_edges(
            START,
            |_: &State| -> Vec<SendTo> {
                ["x", "y", "z"]
                    .iter()
                    .map(|i| SendTo::new("review", json!({"item": i})))
                    .collect()
            },
            &["review"],
        );
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts.len(), 3);
    let by_value: BTreeMap<String, String> = out
        .interrupts
        .iter()
        .map(|i| (i.value.as_str().unwrap().to_owned(), i.id.clone()))
        .collect();
    // Answer two; the third asks again.
    let out = app
        .invoke(
            Command::resume_map([
                (by_value["ok x?"].clone(), json!(1)),
                (by_value["ok z?"].clone(), json!(3)),
            ]),
            &thread,
        )
        .await
        .unwrap();
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(out.interrupts[0].value, json!("ok y?"));
    assert_eq!(out.interrupts[0].id, by_value["ok y?"]);
    // One left: a bare answer is fine now.
    let out = app.invoke(Command::resume(2), &thread).await.unwrap();
    assert_eq!(out.values["results"], json!(["x=1", "y=2", "z=3"]));
    assert_eq!(c.get("review"), 3 + 3 + 1);
}

async fn command_goto_sends_and_update(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("echo", |s, _| {
            let w: String = s.get("w")?;
            Ok(Update::new().set("log", format!("echo {w}")))
        })
        .add_sync_node("b", logger(&c, "b"))
        .add_edge(START, "a")
        .add_conditional_edges("a", |_: &State| "b", &["b", "echo"]);
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["b"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let out = app
        .invoke(
            Command::new()
                .with_update(json!({"log": ["cmd"]}))
                .with_goto(SendTo::new("echo", json!({"w": "hi"})))
                .with_goto(END),
            &thread,
        )
        .await
        .unwrap();
    assert_eq!(out.values["log"], json!(["a", "cmd", "b", "echo hi"]));
    let err = app
        .invoke(Command::new().with_goto("ghost"), &thread)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");
}

async fn exit_mode_interrupt_mid_fan_out_keeps_finished_work(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("worker", logger(&c, "worker"))
        .add_sync_node("asker", asker(&c, "asker"))
        .add_sync_node("after", logger(&c, "after"))
        .add_edge(START, "worker")
        .add_edge(START, "asker")
        .add_edge(["worker", "asker"], "after");
    for mode in [Durability::Exit, Durability::Async, Durability::Sync] {
        let c0 = c.get("worker");
        let app = compile(&g, &saver).with_durability(mode);
        let thread = Config::thread(format!("{mode:?}"));
        app.invoke(json!({}), &thread).await.unwrap();
        let s = app.get_state(&thread).await.unwrap();
        assert_eq!(s.next, vec!["asker", "worker"], "{mode:?}");
        assert!(s.tasks[1].result.is_some(), "{mode:?}");
        let out = app.invoke(Command::resume("go"), &thread).await.unwrap();
        assert_eq!(
            out.values["log"],
            json!(["go", "worker", "after"]),
            "{mode:?}"
        );
        assert_eq!(c.get("worker") - c0, 1, "{mode:?}");
        // Parents chain through every saved checkpoint, in step order.
        let h = app
            .get_state_history(&thread, &ListOptions::new())
            .await
            .unwrap();
        for w in h.windows(2) {
            assert_eq!(
                w[0].parent_config.as_ref().unwrap().checkpoint_id,
                w[1].config.checkpoint_id,
                "{mode:?}"
            );
            let (s0, s1) = (
                w[0].metadata.as_ref().unwrap().step,
                w[1].metadata.as_ref().unwrap().step,
            );
            assert!(s0 > s1, "{mode:?}");
        }
        let steps: Vec<i64> = h
            .iter()
            .map(|s| s.metadata.as_ref().unwrap().step)
            .collect();
        let expected: Vec<i64> = match mode {
            // The first run saved its last checkpoint (step 0, with the
            // step's writes), the second its last (step 2).
            Durability::Exit => vec![2, 0],
            _ => vec![2, 1, 0, -1],
        };
        assert_eq!(steps, expected, "{mode:?}");
    }
}

async fn static_and_dynamic_interrupts_on_one_node(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("ask", asker(&c, "ask"))
        .add_edge(START, "a")
        .add_edge(START, "ask");
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["ask"])
                .interrupt_after(["a"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.next, vec!["a", "ask"]);
    assert!(out.interrupts.is_empty());
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    // a ran; ask asked.
    assert_eq!(out.next, vec!["ask"]);
    assert_eq!(out.interrupts.len(), 1);
    let out = app.invoke(Command::resume("fine"), &thread).await.unwrap();
    // interrupt_after a: the step with a is done; nothing is next.
    assert!(!out.is_interrupted(), "{out:?}");
    assert_eq!(out.values["log"], json!(["a", "fine"]));
    assert_eq!((c.get("a"), c.get("ask")), (1, 2));
}

async fn new_input_after_a_command_update_keeps_the_update(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_channel("note", Reducer::last_value())
        .add_sync_node("ask", asker(&c, "ask"))
        .add_edge(START, "ask");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    // An update without an answer: ask asks again, the update is pending.
    let out = app
        .invoke(Command::new().with_update(json!({"note": "kept"})), &thread)
        .await
        .unwrap();
    assert_eq!(out.values["note"], json!("kept"));
    assert!(out.is_interrupted());
    assert_eq!(
        app.get_state(&thread).await.unwrap().values.get("note"),
        None
    );
    // A new input: as in LangGraph, the pending NULL writes still apply.
    let out = app.invoke(json!({"log": ["new"]}), &thread).await.unwrap();
    assert_eq!(out.values["note"], json!("kept"));
    assert_eq!(out.values["log"], json!(["new"]));
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

async fn stream_ends_with_the_interrupt(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&two_askers(&c), &saver);
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("t"), StreamMode::Values)
        .collect()
        .await;
    match events.last().unwrap() {
        Ok(StreamEvent::Interrupt { interrupts, next }) => {
            assert_eq!(interrupts.len(), 2);
            assert_eq!(next, &vec!["p".to_owned(), "q".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
}

/// Two savers on one SQLite file, two graphs, runs on several threads at
/// once: every thread's history is complete and its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_savers_on_one_file_run_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let c = Counter::default();
    let mut handles = Vec::new();
    for s in 0..2 {
        let saver: Arc<dyn BaseCheckpointSaver> =
            Arc::new(checkpointer::SqliteSaver::open(&path).unwrap());
        let app = compile(&fan_graph(&c), &saver);
        for i in 0..4 {
            let app = app.clone();
            handles.push(tokio::spawn(async move {
                let thread = Config::thread(format!("s{s}-t{i}"));
                app.invoke(json!({}), &thread).await.unwrap();
                app.invoke(json!({}), &thread).await.unwrap();
                let h = app
                    .get_state_history(&thread, &ListOptions::new())
                    .await
                    .unwrap();
                (h.len(), h[0].values.clone())
            }));
        }
    }
    for h in handles {
        let (len, values) = h.await.unwrap();
        assert_eq!(len, 8);
        assert_eq!(values["log"], json!(["a", "b", "z", "a", "b", "z"]));
    }
    assert_eq!(c.get("z"), 16);
}

/// Every async entry point called outside a tokio runtime (here a plain
/// futures executor) returns `GraphError::NoRuntime`, as `stream` does,
/// instead of panicking inside tokio.
#[test]
fn invoke_and_thread_apis_outside_a_runtime_are_errors_not_panics() {
    let c = Counter::default();
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    let with_saver = compile(&fan_graph(&c), &saver);
    let without = fan_graph(&c).compile(CompileOptions::new()).unwrap();
    let thread = Config::thread("t");
    let no_runtime = |r: Result<(), GraphError>, op: &str| match r {
        Err(GraphError::NoRuntime { operation }) => assert_eq!(operation, op),
        other => panic!("{op}: {other:?}"),
    };
    let run = |f: futures::future::BoxFuture<'_, Result<(), GraphError>>| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures::executor::block_on(f)
        }))
        .unwrap_or_else(|_| panic!("panicked outside a runtime"))
    };
    no_runtime(
        run(Box::pin(async {
            without.invoke(json!({}), &thread).await.map(|_| ())
        })),
        "invoke",
    );
    no_runtime(
        run(Box::pin(async {
            with_saver.invoke(json!({}), &thread).await.map(|_| ())
        })),
        "invoke",
    );
    no_runtime(
        run(Box::pin(async {
            with_saver.get_state(&thread).await.map(|_| ())
        })),
        "get_state",
    );
    no_runtime(
        run(Box::pin(async {
            with_saver
                .get_state_history(&thread, &ListOptions::new())
                .await
                .map(|_| ())
        })),
        "get_state_history",
    );
    no_runtime(
        run(Box::pin(async {
            with_saver
                .update_state(&thread, json!({}), None)
                .await
                .map(|_| ())
        })),
        "update_state",
    );
    assert_eq!(c.get("a"), 0);
}

/// A current-thread runtime (plain `#[tokio::test]`) runs graphs too, with
/// every durability mode and both savers.
#[tokio::test]
async fn current_thread_runtime_runs_graphs() {
    for factory in [memory_saver as Factory, sqlite_saver] {
        let (saver, _guard) = factory();
        let c = Counter::default();
        for mode in [Durability::Sync, Durability::Async, Durability::Exit] {
            let app = compile(&two_askers(&c), &saver).with_durability(mode);
            let thread = Config::thread(format!("{mode:?}"));
            let out = app.invoke(json!({}), &thread).await.unwrap();
            let answers = out.interrupts.iter().map(|i| (i.id.clone(), json!("y")));
            let out = app
                .invoke(Command::resume_map(answers), &thread)
                .await
                .unwrap();
            assert_eq!(out.values["log"], json!(["p:y", "q:y"]));
            assert_eq!(app.get_state(&thread).await.unwrap().values, out.values);
        }
    }
}

/// Every test above, once per saver.
macro_rules! review_tests {
    ($module:ident, $factory:path) => {
        per_saver_tests!($module, $factory;
            bare_resume_with_several_pending_interrupts_is_refused,
            sequential_interrupts_in_one_node,
            failing_parallel_task_reruns_alone_until_it_succeeds,
            resume_with_nothing_interrupted,
            an_answer_survives_a_failure_after_it_was_taken,
            an_asking_loop_gets_each_answer_once,
            new_input_while_interrupt_pending_discards_it,
            command_update_is_announced_in_new_versions,
            two_command_updates_to_a_last_value_channel,
            interrupt_before_in_a_fan_out_step,
            join_waits_across_supersteps,
            routers_mix_names_sends_and_end,
            map_reduce_order_is_packet_order,
            a_failed_send_task_reruns_alone,
            reducer_and_channel_errors_name_the_culprits,
            loop_ends_by_router_and_limit_leaves_thread_resumable,
            update_state_as_node_decides_what_runs_next,
            update_state_keeps_the_finished_work_of_an_interrupted_step,
            time_travel_keeps_the_original_branch,
            more_command_and_replay_edges,
            failing_saver_is_an_error_and_the_thread_resumes,
            concurrent_runs_share_a_graph,
            streams_are_complete_and_end_with_the_error,
            metadata_per_checkpoint,
            async_saves_land_in_order_before_invoke_returns,
            a_dropped_invoke_leaves_a_resumable_thread,
            node_context_matches_the_stored_task,
            a_failed_interrupt_save_is_an_error_not_an_interrupt,
            interrupts_in_send_tasks_resume_by_id,
            command_goto_sends_and_update,
            exit_mode_interrupt_mid_fan_out_keeps_finished_work,
            static_and_dynamic_interrupts_on_one_node,
            new_input_after_a_command_update_keeps_the_update,
            error_then_new_input_drops_the_failed_task,
            stream_ends_with_the_interrupt,
        );
    };
}

review_tests!(memory, super::memory_saver);
review_tests!(sqlite, super::sqlite_saver);
