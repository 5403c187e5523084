//! What a node's update writes along its edges: state writes, then the
//! triggers of its successors, its join marks and its Send packets.

use serde_json::{Value, json};

use crate::graph::channel::{ChannelKind, branch_channel};
use crate::graph::interrupt::Goto;
use crate::graph::spec::{END, GraphSpec};
use crate::graph::state::State;
use crate::saver::TASKS;

/// The writes a node's update makes, with its edges: state writes, then
/// the update's own gotos (as LangGraph writes a returned `Command`'s), then
/// `branch:to:` triggers for static successors, join barrier marks, and
/// router answers (nodes or Send packets). `global` is the state before the
/// step; routers see it with the update applied.
pub(crate) fn node_writes(
    spec: &GraphSpec,
    node: &str,
    update: Vec<(String, Value)>,
    gotos: Vec<Goto>,
    global: &State,
) -> Result<Vec<(String, Value)>, String> {
    let Some(n) = spec.nodes.get(node) else {
        return Err(format!("{node:?} is not a node of the graph"));
    };
    // The routers read the state with this node's update applied: a copy
    // of the values, made only when the node has routers.
    let mut local = global.clone();
    for (ch, value) in &update {
        let Some(kind @ ChannelKind::State(_)) = spec.channels.get(ch) else {
            return Err(format!(
                "{ch:?} is not a state channel of the graph (declare it with add_channel)"
            ));
        };
        if n.routers.is_empty() {
            continue;
        }
        let mut cur = local.value(ch).cloned();
        // Two writes to a last-value channel by one node: the last wins here;
        // apply_writes reports the conflict.
        if kind
            .update(&mut cur, vec![(node.to_owned(), value.clone())])
            .is_ok()
        {
            local.set(ch, cur);
        }
    }
    let mut writes = update;
    for goto in gotos {
        goto_writes(spec, node, goto, &mut writes)?;
    }
    for succ in &n.successors {
        writes.push((branch_channel(succ), Value::from(node)));
    }
    for join in &n.joins {
        writes.push((join.clone(), Value::from(node)));
    }
    for router in &n.routers {
        for goto in router(&local).0 {
            goto_writes(spec, node, goto, &mut writes)?;
        }
    }
    Ok(writes)
}

/// The writes that make `goto` happen in the next step.
pub(crate) fn goto_writes(
    spec: &GraphSpec,
    from: &str,
    goto: Goto,
    writes: &mut Vec<(String, Value)>,
) -> Result<(), String> {
    let valid = |n: &str| spec.is_user_node(n);
    match goto {
        Goto::Node(n) if n == END => {}
        Goto::Node(n) => {
            if !valid(&n) {
                return Err(format!("route to {n:?}, which is not a node of the graph"));
            }
            writes.push((branch_channel(&n), Value::from(from)));
        }
        Goto::Send(s) => {
            if !valid(&s.node) {
                return Err(format!(
                    "SendTo {:?}, which is not a node of the graph",
                    s.node
                ));
            }
            writes.push((TASKS.to_owned(), json!({"node": s.node, "arg": s.arg})));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::SendTo;
    use crate::graph::algo::fixture;

    fn writes(node: &str, update: Value, state: Value) -> Result<Vec<(String, Value)>, String> {
        let update = match update {
            Value::Object(map) => map.into_iter().collect(),
            _ => Vec::new(),
        };
        node_writes(
            &fixture::spec(),
            node,
            update,
            Vec::new(),
            &State::from_value(state),
        )
    }

    #[test]
    fn an_update_writes_its_successors_joins_and_routes() {
        // a's router sees the state with a's update applied (x = 1): to b.
        let w = writes("a", json!({"x": 1}), json!({"x": 0})).expect("valid");
        let channels: Vec<&str> = w.iter().map(|(ch, _)| ch.as_str()).collect();
        assert_eq!(
            channels,
            ["x", "branch:to:b", &fixture::join(), "branch:to:b"]
        );
        assert!(w[1..].iter().all(|(_, from)| *from == json!("a")));
        let w = writes("a", json!({}), json!({"x": 0})).expect("valid");
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn updates_and_routes_must_name_the_graph_s_channels_and_nodes() {
        let err = writes("a", json!({"ghost": 1}), json!({})).expect_err("unknown channel");
        assert!(err.contains("\"ghost\" is not a state channel"), "{err}");
        assert!(writes("ghost", json!({}), json!({})).is_err());
        let spec = fixture::spec();
        let mut w = Vec::new();
        assert!(goto_writes(&spec, "a", Goto::Node("__start__".into()), &mut w).is_err());
        goto_writes(&spec, "a", Goto::Node(END.into()), &mut w).expect("END goes nowhere");
        goto_writes(&spec, "a", SendTo::new("b", json!({"x": 3})).into(), &mut w).expect("ok");
        assert_eq!(
            w,
            vec![(TASKS.to_owned(), json!({"node": "b", "arg": {"x": 3}}))]
        );
    }
}
