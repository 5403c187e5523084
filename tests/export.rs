//! The JSON Lines export format (`saver::export`, version 1): what each
//! line holds and in which order, what reading refuses (with the line),
//! and moving a thread between backends.

use checkpointer::saver::export::{
    EXPORT_FORMAT, EXPORT_VERSION, ExportError, export_thread, import_thread, read_export,
};
use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, Error,
    InMemorySaver, ListOptions, SqliteSaver,
};
use serde_json::{Value, json};

/// Thread `t`: a root checkpoint with two writes, its child, and a
/// checkpoint in namespace `sub`.
fn saver_with_thread() -> InMemorySaver {
    let saver = InMemorySaver::new();
    let md = |step| CheckpointMetadata::new(CheckpointSource::Loop, step);
    let c0 = Checkpoint::new(0).with_value("n", json!(0), 1);
    let cfg0 = saver
        .put(&Config::thread("t"), &c0, &md(0), &c0.channel_versions)
        .unwrap();
    let writes = [
        ("n".to_owned(), json!(1)),
        ("__error__".to_owned(), json!("x")),
    ];
    saver.put_writes(&cfg0, &writes, "task-1", "path").unwrap();
    let c1 = c0.successor(1).with_value("n", json!(1), 2);
    saver.put(&cfg0, &c1, &md(1), &c1.channel_versions).unwrap();
    let s0 = Checkpoint::new(0).with_value("m", json!("sub"), 1);
    let sub = Config::thread("t").with_ns("sub");
    saver.put(&sub, &s0, &md(0), &s0.channel_versions).unwrap();
    saver
}

fn export_text(saver: &dyn BaseCheckpointSaver, thread: &str) -> String {
    let mut out = Vec::new();
    export_thread(saver, thread, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with('\n'), "every line ends with a newline");
    text
}

fn export_lines(saver: &dyn BaseCheckpointSaver, thread: &str) -> Vec<Value> {
    let text = export_text(saver, thread);
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_header_names_format_version_and_thread() {
    assert_eq!((EXPORT_FORMAT, EXPORT_VERSION), ("checkpointer-thread", 2));
    let mut out = Vec::new();
    assert_eq!(
        export_thread(&saver_with_thread(), "t", &mut out).unwrap(),
        3
    );
    let first = String::from_utf8(out)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        first,
        r#"{"format":"checkpointer-thread","version":2,"thread_id":"t"}"#
    );
}

#[test]
fn checkpoints_come_oldest_first_each_followed_by_its_writes() {
    let saver = saver_with_thread();
    let lines = export_lines(&saver, "t");
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "checkpoint",
            "write",
            "write",
            "checkpoint",
            "checkpoint",
            "trailer"
        ]
    );
    let ids: Vec<&str> = lines[1..]
        .iter()
        .filter(|l| l["type"] == "checkpoint")
        .map(|l| l["checkpoint"]["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "by id, across namespaces");
    // Keys in the documented order, as written.
    let text = export_text(&saver, "t");
    let raw: Vec<&str> = text.lines().collect();
    assert!(
        raw[1].starts_with(r#"{"type":"checkpoint","checkpoint_ns":"","checkpoint":{"#),
        "{}",
        raw[1]
    );
    assert!(raw[1].contains(r#"},"metadata":{"#), "{}", raw[1]);
    assert!(
        raw[1].ends_with(r#"},"parent_checkpoint_id":null}"#),
        "{}",
        raw[1]
    );
    let id = lines[1]["checkpoint"]["id"].as_str().unwrap();
    assert_eq!(
        raw[2],
        format!(
            r#"{{"type":"write","checkpoint_ns":"","checkpoint_id":"{id}","task_id":"task-1","task_path":"path","idx":-1,"channel":"__error__","value":"x"}}"#
        )
    );
    assert_eq!(
        lines[1]["checkpoint"]["channel_values"]["n"],
        json!(0),
        "with its values"
    );
    assert_eq!(lines[2]["checkpoint_id"], lines[1]["checkpoint"]["id"]);
    assert_eq!(
        lines[4]["parent_checkpoint_id"],
        lines[1]["checkpoint"]["id"]
    );
}

#[test]
fn an_unknown_thread_exports_the_header_alone() {
    let mut out = Vec::new();
    assert_eq!(
        export_thread(&InMemorySaver::new(), "none", &mut out).unwrap(),
        0
    );
    // The header and the trailer (version 2).
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
}

#[test]
fn a_thread_moves_from_memory_to_sqlite_and_back_byte_for_byte() {
    let memory = saver_with_thread();
    let mut lines = Vec::new();
    export_thread(&memory, "t", &mut lines).unwrap();
    let sqlite = SqliteSaver::in_memory().unwrap();
    let imported = import_thread(&sqlite, lines.as_slice(), None).unwrap();
    assert_eq!(
        (imported.thread_id.as_str(), imported.checkpoints),
        ("t", 3)
    );
    let all = ListOptions::new();
    assert_eq!(
        memory.list(Some(&Config::thread("t")), &all).unwrap(),
        sqlite.list(Some(&Config::thread("t")), &all).unwrap()
    );
    let mut again = Vec::new();
    export_thread(&sqlite, "t", &mut again).unwrap();
    assert_eq!(again, lines);

    let err = import_thread(&sqlite, lines.as_slice(), None).unwrap_err();
    assert!(
        matches!(err, ExportError::Saver(Error::TargetNotEmpty { .. })),
        "{err}"
    );
}

/// The line and reason `read_export` gives for `text`.
fn refusal(text: &str) -> (usize, String) {
    match read_export(text.as_bytes()) {
        Err(ExportError::BadLine { line, reason }) => (line, reason),
        other => panic!("expected a bad line for {text:?}, got {other:?}"),
    }
}

#[test]
fn reading_refuses_what_the_format_does_not_allow() {
    let header = r#"{"format":"checkpointer-thread","version":1,"thread_id":"t"}"#;
    let cases: [(String, usize, &str); 8] = [
        (String::new(), 1, "empty input: no export header"),
        ("nope\n".into(), 1, "invalid JSON"),
        (
            r#"{"format":"other","version":1,"thread_id":"t"}"#.into(),
            1,
            "format is \"other\"",
        ),
        (
            r#"{"format":"checkpointer-thread","version":3,"thread_id":"t"}"#.into(),
            1,
            "export format version 3 is not supported",
        ),
        (
            r#"{"format":"checkpointer-thread","version":1,"thread_id":""}"#.into(),
            1,
            "the header's thread_id is empty",
        ),
        (
            format!("{header}\n\n{{\"type\":\"other\"}}"),
            3,
            "unknown line type",
        ),
        (
            format!("{header}\n{{\"type\":\"checkpoint\"}}"),
            2,
            "invalid checkpoint line",
        ),
        (
            format!(
                "{header}\n{}",
                json!({"type":"write","checkpoint_ns":"","checkpoint_id":"c","task_id":"a",
                    "task_path":"","idx":0,"channel":"x","value":1})
            ),
            2,
            "before (or without) its checkpoint line",
        ),
    ];
    for (text, line, needle) in cases {
        let (at, reason) = refusal(&text);
        assert_eq!(at, line, "{text:?}: {reason}");
        assert!(reason.contains(needle), "{text:?}: {reason}");
    }
}

#[test]
fn a_checkpoint_seen_twice_is_refused_and_blank_lines_are_skipped() {
    let mut lines = Vec::new();
    export_thread(&saver_with_thread(), "t", &mut lines).unwrap();
    let text = String::from_utf8(lines).unwrap();
    let spaced = text.replace('\n', "\n\n");
    let read = read_export(spaced.as_bytes()).unwrap();
    assert_eq!((read.thread_id.as_str(), read.tuples.len()), ("t", 3));
    assert_eq!(read.tuples[0].pending_writes.len(), 2);

    // Before the trailer (version 2), so that the duplicate is what is
    // refused, not a line after the trailer.
    let second = text.lines().nth(1).unwrap();
    let (body, trailer) = text.trim_end().rsplit_once('\n').unwrap();
    let (line, reason) = refusal(&format!("{body}\n{second}\n{trailer}\n"));
    assert_eq!(line, 7);
    assert!(reason.contains("appears twice"), "{reason}");
}

#[test]
fn an_export_cut_short_or_miscounted_is_refused() {
    let mut lines = Vec::new();
    export_thread(&saver_with_thread(), "t", &mut lines).unwrap();
    let text = String::from_utf8(lines).unwrap();
    let all: Vec<&str> = text.lines().collect();
    assert_eq!(
        all.last().copied(),
        Some(r#"{"type":"trailer","checkpoints":3,"writes":2}"#)
    );
    // Cut after the third checkpoint line: no trailer.
    let cut = all[..all.len() - 1].join("\n");
    let (line, reason) = refusal(&cut);
    assert_eq!(line, all.len());
    assert!(
        reason.contains("ends without its trailer line after 3 checkpoints and 2 writes"),
        "{reason}"
    );
    // A write line lost: the trailer disagrees.
    let lost: Vec<&str> = all.iter().copied().filter(|l| *l != all[2]).collect();
    let (line, reason) = refusal(&lost.join("\n"));
    assert_eq!(line, lost.len());
    assert!(
        reason.contains("counts 3 checkpoints and 2 writes but the export holds 3 and 1"),
        "{reason}"
    );
    // Anything after the trailer.
    let (line, reason) = refusal(&format!("{text}{}\n", all[1]));
    assert_eq!(line, all.len() + 1);
    assert!(reason.contains("after the trailer"), "{reason}");
}

#[test]
fn version_1_exports_without_a_trailer_still_read() {
    let mut lines = Vec::new();
    export_thread(&saver_with_thread(), "t", &mut lines).unwrap();
    let text = String::from_utf8(lines).unwrap();
    let v1: Vec<String> = text
        .lines()
        .filter(|l| !l.contains(r#""type":"trailer""#))
        .map(|l| l.replacen(r#""version":2"#, r#""version":1"#, 1))
        .collect();
    let read = read_export(v1.join("\n").as_bytes()).unwrap();
    assert_eq!((read.version, read.tuples.len()), (1, 3));
    let current = read_export(text.as_bytes()).unwrap();
    assert_eq!(current.version, EXPORT_VERSION);
    assert_eq!(current.tuples, read.tuples);
}
