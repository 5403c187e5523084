//! What the file and SQLite ledgers leave on disk: mooncat's layout and
//! table, read back by the other side's rules (TS records without
//! `error`, SQL NULL results, corrupt files).
#![cfg(all(feature = "ledger", feature = "sqlite"))]

use std::fs;

use checkpointer::ledger::{
    Claim, ClaimOptions, FileLedger, SqliteLedger, StepLedger, StepStatus, storage_key,
};
use serde_json::{Value, json};

fn claim(ledger: &dyn StepLedger, ns: &str, key: &str) -> String {
    match ledger
        .claim(ns, key, &ClaimOptions::new().with_owner("run-1"))
        .expect("claim")
    {
        Claim::Claimed { token, .. } => token,
        other => panic!("expected claimed, got {other:?}"),
    }
}

#[test]
fn file_layout_is_mooncats() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = FileLedger::open(dir.path()).expect("open");
    let key = "https://example.com/x?a=1 中文";
    let token = claim(&ledger, "vision", key);
    ledger
        .done("vision", key, &token, json!({"label": "猫"}), Some("ref"))
        .expect("done");
    let path = dir
        .path()
        .join("vision")
        .join("sha256-89816c1a34c4db899f59cd6d223bc843.json");
    let text =
        fs::read_to_string(&path).expect("the record file at <root>/<ns>/<storage_key>.json");
    let expected_head = format!(
        "{{\n  \"namespace\": \"vision\",\n  \"key\": \"{key}\",\n  \"status\": \"done\",\n  \
         \"ownerRunId\": \"run-1\",\n  \"leaseToken\": null,\n  \"leaseUntil\": null,\n  \
         \"result\": {{\n    \"label\": \"猫\"\n  }},\n  \"resultRef\": \"ref\",\n  \"error\": null,\n  \
         \"attempts\": 1,\n  \"createdAt\": "
    );
    assert!(
        text.starts_with(&expected_head),
        "2-space JSON in mooncat's key order, raw UTF-8:\n{text}"
    );
    let leftovers: Vec<String> = fs::read_dir(dir.path().join("vision"))
        .expect("ns dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left: {leftovers:?}");
}

#[test]
fn file_reads_ts_records_and_survives_corrupt_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = FileLedger::open(dir.path()).expect("open");
    let ns_dir = dir.path().join("ns");
    fs::create_dir_all(&ns_dir).expect("ns dir");
    // TS 0.5 writes no `error`; unknown keys are ignored.
    fs::write(
        ns_dir.join("ts.json"),
        r#"{"namespace":"ns","key":"ts","status":"done","result":[1],"attempts":3,"extra":true}"#,
    )
    .expect("write");
    fs::write(ns_dir.join("bad.json"), "{not json").expect("write");
    fs::write(ns_dir.join("notes.txt"), "ignored").expect("write");
    let ts = ledger.get("ns", "ts").expect("get").expect("the TS record");
    assert_eq!(
        (ts.status, &ts.result, ts.attempts, &ts.error),
        (StepStatus::Done, &json!([1]), 3, &None)
    );
    assert_eq!(
        ledger.get("ns", "bad").expect("get"),
        None,
        "a corrupt file reads as no record"
    );
    let keys: Vec<String> = ledger
        .list("ns", None)
        .expect("list")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["ts"], "list skips corrupt and non-JSON files");
    claim(&ledger, "ns", "bad");
    let record = ledger
        .get("ns", "bad")
        .expect("get")
        .expect("the claim replaced the corrupt file");
    assert_eq!((record.status, record.attempts), (StepStatus::Claimed, 1));
}

#[test]
fn sqlite_file_is_wal_with_mooncats_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("steps.db");
    let ledger = SqliteLedger::open(&path).expect("open");
    let token = claim(&ledger, "ns", "no-result");
    ledger
        .done("ns", "no-result", &token, Value::Null, None)
        .expect("done");
    let token = claim(&ledger, "ns", "https://x/y");
    ledger
        .fail("ns", "https://x/y", &token, "boom")
        .expect("fail");
    let conn = rusqlite::Connection::open(&path).expect("open the file");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let rows: Vec<(String, String, String, Option<String>)> = conn
        .prepare("SELECT storage_key, key, status, result FROM checkpoints ORDER BY key")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        [
            (
                storage_key("https://x/y"),
                "https://x/y".into(),
                "failed".into(),
                None
            ),
            (
                "no-result".into(),
                "no-result".into(),
                "done".into(),
                Some("null".into())
            ),
        ],
        "storage keys, raw keys, and done without result as the TEXT 'null' (as Python)"
    );
    // The TS package writes SQL NULL for no result: it reads as null.
    conn.execute(
        "UPDATE checkpoints SET result = NULL WHERE key = 'no-result'",
        [],
    )
    .expect("update");
    let record = ledger.get("ns", "no-result").expect("get").expect("record");
    assert_eq!(
        (record.status, record.result),
        (StepStatus::Done, Value::Null)
    );
    let done = ledger
        .list("ns", Some(StepStatus::Done))
        .expect("list with a status works");
    assert_eq!(done.len(), 1);
}
