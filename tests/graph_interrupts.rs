//! Interrupts and commands: static and dynamic interrupts, resuming with
//! answers (one, a map, in loops, in send tasks), what new input does to a
//! pending interrupt, and `Command` updates and gotos. Every test runs once
//! per saver form, the hooked test wrapper over each saver included (see
//! `interrupt_tests!` at the bottom).

use std::collections::BTreeMap;
use std::sync::Arc;

use checkpointer::graph::{
    Command, CompileOptions, Durability, END, GraphError, Input, NodeError, Reducer, START, SendTo,
    State, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, saver::NULL_TASK_ID};
use serde_json::{Value, json};

mod graph_support;
use graph_support::*;

// ---------------------------------------------------------------------------
// Static interrupts

async fn static_interrupts_stop_and_continue(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", logger(&c, "b"))
        .add_sync_node("d", logger(&c, "d"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", "d")
        .add_edge("d", END);
    let app = g
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["b"])
                .interrupt_after(["b"]),
        )
        .unwrap();
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert!(out.is_interrupted());
    assert_eq!(out.next, vec!["b"]);
    assert!(out.interrupts.is_empty());
    assert_eq!(out.values["log"], json!(["a"]));
    assert_eq!(app.get_state(&thread).await.unwrap().next, vec!["b"]);

    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(out.next, vec!["d"]);
    assert_eq!(out.values["log"], json!(["a", "b"]));
    let out = app.invoke(Input::Continue, &thread).await.unwrap();
    assert!(!out.is_interrupted());
    assert_eq!(out.values["log"], json!(["a", "b", "d"]));
    assert_eq!((c.get("a"), c.get("b"), c.get("d")), (1, 1, 1));
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(h.len(), 5);
}

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

// ---------------------------------------------------------------------------
// Dynamic interrupts and resume

async fn dynamic_interrupt_resumes_with_the_answer(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("ask", {
            let c = c.clone();
            move |_, ctx| {
                c.hit("ask");
                let name = ctx.interrupt("name?")?;
                let age = ctx.interrupt(json!({"q": "age?"}))?;
                Ok(Update::new().set("log", format!("{}/{}", name.as_str().unwrap_or(""), age)))
            }
        })
        .add_sync_node("z", logger(&c, "z"))
        .add_edge(START, "a")
        .add_edge("a", "ask")
        .add_edge("ask", "z");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.next, vec!["ask"]);
    assert_eq!(out.interrupts.len(), 1);
    assert_eq!(out.interrupts[0].value, json!("name?"));
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.next, vec!["ask"]);
    assert_eq!(s.interrupts, out.interrupts);
    assert_eq!(s.tasks[0].interrupts, out.interrupts);

    let out = app.invoke(Command::resume("ann"), &thread).await.unwrap();
    assert_eq!(out.interrupts[0].value, json!({"q": "age?"}));
    assert_ne!(out.interrupts[0].id, s.interrupts[0].id);
    // Continuing without an answer asks again; the first answer is not reused.
    let again = app.invoke(Input::Continue, &thread).await.unwrap();
    assert_eq!(again.interrupts[0].value, json!({"q": "age?"}));
    let out = app.invoke(Command::resume(41), &thread).await.unwrap();
    assert!(!out.is_interrupted());
    assert_eq!(out.values["log"], json!(["a", "ann/41", "z"]));
    assert_eq!((c.get("a"), c.get("ask"), c.get("z")), (1, 4, 1));
    // The answers are saved as the task's __resume__ write.
    let h = saver.list(Some(&thread), &ListOptions::new()).unwrap();
    let at_ask = h.iter().find(|t| t.metadata.step == 1).unwrap();
    let resume: Vec<&Value> = at_ask
        .pending_writes
        .iter()
        .filter(|w| w.channel == "__resume__")
        .map(|w| &w.value)
        .collect();
    assert!(resume.contains(&&json!(["ann", 41])), "{resume:?}");
    assert!(
        at_ask
            .pending_writes
            .iter()
            .any(|w| w.task_id == NULL_TASK_ID)
    );
}

async fn resume_map_answers_parallel_interrupts(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for name in ["p", "q"] {
        g.add_sync_node(name, move |_, ctx| {
            let v = ctx.interrupt(format!("{name}?"))?;
            Ok(Update::new().set("log", format!("{name}={v}")))
        });
        g.add_edge(START, name);
    }
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    assert_eq!(out.interrupts.len(), 2);
    assert_eq!(out.next, vec!["p", "q"]);
    let answers = out
        .interrupts
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                json!(format!("ans-{}", i.value.as_str().unwrap())),
            )
        })
        .collect::<Vec<_>>();
    let out = app
        .invoke(Command::resume_map(answers), &thread)
        .await
        .unwrap();
    assert_eq!(out.values["log"], json!(["p=\"ans-p?\"", "q=\"ans-q?\""]));
}

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
                match n {
                    2 => Err(NodeError::msg("upstream timeout")),
                    3 => panic!("upstream panic"),
                    _ => Ok(Update::new().set("log", v)),
                }
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

async fn interrupt_keeps_the_finished_work_of_its_step(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("worker", logger(&c, "worker"))
        .add_sync_node("asker", {
            let c = c.clone();
            move |_, ctx| {
                c.hit("asker");
                let ok = ctx.interrupt("go?")?;
                Ok(Update::new().set("log", format!("asker:{}", ok.as_str().unwrap_or(""))))
            }
        })
        .add_edge(START, "worker")
        .add_edge(START, "asker");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    // The outcome shows worker's write; the checkpoint holds it as pending.
    assert_eq!(out.values["log"], json!(["worker"]));
    assert_eq!(out.next, vec!["asker"]);
    // As in LangGraph, `get_state` of the latest checkpoint applies the
    // finished task's writes and leaves it out of `next`.
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.values, json!({"log": ["worker"]}));
    assert_eq!(s.next, vec!["asker"]);
    assert!(s.tasks[1].result.is_some());
    let out = app.invoke(Command::resume("yes"), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["asker:yes", "worker"]));
    assert_eq!((c.get("worker"), c.get("asker")), (1, 2));
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
        // The finished worker is left out of `next`, as in LangGraph.
        assert_eq!(s.next, vec!["asker"], "{mode:?}");
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

// ---------------------------------------------------------------------------
// New input and commands

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

async fn command_update_and_goto(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_channel("note", Reducer::last_value())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("b", logger(&c, "b"))
        .add_sync_node("extra", {
            let c = c.clone();
            move |s, _| {
                c.hit("extra");
                Ok(Update::new().set("log", format!("extra:{}", s.get::<String>("note")?)))
            }
        })
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_conditional_edges("b", |_: &State| END, &[END, "extra"]);
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
                .with_update(json!({"note": "hi"}))
                .with_goto("extra"),
            &thread,
        )
        .await
        .unwrap();
    assert_eq!(out.values["note"], json!("hi"));
    assert_eq!(out.values["log"], json!(["a", "b", "extra:hi"]));
    assert_eq!((c.get("b"), c.get("extra")), (1, 1));

    // Two commands on one checkpoint (the first stopped again before b):
    // both updates are kept, in order.
    let t2 = Config::thread("t2");
    app.invoke(json!({}), &t2).await.unwrap();
    let out = app
        .invoke(Command::new().with_update(json!({"log": ["first"]})), &t2)
        .await
        .unwrap();
    assert!(!out.is_interrupted());
    let t3 = Config::thread("t3");
    app.invoke(json!({}), &t3).await.unwrap();
    let stopped = app.get_state(&t3).await.unwrap().config;
    for note in ["one", "two"] {
        // A command at the stopped checkpoint each time (a fork, the second
        // time), so both land on the same checkpoint's NULL task.
        app.invoke(Command::new().with_update(json!({"log": [note]})), &stopped)
            .await
            .unwrap();
    }
    let at = saver.get_tuple(&stopped).unwrap().unwrap();
    let null: Vec<&Value> = at
        .pending_writes
        .iter()
        .filter(|w| w.task_id == NULL_TASK_ID)
        .map(|w| &w.value)
        .collect();
    assert_eq!(null, vec![&json!(["one"]), &json!(["two"])]);
}

async fn command_update_is_announced_in_new_versions(factory: Factory) {
    let (inner, _guard) = factory();
    let flaky = Arc::new(flaky(&inner, 0, 0));
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
    let puts_before = put_versions(&flaky).len();
    let out = app
        .invoke(Command::new().with_update(json!({"note": "hi"})), &thread)
        .await
        .unwrap();
    assert_eq!(out.values["note"], json!("hi"));
    let recorded = put_versions(&flaky);
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
    // The snapshot applies the pending update, as LangGraph's does.
    assert_eq!(
        app.get_state(&thread).await.unwrap().values.get("note"),
        Some(&json!("kept"))
    );
    // A new input: as in LangGraph, the pending NULL writes still apply.
    let out = app.invoke(json!({"log": ["new"]}), &thread).await.unwrap();
    assert_eq!(out.values["note"], json!("kept"));
    assert_eq!(out.values["log"], json!(["new"]));
}

/// Every test above, once per saver.
macro_rules! interrupt_tests {
    ($module:ident, $factory:path) => {
        interrupt_tests!(@with per_saver_tests, $module, $factory);
    };
    (@with $emit:ident, $module:ident, $factory:path) => {
        $emit!($module, $factory;
            static_interrupts_stop_and_continue,
            interrupt_before_in_a_fan_out_step,
            static_and_dynamic_interrupts_on_one_node,
            dynamic_interrupt_resumes_with_the_answer,
            resume_map_answers_parallel_interrupts,
            bare_resume_with_several_pending_interrupts_is_refused,
            sequential_interrupts_in_one_node,
            resume_with_nothing_interrupted,
            an_answer_survives_a_failure_after_it_was_taken,
            an_asking_loop_gets_each_answer_once,
            interrupts_in_send_tasks_resume_by_id,
            interrupt_keeps_the_finished_work_of_its_step,
            exit_mode_interrupt_mid_fan_out_keeps_finished_work,
            new_input_while_interrupt_pending_discards_it,
            command_update_and_goto,
            command_update_is_announced_in_new_versions,
            two_command_updates_to_a_last_value_channel,
            command_goto_sends_and_update,
            new_input_after_a_command_update_keeps_the_update,
        );
    };
}

interrupt_tests!(memory, super::memory_saver);
interrupt_tests!(sqlite, super::sqlite_saver);
interrupt_tests!(hooked_memory, super::hooked_memory_saver);
interrupt_tests!(hooked_sqlite, super::hooked_sqlite_saver);

#[cfg(feature = "postgres")]
interrupt_tests!(@with pg_tests, postgres, super::postgres_saver);
#[cfg(feature = "postgres")]
interrupt_tests!(@with pg_tests, hooked_postgres, super::hooked_postgres_saver);
