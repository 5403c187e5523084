//! Tasks: one node to run in one superstep, and its deterministic id.
//!
//! A *pull* task runs a node because one of its trigger channels has a
//! version the node has not seen; a *push* task runs a node for one
//! [`SendTo`] packet. Both get ids that depend only on where they run, so a
//! run resumed from the same checkpoint finds the writes of the tasks that
//! had already finished.
//!
//! The ids are LangGraph's, byte for byte (`langgraph/pregel/_algo.py`,
//! `_xxhash_str`): xxh3-128 over the checkpoint id's 16 bytes, then the
//! task's namespace (`node`, or `parent_ns|node` in a subgraph), the step,
//! the node, `__pregel_pull` and the sorted triggers (pull) or
//! `__pregel_push` and the packet index (push), concatenated with no
//! separator, printed as a UUID. So Python and this crate find each other's
//! finished tasks. Threads written before this crate used that formula
//! carry UUIDv5 ids; [`legacy_ids`](super::legacy_ids) reads them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use xxhash_rust::xxh3::xxh3_128;

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

/// The namespace a task of `node` runs in: `node`, or `parent_ns|node` in
/// a subgraph (LangGraph's `checkpoint_ns` of the task, before `:task_id`).
pub(crate) fn task_ns(parent_ns: &str, node: &str) -> String {
    if parent_ns.is_empty() {
        node.to_owned()
    } else {
        format!("{parent_ns}|{node}")
    }
}

/// The bytes a task id starts from: the checkpoint id's 16 bytes
/// (`binascii.unhexlify(id.replace("-", ""))`). An id that is not hex
/// (a hand-made checkpoint) is taken as its text bytes, so it still gets a
/// stable id.
fn checkpoint_id_bytes(checkpoint_id: &str) -> Vec<u8> {
    let hex: Vec<u8> = checkpoint_id.bytes().filter(|b| *b != b'-').collect();
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.iter().all(u8::is_ascii_hexdigit) {
        return checkpoint_id.as_bytes().to_vec();
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    };
    hex.chunks(2)
        .map(|pair| digit(pair[0]) << 4 | digit(pair[1]))
        .collect()
}

/// `_xxhash_str`: xxh3-128 of the checkpoint id bytes and the parts,
/// concatenated, as a UUID-shaped string.
fn xxh3_task_id(checkpoint_id: &str, parts: &[&str]) -> String {
    let mut bytes = checkpoint_id_bytes(checkpoint_id);
    for part in parts {
        bytes.extend_from_slice(part.as_bytes());
    }
    Uuid::from_u128(xxh3_128(&bytes)).to_string()
}

/// The id of the pull task of `node` in `step` of the graph at namespace
/// `parent_ns`, made from checkpoint `checkpoint_id`, triggered by
/// `triggers` (sorted).
pub(crate) fn pull_task_id(
    checkpoint_id: &str,
    parent_ns: &str,
    step: i64,
    node: &str,
    triggers: &[String],
) -> String {
    let (ns, step) = (task_ns(parent_ns, node), step.to_string());
    let mut parts = vec![ns.as_str(), &step, node, PULL];
    parts.extend(triggers.iter().map(String::as_str));
    xxh3_task_id(checkpoint_id, &parts)
}

/// The id of the push task for packet `idx` of `step`.
pub(crate) fn push_task_id(
    checkpoint_id: &str,
    parent_ns: &str,
    step: i64,
    node: &str,
    idx: usize,
) -> String {
    let (ns, step, idx) = (task_ns(parent_ns, node), step.to_string(), idx.to_string());
    xxh3_task_id(checkpoint_id, &[&ns, &step, node, PUSH, &idx])
}

/// The id `update_state` writes under when `as_node` has no pending task:
/// LangGraph's `uuid5(UUID(checkpoint_id), "__interrupt__")`. A checkpoint
/// id that is not a UUID keeps the old form of this crate.
pub(crate) fn update_task_id(checkpoint_id: &str) -> String {
    match Uuid::parse_str(checkpoint_id) {
        Ok(namespace) => Uuid::new_v5(&namespace, crate::saver::INTERRUPT.as_bytes()).to_string(),
        Err(_) => super::legacy_ids::update_task_id(checkpoint_id),
    }
}

/// The id of the interrupt a task asks when it already holds `answered`
/// answers (LangGraph's `_interrupt_id`): xxh3-128 hex of the task's
/// checkpoint namespace `task_ns:task_id`, with `|answered` appended when
/// it is not 0.
pub(crate) fn interrupt_id(parent_ns: &str, node: &str, task_id: &str, answered: usize) -> String {
    let ns = format!("{}:{task_id}", task_ns(parent_ns, node));
    let text = if answered == 0 {
        ns
    } else {
        format!("{ns}|{answered}")
    };
    format!("{:032x}", xxh3_128(text.as_bytes()))
}

/// LangGraph's task path text: `~` and the parts joined by `, `, integers
/// padded to 10 digits.
pub(crate) fn pull_path(node: &str) -> String {
    format!("~{PULL}, {node}")
}

/// The path of the push task for packet `idx`: LangGraph's
/// `(PUSH, idx, False)`, the `False` (no call) printed as a padded 0.
pub(crate) fn push_path(idx: usize) -> String {
    format!("~{PUSH}, {idx:010}, {:010}", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint id in LangGraph's uuid6 shape.
    const CP: &str = "1f0d2c4e-8a1b-6c3d-bfff-0123456789ab";

    // The golden ids below were computed with the venv's LangGraph 1.2.22
    // (`$CHECKPOINTER_PYTHON`), with `cp = "1f0d2c4e-8a1b-6c3d-bfff-0123456789ab"`
    // and `b = binascii.unhexlify(cp.replace("-", ""))`:
    //   from langgraph.pregel._algo import _xxhash_str, task_path_str
    //   from langgraph.types import _interrupt_id
    //   from langgraph.pregel.main import _update_task_id
    //   _xxhash_str(b, "review", "3", "review", "__pregel_pull", "branch:to:review", "count")
    //   _xxhash_str(b, "outer:5f1e2d3c-0000-0000-0000-000000000001|inner", "0", "inner",
    //               "__pregel_pull", "branch:to:inner")
    //   _xxhash_str(b, "work", "2", "work", "__pregel_push", "1")
    //   _interrupt_id("review:" + pull_id, 0), _interrupt_id("review:" + pull_id, 2)
    //   _update_task_id(cp, 0); task_path_str(("__pregel_push", 2, False))
    const PULL_ID: &str = "038a9ed7-ae6d-eb5d-95db-f61948fa731b";

    #[test]
    fn pull_task_ids_are_langgraphs() {
        let triggers = ["branch:to:review".to_owned(), "count".to_owned()];
        assert_eq!(pull_task_id(CP, "", 3, "review", &triggers), PULL_ID);
    }

    #[test]
    fn subgraph_task_ids_hash_the_parent_namespace() {
        let ns = "outer:5f1e2d3c-0000-0000-0000-000000000001";
        assert_eq!(
            pull_task_id(CP, ns, 0, "inner", &["branch:to:inner".to_owned()]),
            "9b48c194-1b87-072b-829e-c8856c6f87c7"
        );
    }

    #[test]
    fn push_task_ids_and_paths_are_langgraphs() {
        assert_eq!(
            push_task_id(CP, "", 2, "work", 1),
            "1edbb152-ad6c-18fc-75f4-699fb02632e7"
        );
        assert_eq!(push_path(2), "~__pregel_push, 0000000002, 0000000000");
        assert_eq!(pull_path("a"), "~__pregel_pull, a");
    }

    #[test]
    fn interrupt_ids_are_langgraphs() {
        assert_eq!(
            interrupt_id("", "review", PULL_ID, 0),
            "9eab5f1fba744d77e908ff2dea2fdfad"
        );
        assert_eq!(
            interrupt_id("", "review", PULL_ID, 2),
            "8fdef24f8d5703269ec7164da9f62e5f"
        );
    }

    #[test]
    fn update_task_ids_are_langgraphs() {
        assert_eq!(update_task_id(CP), "23dc2e95-5c9f-523e-b0bc-75b78efe3813");
        // Not a UUID: still stable.
        assert_eq!(update_task_id("cp1"), update_task_id("cp1"));
    }

    #[test]
    fn ids_are_deterministic_and_depend_on_every_part() {
        let t = vec!["branch:to:a".to_owned()];
        let id = pull_task_id("cp1", "", 1, "a", &t);
        assert_eq!(id, pull_task_id("cp1", "", 1, "a", &t));
        assert_ne!(id, pull_task_id("cp2", "", 1, "a", &t));
        assert_ne!(id, pull_task_id("cp1", "", 2, "a", &t));
        assert_ne!(id, pull_task_id("cp1", "", 1, "b", &t));
        assert_ne!(id, pull_task_id("cp1", "", 1, "a", &[]));
        assert_ne!(id, pull_task_id("cp1", "x:1", 1, "a", &t));
        assert_ne!(
            push_task_id("cp1", "", 1, "a", 0),
            push_task_id("cp1", "", 1, "a", 1)
        );
    }
}
