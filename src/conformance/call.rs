//! What [`HookedSaver`](super::HookedSaver) records of each call.

use super::args::{Args, Op};

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The wrapped saver returned `Ok`.
    Ok,
    /// The wrapped saver returned an error.
    Failed,
    /// The wrapper failed the call on purpose; the wrapped saver never saw it.
    Injected,
}

/// One call the wrapper got: the operation, how many calls of it came
/// before, the parts of its arguments tests look at, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Call {
    /// The operation.
    pub op: Op,
    /// 1 for the first call of `op` the wrapper got, 2 for the second, ...
    pub nth: usize,
    /// The thread the call addresses (of its config, or its `thread_id`).
    pub thread_id: Option<String>,
    /// `metadata.step` of a `put` or `put_with_writes`.
    pub step: Option<i64>,
    /// The task of a `put_writes`; the tasks of a `put_with_writes`'
    /// batches, in order.
    pub task_ids: Vec<String>,
    /// The channels a `put_writes` writes, in order.
    pub write_channels: Vec<String>,
    /// The channels in `new_versions` of a `put` or `put_with_writes`.
    pub new_versions: Vec<String>,
    /// The checkpoint's `updated_channels`, for a `put` or `put_with_writes`.
    pub updated_channels: Option<Vec<String>>,
    /// How it ended.
    pub outcome: Outcome,
}

impl Call {
    /// The record of `args`, the `nth` call of its operation.
    pub(crate) fn of(args: &Args<'_>, nth: usize, outcome: Outcome) -> Self {
        let mut call = Call {
            op: args.op(),
            nth,
            thread_id: thread_of(args),
            step: None,
            task_ids: Vec::new(),
            write_channels: Vec::new(),
            new_versions: Vec::new(),
            updated_channels: None,
            outcome,
        };
        match *args {
            Args::Put {
                checkpoint,
                metadata,
                new_versions,
                ..
            } => {
                call.step = Some(metadata.step);
                call.new_versions = new_versions.keys().cloned().collect();
                call.updated_channels
                    .clone_from(&checkpoint.updated_channels);
            }
            Args::PutWithWrites {
                batches,
                checkpoint,
                metadata,
                new_versions,
                ..
            } => {
                call.step = Some(metadata.step);
                call.task_ids = batches.iter().map(|b| b.task_id.to_owned()).collect();
                call.new_versions = new_versions.keys().cloned().collect();
                call.updated_channels
                    .clone_from(&checkpoint.updated_channels);
            }
            Args::PutWrites {
                writes, task_id, ..
            } => {
                call.task_ids = vec![task_id.to_owned()];
                call.write_channels = writes.iter().map(|(ch, _)| ch.clone()).collect();
            }
            _ => {}
        }
        call
    }

    /// Whether the wrapped saver stored or read what was asked.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

/// The thread a call addresses.
fn thread_of(args: &Args<'_>) -> Option<String> {
    match *args {
        Args::DeleteThread { thread_id } => Some(thread_id.to_owned()),
        Args::CopyThread { source, .. } => Some(source.to_owned()),
        _ => args.config().map(|c| c.thread_id.clone()),
    }
}
