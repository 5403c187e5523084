//! Stored channel values: a value under an unchanged version still reads
//! back and is shared by the checkpoints that keep it, forks keep their own
//! values, and what prune, delete and copy do to values.

use std::collections::BTreeMap;

use crate::{BaseCheckpointSaver, Config, ListOptions, PruneStrategy};
use serde_json::{Value, json};

use super::fixtures::{
    checkpoint, checkpoint_versioned, checkpoint_with, child_of, config, config_ns, get, list,
    metadata, metadata_step, no_versions, put, put_chain, put_new, put_writes, thread_id,
    thread_ids, try_get, uuid4, values, versions_of,
};

/// A value put again under an unchanged version (not announced in
/// `new_versions`) still reads back, and so does a value whose version was
/// never stored before even if not announced.
pub fn unchanged_version_value_readable(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp1 = checkpoint_with(&[("a", json!({"n": 1})), ("b", json!("b1"))]);
    let s1 = put(saver, &config(&tid), &cp1, &metadata_step(0));

    // The same values at the same versions, nothing announced.
    let mut cp2 = cp1.clone();
    cp2.id = checkpoint().id;
    let s2 = put_new(
        saver,
        &child_of(&s1),
        &cp2,
        &metadata_step(1),
        &no_versions(),
    );
    assert_eq!(
        get(saver, &s2).checkpoint.channel_values,
        cp1.channel_values
    );

    // The first checkpoint stored again, nothing announced.
    put_new(
        saver,
        &config(&tid),
        &cp1,
        &metadata_step(0),
        &no_versions(),
    );
    assert_eq!(
        get(saver, &s1).checkpoint.channel_values,
        cp1.channel_values
    );
    assert_eq!(
        get(saver, &s2).checkpoint.channel_values,
        cp1.channel_values
    );

    // A fresh thread whose first put announces nothing: values are kept.
    let cp3 = checkpoint_with(&[("c", json!([1, 2, 3]))]);
    let s3 = put_new(
        saver,
        &config(&thread_id()),
        &cp3,
        &metadata(),
        &no_versions(),
    );
    assert_eq!(
        get(saver, &s3).checkpoint.channel_values,
        cp3.channel_values
    );
}

/// Many checkpoints share a channel that never changes; each reads it back,
/// beside a channel that changes every step.
pub fn unchanged_channel_shared_by_many(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let big = json!({"system": "You are helpful.", "tools": ["search", "calc"]});
    let mut stored = Vec::new();
    let mut parent: Option<Config> = None;
    for step in 0..8u64 {
        let cfg = parent.as_ref().map_or_else(|| config(&tid), child_of);
        let cp = checkpoint_versioned(
            &[("shared", big.clone()), ("counter", json!(step))],
            &[("shared", 1), ("counter", step + 1)],
        );
        let new = if step == 0 {
            versions_of(&[("shared", 1), ("counter", 1)])
        } else {
            versions_of(&[("counter", step + 1)])
        };
        let s = put_new(
            saver,
            &cfg,
            &cp,
            &metadata_step(i64::try_from(step).expect("small")),
            &new,
        );
        stored.push((s.clone(), step));
        parent = Some(s);
    }
    for (cfg, step) in &stored {
        let tup = get(saver, cfg);
        assert_eq!(
            values(&tup).get("shared"),
            Some(&big),
            "shared at step {step}"
        );
        assert_eq!(
            values(&tup).get("counter"),
            Some(&json!(step)),
            "counter at step {step}"
        );
    }
    for tup in list(saver, Some(&config(&tid)), &ListOptions::new()) {
        assert_eq!(
            values(&tup).get("shared"),
            Some(&big),
            "listed shared value"
        );
    }
}

/// A channel with a version but no value reads back absent (its version
/// stays); a `null` value is a value.
pub fn versioned_channel_without_value_absent(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp = checkpoint_versioned(
        &[("a", json!("x")), ("nothing", Value::Null)],
        &[("a", 1), ("empty", 1), ("nothing", 1)],
    );
    let stored = put(saver, &config(&tid), &cp, &metadata());

    let tup = get(saver, &stored);
    assert_eq!(values(&tup).get("a"), Some(&json!("x")));
    assert!(
        !values(&tup).contains_key("empty"),
        "a channel without a value reads back absent: {:?}",
        values(&tup)
    );
    assert_eq!(
        values(&tup).get("nothing"),
        Some(&Value::Null),
        "null is a value"
    );
    assert_eq!(tup.checkpoint.channel_versions, cp.channel_versions);

    // A child that keeps `empty` at its version still has no value for it.
    let child = checkpoint_versioned(
        &[("a", json!("y")), ("nothing", Value::Null)],
        &[("a", 2), ("empty", 1), ("nothing", 1)],
    );
    let s2 = put_new(
        saver,
        &child_of(&stored),
        &child,
        &metadata_step(1),
        &versions_of(&[("a", 2)]),
    );
    let tup2 = get(saver, &s2);
    assert!(!values(&tup2).contains_key("empty"));
    assert_eq!(values(&tup2).get("a"), Some(&json!("y")));
    assert_eq!(values(&tup2).get("nothing"), Some(&Value::Null));
}

/// Two children of one parent both move channel `a` to counter 2 with
/// different values; each reads back its own value.
pub fn fork_branches_keep_own_values(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let v1 = saver.get_next_version(None);
    let mut parent_cp = checkpoint();
    parent_cp
        .channel_values
        .insert("a".to_owned(), json!("base"));
    parent_cp.channel_versions.insert("a".to_owned(), v1);
    let parent = put(saver, &config(&tid), &parent_cp, &metadata());

    let branch = |value: &str| {
        let v2 = saver.get_next_version(Some(&v1));
        assert_eq!(v2.counter(), v1.counter() + 1, "next version counts up");
        assert!(v2 > v1, "next version is greater");
        let mut cp = parent_cp.clone();
        cp.id = checkpoint().id;
        cp.channel_values.insert("a".to_owned(), json!(value));
        cp.channel_versions.insert("a".to_owned(), v2);
        let new = BTreeMap::from([("a".to_owned(), v2)]);
        (
            put_new(saver, &child_of(&parent), &cp, &metadata_step(1), &new),
            v2,
        )
    };
    let (left, v_left) = branch("left");
    let (right, v_right) = branch("right");
    assert_ne!(v_left, v_right, "two branches get distinct versions");

    assert_eq!(values(&get(saver, &left)).get("a"), Some(&json!("left")));
    assert_eq!(values(&get(saver, &right)).get("a"), Some(&json!("right")));
    assert_eq!(values(&get(saver, &parent)).get("a"), Some(&json!("base")));
    for child in [&left, &right] {
        let p = get(saver, child)
            .parent_config
            .expect("a fork child has a parent");
        assert_eq!(p.checkpoint_id, parent.checkpoint_id);
    }
}

/// `prune(KeepLatest)` clears the kept checkpoint's parent link, and the
/// kept checkpoint still reads every value, also those stored by the
/// pruned checkpoints.
pub fn prune_keep_latest_clears_parent(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let cp1 = checkpoint_versioned(
        &[("a", json!("a1")), ("b", json!("b1"))],
        &[("a", 1), ("b", 1)],
    );
    let s1 = put(saver, &config(&tid), &cp1, &metadata_step(0));
    let cp2 = checkpoint_versioned(
        &[("a", json!("a1")), ("b", json!("b2"))],
        &[("a", 1), ("b", 2)],
    );
    let s2 = put_new(
        saver,
        &child_of(&s1),
        &cp2,
        &metadata_step(1),
        &versions_of(&[("b", 2)]),
    );
    let cp3 = checkpoint_versioned(
        &[("a", json!("a1")), ("b", json!("b2")), ("c", json!("c1"))],
        &[("a", 1), ("b", 2), ("c", 1)],
    );
    let s3 = put_new(
        saver,
        &child_of(&s2),
        &cp3,
        &metadata_step(2),
        &versions_of(&[("c", 1)]),
    );
    let child_ns = put_chain(saver, &tid, "child:1", 2);
    assert!(get(saver, &s3).parent_config.is_some());

    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::KeepLatest)
        .expect("prune");

    let kept = get(saver, &config(&tid));
    assert_eq!(kept.config.checkpoint_id, s3.checkpoint_id);
    assert!(
        kept.parent_config.is_none(),
        "the kept checkpoint's parent link is cleared, got {:?}",
        kept.parent_config
    );
    assert_eq!(
        kept.checkpoint.channel_values, cp3.channel_values,
        "values still read back"
    );
    assert!(try_get(saver, &s1).is_none() && try_get(saver, &s2).is_none());

    let kept_child = get(saver, &config_ns(&tid, "child:1"));
    assert_eq!(kept_child.config.checkpoint_id, child_ns[1].checkpoint_id);
    assert!(kept_child.parent_config.is_none());
    let listed = list(saver, Some(&Config::thread(&tid)), &ListOptions::new());
    assert_eq!(listed.len(), 2, "one per namespace: {listed:?}");
    assert!(listed.iter().all(|t| t.parent_config.is_none()));
}

/// Values go with `delete_thread` and with the checkpoints `prune` drops:
/// a later checkpoint that names the same `(channel, version)` without a
/// value (and without announcing it) reads it back absent.
pub fn deleted_values_stay_deleted(saver: &dyn BaseCheckpointSaver) {
    // delete_thread
    let tid = thread_id();
    let cp = checkpoint_with(&[("a", json!("secret"))]);
    put(saver, &config(&tid), &cp, &metadata());
    saver.delete_thread(&tid).expect("delete_thread");
    let ghost = checkpoint_versioned(&[], &[("a", 1)]);
    let again = put_new(saver, &config(&tid), &ghost, &metadata(), &no_versions());
    assert!(
        !values(&get(saver, &again)).contains_key("a"),
        "a value survived delete_thread"
    );

    // prune(KeepLatest): `b` at version 1 was only in the pruned checkpoint.
    let tid = thread_id();
    let s1 = put(
        saver,
        &config(&tid),
        &checkpoint_versioned(&[("b", json!("old"))], &[("b", 1)]),
        &metadata_step(0),
    );
    let latest = checkpoint_versioned(&[("b", json!("new"))], &[("b", 2)]);
    put_new(
        saver,
        &child_of(&s1),
        &latest,
        &metadata_step(1),
        &versions_of(&[("b", 2)]),
    );
    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::KeepLatest)
        .expect("prune");
    assert_eq!(
        values(&get(saver, &config(&tid))).get("b"),
        Some(&json!("new"))
    );
    let ghost = checkpoint_versioned(&[], &[("b", 1)]);
    let again = put_new(saver, &config(&tid), &ghost, &metadata(), &no_versions());
    assert!(
        !values(&get(saver, &again)).contains_key("b"),
        "a pruned value survived"
    );
}

/// A copy stands on its own: deleting the source leaves every value and
/// write of the copy readable.
pub fn copy_survives_source_delete(saver: &dyn BaseCheckpointSaver) {
    let (src, dst) = (thread_id(), thread_id());
    let s1 = put(
        saver,
        &config(&src),
        &checkpoint_with(&[("a", json!("a1")), ("b", json!([1, 2]))]),
        &metadata_step(0),
    );
    let cp2 = checkpoint_versioned(
        &[("a", json!("a2")), ("b", json!([1, 2]))],
        &[("a", 2), ("b", 1)],
    );
    let s2 = put_new(
        saver,
        &child_of(&s1),
        &cp2,
        &metadata_step(1),
        &versions_of(&[("a", 2)]),
    );
    put_writes(saver, &s2, &[("ch", json!({"w": 1}))], &uuid4());
    put(
        saver,
        &config_ns(&src, "child:1"),
        &checkpoint_with(&[("c", json!(3))]),
        &metadata(),
    );
    let before = list(saver, Some(&Config::thread(&src)), &ListOptions::new());

    saver.copy_thread(&src, &dst).expect("copy_thread");
    saver.delete_thread(&src).expect("delete_thread");

    assert!(thread_ids(saver, &src).is_empty());
    let copied = list(saver, Some(&Config::thread(&dst)), &ListOptions::new());
    assert_eq!(copied.len(), before.len());
    for (s, d) in before.iter().zip(&copied) {
        assert_eq!(d.config.thread_id, dst);
        assert_eq!(d.config.ns(), s.config.ns());
        assert_eq!(d.checkpoint, s.checkpoint, "checkpoint {}", s.checkpoint.id);
        assert_eq!(d.metadata, s.metadata);
        assert_eq!(d.pending_writes, s.pending_writes);
    }
}
