//! The in-memory step ledger: the reference implementation.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::machine::{self, Outcome, ledger_transitions};
use super::{LedgerResult, StepLedger, StepRecord, StepStatus, check_namespace, now_ms};

/// namespace → key → record.
type Records = BTreeMap<String, HashMap<String, StepRecord>>;

/// A step ledger in memory (mooncat's `memory://`), for tests and
/// one-process runs: it is gone when dropped. Records are keyed by the
/// raw key, as mooncat's memory backend does.
///
/// ```
/// use checkpointer::ledger::{Claim, ClaimOptions, MemoryLedger, StepLedger};
/// use serde_json::json;
///
/// let ledger = MemoryLedger::new();
/// let Claim::Claimed { token, .. } = ledger.claim("vision", "img-1", &ClaimOptions::new())? else {
///     unreachable!("a new step is claimed");
/// };
/// ledger.done("vision", "img-1", &token, json!({"labels": ["cat"]}), None)?;
/// // The step is done: a second claim gets the result instead of a lease.
/// let again = ledger.claim("vision", "img-1", &ClaimOptions::new())?;
/// assert_eq!(again.kind(), "done");
/// assert_eq!(again.record().result, json!({"labels": ["cat"]}));
/// # Ok::<(), checkpointer::ledger::LedgerError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryLedger {
    records: Mutex<Records>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        MemoryLedger::default()
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        // A panic elsewhere cannot leave a record half-written: every
        // change is one insert or remove.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update<T>(
        &self,
        _operation: &'static str,
        ns: &str,
        key: &str,
        change: impl FnOnce(Option<StepRecord>, i64) -> LedgerResult<Outcome<T>>,
    ) -> LedgerResult<T> {
        let mut records = self.lock();
        let old = records.get(ns).and_then(|m| m.get(key)).cloned();
        let (out, write) = change(old, now_ms())?;
        if let Some(record) = write {
            records
                .entry(ns.to_owned())
                .or_default()
                .insert(key.to_owned(), record);
        }
        Ok(out)
    }
}

impl StepLedger for MemoryLedger {
    ledger_transitions!();

    fn get(&self, ns: &str, key: &str) -> LedgerResult<Option<StepRecord>> {
        check_namespace("get", ns)?;
        Ok(self.lock().get(ns).and_then(|m| m.get(key)).cloned())
    }

    fn reset(&self, ns: &str, key: &str) -> LedgerResult<bool> {
        check_namespace("reset", ns)?;
        Ok(self
            .lock()
            .get_mut(ns)
            .is_some_and(|m| m.remove(key).is_some()))
    }

    fn list(&self, ns: &str, status: Option<StepStatus>) -> LedgerResult<Vec<StepRecord>> {
        check_namespace("list", ns)?;
        let records = self
            .lock()
            .get(ns)
            .map(|m| m.values().cloned().collect::<Vec<_>>());
        Ok(machine::listing(records.unwrap_or_default(), status))
    }

    fn gc(&self, older_than_ms: u64) -> LedgerResult<usize> {
        let cutoff = machine::gc_cutoff(now_ms(), older_than_ms);
        let mut removed = 0;
        for records in self.lock().values_mut() {
            let before = records.len();
            records.retain(|_, r| !machine::gc_due(r, cutoff));
            removed += before - records.len();
        }
        Ok(removed)
    }
}
