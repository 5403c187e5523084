//! `InMemorySaver`: a thread-safe saver that keeps everything in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::Value;

use super::base::BaseCheckpointSaver;
use super::checkpoint::{ChannelVersions, Checkpoint, CheckpointMetadata};
use super::checks::{
    check_copy, check_metadata, check_put, check_writes, checkpoint_config, checkpoint_not_found,
    merged_metadata, require_thread, require_threads, writes_target,
};
use super::config::Config;
use super::error::{Error, Result};
use super::iter::CheckpointIter;
use super::list::ListOptions;
use super::prune::PruneStrategy;
use super::trace::{Call, traced};
use super::tuple::{CheckpointTuple, PendingWrite};
use super::version::ChannelVersion;
use super::writes::{WriteBatch, sort_pending_writes, special_idx, write_idx};

// `CheckpointAdmin` for this saver, in its own file; a child module so it
// reads the maps directly.
#[path = "memory_admin.rs"]
mod admin;
// Thread leases (issue 12).
#[path = "memory_lease.rs"]
mod lease;

/// A saver that keeps checkpoints in memory, for tests, examples and
/// short-lived programs. Everything is lost when it is dropped.
///
/// Like the SQLite saver, it stores each channel value once per
/// `(channel, version)`, so a long thread whose channels rarely change stays
/// small. It is safe to share between threads (`Arc<InMemorySaver>`).
///
/// ```
/// use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource,
///     ChannelVersions, Config, InMemorySaver};
///
/// let saver = InMemorySaver::new();
/// let cp = Checkpoint::new(-1).with_value("messages", serde_json::json!(["hi"]), 1);
/// let versions = cp.channel_versions.clone();
/// let stored = saver.put(
///     &Config::thread("t1"),
///     &cp,
///     &CheckpointMetadata::new(CheckpointSource::Input, -1),
///     &versions,
/// )?;
/// let latest = saver.get_tuple(&Config::thread("t1"))?.expect("just stored");
/// assert_eq!(latest.config, stored);
/// assert_eq!(latest.checkpoint.channel_values["messages"], serde_json::json!(["hi"]));
/// # Ok::<(), checkpointer::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct InMemorySaver {
    threads: RwLock<HashMap<String, Thread>>,
    /// The lease row of each thread ever leased (see `memory_lease`);
    /// locked after `threads` when both are held.
    leases: Mutex<HashMap<String, super::lease::Lease>>,
}

/// The namespaces of one thread.
type Thread = BTreeMap<String, Namespace>;

#[derive(Debug, Default, Clone)]
struct Namespace {
    /// Checkpoints by id, without channel values.
    checkpoints: BTreeMap<String, Stored>,
    /// Channel values by `(channel, version)`; `None` marks a channel that
    /// was versioned without a value.
    blobs: HashMap<(String, ChannelVersion), Option<Value>>,
    /// Writes per checkpoint id, by `(task_id, idx)`.
    writes: HashMap<String, BTreeMap<(String, i64), PendingWrite>>,
}

#[derive(Debug, Clone)]
struct Stored {
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    parent_id: Option<String>,
}

impl InMemorySaver {
    /// An empty saver.
    pub fn new() -> Self {
        InMemorySaver::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Thread>> {
        // A panic while holding the lock cannot leave a half-applied change:
        // every write builds its new state before it touches the map.
        self.threads
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Thread>> {
        self.threads
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn leases(&self) -> MutexGuard<'_, HashMap<String, super::lease::Lease>> {
        self.leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks `token` against the live lease of `thread_id`; call it with
    /// the `threads` write lock held and keep the guard until the write is
    /// done, so that no lease is taken between the check and the write.
    fn fenced(
        &self,
        thread_id: &str,
        token: Option<u64>,
    ) -> Result<MutexGuard<'_, HashMap<String, super::lease::Lease>>> {
        let leases = self.leases();
        super::lease::check_write(
            thread_id,
            leases.get(thread_id),
            std::time::SystemTime::now(),
            token,
        )?;
        Ok(leases)
    }
}

impl Namespace {
    fn tuple(&self, thread_id: &str, ns: &str, stored: &Stored) -> CheckpointTuple {
        let mut checkpoint = stored.checkpoint.clone();
        checkpoint.channel_values = checkpoint
            .channel_versions
            .iter()
            .filter_map(|(ch, ver)| {
                let value = self.blobs.get(&(ch.clone(), *ver))?.clone()?;
                Some((ch.clone(), value))
            })
            .collect();
        let mut pending_writes: Vec<PendingWrite> = self
            .writes
            .get(&checkpoint.id)
            .map(|w| w.values().cloned().collect())
            .unwrap_or_default();
        sort_pending_writes(&mut pending_writes);
        CheckpointTuple {
            config: checkpoint_config(thread_id, ns, &checkpoint.id),
            parent_config: stored
                .parent_id
                .as_deref()
                .map(|p| checkpoint_config(thread_id, ns, p)),
            checkpoint,
            metadata: stored.metadata.clone(),
            pending_writes,
        }
    }

    /// Drops values that no remaining checkpoint refers to.
    fn collect_garbage(&mut self) {
        let live: BTreeSet<(&String, &ChannelVersion)> = self
            .checkpoints
            .values()
            .flat_map(|s| s.checkpoint.channel_versions.iter())
            .collect();
        let dead: Vec<(String, ChannelVersion)> = self
            .blobs
            .keys()
            .filter(|(ch, v)| !live.contains(&(ch, v)))
            .cloned()
            .collect();
        for key in dead {
            self.blobs.remove(&key);
        }
        let ids: BTreeSet<&String> = self.checkpoints.keys().collect();
        self.writes.retain(|id, _| ids.contains(id));
    }
}

impl BaseCheckpointSaver for InMemorySaver {
    fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>> {
        traced("memory", Call::config("get_tuple", Some(config)), || {
            require_thread("get_tuple", &config.thread_id)?;
            let threads = self.read();
            let Some(ns) = threads
                .get(&config.thread_id)
                .and_then(|t| t.get(config.ns()))
            else {
                return Ok(None);
            };
            let stored = match &config.checkpoint_id {
                Some(id) => ns.checkpoints.get(id),
                None => ns.checkpoints.values().next_back(),
            };
            Ok(stored.map(|s| ns.tuple(&config.thread_id, config.ns(), s)))
        })
    }

    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter> {
        traced("memory", Call::config("list", config), || {
            options.validate()?;
            if let Some(config) = config {
                require_thread("list", &config.thread_id)?;
            }
            let threads = self.read();
            let mut found: Vec<(&String, &String, &Namespace, &Stored)> = Vec::new();
            let selected: Vec<(&String, &Thread)> = match config {
                Some(c) => threads.get_key_value(&c.thread_id).into_iter().collect(),
                None => threads.iter().collect(),
            };
            for (thread_id, thread) in selected {
                for (ns_name, ns) in thread {
                    if config
                        .and_then(|c| c.checkpoint_ns.as_ref())
                        .is_some_and(|wanted| wanted != ns_name)
                    {
                        continue;
                    }
                    for (id, stored) in &ns.checkpoints {
                        let id_ok = config
                            .and_then(|c| c.checkpoint_id.as_ref())
                            .is_none_or(|wanted| wanted == id);
                        let before_ok = options.before.as_ref().is_none_or(|b| id < b);
                        if id_ok && before_ok && options.matches(&stored.metadata) {
                            found.push((thread_id, ns_name, ns, stored));
                        }
                    }
                }
            }
            // Newest first; ties between threads broken by thread and namespace
            // so the order is stable.
            found.sort_by(|a, b| {
                (b.3.checkpoint.id.as_str(), b.0, b.1).cmp(&(a.3.checkpoint.id.as_str(), a.0, a.1))
            });
            let limit = options.limit.unwrap_or(usize::MAX);
            Ok(CheckpointIter::from_vec(
                found
                    .into_iter()
                    .take(limit)
                    .map(|(t, n, ns, s)| ns.tuple(t, n, s))
                    .collect(),
            ))
        })
    }

    fn put(
        &self,
        config: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        traced("memory", Call::put("put", config, &checkpoint.id), || {
            check_put(config, checkpoint)?;
            check_metadata(config, checkpoint, metadata)?;
            let mut threads = self.write();
            let _fence = self.fenced(&config.thread_id, config.lease_token())?;
            Ok(store_checkpoint(
                &mut threads,
                config,
                checkpoint,
                metadata,
                new_versions,
            ))
        })
    }

    fn put_writes(
        &self,
        config: &Config,
        writes: &[(String, Value)],
        task_id: &str,
        task_path: &str,
    ) -> Result<()> {
        traced("memory", Call::config("put_writes", Some(config)), || {
            let target = writes_target(config)?;
            check_writes(config, writes, task_id)?;
            let mut threads = self.write();
            let _fence = self.fenced(&config.thread_id, config.lease_token())?;
            let stored = writes_of(&mut threads, target)?;
            store_writes(stored, &WriteBatch::new(writes, task_id, task_path));
            Ok(())
        })
    }

    fn put_with_writes(
        &self,
        config: &Config,
        batches: &[WriteBatch<'_>],
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: &ChannelVersions,
    ) -> Result<Config> {
        traced(
            "memory",
            Call::put("put_with_writes", config, &checkpoint.id),
            || {
                // Everything is checked before the map changes.
                let target = if batches.is_empty() {
                    None
                } else {
                    Some(writes_target(config)?)
                };
                for batch in batches {
                    check_writes(config, batch.writes, batch.task_id)?;
                }
                check_put(config, checkpoint)?;
                check_metadata(config, checkpoint, metadata)?;
                let mut threads = self.write();
                let _fence = self.fenced(&config.thread_id, config.lease_token())?;
                if let Some(target) = target {
                    let stored = writes_of(&mut threads, target)?;
                    for batch in batches {
                        store_writes(stored, batch);
                    }
                }
                Ok(store_checkpoint(
                    &mut threads,
                    config,
                    checkpoint,
                    metadata,
                    new_versions,
                ))
            },
        )
    }

    fn delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
        traced("memory", Call::new("delete_for_runs"), || {
            if run_ids.is_empty() {
                return Ok(());
            }
            let mut threads = self.write();
            // A leased thread with a checkpoint of these runs is its
            // runner's: the call is refused, naming the holder.
            let fence = self.leases();
            let now = std::time::SystemTime::now();
            for (thread_id, thread) in threads.iter() {
                let of_runs = thread.values().any(|ns| {
                    ns.checkpoints.values().any(|s| {
                        s.metadata
                            .run_id
                            .as_ref()
                            .is_some_and(|r| run_ids.contains(r))
                    })
                });
                if of_runs {
                    super::lease::check_write(thread_id, fence.get(thread_id), now, None)?;
                }
            }
            for thread in threads.values_mut() {
                for ns in thread.values_mut() {
                    let before = ns.checkpoints.len();
                    ns.checkpoints.retain(|_, s| {
                        s.metadata
                            .run_id
                            .as_ref()
                            .is_none_or(|r| !run_ids.contains(r))
                    });
                    if ns.checkpoints.len() != before {
                        ns.collect_garbage();
                    }
                }
                thread.retain(|_, ns| !ns.checkpoints.is_empty());
            }
            threads.retain(|_, t| !t.is_empty());
            Ok(())
        })
    }

    super::lease::unfenced_calls!();
}

impl InMemorySaver {
    fn delete_thread_fenced(&self, thread_id: &str, token: Option<u64>) -> Result<()> {
        traced("memory", Call::thread("delete_thread", thread_id), || {
            require_thread("delete_thread", thread_id)?;
            let mut threads = self.write();
            let _fence = self.fenced(thread_id, token)?;
            threads.remove(thread_id);
            Ok(())
        })
    }

    fn copy_thread_fenced(&self, source: &str, target: &str, token: Option<u64>) -> Result<()> {
        traced("memory", Call::thread("copy_thread", source), || {
            check_copy(source, target)?;
            let mut threads = self.write();
            let _fence = self.fenced(target, token)?;
            if threads.contains_key(target) {
                return Err(Error::TargetNotEmpty {
                    source_thread: source.to_owned(),
                    target_thread: target.to_owned(),
                });
            }
            let copy = threads
                .get(source)
                .cloned()
                .ok_or_else(|| Error::ThreadNotFound {
                    thread_id: source.to_owned(),
                })?;
            threads.insert(target.to_owned(), copy);
            Ok(())
        })
    }

    fn prune_fenced(
        &self,
        thread_ids: &[String],
        strategy: PruneStrategy,
        token: Option<u64>,
    ) -> Result<()> {
        traced("memory", Call::new("prune"), || {
            require_threads("prune", thread_ids)?;
            let mut threads = self.write();
            let fence = self.leases();
            let now = std::time::SystemTime::now();
            for thread_id in thread_ids {
                super::lease::check_write(thread_id, fence.get(thread_id), now, token)?;
            }
            for thread_id in thread_ids {
                match strategy {
                    PruneStrategy::Delete => {
                        threads.remove(thread_id);
                    }
                    PruneStrategy::KeepLatest => {
                        let Some(thread) = threads.get_mut(thread_id) else {
                            continue;
                        };
                        for ns in thread.values_mut() {
                            if let Some(latest) = ns.checkpoints.keys().next_back().cloned() {
                                ns.checkpoints.retain(|id, _| *id == latest);
                                if let Some(kept) = ns.checkpoints.get_mut(&latest) {
                                    kept.parent_id = None;
                                }
                                ns.collect_garbage();
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

/// Stores a checkpoint `put` has checked, and returns its config.
fn store_checkpoint(
    threads: &mut HashMap<String, Thread>,
    config: &Config,
    checkpoint: &Checkpoint,
    metadata: &CheckpointMetadata,
    new_versions: &ChannelVersions,
) -> Config {
    let ns_name = config.ns();
    let ns = threads
        .entry(config.thread_id.clone())
        .or_default()
        .entry(ns_name.to_owned())
        .or_default();
    for (channel, version) in &checkpoint.channel_versions {
        let key = (channel.clone(), *version);
        let value = checkpoint.channel_values.get(channel).cloned();
        if new_versions.contains_key(channel) {
            ns.blobs.insert(key, value);
        } else if value.is_some() {
            // Not announced as new, but never stored under this version:
            // keep it rather than lose it.
            ns.blobs.entry(key).or_insert(value);
        }
    }
    let mut stripped = checkpoint.clone();
    stripped.channel_values.clear();
    ns.checkpoints.insert(
        checkpoint.id.clone(),
        Stored {
            checkpoint: stripped,
            metadata: merged_metadata(config, metadata),
            parent_id: config.checkpoint_id.clone(),
        },
    );
    checkpoint_config(&config.thread_id, ns_name, &checkpoint.id)
}

/// The writes of the checkpoint `(thread, namespace, id)`, which must exist.
fn writes_of<'m>(
    threads: &'m mut HashMap<String, Thread>,
    (thread_id, ns_name, id): (&str, &str, &str),
) -> Result<&'m mut BTreeMap<(String, i64), PendingWrite>> {
    let ns = threads
        .get_mut(thread_id)
        .and_then(|t| t.get_mut(ns_name))
        .filter(|ns| ns.checkpoints.contains_key(id))
        .ok_or_else(|| checkpoint_not_found(thread_id, ns_name, id))?;
    Ok(ns.writes.entry(id.to_owned()).or_default())
}

/// Adds one task's writes to a checkpoint's `stored` writes: a special
/// channel's write replaces the old one, any other is kept first-come.
fn store_writes(stored: &mut BTreeMap<(String, i64), PendingWrite>, batch: &WriteBatch<'_>) {
    for (position, (channel, value)) in batch.writes.iter().enumerate() {
        let idx = write_idx(channel, position);
        let key = (batch.task_id.to_owned(), idx);
        let write = PendingWrite {
            task_id: batch.task_id.to_owned(),
            channel: channel.clone(),
            value: value.clone(),
            task_path: batch.task_path.to_owned(),
            idx,
        };
        if special_idx(channel).is_some() {
            stored.insert(key, write);
        } else {
            stored.entry(key).or_insert(write);
        }
    }
}
