//! The cases, one per rule of the `CheckpointAdmin` contract.

use std::time::{Duration, SystemTime};

use checkpointer::saver::export::{export_thread, import_thread};
use checkpointer::{BaseCheckpointSaver, Config, Error, InMemorySaver, ListOptions};
use serde_json::json;

use super::Store;
use super::history::{OLD, assert_same_tuples, ids, list, put, thread_with_writes};

/// A day ago: after [`OLD`], before anything stored now.
fn a_day_ago() -> SystemTime {
    SystemTime::now() - Duration::from_hours(24)
}

pub fn has_thread_in_any_namespace(store: &Store) {
    let admin = &*store.admin;
    assert!(!admin.has_thread("t").unwrap(), "unknown thread");
    assert!(
        !admin.has_thread("").unwrap(),
        "an empty id has no checkpoint"
    );
    put(admin, &Config::thread("t").with_ns("sub"), 0, &["s"], None);
    assert!(
        admin.has_thread("t").unwrap(),
        "a checkpoint in a subgraph counts"
    );
    assert!(!admin.has_thread("u").unwrap());
    admin.delete_thread("t").unwrap();
    assert!(!admin.has_thread("t").unwrap(), "gone with its checkpoints");
}

pub fn threads_count_checkpoints_and_namespaces(store: &Store) {
    let admin = &*store.admin;
    assert!(admin.threads(None).unwrap().is_empty());
    let a0 = put(admin, &Config::thread("a"), 0, &["x"], None);
    put(admin, &a0, 1, &["x", "y"], None);
    let sub = put(
        admin,
        &Config::thread("a").with_ns("sub:1"),
        7,
        &["s"],
        Some(OLD),
    );
    let threads = admin.threads(None).unwrap();
    assert_eq!(threads.len(), 1);
    let a = &threads[0];
    assert_eq!(a.thread_id, "a");
    assert_eq!((a.checkpoints, a.namespaces), (3, 2));
    assert_eq!(
        Some(&a.latest_checkpoint_id),
        sub.checkpoint_id.as_ref(),
        "newest over all namespaces"
    );
    assert_eq!(a.last_step, 7, "the newest checkpoint's step");
    assert_eq!(
        a.last_ts.as_deref(),
        Some(OLD),
        "the newest checkpoint's ts"
    );
}

pub fn threads_newest_first_with_limit(store: &Store) {
    let admin = &*store.admin;
    put(admin, &Config::thread("b"), 0, &["b"], None);
    put(admin, &Config::thread("a"), 0, &["a"], None);
    put(admin, &Config::thread("c"), 0, &["c"], None);
    let names = |limit| -> Vec<String> {
        admin
            .threads(limit)
            .unwrap()
            .into_iter()
            .map(|t| t.thread_id)
            .collect()
    };
    assert_eq!(names(None), ["c", "a", "b"], "most recently updated first");
    assert_eq!(names(Some(2)), ["c", "a"]);
    assert_eq!(names(Some(0)), Vec::<String>::new());
    put(admin, &Config::thread("b").latest(), 1, &["b", "b"], None);
    assert_eq!(
        names(Some(1)),
        ["b"],
        "an update moves a thread to the front"
    );
}

pub fn summaries_are_list_without_values(store: &Store) {
    let admin = &*store.admin;
    let roots = thread_with_writes(admin, "t");
    let full = list(admin, "t");
    let rows = admin.checkpoint_summaries("t", None).unwrap();
    assert_eq!(rows.len(), full.len());
    for (row, tuple) in rows.iter().zip(&full) {
        assert_eq!(row.checkpoint_ns, tuple.config.ns());
        assert_eq!(row.checkpoint.id, tuple.checkpoint.id, "newest first");
        assert!(row.checkpoint.channel_values.is_empty(), "no values");
        assert_eq!(
            row.checkpoint.channel_versions,
            tuple.checkpoint.channel_versions
        );
        assert_eq!(row.checkpoint.ts, tuple.checkpoint.ts);
        assert_eq!(row.metadata, tuple.metadata);
        assert_eq!(
            row.parent_checkpoint_id,
            tuple
                .parent_config
                .as_ref()
                .and_then(|p| p.checkpoint_id.clone())
        );
    }
    let root = rows.iter().find(|r| r.checkpoint_ns.is_empty()).unwrap();
    assert_eq!(Some(&root.checkpoint.id), roots[1].checkpoint_id.as_ref());
    assert_eq!(root.parent_checkpoint_id, roots[0].checkpoint_id);
}

pub fn summaries_of_one_namespace(store: &Store) {
    let admin = &*store.admin;
    let roots = thread_with_writes(admin, "t");
    let root = admin.checkpoint_summaries("t", Some("")).unwrap();
    let root_ids: Vec<_> = root.iter().map(|r| Some(r.checkpoint.id.clone())).collect();
    assert_eq!(
        root_ids,
        [
            roots[1].checkpoint_id.clone(),
            roots[0].checkpoint_id.clone()
        ]
    );
    let sub = admin.checkpoint_summaries("t", Some("sub:1")).unwrap();
    assert_eq!(sub.len(), 1);
    assert_eq!(sub[0].checkpoint_ns, "sub:1");
    assert!(
        admin
            .checkpoint_summaries("t", Some("other"))
            .unwrap()
            .is_empty()
    );
}

pub fn summaries_of_an_unknown_thread_are_empty(store: &Store) {
    let admin = &*store.admin;
    thread_with_writes(admin, "t");
    assert!(admin.checkpoint_summaries("u", None).unwrap().is_empty());
    assert!(
        admin
            .checkpoint_summaries("u", Some(""))
            .unwrap()
            .is_empty()
    );
}

pub fn import_restores_tuples_exactly(store: &Store) {
    let admin = &*store.admin;
    thread_with_writes(admin, "t");
    let mut tuples = list(admin, "t");
    let root = tuples
        .iter_mut()
        .find(|t| !t.pending_writes.is_empty())
        .unwrap();
    // Keep idx -1 and 1 only: an import keeps each write's own idx.
    root.pending_writes.retain(|w| w.idx != 0);
    let idx: Vec<i64> = root.pending_writes.iter().map(|w| w.idx).collect();
    assert_eq!(idx, [-1, 1]);
    // Metadata goes in verbatim (nothing merged from a config).
    root.metadata.extra.insert("note".into(), json!("imported"));

    let mut calls = Vec::new();
    admin
        .import_thread("copy", &tuples, &mut |n| calls.push(n))
        .unwrap();
    assert_eq!(calls, [1, 2, 3], "progress per checkpoint");
    let back = list(admin, "copy");
    assert_same_tuples(&tuples, &back);
    assert!(back.iter().all(|t| t.config.thread_id == "copy"));
    assert_eq!(list(admin, "t").len(), 3, "the source is untouched");
}

pub fn import_refuses_a_thread_with_checkpoints(store: &Store) {
    let admin = &*store.admin;
    thread_with_writes(admin, "t");
    let tuples = list(admin, "t");
    put(admin, &Config::thread("taken"), 0, &["mine"], None);
    let before = list(admin, "taken");
    let err = admin
        .import_thread("taken", &tuples, &mut |_| {})
        .unwrap_err();
    match &err {
        Error::TargetNotEmpty {
            source_thread,
            target_thread,
        } => {
            assert_eq!(source_thread, "(import)");
            assert_eq!(target_thread, "taken");
        }
        other => panic!("expected TargetNotEmpty, got {other}"),
    }
    assert_eq!(list(admin, "taken"), before, "nothing changed");
}

pub fn import_of_a_bad_tuple_changes_nothing(store: &Store) {
    let admin = &*store.admin;
    thread_with_writes(admin, "t");
    let mut tuples = list(admin, "t");
    tuples[1].checkpoint.id.clear();
    assert!(admin.import_thread("copy", &tuples, &mut |_| {}).is_err());
    assert!(!admin.has_thread("copy").unwrap(), "nothing stored");
    let err = admin.import_thread("", &tuples, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::EmptyThreadId { .. }), "{err}");
}

pub fn import_of_nothing_makes_no_thread(store: &Store) {
    let admin = &*store.admin;
    admin.import_thread("empty", &[], &mut |_| {}).unwrap();
    assert!(!admin.has_thread("empty").unwrap());
    assert!(admin.threads(None).unwrap().is_empty());
}

pub fn prune_older_than_keeps_each_namespace_latest(store: &Store) {
    let admin = &*store.admin;
    let c0 = put(admin, &Config::thread("t"), 0, &["a"], Some(OLD));
    let c1 = put(admin, &c0, 1, &["a", "b"], Some(OLD));
    let c2 = put(admin, &c1, 2, &["a", "b", "c"], None);
    let sub = put(
        admin,
        &Config::thread("t").with_ns("sub"),
        0,
        &["s"],
        Some(OLD),
    );
    let removed = admin.prune_older_than(&["t".into()], a_day_ago()).unwrap();
    assert_eq!(removed, 2);
    let left = ids(admin, "t");
    assert_eq!(left.len(), 2);
    assert!(left.contains(c2.checkpoint_id.as_ref().unwrap()));
    assert!(
        left.contains(sub.checkpoint_id.as_ref().unwrap()),
        "a namespace keeps its newest"
    );
    let kept = admin.get_tuple(&c2).unwrap().unwrap();
    assert_eq!(kept.parent_config, None, "its parent was removed");
    assert_eq!(
        kept.checkpoint.channel_values["messages"],
        json!(["a", "b", "c"])
    );
    assert_eq!(admin.threads(None).unwrap()[0].checkpoints, 2);
}

pub fn prune_older_than_leaves_other_and_undated_checkpoints(store: &Store) {
    let admin = &*store.admin;
    let c0 = put(admin, &Config::thread("t"), 0, &["a"], Some("not a time"));
    let c1 = put(admin, &c0, 1, &["a", "b"], Some(OLD));
    put(admin, &c1, 2, &["a", "b", "c"], Some(OLD));
    let o0 = put(admin, &Config::thread("other"), 0, &["o"], Some(OLD));
    put(admin, &o0, 1, &["o", "p"], Some(OLD));
    let all = |thread| list(admin, thread);
    let other_before = all("other");
    let removed = admin
        .prune_older_than(&["t".into(), "unknown".into()], a_day_ago())
        .unwrap();
    assert_eq!(
        removed, 1,
        "only the dated old checkpoint that is not the newest"
    );
    let left = ids(admin, "t");
    assert!(
        left.contains(c0.checkpoint_id.as_ref().unwrap()),
        "undated counts as new"
    );
    assert!(!left.contains(c1.checkpoint_id.as_ref().unwrap()));
    assert_eq!(
        all("other"),
        other_before,
        "threads not listed are untouched"
    );
    assert_eq!(admin.prune_older_than(&[], a_day_ago()).unwrap(), 0);
    assert_eq!(
        admin
            .prune_older_than(&["t".into()], SystemTime::UNIX_EPOCH)
            .unwrap(),
        0,
        "nothing is older than the epoch"
    );
}

pub fn vacuum_changes_no_checkpoint(store: &Store) {
    let admin = &*store.admin;
    thread_with_writes(admin, "t");
    thread_with_writes(admin, "gone");
    admin.delete_thread("gone").unwrap();
    let before = list(admin, "t");
    let vacuumed = admin.vacuum().unwrap();
    match vacuumed {
        Some(v) => {
            assert!(store.on_disk, "sizes only for a store on disk");
            assert!(v.bytes_before > 0 && v.bytes_after > 0, "{v:?}");
        }
        None => assert!(!store.on_disk, "a store on disk reports its sizes"),
    }
    assert_eq!(list(admin, "t"), before);
    assert!(!admin.has_thread("gone").unwrap());
}

pub fn export_then_import_gives_the_same_tuples(store: &Store) {
    let admin = &*store.admin;
    thread_with_writes(admin, "t");
    let mut lines = Vec::new();
    assert_eq!(export_thread(admin, "t", &mut lines).unwrap(), 3);

    let imported = import_thread(admin, lines.as_slice(), Some("again")).unwrap();
    assert_eq!(
        (imported.thread_id.as_str(), imported.checkpoints),
        ("again", 3)
    );
    assert_same_tuples(&list(admin, "t"), &list(admin, "again"));

    // Into another backend, and back out: the same bytes.
    let memory = InMemorySaver::new();
    import_thread(&memory, lines.as_slice(), None).unwrap();
    assert_same_tuples(&list(admin, "t"), &list(&memory, "t"));
    let mut again = Vec::new();
    export_thread(&memory, "t", &mut again).unwrap();
    assert_eq!(
        String::from_utf8(again).unwrap(),
        String::from_utf8(lines).unwrap()
    );
    let everything = memory.list(None, &ListOptions::new()).unwrap();
    assert_eq!(everything.len(), 3);
}
