//! Model test: random sequences of ledger calls give the same results on
//! the file and SQLite ledgers as on `MemoryLedger`, the reference.
//! Leases are either 0 ms (lapsed at once) or an hour, so every outcome
//! is decided by the calls alone; tokens and times are masked.
#![cfg(all(feature = "ledger", feature = "sqlite"))]

use std::collections::HashMap;
use std::time::Duration;

use checkpointer::ledger::{
    Claim, ClaimOptions, FileLedger, LedgerError, LedgerResult, MemoryLedger, SqliteLedger,
    StepLedger, StepRecord, StepStatus,
};
use proptest::prelude::*;
use serde_json::json;

mod seed;

const NS: &str = "model";
const KEYS: [&str; 3] = ["a", "https://x/y", "c"];

#[derive(Clone, Debug)]
enum Op {
    Claim {
        key: usize,
        long: bool,
        owner: Option<u8>,
    },
    Touch {
        key: usize,
        own: bool,
    },
    Done {
        key: usize,
        own: bool,
        result: i8,
    },
    Fail {
        key: usize,
        own: bool,
    },
    Reset {
        key: usize,
    },
    Get {
        key: usize,
    },
    List {
        status: Option<StepStatus>,
    },
    Gc,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let status = prop_oneof![
        Just(None),
        Just(Some(StepStatus::Claimed)),
        Just(Some(StepStatus::Done)),
        Just(Some(StepStatus::Failed)),
    ];
    prop_oneof![
        3 => (key.clone(), any::<bool>(), proptest::option::of(0u8..3))
            .prop_map(|(key, long, owner)| Op::Claim { key, long, owner }),
        1 => (key.clone(), any::<bool>()).prop_map(|(key, own)| Op::Touch { key, own }),
        2 => (key.clone(), any::<bool>(), any::<i8>())
            .prop_map(|(key, own, result)| Op::Done { key, own, result }),
        1 => (key.clone(), any::<bool>()).prop_map(|(key, own)| Op::Fail { key, own }),
        1 => key.clone().prop_map(|key| Op::Reset { key }),
        1 => key.prop_map(|key| Op::Get { key }),
        1 => status.prop_map(|status| Op::List { status }),
        1 => Just(Op::Gc),
    ]
}

/// A record without its token and times (which differ between ledgers).
fn masked(r: &StepRecord) -> String {
    format!(
        "{} {} {} token:{} lease:{} {} ref:{:?} err:{:?} attempts:{}",
        r.namespace,
        r.key,
        r.status,
        r.lease_token.is_some(),
        r.lease_until.is_some(),
        r.result,
        r.result_ref,
        r.error,
        r.attempts
    )
}

fn outcome<T>(result: LedgerResult<T>, mut show: impl FnMut(T) -> String) -> String {
    match result {
        Ok(v) => show(v),
        Err(LedgerError::LeaseLost { reason, .. }) => format!("LeaseLost({reason})"),
        Err(e) => panic!("a ledger call failed: {e}"),
    }
}

/// Runs `ops` on `ledger`; one line per call.
fn run(ledger: &dyn StepLedger, ops: &[Op]) -> Vec<String> {
    let mut tokens: HashMap<usize, String> = HashMap::new();
    let token = |tokens: &HashMap<usize, String>, key: usize, own: bool| {
        if own {
            tokens.get(&key).cloned().unwrap_or_default()
        } else {
            "not-a-token".to_owned()
        }
    };
    let mut out = Vec::new();
    for op in ops {
        let line = match *op {
            Op::Claim { key, long, owner } => {
                let mut options =
                    ClaimOptions::new().with_lease_ms(if long { 3_600_000 } else { 0 });
                if let Some(o) = owner {
                    options = options.with_owner(format!("run-{o}"));
                }
                outcome(ledger.claim(NS, KEYS[key], &options), |c| {
                    if let Claim::Claimed { token, .. } = &c {
                        tokens.insert(key, token.clone());
                    }
                    format!("{} {}", c.kind(), masked(c.record()))
                })
            }
            Op::Touch { key, own } => {
                let t = token(&tokens, key, own);
                outcome(ledger.touch(NS, KEYS[key], &t, Some(3_600_000)), |r| {
                    r.as_ref().map_or("none".into(), masked)
                })
            }
            Op::Done { key, own, result } => {
                let t = token(&tokens, key, own);
                outcome(
                    ledger.done(NS, KEYS[key], &t, json!({"r": result}), None),
                    |r| masked(&r),
                )
            }
            Op::Fail { key, own } => {
                let t = token(&tokens, key, own);
                outcome(ledger.fail(NS, KEYS[key], &t, "boom"), |r| masked(&r))
            }
            Op::Reset { key } => outcome(ledger.reset(NS, KEYS[key]), |b| b.to_string()),
            Op::Get { key } => outcome(ledger.get(NS, KEYS[key]), |r| {
                r.as_ref().map_or("none".into(), masked)
            }),
            Op::List { status } => outcome(ledger.list(NS, status), |rs| {
                let mut lines: Vec<String> = rs.iter().map(masked).collect();
                lines.sort();
                lines.join("; ")
            }),
            Op::Gc => {
                // Past the millisecond of every 0 ms lease.
                std::thread::sleep(Duration::from_millis(3));
                outcome(ledger.gc(0), |n| format!("gc {n}"))
            }
        };
        out.push(format!("{op:?} -> {line}"));
    }
    out
}

proptest! {
    #![proptest_config(seed::proptest_config(
        "ledger_backends_behave_like_memory",
        ProptestConfig { cases: 40, ..ProptestConfig::default() },
    ))]

    #[test]
    fn ledger_backends_behave_like_memory(ops in prop::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let expected = run(&MemoryLedger::new(), &ops);
        let file = FileLedger::open(dir.path().join("files")).expect("open the file ledger");
        prop_assert_eq!(&run(&file, &ops), &expected, "file ledger");
        let sqlite = SqliteLedger::open(dir.path().join("steps.db")).expect("open the SQLite ledger");
        prop_assert_eq!(&run(&sqlite, &ops), &expected, "SQLite ledger");
    }
}
