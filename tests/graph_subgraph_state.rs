//! A subgraph's state seen from the parent: `get_state_subgraphs` (each
//! subgraph task's own snapshot), a subgraph namespace read, listed and
//! updated through the parent graph, the `parents` metadata of a
//! subgraph's checkpoints, a run given a subgraph checkpoint's config, and
//! a node that returns an update for the parent (`Update::to_parent`,
//! LangGraph's `Command.PARENT`). The expectations are what LangGraph
//! 1.2.22 does on the same graphs (`tests/langgraph_reference/subgraph_state.py`).
//! Every test runs once per saver.

use std::collections::BTreeMap;
use std::sync::Arc;

use checkpointer::graph::{
    Command, CompileOptions, CompiledGraph, GraphError, Input, Reducer, RunNotice, START,
    StateGraph, Update,
};
use checkpointer::{BaseCheckpointSaver, CheckpointSource, Config, ListOptions};
use serde_json::{Value, json};

mod graph_support;
use graph_support::subgraphs::*;
use graph_support::*;

/// `review:<task id>|x:<id>` as `review:<id>|x:<id>`.
fn short(ns: &str) -> String {
    ns.split('|')
        .map(|p| match p.split_once(':') {
            Some((node, _)) => format!("{node}:<id>"),
            None => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// How many checkpoints thread `t` has per (shortened) namespace.
fn counts(saver: &Arc<dyn BaseCheckpointSaver>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for t in saver
        .list(Some(&Config::thread("t")), &ListOptions::new())
        .unwrap()
    {
        *out.entry(short(t.config.ns())).or_insert(0) += 1;
    }
    out
}

fn count_map(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

/// The namespace of the waiting subgraph task of the parent's snapshot.
async fn sub_ns(app: &CompiledGraph) -> String {
    let s = app.get_state(&Config::thread("t")).await.unwrap();
    s.tasks[0]
        .state
        .clone()
        .expect("a subgraph task")
        .ns()
        .to_owned()
}

async fn get_state_subgraphs_nests_the_subgraphs_snapshot(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();

    let s = app.get_state_subgraphs(&thread).await.unwrap();
    assert_eq!(s.next, vec!["review"]);
    let inside = s.tasks[0]
        .subgraph
        .as_deref()
        .expect("the subgraph's snapshot");
    assert_eq!(inside.values, json!({"draft": "hello", "log": ["written"]}));
    assert_eq!(inside.next, vec!["approve"]);
    assert_eq!(inside.interrupts[0].value, json!({"approve": "hello"}));
    let md = inside.metadata.as_ref().unwrap();
    assert_eq!((md.step, md.source), (0, CheckpointSource::Loop));
    assert_eq!(
        md.parents,
        BTreeMap::from([(String::new(), id(&s.config))]),
        "the parent's checkpoint the subgraph runs under"
    );
    assert_eq!(inside.config.ns(), s.tasks[0].state.as_ref().unwrap().ns());
    assert_eq!(inside.tasks.len(), 1);
    assert_eq!(inside.tasks[0].name, "approve");
    assert!(inside.tasks[0].state.is_none() && inside.tasks[0].subgraph.is_none());
    // Plain `get_state` gives the config only, as LangGraph's does.
    let plain = app.get_state(&thread).await.unwrap();
    assert!(plain.tasks[0].state.is_some() && plain.tasks[0].subgraph.is_none());
}

async fn get_state_subgraphs_goes_down_every_level(factory: Factory) {
    let (saver, _guard) = factory();
    let app = nested_review(&saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let s = app.get_state_subgraphs(&thread).await.unwrap();
    let middle = s.tasks[0].subgraph.as_deref().unwrap();
    let deep = middle.tasks[0].subgraph.as_deref().unwrap();
    assert_eq!(s.next, vec!["inner"]);
    assert_eq!(middle.next, vec!["review"]);
    assert_eq!(deep.next, vec!["approve"]);
    assert_eq!(deep.values, json!({"draft": "hello", "log": ["written"]}));
    assert_eq!(short(deep.config.ns()), "inner:<id>|review:<id>");
}

async fn a_subgraph_namespace_reads_through_the_parent(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    app.invoke(json!({}), &Config::thread("t")).await.unwrap();
    let ns = Config::thread("t").with_ns(sub_ns(&app).await);
    // The parent graph reads the subgraph's checkpoints with the
    // subgraph's channels and edges.
    let st = app.get_state(&ns).await.unwrap();
    assert_eq!(st.values, json!({"draft": "hello", "log": ["written"]}));
    assert_eq!(st.next, vec!["approve"]);
    let history: Vec<(i64, CheckpointSource, Value, Vec<String>)> = app
        .get_state_history(&ns, &ListOptions::new())
        .await
        .unwrap()
        .into_iter()
        .map(|h| {
            let md = h.metadata.unwrap();
            (md.step, md.source, h.values, h.next)
        })
        .collect();
    assert_eq!(
        history,
        vec![
            (
                0,
                LOOP,
                json!({"draft": "hello", "log": ["written"]}),
                vec!["approve".to_owned()]
            ),
            (-1, INPUT, json!({"log": []}), vec!["__start__".to_owned()]),
        ]
    );
}

async fn subgraph_checkpoints_record_their_parents(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let waiting = id(&app.get_state(&thread).await.unwrap().config);
    app.invoke(Command::resume("yes"), &thread).await.unwrap();
    let all = saver.list(Some(&thread), &ListOptions::new()).unwrap();
    assert_eq!(all.len(), 8);
    for t in all {
        let expected = if t.config.ns().is_empty() {
            BTreeMap::new()
        } else {
            // Every subgraph checkpoint, before and after the resume.
            BTreeMap::from([(String::new(), waiting.clone())])
        };
        assert_eq!(t.metadata.parents, expected, "step {}", t.metadata.step);
    }
}

async fn nested_subgraph_checkpoints_record_every_enclosing_checkpoint(factory: Factory) {
    let (saver, _guard) = factory();
    let app = nested_review(&saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let newest = |ns: &str| {
        saver
            .get_tuple(&Config::thread("t").with_ns(ns))
            .unwrap()
            .unwrap()
    };
    let s = app.get_state_subgraphs(&thread).await.unwrap();
    let middle_ns = s.tasks[0].state.as_ref().unwrap().ns().to_owned();
    let middle = s.tasks[0].subgraph.as_deref().unwrap();
    let deep_ns = middle.tasks[0].state.as_ref().unwrap().ns().to_owned();
    let root_id = newest("").checkpoint.id;
    let middle_id = newest(&middle_ns).checkpoint.id;
    assert_eq!(
        newest(&middle_ns).metadata.parents,
        BTreeMap::from([(String::new(), root_id.clone())])
    );
    for t in saver
        .list(
            Some(&Config::thread("t").with_ns(&deep_ns)),
            &ListOptions::new(),
        )
        .unwrap()
    {
        assert_eq!(
            t.metadata.parents,
            BTreeMap::from([
                (String::new(), root_id.clone()),
                (middle_ns.clone(), middle_id.clone())
            ])
        );
    }
    assert_eq!(newest("").metadata.parents, BTreeMap::new());
}

async fn a_run_given_a_subgraph_checkpoint_runs_the_root_from_its_latest(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    app.invoke(json!({}), &Config::thread("t")).await.unwrap();
    let ns = sub_ns(&app).await;
    let first = saver
        .list(Some(&Config::thread("t").with_ns(&ns)), &ListOptions::new())
        .unwrap()
        .pop()
        .unwrap()
        .config;
    let before = count_map(&[("", 3), ("review:<id>", 2)]);
    assert_eq!(counts(&saver), before);

    // As LangGraph: the namespace and checkpoint id are set aside; the
    // root continues from its latest checkpoint (the subgraph asks again).
    let out = app.invoke(Input::Continue, &first).await.unwrap();
    assert_eq!(out.values, json!({"draft": "hello", "log": ["written"]}));
    assert_eq!(out.interrupts[0].value, json!({"approve": "hello"}));
    assert_eq!(counts(&saver), before, "nothing was written");
    assert_eq!(
        out.notices,
        vec![RunNotice::NamespaceIgnored {
            checkpoint_ns: ns.clone(),
            checkpoint_id: first.checkpoint_id.clone(),
        }]
    );

    let out = app.invoke(Command::resume("again"), &first).await.unwrap();
    assert_eq!(
        out.values,
        json!({"draft": "hello (again)!", "log": ["written", "written", "approved", "polished"]})
    );
    assert_eq!(counts(&saver), count_map(&[("", 4), ("review:<id>", 4)]));
}

async fn update_state_of_a_subgraph_checkpoint_forks_the_subgraph(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let ns = sub_ns(&app).await;
    app.invoke(Command::resume("yes"), &thread).await.unwrap();
    let history = saver
        .list(Some(&Config::thread("t").with_ns(&ns)), &ListOptions::new())
        .unwrap();
    let target = &history[2];
    assert_eq!(target.metadata.step, 0);

    let new = app
        .update_state(&target.config, json!({"draft": "edited"}), None)
        .await
        .unwrap();
    assert_eq!(new.ns(), ns);
    let t = saver.get_tuple(&new).unwrap().unwrap();
    assert_eq!(
        (t.metadata.step, t.metadata.source),
        (1, CheckpointSource::Update)
    );
    assert_eq!(t.metadata.parents, target.metadata.parents);
    assert_eq!(
        t.parent_config.unwrap().checkpoint_id,
        target.config.checkpoint_id
    );
    assert_eq!(t.checkpoint.channel_values["draft"], json!("edited"));
    assert_eq!(counts(&saver), count_map(&[("", 4), ("review:<id>", 5)]));
    assert_eq!(
        app.get_state(&thread).await.unwrap().values,
        json!({"draft": "hello (yes)!", "log": ["written", "written", "approved", "polished"]})
    );
}

async fn update_state_of_a_namespace_with_no_subgraph_is_an_error(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    app.invoke(json!({}), &Config::thread("t")).await.unwrap();
    let before = counts(&saver);
    // LangGraph: `ValueError: Subgraph <node path> not found`, nothing
    // written (subgraph_state.py).
    for (ns, path) in [
        ("nope:1", "nope"),
        ("write:1", "write"),
        ("review:1|nope:2", "review|nope"),
    ] {
        let err = app
            .update_state(
                &Config::thread("t").with_ns(ns),
                json!({"draft": "x"}),
                None,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, GraphError::SubgraphNotFound { subgraph, checkpoint_ns, thread_id }
                if subgraph == path && checkpoint_ns == ns && thread_id == "t"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("subgraph {path} not found")),
            "{err}"
        );
    }
    assert_eq!(counts(&saver), before);
    // A read of such a namespace is empty, as LangGraph's.
    let nowhere = Config::thread("t").with_ns("nope:1");
    let read = app.get_state(&nowhere).await.unwrap();
    assert_eq!((read.values, read.metadata), (json!({}), None));
    let listed = app
        .get_state_history(&nowhere, &ListOptions::new())
        .await
        .unwrap();
    assert!(listed.is_empty());
}

async fn a_resume_continues_a_subgraph_from_its_update(factory: Factory) {
    let (saver, _guard) = factory();
    let app = write_then_review(&saver);
    let thread = Config::thread("t");
    app.invoke(json!({}), &thread).await.unwrap();
    let ns = Config::thread("t").with_ns(sub_ns(&app).await);
    app.update_state(&ns, json!({"draft": "edited"}), None)
        .await
        .unwrap();
    let inside = app.get_state(&ns).await.unwrap();
    assert_eq!(
        inside.values,
        json!({"draft": "edited", "log": ["written"]})
    );
    assert_eq!(inside.next, vec!["approve"]);
    let md = inside.metadata.unwrap();
    assert_eq!((md.source, md.step), (CheckpointSource::Update, 1));
    // The parent's answer reaches the subgraph, which goes on from the update.
    let out = app.invoke(Command::resume("yes"), &thread).await.unwrap();
    assert_eq!(
        out.values,
        json!({"draft": "edited (yes)!", "log": ["written", "written", "approved", "polished"]})
    );
    assert_eq!(counts(&saver), count_map(&[("", 4), ("review:<id>", 5)]));
}

/// Parent `write -> review -> publish` (and `fix`), where `review` is
/// `prep -> check -> after` and `check` sends an update to the parent.
fn parent_with_a_rejecting_check(saver: &Arc<dyn BaseCheckpointSaver>) -> CompiledGraph {
    let mut sub = StateGraph::new();
    sub.add_channel("draft", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("prep", |_, _| Ok(Update::new().set("log", vec!["prepped"])))
        .add_sync_node("check", |_, _| {
            Ok(Update::new()
                .set("draft", "bad")
                .set("log", vec!["checked"])
                .goto("fix")
                .to_parent())
        })
        .add_sync_node("after", |_, _| Ok(Update::new().set("log", vec!["after"])))
        .add_edge(START, "prep")
        .add_edge("prep", "check")
        .add_edge("check", "after");
    let sub = sub
        .compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap();
    let mut g = StateGraph::new();
    g.add_channel("draft", Reducer::last_value())
        .add_channel("log", Reducer::append())
        .add_sync_node("write", |_, _| {
            Ok(Update::new()
                .set("draft", "hello")
                .set("log", vec!["written"]))
        })
        .add_subgraph("review", sub)
        .add_sync_node("fix", |s, _| {
            let draft: String = s.get("draft")?;
            Ok(Update::new().set("log", vec![format!("fixed {draft}")]))
        })
        .add_sync_node("publish", |_, _| {
            Ok(Update::new().set("log", vec!["published"]))
        })
        .add_destinations("review", &["fix"])
        .add_edge(START, "write")
        .add_edge("write", "review")
        .add_edge("review", "publish");
    g.compile(CompileOptions::new().saver(Arc::clone(saver)))
        .unwrap()
}

async fn an_update_for_the_parent_routes_the_parent(factory: Factory) {
    let (saver, _guard) = factory();
    let app = parent_with_a_rejecting_check(&saver);
    let thread = Config::thread("t");
    let out = app.invoke(json!({}), &thread).await.unwrap();
    // The parent's task returns the command's update (not the subgraph's
    // state: no "prepped"), its goto and its own edge both run.
    assert_eq!(
        out.values,
        json!({"draft": "bad", "log": ["written", "checked", "fixed bad", "published"]})
    );
    let history: Vec<(i64, Vec<String>)> = app
        .get_state_history(&thread, &ListOptions::new())
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.metadata.unwrap().step, h.next))
        .collect();
    let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        history,
        vec![
            (3, names(&[])),
            (2, names(&["fix", "publish"])),
            (1, names(&["review"])),
            (0, names(&["write"])),
            (-1, names(&["__start__"])),
        ]
    );
    // The subgraph stopped in `check`'s step: no checkpoint for it, and
    // `check`'s writes were not saved there.
    let sub = saver
        .list(
            Some(
                &Config::thread("t").with_ns(
                    saver
                        .list(Some(&thread), &ListOptions::new())
                        .unwrap()
                        .iter()
                        .map(|t| t.config.ns().to_owned())
                        .find(|ns| !ns.is_empty())
                        .unwrap(),
                ),
            ),
            &ListOptions::new(),
        )
        .unwrap();
    let steps: Vec<(i64, Option<Value>, usize)> = sub
        .iter()
        .map(|t| {
            (
                t.metadata.step,
                t.checkpoint.channel_values.get("log").cloned(),
                t.pending_writes.len(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (1, Some(json!(["written", "prepped"])), 0),
            (0, Some(json!(["written"])), 2),
            (-1, None, 3),
        ]
    );
}

async fn an_update_for_the_parent_in_a_root_graph_is_an_error(factory: Factory) {
    let (saver, _guard) = factory();
    let mut g = StateGraph::new();
    g.add_channel("x", Reducer::last_value())
        .add_sync_node("a", |_, _| Ok(Update::new().set("x", 1).to_parent()))
        .add_edge(START, "a");
    let app = g.compile(CompileOptions::new().saver(saver)).unwrap();
    let err = app
        .invoke(json!({}), &Config::thread("r"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::ParentCommand { node, step: 1, .. } if node == "a"),
        "{err}"
    );
}

per_saver_tests!(memory, super::memory_saver;
    get_state_subgraphs_nests_the_subgraphs_snapshot,
    get_state_subgraphs_goes_down_every_level,
    a_subgraph_namespace_reads_through_the_parent,
    subgraph_checkpoints_record_their_parents,
    nested_subgraph_checkpoints_record_every_enclosing_checkpoint,
    a_run_given_a_subgraph_checkpoint_runs_the_root_from_its_latest,
    update_state_of_a_subgraph_checkpoint_forks_the_subgraph,
    update_state_of_a_namespace_with_no_subgraph_is_an_error,
    a_resume_continues_a_subgraph_from_its_update,
    an_update_for_the_parent_routes_the_parent,
    an_update_for_the_parent_in_a_root_graph_is_an_error,
);
per_saver_tests!(sqlite, super::sqlite_saver;
    get_state_subgraphs_nests_the_subgraphs_snapshot,
    get_state_subgraphs_goes_down_every_level,
    a_subgraph_namespace_reads_through_the_parent,
    subgraph_checkpoints_record_their_parents,
    nested_subgraph_checkpoints_record_every_enclosing_checkpoint,
    a_run_given_a_subgraph_checkpoint_runs_the_root_from_its_latest,
    update_state_of_a_subgraph_checkpoint_forks_the_subgraph,
    update_state_of_a_namespace_with_no_subgraph_is_an_error,
    a_resume_continues_a_subgraph_from_its_update,
    an_update_for_the_parent_routes_the_parent,
    an_update_for_the_parent_in_a_root_graph_is_an_error,
);
#[cfg(feature = "postgres")]
pg_tests!(postgres, super::postgres_saver;
    get_state_subgraphs_nests_the_subgraphs_snapshot,
    subgraph_checkpoints_record_their_parents,
    a_run_given_a_subgraph_checkpoint_runs_the_root_from_its_latest,
    update_state_of_a_subgraph_checkpoint_forks_the_subgraph,
    update_state_of_a_namespace_with_no_subgraph_is_an_error,
    an_update_for_the_parent_routes_the_parent,
);
