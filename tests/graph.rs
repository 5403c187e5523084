//! Graph runtime tests. Every test runs once per saver (see `graph_tests!`
//! at the bottom): the same assertions on the in-memory and SQLite savers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, Durability, END, GraphError, Input, NodeContext,
    NodeResult, Reducer, START, SendTo, State, StateGraph, StreamEvent, StreamMode, Update,
};
use checkpointer::{
    BaseCheckpointSaver, CheckpointSource, Config, ListOptions, saver::NULL_TASK_ID,
};
use futures::StreamExt;

mod graph_support;
use graph_support::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const LOOP: CheckpointSource = CheckpointSource::Loop;
const INPUT: CheckpointSource = CheckpointSource::Input;
const FORK: CheckpointSource = CheckpointSource::Fork;

fn id(c: &Config) -> String {
    c.checkpoint_id.clone().unwrap()
}

/// START -> a -> b -> END, with `x` (last value) and `log` (append).
fn linear(c: &Counter) -> StateGraph {
    let mut g = StateGraph::new();
    g.add_channel("x", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("a", logger(c, "a"))
        .add_sync_node("b", logger(c, "b"))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END);
    g
}

async fn linear_run_checkpoints_every_step(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&linear(&c), &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({"x": 1}), &thread).await.unwrap();
    assert_eq!(out.values, json!({"x": 1, "log": ["a", "b"]}));
    assert!(out.next.is_empty() && out.interrupts.is_empty());

    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(
        sources(&h),
        vec![(LOOP, 2), (LOOP, 1), (LOOP, 0), (INPUT, -1)]
    );
    // Each checkpoint's parent is the one before it; the input has none.
    for w in h.windows(2) {
        assert_eq!(w[0].parent_config.as_ref().map(id), Some(id(&w[1].config)));
    }
    assert_eq!(h[3].parent_config, None);
    assert_eq!(out.config.as_ref().map(id), Some(id(&h[0].config)));
    for s in &h {
        assert!(s.metadata.as_ref().unwrap().parents.is_empty());
    }
    // Values per step, and what was to run next.
    assert_eq!(h[3].values, json!({}));
    assert_eq!(h[3].next, vec!["__start__"]);
    assert_eq!(h[2].values, json!({"x": 1}));
    assert_eq!(h[2].next, vec!["a"]);
    assert_eq!(h[1].values, json!({"x": 1, "log": ["a"]}));
    assert_eq!(h[1].next, vec!["b"]);
    assert!(h[0].next.is_empty());

    // Versions grow only for the channels a step changed.
    let tuples = saver.list(Some(&thread), &ListOptions::new()).unwrap();
    let cps: Vec<_> = tuples.iter().map(|t| &t.checkpoint).collect();
    assert_eq!(
        cps[0].updated_channels.as_deref().unwrap(),
        ["branch:to:b", "log"]
    );
    assert_eq!(
        cps[1].updated_channels.as_deref().unwrap(),
        ["branch:to:a", "branch:to:b", "log"]
    );
    assert_eq!(
        cps[2].updated_channels.as_deref().unwrap(),
        ["__start__", "branch:to:a", "x"]
    );
    assert_eq!(cps[3].updated_channels.as_deref().unwrap(), ["__start__"]);
    assert_eq!(cps[0].channel_versions["x"], cps[2].channel_versions["x"]);
    assert!(cps[0].channel_versions["log"] > cps[1].channel_versions["log"]);
    // versions_seen records what each node consumed.
    assert_eq!(
        cps[0].versions_seen["b"]["branch:to:b"],
        cps[1].channel_versions["branch:to:b"]
    );
    assert_eq!((c.get("a"), c.get("b")), (1, 1));

    // get_state is the newest snapshot.
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.values, out.values);
    assert_eq!(s.config, h[0].config);
    assert_eq!(s.created_at.as_deref(), Some(cps[0].ts.as_str()));
}

async fn multi_turn_appends_and_steps_continue(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("messages", Reducer::append())
        .add_node("bot", |s, _ctx| async move {
            let msgs: Vec<String> = s.get("messages")?;
            let last = msgs.last().cloned().unwrap_or_default();
            Ok(Update::new().set("messages", vec![format!("echo: {last}")]))
        })
        .add_edge(START, "bot")
        .add_edge("bot", END);
    let app = compile(&g, &saver);
    let thread = Config::thread("chat");
    app.invoke(json!({"messages": ["hi"]}), &thread)
        .await
        .unwrap();
    let out = app
        .invoke(json!({"messages": ["bye"]}), &thread)
        .await
        .unwrap();
    assert_eq!(
        out.values["messages"],
        json!(["hi", "echo: hi", "bye", "echo: bye"])
    );
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(
        sources(&h),
        vec![
            (LOOP, 4),
            (LOOP, 3),
            (INPUT, 2),
            (LOOP, 1),
            (LOOP, 0),
            (INPUT, -1)
        ]
    );
    // The second input's parent is the first run's last checkpoint.
    assert_eq!(h[2].parent_config.as_ref().map(id), Some(id(&h[3].config)));
    let inputs = app
        .get_state_history(&thread, &ListOptions::new().filter("source", "input"))
        .await
        .unwrap();
    assert_eq!(inputs.len(), 2);
    let limited = app
        .get_state_history(
            &thread,
            &ListOptions::new().before(id(&h[1].config)).limit(2),
        )
        .await
        .unwrap();
    assert_eq!(sources(&limited), vec![(INPUT, 2), (LOOP, 1)]);
}

async fn custom_reducer_and_typed_state(factory: Factory) {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Profile {
        name: String,
        age: u32,
    }
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel(
        "total",
        Reducer::custom(|cur, upd| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0))),
    )
    .add_channel("profile", Reducer::last_value())
    .add_sync_node("add", |s, _| {
        let p: Profile = s.get("profile")?;
        Ok(Update::new().set("total", p.age).set(
            "profile",
            Profile {
                age: p.age + 1,
                ..p
            },
        ))
    })
    .add_sync_node("add_again", |_, _| Ok(Update::new().set("total", 5)))
    .add_edge(START, "add")
    .add_edge(START, "add_again")
    .add_edge("add", END);
    let app = compile(&g, &saver);
    let out = app
        .invoke(
            json!({"total": 1, "profile": {"name": "ann", "age": 30}}),
            &Config::thread("t"),
        )
        .await
        .unwrap();
    assert_eq!(out.values["total"], json!(36));
    let state = out.state();
    let p: Profile = state.get("profile").unwrap();
    assert_eq!(
        p,
        Profile {
            name: "ann".into(),
            age: 31
        }
    );
    assert!(matches!(
        state.get::<String>("total"),
        Err(GraphError::StateType { .. })
    ));
    assert!(matches!(
        state.get::<i64>("nope"),
        Err(GraphError::MissingChannel { .. })
    ));
}

async fn last_value_conflict_names_both_nodes(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("x", Reducer::last_value())
        .add_sync_node("left", |_, _| Ok(Update::new().set("x", 1)))
        .add_sync_node("right", |_, _| Ok(Update::new().set("x", 2)))
        .add_edge(START, "left")
        .add_edge(START, "right");
    let app = compile(&g, &saver);
    let err = app
        .invoke(json!({}), &Config::thread("t"))
        .await
        .unwrap_err();
    match err {
        GraphError::ConflictingUpdate {
            channel,
            first_node,
            second_node,
            step,
            thread_id,
        } => {
            assert_eq!(channel, "x");
            assert_eq!(
                (first_node.as_str(), second_node.as_str()),
                ("left", "right")
            );
            assert_eq!((step, thread_id.as_str()), (1, "t"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err_text_mentions(&app, "left").await);
}

async fn err_text_mentions(app: &CompiledGraph, node: &str) -> bool {
    let e = app
        .invoke(Input::Continue, &Config::thread("t"))
        .await
        .unwrap_err();
    e.to_string().contains(node)
}

async fn fan_out_runs_in_one_step_and_join_waits_for_all(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("a", logger(&c, "a"))
        .add_sync_node("a2", logger(&c, "a2"))
        .add_sync_node("b", logger(&c, "b"))
        .add_sync_node("c", logger(&c, "c"))
        .add_edge(START, "a")
        .add_edge(START, "b")
        .add_edge("a", "a2")
        .add_edge(["a2", "b"], "c")
        .add_edge("c", END);
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    // a and b run in step 1 (writes applied in task order), a2 in step 2, c in step 3.
    assert_eq!(out.values["log"], json!(["a", "b", "a2", "c"]));
    assert_eq!(
        (c.get("a"), c.get("b"), c.get("a2"), c.get("c")),
        (1, 1, 1, 1)
    );
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    assert_eq!(h.len(), 5);
    assert_eq!(h[3].next, vec!["a", "b"]);
    assert_eq!(h[2].next, vec!["a2"]);
    assert_eq!(h[1].next, vec!["c"]);
}

async fn conditional_edges_route_on_state(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("n", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("inc", {
            let c = c.clone();
            move |s, _| {
                c.hit("inc");
                Ok(Update::new()
                    .set("n", s.get::<i64>("n")? + 1)
                    .set("log", "inc"))
            }
        })
        .add_sync_node("big", logger(&c, "big"))
        .add_sync_node("small", logger(&c, "small"))
        .add_edge(START, "inc")
        .add_conditional_edges(
            "inc",
            |s: &State| {
                let n: i64 = s.get("n").unwrap_or(0);
                if n < 3 {
                    "inc"
                } else if n == 3 {
                    "big"
                } else {
                    END
                }
            },
            &["inc", "big", END],
        )
        .add_conditional_edges(START, |_: &State| vec!["small"], &["small"])
        .add_edge("big", END)
        .add_edge("small", END);
    let app = compile(&g, &saver);
    let out = app
        .invoke(json!({"n": 0}), &Config::thread("t"))
        .await
        .unwrap();
    assert_eq!(out.values["n"], json!(3));
    assert_eq!(
        out.values["log"],
        json!(["inc", "small", "inc", "inc", "big"])
    );
    assert_eq!((c.get("inc"), c.get("big"), c.get("small")), (3, 1, 1));
}

async fn send_fans_out_map_reduce(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("subjects", Reducer::last_value())
        .add_channel("jokes", Reducer::append())
        .add_channel("best", Reducer::last_value())
        .add_sync_node("plan", |_, _| Ok(Update::new()))
        .add_node("joke", {
            let c = c.clone();
            move |s: State, ctx: NodeContext| {
                let c = c.clone();
                async move {
                    c.hit("joke");
                    assert!(ctx.task_id().len() == 36);
                    let subject: String = s.get("subject")?;
                    Ok(Update::new().set("jokes", vec![format!("joke about {subject}")]))
                }
            }
        })
        .add_sync_node("pick", |s, _| {
            let jokes: Vec<String> = s.get("jokes")?;
            Ok(Update::new().set("best", jokes.len()))
        })
        .add_edge(START, "plan")
        .add_conditional_edges(
            "plan",
            |s: &State| {
                let subjects: Vec<String> = s.get("subjects").unwrap_or_default();
                subjects
                    .iter()
                    .map(|x| SendTo::new("joke", json!({ "subject": x })))
                    .collect::<Vec<_>>()
            },
            &["joke"],
        )
        .add_edge("joke", "pick")
        .add_edge("pick", END);
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let out = app
        .invoke(json!({"subjects": ["cats", "dogs", "owls"]}), &thread)
        .await
        .unwrap();
    assert_eq!(
        out.values["jokes"],
        json!(["joke about cats", "joke about dogs", "joke about owls"])
    );
    assert_eq!(out.values["best"], json!(3));
    assert_eq!(c.get("joke"), 3);
    let h = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap();
    // input, __start__, plan, 3 x joke (one step), pick
    assert_eq!(h.len(), 5);
    assert_eq!(h[2].next, vec!["joke", "joke", "joke"]);
    assert_eq!(h[2].tasks[1].path, "~__pregel_push, 0000000001");
}

async fn compile_reports_shape_errors(factory: Factory) {
    let (saver, _guard) = factory();
    let bad = |g: &StateGraph, opts: CompileOptions, needle: &str| {
        let err = g.compile(opts).unwrap_err();
        assert!(matches!(err, GraphError::InvalidGraph { .. }), "{err:?}");
        assert!(err.to_string().contains(needle), "{err} lacks {needle}");
    };
    let ok = |_: &State, _: &NodeContext| -> NodeResult { Ok(Update::new()) };
    let opts = || CompileOptions::new().saver(Arc::clone(&saver));

    let mut g = StateGraph::new();
    g.add_sync_node("a", ok)
        .add_edge(START, "a")
        .add_edge("a", "nowhere");
    bad(&g, opts(), "\"nowhere\"");

    let mut g = StateGraph::new();
    g.add_sync_node("a", ok).add_edge("a", END);
    bad(&g, opts(), "no edge from START");

    let mut g = StateGraph::new();
    g.add_sync_node("a", ok)
        .add_sync_node("orphan", ok)
        .add_edge(START, "a")
        .add_edge("orphan", END);
    bad(&g, opts(), "\"orphan\"");

    let mut g = StateGraph::new();
    g.add_sync_node("a", ok).add_edge(START, "a");
    bad(&g, opts().interrupt_before(["ghost"]), "\"ghost\"");

    let mut g = StateGraph::new();
    g.add_sync_node("a", ok)
        .add_sync_node("a", ok)
        .add_edge(START, "a");
    bad(&g, opts(), "added twice");

    let mut g = StateGraph::new();
    g.add_sync_node("a", ok)
        .add_edge(START, "a")
        .add_edge(["a", "ghost"], "a");
    bad(&g, opts(), "\"ghost\"");
}

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
    assert_eq!(s.next, vec!["a", "b"]);
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

async fn panicking_node_becomes_an_error(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_sync_node("boom", |_, _| -> NodeResult { panic!("kaboom") })
        .add_edge(START, "boom");
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let err = app.invoke(json!({}), &thread).await.unwrap_err();
    match err {
        GraphError::NodePanicked {
            node,
            message,
            step,
            ..
        } => {
            assert_eq!(
                (node.as_str(), message.as_str(), step),
                ("boom", "kaboom", 1)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let s = app.get_state(&thread).await.unwrap();
    assert!(s.tasks[0].error.as_deref().unwrap().contains("kaboom"));
}

async fn recursion_limit_names_the_step(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_sync_node("spin", logger(&c, "spin"))
        .add_edge(START, "spin")
        .add_edge("spin", "spin");
    let app = compile(&g, &saver).with_recursion_limit(5);
    let err = app
        .invoke(json!({}), &Config::thread("t"))
        .await
        .unwrap_err();
    match err {
        GraphError::RecursionLimit {
            limit,
            step,
            thread_id,
        } => {
            assert_eq!((limit, step, thread_id.as_str()), (5, 5, "t"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // __start__ plus four spins fit in five steps.
    assert_eq!(c.get("spin"), 4);
    let default = compile(&g, &saver);
    let err = default
        .invoke(json!({}), &Config::thread("t2"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("recursion limit of 25 steps reached at step 25")
    );
}

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
        vec![
            (LOOP, 2),
            (FORK, 1),
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

async fn stream_modes(factory: Factory) {
    let (saver, _guard) = factory();
    let c = Counter::default();
    let app = compile(&linear(&c), &saver);
    let values: Vec<StreamEvent> = app
        .stream(json!({"x": 1}), &Config::thread("v"), StreamMode::Values)
        .map(Result::unwrap)
        .collect()
        .await;
    let vals: Vec<(i64, Value)> = values
        .into_iter()
        .map(|e| match e {
            StreamEvent::Values { step, values } => (step, values),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        vals,
        vec![
            (-1, json!({})),
            (0, json!({"x": 1})),
            (1, json!({"x": 1, "log": ["a"]})),
            (2, json!({"x": 1, "log": ["a", "b"]})),
        ]
    );

    let updates: Vec<(String, Value)> = app
        .stream(json!({"x": 1}), &Config::thread("u"), StreamMode::Updates)
        .map(|e| match e.unwrap() {
            StreamEvent::Updates { node, update, .. } => (node, update),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
        .await;
    assert_eq!(
        updates,
        vec![
            ("a".to_owned(), json!({"log": "a"})),
            ("b".to_owned(), json!({"log": "b"})),
        ]
    );

    let tasks: Vec<StreamEvent> = app
        .stream(json!({"x": 1}), &Config::thread("k"), StreamMode::Tasks)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(tasks.len(), 4);
    match (&tasks[0], &tasks[1]) {
        (
            StreamEvent::TaskStart {
                name,
                id,
                triggers,
                step,
            },
            StreamEvent::TaskEnd {
                name: n2,
                id: id2,
                result,
                error,
                ..
            },
        ) => {
            assert_eq!((name.as_str(), n2.as_str(), *step), ("a", "a", 1));
            assert_eq!(id, id2);
            assert_eq!(triggers, &vec!["branch:to:a".to_owned()]);
            assert_eq!(
                result.as_ref().unwrap(),
                &json!([["log", "a"], ["branch:to:b", "a"]])
            );
            assert!(error.is_none());
        }
        other => panic!("unexpected {other:?}"),
    }

    // A run stopped by an interrupt ends with an Interrupt event.
    let paused = linear(&c)
        .compile(
            CompileOptions::new()
                .saver(Arc::clone(&saver))
                .interrupt_before(["b"]),
        )
        .unwrap();
    let events: Vec<StreamEvent> = paused
        .stream(json!({"x": 1}), &Config::thread("i"), StreamMode::Updates)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Interrupt {
            interrupts: vec![],
            next: vec!["b".to_owned()]
        })
    );
    // Continuing streams the resumed state first.
    let resumed: Vec<StreamEvent> = paused
        .stream(Input::Continue, &Config::thread("i"), StreamMode::Values)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(resumed.len(), 2);
    assert!(
        matches!(&resumed[0], StreamEvent::Values { step: 1, values } if values["log"] == json!(["a"]))
    );

    // An error ends the stream with Err.
    let mut g = StateGraph::new();
    g.add_sync_node("bad", |_, _| Err(checkpointer::graph::NodeError::msg("no")))
        .add_edge(START, "bad");
    let bad = compile(&g, &saver);
    let events: Vec<_> = bad
        .stream(json!({}), &Config::thread("e"), StreamMode::Values)
        .collect()
        .await;
    assert!(matches!(
        events.last(),
        Some(Err(GraphError::NodeFailed { .. }))
    ));
}

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

async fn without_a_saver_runs_work_and_history_errors(_factory: Factory) {
    let c = Counter::default();
    let app = linear(&c).compile(CompileOptions::new()).unwrap();
    let out = app
        .invoke(json!({"x": 1}), &Config::default())
        .await
        .unwrap();
    assert_eq!(out.values, json!({"x": 1, "log": ["a", "b"]}));
    assert_eq!(out.config, None);
    let err = app.get_state(&Config::thread("t")).await.unwrap_err();
    assert!(matches!(
        err,
        GraphError::NoSaver {
            operation: "get_state"
        }
    ));
    assert!(err.to_string().contains("saver"));
    let err = app
        .invoke(Input::Continue, &Config::thread("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::NoSaver { .. }), "{err:?}");
}

async fn invalid_updates_are_task_errors(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("x", Reducer::last_value())
        .add_sync_node("a", |_, _| Ok(Update::new().set("nope", 1)))
        .add_edge(START, "a");
    let app = compile(&g, &saver);
    let err = app
        .invoke(json!({"x": 1}), &Config::thread("t"))
        .await
        .unwrap_err();
    match err {
        GraphError::InvalidUpdate {
            node, reason, step, ..
        } => {
            assert_eq!((node.as_str(), step), ("a", 1));
            assert!(reason.contains("\"nope\""));
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = app
        .invoke(json!({"y": 1}), &Config::thread("t2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::InvalidUpdate { ref node, .. } if node == "__start__"),
        "{err:?}"
    );
    let err = app
        .invoke(json!([1]), &Config::thread("t3"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::InvalidUpdate { .. }));
    let err = app
        .invoke(json!({}), &Config::thread(""))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::MissingThreadId { .. }));
}

async fn tasks_of_a_step_run_concurrently(factory: Factory) {
    let (saver, _guard) = factory();
    // Both nodes wait for each other: only concurrent tasks can finish.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append());
    for name in ["a", "b"] {
        let barrier = Arc::clone(&barrier);
        g.add_node(name, move |_s, _ctx| {
            let barrier = Arc::clone(&barrier);
            async move {
                barrier.wait().await;
                Ok(Update::new().set("log", name))
            }
        });
        g.add_edge(START, name);
    }
    let app = compile(&g, &saver);
    let thread = Config::thread("t");
    let run = app.invoke(json!({}), &thread);
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("tasks of one step must run concurrently")
        .unwrap();
    assert_eq!(out.values["log"], json!(["a", "b"]));
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

async fn panicking_reducer_is_an_error(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel(
        "x",
        Reducer::custom(|_, u| if u == json!(13) { panic!("unlucky") } else { u }),
    )
    .add_sync_node("a", |_, _| Ok(Update::new().set("x", 13)))
    .add_edge(START, "a");
    let app = compile(&g, &saver);
    let err = app
        .invoke(json!({"x": 1}), &Config::thread("t"))
        .await
        .unwrap_err();
    match err {
        GraphError::ReducerPanicked {
            channel,
            step,
            message,
            ..
        } => {
            assert_eq!(
                (channel.as_str(), step, message.as_str()),
                ("x", 1, "unlucky")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
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
    let s = app.get_state(&thread).await.unwrap();
    assert_eq!(s.values, json!({}));
    assert_eq!(s.next, vec!["asker", "worker"]);
    assert!(s.tasks[1].result.is_some());
    let out = app.invoke(Command::resume("yes"), &thread).await.unwrap();
    assert_eq!(out.values["log"], json!(["asker:yes", "worker"]));
    assert_eq!((c.get("worker"), c.get("asker")), (1, 2));
}

async fn double(state: State, ctx: NodeContext) -> NodeResult {
    let n: i64 = state.get("n")?;
    assert_eq!(
        (ctx.node(), ctx.step(), ctx.config().thread_id.as_str()),
        ("double", 1, "t")
    );
    Ok(Update::new().set("n", n * 2))
}

fn add_one(state: &State, _ctx: &NodeContext) -> NodeResult {
    Ok(Update::new().set("n", state.get::<i64>("n")? + 1))
}

async fn plain_functions_are_nodes(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("n", Reducer::last_value())
        .add_node("double", double)
        .add_sync_node("add_one", add_one)
        .add_edge(START, "double")
        .add_edge("double", "add_one")
        .add_edge("add_one", END);
    let app = compile(&g, &saver);
    let out = app
        .invoke(json!({"n": 20}), &Config::thread("t"))
        .await
        .unwrap();
    assert_eq!(out.state().get::<i64>("n").unwrap(), 41);
}

#[test]
fn stream_outside_a_runtime_is_an_error_not_a_panic() {
    let c = Counter::default();
    let app = linear(&c).compile(CompileOptions::new()).unwrap();
    let events: Vec<_> = futures::executor::block_on(
        app.stream(json!({}), &Config::thread("t"), StreamMode::Values)
            .collect::<Vec<_>>(),
    );
    assert!(matches!(
        events.as_slice(),
        [Err(GraphError::NoRuntime {
            operation: "stream"
        })]
    ));
}

/// Every test above, once per saver.
macro_rules! graph_tests {
    ($module:ident, $factory:path) => {
        per_saver_tests!($module, $factory;
            linear_run_checkpoints_every_step,
            multi_turn_appends_and_steps_continue,
            custom_reducer_and_typed_state,
            last_value_conflict_names_both_nodes,
            fan_out_runs_in_one_step_and_join_waits_for_all,
            conditional_edges_route_on_state,
            send_fans_out_map_reduce,
            compile_reports_shape_errors,
            failed_task_resumes_without_rerunning_finished_ones,
            panicking_node_becomes_an_error,
            recursion_limit_names_the_step,
            static_interrupts_stop_and_continue,
            dynamic_interrupt_resumes_with_the_answer,
            resume_map_answers_parallel_interrupts,
            command_update_and_goto,
            update_state_writes_an_update_checkpoint,
            replay_from_older_checkpoint_forks,
            stream_modes,
            durability_modes_save_as_documented,
            without_a_saver_runs_work_and_history_errors,
            invalid_updates_are_task_errors,
            tasks_of_a_step_run_concurrently,
            task_writes_are_saved_as_soon_as_the_task_ends,
            panicking_reducer_is_an_error,
            interrupt_keeps_the_finished_work_of_its_step,
            plain_functions_are_nodes,
        );
    };
}

graph_tests!(memory, super::memory_saver);
graph_tests!(sqlite, super::sqlite_saver);
