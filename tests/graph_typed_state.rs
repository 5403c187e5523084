//! Typed state (`#[derive(GraphState)]`, `TypedStateGraph`): the same
//! graph built with the JSON API stores the same thread; each field's
//! reducer; stored values that do not decode; resume from a checkpoint on
//! a reopened SQLite file; retries. Every test runs once per saver.
#![cfg(feature = "derive")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, GraphError, GraphState, NodeError, Reducer,
    RetryPolicy, START, StateDecodeError, StateGraph, StreamEvent, StreamMode, TypedEvent,
    TypedGraph, TypedInput, TypedStateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, SqliteSaver};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod graph_support;
use graph_support::*;

/// A trip: one field per reducer.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Trip {
    city: String,
    note: Option<String>,
    #[state(append)]
    log: Vec<String>,
    #[state(add)]
    cost: i64,
    #[state(merge)]
    bookings: BTreeMap<String, String>,
    #[state(reduce = keep_max)]
    best: i64,
    #[state(reduce = keep_max, default)]
    floor: i64,
}

fn keep_max(a: i64, b: i64) -> i64 {
    a.max(b)
}

/// `START -> plan -> {hotel, flight} -> summary` (a join), typed.
fn typed_trip(saver: &Arc<dyn BaseCheckpointSaver>) -> TypedGraph<Trip> {
    let mut g = TypedStateGraph::<Trip>::new();
    g.add_sync_node("plan", |t: &Trip, _| {
        Ok(TripUpdate::default()
            .log(vec![format!("plan {}", t.city)])
            .cost(10)
            .best(3))
    })
    .add_sync_node("hotel", |_, _| {
        Ok(TripUpdate::default()
            .log(vec!["hotel".to_owned()])
            .cost(300)
            .bookings(BTreeMap::from([("hotel".to_owned(), "Grand".to_owned())]))
            .best(7)
            .floor(-5))
    })
    .add_node("flight", |_t: Arc<Trip>, _| async move {
        Ok::<_, NodeError>(
            TripUpdate::default()
                .log(vec!["flight".to_owned()])
                .cost(100)
                .bookings(BTreeMap::from([("flight".to_owned(), "SK1".to_owned())]))
                .best(5),
        )
    })
    .add_sync_node("summary", |t: &Trip, _| {
        Ok(TripUpdate::default()
            .note(format!("{} for {}", t.bookings.len(), t.cost))
            .floor(t.best))
    })
    .add_edge(START, "plan")
    .add_edge("plan", "hotel")
    .add_edge("plan", "flight")
    .add_edge(["hotel", "flight"], "summary");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// The same graph with the JSON API, as a user without the derive writes it.
fn json_trip(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let add =
        |cur: &Value, upd: Value| json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0));
    let merge = |cur: &Value, upd: Value| {
        let mut map = cur.as_object().cloned().unwrap_or_default();
        map.extend(upd.as_object().cloned().unwrap_or_default());
        Value::Object(map)
    };
    let max = |cur: &Value, upd: Value| match cur.as_i64() {
        None => upd,
        Some(c) => json!(c.max(upd.as_i64().unwrap_or(i64::MIN))),
    };
    let mut g = StateGraph::new();
    g.add_channel("city", Reducer::last_value())
        .add_channel("note", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_channel("cost", Reducer::custom(add).with_default(json!(0)))
        .add_channel("bookings", Reducer::custom(merge).with_default(json!({})))
        .add_channel("best", Reducer::custom(max))
        .add_channel("floor", Reducer::custom(max).with_default(json!(0)))
        .add_sync_node("plan", |s, _| {
            let city: String = s.get("city")?;
            Ok(Update::new()
                .set("log", vec![format!("plan {city}")])
                .set("cost", 10)
                .set("best", 3))
        })
        .add_sync_node("hotel", |_, _| {
            Ok(Update::new()
                .set("log", vec!["hotel"])
                .set("cost", 300)
                .set("bookings", json!({"hotel": "Grand"}))
                .set("best", 7)
                .set("floor", -5))
        })
        .add_sync_node("flight", |_, _| {
            Ok(Update::new()
                .set("log", vec!["flight"])
                .set("cost", 100)
                .set("bookings", json!({"flight": "SK1"}))
                .set("best", 5))
        })
        .add_sync_node("summary", |s, _| {
            let bookings: BTreeMap<String, String> = s.get("bookings")?;
            let (cost, best): (i64, i64) = (s.get("cost")?, s.get("best")?);
            Ok(Update::new()
                .set("note", format!("{} for {cost}", bookings.len()))
                .set("floor", best))
        })
        .add_edge(START, "plan")
        .add_edge("plan", "hotel")
        .add_edge("plan", "flight")
        .add_edge(["hotel", "flight"], "summary");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// What a stored thread says, without its ids and times: per checkpoint,
/// its metadata, channel values and versions, and its pending writes.
fn stored(saver: &Arc<dyn BaseCheckpointSaver>, thread: &str) -> Vec<Value> {
    let cfg = Config::thread(thread);
    let tuples = saver.list(Some(&cfg), &ListOptions::default()).unwrap();
    tuples
        .into_iter()
        .map(|t| {
            let mut writes: Vec<Value> = t
                .pending_writes
                .iter()
                .map(|w| json!([w.channel, w.value]))
                .collect();
            writes.sort_by_key(Value::to_string);
            json!({
                "source": t.metadata.source,
                "step": t.metadata.step,
                "values": t.checkpoint.channel_values,
                // A version's number; its suffix is random per checkpoint.
                "versions": t.checkpoint.channel_versions.iter().map(|(ch, v)| {
                    let v = serde_json::to_value(v).unwrap();
                    let n = v.as_str().and_then(|s| s.split('.').next()).map(str::to_owned);
                    (ch.clone(), json!(n.unwrap_or_else(|| v.to_string())))
                }).collect::<BTreeMap<_, _>>(),
                "writes": writes,
            })
        })
        .collect()
}

async fn a_typed_thread_is_stored_as_the_json_api_stores_it(factory: Factory) {
    let (saver, _guard) = factory();
    let typed = typed_trip(&saver)
        .invoke(TripUpdate::default().city("Oslo"), &Config::thread("typed"))
        .await
        .unwrap();
    let plain = json_trip(&saver)
        .invoke(json!({"city": "Oslo"}), &Config::thread("json"))
        .await
        .unwrap();
    assert_eq!(
        TypedGraph::<Trip>::decode(&plain.values).unwrap(),
        typed.values
    );
    let (typed_rows, json_rows) = (stored(&saver, "typed"), stored(&saver, "json"));
    assert_eq!(
        typed_rows.len(),
        5,
        "input, __start__, plan, hotel+flight, summary"
    );
    assert_eq!(typed_rows, json_rows);
}

async fn each_field_combines_writes_with_its_reducer(factory: Factory) {
    let (saver, _guard) = factory();
    let app = typed_trip(&saver);
    let thread = Config::thread("t");
    let out = app
        .invoke(TripUpdate::default().city("Oslo"), &thread)
        .await
        .unwrap();
    let t = out.values;
    assert_eq!(t.city, "Oslo");
    // hotel and flight ran in one step: both writes reached each reducer.
    let mut log = t.log.clone();
    log[1..].sort();
    assert_eq!(log, ["plan Oslo", "flight", "hotel"]);
    assert_eq!(t.cost, 410);
    assert_eq!(t.bookings.len(), 2);
    assert_eq!((t.best, t.floor), (7, 7));
    assert_eq!(t.note.as_deref(), Some("2 for 410"));

    // The input checkpoint: nothing written yet. Reducer channels read as
    // their defaults (in the JSON too), the others as absent.
    let history = app
        .get_state_history(&thread, &ListOptions::default())
        .await
        .unwrap();
    let input = history.last().unwrap();
    assert_eq!(input.metadata.as_ref().unwrap().step, -1);
    assert_eq!(
        (input.values.cost, input.values.floor, input.values.best),
        (0, 0, 0)
    );
    assert!(input.values.log.is_empty() && input.values.city.is_empty());
    let raw = app.json().get_state(&input.config).await.unwrap();
    assert_eq!(
        raw.values,
        json!({"log": [], "cost": 0, "bookings": {}, "floor": 0})
    );
    // A custom reducer without a default stores its first write as it is.
    let after_plan = &history[2];
    assert_eq!(after_plan.metadata.as_ref().unwrap().step, 1);
    assert_eq!((after_plan.values.best, after_plan.values.cost), (3, 10));
}

async fn update_state_takes_the_typed_update(factory: Factory) {
    let (saver, _guard) = factory();
    let app = typed_trip(&saver);
    let thread = Config::thread("t");
    app.invoke(TripUpdate::default().city("Oslo"), &thread)
        .await
        .unwrap();
    app.update_state(&thread, TripUpdate::default().cost(-400).city("Rome"), None)
        .await
        .unwrap();
    let now = app.get_state(&thread).await.unwrap();
    assert_eq!((now.values.cost, now.values.city.as_str()), (10, "Rome"));
}

/// `#[state(required)]`: a field with no value does not decode.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Order {
    #[state(required)]
    id: u32,
    #[state(append)]
    lines: Vec<String>,
}

fn order_graph(saver: &Arc<dyn BaseCheckpointSaver>, calls: &Arc<AtomicU32>) -> TypedGraph<Order> {
    let mut g = TypedStateGraph::<Order>::new();
    let calls = Arc::clone(calls);
    g.add_sync_node("pack", move |o: &Order, _| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(OrderUpdate::default().lines(vec![format!("packed {}", o.id)]))
    })
    .add_retry_policy("pack", quick_retries(3))
    .add_edge(START, "pack");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .max_attempts(attempts)
        .initial_interval(Duration::ZERO)
        .jitter(false)
}

async fn a_stored_value_that_does_not_decode_names_the_field_and_the_node(factory: Factory) {
    let (saver, _guard) = factory();
    let calls = Arc::new(AtomicU32::new(0));
    let app = order_graph(&saver, &calls);
    let thread = Config::thread("t");

    app.invoke(OrderUpdate::default().id(7u32), &thread)
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A value of the wrong type, written through the JSON API as an input
    // would be: `pack` runs next, on it.
    app.json()
        .update_state(&thread, json!({"id": "seven"}), Some(START))
        .await
        .unwrap();
    let err = app.invoke(TypedInput::Continue, &thread).await.unwrap_err();
    let GraphError::NodeFailed { node, source, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(node, "pack");
    let decode = source
        .downcast_ref::<StateDecodeError>()
        .expect("a decode error");
    assert_eq!((decode.state, decode.field), ("Order", "id"));
    assert!(decode.reason.contains("invalid type"), "{}", decode.reason);
    // Not retried, although the node has a retry policy: it never ran.
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // The snapshot that holds it does not decode either, naming the field.
    let err = app.get_state(&thread).await.unwrap_err();
    assert!(
        matches!(&err, GraphError::StateDecode { thread_id, source, .. }
            if thread_id == "t" && source.field == "id"),
        "{err}"
    );
    // The JSON view still reads it.
    assert_eq!(
        app.json().get_state(&thread).await.unwrap().values["id"],
        json!("seven")
    );
}

async fn a_required_field_with_no_value_is_a_decode_error(factory: Factory) {
    let (saver, _guard) = factory();
    let calls = Arc::new(AtomicU32::new(0));
    let app = order_graph(&saver, &calls);
    let err = app
        .invoke(OrderUpdate::default(), &Config::thread("t"))
        .await
        .unwrap_err();
    let GraphError::NodeFailed { source, .. } = &err else {
        panic!("{err}");
    };
    let decode = source.downcast_ref::<StateDecodeError>().unwrap();
    assert_eq!(decode.field, "id");
    assert!(decode.reason.contains("required"), "{}", decode.reason);
    let out = app
        .invoke(OrderUpdate::default().id(7u32), &Config::thread("u"))
        .await
        .unwrap();
    assert_eq!(
        out.values,
        Order {
            id: 7,
            lines: vec!["packed 7".into()]
        }
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A ticket a human approves.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Ticket {
    title: String,
    approved: Option<bool>,
    #[state(append)]
    log: Vec<String>,
}

fn ticket_graph(
    saver: Arc<dyn BaseCheckpointSaver>,
    flaky_calls: &Arc<AtomicU32>,
) -> TypedGraph<Ticket> {
    let calls = Arc::clone(flaky_calls);
    let mut g = TypedStateGraph::<Ticket>::new();
    g.add_sync_node("ask", |t: &Ticket, ctx| {
        let answer = ctx.interrupt(json!({"approve": t.title}))?;
        Ok(TicketUpdate::default()
            .approved(answer == json!("yes"))
            .log(vec!["asked".to_owned()]))
    })
    .add_node("file", move |t: Arc<Ticket>, _| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n < 3 {
                return Err(NodeError::msg(format!("tracker down ({n})")));
            }
            Ok(TicketUpdate::default().log(vec![format!("filed {} on try {n}", t.title)]))
        }
    })
    .add_retry_policy("file", quick_retries(3))
    .add_edge(START, "ask")
    .add_edge("ask", "file");
    g.compile(CompileOptions::new().saver(saver)).unwrap()
}

async fn a_typed_thread_resumes_from_its_checkpoint_in_a_new_process(_factory: Factory) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tickets.db");
    let thread = Config::thread("t-1");
    let calls = Arc::new(AtomicU32::new(0));
    {
        let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(SqliteSaver::open(&path).unwrap());
        let app = ticket_graph(saver, &calls);
        let out = app
            .invoke(TicketUpdate::default().title("disk full"), &thread)
            .await
            .unwrap();
        assert!(out.is_interrupted());
        assert_eq!(out.interrupts[0].value, json!({"approve": "disk full"}));
        assert_eq!(out.values.approved, None);
    }
    // A new saver on the same file, a new graph: the thread goes on.
    let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(SqliteSaver::open(&path).unwrap());
    let app = ticket_graph(saver, &calls);
    let waiting = app.get_state(&thread).await.unwrap();
    assert_eq!(
        (waiting.next.clone(), waiting.values.title.as_str()),
        (vec!["ask".to_owned()], "disk full")
    );
    let out = app.invoke(Command::resume("yes"), &thread).await.unwrap();
    assert!(!out.is_interrupted());
    assert_eq!(out.values.approved, Some(true));
    assert_eq!(out.values.log, ["asked", "filed disk full on try 3"]);
    // Continue on a finished thread runs nothing more.
    let again = app.invoke(TypedInput::Continue, &thread).await.unwrap();
    assert_eq!(again.values, out.values);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

async fn a_flaky_typed_node_is_retried_and_each_attempt_streamed(factory: Factory) {
    let (saver, _guard) = factory();
    let calls = Arc::new(AtomicU32::new(0));
    let app = ticket_graph(saver, &calls);
    let thread = Config::thread("t");
    app.invoke(TicketUpdate::default().title("printer"), &thread)
        .await
        .unwrap();
    let events: Vec<TypedEvent<Ticket>> = app
        .stream(Command::resume("no"), &thread, StreamMode::Tasks)
        .map(Result::unwrap)
        .collect()
        .await;
    let retries: Vec<(u32, String)> = events
        .iter()
        .filter_map(|e| match e {
            TypedEvent::Event(StreamEvent::TaskRetry {
                name,
                attempt,
                error,
                ..
            }) if name == "file" => Some((*attempt, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        retries,
        [
            (1, "tracker down (1)".to_owned()),
            (2, "tracker down (2)".to_owned())
        ]
    );
    let done = app.get_state(&thread).await.unwrap();
    assert_eq!(done.values.approved, Some(false));
    assert_eq!(done.values.log, ["asked", "filed printer on try 3"]);
}

per_saver_tests!(memory, super::memory_saver;
    a_typed_thread_is_stored_as_the_json_api_stores_it,
    each_field_combines_writes_with_its_reducer,
    update_state_takes_the_typed_update,
    a_stored_value_that_does_not_decode_names_the_field_and_the_node,
    a_required_field_with_no_value_is_a_decode_error,
    a_flaky_typed_node_is_retried_and_each_attempt_streamed,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    a_typed_thread_is_stored_as_the_json_api_stores_it,
    each_field_combines_writes_with_its_reducer,
    update_state_takes_the_typed_update,
    a_stored_value_that_does_not_decode_names_the_field_and_the_node,
    a_typed_thread_resumes_from_its_checkpoint_in_a_new_process,
    a_flaky_typed_node_is_retried_and_each_attempt_streamed,
);
#[cfg(feature = "postgres")]
pg_tests!(postgres, super::postgres_saver;
    a_typed_thread_is_stored_as_the_json_api_stores_it,
    each_field_combines_writes_with_its_reducer,
);
