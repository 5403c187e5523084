//! The in-memory event log: the reference implementation of the contract.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::error::EventResult;
use super::event::Event;
use super::log::{EventLog, check_event, check_run_id, duplicate, select_since};
use super::state::RunState;

/// An [`EventLog`] in memory, for tests and for runs that need not survive
/// the process. It stores copies (purpose-agent's in-memory log stores
/// references, so a caller's later change showed in it).
#[derive(Debug, Default)]
pub struct MemoryEventLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    runs: HashMap<String, Run>,
    /// Increases at every snapshot: orders `list_runs` without a clock.
    stamp: u64,
}

#[derive(Debug, Default)]
struct Run {
    events: Vec<Event>,
    numbers: HashSet<(String, u64)>,
    snapshot: Option<(u64, RunState)>,
}

impl MemoryEventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events the log holds, over all runs.
    pub fn event_count(&self) -> usize {
        self.lock().runs.values().map(|r| r.events.len()).sum()
    }

    /// How many runs have a snapshot.
    pub fn snapshot_count(&self) -> usize {
        self.lock()
            .runs
            .values()
            .filter(|r| r.snapshot.is_some())
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change below is complete before it can panic, so a
        // poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventLog for MemoryEventLog {
    fn save_event(&self, event: &Event) -> EventResult<()> {
        check_event(event)?;
        let mut inner = self.lock();
        let run = inner.runs.entry(event.run_id.clone()).or_default();
        if !run.numbers.insert((event.lane_id.clone(), event.seq)) {
            return Err(duplicate(event));
        }
        run.events.push(event.clone());
        Ok(())
    }

    fn list_events(&self, run_id: &str, since_seq: u64) -> EventResult<Vec<Event>> {
        check_run_id("list_events", run_id)?;
        let inner = self.lock();
        let events = inner.runs.get(run_id).map(|r| r.events.iter().cloned());
        Ok(select_since(events.into_iter().flatten(), since_seq))
    }

    fn save_snapshot(&self, run_id: &str, state: &RunState) -> EventResult<()> {
        check_run_id("save_snapshot", run_id)?;
        let mut inner = self.lock();
        inner.stamp += 1;
        let stamp = inner.stamp;
        inner.runs.entry(run_id.to_owned()).or_default().snapshot = Some((stamp, state.clone()));
        Ok(())
    }

    fn load_latest(&self, run_id: &str) -> EventResult<Option<RunState>> {
        check_run_id("load_latest", run_id)?;
        let inner = self.lock();
        Ok(inner
            .runs
            .get(run_id)
            .and_then(|r| r.snapshot.as_ref().map(|(_, s)| s.clone())))
    }

    fn delete_run(&self, run_id: &str) -> EventResult<()> {
        check_run_id("delete_run", run_id)?;
        self.lock().runs.remove(run_id);
        Ok(())
    }

    fn list_runs(&self) -> EventResult<Vec<String>> {
        let inner = self.lock();
        let mut runs: Vec<(u64, &String)> = inner
            .runs
            .iter()
            .filter_map(|(id, r)| r.snapshot.as_ref().map(|(stamp, _)| (*stamp, id)))
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.0));
        Ok(runs.into_iter().map(|(_, id)| id.clone()).collect())
    }

    fn last_seq(&self, run_id: &str, lane_id: &str) -> EventResult<u64> {
        check_run_id("last_seq", run_id)?;
        let inner = self.lock();
        Ok(inner.runs.get(run_id).map_or(0, |r| {
            r.events
                .iter()
                .filter(|e| e.lane_id == lane_id)
                .map(|e| e.seq)
                .max()
                .unwrap_or(0)
        }))
    }
}
