//! Listing beyond LangGraph's kit: across all threads with a filter,
//! `before` with a filter and a limit, every namespace when none is given,
//! and `list_iter` giving what `list` gives.

use std::collections::BTreeMap;

use crate::{BaseCheckpointSaver, CheckpointSource, Config, Error, ListOptions};
use serde_json::json;

use super::fixtures::{
    checkpoint, child_of, config, config_ns, expect_err, get, id_of, list, list_ids, metadata,
    metadata_at, metadata_step, put, put_chain, put_writes, thread_id, uuid4,
};

/// `list(None, filter)` finds the matching checkpoints of every thread,
/// newest first.
pub fn list_all_threads_with_filter(saver: &dyn BaseCheckpointSaver) {
    let tag = uuid4();
    let threads = [thread_id(), thread_id(), thread_id()];
    let mut parents: BTreeMap<String, Config> = BTreeMap::new();
    // (thread, id) of the matching checkpoints, in creation order.
    let mut expected: Vec<(String, String)> = Vec::new();
    for round in 0..3 {
        for (i, tid) in threads.iter().enumerate() {
            let cfg = parents.get(tid).map_or_else(|| config(tid), child_of);
            let cp = checkpoint();
            // Thread 2 matches only in round 1; the others always.
            let matches = i != 2 || round == 1;
            let md = if matches {
                metadata_step(round).with_extra("tag", tag.as_str())
            } else {
                metadata_step(round).with_extra("tag", "other")
            };
            let stored = put(saver, &cfg, &cp, &md);
            if matches {
                expected.push((tid.clone(), cp.id));
            }
            parents.insert(tid.clone(), stored);
        }
    }
    // A child namespace of thread 0 also matches.
    let cp = checkpoint();
    put(
        saver,
        &config_ns(&threads[0], "child:1"),
        &cp,
        &metadata().with_extra("tag", tag.as_str()),
    );
    expected.push((threads[0].clone(), cp.id));
    expected.reverse();

    let found = list(saver, None, &ListOptions::new().filter("tag", tag.as_str()));
    let got: Vec<(String, String)> = found
        .iter()
        .map(|t| (t.config.thread_id.clone(), t.checkpoint.id.clone()))
        .collect();
    assert_eq!(
        got, expected,
        "matching checkpoints of all threads, newest first"
    );
    assert!(
        found
            .iter()
            .all(|t| t.metadata.get("tag") == Some(json!(tag)))
    );

    let step1 = list(
        saver,
        None,
        &ListOptions::new()
            .filter("tag", tag.as_str())
            .filter("step", 1),
    );
    assert_eq!(step1.len(), 3, "step 1 of each thread: {step1:?}");
}

/// `before`, a filter and `limit` together: limit counts after filtering.
pub fn list_before_filter_and_limit(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let mut ids = Vec::new();
    let mut parent: Option<Config> = None;
    for step in 0..7 {
        let cfg = parent.as_ref().map_or_else(|| config(&tid), child_of);
        let source = if step % 2 == 0 {
            CheckpointSource::Input
        } else {
            CheckpointSource::Loop
        };
        let cp = checkpoint();
        parent = Some(put(saver, &cfg, &cp, &metadata_at(source, step)));
        ids.push(cp.id);
    }
    // loop checkpoints: ids[1], ids[3], ids[5].
    let cfg = config(&tid);
    let loops = || ListOptions::new().filter("source", "loop");

    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().limit(2)),
        vec![ids[5].clone(), ids[3].clone()],
        "limit after filtering"
    );
    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[5]).limit(1)),
        vec![ids[3].clone()],
        "before is exclusive, then filter, then limit"
    );
    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[4]).limit(5)),
        vec![ids[3].clone(), ids[1].clone()],
        "a limit above the matches returns them all"
    );
    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[6]).limit(2)),
        vec![ids[5].clone(), ids[3].clone()]
    );
    assert!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[1])).is_empty(),
        "nothing matches before the first loop checkpoint"
    );
    assert_eq!(
        list_ids(saver, Some(&cfg), &loops().before(&ids[5]).limit(0)),
        Vec::<String>::new(),
        "limit 0 lists nothing"
    );
    // The same through list(None), scoped by a filter on the step.
    assert_eq!(
        list_ids(
            saver,
            None,
            &loops().filter("step", 3).before(&ids[6]).limit(1)
        ),
        vec![ids[3].clone()]
    );
}

/// A config without a namespace lists every namespace of the thread; one
/// with `""` lists the root only.
pub fn list_without_namespace_lists_all_namespaces(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let mut ids = Vec::new();
    for ns in ["", "child:1", "child:2"] {
        let cp = checkpoint();
        put(saver, &config_ns(&tid, ns), &cp, &metadata());
        ids.push(cp.id);
    }
    let all = list(saver, Some(&Config::thread(&tid)), &ListOptions::new());
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|t| (t.config.ns(), t.checkpoint.id.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("child:2", ids[2].as_str()),
            ("child:1", ids[1].as_str()),
            ("", ids[0].as_str())
        ]
    );
    assert_eq!(
        list_ids(saver, Some(&config_ns(&tid, "")), &ListOptions::new()),
        vec![ids[0].clone()]
    );
}

/// `list_iter` yields what `list` returns, for every kind of option; bad
/// options fail the call itself; the iterator holds nothing that blocks a
/// write while the caller iterates, and yields what was there when the call
/// was made.
pub fn list_iter_matches_list(saver: &dyn BaseCheckpointSaver) {
    let tid = thread_id();
    let stored = put_chain(saver, &tid, "", 5);
    put_chain(saver, &tid, "child:1", 2);
    put_writes(saver, &stored[4], &[("ch", json!("v"))], &uuid4());
    let mid = id_of(&stored[3]);
    let thread = Config::thread(&tid);
    let root = config(&tid);
    let options = [
        ListOptions::new(),
        ListOptions::new().limit(2),
        ListOptions::new().before(&mid),
        ListOptions::new().filter("step", 1),
        ListOptions::new()
            .filter("source", "loop")
            .before(&mid)
            .limit(1),
    ];
    for opts in &options {
        for cfg in [Some(&thread), Some(&root), None] {
            let eager = list(saver, cfg, opts);
            let lazy: Vec<_> = saver
                .list_iter(cfg, opts)
                .expect("list_iter")
                .collect::<crate::Result<_>>()
                .expect("every item decodes");
            assert_eq!(lazy, eager, "list_iter({cfg:?}, {opts:?})");
        }
    }

    let err = expect_err(
        "list_iter with a bad filter key",
        saver.list_iter(Some(&root), &ListOptions::new().filter("a.b", 1)),
    );
    assert!(matches!(err, Error::InvalidFilterKey { .. }), "got {err:?}");
    let err = expect_err(
        "list_iter with an empty thread id",
        saver.list_iter(Some(&Config::thread("")), &ListOptions::new()),
    );
    assert!(matches!(err, Error::EmptyThreadId { .. }), "got {err:?}");

    // A write while an iterator is half consumed.
    let before = list(saver, Some(&root), &ListOptions::new());
    let mut iter = saver
        .list_iter(Some(&root), &ListOptions::new())
        .expect("list_iter");
    let first = iter.next().expect("an item").expect("decodes");
    let newer = put(
        saver,
        &child_of(&stored[4]),
        &checkpoint(),
        &metadata_step(5),
    );
    let rest: Vec<_> = iter
        .collect::<crate::Result<_>>()
        .expect("every item decodes");
    let mut seen = vec![first];
    seen.extend(rest);
    assert_eq!(
        seen, before,
        "the iterator yields what was there at the call"
    );
    assert_eq!(get(saver, &root).config.checkpoint_id, newer.checkpoint_id);
}
