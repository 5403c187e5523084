//! [`HookedSaver`]: the one forwarding test wrapper, with hooks to fail the
//! Nth call of an operation, delay calls, watch them start and end, and
//! record them.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;

use super::args::{Args, Op};
use super::call::{Call, Outcome};
use super::forward::forward_calls;
use crate::saver::WriteBatch;
use crate::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointIter,
    CheckpointMetadata, CheckpointTuple, Config, Error, ListOptions, PruneStrategy, Result,
};

/// A hook run when a call starts, before any delay or injected failure.
type StartHook = Box<dyn Fn(&Args<'_>) + Send + Sync>;
/// A hook run when a call has ended and was recorded.
type FinishHook = Box<dyn Fn(&Call) + Send + Sync>;

/// A saver that forwards every call to the one it wraps, through hooks.
///
/// - [`with_failure`](Self::with_failure): the Nth call of an operation
///   returns an injected error instead of reaching the wrapped saver;
/// - [`with_delay`](Self::with_delay): each call of an operation sleeps
///   first (a slow disk);
/// - [`on_start`](Self::on_start) / [`on_finish`](Self::on_finish): code
///   run as each call starts and ends (e.g. to hold a call at a gate);
/// - [`calls`](Self::calls): every call it got, in order.
///
/// By default the provided methods (`get`, `list`, `put_with_writes`) are
/// forwarded too. [`with_trait_defaults`](Self::with_trait_defaults) runs
/// them as the trait's default implementations instead, which call this
/// wrapper's `get_tuple`, `list_iter`, `put_writes` and `put` (so those are
/// hooked too): the saver form a backend that overrides nothing gets.
///
/// ```
/// use checkpointer::conformance::{HookedSaver, Op};
/// use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource,
///     Config, InMemorySaver};
///
/// let saver = HookedSaver::new(InMemorySaver::new()).with_failure(Op::Put, 2);
/// let cp = Checkpoint::new(0);
/// let md = CheckpointMetadata::new(CheckpointSource::Loop, 0);
/// let thread = Config::thread("t");
/// assert!(saver.put(&thread, &cp, &md, &cp.channel_versions).is_ok());
/// assert!(saver.put(&thread, &cp.successor(1), &md, &cp.channel_versions).is_err());
/// assert_eq!(saver.count(Op::Put), 2);
/// ```
pub struct HookedSaver<S> {
    inner: S,
    trait_defaults: bool,
    failures: Vec<(Op, usize)>,
    delays: Vec<(Op, Duration)>,
    on_start: Vec<StartHook>,
    on_finish: Vec<FinishHook>,
    counts: [AtomicUsize; Op::ALL.len()],
    calls: Mutex<Vec<Call>>,
}

impl<S: BaseCheckpointSaver> HookedSaver<S> {
    /// Wraps `inner`, with no hooks: every call is forwarded and recorded.
    pub fn new(inner: S) -> Self {
        HookedSaver {
            inner,
            trait_defaults: false,
            failures: Vec::new(),
            delays: Vec::new(),
            on_start: Vec::new(),
            on_finish: Vec::new(),
            counts: std::array::from_fn(|_| AtomicUsize::new(0)),
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Runs `get`, `list` and `put_with_writes` as the trait's default
    /// implementations, over this wrapper's required methods.
    #[must_use]
    pub fn with_trait_defaults(mut self) -> Self {
        self.trait_defaults = true;
        self
    }

    /// Fails the `nth` call of `op` (1-based; 0 never matches) with
    /// [`Error::InvalidCheckpoint`] whose reason reads
    /// `injected <op> failure`; the wrapped saver does not see that call.
    #[must_use]
    pub fn with_failure(mut self, op: Op, nth: usize) -> Self {
        self.failures.push((op, nth));
        self
    }

    /// Makes each call of `op` sleep `delay` before it runs.
    #[must_use]
    pub fn with_delay(mut self, op: Op, delay: Duration) -> Self {
        self.delays.push((op, delay));
        self
    }

    /// Runs `hook` as each call starts, before its delay or failure.
    #[must_use]
    pub fn on_start(mut self, hook: impl Fn(&Args<'_>) + Send + Sync + 'static) -> Self {
        self.on_start.push(Box::new(hook));
        self
    }

    /// Runs `hook` after each call ended and was recorded.
    #[must_use]
    pub fn on_finish(mut self, hook: impl Fn(&Call) + Send + Sync + 'static) -> Self {
        self.on_finish.push(Box::new(hook));
        self
    }

    /// The wrapped saver.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Every call so far, in the order they ended.
    pub fn calls(&self) -> Vec<Call> {
        self.lock_calls().clone()
    }

    /// The calls of `op` so far, in the order they ended.
    pub fn calls_of(&self, op: Op) -> Vec<Call> {
        self.lock_calls()
            .iter()
            .filter(|c| c.op == op)
            .cloned()
            .collect()
    }

    /// Forgets the recorded calls (the counts of [`count`](Self::count)
    /// and the failure plan go on).
    pub fn clear_calls(&self) {
        self.lock_calls().clear();
    }

    /// How many calls of `op` started so far, injected failures included.
    pub fn count(&self, op: Op) -> usize {
        self.counts[op.index()].load(Ordering::SeqCst)
    }

    /// The calls record; a hook that panicked does not lose it.
    fn lock_calls(&self) -> MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one call through the hooks: counts it, runs the start hooks,
    /// sleeps, fails it or runs it on its target, records it, runs the
    /// finish hooks.
    pub(super) fn hooked<T>(
        &self,
        args: Args<'_>,
        call: impl FnOnce(&dyn BaseCheckpointSaver) -> Result<T>,
    ) -> Result<T> {
        let op = args.op();
        let nth = self.counts[op.index()].fetch_add(1, Ordering::SeqCst) + 1;
        for hook in &self.on_start {
            hook(&args);
        }
        for (_, delay) in self.delays.iter().filter(|(o, _)| *o == op) {
            std::thread::sleep(*delay);
        }
        let (result, outcome) = if self.failures.contains(&(op, nth)) {
            (Err(injected(&args)), Outcome::Injected)
        } else {
            let result = if self.trait_defaults && op.is_provided() {
                call(&TraitDefaults(self))
            } else {
                call(&self.inner)
            };
            let outcome = if result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Failed
            };
            (result, outcome)
        };
        let record = Call::of(&args, nth, outcome);
        self.lock_calls().push(record.clone());
        for hook in &self.on_finish {
            hook(&record);
        }
        result
    }
}

/// The error an injected failure returns.
fn injected(args: &Args<'_>) -> Error {
    Error::InvalidCheckpoint {
        thread_id: args
            .config()
            .map(|c| c.thread_id.clone())
            .unwrap_or_default(),
        checkpoint_id: String::new(),
        reason: format!("injected {} failure", args.op()),
    }
}

impl<S> fmt::Debug for HookedSaver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookedSaver")
            .field("trait_defaults", &self.trait_defaults)
            .field("failures", &self.failures)
            .field("delays", &self.delays)
            .field("on_start", &self.on_start.len())
            .field("on_finish", &self.on_finish.len())
            .finish_non_exhaustive()
    }
}

forward_calls!(all [impl<S: BaseCheckpointSaver> BaseCheckpointSaver for HookedSaver<S>] via hooked {
    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter> {
        self.hooked(Args::ListIter { config, options }, |s| s.list_iter(config, options))
    }

    fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        self.inner.get_next_version(current)
    }
});

/// A [`HookedSaver`] seen through the trait's required methods only, so
/// the trait's default `get`, `list` and `put_with_writes` run over it.
struct TraitDefaults<'a, S>(&'a HookedSaver<S>);

impl<'a, S: BaseCheckpointSaver> TraitDefaults<'a, S> {
    /// Sends a call back to the hooked wrapper.
    fn to_wrapper<T>(&self, _args: Args<'_>, call: impl FnOnce(&'a HookedSaver<S>) -> T) -> T {
        call(self.0)
    }
}

forward_calls!(required [impl<S: BaseCheckpointSaver> BaseCheckpointSaver for TraitDefaults<'_, S>] via to_wrapper {
    fn list_iter(&self, config: Option<&Config>, options: &ListOptions) -> Result<CheckpointIter> {
        self.0.list_iter(config, options)
    }

    fn get_next_version(&self, current: Option<&ChannelVersion>) -> ChannelVersion {
        self.0.get_next_version(current)
    }
});
