//! LangGraph's SQLite files (`saver::langgraph_sqlite`) within Rust: a
//! thread exported into one and imported back is the same thread (ids,
//! parents, namespaces, values, versions, metadata, pending writes);
//! importing again adds nothing, importing after the file grew adds what
//! is new; files that are not LangGraph's are refused naming the file;
//! and the CLI's `import-langgraph` / `export-langgraph`.
#![cfg(feature = "langgraph-sqlite")]

use std::path::Path;

use checkpointer::saver::langgraph_sqlite::{
    LangGraphSqliteFile, export_threads, import_file, langgraph_version,
};
use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, Checkpoint, CheckpointMetadata, CheckpointSource,
    CheckpointTuple, Config, Error, ListOptions, SqliteSaver,
};
use serde_json::json;

/// Thread `t`: a root chain of three with writes (ordinary, special, one
/// of a value JSON cannot hold), and two checkpoints in namespace `sub:1`.
fn source_thread(saver: &SqliteSaver, checkpoints: usize) {
    let md = |source, step| CheckpointMetadata::new(source, step).with_extra("user", "rust");
    let mut cfg = Config::thread("t");
    let mut cp = Checkpoint::new(-1).with_value("n", 0, ChannelVersion::next_after(None));
    for step in 0..checkpoints {
        let source = if step == 0 {
            CheckpointSource::Input
        } else {
            CheckpointSource::Loop
        };
        let step = i64::try_from(step).unwrap() - 1;
        let next = cp.successor(step);
        let v = ChannelVersion::next_after(next.channel_versions.get("n"));
        cp = next
            .with_value("n", step + 1, v)
            .with_value("msgs", json!([{"k": [1, 2.5, null, true]}]), 1)
            .with_value("raw", json!({"__msgpack__": "c40200ff"}), 1);
        cp.versions_seen
            .insert("node".into(), cp.channel_versions.clone());
        cfg = saver
            .put(&cfg, &cp, &md(source, step), &cp.channel_versions)
            .unwrap();
        let writes = [
            ("n".to_owned(), json!(step + 10)),
            ("msgs".to_owned(), json!(["x"])),
        ];
        saver
            .put_writes(&cfg, &writes, "task-a", "~__pregel_pull, node")
            .unwrap();
        let special = [(
            "__interrupt__".to_owned(),
            json!([{"value": "ask", "id": "i1"}]),
        )];
        saver.put_writes(&cfg, &special, "task-b", "").unwrap();
    }
    let sub = Config::thread("t").with_ns("sub:1");
    let s0 = Checkpoint::new(-1).with_value("m", "sub", 1);
    let mut sub_md = CheckpointMetadata::new(CheckpointSource::Input, -1);
    sub_md
        .parents
        .insert(String::new(), cfg.checkpoint_id.clone().unwrap());
    let s0_cfg = saver.put(&sub, &s0, &sub_md, &s0.channel_versions).unwrap();
    let s1 = s0.successor(0).with_value("m", "sub 2", 2);
    saver
        .put(&s0_cfg, &s1, &sub_md, &s1.channel_versions)
        .unwrap();
}

/// Every tuple of thread `t`, newest first.
fn listing(saver: &dyn BaseCheckpointSaver, thread: &str) -> Vec<CheckpointTuple> {
    saver
        .list(Some(&Config::thread(thread)), &ListOptions::new())
        .unwrap()
}

fn export(saver: &SqliteSaver, path: &Path, threads: &[&str]) -> usize {
    let mut file = LangGraphSqliteFile::create(path).unwrap();
    let threads: Vec<String> = threads.iter().map(|t| (*t).to_owned()).collect();
    export_threads(saver, &threads, &mut file, &mut |_| {}).unwrap()
}

#[test]
fn a_thread_exported_and_imported_back_is_the_same_thread() {
    let dir = tempfile::tempdir().unwrap();
    let source = SqliteSaver::open(dir.path().join("source.db")).unwrap();
    source_thread(&source, 3);
    let path = dir.path().join("langgraph.sqlite");
    assert_eq!(export(&source, &path, &["t"]), 5);

    let file = LangGraphSqliteFile::open(&path).unwrap();
    assert_eq!(file.thread_ids().unwrap(), ["t"]);
    assert_eq!(file.checkpoint_count().unwrap(), 5);
    let target = SqliteSaver::open(dir.path().join("target.db")).unwrap();
    let mut seen = 0;
    let done = import_file(&target, &file, &mut |n| seen = n).unwrap();
    assert_eq!(
        (done.threads, done.checkpoints, done.writes, seen),
        (1, 5, 9, 5)
    );
    let (theirs, ours) = (listing(&target, "t"), listing(&source, "t"));
    assert_eq!(theirs, ours);
    assert_eq!(ours.iter().filter(|t| t.config.ns() == "sub:1").count(), 2);
    assert!(
        ours.iter()
            .any(|t| t.pending_writes.iter().any(|w| w.idx == -3))
    );
}

#[test]
fn importing_twice_adds_nothing_and_a_grown_file_adds_only_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let source = SqliteSaver::open(dir.path().join("source.db")).unwrap();
    source_thread(&source, 2);
    let path = dir.path().join("langgraph.sqlite");
    export(&source, &path, &["t"]);
    let target = SqliteSaver::open(dir.path().join("target.db")).unwrap();
    import_file(
        &target,
        &LangGraphSqliteFile::open(&path).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    let again = import_file(
        &target,
        &LangGraphSqliteFile::open(&path).unwrap(),
        &mut |_| {},
    );
    let again = again.unwrap();
    assert_eq!(
        (
            again.threads,
            again.unchanged_threads,
            again.checkpoints,
            again.writes
        ),
        (0, 1, 0, 0)
    );
    assert_eq!(listing(&target, "t"), listing(&source, "t"));

    // The thread goes on (as Python would go on with it in its file).
    let grown = SqliteSaver::open(dir.path().join("grown.db")).unwrap();
    source_thread(&grown, 3);
    let path2 = dir.path().join("grown.sqlite");
    export(&grown, &path2, &["t"]);
    let target2 = SqliteSaver::open(dir.path().join("target2.db")).unwrap();
    // What the first file held...
    let mut first = listing(&grown, "t");
    first.retain(|t| t.metadata.step < 1 || t.config.ns() != "");
    let mut partial = LangGraphSqliteFile::create(dir.path().join("partial.sqlite")).unwrap();
    partial.write_thread("t", &first).unwrap();
    import_file(&target2, &partial, &mut |_| {}).unwrap();
    assert_eq!(listing(&target2, "t").len(), 4);
    // ...then the whole file: one checkpoint and its three writes are new.
    let more = import_file(
        &target2,
        &LangGraphSqliteFile::open(&path2).unwrap(),
        &mut |_| {},
    );
    let more = more.unwrap();
    assert_eq!((more.threads, more.checkpoints, more.writes), (1, 1, 3));
    assert_eq!(listing(&target2, "t"), listing(&grown, "t"));
}

#[test]
fn versions_are_written_as_python_writes_them_and_read_back_exactly() {
    let v = ChannelVersion::with_salt(2, 0xab);
    let text = langgraph_version(&v);
    assert_eq!(text, format!("{:032}.{:016x}", 2, 0xab));
    // Parsed, the text keeps its counter (import turns it back into `v`:
    // see the round trip above).
    assert_eq!(text.parse::<ChannelVersion>().unwrap().counter(), 2);
    // A version already in Python's form (the runtime's, Python's own) is
    // written verbatim.
    let runtime = ChannelVersion::next_after(Some(&v));
    assert_eq!(langgraph_version(&runtime), runtime.to_string());
    // Python's own next version sorts after it, as Python compares them.
    let python_next = format!("{:032}.0.123456789", 3);
    assert!(python_next > text);
}

fn refused(path: &Path, needle: &str) {
    match LangGraphSqliteFile::open(path) {
        Err(Error::NotACheckpointDatabase { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
        }
        other => panic!("expected NotACheckpointDatabase, got {other:?}"),
    }
}

#[test]
fn files_that_are_not_langgraphs_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sqlite");
    assert!(matches!(
        LangGraphSqliteFile::open(&missing),
        Err(Error::Io { .. })
    ));
    assert!(!missing.exists(), "open never creates the file");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database at all, just some text").unwrap();
    refused(&text, "cannot be opened as SQLite");

    let ours = dir.path().join("ours.db");
    source_thread(&SqliteSaver::open(&ours).unwrap(), 1);
    let e = LangGraphSqliteFile::open(&ours).unwrap_err().to_string();
    assert!(e.contains("ours.db") && e.contains("LangGraph"), "{e}");

    let empty = dir.path().join("empty.sqlite");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE x (a)")
        .unwrap();
    refused(&empty, "no checkpoints table");
}

#[test]
fn a_checkpoint_in_a_serializer_this_crate_cannot_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pickled.sqlite");
    drop(LangGraphSqliteFile::create(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO checkpoints VALUES ('t', '', 'c1', NULL, 'pickle', x'80', '{}')",
        [],
    )
    .unwrap();
    drop(conn);
    let file = LangGraphSqliteFile::open(&path).unwrap();
    let target = SqliteSaver::in_memory().unwrap();
    let e = import_file(&target, &file, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pickled.sqlite") && e.contains("\"pickle\"") && e.contains("c1"),
        "{e}"
    );
    assert!(listing(&target, "t").is_empty(), "nothing was imported");
}

#[cfg(feature = "cli")]
mod cli {
    use assert_cmd::Command;

    use super::*;

    fn tool(db: &Path) -> Command {
        let mut cmd = Command::cargo_bin("checkpointer").unwrap();
        cmd.env_remove("CHECKPOINTER_DB").arg("--db").arg(db);
        cmd
    }

    fn stdout(cmd: &mut Command) -> String {
        String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
    }

    #[test]
    fn import_langgraph_and_export_langgraph() {
        let dir = tempfile::tempdir().unwrap();
        let source = SqliteSaver::open(dir.path().join("source.db")).unwrap();
        source_thread(&source, 3);
        let file = dir.path().join("langgraph.sqlite");
        export(&source, &file, &["t"]);

        let db = dir.path().join("ours.db");
        let out = stdout(tool(&db).arg("import-langgraph").arg(&file));
        assert!(
            out.starts_with("imported 1 thread (5 checkpoints, 9 pending writes) from "),
            "{out}"
        );
        assert!(
            out.contains("sizes: ") && out.contains("langgraph.sqlite"),
            "{out}"
        );
        let out = stdout(tool(&db).arg("import-langgraph").arg(&file));
        assert!(
            out.contains("imported 0 threads") && out.contains("1 thread was already there"),
            "{out}"
        );

        let back = dir.path().join("back.sqlite");
        let out = stdout(
            tool(&db)
                .args(["export-langgraph", "t", "--out"])
                .arg(&back),
        );
        assert!(
            out.starts_with("exported 1 thread (5 checkpoints) to "),
            "{out}"
        );
        let read = LangGraphSqliteFile::open(&back).unwrap();
        let mut tuples = read.read_thread("t").unwrap();
        tuples.reverse();
        let mut expected = listing(&source, "t");
        let key = |t: &CheckpointTuple| (t.checkpoint.id.clone(), t.config.ns().to_owned());
        tuples.sort_by_key(key);
        expected.sort_by_key(key);
        assert_eq!(tuples, expected);

        let all = dir.path().join("all.sqlite");
        let out = stdout(
            tool(&db)
                .args(["export-langgraph", "--all", "--out"])
                .arg(&all),
        );
        assert!(
            out.starts_with("exported 1 thread (5 checkpoints)"),
            "{out}"
        );

        let err = tool(&db)
            .args(["export-langgraph", "nope", "--out"])
            .arg(&all)
            .assert()
            .code(1);
        let err = String::from_utf8(err.get_output().stderr.clone()).unwrap();
        assert!(
            err.contains("thread \"nope\" not found") || err.contains("nope"),
            "{err}"
        );
        let err = tool(&db).arg("import-langgraph").arg(&db).assert().code(1);
        let err = String::from_utf8(err.get_output().stderr.clone()).unwrap();
        assert!(
            err.contains("ours.db is not a checkpoint database"),
            "{err}"
        );
    }
}

#[test]
fn a_file_from_before_task_path_reads_with_empty_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    let source = SqliteSaver::in_memory().unwrap();
    source_thread(&source, 1);
    let mut file = LangGraphSqliteFile::create(&path).unwrap();
    export_threads(&source, &["t".to_owned()], &mut file, &mut |_| {}).unwrap();
    drop(file);
    // The writes table as langgraph-checkpoint-sqlite made it before
    // task_path (SQLite 3.35+ drops a column).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("ALTER TABLE writes DROP COLUMN task_path")
        .unwrap();
    drop(conn);
    let tuples = LangGraphSqliteFile::open(&path)
        .unwrap()
        .read_thread("t")
        .unwrap();
    let writes: Vec<_> = tuples.iter().flat_map(|t| &t.pending_writes).collect();
    assert_eq!(writes.len(), 3);
    assert!(writes.iter().all(|w| w.task_path.is_empty()));
    // Writing into it again runs Python's migration first.
    let mut file = LangGraphSqliteFile::create(&path).unwrap();
    export_threads(&source, &["t".to_owned()], &mut file, &mut |_| {}).unwrap();
    let tuples = LangGraphSqliteFile::open(&path)
        .unwrap()
        .read_thread("t")
        .unwrap();
    assert!(
        tuples
            .iter()
            .flat_map(|t| &t.pending_writes)
            .any(|w| !w.task_path.is_empty())
    );
}
