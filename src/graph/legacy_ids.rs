//! The task and interrupt ids this crate wrote before it used LangGraph's
//! xxh3 formula, so that threads written then still resume without
//! running their finished tasks again.
//!
//! Those ids are UUIDv5 (SHA-1) over `checkpoint id, namespace, step, node,
//! "__pregel_pull", sorted triggers...` (pull) or `..., node,
//! "__pregel_push", index` (push), joined by NUL bytes, where the
//! namespace is the graph's own (`""` at the root). Which formula a
//! checkpoint's tasks use is decided from its pending writes
//! ([`written_with_legacy_ids`]): nothing is stored to say it.

use uuid::Uuid;

use super::task::{PULL, PUSH};
use crate::saver::{NULL_TASK_ID, PendingWrite};

/// Namespace of the v5 task ids (a fixed random UUID).
const TASK_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_3e4a_8b2d_4f71_9a0e_5d3c_2b1a_0f99);

fn uuid_of(parts: &[&str]) -> String {
    Uuid::new_v5(&TASK_NAMESPACE, parts.join("\0").as_bytes()).to_string()
}

/// The old id of the pull task of `node` in `step`.
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

/// The old id of the push task for packet `idx` of `step`.
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

/// The old id `update_state` wrote under; still used for checkpoint ids
/// that are not UUIDs.
pub(crate) fn update_task_id(checkpoint_id: &str) -> String {
    Uuid::new_v5(
        &TASK_NAMESPACE,
        format!("{checkpoint_id}\0{}", crate::saver::INTERRUPT).as_bytes(),
    )
    .to_string()
}

/// Whether the old ids are worth computing: some write pending at the
/// checkpoint is a task's, and none names a task by its current id. Only
/// then can [`written_with_legacy_ids`] hold.
pub(crate) fn may_be_legacy<'a>(
    pending: &[PendingWrite],
    current: impl IntoIterator<Item = &'a str>,
) -> bool {
    let mut task_writes = pending
        .iter()
        .filter(|w| w.task_id != NULL_TASK_ID)
        .peekable();
    if task_writes.peek().is_none() {
        return false;
    }
    let current: Vec<&str> = current.into_iter().collect();
    !task_writes.any(|w| current.contains(&w.task_id.as_str()))
}

/// Whether the writes pending at a checkpoint were made by tasks with the
/// old ids: none of them names a task by its current id, and one names a
/// task by its old id. A checkpoint with no task writes uses the current
/// ids (its tasks have not run yet, so any id finds nothing).
pub(crate) fn written_with_legacy_ids<'a>(
    pending: &[PendingWrite],
    current: impl IntoIterator<Item = &'a str>,
    legacy: impl IntoIterator<Item = &'a str>,
) -> bool {
    let written = |id: &str| {
        pending
            .iter()
            .any(|w| w.task_id == id && w.task_id != NULL_TASK_ID)
    };
    !current.into_iter().any(written) && legacy.into_iter().any(written)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn old_ids_are_the_uuid_v5_ones_threads_were_written_with() {
        // Python: uuid.uuid5(UUID("6c1f3e4a-8b2d-4f71-9a0e-5d3c2b1a0f99"),
        //   "\0".join(["cp1", "", "1", "a", "__pregel_pull", "branch:to:a"]))
        // (and "__pregel_push", "0" for the push id).
        let t = vec!["branch:to:a".to_owned()];
        assert_eq!(
            pull_task_id("cp1", "", 1, "a", &t),
            "81f9eaa9-e89f-5dce-8039-1cb300581152"
        );
        assert_eq!(
            push_task_id("cp1", "", 1, "a", 0),
            "7025620f-7bea-53d0-9aac-3e69a2ad3609"
        );
    }

    #[test]
    fn a_checkpoint_uses_the_old_ids_only_when_its_writes_name_them() {
        let write = |task_id: &str| PendingWrite {
            task_id: task_id.to_owned(),
            channel: "x".to_owned(),
            value: json!(1),
            task_path: String::new(),
            idx: 0,
        };
        let old = [write("old")];
        assert!(written_with_legacy_ids(&old, ["new"], ["old"]));
        assert!(!written_with_legacy_ids(&[write("new")], ["new"], ["old"]));
        assert!(!written_with_legacy_ids(&[], ["new"], ["old"]));
        assert!(!written_with_legacy_ids(
            &[write(NULL_TASK_ID)],
            ["new"],
            [NULL_TASK_ID]
        ));
        // The cheap check before hashing the old ids agrees.
        assert!(may_be_legacy(&old, ["new"]));
        assert!(!may_be_legacy(&[write("new"), write("old")], ["new"]));
        assert!(!may_be_legacy(&[], ["new"]));
        assert!(!may_be_legacy(&[write(NULL_TASK_ID)], ["new"]));
    }
}
