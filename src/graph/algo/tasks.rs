//! Which tasks a checkpoint runs next (LangGraph's `prepare_next_tasks`).

use serde_json::Value;

use crate::graph::legacy_ids;
use crate::graph::spec::{GraphSpec, START};
use crate::graph::task::{PUSH, Task, TaskKind, pull_path, pull_task_id, push_path, push_task_id};
use crate::saver::{Checkpoint, PendingWrite, TASKS};

/// The trigger channels of `node` that have a version it has not seen.
pub(crate) fn fresh_triggers(spec: &GraphSpec, checkpoint: &Checkpoint, node: &str) -> Vec<String> {
    let Some(n) = spec.nodes.get(node) else {
        return Vec::new();
    };
    let seen = checkpoint.versions_seen.get(node);
    let mut triggers: Vec<String> = n
        .triggers
        .iter()
        .filter(|ch| {
            let available = spec
                .channels
                .get(*ch)
                .is_some_and(|k| k.is_available(checkpoint.channel_values.get(*ch)));
            let version = checkpoint.channel_versions.get(*ch);
            let seen = seen.and_then(|s| s.get(*ch));
            available && version.is_some() && version > seen
        })
        .cloned()
        .collect();
    triggers.sort();
    triggers
}

/// The tasks of step `step`, run from `checkpoint`: push tasks for pending
/// Send packets, then pull tasks in node order.
///
/// `pending` are the writes pending at `checkpoint`: when they name the
/// tasks by the ids this crate used before LangGraph's (a thread written
/// by an older version), the tasks keep those ids, so the ones that
/// finished are not run again.
pub(crate) fn prepare_tasks(
    spec: &GraphSpec,
    checkpoint: &Checkpoint,
    ns: &str,
    step: i64,
    pending: &[PendingWrite],
) -> Vec<Task> {
    let mut tasks = Vec::new();
    // The packet index of each push task (`None`: a pull task), what the
    // old ids are made from besides the task itself.
    let mut packets = Vec::new();
    for (idx, node, arg) in send_packets(spec, checkpoint) {
        packets.push(Some(idx));
        tasks.push(Task {
            id: push_task_id(&checkpoint.id, ns, step, node, idx),
            name: node.to_owned(),
            path: push_path(idx),
            triggers: vec![PUSH.to_owned()],
            kind: TaskKind::Push(arg),
        });
    }
    for name in spec.nodes.keys() {
        let triggers = fresh_triggers(spec, checkpoint, name);
        if triggers.is_empty() {
            continue;
        }
        packets.push(None);
        tasks.push(Task {
            id: pull_task_id(&checkpoint.id, ns, step, name, &triggers),
            name: name.clone(),
            path: pull_path(name),
            triggers,
            kind: TaskKind::Pull,
        });
    }
    // The old ids are hashed only for a checkpoint whose task writes name
    // none of the current ids (rare: a thread from an older version), not
    // on every step.
    let current = tasks.iter().map(|t| t.id.as_str());
    if legacy_ids::may_be_legacy(pending, current) {
        let legacy: Vec<String> = tasks
            .iter()
            .zip(&packets)
            .map(|(task, packet)| match packet {
                Some(idx) => legacy_ids::push_task_id(&checkpoint.id, ns, step, &task.name, *idx),
                None => {
                    legacy_ids::pull_task_id(&checkpoint.id, ns, step, &task.name, &task.triggers)
                }
            })
            .collect();
        let current = tasks.iter().map(|t| t.id.as_str());
        if legacy_ids::written_with_legacy_ids(pending, current, legacy.iter().map(String::as_str))
        {
            for (task, old_id) in tasks.iter_mut().zip(legacy) {
                task.id = old_id;
            }
        }
    }
    tasks
}

/// The Send packets pending in `__pregel_tasks` as `(index, node, arg)`,
/// in packet order (packets naming no node of the graph are skipped).
fn send_packets<'a>(spec: &GraphSpec, checkpoint: &'a Checkpoint) -> Vec<(usize, &'a str, Value)> {
    let Some(Value::Array(packets)) = checkpoint.channel_values.get(TASKS) else {
        return Vec::new();
    };
    packets
        .iter()
        .enumerate()
        .filter_map(|(idx, packet)| {
            let node = packet.get("node").and_then(Value::as_str)?;
            let known = spec.nodes.contains_key(node) && node != START;
            let arg = packet.get("arg").cloned().unwrap_or(Value::Null);
            known.then_some((idx, node, arg))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::graph::algo::fixture;
    use crate::saver::ChannelVersion;

    fn v(n: u64) -> ChannelVersion {
        ChannelVersion::from(n)
    }

    #[test]
    fn a_new_trigger_version_makes_a_pull_task_and_a_seen_one_does_not() {
        let spec = fixture::spec();
        let cp = Checkpoint::new(0).with_value("branch:to:a", json!("__start__"), v(2));
        let tasks = prepare_tasks(&spec, &cp, "", 1, &[]);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].name, "a");
        assert_eq!(tasks[0].triggers, vec!["branch:to:a"]);
        assert_eq!(tasks[0].path, pull_path("a"));

        let mut seen = cp.clone();
        seen.versions_seen
            .entry("a".to_owned())
            .or_default()
            .insert("branch:to:a".to_owned(), v(2));
        assert!(prepare_tasks(&spec, &seen, "", 1, &[]).is_empty());
    }

    #[test]
    fn a_join_triggers_only_when_every_source_has_written() {
        let spec = fixture::spec();
        let half = Checkpoint::new(0).with_value(fixture::join(), json!(["a"]), v(1));
        assert!(fresh_triggers(&spec, &half, "c").is_empty());
        let full = Checkpoint::new(0).with_value(fixture::join(), json!(["a", "b"]), v(1));
        assert_eq!(fresh_triggers(&spec, &full, "c"), vec![fixture::join()]);
    }

    #[test]
    fn send_packets_come_first_and_unknown_nodes_are_skipped() {
        let spec = fixture::spec();
        let packets = json!([
            {"node": "b", "arg": {"x": 1}},
            {"node": "ghost", "arg": null},
            {"node": "b", "arg": {"x": 2}},
        ]);
        let cp = Checkpoint::new(0)
            .with_value(TASKS, packets, v(1))
            .with_value("branch:to:a", json!("__start__"), v(1));
        let tasks = prepare_tasks(&spec, &cp, "", 3, &[]);
        let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["b", "b", "a"]);
        assert_eq!(tasks[1].path, push_path(2));
        assert!(matches!(&tasks[1].kind, TaskKind::Push(arg) if *arg == json!({"x": 2})));
        assert_ne!(tasks[0].id, tasks[1].id);
    }
}
