//! How a run saves checkpoints and writes: the three durability modes.

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::GraphError;
use crate::saver::{
    AsyncSaver, BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata, Config,
    OwnedWriteBatch,
};

/// The saver as the graph calls it: async, through the blocking pool.
pub(crate) type Saver = AsyncSaver<dyn BaseCheckpointSaver>;

/// When a run saves its checkpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Every checkpoint and every task's writes are saved before the run
    /// goes on (the default). The safest: a crash loses at most the tasks
    /// that were running (counting a step's last task until its step's
    /// checkpoint is saved: its writes are saved with that checkpoint, in
    /// one saver call and one transaction).
    #[default]
    Sync,
    /// Saves run in the background, in order, overlapping the next step;
    /// the run waits for all of them before it returns. Faster; a crash may
    /// lose the last few saves.
    Async,
    /// Nothing is saved until the run ends (done, failed or interrupted);
    /// then the last checkpoint and its pending writes are saved. Fastest; a
    /// crash loses the whole run.
    Exit,
}

/// A saver call queued by `Durability::Async`.
enum Op {
    Put {
        parent: Config,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        versions: ChannelVersions,
    },
    Writes {
        config: Config,
        writes: Vec<(String, Value)>,
        task_id: String,
        task_path: String,
    },
}

/// The background queue of `Durability::Async` and its worker.
type Queue = (
    mpsc::UnboundedSender<Op>,
    JoinHandle<Result<(), GraphError>>,
);

/// Saves a run's checkpoints and writes as its durability mode says.
pub(crate) struct Persist {
    saver: Option<Saver>,
    mode: Durability,
    thread_id: String,
    queue: Option<Queue>,
    /// `Exit`: the checkpoint not yet saved, with the parent it must get.
    held: Option<(Config, Checkpoint, CheckpointMetadata, ChannelVersions)>,
    /// `Exit`: writes not yet saved.
    held_writes: Vec<Op>,
}

impl Persist {
    pub(crate) fn new(saver: Option<Saver>, mode: Durability, thread_id: &str) -> Self {
        Persist {
            saver,
            mode,
            thread_id: thread_id.to_owned(),
            queue: None,
            held: None,
            held_writes: Vec::new(),
        }
    }

    fn enqueue(&mut self, op: Op) -> Result<(), GraphError> {
        let Some(saver) = self.saver.clone() else {
            return Ok(());
        };
        let thread_id = self.thread_id.clone();
        let (tx, _) = self.queue.get_or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Op>();
            let worker = tokio::spawn(async move {
                let mut result = Ok(());
                while let Some(op) = rx.recv().await {
                    if result.is_ok() {
                        result = run_op(&saver, &thread_id, op).await;
                    }
                }
                result
            });
            (tx, worker)
        });
        tx.send(op).map_err(|_| GraphError::SaverStopped {
            thread_id: self.thread_id.clone(),
        })
    }

    /// Saves `checkpoint` as the child of `parent`.
    pub(crate) async fn put(
        &mut self,
        parent: &Config,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        versions: &ChannelVersions,
    ) -> Result<(), GraphError> {
        let Some(saver) = &self.saver else {
            return Ok(());
        };
        match self.mode {
            Durability::Sync => {
                saver
                    .put(parent, checkpoint, metadata, versions)
                    .await
                    .map_err(GraphError::saver("put", &self.thread_id))?;
            }
            Durability::Async => self.enqueue(Op::Put {
                parent: parent.clone(),
                checkpoint: checkpoint.clone(),
                metadata: metadata.clone(),
                versions: versions.clone(),
            })?,
            Durability::Exit => {
                self.held_writes.clear();
                let (parent, mut all_versions) = match self.held.take() {
                    Some((p, _, _, v)) => (p, v),
                    None => (parent.clone(), ChannelVersions::new()),
                };
                for ch in versions.keys() {
                    all_versions.insert(ch.clone(), versions[ch]);
                }
                // Every channel that changed since the last save must be
                // stored, at its latest version.
                for (ch, v) in &mut all_versions {
                    if let Some(latest) = checkpoint.channel_versions.get(ch) {
                        *v = *latest;
                    }
                }
                all_versions.retain(|ch, _| checkpoint.channel_versions.contains_key(ch));
                self.held = Some((parent, checkpoint.clone(), metadata.clone(), all_versions));
            }
        }
        Ok(())
    }

    /// Whether [`save_step`](Self::save_step) saves the writes
    /// and the checkpoint in one saver call (`Sync` with a saver); else the
    /// run saves writes as tasks end.
    pub(crate) fn fuses(&self) -> bool {
        self.saver.is_some() && self.mode == Durability::Sync
    }

    /// Saves `checkpoint` as the child of `parent`, after the held task
    /// `writes` against `parent`, and gives the checkpoint back (the run
    /// goes on from it), with the saved checkpoint's config when it was
    /// saved at once (`Sync`).
    ///
    /// `Sync`: one saver call, [`put`](crate::BaseCheckpointSaver::put)
    /// without writes, else
    /// [`put_with_writes`](crate::BaseCheckpointSaver::put_with_writes) (one
    /// transaction), on the blocking pool with the data moved there and
    /// back, not copied. If that fails, the writes are then saved on their
    /// own (as if their own save had come first) and the error is returned.
    /// Other modes: the writes and the checkpoint as
    /// [`put_writes`](Self::put_writes) and [`put`](Self::put) save them.
    pub(crate) async fn save_step(
        &mut self,
        parent: &Config,
        writes: Vec<OwnedWriteBatch>,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        versions: ChannelVersions,
    ) -> (Checkpoint, Result<Option<Config>, GraphError>) {
        let saver = match &self.saver {
            Some(saver) if self.mode == Durability::Sync => saver.clone(),
            _ => {
                let result = self
                    .save_apart(parent, writes, &checkpoint, &metadata, &versions)
                    .await;
                return (checkpoint, result.map(|()| None));
            }
        };
        let operation = if writes.is_empty() {
            "put"
        } else {
            "put_with_writes"
        };
        let moved = saver
            .put_with_writes_moved(parent, writes, checkpoint, metadata, versions)
            .await;
        match moved.result {
            Ok(config) => (moved.checkpoint, Ok(Some(config))),
            Err(e) => {
                for w in moved.batches {
                    // The first error is the one to report.
                    let _ = self
                        .put_writes(parent, w.writes, &w.task_id, &w.task_path)
                        .await;
                }
                let error = GraphError::saver(operation, &self.thread_id)(e);
                (moved.checkpoint, Err(error))
            }
        }
    }

    /// The writes, then the checkpoint, each saved as the mode says.
    async fn save_apart(
        &mut self,
        parent: &Config,
        writes: Vec<OwnedWriteBatch>,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        versions: &ChannelVersions,
    ) -> Result<(), GraphError> {
        for w in writes {
            self.put_writes(parent, w.writes, &w.task_id, &w.task_path)
                .await?;
        }
        self.put(parent, checkpoint, metadata, versions).await
    }

    /// Saves a task's writes against the checkpoint `config` names.
    pub(crate) async fn put_writes(
        &mut self,
        config: &Config,
        writes: Vec<(String, Value)>,
        task_id: &str,
        task_path: &str,
    ) -> Result<(), GraphError> {
        let Some(saver) = &self.saver else {
            return Ok(());
        };
        match self.mode {
            Durability::Sync => saver
                .put_writes(config, &writes, task_id, task_path)
                .await
                .map_err(GraphError::saver("put_writes", &self.thread_id)),
            Durability::Async => self.enqueue(Op::Writes {
                config: config.clone(),
                writes,
                task_id: task_id.to_owned(),
                task_path: task_path.to_owned(),
            }),
            Durability::Exit => {
                self.held_writes.push(Op::Writes {
                    config: config.clone(),
                    writes,
                    task_id: task_id.to_owned(),
                    task_path: task_path.to_owned(),
                });
                Ok(())
            }
        }
    }

    /// Waits for every save: the background queue, or (`Exit`) the held
    /// checkpoint and writes.
    pub(crate) async fn flush(&mut self) -> Result<(), GraphError> {
        if let Some((tx, worker)) = self.queue.take() {
            drop(tx);
            worker.await.map_err(|e| GraphError::Saver {
                operation: "background save",
                thread_id: self.thread_id.clone(),
                source: Box::new(crate::saver::Error::Task(e)),
            })??;
        }
        let Some(saver) = self.saver.clone() else {
            return Ok(());
        };
        if let Some((parent, checkpoint, metadata, versions)) = self.held.take() {
            run_op(
                &saver,
                &self.thread_id,
                Op::Put {
                    parent,
                    checkpoint,
                    metadata,
                    versions,
                },
            )
            .await?;
        }
        for op in std::mem::take(&mut self.held_writes) {
            run_op(&saver, &self.thread_id, op).await?;
        }
        Ok(())
    }
}

async fn run_op(saver: &Saver, thread_id: &str, op: Op) -> Result<(), GraphError> {
    match op {
        Op::Put {
            parent,
            checkpoint,
            metadata,
            versions,
        } => saver
            .put(&parent, &checkpoint, &metadata, &versions)
            .await
            .map(|_| ())
            .map_err(GraphError::saver("put", thread_id)),
        Op::Writes {
            config,
            writes,
            task_id,
            task_path,
        } => saver
            .put_writes(&config, &writes, &task_id, &task_path)
            .await
            .map_err(GraphError::saver("put_writes", thread_id)),
    }
}

impl std::fmt::Debug for Persist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persist")
            .field("mode", &self.mode)
            .field("thread_id", &self.thread_id)
            .finish_non_exhaustive()
    }
}
