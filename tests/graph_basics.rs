//! What a graph run does: steps and checkpoints, reducers and typed state,
//! fan-out, joins and routing, sends (map-reduce), shape and node errors,
//! the recursion limit, concurrency, and runtimes. Every test runs once per
//! saver (see `basics_tests!` at the bottom).

use std::sync::{Arc, Mutex};

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, Durability, END, GraphError, Input, NodeContext,
    NodeResult, Reducer, START, SendTo, State, StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, InMemorySaver, ListOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;

mod graph_support;
use graph_support::*;

// ---------------------------------------------------------------------------
// Runs, steps and state

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
    // An append channel never written reads as `[]`, as in LangGraph.
    assert_eq!(h[3].values, json!({"log": []}));
    assert_eq!(h[3].next, vec!["__start__"]);
    assert_eq!(h[2].values, json!({"x": 1, "log": []}));
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

// ---------------------------------------------------------------------------
// Fan-out, joins, routing, sends

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
                match n.cmp(&3) {
                    std::cmp::Ordering::Less => "inc",
                    std::cmp::Ordering::Equal => "big",
                    std::cmp::Ordering::Greater => END,
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
    assert_eq!(h[2].tasks[1].path, "~__pregel_push, 0000000001, 0000000000");
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
    let out = tokio::time::timeout(std::time::Duration::from_mins(1), run)
        .await
        .expect("tasks of one step must run concurrently")
        .unwrap();
    assert_eq!(out.values["log"], json!(["a", "b"]));
}

async fn node_context_matches_the_stored_task(factory: Factory) {
    /// (node, step, task id, thread id) as the node saw them.
    type Seen = Vec<(String, i64, String, String)>;
    let (saver, _guard) = factory();
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

// ---------------------------------------------------------------------------
// Errors and limits

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

async fn err_text_mentions(app: &CompiledGraph, node: &str) -> bool {
    let e = app
        .invoke(Input::Continue, &Config::thread("t"))
        .await
        .unwrap_err();
    e.to_string().contains(node)
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
            assert_eq!((limit, step, thread_id.as_str()), (5, 6, "t"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // As in LangGraph, steps 0 to 5 run: __start__ plus five spins.
    assert_eq!(c.get("spin"), 5);
    let default = compile(&g, &saver);
    let err = default
        .invoke(json!({}), &Config::thread("t2"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("recursion limit of 25 steps reached at step 26")
    );
}

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
                step: 5,
                ..
            }
        ),
        "{err}"
    );
    // Steps 0 to 4 ran: __start__, inc, check, inc, check.
    let done_before = (c.get("inc"), c.get("check"));
    assert_eq!(done_before, (2, 2));
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

// ---------------------------------------------------------------------------
// Concurrency and runtimes

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
macro_rules! basics_tests {
    ($module:ident, $factory:path) => {
        basics_tests!(@with per_saver_tests, $module, $factory);
    };
    (@with $emit:ident, $module:ident, $factory:path) => {
        $emit!($module, $factory;
            linear_run_checkpoints_every_step,
            multi_turn_appends_and_steps_continue,
            custom_reducer_and_typed_state,
            plain_functions_are_nodes,
            fan_out_runs_in_one_step_and_join_waits_for_all,
            join_waits_across_supersteps,
            conditional_edges_route_on_state,
            routers_mix_names_sends_and_end,
            send_fans_out_map_reduce,
            map_reduce_order_is_packet_order,
            tasks_of_a_step_run_concurrently,
            node_context_matches_the_stored_task,
            compile_reports_shape_errors,
            last_value_conflict_names_both_nodes,
            panicking_node_becomes_an_error,
            panicking_reducer_is_an_error,
            invalid_updates_are_task_errors,
            reducer_and_channel_errors_name_the_culprits,
            recursion_limit_names_the_step,
            loop_ends_by_router_and_limit_leaves_thread_resumable,
            without_a_saver_runs_work_and_history_errors,
            concurrent_runs_share_a_graph,
        );
    };
}

basics_tests!(memory, super::memory_saver);
basics_tests!(sqlite, super::sqlite_saver);

#[cfg(feature = "postgres")]
basics_tests!(@with pg_tests, postgres, super::postgres_saver);
