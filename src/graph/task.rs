//! Tasks: one node to run in one superstep, and its deterministic id.
//!
//! A *pull* task runs a node because one of its trigger channels has a
//! version the node has not seen; a *push* task runs a node for one
//! [`SendTo`] packet. Both get ids that depend only on where they run, so a
//! run resumed from the same checkpoint finds the writes of the tasks that
//! had already finished.
//!
//! LangGraph hashes the same parts with xxh3-128; this crate uses UUIDv5
//! (SHA-1) over `checkpoint id, namespace, step, node, "__pregel_pull",
//! sorted triggers...` (pull) or `..., node, "__pregel_push", index` (push),
//! joined by NUL bytes. Ids are therefore stable across processes and
//! versions of this crate, but differ from LangGraph's.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Namespace of the v5 task ids (a fixed random UUID).
const TASK_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_3e4a_8b2d_4f71_9a0e_5d3c_2b1a_0f99);

pub(crate) const PULL: &str = "__pregel_pull";
pub(crate) const PUSH: &str = "__pregel_push";

/// Dynamic fan-out: run `node` in the next step with `arg` as its state.
///
/// A router that returns several packets runs the node once per packet, in
/// parallel (map-reduce). LangGraph calls this `Send`; the Rust name avoids
/// the `Send` auto trait.
///
/// ```
/// use checkpointer::graph::SendTo;
/// use serde_json::json;
/// let packets: Vec<SendTo> = ["a", "b"].iter()
///     .map(|s| SendTo::new("generate", json!({"subject": s})))
///     .collect();
/// assert_eq!(packets[1].arg, json!({"subject": "b"}));
/// ```
#[doc(alias = "Send")]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendTo {
    /// The node to run.
    pub node: String,
    /// Its input: the state it sees (an object's keys become channels).
    pub arg: Value,
}

impl SendTo {
    /// A packet for `node` with input `arg`.
    pub fn new(node: impl Into<String>, arg: impl Into<Value>) -> Self {
        SendTo {
            node: node.into(),
            arg: arg.into(),
        }
    }
}

/// Pull or push.
#[derive(Clone, Debug)]
pub(crate) enum TaskKind {
    /// Triggered by channel versions; reads the state.
    Pull,
    /// Started by a Send packet; reads its argument.
    Push(Value),
}

/// A task prepared for one superstep.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) triggers: Vec<String>,
    pub(crate) kind: TaskKind,
}

fn uuid_of(parts: &[&str]) -> String {
    Uuid::new_v5(&TASK_NAMESPACE, parts.join("\0").as_bytes()).to_string()
}

/// The id of the pull task of `node` in `step`, made from checkpoint
/// `checkpoint_id`, triggered by `triggers` (sorted).
pub(crate) fn pull_task_id(
    checkpoint_id: &str,
    ns: &str,
    step: i64,
    node: &str,
    triggers: &[String],
) -> String {
    let step = step.to_string();
    let mut parts = vec![checkpoint_id, ns, &step, node, PULL];
    parts.extend(triggers.iter().map(String::as_str));
    uuid_of(&parts)
}

/// The id of the push task for packet `idx` of `step`.
pub(crate) fn push_task_id(
    checkpoint_id: &str,
    ns: &str,
    step: i64,
    node: &str,
    idx: usize,
) -> String {
    let (step, idx) = (step.to_string(), idx.to_string());
    uuid_of(&[checkpoint_id, ns, &step, node, PUSH, &idx])
}

/// The id `update_state` writes under when `as_node` has no pending task.
pub(crate) fn update_task_id(checkpoint_id: &str) -> String {
    Uuid::new_v5(
        &TASK_NAMESPACE,
        format!("{checkpoint_id}\0{}", crate::saver::INTERRUPT).as_bytes(),
    )
    .to_string()
}

/// The id of the `idx`-th interrupt of task `task_id`.
pub(crate) fn interrupt_id(task_id: &str, idx: usize) -> String {
    Uuid::new_v5(
        &TASK_NAMESPACE,
        format!("{task_id}\0interrupt\0{idx}").as_bytes(),
    )
    .simple()
    .to_string()
}

/// LangGraph's task path text: `~` and the parts joined by `, `, integers
/// padded to 10 digits.
pub(crate) fn pull_path(node: &str) -> String {
    format!("~{PULL}, {node}")
}

pub(crate) fn push_path(idx: usize) -> String {
    format!("~{PUSH}, {idx:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_depend_on_every_part() {
        let t = vec!["branch:to:a".to_owned()];
        let id = pull_task_id("cp1", "", 1, "a", &t);
        assert_eq!(id, pull_task_id("cp1", "", 1, "a", &t));
        assert_ne!(id, pull_task_id("cp2", "", 1, "a", &t));
        assert_ne!(id, pull_task_id("cp1", "", 2, "a", &t));
        assert_ne!(id, pull_task_id("cp1", "", 1, "b", &t));
        assert_ne!(id, pull_task_id("cp1", "", 1, "a", &[]));
        assert_ne!(
            push_task_id("cp1", "", 1, "a", 0),
            push_task_id("cp1", "", 1, "a", 1)
        );
        assert_eq!(push_path(3), "~__pregel_push, 0000000003");
    }
}
