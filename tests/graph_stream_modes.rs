//! Stream modes beyond one (issue 17): several modes in one stream,
//! `custom` events a node writes, `messages` chunks, LangGraph's `debug`
//! events, subgraph events tagged with their namespace, and the bound
//! that makes a slow consumer slow the run. The expectations are what
//! LangGraph 1.2.22 streams for the same graphs
//! (`tests/langgraph_reference/streams.py`). Every test runs once per
//! saver.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, GraphError, Reducer, START, StateGraph, StreamEvent,
    StreamMode, StreamOptions, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use futures::StreamExt;
use serde_json::{Value, json};

mod graph_support;
use graph_support::*;

/// `a` (writes two custom events) -> `b`, channel `log` (append), as
/// `two_nodes()` in the reference script.
fn two_nodes(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_node("a", |_s, ctx| async move {
            let w = ctx.writer();
            w.write(json!({"progress": 1})).await;
            w.write(json!({"progress": 2})).await;
            Ok(Update::new().set("log", "a"))
        })
        .add_sync_node("b", |_, _| Ok(Update::new().set("log", "b")))
        .add_edge(START, "a")
        .add_edge("a", "b")
        .add_edge("b", END);
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

async fn collect(
    app: &CompiledGraph,
    thread: &str,
    modes: impl Into<StreamOptions>,
) -> Vec<StreamEvent> {
    app.stream(json!({"log": []}), &Config::thread(thread), modes)
        .map(Result::unwrap)
        .collect()
        .await
}

/// `stream_mode=["updates", "custom"]`: LangGraph yields
/// `('custom', {'progress': 1})`, `('custom', {'progress': 2})`,
/// `('updates', {'a': ...})`, `('updates', {'b': ...})`; each event says
/// its mode, and the custom ones their node and step.
async fn several_modes_in_one_stream(factory: Factory) {
    let (saver, _guard) = factory();
    let app = two_nodes(&saver);
    let events = collect(&app, "t", [StreamMode::Updates, StreamMode::Custom]).await;
    let seen: Vec<(Option<StreamMode>, Value)> = events
        .iter()
        .map(|e| {
            let payload = match e {
                StreamEvent::Custom { value, .. } => value.clone(),
                StreamEvent::Updates { node, update, .. } => json!({ node.clone(): update }),
                other => panic!("unexpected {other:?}"),
            };
            (e.mode(), payload)
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some(StreamMode::Custom), json!({"progress": 1})),
            (Some(StreamMode::Custom), json!({"progress": 2})),
            (Some(StreamMode::Updates), json!({"a": {"log": "a"}})),
            (Some(StreamMode::Updates), json!({"b": {"log": "b"}})),
        ]
    );
    assert_eq!(
        events[0],
        StreamEvent::Custom {
            step: 1,
            node: "a".into(),
            value: json!({"progress": 1})
        }
    );
    // One mode alone is still the old single-mode stream.
    let values = collect(&app, "v", StreamMode::Values).await;
    assert!(values.iter().all(|e| e.mode() == Some(StreamMode::Values)));
    assert_eq!(values.len(), 4);
}

/// `stream_mode="messages"`: each chunk with LangGraph's metadata; the
/// task's namespace is `<node>:<task id>` and the id is the task's.
async fn message_chunks_carry_langgraph_metadata(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_node("chat", |_s, ctx| async move {
            let mut text = String::new();
            for token in ["hello", " ", "big", " ", "world"] {
                text.push_str(token);
                ctx.emit_message_chunk(json!({"type": "AIMessageChunk", "content": token}))
                    .await;
            }
            Ok(Update::new().set("log", text))
        })
        .add_edge(START, "chat");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let events = collect(&app, "m", [StreamMode::Messages, StreamMode::Tasks]).await;
    let task_id = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::TaskStart { id, .. } => Some(id.clone()),
            _ => None,
        })
        .unwrap();
    let chunks: Vec<&StreamEvent> = events
        .iter()
        .filter(|e| e.mode() == Some(StreamMode::Messages))
        .collect();
    let contents: Vec<&str> = chunks
        .iter()
        .map(|e| match e {
            StreamEvent::Message { chunk, .. } => chunk["content"].as_str().unwrap(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(contents, ["hello", " ", "big", " ", "world"]);
    let ns = format!("chat:{task_id}");
    for e in chunks {
        let StreamEvent::Message {
            step,
            node,
            task_id: id,
            metadata,
            ..
        } = e
        else {
            unreachable!()
        };
        assert_eq!((*step, node.as_str(), id), (1, "chat", &task_id));
        assert_eq!(
            metadata,
            &json!({
                "thread_id": "m",
                "langgraph_step": 1,
                "langgraph_node": "chat",
                "langgraph_triggers": ["branch:to:chat"],
                "langgraph_path": ["__pregel_pull", "chat"],
                "langgraph_checkpoint_ns": ns,
                "checkpoint_ns": ns,
            })
        );
    }
    // Without the mode, nothing of the kind is streamed.
    let updates = collect(&app, "u", StreamMode::Updates).await;
    assert_eq!(updates.len(), 1);
}

/// `stream_mode="debug"`: LangGraph's sequence of checkpoint, task and
/// `task_result` events, in its shapes (ids aside: ours are UUIDv5, its
/// xxh3).
async fn debug_events_in_langgraph_shapes(factory: Factory) {
    let (saver, _guard) = factory();
    let app = two_nodes(&saver);
    let events = collect(&app, "d", StreamMode::Debug).await;
    let seen: Vec<(String, i64, Value, Value)> = events
        .iter()
        .map(|e| match e {
            StreamEvent::Debug {
                step,
                kind,
                payload,
                ..
            } => {
                let what = payload
                    .get("name")
                    .cloned()
                    .unwrap_or_else(|| payload["next"].clone());
                let keys = [
                    "input",
                    "triggers",
                    "result",
                    "error",
                    "interrupts",
                    "values",
                    "metadata",
                ];
                let rest: serde_json::Map<String, Value> = payload
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| keys.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (kind.clone(), *step, what, Value::Object(rest))
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let meta = |source: &str, step: i64| json!({"source": source, "step": step, "parents": {}});
    let expected = vec![
        (
            "checkpoint",
            -1,
            json!(["__start__"]),
            json!({"values": {"log": []}, "metadata": meta("input", -1)}),
        ),
        (
            "checkpoint",
            0,
            json!(["a"]),
            json!({"values": {"log": []}, "metadata": meta("loop", 0)}),
        ),
        (
            "task",
            1,
            json!("a"),
            json!({"input": {"log": []}, "triggers": ["branch:to:a"]}),
        ),
        (
            "task_result",
            1,
            json!("a"),
            json!({"error": null, "result": {"log": "a"}, "interrupts": []}),
        ),
        (
            "checkpoint",
            1,
            json!(["b"]),
            json!({"values": {"log": ["a"]}, "metadata": meta("loop", 1)}),
        ),
        (
            "task",
            2,
            json!("b"),
            json!({"input": {"log": ["a"]}, "triggers": ["branch:to:b"]}),
        ),
        (
            "task_result",
            2,
            json!("b"),
            json!({"error": null, "result": {"log": "b"}, "interrupts": []}),
        ),
        (
            "checkpoint",
            2,
            json!([]),
            json!({"values": {"log": ["a", "b"]}, "metadata": meta("loop", 2)}),
        ),
    ];
    let expected: Vec<(String, i64, Value, Value)> = expected
        .into_iter()
        .map(|(k, s, w, r)| (k.to_owned(), s, w, r))
        .collect();
    assert_eq!(seen, expected);
}

/// Each debug `checkpoint` event names the checkpoint as saved and its
/// parent (the one before it).
async fn debug_checkpoints_name_the_saved_checkpoints(factory: Factory) {
    let (saver, _guard) = factory();
    let app = two_nodes(&saver);
    let events = collect(&app, "d", StreamMode::Debug).await;
    // Each checkpoint event names its checkpoint and its parent, as saved.
    let history = app
        .get_state_history(&Config::thread("d"), &ListOptions::default())
        .await
        .unwrap();
    let saved: Vec<Option<String>> = history
        .iter()
        .rev()
        .map(|s| s.config.checkpoint_id.clone())
        .collect();
    let streamed: Vec<(Option<String>, Option<String>)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Debug { kind, payload, .. } if kind == "checkpoint" => Some((
                payload["config"]["configurable"]["checkpoint_id"]
                    .as_str()
                    .map(str::to_owned),
                payload["parent_config"]["configurable"]["checkpoint_id"]
                    .as_str()
                    .map(str::to_owned),
            )),
            _ => None,
        })
        .collect();
    let ids: Vec<Option<String>> = streamed.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, saved);
    assert_eq!(streamed[0].1, None);
    for pair in streamed.windows(2) {
        assert_eq!(pair[1].1, pair[0].0);
    }
}

/// Parent `sub -> b` whose `sub` is the subgraph `sa` (writes a custom
/// event, then a chunk), as in the reference script.
fn parent_with_subgraph(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut sub = StateGraph::new();
    sub.add_channel("log", Reducer::append())
        .add_node("sa", |_s, ctx| async move {
            ctx.writer().write(json!({"inner": true})).await;
            ctx.emit_message_chunk(json!({"content": "deep"})).await;
            Ok(Update::new().set("log", "sa"))
        })
        .add_edge(START, "sa");
    let sub = sub
        .compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_subgraph("sub", sub)
        .add_sync_node("b", |_, _| Ok(Update::new().set("log", "b")))
        .add_edge(START, "sub")
        .add_edge("sub", "b");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// A subgraph's events: left out by default (LangGraph's `subgraphs=False`
/// shows only the parent's updates, and no custom event or chunk from
/// inside), and with `subgraphs(true)` tagged with the subgraph's
/// `checkpoint_ns`, before the parent's update of the node.
async fn subgraph_events_are_tagged_with_their_namespace(factory: Factory) {
    let (saver, _guard) = factory();
    let app = parent_with_subgraph(&saver);
    let modes = [
        StreamMode::Updates,
        StreamMode::Custom,
        StreamMode::Messages,
    ];
    let flat = collect(&app, "flat", modes).await;
    let nodes: Vec<&str> = flat
        .iter()
        .map(|e| match e {
            StreamEvent::Updates { node, .. } => node.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(nodes, ["sub", "b"]);

    let nested = collect(&app, "nested", StreamOptions::from(modes).subgraphs(true)).await;
    let seen: Vec<(String, Option<StreamMode>, Value)> = nested
        .iter()
        .map(|e| {
            let inner = match e {
                StreamEvent::Subgraph { event, .. } => event.as_ref(),
                other => other,
            };
            let payload = match inner {
                StreamEvent::Custom { value, .. } => value.clone(),
                StreamEvent::Message { chunk, .. } => chunk.clone(),
                StreamEvent::Updates { node, update, .. } => json!({ node.clone(): update }),
                other => panic!("unexpected {other:?}"),
            };
            (e.namespace().to_owned(), e.mode(), payload)
        })
        .collect();
    let ns = seen[0].0.clone();
    assert!(ns.starts_with("sub:"), "{ns}");
    assert_eq!(
        seen,
        vec![
            (ns.clone(), Some(StreamMode::Custom), json!({"inner": true})),
            (
                ns.clone(),
                Some(StreamMode::Messages),
                json!({"content": "deep"})
            ),
            (
                ns.clone(),
                Some(StreamMode::Updates),
                json!({"sa": {"log": "sa"}})
            ),
            (
                String::new(),
                Some(StreamMode::Updates),
                json!({"sub": {"log": ["sa"]}})
            ),
            (
                String::new(),
                Some(StreamMode::Updates),
                json!({"b": {"log": "b"}})
            ),
        ]
    );
    // The namespace is the one the subgraph's checkpoints are saved under.
    let in_ns = saver
        .list(
            Some(&Config::thread("nested").with_ns(ns.clone())),
            &ListOptions::default(),
        )
        .unwrap();
    assert!(!in_ns.is_empty(), "no checkpoint under {ns}");
    // A chunk from inside names the inner task's namespace.
    let inner_ns = nested
        .iter()
        .find_map(|e| match e {
            StreamEvent::Subgraph { event, .. } => match event.as_ref() {
                StreamEvent::Message { metadata, .. } => {
                    Some(metadata["checkpoint_ns"].as_str().unwrap().to_owned())
                }
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    assert!(inner_ns.starts_with(&format!("{ns}|sa:")), "{inner_ns}");
}

/// Parent `inner`, the subgraph `ask` (asks `"q?"`, appends the answer).
fn parent_with_a_question(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut sub = StateGraph::new();
    sub.add_channel("log", Reducer::append())
        .add_sync_node("ask", |_, ctx| {
            Ok(Update::new().set("log", vec![ctx.interrupt("q?")?]))
        })
        .add_edge(START, "ask");
    let sub = sub
        .compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_subgraph("inner", sub)
        .add_edge(START, "inner");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// Each event as (namespace's node path, what it says): LangGraph's
/// `(("inner:<id>",), {"__interrupt__": ...})` is `("inner", "interrupt
/// q? next [ask]")`.
fn described(events: &[StreamEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let inner = match e {
                StreamEvent::Subgraph { event, .. } => event.as_ref(),
                other => other,
            };
            let what = match inner {
                StreamEvent::Interrupt { interrupts, next } => {
                    let values: Vec<&Value> = interrupts.iter().map(|i| &i.value).collect();
                    format!("interrupt {values:?} next {next:?}")
                }
                StreamEvent::Updates { node, update, .. } => format!("{node} {update}"),
                other => panic!("unexpected {other:?}"),
            };
            let path: Vec<&str> = e
                .namespace()
                .split('|')
                .filter(|p| !p.is_empty())
                .map(|p| p.split(':').next().unwrap_or(p))
                .collect();
            (path.join("|"), what)
        })
        .collect()
}

/// A subgraph's interrupt with `subgraphs(true)`: LangGraph streams the
/// subgraph's `__interrupt__` update under its namespace, then the
/// parent's; the resume streams the subgraph's update, then the
/// parent's (streams.py). Without `subgraphs`, only the parent's.
async fn a_subgraphs_interrupt_streams_under_its_namespace(factory: Factory) {
    let (saver, _guard) = factory();
    let app = parent_with_a_question(&saver);
    let thread = Config::thread("asked");
    let options = StreamOptions::from(StreamMode::Updates).subgraphs(true);
    let events: Vec<StreamEvent> = app
        .stream(json!({"log": []}), &thread, options.clone())
        .map(Result::unwrap)
        .collect()
        .await;
    let q = r#"interrupt [String("q?")]"#;
    assert_eq!(
        described(&events),
        vec![
            ("inner".to_owned(), format!(r#"{q} next ["ask"]"#)),
            (String::new(), format!(r#"{q} next ["inner"]"#)),
        ]
    );
    // The namespace is the one the subgraph's checkpoints are under.
    let ns = events[0].namespace().to_owned();
    let in_ns = saver
        .list(
            Some(&thread.clone().with_ns(ns.clone())),
            &ListOptions::new(),
        )
        .unwrap();
    assert!(!in_ns.is_empty(), "no checkpoint under {ns}");
    let resumed: Vec<StreamEvent> = app
        .stream(
            checkpointer::graph::Command::resume("yes"),
            &thread,
            options,
        )
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        described(&resumed),
        vec![
            ("inner".to_owned(), r#"ask {"log":["yes"]}"#.to_owned()),
            (String::new(), r#"inner {"log":["yes"]}"#.to_owned()),
        ]
    );
    let flat: Vec<StreamEvent> = app
        .stream(
            json!({"log": []}),
            &Config::thread("flat"),
            StreamMode::Updates,
        )
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        described(&flat),
        vec![(String::new(), format!(r#"{q} next ["inner"]"#))]
    );
}

const WRITES: usize = 40;

/// A node that writes `WRITES` custom events, counting each write that
/// returned.
fn chatty(saver: &Arc<dyn BaseCheckpointSaver>, written: Arc<AtomicUsize>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("done", Reducer::last_value())
        .add_node("chatty", move |_s, ctx| {
            let written = Arc::clone(&written);
            async move {
                for i in 0..WRITES {
                    ctx.writer().write(json!(i)).await;
                    written.fetch_add(1, Ordering::SeqCst);
                }
                Ok(Update::new().set("done", true))
            }
        })
        .add_edge(START, "chatty");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// A consumer that stops reading: the run stops at the bound (the
/// channel's capacity of writes returned, and no more while nobody
/// reads), then finishes once the consumer reads again, with every event
/// delivered in order.
async fn a_slow_consumer_holds_the_run_at_the_bound(factory: Factory) {
    let (saver, _guard) = factory();
    let written = Arc::new(AtomicUsize::new(0));
    let app = chatty(&saver, Arc::clone(&written));
    let capacity = 4;
    let thread = Config::thread("slow");
    let mut stream = app.stream(
        json!({}),
        &thread,
        StreamOptions::from(StreamMode::Custom).capacity(capacity),
    );
    // Wait (without reading) until the run has filled the channel...
    let mut waited = 0;
    while written.load(Ordering::SeqCst) < capacity {
        assert!(waited < 1000, "the run never reached the bound");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    // ...and give it every chance to go past it: it does not.
    for _ in 0..20 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(written.load(Ordering::SeqCst), capacity);
    let state = app.get_state(&thread).await.unwrap();
    assert_eq!(state.next, vec!["chatty"], "the run went on");

    let mut values = Vec::new();
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            StreamEvent::Custom { value, .. } => values.push(value),
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected: Vec<Value> = (0..WRITES).map(|i| json!(i)).collect();
    assert_eq!(values, expected);
    assert_eq!(written.load(Ordering::SeqCst), WRITES);
    let state = app.get_state(&thread).await.unwrap();
    assert!(state.next.is_empty());
    assert_eq!(state.values["done"], json!(true));
}

/// Dropping the stream does not hold the run: it finishes unread.
async fn a_dropped_stream_does_not_hold_the_run(factory: Factory) {
    let (saver, _guard) = factory();
    let written = Arc::new(AtomicUsize::new(0));
    let app = chatty(&saver, Arc::clone(&written));
    let thread = Config::thread("dropped");
    drop(app.stream(
        json!({}),
        &thread,
        StreamOptions::from(StreamMode::Custom).capacity(1),
    ));
    let mut waited = 0;
    while written.load(Ordering::SeqCst) < WRITES {
        assert!(waited < 1000, "the run was held by a dropped stream");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
}

/// `count` (sync: writes `WRITES` custom values, then two message chunks,
/// blocking) beside `other` (async) in one step.
fn sync_streamer(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("done", Reducer::last_value())
        .add_channel("other", Reducer::last_value())
        .add_sync_node("count", |_, ctx| {
            let progress = ctx.writer();
            for i in 0..WRITES {
                progress.write_blocking(json!(i));
            }
            for token in ["hel", "lo"] {
                ctx.emit_message_chunk_blocking(json!({"content": token}));
            }
            Ok(Update::new().set("done", true))
        })
        .add_node("other", |_s, _ctx| async move {
            Ok(Update::new().set("other", true))
        })
        .add_edge(START, "count")
        .add_edge(START, "other");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// A sync node streams custom values and message chunks through a
/// channel of one, in order, while the other task of its step and the
/// consumer go on. The test runs on a single-threaded runtime: had the
/// node blocked the runtime's thread, nothing would read its events.
async fn a_sync_node_streams_custom_values_and_chunks(factory: Factory) {
    let (saver, _guard) = factory();
    let app = sync_streamer(&saver);
    let thread = Config::thread("sync");
    let modes = [
        StreamMode::Custom,
        StreamMode::Messages,
        StreamMode::Updates,
    ];
    let events: Vec<StreamEvent> = app
        .stream(json!({}), &thread, StreamOptions::from(modes).capacity(1))
        .map(Result::unwrap)
        .collect()
        .await;
    let mut custom = Vec::new();
    let mut chunks = Vec::new();
    let mut updated = Vec::new();
    for event in events {
        match event {
            StreamEvent::Custom { step, node, value } => {
                assert_eq!((step, node.as_str()), (1, "count"));
                custom.push(value);
            }
            StreamEvent::Message {
                chunk, metadata, ..
            } => {
                assert_eq!(metadata["langgraph_node"], "count");
                chunks.push(chunk["content"].clone());
            }
            StreamEvent::Updates { node, .. } => updated.push(node),
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected: Vec<Value> = (0..WRITES).map(|i| json!(i)).collect();
    assert_eq!(custom, expected);
    assert_eq!(chunks, [json!("hel"), json!("lo")]);
    updated.sort();
    assert_eq!(updated, ["count", "other"]);
    let state = app.get_state(&thread).await.unwrap();
    assert_eq!(state.values, json!({"done": true, "other": true}));
    // Not streamed: the writes go nowhere and the node runs as before.
    let out = app
        .invoke(json!({}), &Config::thread("quiet"))
        .await
        .unwrap();
    assert_eq!(out.values, json!({"done": true, "other": true}));
}

/// A sync node that panics while the run streams custom values (so it
/// runs on the blocking pool) fails the run as any node's panic does.
async fn a_streaming_sync_nodes_panic_is_a_node_panic(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("done", Reducer::last_value())
        .add_sync_node("boom", |_, ctx| {
            ctx.writer().write_blocking(json!("before"));
            panic!("boom inside");
        })
        .add_edge(START, "boom");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let events: Vec<_> = app
        .stream(json!({}), &Config::thread("boom"), StreamMode::Custom)
        .collect()
        .await;
    assert!(matches!(&events[0], Ok(StreamEvent::Custom { value, .. }) if value == "before"));
    match events.last() {
        Some(Err(GraphError::NodePanicked { node, message, .. })) => {
            assert_eq!((node.as_str(), message.as_str()), ("boom", "boom inside"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// The sync-node test on a single-threaded runtime, once per saver.
macro_rules! single_thread_tests {
    ($module:ident, $factory:path; $($name:ident),* $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "current_thread")]
                async fn $name() {
                    super::$name($factory).await;
                }
            )*
        }
    };
}

single_thread_tests!(memory_single_thread, super::memory_saver;
    a_sync_node_streams_custom_values_and_chunks,
    a_streaming_sync_nodes_panic_is_a_node_panic,
);
single_thread_tests!(sqlite_single_thread, super::sqlite_saver;
    a_sync_node_streams_custom_values_and_chunks,
    a_streaming_sync_nodes_panic_is_a_node_panic,
);

macro_rules! stream_mode_tests {
    ($module:ident, $factory:path) => {
        stream_mode_tests!(@with per_saver_tests, $module, $factory);
    };
    (@with $emit:ident, $module:ident, $factory:path) => {
        $emit!($module, $factory;
            several_modes_in_one_stream,
            message_chunks_carry_langgraph_metadata,
            debug_events_in_langgraph_shapes,
            debug_checkpoints_name_the_saved_checkpoints,
            subgraph_events_are_tagged_with_their_namespace,
            a_subgraphs_interrupt_streams_under_its_namespace,
            a_slow_consumer_holds_the_run_at_the_bound,
            a_dropped_stream_does_not_hold_the_run,
        );
    };
}

stream_mode_tests!(memory, super::memory_saver);
stream_mode_tests!(sqlite, super::sqlite_saver);

#[cfg(feature = "postgres")]
stream_mode_tests!(@with pg_tests, postgres, super::postgres_saver);

/// With an event log, the durable stream records what nodes stream too:
/// each custom value as `agent.progress` with `"stream": "custom"`, in
/// order, whatever modes the live caller asked for.
#[cfg(feature = "events")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_records_custom_events() {
    use checkpointer::events::{EventKind, EventLog, MemoryEventLog};

    let log: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new());
    let (saver, _guard) = memory_saver();
    let mut g = StateGraph::new();
    g.add_channel("log", Reducer::append())
        .add_node("a", |_s, ctx| async move {
            ctx.writer().write(json!({"progress": 1})).await;
            ctx.writer().write(json!({"progress": 2})).await;
            Ok(Update::new().set("log", "a"))
        })
        .add_edge(START, "a");
    let app = g
        .compile(
            CompileOptions::new()
                .saver(saver)
                .event_log(Arc::clone(&log)),
        )
        .unwrap();
    let live = collect(&app, "logged", StreamMode::Values).await;
    assert!(live.iter().all(|e| e.mode() == Some(StreamMode::Values)));
    let custom: Vec<Value> = log
        .list_events("logged", 0)
        .unwrap()
        .into_iter()
        .filter(|e| e.payload.get("stream") == Some(&json!("custom")))
        .map(|e| {
            assert_eq!(e.kind, EventKind::AgentProgress);
            assert_eq!(e.payload["node"], json!("a"));
            e.payload["value"].clone()
        })
        .collect();
    assert_eq!(custom, vec![json!({"progress": 1}), json!({"progress": 2})]);
}
