//! Differential test: random call sequences (claim, touch, done, fail,
//! reset, get, list, gc; leases of 0 ms or an hour, right and wrong
//! tokens, bad namespaces) give the same answers from every Rust ledger
//! as from the real mooncat-checkpoint 0.1.0 `MemoryBackend`, tokens and
//! times masked. `CHECKPOINTER_MOONCAT_PYTHON` is a Python with the
//! package (`.ci/run` makes the venv); under `CI=true` the test fails
//! without it.
#![cfg(all(feature = "ledger", feature = "sqlite"))]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use checkpointer::ledger::{
    Claim, ClaimOptions, FileLedger, LedgerError, MemoryLedger, SqliteLedger, StepLedger,
    StepRecord, StepStatus,
};
use serde_json::{Value, json};

mod mooncat_support;
mod seed;

use mooncat_support::HELPER;

const KEYS: [&str; 3] = ["a", "https://x/y", "c"];

/// A random call, as the Python helper reads it.
fn call(rng: &mut fastrand::Rng) -> Value {
    let key = KEYS[rng.usize(..KEYS.len())];
    let own = rng.u8(..4) != 0;
    match rng.u8(..20) {
        0..=5 => {
            let owner = [Value::Null, json!("run-1"), json!("run-2")][rng.usize(..3)].clone();
            let lease_ms = if rng.bool() { 0 } else { 3_600_000 };
            json!({"op": "claim", "key": key, "owner": owner, "lease_ms": lease_ms})
        }
        6..=7 => json!({"op": "touch", "key": key, "own": own}),
        8..=11 => json!({"op": "done", "key": key, "own": own, "result": {"r": rng.i8(..)}}),
        12..=13 => json!({"op": "fail", "key": key, "own": own}),
        14 => json!({"op": "reset", "key": key}),
        15 => json!({"op": "get", "key": key}),
        16 => {
            let status = [
                Value::Null,
                json!("claimed"),
                json!("done"),
                json!("failed"),
            ][rng.usize(..4)]
            .clone();
            json!({"op": "list", "status": status})
        }
        17 => json!({"op": "gc"}),
        _ => json!({"op": "claim", "ns": "bad/ns", "key": key, "owner": null, "lease_ms": 0}),
    }
}

/// A record as the helper masks it.
fn masked(record: &StepRecord) -> Value {
    let mut v = serde_json::to_value(record).expect("a record serialises");
    let m = v.as_object_mut().expect("an object");
    m.insert("leaseToken".into(), json!(record.lease_token.is_some()));
    m.insert("leaseUntil".into(), json!(record.lease_until.is_some()));
    m.remove("createdAt");
    m.remove("updatedAt");
    v
}

fn answer<T>(result: Result<T, LedgerError>, show: impl FnOnce(T) -> Value) -> Value {
    match result {
        Ok(v) => show(v),
        Err(LedgerError::LeaseLost { .. }) => json!({"error": "LeaseLost"}),
        Err(LedgerError::InvalidNamespace { .. }) => json!({"error": "InvalidNamespace"}),
        Err(e) => panic!("a ledger call failed: {e}"),
    }
}

/// Runs `calls` on `ledger`, answering as the helper does.
fn replay(ledger: &dyn StepLedger, calls: &[Value]) -> Vec<Value> {
    let mut tokens: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for c in calls {
        let ns = c["ns"].as_str().unwrap_or("model");
        let key = c["key"].as_str().unwrap_or_default();
        let token = if c["own"].as_bool() == Some(true) {
            tokens.get(key).cloned().unwrap_or_default()
        } else {
            "not-a-token".to_owned()
        };
        out.push(match c["op"].as_str().unwrap_or_default() {
            "claim" => {
                let mut options =
                    ClaimOptions::new().with_lease_ms(c["lease_ms"].as_u64().unwrap_or(0));
                options.owner_run_id = c["owner"].as_str().map(str::to_owned);
                answer(ledger.claim(ns, key, &options), |claim| {
                    if let Claim::Claimed { token, .. } = &claim {
                        tokens.insert(key.to_owned(), token.clone());
                    }
                    json!({"kind": claim.kind(), "record": masked(claim.record())})
                })
            }
            "touch" => answer(ledger.touch(ns, key, &token, Some(3_600_000)), |r| {
                r.as_ref().map_or(Value::Null, masked)
            }),
            "done" => answer(
                ledger.done(ns, key, &token, c["result"].clone(), None),
                |r| masked(&r),
            ),
            "fail" => answer(ledger.fail(ns, key, &token, "boom"), |r| masked(&r)),
            "reset" => answer(ledger.reset(ns, key), |b| json!(b)),
            "get" => answer(ledger.get(ns, key), |r| {
                r.as_ref().map_or(Value::Null, masked)
            }),
            "list" => {
                let status = c["status"]
                    .as_str()
                    .map(|s| s.parse::<StepStatus>().expect("a status"));
                answer(ledger.list(ns, status), |records| {
                    let mut rows: Vec<Value> = records.iter().map(masked).collect();
                    rows.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
                    json!(rows)
                })
            }
            "gc" => {
                std::thread::sleep(Duration::from_millis(3));
                answer(ledger.gc(0), |n| json!(n))
            }
            other => panic!("unknown call {other}"),
        });
    }
    out
}

#[test]
fn rust_ledgers_answer_as_pythons_memory_backend() {
    let Some(python) = mooncat_support::python("ledger_differential") else {
        return;
    };
    let mut rng = seed::rng("rust_ledgers_answer_as_pythons_memory_backend");
    let sequences: Vec<Vec<Value>> = (0..25)
        .map(|_| (0..40).map(|_| call(&mut rng)).collect())
        .collect();
    let mut child = Command::new(&python)
        .arg(HELPER)
        .args(["-", "replay"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    serde_json::to_writer(child.stdin.take().expect("stdin"), &sequences).expect("write the calls");
    let out = child.wait_with_output().expect("python");
    assert!(out.status.success(), "python failed");
    let theirs: Vec<Vec<Value>> = serde_json::from_slice(&out.stdout).expect("python's answers");
    // The calls reached every outcome (else the comparison says little).
    let text = serde_json::to_string(&theirs).expect("json");
    for outcome in [
        r#""kind":"claimed""#,
        r#""kind":"busy""#,
        r#""kind":"done""#,
        r#""kind":"failed""#,
        r#"{"error":"LeaseLost"}"#,
        r#"{"error":"InvalidNamespace"}"#,
    ] {
        assert!(
            text.contains(outcome),
            "no {outcome} among Python's answers"
        );
    }
    for (i, calls) in sequences.iter().enumerate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ledgers: [(&str, Box<dyn StepLedger>); 3] = [
            ("memory", Box::new(MemoryLedger::new())),
            (
                "file",
                Box::new(FileLedger::open(dir.path().join("files")).expect("open")),
            ),
            (
                "sqlite",
                Box::new(SqliteLedger::open(dir.path().join("steps.db")).expect("open")),
            ),
        ];
        for (name, ledger) in ledgers {
            let ours = replay(&*ledger, calls);
            for (j, (a, b)) in ours.iter().zip(&theirs[i]).enumerate() {
                assert_eq!(a, b, "{name}, sequence {i}, call {j}: {}", calls[j]);
            }
            assert_eq!(ours.len(), theirs[i].len());
        }
    }
}
