//! The `checkpointer` command-line tool, run as a process on databases made
//! through the library: every command, `--json` outputs, and every error
//! the tool promises (one line on stderr, exit code 1; usage errors 2).
#![cfg(feature = "cli")]

mod cli_support;

use std::path::Path;

use assert_cmd::Command;
use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
    SqliteSaver,
};
use cli_support::Fixture;
use predicates::prelude::*;
use serde_json::{Value, json};

/// Stores a checkpoint as the child of `parent` with `messages` and
/// `status` at the given values (versions bumped), optionally with a
/// chosen `ts`.
fn put(
    saver: &SqliteSaver,
    parent: &Config,
    step: i64,
    source: CheckpointSource,
    messages: &[&str],
    ts: Option<&str>,
) -> Config {
    let previous = saver.get_tuple(parent).unwrap().map(|t| t.checkpoint);
    let mut cp = match &previous {
        Some(p) => p.successor(step),
        None => Checkpoint::new(step),
    };
    let bump = |ch: &str| {
        let old = previous
            .as_ref()
            .and_then(|p| p.channel_versions.get(ch).copied());
        saver.get_next_version(old.as_ref())
    };
    let mut new_versions = std::collections::BTreeMap::new();
    let mv: ChannelVersion = bump("messages");
    cp = cp.with_value("messages", json!(messages), mv);
    new_versions.insert("messages".to_owned(), mv);
    if step % 2 == 0 {
        let sv = bump("status");
        cp = cp.with_value("status", format!("step {step}"), sv);
        new_versions.insert("status".to_owned(), sv);
    }
    cp.updated_channels = None;
    if let Some(ts) = ts {
        ts.clone_into(&mut cp.ts);
    }
    let md = CheckpointMetadata::new(source, step).with_extra("user", "alice");
    saver.put(parent, &cp, &md, &new_versions).unwrap()
}

/// Thread `t`: c0 -> c1 -> c2 -> c3 and a fork c1 -> f2 (update) -> f3;
/// pending writes on c1 and f3. Returns the configs in that order.
fn forked_thread(saver: &SqliteSaver, thread: &str) -> Vec<Config> {
    let root = Config::thread(thread);
    let loop_ = CheckpointSource::Loop;
    let c0 = put(saver, &root, 0, CheckpointSource::Input, &["hi"], None);
    let c1 = put(saver, &c0, 1, loop_, &["hi", "hello"], None);
    let c2 = put(saver, &c1, 2, loop_, &["hi", "hello", "a"], None);
    let c3 = put(saver, &c2, 3, loop_, &["hi", "hello", "a", "b"], None);
    let f2 = put(
        saver,
        &c1,
        2,
        CheckpointSource::Update,
        &["hi", "hello", "edited"],
        None,
    );
    let f3 = put(saver, &f2, 3, loop_, &["hi", "hello", "edited", "c"], None);
    saver
        .put_writes(
            &c1,
            &[
                ("messages".to_owned(), json!("pending")),
                ("__interrupt__".to_owned(), json!([{"value": "ok?"}])),
            ],
            "task-1",
            "~__pregel_pull, a",
        )
        .unwrap();
    saver
        .put_writes(
            &f3,
            &[("status".to_owned(), json!("w"))],
            "task-2",
            "~__pregel_pull, b",
        )
        .unwrap();
    vec![c0, c1, c2, c3, f2, f3]
}

fn id(c: &Config) -> &str {
    c.checkpoint_id.as_deref().unwrap()
}

/// A fixture with thread `t` (forked) and a three-step thread `u`.
fn populated() -> (Fixture, Vec<Config>) {
    let fx = Fixture::new();
    let saver = fx.saver();
    let cfgs = forked_thread(&saver, "t");
    let u0 = put(
        &saver,
        &Config::thread("u"),
        0,
        CheckpointSource::Input,
        &["x"],
        None,
    );
    let u1 = put(&saver, &u0, 1, CheckpointSource::Loop, &["x", "y"], None);
    put(
        &saver,
        &u1,
        2,
        CheckpointSource::Loop,
        &["x", "y", "z"],
        None,
    );
    (fx, cfgs)
}

fn count(saver: &SqliteSaver, thread: &str) -> usize {
    saver
        .list(
            Some(&Config::thread(thread)),
            &checkpointer::ListOptions::new(),
        )
        .unwrap()
        .len()
}

// ---------------------------------------------------------------- demo

#[test]
fn demo_then_history_work_in_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::cargo_bin("checkpointer")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("CHECKPOINTER_DB")
            .args(args)
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let demo = run(&["demo"]);
    assert!(dir.path().join("checkpoints.db").is_file());
    assert!(demo.contains("Command::resume"), "{demo}");
    assert!(demo.contains("update_state"), "{demo}");
    assert!(demo.contains("checkpointer history demo"), "{demo}");
    // The suggested diff names real checkpoints.
    let diff_line = demo
        .lines()
        .find(|l| l.contains("checkpointer diff demo"))
        .unwrap();
    let ids: Vec<&str> = diff_line.split_whitespace().skip(3).collect();
    assert_eq!(ids.len(), 2);
    let diff = run(&["diff", "demo", ids[0], ids[1]]);
    assert!(diff.contains("messages: appended"), "{diff}");

    let history = run(&["history", "demo"]);
    assert!(
        history.contains("input") && history.contains("update"),
        "{history}"
    );
    let rows_with = |marker: char| {
        history
            .lines()
            // The rows, not the legend (ids are short now: no "-8").
            .filter(|l| l.starts_with(marker) && (l.contains(" loop ") || l.contains(" update ")))
            .count()
    };
    assert_eq!(rows_with('*'), 1, "{history}");
    assert_eq!(rows_with('+'), 2, "{history}");
    let rows: Value = serde_json::from_str(&run(&["history", "demo", "--json"])).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 8);
    assert_eq!(rows.iter().filter(|r| r["branch_start"] == true).count(), 2);

    // Running it again replaces the thread.
    run(&["demo"]);
    let threads: Value = serde_json::from_str(&run(&["threads", "--json"])).unwrap();
    assert_eq!(threads[0]["thread_id"], "demo");
    assert_eq!(threads[0]["checkpoints"], 8);
}

#[test]
fn db_comes_from_flag_then_env_then_default() {
    let (fx, _) = populated();
    let dir = tempfile::tempdir().unwrap();
    // From the environment.
    let out = Command::cargo_bin("checkpointer")
        .unwrap()
        .current_dir(dir.path())
        .env("CHECKPOINTER_DB", &fx.db)
        .args(["threads", "--json"])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    // --db wins over the environment.
    Command::cargo_bin("checkpointer")
        .unwrap()
        .current_dir(dir.path())
        .env("CHECKPOINTER_DB", dir.path().join("nope.db"))
        .arg("--db")
        .arg(&fx.db)
        .arg("threads")
        .assert()
        .success()
        .stdout(predicate::str::contains("THREAD"));
    // Neither: ./checkpoints.db, which is missing here.
    Command::cargo_bin("checkpointer")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("CHECKPOINTER_DB")
        .arg("threads")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("checkpoints.db"));
}

// ------------------------------------------------------------- reading

#[test]
fn read_commands_never_create_the_file() {
    let fx = Fixture::new();
    let path = fx.db.display().to_string();
    for args in [
        &["threads"][..],
        &["history", "t"],
        &["show", "t"],
        &["diff", "t", "a", "b"],
        &["export", "t"],
        &["delete", "t", "--yes"],
        &["copy", "t", "u"],
        &["prune", "--all"],
        &["vacuum"],
    ] {
        let line = fx.fails(args, &path);
        assert!(line.contains("no checkpoint database"), "{line}");
        assert!(!fx.db.exists(), "{args:?} created the file");
        let mut wal = fx.db.clone().into_os_string();
        wal.push("-wal");
        assert!(!Path::new(&wal).exists());
    }
}

#[test]
fn threads_lists_counts_last_step_and_time() {
    let (fx, _) = populated();
    let table = fx.ok(&["threads"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("THREAD"));
    // Most recently updated first: u was written last.
    assert!(lines[1].starts_with("u "), "{table}");
    let cols: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(&cols[..3], &["t", "6", "3"]);
    // A local time, `%Y-%m-%d %H:%M:%S`.
    assert_eq!(cols[3].len(), 10);
    assert_eq!(cols[4].len(), 8);
    // Columns are aligned: every header starts where its cells start.
    let at = lines[0].find("CHECKPOINTS").unwrap();
    assert_eq!(&lines[2][at..=at], "6");

    let v = fx.json(&["threads"]);
    let t = v.as_array().unwrap().iter().find(|r| r["thread_id"] == "t");
    let t = t.unwrap();
    assert_eq!(t["checkpoints"], 6);
    assert_eq!(t["last_step"], 3);
    assert_eq!(t["namespaces"], 1);
    assert!(t["last_updated"].as_str().unwrap().ends_with("+00:00"));

    let v = fx.json(&["threads", "--limit", "1"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["thread_id"], "u");
}

#[test]
fn history_lists_newest_first_with_changes_and_forks() {
    let (fx, c) = populated();
    let v = fx.json(&["history", "t"]);
    let rows = v.as_array().unwrap();
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["checkpoint_id"].as_str().unwrap())
        .collect();
    // Newest first: f3, f2, c3, c2, c1, c0.
    assert_eq!(
        ids,
        vec![
            id(&c[5]),
            id(&c[4]),
            id(&c[3]),
            id(&c[2]),
            id(&c[1]),
            id(&c[0])
        ]
    );
    assert_eq!(rows[1]["source"], "update");
    assert_eq!(rows[1]["parent_checkpoint_id"], id(&c[1]));
    assert_eq!(rows[5]["parent_checkpoint_id"], Value::Null);
    // The fork: c1 has two children, c2 and f2 start branches.
    assert_eq!(rows[4]["children"], 2);
    assert_eq!(rows[1]["branch_start"], true);
    assert_eq!(rows[3]["branch_start"], true);
    assert_eq!(rows[2]["branch_start"], false);
    // Changed channels: from the versions (no updated_channels stored).
    assert_eq!(rows[0]["changed"], json!(["messages"]));
    assert_eq!(rows[1]["changed"], json!(["messages", "status"]));
    assert_eq!(rows[5]["changed"], json!(["messages", "status"]));
    assert_eq!(rows[0]["metadata"]["user"], "alice");

    let table = fx.ok(&["history", "t"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("CHECKPOINT") && lines[0].contains("CHANGED"));
    let row_of = |cid: &str| {
        *lines
            .iter()
            // Short ids: a prefix of at least 8 characters.
            .find(|l| {
                l.split_whitespace()
                    .take(2)
                    .any(|w| w.len() >= 8 && cid.starts_with(w))
            })
            .unwrap()
    };
    assert!(row_of(id(&c[1])).starts_with('*'));
    assert!(row_of(id(&c[4])).starts_with('+'));
    assert!(row_of(id(&c[2])).starts_with('+'));
    assert!(row_of(id(&c[3])).starts_with(' '));
    assert!(row_of(id(&c[4])).contains("update"));
    assert!(table.contains("fork point"));

    // --limit, --before, --filter.
    let v = fx.json(&["history", "t", "--limit", "2"]);
    assert_eq!(v.as_array().unwrap().len(), 2);
    let v = fx.json(&["history", "t", "--before", id(&c[2])]);
    let got: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["checkpoint_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![id(&c[1]), id(&c[0])]);
    let v = fx.json(&["history", "t", "--filter", "source=update"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["checkpoint_id"], id(&c[4]));
    let v = fx.json(&[
        "history",
        "t",
        "--filter",
        "step=3",
        "--filter",
        "source=loop",
    ]);
    assert_eq!(v.as_array().unwrap().len(), 2);
    let v = fx.json(&["history", "t", "--filter", "user=bob"]);
    assert_eq!(v, json!([]));
    let v = fx.json(&["history", "t", "--ns", "other"]);
    assert_eq!(v, json!([]));
    assert!(
        fx.ok(&["history", "t", "--ns", ""])
            .contains(&id(&c[0])[..8])
    );
}

#[test]
fn show_prints_state_metadata_parent_and_writes() {
    let (fx, c) = populated();
    let out = fx.ok(&["show", "t", id(&c[1])]);
    assert!(out.contains(&format!("checkpoint  {}", id(&c[1]))), "{out}");
    assert!(out.contains(&format!("parent      {}", id(&c[0]))), "{out}");
    assert!(out.contains(r#"messages = ["hi","hello"]"#), "{out}");
    assert!(out.contains(r#""user":"alice""#), "{out}");
    assert!(out.contains("pending writes (2)"), "{out}");
    assert!(out.contains("~__pregel_pull, a"), "{out}");
    assert!(out.contains("__interrupt__"), "{out}");

    // Latest by default.
    let latest = fx.ok(&["show", "t"]);
    assert!(latest.contains(id(&c[5])), "{latest}");

    let v = fx.json(&["show", "t", id(&c[1])]);
    assert_eq!(v["checkpoint"]["id"], id(&c[1]));
    assert_eq!(
        v["checkpoint"]["channel_values"]["messages"],
        json!(["hi", "hello"])
    );
    assert_eq!(v["metadata"]["step"], 1);
    assert_eq!(v["parent_config"]["checkpoint_id"], id(&c[0]));
    let writes = v["pending_writes"].as_array().unwrap();
    assert_eq!(writes.len(), 2);
    let idx: Vec<i64> = writes.iter().map(|w| w["idx"].as_i64().unwrap()).collect();
    assert_eq!(idx, vec![-3, 0]);
}

#[test]
fn diff_shows_changed_channels_and_appended_items() {
    let (fx, c) = populated();
    let out = fx.ok(&["diff", "t", id(&c[1]), id(&c[3])]);
    assert!(out.contains("messages: appended"), "{out}");
    assert!(
        out.contains(r#"+ "a""#) && out.contains(r#"+ "b""#),
        "{out}"
    );
    assert!(out.contains("status: changed"), "{out}");
    assert!(out.contains(r#"old: "step 0""#) && out.contains(r#"new: "step 2""#));

    let v = fx.json(&["diff", "t", id(&c[3]), id(&c[5])]);
    let channels = v["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1, "{v}");
    assert_eq!(channels[0]["channel"], "messages");
    assert_eq!(channels[0]["change"], "diverged");
    assert_eq!(channels[0]["common_items"], 2);
    assert_eq!(channels[0]["removed_items"], json!(["a", "b"]));
    assert_eq!(channels[0]["added_items"], json!(["edited", "c"]));

    let v = fx.json(&["diff", "t", id(&c[0]), id(&c[1])]);
    assert_eq!(v["channels"][0]["change"], "appended");
    assert_eq!(v["channels"][0]["added_items"], json!(["hello"]));
    let v = fx.json(&["diff", "t", id(&c[2]), id(&c[2])]);
    assert_eq!(v["channels"], json!([]));
}

#[test]
fn namespaces_show_up_in_threads_history_show_and_export() {
    let fx = Fixture::new();
    let saver = fx.saver();
    let loop_ = CheckpointSource::Loop;
    let r0 = put(&saver, &Config::thread("n"), 0, loop_, &["root"], None);
    let sub = Config::thread("n").with_ns("child:1");
    let s0 = put(&saver, &sub, 0, loop_, &["sub"], None);
    let s1 = put(&saver, &s0, 1, loop_, &["sub", "more"], None);
    drop(saver);

    let v = fx.json(&["threads"]);
    assert_eq!(v[0]["namespaces"], 2);
    assert_eq!(v[0]["checkpoints"], 3);
    let table = fx.ok(&["history", "n"]);
    assert!(
        table.lines().next().unwrap().contains("NAMESPACE"),
        "{table}"
    );
    assert!(
        table.contains("child:1") && table.contains("(root)"),
        "{table}"
    );
    let v = fx.json(&["history", "n", "--ns", "child:1"]);
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["checkpoint_id"], id(&s1));
    assert_eq!(v[0]["changed"], json!(["messages"]));
    // An id is found in whichever namespace holds it.
    let out = fx.ok(&["show", "n", id(&s0)]);
    assert!(out.contains("namespace   child:1"), "{out}");
    let out = fx.ok(&["show", "n"]);
    assert!(
        out.contains(id(&r0)),
        "the latest of the root namespace: {out}"
    );
    let out = fx.ok(&["show", "n", "--ns", "child:1"]);
    assert!(out.contains(id(&s1)), "{out}");
    // Export and import keep namespaces.
    let first = fx.ok(&["export", "n"]);
    fx.ok(&["delete", "n", "--yes"]);
    fx.cmd()
        .arg("import")
        .write_stdin(first.clone())
        .assert()
        .success();
    assert_eq!(fx.ok(&["export", "n"]), first);
}

// ------------------------------------------------------------ managing

#[test]
fn delete_needs_yes_and_removes_the_thread() {
    let (fx, _) = populated();
    fx.fails(&["delete", "t"], "--yes");
    assert_eq!(count(&fx.saver(), "t"), 6);
    let out = fx.ok(&["delete", "t", "--yes"]);
    assert!(
        out.contains("deleted thread \"t\" (6 checkpoints)"),
        "{out}"
    );
    assert_eq!(count(&fx.saver(), "t"), 0);
    assert_eq!(count(&fx.saver(), "u"), 3);
    fx.fails(&["delete", "t", "--yes"], "thread \"t\" not found");
}

#[test]
fn copy_copies_and_refuses_an_existing_target() {
    let (fx, _) = populated();
    let out = fx.ok(&["copy", "t", "t2"]);
    assert!(out.contains("(6 checkpoints)"), "{out}");
    let saver = fx.saver();
    assert_eq!(count(&saver, "t2"), 6);
    drop(saver);
    fx.fails(&["copy", "t", "u"], "already has checkpoints");
    fx.fails(&["copy", "ghost", "x"], "thread \"ghost\" not found");
}

#[test]
fn prune_keep_latest_and_delete() {
    let (fx, c) = populated();
    let out = fx.ok(&["prune", "t", "--keep-latest", "--yes"]);
    assert!(out.contains("removed 5 checkpoints, kept 1"), "{out}");
    let saver = fx.saver();
    let left = saver
        .list(
            Some(&Config::thread("t")),
            &checkpointer::ListOptions::new(),
        )
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].checkpoint.id, id(&c[5]));
    assert_eq!(count(&saver, "u"), 3);
    drop(saver);

    // `--all` alone is refused; with an age that takes in everything it
    // deletes every thread.
    fx.fails(
        &["prune", "--all", "--yes"],
        "--keep-latest or --older-than",
    );
    let out = fx.ok(&["prune", "--all", "--older-than", "0s", "--yes"]);
    assert!(out.contains("deleted 2 of 2 threads"), "{out}");
    assert!(fx.json(&["threads"]).as_array().unwrap().is_empty());
    fx.fails(&["prune", "ghost"], "thread \"ghost\" not found");
}

#[test]
fn prune_older_than_uses_each_checkpoint_time() {
    let fx = Fixture::new();
    let saver = fx.saver();
    let old = "2020-01-01T00:00:00.000000+00:00";
    let loop_ = CheckpointSource::Loop;
    // Thread `old`: everything old. Thread `mixed`: two old, two new.
    let o0 = put(&saver, &Config::thread("old"), 0, loop_, &["a"], Some(old));
    put(&saver, &o0, 1, loop_, &["a", "b"], Some(old));
    let m0 = put(
        &saver,
        &Config::thread("mixed"),
        0,
        loop_,
        &["a"],
        Some(old),
    );
    let m1 = put(&saver, &m0, 1, loop_, &["a", "b"], Some(old));
    let m2 = put(&saver, &m1, 2, loop_, &["a", "b", "c"], None);
    put(&saver, &m2, 3, loop_, &["a", "b", "c", "d"], None);
    drop(saver);

    // --older-than and --keep-latest: old checkpoints go, the latest of
    // each namespace stays.
    let out = fx.ok(&[
        "prune",
        "--all",
        "--keep-latest",
        "--older-than",
        "7d",
        "--yes",
    ]);
    assert!(out.contains("removed 3 checkpoints, kept 3"), "{out}");
    let saver = fx.saver();
    assert_eq!(count(&saver, "old"), 1);
    assert_eq!(count(&saver, "mixed"), 2);
    let kept = saver.get_tuple(&m2).unwrap().unwrap();
    assert_eq!(kept.parent_config, None, "the removed parent is unlinked");
    assert_eq!(
        kept.checkpoint.channel_values["messages"],
        json!(["a", "b", "c"])
    );
    drop(saver);

    // --older-than alone: whole threads whose latest checkpoint is old.
    let out = fx.ok(&["prune", "--all", "--older-than", "2w", "--yes"]);
    assert!(out.contains("deleted 1 of 2 threads"), "{out}");
    let v = fx.json(&["threads"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["thread_id"], "mixed");
    let out = fx.ok(&["prune", "mixed", "--older-than", "30m", "--yes"]);
    // Singular since issue 15 ("of 1 threads" before).
    assert!(out.contains("deleted 0 of 1 thread "), "{out}");
}

#[test]
fn vacuum_reports_bytes_before_and_after() {
    let fx = Fixture::new();
    let saver = fx.saver();
    let mut cfg = Config::thread("big");
    let big = "x".repeat(20_000);
    for step in 0..40 {
        cfg = put(&saver, &cfg, step, CheckpointSource::Loop, &[&big], None);
    }
    saver.delete_thread("big").unwrap();
    drop(saver);
    let out = fx.ok(&["vacuum"]);
    let number_before = |label: &str| -> u64 {
        let head = &out[..out.find(label).unwrap()];
        head.split_whitespace().last().unwrap().parse().unwrap()
    };
    let (before, after) = (
        number_before(" bytes before"),
        number_before(" bytes after"),
    );
    assert!(after < before, "{out}");
    assert!(
        out.contains(&format!("({} bytes freed)", before - after)),
        "{out}"
    );
}

// ------------------------------------------------------ export, import

#[test]
fn export_delete_import_export_gives_the_same_bytes() {
    let (fx, _) = populated();
    let first = fx.ok(&["export", "t"]);
    let lines: Vec<Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        json!({"format": "checkpointer-thread", "version": 2, "thread_id": "t"})
    );
    assert!(first.starts_with(r#"{"format":"checkpointer-thread","version":2,"thread_id":"t"}"#));
    // Version 2 ends with the counts.
    assert_eq!(
        lines.last().unwrap(),
        &json!({"type": "trailer", "checkpoints": 6, "writes": 3})
    );
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "checkpoint").count(), 6);
    assert_eq!(kinds.iter().filter(|k| **k == "write").count(), 3);
    // Oldest first; writes follow their checkpoint, with their idx.
    assert_eq!(lines[1]["parent_checkpoint_id"], Value::Null);
    assert_eq!(lines[3]["type"], "write");
    assert_eq!(lines[3]["idx"], -3);
    assert_eq!(lines[3]["checkpoint_id"], lines[2]["checkpoint"]["id"]);
    assert!(lines[1]["checkpoint"]["channel_values"]["messages"].is_array());

    // To a file, too.
    fx.ok(&["export", "t", "--out", "t.jsonl"]);
    let file = fx.dir.path().join("t.jsonl");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first);

    fx.ok(&["delete", "t", "--yes"]);
    let out = fx.ok(&["import", file.to_str().unwrap()]);
    assert!(
        out.contains("imported thread \"t\" (6 checkpoints)"),
        "{out}"
    );
    assert_eq!(fx.ok(&["export", "t"]), first);

    // Under a new id, from standard input; the content is the same.
    fx.cmd()
        .args(["import", "--thread", "t-copy"])
        .write_stdin(first.clone())
        .assert()
        .success();
    let copy = fx.ok(&["export", "t-copy"]);
    assert_eq!(
        copy.replacen(r#""thread_id":"t-copy""#, r#""thread_id":"t""#, 1),
        first
    );
    // The library reads the imported thread like the original.
    let saver = fx.saver();
    let a = saver
        .list(
            Some(&Config::thread("t")),
            &checkpointer::ListOptions::new(),
        )
        .unwrap();
    let b = saver
        .list(
            Some(&Config::thread("t-copy")),
            &checkpointer::ListOptions::new(),
        )
        .unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.checkpoint, y.checkpoint);
        assert_eq!(x.metadata, y.metadata);
        assert_eq!(x.pending_writes, y.pending_writes);
    }
}

#[test]
fn export_of_a_graph_thread_round_trips() {
    let fx = Fixture::new();
    fx.ok(&["demo"]);
    let first = fx.ok(&["export", "demo"]);
    fx.ok(&["delete", "demo", "--yes"]);
    fx.cmd()
        .arg("import")
        .write_stdin(first.clone())
        .assert()
        .success();
    assert_eq!(fx.ok(&["export", "demo"]), first);
    assert_eq!(fx.json(&["history", "demo"]).as_array().unwrap().len(), 8);
}

#[test]
fn import_refuses_existing_threads_and_bad_files() {
    let (fx, _) = populated();
    let export = fx.ok(&["export", "t"]);
    fx.cmd()
        .arg("import")
        .write_stdin(export.clone())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("thread \"t\" already exists"));

    let bad = fx.dir.path().join("bad.jsonl");
    for (content, needle) in [
        ("not json\n", "line 1: invalid JSON"),
        (
            "{\"format\":\"other\",\"version\":1,\"thread_id\":\"x\"}\n",
            "format is \"other\"",
        ),
        (
            "{\"format\":\"checkpointer-thread\",\"version\":9,\"thread_id\":\"x\"}\n",
            "version 9 is not supported",
        ),
        ("", "no export header"),
    ] {
        std::fs::write(&bad, content).unwrap();
        fx.fails(&["import", bad.to_str().unwrap()], needle);
    }
    let mut lines: Vec<&str> = export.lines().collect();
    lines.swap(2, 3); // a write before its checkpoint
    std::fs::write(&bad, lines.join("\n")).unwrap();
    fx.fails(
        &["import", bad.to_str().unwrap(), "--thread", "z"],
        "line 3: write for checkpoint",
    );
    // Nothing of the failed import is left.
    assert!(
        !fx.json(&["threads"])
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["thread_id"] == "z")
    );
    fx.fails(&["export", "ghost"], "thread \"ghost\" not found");
}

// -------------------------------------------------------------- errors

#[test]
fn unknown_thread_and_checkpoint_are_errors() {
    let (fx, c) = populated();
    for args in [
        &["history", "ghost"][..],
        &["show", "ghost"],
        &["diff", "ghost", "a", "b"],
    ] {
        fx.fails(args, "thread \"ghost\" not found");
    }
    fx.fails(
        &["show", "t", "nope"],
        "checkpoint \"nope\" not found in thread \"t\"",
    );
    fx.fails(
        &["diff", "t", id(&c[0]), "nope"],
        "checkpoint \"nope\" not found",
    );
    fx.fails(
        &["history", "t", "--before", "nope"],
        "checkpoint \"nope\" not found",
    );
    // An id of another thread is unknown here too.
    let saver = fx.saver();
    let u = saver.get_tuple(&Config::thread("u")).unwrap().unwrap();
    drop(saver);
    fx.fails(
        &["show", "t", &u.checkpoint.id],
        "not found in thread \"t\"",
    );
    fx.fails(
        &["show", "t", "--ns", "sub"],
        "no checkpoint in namespace \"sub\"",
    );
}

#[test]
fn a_file_that_is_not_a_checkpoint_database_is_refused() {
    let fx = Fixture::new();
    std::fs::write(&fx.db, "hello, I am a text file\n").unwrap();
    fx.fails(&["threads"], "is not a checkpoint database");
    assert_eq!(
        std::fs::read_to_string(&fx.db).unwrap(),
        "hello, I am a text file\n"
    );
    // Someone else's SQLite database.
    let other = fx.dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    Command::cargo_bin("checkpointer")
        .unwrap()
        .env_remove("CHECKPOINTER_DB")
        .arg("--db")
        .arg(&other)
        .args(["history", "t"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not a checkpoint database"))
        .stderr(predicate::str::contains("other.db"));
}

#[test]
fn a_newer_schema_is_refused() {
    let (fx, _) = populated();
    rusqlite::Connection::open(&fx.db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let line = fx.fails(&["threads"], "schema version 99");
    assert!(line.contains("newer"), "{line}");
}

#[test]
fn bad_filter_and_bad_age_are_errors() {
    let (fx, _) = populated();
    fx.fails(
        &["history", "t", "--filter", "source"],
        "invalid --filter \"source\"",
    );
    fx.fails(
        &["history", "t", "--filter", "a.b=1"],
        "invalid --filter \"a.b=1\"",
    );
    fx.fails(&["history", "t", "--filter", "=1"], "invalid --filter");
    for age in ["7", "7y", "soon", ""] {
        fx.fails(
            &["prune", "--all", "--older-than", age],
            "invalid --older-than",
        );
    }
    // Nothing was pruned.
    assert_eq!(count(&fx.saver(), "t"), 6);
}

#[test]
fn usage_errors_exit_with_2() {
    let (fx, _) = populated();
    fx.cmd().args(["prune"]).assert().code(2);
    fx.cmd().args(["prune", "t", "--all"]).assert().code(2);
    fx.cmd().args(["frobnicate"]).assert().code(2);
    fx.cmd().args(["history"]).assert().code(2);
    fx.cmd()
        .args(["threads", "--limit", "many"])
        .assert()
        .code(2);
}
