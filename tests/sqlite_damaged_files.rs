//! Damaged files: a database cut short, with garbage over some pages, or
//! with seeded random bytes flipped, is an error when it is opened or
//! read, never a panic; the tool's read commands fail or answer (exit 0 or
//! 1, never a crash), and `check` reports it (exit 1).
// They run the `checkpointer` binary, which needs the `cli` feature.
#![cfg(feature = "cli")]

use std::path::Path;

use assert_cmd::Command;
use checkpointer::{
    BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config, ListOptions,
    SqliteSaver,
};
use serde_json::json;

mod seed;

const PAGE: usize = 4096;

fn sound_db(db: &Path) {
    let saver = SqliteSaver::open(db).unwrap();
    for t in 0..40 {
        let mut config = Config::thread(format!("t{t}"));
        let mut items = Vec::new();
        for step in 0..5_i64 {
            items.push(json!(format!(
                "item {step} of thread {t} {}",
                "pad ".repeat(30)
            )));
            let version = 1 + step.unsigned_abs();
            let cp = Checkpoint::new(step).with_value("items", json!(items), version);
            let md = CheckpointMetadata::new(CheckpointSource::Loop, step);
            config = saver.put(&config, &cp, &md, &cp.channel_versions).unwrap();
        }
    }
}

/// Every way in: the library's open and reads, and the tool's commands.
/// Returns whether anything reported the damage.
fn read_everything(db: &Path) -> bool {
    let mut noticed = false;
    match SqliteSaver::open(db) {
        Err(_) => noticed = true,
        Ok(saver) => match saver.list_iter(None, &ListOptions::new()) {
            Err(_) => noticed = true,
            Ok(items) => noticed |= items.into_iter().any(|item| item.is_err()),
        },
    }
    for args in [
        &["threads"][..],
        &["history", "t1"][..],
        &["show", "t1"][..],
        &["check"][..],
    ] {
        let out = Command::cargo_bin("checkpointer")
            .unwrap()
            .env_remove("CHECKPOINTER_DB")
            .arg("--db")
            .arg(db)
            .args(args)
            .output()
            .unwrap();
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(code, Some(0 | 1)) && !stderr.contains("panicked"),
            "{args:?} on a damaged file: {code:?} {stderr}"
        );
        if args == ["check"] {
            assert_eq!(code, Some(1), "check passed a damaged file: {stderr}");
        }
        noticed |= code == Some(1);
    }
    noticed
}

fn damaged(test: &str, damage: impl FnOnce(&mut Vec<u8>)) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("damaged.db");
    sound_db(&db);
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(
        bytes.len() > 8 * PAGE,
        "{test}: the file is too small to damage"
    );
    damage(&mut bytes);
    std::fs::write(&db, &bytes).unwrap();
    assert!(read_everything(&db), "{test}: nothing noticed the damage");
}

#[test]
fn a_file_cut_short_is_an_error() {
    damaged("cut short", |bytes| {
        bytes.truncate(bytes.len() / 2 / PAGE * PAGE + 100);
    });
}

#[test]
fn garbage_pages_are_an_error() {
    damaged("garbage pages", |bytes| {
        let at = bytes.len() / 3 / PAGE * PAGE;
        bytes[at..at + 3 * PAGE].fill(0xa5);
    });
}

#[test]
fn flipped_bytes_are_an_error() {
    let mut rng = seed::rng("flipped_bytes_are_an_error");
    damaged("flipped bytes", |bytes| {
        // Past the first page (the header and schema), many flips.
        for _ in 0..2_000 {
            let at = rng.usize(PAGE..bytes.len());
            bytes[at] ^= rng.u8(1..);
        }
    });
}
