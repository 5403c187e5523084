//! Config metadata: `put` merges the config's `configurable` map into the
//! metadata, and `delete_for_runs` finds run ids that came from there.

use crate::{BaseCheckpointSaver, CheckpointSource, ListOptions};
use serde_json::{Value, json};

use super::fixtures::{
    checkpoint, child_of, config, get, id_of, list_ids, metadata, metadata_step, put, thread_id,
    try_get, uuid4,
};

/// `delete_for_runs` finds a run id that came from the config's
/// `configurable` map, merged into metadata by `put`.
pub fn delete_for_runs_run_id_from_configurable(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let (run1, run2) = (uuid4(), uuid4());
    let s1 = put(
        saver,
        &config(&tid).with_configurable("run_id", run1.as_str()),
        &checkpoint(),
        &metadata(),
    );
    let s2 = put(
        saver,
        &child_of(&s1).with_configurable("run_id", run2.as_str()),
        &checkpoint(),
        &metadata_step(1),
    );
    assert_eq!(
        get(saver, &s1).metadata.run_id.as_deref(),
        Some(run1.as_str())
    );
    assert_eq!(
        get(saver, &s2).metadata.run_id.as_deref(),
        Some(run2.as_str())
    );

    saver
        .delete_for_runs(std::slice::from_ref(&run1))
        .expect("delete_for_runs");

    assert!(try_get(saver, &s1).is_none(), "run1's checkpoint is gone");
    assert_eq!(
        get(saver, &s2).metadata.run_id.as_deref(),
        Some(run2.as_str())
    );
}

/// Scalar keys of the config's `metadata` and `configurable` maps land in
/// the stored metadata when it lacks them; `__*` keys, runtime keys and
/// nested values do not; the metadata's own keys win.
pub fn config_metadata_merged(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cfg = config(&tid)
        .with_metadata("user", "alice")
        .with_metadata("score", 7)
        .with_metadata("ratio", 0.5)
        .with_metadata("flag", true)
        .with_metadata("kept", "from-config")
        .with_metadata("__hidden", "x")
        .with_metadata("nested", json!({"a": 1}))
        .with_metadata("list", json!([1, 2]))
        .with_metadata("none", Value::Null)
        .with_configurable("model", "small")
        .with_configurable("__pregel_scratchpad", "x")
        .with_configurable("langgraph_step", 3)
        .with_configurable("langgraph_node", "agent")
        .with_configurable("checkpoint_map", json!({"": "id"}));
    let md = metadata().with_extra("kept", "own");
    let stored = put(saver, &cfg, &checkpoint(), &md);

    let got = get(saver, &stored).metadata;
    assert_eq!(got.get("user"), Some(json!("alice")));
    assert_eq!(got.get("score"), Some(json!(7)));
    assert_eq!(got.get("ratio"), Some(json!(0.5)));
    assert_eq!(got.get("flag"), Some(json!(true)));
    assert_eq!(
        got.get("model"),
        Some(json!("small")),
        "configurable scalars merge too"
    );
    assert_eq!(
        got.get("kept"),
        Some(json!("own")),
        "the metadata's own key wins"
    );
    for absent in [
        "__hidden",
        "nested",
        "list",
        "none",
        "__pregel_scratchpad",
        "langgraph_step",
        "langgraph_node",
        "checkpoint_map",
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
    ] {
        assert_eq!(got.get(absent), None, "{absent} must not be merged");
    }
    assert_eq!(got.source, CheckpointSource::Loop);
    assert_eq!(got.step, 0);

    // Merged keys can be filtered on.
    let found = list_ids(
        saver,
        Some(&config(&tid)),
        &ListOptions::new()
            .filter("user", "alice")
            .filter("score", 7),
    );
    assert_eq!(found, vec![id_of(&stored)]);
}
