//! `SqliteSaver` beyond the conformance suite: schema and file checks,
//! storage layout (values stored once), indexes, corrupt rows, reopening.

use std::path::{Path, PathBuf};

use checkpointer::saver::Synchronous;
use checkpointer::{
    BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
    Error, InMemorySaver, ListOptions, PruneStrategy, SqliteOptions, SqliteSaver,
};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use serde_json::{Value, json};
use tempfile::TempDir;

fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.db");
    (dir, path)
}

fn md(step: i64) -> CheckpointMetadata {
    CheckpointMetadata::new(CheckpointSource::Loop, step)
}

fn count(saver: &SqliteSaver, sql: &str) -> i64 {
    saver
        .pool()
        .get()
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn raw_exec(saver: &SqliteSaver, sql: &str) {
    saver.pool().get().unwrap().execute_batch(sql).unwrap();
}

/// A chain of `n` checkpoints in `thread`, each with one write; returns the
/// configs.
fn chain(saver: &dyn BaseCheckpointSaver, thread: &str, n: i64) -> Vec<Config> {
    let mut cfg = Config::thread(thread);
    let mut cp = Checkpoint::new(-1).with_value("messages", json!([]), 1);
    let mut out = Vec::new();
    for step in 0..n {
        cp = cp.successor(step).with_value(
            "messages",
            json!([step]),
            u64::try_from(step + 2).expect("steps count up from 0"),
        );
        let versions: ChannelVersions = cp.channel_versions.clone();
        cfg = saver.put(&cfg, &cp, &md(step), &versions).unwrap();
        saver
            .put_writes(&cfg, &[("out".into(), json!(step))], "task", "")
            .unwrap();
        out.push(cfg.clone());
    }
    out
}

#[test]
fn round_trip_on_a_file() {
    let (_dir, path) = temp_db();
    let saver = SqliteSaver::open(&path).unwrap();
    assert_eq!(saver.path(), Some(path.as_path()));
    let configs = chain(&saver, "t", 3);
    let latest = saver.get_tuple(&Config::thread("t")).unwrap().unwrap();
    assert_eq!(latest.config, configs[2]);
    assert_eq!(latest.parent_config.as_ref(), Some(&configs[1]));
    assert_eq!(latest.checkpoint.channel_values["messages"], json!([2]));
    assert_eq!(latest.pending_writes.len(), 1);
    assert_eq!(latest.pending_writes[0].value, json!(2));
    let first = saver.get_tuple(&configs[0]).unwrap().unwrap();
    assert_eq!(first.checkpoint.channel_values["messages"], json!([0]));
    assert!(first.parent_config.is_none());
    let history = saver
        .list(Some(&Config::thread("t")), &ListOptions::new())
        .unwrap();
    let ids: Vec<_> = history.iter().map(|t| t.config.clone()).collect();
    assert_eq!(ids, configs.iter().rev().cloned().collect::<Vec<_>>());
    assert!(history.iter().all(|t| t.pending_writes.len() == 1));
}

#[test]
fn file_is_wal_and_marked_as_ours() {
    let (_dir, path) = temp_db();
    let saver = SqliteSaver::open(&path).unwrap();
    let conn = saver.pool().get().unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "FULL by default");
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, SqliteSaver::APPLICATION_ID);
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SqliteSaver::SCHEMA_VERSION);
    drop(conn);

    let normal = SqliteSaver::open_with(
        &path,
        SqliteOptions::new()
            .with_synchronous(Synchronous::Normal)
            .with_pool_size(2),
    )
    .unwrap();
    let sync: i64 = normal
        .pool()
        .get()
        .unwrap()
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
}

#[test]
fn refuses_a_newer_schema() {
    let (_dir, path) = temp_db();
    drop(SqliteSaver::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    match SqliteSaver::open(&path) {
        Err(Error::SchemaTooNew {
            path: p,
            found,
            supported,
        }) => {
            assert_eq!(p, path);
            assert_eq!(found, 99);
            assert_eq!(supported, SqliteSaver::SCHEMA_VERSION);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

fn assert_not_ours(path: &Path) {
    match SqliteSaver::open(path) {
        Err(Error::NotACheckpointDatabase { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(!reason.is_empty());
        }
        other => panic!("expected NotACheckpointDatabase, got {other:?}"),
    }
}

#[test]
fn refuses_files_that_are_not_ours_and_leaves_them_alone() {
    let (dir, _) = temp_db();

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not a database, just some text on a line\n").unwrap();
    assert_not_ours(&text);
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "this is not a database, just some text on a line\n"
    );

    // Someone else's SQLite database (LangGraph's own layout, say).
    let foreign = dir.path().join("foreign.db");
    let conn = Connection::open(&foreign).unwrap();
    conn.execute_batch(
        "CREATE TABLE checkpoints (thread_id TEXT); INSERT INTO checkpoints VALUES ('x');",
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(&foreign).unwrap();
    assert_not_ours(&foreign);
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        before,
        "not even switched to WAL"
    );

    // Another program's application_id, even without tables.
    let other_app = dir.path().join("other.db");
    Connection::open(&other_app)
        .unwrap()
        .pragma_update(None, "application_id", 0x1234)
        .unwrap();
    assert_not_ours(&other_app);

    // An empty file is an empty database: fine.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    SqliteSaver::open(&empty).unwrap();
}

#[test]
fn missing_directory_is_a_sqlite_error_naming_the_file() {
    let (dir, _) = temp_db();
    let path = dir.path().join("no/such/dir/x.db");
    let err = SqliteSaver::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "sqlite",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("x.db"), "{err}");
}

#[test]
fn unchanged_channels_are_stored_once() {
    let (_dir, path) = temp_db();
    let saver = SqliteSaver::open(&path).unwrap();
    let channels = ["a", "b", "c", "d", "e"];
    let mut cp = Checkpoint::new(-1);
    for ch in channels {
        cp = cp.with_value(ch, json!({"channel": ch, "version": 1}), 1);
    }
    let mut cfg = saver
        .put(
            &Config::thread("t"),
            &cp,
            &md(-1),
            &cp.channel_versions.clone(),
        )
        .unwrap();
    let mut configs = vec![cfg.clone()];
    // 99 more steps; step i changes only channel i % 5.
    for step in 1..100i64 {
        let ch = channels[usize::try_from(step % 5).expect("steps count up from 1")];
        let version = cp.channel_versions[ch].counter() + 1;
        cp = cp
            .successor(step)
            .with_value(ch, json!({"channel": ch, "version": version}), version);
        let new_versions: ChannelVersions = [(ch.to_owned(), cp.channel_versions[ch])].into();
        cfg = saver.put(&cfg, &cp, &md(step), &new_versions).unwrap();
        configs.push(cfg.clone());
    }
    assert_eq!(count(&saver, "SELECT count(*) FROM checkpoints"), 100);
    // 5 first values + 99 changes, not 5 * 100.
    assert_eq!(count(&saver, "SELECT count(*) FROM channel_values"), 104);
    for ch in channels {
        let rows = count(
            &saver,
            &format!("SELECT count(*) FROM channel_values WHERE channel = '{ch}'"),
        );
        // Each version once: channel a changes at steps 5, 10, ... (19 times).
        assert_eq!(rows, if ch == "a" { 20 } else { 21 }, "channel {ch}");
    }
    // Every checkpoint reads back each channel at the version it names.
    for (step, cfg) in configs.iter().enumerate() {
        let got = saver.get(cfg).unwrap().unwrap();
        for ch in channels {
            let version = got.channel_versions[ch].counter();
            assert_eq!(
                got.channel_values[ch],
                json!({"channel": ch, "version": version}),
                "step {step} channel {ch}"
            );
        }
    }
    // The same through one list call.
    let listed = saver
        .list(Some(&Config::thread("t")), &ListOptions::new())
        .unwrap();
    assert_eq!(listed.len(), 100);
    assert!(
        listed
            .iter()
            .all(|t| t.checkpoint.channel_values.len() == 5)
    );
}

#[test]
fn values_of_unannounced_new_versions_are_kept_and_channels_without_version_dropped() {
    let saver = SqliteSaver::in_memory().unwrap();
    let cp = Checkpoint::new(0)
        .with_value("a", json!(1), 1)
        .with_value("b", json!(2), 1);
    // new_versions names only "a"; "b" was never stored, so it is stored too.
    let new_versions: ChannelVersions = [("a".to_owned(), cp.channel_versions["a"])].into();
    let cfg = saver
        .put(&Config::thread("t"), &cp, &md(0), &new_versions)
        .unwrap();
    let got = saver.get(&cfg).unwrap().unwrap();
    assert_eq!(got.channel_values["b"], json!(2));
    // A channel absent from channel_versions is absent when read back.
    let mut next = cp.successor(1);
    next.channel_versions.remove("b");
    next.channel_values.remove("b");
    let cfg2 = saver
        .put(&cfg, &next, &md(1), &ChannelVersions::new())
        .unwrap();
    let got = saver.get(&cfg2).unwrap().unwrap();
    assert!(!got.channel_values.contains_key("b"));
    assert_eq!(got.channel_values["a"], json!(1));
}

#[test]
fn delete_and_prune_drop_unused_values() {
    let saver = SqliteSaver::in_memory().unwrap();
    chain(&saver, "keep", 5);
    let t = Config::thread("runs").with_configurable("run_id", "r1");
    let cp = Checkpoint::new(0).with_value("x", json!("first"), 1);
    let c1 = saver
        .put(&t, &cp, &md(0), &cp.channel_versions.clone())
        .unwrap();
    let t2 = Config {
        configurable: [("run_id".to_owned(), json!("r2"))].into(),
        ..c1.clone()
    };
    let cp2 = cp.successor(1).with_value("x", json!("second"), 2);
    saver
        .put(&t2, &cp2, &md(1), &cp2.channel_versions.clone())
        .unwrap();
    let values_of = |thread: &str| {
        count(
            &saver,
            &format!("SELECT count(*) FROM channel_values WHERE thread_id = '{thread}'"),
        )
    };
    assert_eq!(values_of("runs"), 2);
    saver.delete_for_runs(&["r2".to_owned()]).unwrap();
    assert_eq!(values_of("runs"), 1);
    let left = saver.get_tuple(&Config::thread("runs")).unwrap().unwrap();
    assert_eq!(left.checkpoint.channel_values["x"], json!("first"));

    assert_eq!(values_of("keep"), 5);
    saver
        .prune(&["keep".to_owned()], PruneStrategy::KeepLatest)
        .unwrap();
    assert_eq!(values_of("keep"), 1);
    assert_eq!(
        count(
            &saver,
            "SELECT count(*) FROM writes WHERE thread_id = 'keep'"
        ),
        1
    );
    let kept = saver
        .list(Some(&Config::thread("keep")), &ListOptions::new())
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].parent_config.is_none());
    assert_eq!(kept[0].checkpoint.channel_values["messages"], json!([4]));

    saver.delete_thread("keep").unwrap();
    assert_eq!(values_of("keep"), 0);
    assert_eq!(
        count(
            &saver,
            "SELECT count(*) FROM writes WHERE thread_id = 'keep'"
        ),
        0
    );
}

#[test]
fn a_put_again_keeps_the_writes() {
    let saver = SqliteSaver::in_memory().unwrap();
    let cp = Checkpoint::new(0).with_value("a", json!(1), 1);
    let cfg = saver
        .put(
            &Config::thread("t"),
            &cp,
            &md(0),
            &cp.channel_versions.clone(),
        )
        .unwrap();
    saver
        .put_writes(&cfg, &[("a".into(), json!(2))], "task", "")
        .unwrap();
    saver
        .put(
            &Config::thread("t"),
            &cp,
            &md(0),
            &cp.channel_versions.clone(),
        )
        .unwrap();
    assert_eq!(
        saver.get_tuple(&cfg).unwrap().unwrap().pending_writes.len(),
        1
    );
}

#[test]
fn writes_to_a_missing_checkpoint_change_nothing() {
    let saver = SqliteSaver::in_memory().unwrap();
    let cfg = Config::thread("t").with_checkpoint_id("nope");
    let err = saver
        .put_writes(&cfg, &[("a".into(), json!(1))], "task", "")
        .unwrap_err();
    assert!(matches!(err, Error::CheckpointNotFound { .. }), "{err:?}");
    assert_eq!(count(&saver, "SELECT count(*) FROM writes"), 0);
}

/// Corrupts one row with raw SQL and checks that reads report it.
fn assert_corrupt(sql: &str, expect_in_what: &str) {
    let saver = SqliteSaver::in_memory().unwrap();
    let configs = chain(&saver, "t", 2);
    raw_exec(&saver, sql);
    let check = |err: Error| match err {
        Error::Corrupt {
            thread_id,
            checkpoint_id,
            what,
        } => {
            assert_eq!(thread_id, "t");
            assert_eq!(
                Some(checkpoint_id.as_str()),
                configs[1].checkpoint_id.as_deref()
            );
            assert!(
                what.contains(expect_in_what),
                "{what:?} lacks {expect_in_what:?}"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    };
    check(saver.get_tuple(&configs[1]).unwrap_err());
    check(
        saver
            .list(Some(&Config::thread("t")), &ListOptions::new())
            .unwrap_err(),
    );
    // The intact checkpoint still reads (unless the damage is shared).
    let _ = saver.get_tuple(&configs[0]);
}

#[test]
fn corrupt_rows_are_errors_not_panics() {
    let latest = "(SELECT max(checkpoint_id) FROM checkpoints)";
    assert_corrupt(
        &format!("UPDATE checkpoints SET checkpoint = '{{not json' WHERE checkpoint_id = {latest}"),
        "checkpoint JSON",
    );
    assert_corrupt(
        &format!("UPDATE checkpoints SET checkpoint = x'ff00ff' WHERE checkpoint_id = {latest}"),
        "UTF-8",
    );
    assert_corrupt(
        &format!("UPDATE checkpoints SET metadata = '[1, 2]' WHERE checkpoint_id = {latest}"),
        "metadata JSON",
    );
    assert_corrupt(
        &format!("UPDATE checkpoints SET metadata = 7 WHERE checkpoint_id = {latest}"),
        "metadata JSON",
    );
    assert_corrupt(
        "UPDATE channel_values SET value = x'c3' WHERE version = '3'",
        "UTF-8",
    );
    assert_corrupt(
        "UPDATE channel_values SET value = 'nope' WHERE version = '3'",
        "channel \"messages\"",
    );
    assert_corrupt(
        &format!("UPDATE writes SET value = '{{' WHERE checkpoint_id = {latest}"),
        "pending write",
    );
    assert_corrupt(
        &format!("UPDATE writes SET idx = 'x' WHERE checkpoint_id = {latest}"),
        "write index",
    );
}

#[test]
fn list_filters_use_indexes() {
    let (_dir, path) = temp_db();
    let saver = SqliteSaver::open(&path).unwrap();
    chain(&saver, "t", 3);
    let thread = Config::thread("t");
    let cases: Vec<(Option<Config>, ListOptions)> = vec![
        (Some(thread.clone()), ListOptions::new()),
        (
            Some(thread.clone()),
            ListOptions::new().before("z").limit(2),
        ),
        (
            Some(thread.clone().with_ns("")),
            ListOptions::new().limit(1),
        ),
        (
            Some(thread.clone().with_checkpoint_id("x")),
            ListOptions::new(),
        ),
        (Some(thread.clone()), ListOptions::new().filter("score", 42)),
        (None, ListOptions::new().filter("step", 1)),
        (None, ListOptions::new().filter("source", "input").limit(3)),
        (None, ListOptions::new().filter("run_id", "r1")),
        (
            None,
            ListOptions::new()
                .filter("step", 2)
                .filter("user", "alice")
                .before("z"),
        ),
    ];
    for (config, options) in cases {
        let plan = saver.explain_list(config.as_ref(), &options).unwrap();
        let text = plan.join(" / ");
        assert!(
            plan.iter()
                .any(|l| l.starts_with("SEARCH checkpoints USING")),
            "{config:?} {options:?}: {text}"
        );
        // A step filter over all threads probes the step index thread by
        // thread and sorts its hits (about one per thread). The index leads
        // with the thread so that deleting a thread rewrites one range, not
        // a leaf page per step (measured: 166 -> 69 WAL frames per
        // delete_thread at the bench defaults, +7 % instructions per
        // list_filter_global). The only scan is of the thread ids it visits.
        let by_step = config.is_none() && options.filter.contains_key("step");
        if by_step {
            assert!(
                text.contains("checkpoints_step_idx (thread_id=? AND step=?"),
                "{options:?}: {text}"
            );
        }
        assert!(
            !plan.iter().any(|l| l.starts_with("SCAN")
                && !(by_step && matches!(l.as_str(), "SCAN threads" | "SCAN CONSTANT ROW"))),
            "{config:?} {options:?} scans: {text}"
        );
        assert!(
            by_step || !text.contains("TEMP B-TREE FOR ORDER BY"),
            "{config:?} {options:?} sorts: {text}"
        );
    }
    // Listing everything without a filter walks one index in order.
    let plan = saver
        .explain_list(None, &ListOptions::new().limit(5))
        .unwrap();
    assert!(!plan.join(" ").contains("TEMP B-TREE"), "{plan:?}");
}

/// A step filter over all threads (which visits thread by thread and
/// sorts) lists what the unfiltered listing (one index, in order) holds at
/// that step, in the same order: namespaces, copied threads sharing ids,
/// `before` and `limit` included.
#[test]
fn a_step_filter_over_all_threads_lists_in_the_unfiltered_order() {
    let saver = SqliteSaver::in_memory().unwrap();
    for (thread, n) in [("a", 4), ("b", 2), ("c", 5)] {
        chain(&saver, thread, n);
    }
    let sub = Checkpoint::new(1).with_value("x", json!(1), 1);
    let versions = sub.channel_versions.clone();
    saver
        .put(&Config::thread("a").with_ns("sub"), &sub, &md(1), &versions)
        .unwrap();
    saver.copy_thread("b", "b2").unwrap();
    let keys = |tuples: Vec<checkpointer::CheckpointTuple>| -> Vec<(String, String, String)> {
        tuples
            .into_iter()
            .map(|t| {
                let c = t.config;
                (
                    c.thread_id,
                    c.checkpoint_ns.unwrap_or_default(),
                    c.checkpoint_id.unwrap_or_default(),
                )
            })
            .collect()
    };
    let all = saver.list(None, &ListOptions::new()).unwrap();
    let middle = all[all.len() / 2].config.checkpoint_id.clone().unwrap();
    for step in 0..6 {
        for (before, limit) in [(None, None), (None, Some(2)), (Some(middle.clone()), None)] {
            let mut options = ListOptions::new();
            if let Some(before) = &before {
                options = options.before(before.clone());
            }
            let mut want: Vec<_> = saver
                .list(None, &options)
                .unwrap()
                .into_iter()
                .filter(|t| t.metadata.step == step)
                .collect();
            if let Some(limit) = limit {
                want.truncate(limit);
                options = options.limit(limit);
            }
            let got = saver.list(None, &options.filter("step", step)).unwrap();
            assert_eq!(
                keys(got),
                keys(want),
                "step {step} before {before:?} limit {limit:?}"
            );
        }
    }
    // Threads without checkpoints, and a step nobody reached: nothing.
    let empty = SqliteSaver::in_memory().unwrap();
    assert!(
        empty
            .list(None, &ListOptions::new().filter("step", 0))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn list_filters_match_the_memory_saver() {
    let sqlite = SqliteSaver::in_memory().unwrap();
    let memory = InMemorySaver::new();
    let metadata = [
        md(0).with_extra("score", 42).with_extra("user", "alice"),
        md(1).with_extra("score", 42.0).with_extra("flag", true),
        md(2)
            .with_extra("score", 1.5)
            .with_extra("tags", json!(["x", 1])),
        CheckpointMetadata::new(CheckpointSource::Input, -1)
            .with_run_id("r1")
            .with_extra("obj", json!({"a": 1, "b": [1.0]}))
            .with_extra("nothing", Value::Null),
        md(3).with_extra("user", "[1]").with_extra("flag", false),
    ];
    for saver in [&sqlite as &dyn BaseCheckpointSaver, &memory] {
        let mut cfg = Config::thread("t");
        for (i, m) in metadata.iter().enumerate() {
            let step = i64::try_from(i).expect("a handful of metadata");
            let cp = Checkpoint::new(step).with_value("c", json!(i), i as u64 + 1);
            cfg = saver
                .put(&cfg, &cp, m, &cp.channel_versions.clone())
                .unwrap();
        }
    }
    let filters: Vec<(&str, Value)> = vec![
        ("step", json!(1)),
        ("step", json!(1.0)),
        ("step", json!("1")),
        ("step", Value::Null),
        ("source", json!("input")),
        ("source", json!(1)),
        ("run_id", json!("r1")),
        ("run_id", Value::Null),
        ("run_id", json!(1)),
        ("score", json!(42)),
        ("score", json!(42.0)),
        ("score", json!(1.5)),
        ("score", json!("42")),
        ("user", json!("alice")),
        ("user", json!("[1]")),
        ("flag", json!(true)),
        ("flag", json!(false)),
        ("tags", json!(["x", 1.0])),
        ("tags", json!(["x"])),
        ("obj", json!({"b": [1], "a": 1.0})),
        ("nothing", Value::Null),
        ("missing", Value::Null),
        ("missing", json!(0)),
        ("parents", json!({})),
    ];
    for (key, value) in filters {
        for limit in [None, Some(1)] {
            let mut options = ListOptions::new().filter(key, value.clone());
            options.limit = limit;
            // Ids differ between the savers; steps tell the checkpoints apart.
            let steps = |saver: &dyn BaseCheckpointSaver| -> Vec<i64> {
                saver
                    .list(None, &options)
                    .unwrap()
                    .into_iter()
                    .map(|t| t.metadata.step)
                    .collect()
            };
            let (want, got) = (steps(&memory), steps(&sqlite));
            assert_eq!(got, want, "filter {key} = {value} limit {limit:?}");
        }
    }
}

#[test]
fn reopen_finds_everything_and_two_savers_share_a_file() {
    let (_dir, path) = temp_db();
    let saver = SqliteSaver::open(&path).unwrap();
    let configs = chain(&saver, "t", 10);
    let before = saver.list(None, &ListOptions::new()).unwrap();
    drop(saver);

    let first = SqliteSaver::open(&path).unwrap();
    let second = SqliteSaver::open_with(&path, SqliteOptions::new().with_pool_size(1)).unwrap();
    assert_eq!(first.list(None, &ListOptions::new()).unwrap(), before);
    assert_eq!(second.list(None, &ListOptions::new()).unwrap(), before);
    // A write through one is seen by the other.
    let cp = Checkpoint::new(20).with_value("messages", json!(["more"]), 99);
    let cfg = first
        .put(&configs[9], &cp, &md(20), &cp.channel_versions.clone())
        .unwrap();
    assert_eq!(
        second
            .get_tuple(&Config::thread("t"))
            .unwrap()
            .unwrap()
            .config,
        cfg
    );
}

#[test]
fn memory_databases_are_shared_by_the_pool_and_separate_between_savers() {
    let saver = SqliteSaver::in_memory_with(SqliteOptions::new().with_pool_size(4)).unwrap();
    assert!(saver.path().is_none());
    chain(&saver, "t", 3);
    // Hold every pooled connection but one: the last one sees the data too.
    let held: Vec<_> = (0..3).map(|_| saver.pool().get().unwrap()).collect();
    for conn in &held {
        let n: i64 = conn
            .query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }
    assert_eq!(saver.list(None, &ListOptions::new()).unwrap().len(), 3);
    drop(held);
    let other = SqliteSaver::in_memory().unwrap();
    assert!(other.list(None, &ListOptions::new()).unwrap().is_empty());

    // Readers and writers on many threads at once.
    let saver = std::sync::Arc::new(saver);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let saver = saver.clone();
            std::thread::spawn(move || {
                chain(&*saver, &format!("w{i}"), 20);
                for _ in 0..20 {
                    saver.list(None, &ListOptions::new().limit(5)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(saver.list(None, &ListOptions::new()).unwrap().len(), 83);
}

#[test]
fn from_pool_sets_up_a_pool_it_is_given() {
    let (_dir, path) = temp_db();
    let manager = SqliteConnectionManager::file(&path)
        .with_init(|c| c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"));
    let pool = r2d2::Pool::builder().max_size(2).build(manager).unwrap();
    let saver = SqliteSaver::from_pool(pool).unwrap();
    assert_eq!(saver.path(), Some(path.as_path()));
    chain(&saver, "t", 2);
    drop(saver);
    let mode: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let reopened = SqliteSaver::open(&path).unwrap();
    assert_eq!(reopened.list(None, &ListOptions::new()).unwrap().len(), 2);
}

#[test]
fn list_iter_holds_no_connection_and_reports_bad_rows_per_item() {
    let (_dir, path) = temp_db();
    let saver = SqliteSaver::open_with(&path, SqliteOptions::new().with_pool_size(1)).unwrap();
    let configs = chain(&saver, "t", 3);
    let mut iter = saver
        .list_iter(Some(&Config::thread("t")), &ListOptions::new())
        .unwrap();
    // The only pooled connection is free while the caller iterates.
    chain(&saver, "other", 1);
    assert_eq!(iter.next().unwrap().unwrap().config, configs[2]);
    drop(iter);

    // Damage the middle checkpoint: only its item is an error.
    raw_exec(
        &saver,
        &format!(
            "UPDATE checkpoints SET checkpoint = 'garbage' WHERE checkpoint_id = '{}'",
            configs[1].checkpoint_id.as_deref().unwrap()
        ),
    );
    let items: Vec<_> = saver
        .list_iter(Some(&Config::thread("t")), &ListOptions::new())
        .unwrap()
        .collect();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].as_ref().unwrap().config, configs[2]);
    assert!(
        matches!(items[1], Err(Error::Corrupt { .. })),
        "{:?}",
        items[1]
    );
    assert_eq!(items[2].as_ref().unwrap().config, configs[0]);
}

#[test]
fn sqlite_errors_name_the_operation_and_the_file() {
    let (_dir, path) = temp_db();
    let saver = SqliteSaver::open(&path).unwrap();
    let cfg = chain(&saver, "t", 1).remove(0);
    raw_exec(&saver, "DROP TABLE writes");
    let err = saver
        .put_writes(&cfg, &[("a".into(), json!(1))], "task-9", "")
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Backend {
                backend: "sqlite",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(text.contains("task-9") && text.contains("\"t\""), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
}

#[test]
fn user_metadata_keys_named_like_fields_do_not_make_rows_unreadable() {
    let saver = SqliteSaver::in_memory().unwrap();
    let cp = Checkpoint::new(0);
    let metadata = md(0)
        .with_extra("step", 5)
        .with_extra("source", "mine")
        .with_extra("ok", 1);
    let cfg = saver
        .put(
            &Config::thread("t"),
            &cp,
            &metadata,
            &ChannelVersions::new(),
        )
        .unwrap();
    let read = saver.get_tuple(&cfg).unwrap().unwrap().metadata;
    assert_eq!(read.step, 0);
    assert_eq!(read.source, CheckpointSource::Loop);
    assert_eq!(read.extra.get("ok"), Some(&json!(1)));
    assert!(!read.extra.contains_key("step"));
}
