//! A small graph specification for the step functions' unit tests:
//! `START -> a -> b`, `a` also routing to `b` when `x` is 1, and a join
//! `[a, b] -> c`; channels `x` (last value) and `log` (append).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::graph::channel::{ChannelKind, Reducer, START_CHANNEL, branch_channel, join_channel};
use crate::graph::interrupt::Route;
use crate::graph::spec::{GraphSpec, NodeSpec, RouterFn, START};
use crate::graph::state::State;
use crate::saver::TASKS;

/// The join channel of the fixture: `[a, b] -> c`.
pub(super) fn join() -> String {
    join_channel(&["a".to_owned(), "b".to_owned()], "c")
}

pub(super) fn spec() -> GraphSpec {
    let mut channels = BTreeMap::from([
        ("x".to_owned(), ChannelKind::State(Reducer::last_value())),
        ("log".to_owned(), ChannelKind::State(Reducer::append())),
        (START_CHANNEL.to_owned(), ChannelKind::Ephemeral),
        (TASKS.to_owned(), ChannelKind::Tasks),
        (join(), ChannelKind::Barrier(vec!["a".into(), "b".into()])),
    ]);
    let mut node = |name: &str, successors: &[&str]| {
        let trigger = branch_channel(name);
        channels.insert(trigger.clone(), ChannelKind::Ephemeral);
        NodeSpec {
            triggers: vec![trigger],
            successors: successors.iter().map(|s| (*s).to_owned()).collect(),
            ..NodeSpec::default()
        }
    };
    let mut a = node("a", &["b"]);
    let router: Arc<RouterFn> = Arc::new(|s: &State| match s.value("x") {
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Route::from("b"),
        _ => Route::default(),
    });
    a.routers.push(router);
    a.joins.push(join());
    let mut b = node("b", &[]);
    b.joins.push(join());
    let mut c = node("c", &[]);
    c.triggers.push(join());
    let start = NodeSpec {
        triggers: vec![START_CHANNEL.to_owned()],
        successors: vec!["a".to_owned()],
        ..NodeSpec::default()
    };
    let nodes = BTreeMap::from([
        (START.to_owned(), start),
        ("a".to_owned(), a),
        ("b".to_owned(), b),
        ("c".to_owned(), c),
    ]);
    GraphSpec {
        channels,
        state_channels: vec!["log".to_owned(), "x".to_owned()],
        nodes,
        mermaid: String::new(),
    }
}
