//! The state machine of a step, as pure functions over the record a
//! backend read: every backend runs them inside its own lock or
//! transaction and writes what they return, so the rules of the
//! [contract](super::StepLedger#contract) are written once.
//!
//! A backend implements one private method,
//! `update(operation, namespace, key, change)`, which reads the record
//! (`None` when absent), calls `change(record, now)` and, in the same
//! lock or transaction, writes the record `change` returns (if any); the
//! crate's `ledger_transitions!` macro then gives it
//! `claim`, `touch`, `done` and `fail`.

use serde_json::Value;

use super::size::{MAX_INLINE_RESULT_BYTES, python_json_len};
use super::token::new_lease_token;
use super::{
    Claim, ClaimOptions, DEFAULT_EXTEND_MS, DEFAULT_LEASE_MS, LeaseLostReason, LedgerError,
    LedgerResult, StepRecord, StepStatus,
};

/// What a transition returns, and the record to write (none: nothing
/// changes).
pub type Outcome<T> = (T, Option<StepRecord>);

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `claim`: the contract's four cases in order.
pub fn claim(
    existing: Option<StepRecord>,
    namespace: &str,
    key: &str,
    options: &ClaimOptions,
    now: i64,
) -> Outcome<Claim> {
    let (attempts, created_at) = match existing {
        Some(record) if record.status == StepStatus::Done => return (Claim::Done(record), None),
        Some(record) if record.status == StepStatus::Failed => {
            return (Claim::Failed(record), None);
        }
        Some(record) if record.lease_until.is_some_and(|u| u != 0 && u > now) => {
            return (Claim::Busy(record), None);
        }
        Some(record) => (record.attempts, record.created_at),
        None => (0, now),
    };
    let token = new_lease_token();
    let lease = ms(options.lease_ms.unwrap_or(DEFAULT_LEASE_MS));
    let record = StepRecord {
        namespace: namespace.to_owned(),
        key: key.to_owned(),
        status: StepStatus::Claimed,
        owner_run_id: options.owner_run_id.clone(),
        lease_token: Some(token.clone()),
        lease_until: Some(now.saturating_add(lease)),
        result: Value::Null,
        result_ref: None,
        error: None,
        attempts: attempts.saturating_add(1),
        created_at,
        updated_at: now,
    };
    (
        Claim::Claimed {
            token,
            record: record.clone(),
        },
        Some(record),
    )
}

/// Whether `record` is claimed under `token`.
fn holds(record: &StepRecord, token: &str) -> bool {
    record.status == StepStatus::Claimed && record.lease_token.as_deref() == Some(token)
}

/// `touch`: the extended record, or `None` (nothing written).
pub fn touch(
    existing: Option<StepRecord>,
    token: &str,
    extend_ms: Option<u64>,
    now: i64,
) -> Outcome<Option<StepRecord>> {
    match existing {
        Some(mut record) if holds(&record, token) => {
            record.lease_until =
                Some(now.saturating_add(ms(extend_ms.unwrap_or(DEFAULT_EXTEND_MS))));
            record.updated_at = now;
            (Some(record.clone()), Some(record))
        }
        _ => (None, None),
    }
}

/// The record `done` and `fail` change, or `LeaseLost` (checked in
/// mooncat's order: not claimed, then the token).
fn leased(
    existing: Option<StepRecord>,
    namespace: &str,
    key: &str,
    token: &str,
) -> LedgerResult<StepRecord> {
    match existing {
        Some(record) if holds(&record, token) => Ok(record),
        Some(record) if record.status == StepStatus::Claimed => Err(LedgerError::lease_lost(
            namespace,
            key,
            LeaseLostReason::TokenMismatch,
        )),
        _ => Err(LedgerError::lease_lost(
            namespace,
            key,
            LeaseLostReason::NotClaimed,
        )),
    }
}

/// `done`: the finished record.
pub fn done(
    existing: Option<StepRecord>,
    namespace: &str,
    key: &str,
    (token, result, result_ref): (&str, Value, Option<&str>),
    now: i64,
) -> LedgerResult<Outcome<StepRecord>> {
    let mut record = leased(existing, namespace, key, token)?;
    record.status = StepStatus::Done;
    record.lease_token = None;
    record.lease_until = None;
    record.result = result;
    record.result_ref = result_ref.map(str::to_owned);
    record.error = None;
    record.updated_at = now;
    Ok((record.clone(), Some(record)))
}

/// `fail`: the failed record.
pub fn fail(
    existing: Option<StepRecord>,
    namespace: &str,
    key: &str,
    (token, error): (&str, &str),
    now: i64,
) -> LedgerResult<Outcome<StepRecord>> {
    let mut record = leased(existing, namespace, key, token)?;
    record.status = StepStatus::Failed;
    record.lease_token = None;
    record.lease_until = None;
    record.result = Value::Null;
    record.result_ref = None;
    record.error = Some(error.to_owned());
    record.updated_at = now;
    Ok((record.clone(), Some(record)))
}

/// Refuses a `done` result over the inline limit.
pub fn check_result_size(namespace: &str, key: &str, result: &Value) -> LedgerResult<()> {
    let bytes = python_json_len(result);
    if bytes > MAX_INLINE_RESULT_BYTES {
        return Err(LedgerError::ResultTooLarge {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            bytes,
            limit: MAX_INLINE_RESULT_BYTES,
        });
    }
    Ok(())
}

/// The `gc` cutoff: claims whose lease ended before it go.
pub fn gc_cutoff(now: i64, older_than_ms: u64) -> i64 {
    now.saturating_sub(ms(older_than_ms))
}

/// Whether `gc` with `cutoff` deletes `record`.
pub fn gc_due(record: &StepRecord, cutoff: i64) -> bool {
    record.status == StepStatus::Claimed && record.lease_until.is_some_and(|u| u < cutoff)
}

/// A listing as the contract says: the records with `status` (all when
/// `None`), newest `updatedAt` first, ties by key.
pub fn listing(
    records: impl IntoIterator<Item = StepRecord>,
    status: Option<StepStatus>,
) -> Vec<StepRecord> {
    let mut out: Vec<StepRecord> = records
        .into_iter()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .collect();
    out.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.key.cmp(&b.key))
    });
    out
}

/// Implements `claim`, `touch`, `done` and `fail` of
/// [`StepLedger`](crate::ledger::StepLedger) inside an `impl StepLedger`
/// block, through the type's `update` method (see
/// [`ledger::machine`](crate::ledger::machine)).
macro_rules! ledger_transitions {
    () => {
        fn claim(
            &self,
            ns: &str,
            key: &str,
            options: &$crate::ledger::ClaimOptions,
        ) -> $crate::ledger::LedgerResult<$crate::ledger::Claim> {
            $crate::ledger::check_namespace("claim", ns)?;
            self.update("claim", ns, key, |old, now| {
                Ok($crate::ledger::machine::claim(old, ns, key, options, now))
            })
        }

        fn touch(
            &self,
            ns: &str,
            key: &str,
            token: &str,
            extend_ms: Option<u64>,
        ) -> $crate::ledger::LedgerResult<Option<$crate::ledger::StepRecord>> {
            $crate::ledger::check_namespace("touch", ns)?;
            self.update("touch", ns, key, |old, now| {
                Ok($crate::ledger::machine::touch(old, token, extend_ms, now))
            })
        }

        fn done(
            &self,
            ns: &str,
            key: &str,
            token: &str,
            result: serde_json::Value,
            result_ref: Option<&str>,
        ) -> $crate::ledger::LedgerResult<$crate::ledger::StepRecord> {
            $crate::ledger::check_namespace("done", ns)?;
            $crate::ledger::machine::check_result_size(ns, key, &result)?;
            self.update("done", ns, key, |old, now| {
                $crate::ledger::machine::done(old, ns, key, (token, result, result_ref), now)
            })
        }

        fn fail(
            &self,
            ns: &str,
            key: &str,
            token: &str,
            error: &str,
        ) -> $crate::ledger::LedgerResult<$crate::ledger::StepRecord> {
            $crate::ledger::check_namespace("fail", ns)?;
            self.update("fail", ns, key, |old, now| {
                $crate::ledger::machine::fail(old, ns, key, (token, error), now)
            })
        }
    };
}

pub(crate) use ledger_transitions;
