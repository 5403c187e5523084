//! Typed routing: a typed node returns a `TypedCommand` (its update and a
//! goto to a node or a typed `Send`, or the same for its parent graph),
//! storing the thread the JSON API's gotos store; typed routers fan out;
//! failures name the node. Every test runs once per
//! saver.
#![cfg(feature = "derive")]

use std::sync::Arc;

use checkpointer::graph::{
    CompileOptions, CompiledGraph, END, GraphError, GraphState, NodeError, Reducer, START, SendTo,
    StateGraph, TypedCommand, TypedGraph, TypedStateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod graph_support;
use graph_support::*;

/// A support ticket routed by its topic.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Ticket {
    topic: String,
    #[state(append)]
    log: Vec<String>,
    score: Option<f64>,
}

fn log(line: impl Into<String>) -> TicketUpdate {
    TicketUpdate::default().log(vec![line.into()])
}

/// `START -> triage`, which goes to `billing` or `support` by the topic and
/// sends `notify` a packet of its own; `notify` reads only its packet.
fn triage_graph(saver: &Arc<dyn BaseCheckpointSaver>) -> TypedGraph<Ticket> {
    let mut g = TypedStateGraph::<Ticket>::new();
    g.add_sync_node("triage", |t: &Ticket, _| {
        let desk = if t.topic == "invoice" {
            "billing"
        } else {
            "support"
        };
        Ok(TypedCommand::new(log(format!("to {desk}")))
            .goto(desk)
            .send(
                "notify",
                TicketUpdate::default().topic(format!("re: {}", t.topic)),
            ))
    })
    .add_sync_node("billing", |_, _| Ok(log("billed")))
    .add_sync_node("support", |_, _| Ok(log("helped")))
    .add_node("notify", |t: Arc<Ticket>, _| async move {
        // A Send task's state is its packet: the topic it was sent, no log.
        Ok::<_, NodeError>(log(format!(
            "notified {} with {} lines",
            t.topic,
            t.log.len()
        )))
    })
    .add_destinations("triage", &["billing", "support", "notify"])
    .add_edge(START, "triage");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

async fn a_typed_node_goes_to_a_node_and_sends_a_typed_packet(factory: Factory) {
    let (saver, _guard) = factory();
    let app = triage_graph(&saver);
    for (thread, topic, desk) in [("a", "invoice", "billed"), ("b", "login", "helped")] {
        let out = app
            .invoke(
                TicketUpdate::default().topic(topic),
                &Config::thread(thread),
            )
            .await
            .unwrap();
        let mut after = out.values.log[1..].to_vec();
        after.sort();
        assert_eq!(
            after,
            [
                desk.to_owned(),
                format!("notified re: {topic} with 0 lines")
            ]
        );
        assert!(!out.is_interrupted());
        // The goto and the send ran in the step after triage, together.
        let history = app
            .get_state_history(&Config::thread(thread), &ListOptions::default())
            .await
            .unwrap();
        let after_triage = history.iter().find(|s| s.next.len() == 2).unwrap();
        let mut next = after_triage.next.clone();
        next.sort();
        let desk_node = if topic == "invoice" {
            "billing"
        } else {
            "support"
        };
        let mut expected = [desk_node, "notify"];
        expected.sort_unstable();
        assert_eq!(next, expected);
        assert_eq!(
            after_triage.values.topic, topic,
            "the packet is not the state"
        );
    }
}

/// `triage_graph` with the JSON API, as a user without the derive writes it.
fn json_triage_graph(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut g = StateGraph::new();
    g.add_channel("topic", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_channel("score", Reducer::last_value())
        .add_sync_node("triage", |s, _| {
            let topic: String = s.get("topic")?;
            let desk = if topic == "invoice" {
                "billing"
            } else {
                "support"
            };
            Ok(Update::new()
                .set("log", vec![format!("to {desk}")])
                .goto(desk)
                .goto(SendTo::new(
                    "notify",
                    json!({ "topic": format!("re: {topic}") }),
                )))
        })
        .add_sync_node("billing", |_, _| {
            Ok(Update::new().set("log", vec!["billed"]))
        })
        .add_sync_node("support", |_, _| {
            Ok(Update::new().set("log", vec!["helped"]))
        })
        .add_sync_node("notify", |s, _| {
            let topic: String = s.get("topic")?;
            let log: Vec<String> = s.get_or_default("log")?;
            Ok(Update::new().set(
                "log",
                vec![format!("notified {topic} with {} lines", log.len())],
            ))
        })
        .add_destinations("triage", &["billing", "support", "notify"])
        .add_edge(START, "triage");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

/// Each checkpoint of a thread as the JSON view reads it: step, source,
/// values and the next nodes (sorted).
async fn checkpoints(app: &CompiledGraph, thread: &str) -> Vec<Value> {
    app.get_state_history(&Config::thread(thread), &ListOptions::default())
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            let mut next = s.next;
            next.sort();
            let m = s.metadata.unwrap();
            json!([m.step, m.source, s.values, next])
        })
        .collect()
}

async fn typed_routing_stores_the_thread_the_json_api_stores(factory: Factory) {
    let (saver, _guard) = factory();
    let typed = triage_graph(&saver);
    let plain = json_triage_graph(&saver);
    typed
        .invoke(
            TicketUpdate::default().topic("invoice"),
            &Config::thread("typed"),
        )
        .await
        .unwrap();
    plain
        .invoke(json!({"topic": "invoice"}), &Config::thread("json"))
        .await
        .unwrap();
    let (typed_rows, json_rows) = (
        checkpoints(typed.json(), "typed").await,
        checkpoints(&plain, "json").await,
    );
    assert_eq!(
        typed_rows.len(),
        4,
        "input, __start__, triage, billing+notify"
    );
    assert_eq!(typed_rows, json_rows);
}

async fn a_typed_router_reads_the_struct_and_fans_out(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = TypedStateGraph::<Ticket>::new();
    g.add_sync_node("split", |t: &Ticket, _| {
        Ok(log(format!("split {}", t.topic)))
    })
    .add_sync_node("part", |t: &Ticket, _| Ok(log(format!("part {}", t.topic))))
    .add_conditional_edges(
        "split",
        |t: &Ticket| {
            // The router sees split's update applied.
            assert_eq!(t.log.len(), 1);
            t.topic
                .split(',')
                .map(|p| SendTo::new("part", json!({ "topic": p })))
                .collect::<Vec<_>>()
        },
        &["part"],
    )
    .add_edge(START, "split");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let out = app
        .invoke(TicketUpdate::default().topic("x,y,z"), &Config::thread("t"))
        .await
        .unwrap();
    assert_eq!(
        out.values.log,
        ["split x,y,z", "part x", "part y", "part z"]
    );
}

/// A draft under review: the parent of `review`.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Doc {
    draft: String,
    #[state(append)]
    log: Vec<String>,
}

/// The review subgraph's own state: it shares `draft` with the parent.
#[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Review {
    draft: String,
    #[state(append)]
    notes: Vec<String>,
}

/// `START -> review (a subgraph) -> done`; `review` may send the parent to
/// `fix` (then `done`) instead.
fn doc_graph(
    saver: &Arc<dyn BaseCheckpointSaver>,
    review: &checkpointer::graph::CompiledGraph,
) -> TypedGraph<Doc> {
    let mut g = TypedStateGraph::<Doc>::new();
    g.add_subgraph("review", review.clone())
        .add_sync_node("fix", |d: &Doc, _| {
            Ok(DocUpdate::default().log(vec![format!("fixed {}", d.draft)]))
        })
        .add_sync_node("done", |_, _| {
            Ok(DocUpdate::default().log(vec!["done".into()]))
        })
        .add_destinations("review", &["fix"])
        // A rejected draft goes to `fix` (the subgraph's goto), not `done`.
        .add_conditional_edges(
            "review",
            |d: &Doc| {
                if d.log.iter().any(|l| l.starts_with("rejected")) {
                    END
                } else {
                    "done"
                }
            },
            &["done", END],
        )
        .add_edge(START, "review")
        .add_edge("fix", "done");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

async fn a_typed_subgraph_commands_its_parent_of_another_state(factory: Factory) {
    let (saver, _guard) = factory();
    let mut review = TypedStateGraph::<Review>::new();
    review
        .add_sync_node("check", |r: &Review, _| {
            if r.draft.contains("typo") {
                // For the parent: its state's update, its node.
                return Ok(TypedCommand::for_parent::<Doc>(
                    DocUpdate::default().log(vec!["rejected".into()]),
                )
                .goto("fix"));
            }
            Ok(ReviewUpdate::default().notes(vec!["fine".into()]).into())
        })
        .add_edge(START, "check");
    let review = review
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let app = doc_graph(&saver, review.json());

    let out = app
        .invoke(DocUpdate::default().draft("a typo"), &Config::thread("t"))
        .await
        .unwrap();
    assert_eq!(out.values.log, ["rejected", "fixed a typo", "done"]);
    let out = app
        .invoke(DocUpdate::default().draft("clean"), &Config::thread("u"))
        .await
        .unwrap();
    // `notes` is not the parent's channel: the subgraph's result adds nothing.
    assert_eq!(out.values.log, ["done"]);
}

async fn a_typed_subgraph_of_the_same_state_goes_to_parent(factory: Factory) {
    let (saver, _guard) = factory();
    let mut review = TypedStateGraph::<Doc>::new();
    review
        .add_sync_node("check", |d: &Doc, _| {
            Ok(
                TypedCommand::new(DocUpdate::default().log(vec![format!("rejected {}", d.draft)]))
                    .goto("fix")
                    .to_parent(),
            )
        })
        .add_edge(START, "check");
    let review = review
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();
    let app = doc_graph(&saver, review.json());
    let out = app
        .invoke(DocUpdate::default().draft("v1"), &Config::thread("t"))
        .await
        .unwrap();
    assert_eq!(out.values.log, ["rejected v1", "fixed v1", "done"]);

    // In a graph that is not a subgraph, "to the parent" is an error.
    let err = review
        .invoke(DocUpdate::default().draft("v1"), &Config::thread("root"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::ParentCommand { .. }), "{err}");
}

async fn a_bad_goto_or_packet_fails_the_task_naming_it(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = TypedStateGraph::<Ticket>::new();
    g.add_sync_node("route", |t: &Ticket, _| {
        Ok(match t.topic.as_str() {
            "nowhere" => TypedCommand::new(log("lost")).goto("no_such_node"),
            _ => TypedCommand::default().send("score", TicketUpdate::default().score(f64::NAN)),
        })
    })
    .add_sync_node("score", |_, _| Ok(log("scored")))
    .add_destinations("route", &["score"])
    .add_conditional_edges("route", |_: &Ticket| END, &[END])
    .add_edge(START, "route");
    let app = g
        .compile(CompileOptions::new().saver(Arc::clone(&saver)))
        .unwrap();

    let err = app
        .invoke(
            TicketUpdate::default().topic("nowhere"),
            &Config::thread("a"),
        )
        .await
        .unwrap_err();
    let GraphError::InvalidUpdate { node, reason, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(node, "route");
    assert!(reason.contains("no_such_node"), "{reason}");

    let err = app
        .invoke(TicketUpdate::default().topic("nan"), &Config::thread("b"))
        .await
        .unwrap_err();
    let GraphError::InvalidUpdate { node, reason, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(node, "route");
    assert!(
        reason.contains("packet sent to \"score\"") && reason.contains("NaN"),
        "{reason}"
    );
}

per_saver_tests!(memory, super::memory_saver;
    a_typed_node_goes_to_a_node_and_sends_a_typed_packet,
    typed_routing_stores_the_thread_the_json_api_stores,
    a_typed_router_reads_the_struct_and_fans_out,
    a_typed_subgraph_commands_its_parent_of_another_state,
    a_typed_subgraph_of_the_same_state_goes_to_parent,
    a_bad_goto_or_packet_fails_the_task_naming_it,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    a_typed_node_goes_to_a_node_and_sends_a_typed_packet,
    typed_routing_stores_the_thread_the_json_api_stores,
    a_typed_router_reads_the_struct_and_fans_out,
    a_typed_subgraph_commands_its_parent_of_another_state,
    a_typed_subgraph_of_the_same_state_goes_to_parent,
    a_bad_goto_or_packet_fails_the_task_naming_it,
);
