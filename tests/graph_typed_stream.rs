//! The typed stream: `values` events as the struct (one per step, the same
//! as the checkpoints hold), `updates` events as the update type, the
//! other modes as the JSON stream gives them, and decode errors in place.
//! Every test runs once per saver.
#![cfg(feature = "derive")]

use std::sync::Arc;

use checkpointer::graph::{
    CompileOptions, GraphError, GraphState, NodeError, START, StreamEvent, StreamMode,
    StreamOptions, TypedEvent, TypedGraph, TypedStateGraph,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

mod graph_support;
use graph_support::*;

/// A text being drafted and checked.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Draft {
    text: String,
    #[state(append)]
    log: Vec<String>,
    #[state(add)]
    words: u64,
}

/// `START -> write -> check`; `write` streams a custom event per word;
/// `check` asks a human when there are more than three words.
fn draft_graph(saver: &Arc<dyn BaseCheckpointSaver>) -> TypedGraph<Draft> {
    let mut g = TypedStateGraph::<Draft>::new();
    g.add_node("write", |d: Arc<Draft>, ctx| async move {
        let text = format!("{} is here", d.text);
        for word in text.split(' ') {
            ctx.writer().write(json!({ "word": word })).await;
        }
        Ok::<_, NodeError>(
            DraftUpdate::default()
                .words(text.split(' ').count() as u64)
                .text(text)
                .log(vec!["written".into()]),
        )
    })
    .add_sync_node("check", |d: &Draft, ctx| {
        if d.words > 3 {
            ctx.interrupt(json!({"too long": d.words}))?;
        }
        Ok(DraftUpdate::default().log(vec!["checked".into()]))
    })
    .add_edge(START, "write")
    .add_edge("write", "check");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

async fn values_and_updates_come_typed_and_other_modes_as_they_are(factory: Factory) {
    let (saver, _guard) = factory();
    let app = draft_graph(&saver);
    let thread = Config::thread("t");
    let events: Vec<TypedEvent<Draft>> = app
        .stream(
            DraftUpdate::default().text("spring"),
            &thread,
            [StreamMode::Values, StreamMode::Updates, StreamMode::Custom],
        )
        .map(Result::unwrap)
        .collect()
        .await;

    let mut values = Vec::new();
    let mut updates = Vec::new();
    let mut words = Vec::new();
    let mut interrupted = None;
    for event in events {
        match event {
            TypedEvent::Values { step, values: v } => values.push((step, v)),
            TypedEvent::Updates { node, update, .. } => updates.push((node, update)),
            TypedEvent::Event(StreamEvent::Custom { node, value, .. }) => {
                assert_eq!(node, "write");
                words.push(value["word"].as_str().unwrap().to_owned());
            }
            TypedEvent::Event(StreamEvent::Interrupt { next, interrupts }) => {
                interrupted = Some((next, interrupts[0].value.clone()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(words, ["spring", "is", "here"]);
    assert_eq!(
        updates,
        [
            (
                "write".to_owned(),
                DraftUpdate::default()
                    .words(3u64)
                    .text("spring is here")
                    .log(vec!["written".to_owned()])
            ),
            (
                "check".to_owned(),
                DraftUpdate::default().log(vec!["checked".to_owned()])
            )
        ]
    );
    assert_eq!(interrupted, None, "three words pass the check");
    // One values event per checkpoint (the input, `__start__`, `write`,
    // `check`), each the state that checkpoint holds.
    let history = app
        .get_state_history(&thread, &ListOptions::default())
        .await
        .unwrap();
    let saved: Vec<(i64, Draft)> = history
        .into_iter()
        .rev()
        .filter_map(|s| Some((s.metadata?.step, s.values)))
        .collect();
    assert_eq!(values, saved);
    assert_eq!(
        values.last().unwrap().1.log,
        ["written", "checked"],
        "the last values are the outcome's"
    );
}

async fn an_interrupt_ends_the_typed_stream_as_the_json_one(factory: Factory) {
    let (saver, _guard) = factory();
    let app = draft_graph(&saver);
    let thread = Config::thread("t");
    let events: Vec<TypedEvent<Draft>> = app
        .stream(
            DraftUpdate::default().text("a long spring"),
            &thread,
            StreamMode::Values,
        )
        .map(Result::unwrap)
        .collect()
        .await;
    let Some(TypedEvent::Event(StreamEvent::Interrupt { next, interrupts })) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(next, &["check"]);
    assert_eq!(interrupts[0].value, json!({"too long": 5}));
    let Some(TypedEvent::Values { values, .. }) = events.iter().rev().nth(1) else {
        panic!("{events:?}");
    };
    assert_eq!(values.words, 5);
    assert_eq!(values.log, ["written"]);
}

async fn a_subgraphs_events_pass_through_under_its_namespace(factory: Factory) {
    let (saver, _guard) = factory();
    let inner = draft_graph(&saver);
    let mut outer = TypedStateGraph::<Draft>::new();
    outer
        .add_subgraph("draft", inner.json().clone())
        .add_edge(START, "draft");
    let app = outer
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let events: Vec<TypedEvent<Draft>> = app
        .stream(
            DraftUpdate::default().text("hi"),
            &Config::thread("t"),
            StreamOptions::new()
                .mode(StreamMode::Updates)
                .mode(StreamMode::Custom)
                .subgraphs(true),
        )
        .map(Result::unwrap)
        .collect()
        .await;
    let inner_words: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            TypedEvent::Event(StreamEvent::Subgraph { namespace, event }) => {
                assert!(namespace.starts_with("draft:"), "{namespace}");
                match &**event {
                    StreamEvent::Custom { value, .. } => Some(value["word"].to_string()),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect();
    assert_eq!(inner_words, ["\"hi\"", "\"is\"", "\"here\""]);
    // The outer graph's own update: the subgraph's final values, typed.
    let outer_updates: Vec<&DraftUpdate> = events
        .iter()
        .filter_map(|e| match e {
            TypedEvent::Updates { node, update, .. } if node == "draft" => Some(update),
            _ => None,
        })
        .collect();
    assert_eq!(outer_updates.len(), 1);
    assert_eq!(
        outer_updates[0].log.as_deref(),
        Some(&["written".to_owned(), "checked".to_owned()][..])
    );
}

/// An order whose id is required: a state without one does not decode.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Order {
    #[state(required)]
    id: u32,
    #[state(append)]
    lines: Vec<String>,
}

async fn a_values_event_that_does_not_decode_is_an_error_in_its_place(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = TypedStateGraph::<Order>::new();
    g.add_sync_node("pack", |o: &Order, _| {
        Ok(OrderUpdate::default().lines(vec![format!("packed {}", o.id)]))
    })
    .add_edge(START, "pack");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let items: Vec<Result<TypedEvent<Order>, GraphError>> = app
        .stream(
            OrderUpdate::default(),
            &Config::thread("t"),
            StreamMode::Values,
        )
        .collect()
        .await;
    // The state has no id: the values events of the input and of
    // `__start__` are decode errors; then `pack` fails on the same state,
    // and the run ends with that.
    assert_eq!(items.len(), 3, "{items:?}");
    for item in &items[..2] {
        assert!(
            matches!(item, Err(GraphError::StateDecode { thread_id, source, .. })
                if thread_id == "t" && source.field == "id"),
            "{item:?}"
        );
    }
    assert!(
        matches!(&items[2], Err(GraphError::NodeFailed { node, .. }) if node == "pack"),
        "{:?}",
        items[2]
    );
}

per_saver_tests!(memory, super::memory_saver;
    values_and_updates_come_typed_and_other_modes_as_they_are,
    an_interrupt_ends_the_typed_stream_as_the_json_one,
    a_subgraphs_events_pass_through_under_its_namespace,
    a_values_event_that_does_not_decode_is_an_error_in_its_place,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    values_and_updates_come_typed_and_other_modes_as_they_are,
    an_interrupt_ends_the_typed_stream_as_the_json_one,
    a_subgraphs_events_pass_through_under_its_namespace,
    a_values_event_that_does_not_decode_is_an_error_in_its_place,
);

#[test]
fn writes_that_are_not_the_fields_types_do_not_read_as_an_update() {
    assert_eq!(
        Draft::decode_update(&json!({"words": 2, "log": ["a"]})).unwrap(),
        DraftUpdate::default().words(2u64).log(vec!["a".to_owned()])
    );
    assert_eq!(
        Draft::decode_update(&json!(null)).unwrap(),
        DraftUpdate::default()
    );
    // A JSON node's single item for an `append` field.
    let err = Draft::decode_update(&json!({"log": "a"})).unwrap_err();
    assert_eq!(err.field, "log");
    let err = Draft::decode_update(&json!({"colour": "red"})).unwrap_err();
    assert!(
        err.field == "<update>" && err.reason.contains("\"colour\""),
        "{err}"
    );
}
