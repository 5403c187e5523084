//! The one copy of "forward every call of the trait": a macro that writes
//! `impl BaseCheckpointSaver` for a wrapper, sending each call through one
//! method of the wrapper that sees the call's [`Args`](super::Args) and
//! runs it on a target.
//!
//! [`HookedSaver`](super::HookedSaver) and
//! [`BlockingAsync`](super::BlockingAsync) differ only in that method, so
//! neither repeats the trait's method list.

/// `forward_calls!(required [impl header] via method { extra items })`
/// writes the trait's required methods (but `list_iter`) as
/// `self.method(Args::Op { .. }, |target| target.op(..))`; `all` adds the
/// provided `get`, `list` and `put_with_writes`. `list_iter`,
/// `get_next_version` and anything else go in `extra`.
macro_rules! forward_calls {
    (required [$($header:tt)*] via $via:ident { $($extra:tt)* }) => {
        $($header)* {
            fn get_tuple(&self, config: &Config) -> Result<Option<CheckpointTuple>> {
                self.$via(Args::GetTuple { config }, |s| s.get_tuple(config))
            }

            fn put(
                &self,
                config: &Config,
                checkpoint: &Checkpoint,
                metadata: &CheckpointMetadata,
                new_versions: &ChannelVersions,
            ) -> Result<Config> {
                let args = Args::Put { config, checkpoint, metadata, new_versions };
                self.$via(args, |s| s.put(config, checkpoint, metadata, new_versions))
            }

            fn put_writes(
                &self,
                config: &Config,
                writes: &[(String, Value)],
                task_id: &str,
                task_path: &str,
            ) -> Result<()> {
                let args = Args::PutWrites { config, writes, task_id, task_path };
                self.$via(args, |s| s.put_writes(config, writes, task_id, task_path))
            }

            fn delete_thread(&self, thread_id: &str) -> Result<()> {
                self.$via(Args::DeleteThread { thread_id }, |s| s.delete_thread(thread_id))
            }

            fn delete_for_runs(&self, run_ids: &[String]) -> Result<()> {
                self.$via(Args::DeleteForRuns { run_ids }, |s| s.delete_for_runs(run_ids))
            }

            fn copy_thread(&self, source: &str, target: &str) -> Result<()> {
                self.$via(Args::CopyThread { source, target }, |s| s.copy_thread(source, target))
            }

            fn prune(&self, thread_ids: &[String], strategy: PruneStrategy) -> Result<()> {
                self.$via(Args::Prune { thread_ids, strategy }, |s| s.prune(thread_ids, strategy))
            }

            $($extra)*
        }
    };
    (all [$($header:tt)*] via $via:ident { $($extra:tt)* }) => {
        forward_calls!(required [$($header)*] via $via {
            fn get(&self, config: &Config) -> Result<Option<Checkpoint>> {
                self.$via(Args::Get { config }, |s| s.get(config))
            }

            fn list(
                &self,
                config: Option<&Config>,
                options: &ListOptions,
            ) -> Result<Vec<CheckpointTuple>> {
                self.$via(Args::List { config, options }, |s| s.list(config, options))
            }

            fn put_with_writes(
                &self,
                config: &Config,
                batches: &[WriteBatch<'_>],
                checkpoint: &Checkpoint,
                metadata: &CheckpointMetadata,
                new_versions: &ChannelVersions,
            ) -> Result<Config> {
                let args = Args::PutWithWrites { config, batches, checkpoint, metadata, new_versions };
                self.$via(args, |s| {
                    s.put_with_writes(config, batches, checkpoint, metadata, new_versions)
                })
            }

            $($extra)*
        });
    };
}

pub(crate) use forward_calls;
