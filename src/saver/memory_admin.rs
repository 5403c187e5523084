//! [`CheckpointAdmin`] for [`InMemorySaver`]: the reference the SQLite
//! implementation is tested against. A child module of `memory`, so it
//! reads the saver's maps directly.

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use super::{InMemorySaver, Namespace, Thread, store_checkpoint};
use crate::saver::admin::{
    CheckpointAdmin, CheckpointSummary, ThreadSummary, Vacuumed, written_before,
};
use crate::saver::checkpoint::ChannelVersions;
use crate::saver::checks::{check_put, require_thread};
use crate::saver::config::Config;
use crate::saver::error::{Error, Result};
use crate::saver::tuple::CheckpointTuple;

impl CheckpointAdmin for InMemorySaver {
    fn has_thread(&self, thread_id: &str) -> Result<bool> {
        Ok(self.read().contains_key(thread_id))
    }

    fn threads(&self, limit: Option<usize>) -> Result<Vec<ThreadSummary>> {
        let threads = self.read();
        let mut summaries: Vec<ThreadSummary> = threads
            .iter()
            .filter_map(|(id, thread)| summarise(id, thread))
            .collect();
        summaries.sort_by(|a, b| {
            (&b.latest_checkpoint_id, &a.thread_id).cmp(&(&a.latest_checkpoint_id, &b.thread_id))
        });
        summaries.truncate(limit.unwrap_or(usize::MAX));
        Ok(summaries)
    }

    fn checkpoint_summaries(
        &self,
        thread_id: &str,
        ns: Option<&str>,
    ) -> Result<Vec<CheckpointSummary>> {
        let threads = self.read();
        let Some(thread) = threads.get(thread_id) else {
            return Ok(Vec::new());
        };
        let mut rows: Vec<CheckpointSummary> = thread
            .iter()
            .filter(|(name, _)| ns.is_none_or(|wanted| wanted == name.as_str()))
            .flat_map(|(name, namespace)| {
                namespace.checkpoints.values().map(|s| CheckpointSummary {
                    checkpoint_ns: name.clone(),
                    checkpoint: s.checkpoint.clone(),
                    metadata: s.metadata.clone(),
                    parent_checkpoint_id: s.parent_id.clone(),
                })
            })
            .collect();
        rows.sort_by(|a, b| {
            (&b.checkpoint.id, &b.checkpoint_ns).cmp(&(&a.checkpoint.id, &a.checkpoint_ns))
        });
        Ok(rows)
    }

    fn import_thread(
        &self,
        thread_id: &str,
        tuples: &[CheckpointTuple],
        progress: &mut dyn FnMut(usize),
    ) -> Result<()> {
        require_thread("import_thread", thread_id)?;
        // Staged apart, then moved in under the lock: a refused import
        // leaves nothing behind.
        let mut staged = HashMap::new();
        for (done, t) in tuples.iter().enumerate() {
            check_put(&Config::thread(thread_id), &t.checkpoint)?;
            import_tuple(&mut staged, thread_id, t);
            progress(done + 1);
        }
        let mut threads = self.write();
        if threads.contains_key(thread_id) {
            return Err(Error::TargetNotEmpty {
                source_thread: "(import)".to_owned(),
                target_thread: thread_id.to_owned(),
            });
        }
        threads.extend(staged);
        Ok(())
    }

    fn prune_older_than(&self, thread_ids: &[String], cutoff: SystemTime) -> Result<u64> {
        let mut threads = self.write();
        // A leased thread is its runner's: refused, naming the holder.
        let fence = self.leases();
        for thread_id in thread_ids {
            crate::saver::lease::check_write(
                thread_id,
                fence.get(thread_id),
                SystemTime::now(),
                None,
            )?;
        }
        let mut removed = 0;
        for thread_id in thread_ids {
            let Some(thread) = threads.get_mut(thread_id) else {
                continue;
            };
            let from_thread: u64 = thread
                .values_mut()
                .map(|ns| prune_namespace(ns, cutoff))
                .sum();
            if from_thread > 0 {
                // As in SQLite: once anything of a thread went, no
                // checkpoint of it names a parent that is not there.
                thread.values_mut().for_each(unlink_orphans);
            }
            removed += from_thread;
        }
        Ok(removed)
    }

    /// Not applicable: nothing is on disk, and removed values are freed as
    /// they are removed.
    fn vacuum(&self) -> Result<Option<Vacuumed>> {
        Ok(None)
    }
}

/// A thread's summary; `None` for a thread without checkpoints (the saver
/// removes those, so never in practice).
fn summarise(thread_id: &str, thread: &Thread) -> Option<ThreadSummary> {
    let newest = thread
        .values()
        .filter_map(|ns| ns.checkpoints.values().next_back())
        .max_by(|a, b| a.checkpoint.id.cmp(&b.checkpoint.id))?;
    let checkpoints = thread
        .values()
        .map(|ns| ns.checkpoints.len())
        .sum::<usize>();
    Some(ThreadSummary {
        thread_id: thread_id.to_owned(),
        checkpoints: checkpoints as u64,
        namespaces: thread.len() as u64,
        latest_checkpoint_id: newest.checkpoint.id.clone(),
        last_step: newest.metadata.step,
        last_ts: Some(newest.checkpoint.ts.clone()),
    })
}

/// Adds one checkpoint of an import to `staged` as `put` stores it, from
/// a config with no metadata to merge (so the metadata goes in verbatim)
/// and the tuple's parent; then its writes with their own `idx` (a
/// repeated `(task_id, idx)` replaces the earlier).
fn import_tuple(staged: &mut HashMap<String, Thread>, thread_id: &str, t: &CheckpointTuple) {
    let ns = t.config.ns();
    let mut config = Config::thread(thread_id).with_ns(ns);
    config.checkpoint_id = t
        .parent_config
        .as_ref()
        .and_then(|p| p.checkpoint_id.clone());
    // No channel is announced as new: each value is kept under the first
    // checkpoint that names its version, as the SQLite import does.
    store_checkpoint(
        staged,
        &config,
        &t.checkpoint,
        &t.metadata,
        &ChannelVersions::new(),
    );
    let Some(namespace) = staged.get_mut(thread_id).and_then(|th| th.get_mut(ns)) else {
        return;
    };
    let writes = namespace.writes.entry(t.checkpoint.id.clone()).or_default();
    for w in &t.pending_writes {
        writes.insert((w.task_id.clone(), w.idx), w.clone());
    }
}

/// Removes the checkpoints of one namespace written before `cutoff` but
/// its newest; returns how many.
fn prune_namespace(ns: &mut Namespace, cutoff: SystemTime) -> u64 {
    let Some(latest) = ns.checkpoints.keys().next_back().cloned() else {
        return 0;
    };
    let doomed: BTreeSet<String> = ns
        .checkpoints
        .iter()
        .filter(|(id, s)| **id != latest && written_before(&s.checkpoint.ts, cutoff))
        .map(|(id, _)| id.clone())
        .collect();
    if doomed.is_empty() {
        return 0;
    }
    ns.checkpoints.retain(|id, _| !doomed.contains(id));
    ns.collect_garbage();
    doomed.len() as u64
}

/// Clears the parent link of each checkpoint whose parent is gone.
fn unlink_orphans(ns: &mut Namespace) {
    let kept: BTreeSet<String> = ns.checkpoints.keys().cloned().collect();
    for stored in ns.checkpoints.values_mut() {
        if stored.parent_id.as_ref().is_some_and(|p| !kept.contains(p)) {
            stored.parent_id = None;
        }
    }
}
