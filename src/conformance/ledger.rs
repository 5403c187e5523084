//! `ledger`: the step ledger ([`StepLedger`]), one case per rule of its
//! contract. The cases take `&dyn StepLedger`, so they run through
//! [`ledger_suite!`](crate::ledger_suite) on every backend:
//!
//! ```
//! use checkpointer::ledger::MemoryLedger;
//! use checkpointer::ledger_suite;
//!
//! ledger_suite!(memory, (MemoryLedger::new(), ()));
//! # fn main() {}
//! ```
//!
//! Every case uses fresh random namespaces; the `gc` case counts what it
//! removes, so each test needs a ledger of its own.

use std::time::Duration;

use serde_json::{Value, json};

use crate::ledger::{
    Claim, ClaimOptions, LeaseLostReason, LedgerError, LedgerResult, MAX_INLINE_RESULT_BYTES,
    StepLedger, StepRecord, StepStatus, now_ms, storage_key,
};

/// A case of the ledger suite.
pub type LedgerCase = fn(&dyn StepLedger);

/// Runs `case` on the ledger of `made`, then drops the ledger before its
/// guard (a temp dir must outlive the files in it).
pub fn run_ledger_case<L: StepLedger, G>(made: (L, G), case: LedgerCase) {
    let (ledger, guard) = made;
    case(&ledger as &dyn StepLedger);
    drop(ledger);
    drop(guard);
}

/// A fresh namespace.
fn namespace() -> String {
    format!("ns-{:016x}", fastrand::u64(..))
}

/// Lets the clock move past the millisecond of what was just written.
fn tick() {
    std::thread::sleep(Duration::from_millis(3));
}

fn ok<T>(what: &str, result: LedgerResult<T>) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Claims `key`, which must be claimable; the token and record.
fn take(
    ledger: &dyn StepLedger,
    ns: &str,
    key: &str,
    options: &ClaimOptions,
) -> (String, StepRecord) {
    match ok("claim", ledger.claim(ns, key, options)) {
        Claim::Claimed { token, record } => (token, record),
        other => panic!("claim of {ns}/{key}: expected claimed, got {other:?}"),
    }
}

fn get(ledger: &dyn StepLedger, ns: &str, key: &str) -> StepRecord {
    ok("get", ledger.get(ns, key)).unwrap_or_else(|| panic!("get {ns}/{key}: no record"))
}

/// Asserts `result` is `LeaseLost` for `ns`/`key` with `reason`.
fn assert_lost<T: std::fmt::Debug>(
    what: &str,
    result: LedgerResult<T>,
    ns: &str,
    key: &str,
    reason: LeaseLostReason,
) {
    match result {
        Err(LedgerError::LeaseLost {
            namespace,
            key: k,
            reason: r,
        }) => {
            assert_eq!(
                (namespace.as_str(), k.as_str()),
                (ns, key),
                "{what}: names the step"
            );
            assert_eq!(r, reason, "{what}: the reason");
        }
        other => panic!("{what}: expected LeaseLost ({reason}), got {other:?}"),
    }
}

/// A new step is claimed: a 32-hex-digit token, attempts 1, the owner,
/// the lease's end, created = updated.
pub fn ledger_claim_new(ledger: &dyn StepLedger) {
    let ns = namespace();
    let before = now_ms();
    let options = ClaimOptions::new().with_owner("run-1").with_lease_ms(5_000);
    let (token, record) = take(ledger, &ns, "k", &options);
    let after = now_ms();
    assert_eq!(token.len(), 32, "token is 16 bytes of hex: {token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(record.status, StepStatus::Claimed);
    assert_eq!(record.lease_token.as_deref(), Some(token.as_str()));
    assert_eq!(
        (record.namespace.as_str(), record.key.as_str()),
        (ns.as_str(), "k")
    );
    assert_eq!(record.owner_run_id.as_deref(), Some("run-1"));
    assert_eq!(record.attempts, 1);
    assert_eq!(record.created_at, record.updated_at);
    let until = record.lease_until.expect("a claimed record has a lease");
    assert!(
        (before + 5_000..=after + 5_000).contains(&until),
        "lease_until {until}"
    );
    assert_eq!(
        get(ledger, &ns, "k"),
        record,
        "get returns the claimed record"
    );
    let (_, other) = take(ledger, &ns, "k2", &ClaimOptions::new());
    assert_eq!(other.owner_run_id, None);
    let until = other.lease_until.expect("lease");
    assert!(until >= before + 60_000, "the default lease is 60 s");
}

/// A live lease makes a second claim busy, leaving the record unchanged.
pub fn ledger_claim_live_is_busy(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (_, record) = take(ledger, &ns, "k", &ClaimOptions::new().with_owner("a"));
    let busy = ok(
        "second claim",
        ledger.claim(&ns, "k", &ClaimOptions::new().with_owner("b")),
    );
    assert_eq!(busy.kind(), "busy");
    assert_eq!(busy.token(), None);
    assert_eq!(busy.record(), &record, "busy returns the holder's record");
    assert_eq!(get(ledger, &ns, "k"), record, "busy changes nothing");
}

/// A lapsed lease (here `lease_ms = 0`) is claimed again: a new token,
/// attempts + 1, the new owner, `createdAt` kept; the old token is
/// fenced off.
pub fn ledger_claim_lapsed_reclaims(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (old, first) = take(
        ledger,
        &ns,
        "k",
        &ClaimOptions::new().with_owner("a").with_lease_ms(0),
    );
    tick();
    let (new, second) = take(ledger, &ns, "k", &ClaimOptions::new().with_lease_ms(60_000));
    assert_ne!(old, new, "a new claim gets a new token");
    assert_eq!(second.attempts, 2);
    assert_eq!(
        second.created_at, first.created_at,
        "createdAt survives a re-claim"
    );
    assert!(second.updated_at > first.updated_at);
    assert_eq!(second.owner_run_id, None, "the owner is the new claim's");
    assert_lost(
        "done with the old token",
        ledger.done(&ns, "k", &old, json!(1), None),
        &ns,
        "k",
        LeaseLostReason::TokenMismatch,
    );
    assert_lost(
        "fail with the old token",
        ledger.fail(&ns, "k", &old, "x"),
        &ns,
        "k",
        LeaseLostReason::TokenMismatch,
    );
    assert_eq!(ok("touch", ledger.touch(&ns, "k", &old, None)), None);
    assert_eq!(
        get(ledger, &ns, "k"),
        second,
        "the fenced calls changed nothing"
    );
}

/// A done step's claim is `done` with the record unchanged; `done`
/// clears the lease and keeps attempts and owner.
pub fn ledger_done_then_claim_is_done(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (token, claimed) = take(ledger, &ns, "k", &ClaimOptions::new().with_owner("run-1"));
    tick();
    let result = json!({"labels": ["cat", "中文"], "score": 0.5});
    let done = ok(
        "done",
        ledger.done(&ns, "k", &token, result.clone(), Some("s3://b/k")),
    );
    assert_eq!(done.status, StepStatus::Done);
    assert_eq!(done.result, result);
    assert_eq!(done.result_ref.as_deref(), Some("s3://b/k"));
    assert_eq!(
        (
            done.lease_token.as_ref(),
            done.lease_until,
            done.error.as_ref()
        ),
        (None, None, None)
    );
    assert_eq!(done.attempts, 1);
    assert_eq!(done.owner_run_id.as_deref(), Some("run-1"));
    assert_eq!(done.created_at, claimed.created_at);
    assert!(done.updated_at > claimed.updated_at);
    assert_eq!(get(ledger, &ns, "k"), done);
    let again = ok(
        "claim of a done step",
        ledger.claim(&ns, "k", &ClaimOptions::new().with_lease_ms(0)),
    );
    assert_eq!(again, Claim::Done(done.clone()));
    assert_eq!(
        get(ledger, &ns, "k"),
        done,
        "claiming a done step changes nothing"
    );
}

/// `done` without a result stores JSON `null`.
pub fn ledger_done_without_result(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (token, _) = take(ledger, &ns, "k", &ClaimOptions::new());
    ok("done", ledger.done(&ns, "k", &token, Value::Null, None));
    let record = get(ledger, &ns, "k");
    assert_eq!(
        (record.status, &record.result, &record.result_ref),
        (StepStatus::Done, &Value::Null, &None)
    );
}

/// `done` and `fail` need the live lease: a missing record or a finished
/// one is `NotClaimed`, a wrong token `TokenMismatch`; nothing changes.
pub fn ledger_finish_needs_lease(ledger: &dyn StepLedger) {
    let ns = namespace();
    let lost = LeaseLostReason::NotClaimed;
    assert_lost(
        "done of a missing step",
        ledger.done(&ns, "none", "t", json!(1), None),
        &ns,
        "none",
        lost,
    );
    assert_lost(
        "fail of a missing step",
        ledger.fail(&ns, "none", "t", "e"),
        &ns,
        "none",
        lost,
    );
    assert_eq!(
        ok("get", ledger.get(&ns, "none")),
        None,
        "nothing was created"
    );
    let (token, claimed) = take(ledger, &ns, "k", &ClaimOptions::new());
    let wrong = LeaseLostReason::TokenMismatch;
    assert_lost(
        "done, wrong token",
        ledger.done(&ns, "k", "0123", json!(1), None),
        &ns,
        "k",
        wrong,
    );
    assert_lost(
        "fail, wrong token",
        ledger.fail(&ns, "k", "0123", "e"),
        &ns,
        "k",
        wrong,
    );
    assert_eq!(
        get(ledger, &ns, "k"),
        claimed,
        "refused calls change nothing"
    );
    let done = ok("done", ledger.done(&ns, "k", &token, json!(1), None));
    assert_lost(
        "done twice",
        ledger.done(&ns, "k", &token, json!(2), None),
        &ns,
        "k",
        lost,
    );
    assert_lost(
        "fail after done",
        ledger.fail(&ns, "k", &token, "e"),
        &ns,
        "k",
        lost,
    );
    assert_eq!(get(ledger, &ns, "k"), done);
    let text = ledger
        .done(&ns, "k", &token, json!(2), None)
        .expect_err("refused")
        .to_string();
    assert!(
        text.contains(&format!("{ns}/k")),
        "the message names the step: {text}"
    );
}

/// `done` and `fail` do not check expiry: a lapsed lease nobody
/// re-claimed is still the caller's.
pub fn ledger_finish_lapsed_unclaimed(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (token, _) = take(ledger, &ns, "k", &ClaimOptions::new().with_lease_ms(0));
    tick();
    let done = ok(
        "done after the lease lapsed",
        ledger.done(&ns, "k", &token, json!("late"), None),
    );
    assert_eq!(done.status, StepStatus::Done);
}

/// `fail` records the error and is terminal: claims say `failed` until
/// `reset`, after which the step starts over at attempt 1.
pub fn ledger_fail_is_terminal(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (token, _) = take(ledger, &ns, "k", &ClaimOptions::new().with_owner("run-1"));
    let failed = ok("fail", ledger.fail(&ns, "k", &token, "boom: 中文"));
    assert_eq!(failed.status, StepStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("boom: 中文"));
    assert_eq!(
        (
            failed.lease_token.as_ref(),
            failed.lease_until,
            &failed.result
        ),
        (None, None, &Value::Null)
    );
    assert_eq!(failed.attempts, 1);
    for _ in 0..2 {
        let claim = ok(
            "claim of a failed step",
            ledger.claim(&ns, "k", &ClaimOptions::new().with_lease_ms(0)),
        );
        assert_eq!(claim, Claim::Failed(failed.clone()));
    }
    assert!(ok("reset", ledger.reset(&ns, "k")));
    let (_, again) = take(ledger, &ns, "k", &ClaimOptions::new());
    assert_eq!(
        (again.attempts, &again.error),
        (1, &None),
        "reset starts the step over"
    );
}

/// `touch` with the token extends the lease (even a lapsed one nobody
/// re-claimed); with a wrong token, or on a missing or finished step,
/// it returns `None` and changes nothing.
pub fn ledger_touch(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (token, claimed) = take(ledger, &ns, "k", &ClaimOptions::new().with_lease_ms(0));
    tick();
    let before = now_ms();
    let touched = ok("touch", ledger.touch(&ns, "k", &token, Some(30_000))).expect("touched");
    assert!(touched.lease_until.expect("lease") >= before + 30_000);
    assert!(touched.updated_at > claimed.updated_at);
    assert_eq!(
        (touched.attempts, touched.lease_token.as_deref()),
        (1, Some(token.as_str()))
    );
    assert_eq!(get(ledger, &ns, "k"), touched);
    assert_eq!(
        ok("claim", ledger.claim(&ns, "k", &ClaimOptions::new())).kind(),
        "busy",
        "the revived lease is live"
    );
    let default = ok("touch", ledger.touch(&ns, "k", &token, None)).expect("touched");
    assert!(
        default.lease_until.expect("lease") >= before + 60_000,
        "the default extension is 60 s"
    );
    assert_eq!(
        ok("touch, wrong token", ledger.touch(&ns, "k", "nope", None)),
        None
    );
    assert_eq!(
        ok("touch, missing", ledger.touch(&ns, "missing", &token, None)),
        None
    );
    assert_eq!(ok("get", ledger.get(&ns, "missing")), None);
    let done = ok("done", ledger.done(&ns, "k", &token, json!(1), None));
    assert_eq!(
        ok("touch after done", ledger.touch(&ns, "k", &token, None)),
        None
    );
    assert_eq!(get(ledger, &ns, "k"), done);
}

/// A result over the inline limit (as Python measures it) is refused
/// and the claim stays; one at the limit is stored.
pub fn ledger_result_size_limit(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (token, claimed) = take(ledger, &ns, "k", &ClaimOptions::new());
    // A JSON string is its text and two quotes.
    let too_big = json!("x".repeat(MAX_INLINE_RESULT_BYTES - 1));
    match ledger.done(&ns, "k", &token, too_big, None) {
        Err(LedgerError::ResultTooLarge { bytes, limit, .. }) => {
            assert_eq!(
                (bytes, limit),
                (MAX_INLINE_RESULT_BYTES + 1, MAX_INLINE_RESULT_BYTES)
            );
        }
        other => panic!("an oversized result: expected ResultTooLarge, got {other:?}"),
    }
    assert_eq!(
        get(ledger, &ns, "k"),
        claimed,
        "the refused done changed nothing"
    );
    let fits = json!("x".repeat(MAX_INLINE_RESULT_BYTES - 2));
    let done = ok(
        "done at the limit",
        ledger.done(&ns, "k", &token, fits.clone(), None),
    );
    assert_eq!(get(ledger, &ns, "k").result, fits);
    assert_eq!(done.result, fits);
}

/// `get` of a missing step is `None`; `reset` deletes and says whether
/// there was a record.
pub fn ledger_get_and_reset(ledger: &dyn StepLedger) {
    let ns = namespace();
    assert_eq!(ok("get", ledger.get(&ns, "k")), None);
    assert!(!ok("reset of a missing step", ledger.reset(&ns, "k")));
    take(ledger, &ns, "k", &ClaimOptions::new());
    assert!(ok("reset", ledger.reset(&ns, "k")));
    assert_eq!(ok("get after reset", ledger.get(&ns, "k")), None);
    assert!(!ok("reset again", ledger.reset(&ns, "k")));
}

/// `list` gives the namespace's records, filtered by status when asked
/// (on every backend, unlike mooncat 0.1.0's SQLite), newest first.
pub fn ledger_list(ledger: &dyn StepLedger) {
    let (ns, other) = (namespace(), namespace());
    let (t1, _) = take(ledger, &ns, "a", &ClaimOptions::new());
    tick();
    take(ledger, &ns, "b", &ClaimOptions::new());
    tick();
    let (t3, _) = take(ledger, &ns, "c", &ClaimOptions::new());
    tick();
    ok("done a", ledger.done(&ns, "a", &t1, json!("A"), None));
    tick();
    ok("fail c", ledger.fail(&ns, "c", &t3, "C"));
    take(ledger, &other, "a", &ClaimOptions::new());
    let keys = |status| -> Vec<String> {
        ok("list", ledger.list(&ns, status))
            .into_iter()
            .map(|r| r.key)
            .collect()
    };
    assert_eq!(keys(None), ["c", "a", "b"], "newest updatedAt first");
    assert_eq!(keys(Some(StepStatus::Done)), ["a"]);
    assert_eq!(keys(Some(StepStatus::Failed)), ["c"]);
    assert_eq!(keys(Some(StepStatus::Claimed)), ["b"]);
    assert_eq!(
        ok("list", ledger.list(&namespace(), None)),
        Vec::new(),
        "an unknown namespace is empty"
    );
    let done = ok("list", ledger.list(&ns, Some(StepStatus::Done)));
    assert_eq!(
        done,
        vec![get(ledger, &ns, "a")],
        "list returns whole records"
    );
}

/// `gc` removes, in every namespace, only the claims whose lease ended
/// more than `older_than_ms` ago.
pub fn ledger_gc(ledger: &dyn StepLedger) {
    let (ns, other) = (namespace(), namespace());
    let lapsed = ClaimOptions::new().with_lease_ms(0);
    take(ledger, &ns, "lapsed", &lapsed);
    take(ledger, &other, "lapsed", &lapsed);
    take(ledger, &ns, "live", &ClaimOptions::new());
    let (t, _) = take(ledger, &ns, "done", &lapsed);
    ok("done", ledger.done(&ns, "done", &t, json!(1), None));
    let (t, _) = take(ledger, &ns, "failed", &lapsed);
    ok("fail", ledger.fail(&ns, "failed", &t, "e"));
    tick();
    assert_eq!(ok("gc with an hour's grace", ledger.gc(3_600_000)), 0);
    assert_eq!(ok("gc", ledger.gc(0)), 2, "both lapsed claims");
    assert_eq!(ok("get", ledger.get(&ns, "lapsed")), None);
    assert_eq!(ok("get", ledger.get(&other, "lapsed")), None);
    for key in ["live", "done", "failed"] {
        assert!(ok("get", ledger.get(&ns, key)).is_some(), "gc kept {key}");
    }
    assert_eq!(ok("gc again", ledger.gc(0)), 0);
}

/// Every call but `gc` refuses a bad namespace, naming it, and changes
/// nothing.
pub fn ledger_invalid_namespace(ledger: &dyn StepLedger) {
    for bad in ["", "a/b", "a.b", "..", "名前", "a b"] {
        let refused = |what: &str, err: Option<LedgerError>| match err {
            Some(LedgerError::InvalidNamespace { namespace, .. }) => assert_eq!(namespace, bad),
            other => {
                panic!("{what} in namespace {bad:?}: expected InvalidNamespace, got {other:?}")
            }
        };
        refused("claim", ledger.claim(bad, "k", &ClaimOptions::new()).err());
        refused("touch", ledger.touch(bad, "k", "t", None).err());
        refused("done", ledger.done(bad, "k", "t", json!(1), None).err());
        refused("fail", ledger.fail(bad, "k", "t", "e").err());
        refused("get", ledger.get(bad, "k").err());
        refused("reset", ledger.reset(bad, "k").err());
        refused("list", ledger.list(bad, None).err());
    }
    assert_eq!(ok("gc", ledger.gc(0)), 0);
}

/// Any text is a key: the record keeps the raw key, whatever its storage
/// key.
pub fn ledger_any_key(ledger: &dyn StepLedger) {
    let ns = namespace();
    let long = "k".repeat(200);
    for key in [
        "https://example.com/x?a=1 中文",
        "..",
        ".",
        "a/../../b",
        long.as_str(),
        "img-001",
        "",
    ] {
        let (token, _) = take(ledger, &ns, key, &ClaimOptions::new());
        ok(
            "done",
            ledger.done(&ns, key, &token, json!({"key": key}), None),
        );
        let record = get(ledger, &ns, key);
        assert_eq!(
            (record.key.as_str(), &record.result),
            (key, &json!({"key": key}))
        );
        assert_ne!(storage_key(key), "", "{key:?} has a storage key");
    }
    assert_eq!(ok("list", ledger.list(&ns, None)).len(), 7);
}

/// Of many threads claiming one step at once, exactly one gets it.
pub fn ledger_concurrent_claims(ledger: &dyn StepLedger) {
    let ns = namespace();
    for round in 0..5 {
        let key = format!("k{round}");
        let claims: Vec<Claim> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (ns, key) = (&ns, &key);
                    s.spawn(move || {
                        let options = ClaimOptions::new().with_owner(format!("w{i}"));
                        ok("claim", ledger.claim(ns, key, &options))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a claimer"))
                .collect()
        });
        let won: Vec<&Claim> = claims.iter().filter(|c| c.kind() == "claimed").collect();
        assert_eq!(
            won.len(),
            1,
            "round {round}: exactly one claim wins: {claims:?}"
        );
        assert!(
            claims
                .iter()
                .all(|c| c.kind() != "failed" && c.kind() != "done")
        );
        assert_eq!(
            get(ledger, &ns, &key).owner_run_id,
            won[0].record().owner_run_id
        );
    }
}

/// The record's JSON is mooncat's: camelCase keys in its order.
pub fn ledger_record_json(ledger: &dyn StepLedger) {
    let ns = namespace();
    let (token, _) = take(ledger, &ns, "k", &ClaimOptions::new().with_owner("o"));
    ok("done", ledger.done(&ns, "k", &token, json!([1]), None));
    let text = serde_json::to_string(&get(ledger, &ns, "k")).expect("a record serialises");
    let keys: Vec<&str> = [
        "namespace",
        "key",
        "status",
        "ownerRunId",
        "leaseToken",
        "leaseUntil",
        "result",
        "resultRef",
        "error",
        "attempts",
        "createdAt",
        "updatedAt",
    ]
    .into_iter()
    .collect();
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} in {text}"))
        })
        .collect();
    assert!(positions.is_sorted(), "keys in mooncat's order: {text}");
    assert!(
        text.contains(r#""status":"done""#) && text.contains(r#""leaseToken":null"#),
        "{text}"
    );
}

/// Emits `mod $name { ... }` with one `#[test]` per ledger case, named
/// `<backend>::<case>`. `$make` is evaluated once per test and must give
/// `(ledger, guard)`.
#[macro_export]
macro_rules! ledger_suite {
    ($name:ident, $make:expr $(,)?) => {
        $crate::ledger_suite! { @cases $name, $make, [
            ledger_claim_new,
            ledger_claim_live_is_busy,
            ledger_claim_lapsed_reclaims,
            ledger_done_then_claim_is_done,
            ledger_done_without_result,
            ledger_finish_needs_lease,
            ledger_finish_lapsed_unclaimed,
            ledger_fail_is_terminal,
            ledger_touch,
            ledger_result_size_limit,
            ledger_get_and_reset,
            ledger_list,
            ledger_gc,
            ledger_invalid_namespace,
            ledger_any_key,
            ledger_concurrent_claims,
            ledger_record_json,
        ] }
    };
    (@cases $name:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $case() {
                    $crate::conformance::ledger::run_ledger_case(
                        $make,
                        $crate::conformance::ledger::$case,
                    );
                }
            )*
        }
    };
}
