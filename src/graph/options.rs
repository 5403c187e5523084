//! `CompileOptions`: what `compile` takes besides the graph.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::persist::Durability;
use crate::saver::{BaseCheckpointSaver, ThreadLeases};

/// The default [`CompiledGraph::with_recursion_limit`](crate::graph::CompiledGraph::with_recursion_limit).
pub const DEFAULT_RECURSION_LIMIT: usize = 25;

/// Node names, as the interrupt lists take them.
fn names<I, S>(nodes: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    nodes.into_iter().map(Into::into).collect()
}

/// How long a run's thread lease lasts unless renewed (see
/// [`CompileOptions::lease_ttl`]).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// How a compiled graph leases its threads: the saver's lease calls, the
/// lease's duration, the owner named in it and how long a run waits for a
/// busy thread.
#[derive(Clone)]
pub(crate) struct LeaseOptions {
    pub(crate) leases: Arc<dyn ThreadLeases>,
    pub(crate) ttl: Duration,
    pub(crate) owner: String,
    pub(crate) wait: Duration,
}

impl fmt::Debug for LeaseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseOptions")
            .field("ttl", &self.ttl)
            .field("owner", &self.owner)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// The default owner of a graph's leases: this process and a random tag,
/// so two graphs (or processes) never share one.
fn default_owner() -> String {
    format!("pid-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

/// Options of [`StateGraph::compile`](crate::graph::StateGraph::compile).
///
/// # Thread leases
///
/// A graph compiled with [`leased_saver`](Self::leased_saver) (a saver that
/// implements [`ThreadLeases`]: every saver of this crate) takes the
/// thread's lease for the length of each `invoke`, `stream`, resume and
/// `update_state`, renews it in the background (every third of its
/// [`lease_ttl`](Self::lease_ttl)), and releases it when the run ends; each
/// write of the run carries the lease's fencing token. So a second run of a
/// running thread, here or in another process, gets
/// [`GraphError::ThreadBusy`](crate::graph::GraphError::ThreadBusy) naming
/// the holder (or waits up to [`lease_wait`](Self::lease_wait)); a runner
/// paused past its lease while another took over has its next write
/// refused and stops with
/// [`GraphError::LeaseLost`](crate::graph::GraphError::LeaseLost), so the
/// history never forks; a crashed runner's lease expires after its TTL and
/// `Input::Continue` from anywhere goes on.
///
/// A graph compiled with [`saver`](Self::saver) takes no lease: that is how
/// a saver without leases (a user's own `BaseCheckpointSaver`) keeps
/// working as before. A run whose config already carries a lease token
/// ([`Config::with_lease_token`](crate::Config::with_lease_token), as a
/// subgraph's config does) takes none either: its caller holds the lease.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use checkpointer::graph::{CompileOptions, StateGraph, Update, START};
/// use checkpointer::{Config, InMemorySaver, ThreadLeases};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let saver = Arc::new(InMemorySaver::new());
/// let mut graph = StateGraph::new();
/// graph.add_sync_node("a", |_, _| Ok(Update::new())).add_edge(START, "a");
/// let app = graph.compile(
///     CompileOptions::new()
///         .leased_saver(saver.clone())
///         .lease_ttl(Duration::from_secs(10)),
/// )?;
/// app.invoke(serde_json::json!({}), &Config::thread("t")).await?;
/// // The run released its lease: the thread is free again.
/// assert_eq!(saver.current("t")?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct CompileOptions {
    pub(crate) saver: Option<Arc<dyn BaseCheckpointSaver>>,
    pub(crate) leases: Option<LeaseOptions>,
    pub(crate) interrupt_before: Vec<String>,
    pub(crate) interrupt_after: Vec<String>,
    // issue 12 part 2: the step ledger of `NodeContext::step_once`.
    #[cfg(feature = "ledger")]
    pub(crate) ledger: Option<Arc<dyn crate::ledger::StepLedger>>,
    /// issue 14: where streamed runs append their events.
    #[cfg(feature = "events")]
    pub(crate) event_log: Option<Arc<dyn crate::events::EventLog>>,
    /// issue 17: where nodes with a cache policy keep their results.
    pub(crate) cache: Option<Arc<dyn BaseCheckpointSaver>>,
}

impl CompileOptions {
    /// No saver, no interrupts.
    pub fn new() -> Self {
        CompileOptions::default()
    }

    /// Checkpoints every run through `saver` (needed for threads, history,
    /// resume and interrupts). Takes no thread lease: see
    /// [`leased_saver`](Self::leased_saver).
    #[must_use]
    pub fn saver(mut self, saver: Arc<dyn BaseCheckpointSaver>) -> Self {
        self.saver = Some(saver);
        self.leases = None;
        self
    }

    /// Checkpoints every run through `saver`, each run holding the
    /// thread's lease (see [Thread leases](#thread-leases)).
    #[must_use]
    pub fn leased_saver(mut self, saver: Arc<dyn ThreadLeases>) -> Self {
        let (ttl, owner, wait) = match self.leases.take() {
            Some(l) => (l.ttl, l.owner, l.wait),
            None => (DEFAULT_LEASE_TTL, default_owner(), Duration::ZERO),
        };
        self.saver = Some(Arc::clone(&saver) as Arc<dyn BaseCheckpointSaver>);
        self.leases = Some(LeaseOptions {
            leases: saver,
            ttl,
            owner,
            wait,
        });
        self
    }

    /// How long a run's lease lasts unless renewed (default
    /// [`DEFAULT_LEASE_TTL`], 30 s): how soon another process may continue
    /// the thread of a runner that crashed. The run renews it every third
    /// of this. No effect without [`leased_saver`](Self::leased_saver)
    /// (call it after).
    #[must_use]
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        if let Some(l) = &mut self.leases {
            l.ttl = ttl;
        }
        self
    }

    /// The owner named in this graph's leases (default: `pid-<pid>-<random>`),
    /// as [`GraphError::ThreadBusy`](crate::graph::GraphError::ThreadBusy)
    /// shows it to the runner that finds the thread busy. No effect without
    /// [`leased_saver`](Self::leased_saver) (call it after).
    #[must_use]
    pub fn lease_owner(mut self, owner: impl Into<String>) -> Self {
        if let Some(l) = &mut self.leases {
            l.owner = owner.into();
        }
        self
    }

    /// How long a run waits for a busy thread's lease before it fails with
    /// [`GraphError::ThreadBusy`](crate::graph::GraphError::ThreadBusy)
    /// (default zero: at once); [`RunOptions::lease_wait`] sets it per run.
    /// No effect without [`leased_saver`](Self::leased_saver) (call it after).
    #[must_use]
    pub fn lease_wait(mut self, wait: Duration) -> Self {
        if let Some(l) = &mut self.leases {
            l.wait = wait;
        }
        self
    }

    /// Makes streams durable and resumable: every run of
    /// [`stream`](crate::graph::CompiledGraph::stream) appends its events
    /// (all modes) to `log` under its thread, and
    /// [`follow_stream`](crate::graph::follow_stream) replays them from any
    /// sequence number, then follows live ([`DurableStream`](crate::graph::DurableStream)
    /// says what the log holds).
    #[cfg(feature = "events")]
    #[cfg_attr(docsrs, doc(cfg(feature = "events")))]
    #[must_use]
    pub fn event_log(mut self, log: Arc<dyn crate::events::EventLog>) -> Self {
        self.event_log = Some(log);
        self
    }

    /// Stops the run before any of these nodes runs.
    #[must_use]
    pub fn interrupt_before<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_before = names(nodes);
        self
    }

    /// Stops the run after any of these nodes has run (and its step is
    /// checkpointed).
    #[must_use]
    pub fn interrupt_after<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_after = names(nodes);
        self
    }
}

// issue 12 part 2: the step ledger.
#[cfg(feature = "ledger")]
impl CompileOptions {
    /// Keeps the results of [`NodeContext::step_once`](crate::graph::NodeContext::step_once)
    /// in `ledger`, so that a side effect runs once per key and thread
    /// across crashes, retries and resumes (any backend:
    /// [`open_ledger`](crate::ledger::open_ledger)).
    #[must_use]
    pub fn ledger(mut self, ledger: Arc<dyn crate::ledger::StepLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }
}

// issue 17: the node cache (any saver; no feature of its own).
impl CompileOptions {
    /// Keeps the results of nodes with a
    /// [`CachePolicy`](crate::graph::CachePolicy) in `store` (LangGraph's
    /// `compile(cache=...)`): the graph's own saver or another one; see
    /// [`StateGraph::add_cache_policy`](crate::graph::StateGraph::add_cache_policy).
    /// Without it, cache policies do nothing, as in LangGraph.
    #[must_use]
    pub fn cache(mut self, store: Arc<dyn BaseCheckpointSaver>) -> Self {
        self.cache = Some(store);
        self
    }
}

impl fmt::Debug for CompileOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CompileOptions");
        d.field("saver", &self.saver.is_some())
            .field("leases", &self.leases)
            .field("interrupt_before", &self.interrupt_before)
            .field("interrupt_after", &self.interrupt_after);
        // issue 12 part 2: the step ledger.
        #[cfg(feature = "ledger")]
        d.field("ledger", &self.ledger.is_some());
        #[cfg(feature = "events")]
        d.field("event_log", &self.event_log.is_some());
        d.field("cache", &self.cache.is_some());
        d.finish()
    }
}

/// Options of one run ([`CompiledGraph::invoke_with`] and
/// [`CompiledGraph::stream_with`]), as LangGraph takes them per `invoke`:
/// each one given replaces the compiled graph's setting for this run only.
///
/// # The same options as config keys
///
/// Two of them may come in the config's
/// [`configurable`](crate::Config::configurable) map too, under the names
/// LangGraph reads: `recursion_limit` (a positive integer; LangGraph takes
/// it on the config) and `durability` (`"sync"`, `"async"` or `"exit"`).
/// A key and the option together must agree (else
/// [`GraphError::InvalidCommand`](crate::graph::GraphError::InvalidCommand)
/// names both), and so must a key's form (LangGraph: "`recursion_limit` must
/// be at least 1"). Unlike the options, the keys travel with the config: a
/// subgraph inherits them, as in LangGraph. They are not stored as
/// checkpoint metadata. The static interrupts are options only: LangGraph
/// takes them only as `invoke` arguments, and a subgraph, whose nodes are
/// others, must not inherit them.
///
/// ```
/// use std::sync::Arc;
/// use checkpointer::graph::{CompileOptions, GraphError, Reducer, RunOptions, StateGraph, Update, START};
/// use checkpointer::{Config, InMemorySaver};
/// use serde_json::json;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut graph = StateGraph::new();
/// graph
///     .add_channel("n", Reducer::last_value())
///     .add_sync_node("spin", |s, _| Ok(Update::new().set("n", s.get_or_default::<i64>("n")? + 1)))
///     .add_edge(START, "spin")
///     .add_edge("spin", "spin");
/// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
/// let config = Config::thread("t").with_configurable("recursion_limit", 3);
/// let err = app.invoke(json!({}), &config).await.unwrap_err();
/// assert!(matches!(err, GraphError::RecursionLimit { limit: 3, .. }));
/// // Given both ways with two values: an error, before anything runs.
/// let err = app
///     .invoke_with(json!({}), &config, &RunOptions::new().recursion_limit(5))
///     .await
///     .unwrap_err();
/// assert!(matches!(err, GraphError::InvalidCommand { .. }));
/// # Ok::<(), GraphError>(())
/// # }).unwrap();
/// ```
///
/// ```
/// use checkpointer::graph::{Durability, RunOptions};
///
/// let options = RunOptions::new()
///     .durability(Durability::Exit)
///     .recursion_limit(50)
///     .interrupt_before(["review"]);
/// assert_eq!(options.recursion_limit, Some(50));
/// ```
///
/// [`CompiledGraph::invoke_with`]: crate::graph::CompiledGraph::invoke_with
/// [`CompiledGraph::stream_with`]: crate::graph::CompiledGraph::stream_with
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOptions {
    /// When the run saves (else the graph's, [`Durability::Sync`] by default).
    pub durability: Option<Durability>,
    /// The recursion limit (else the graph's, 25 by default).
    pub recursion_limit: Option<usize>,
    /// Stop before these nodes (else the graph's compiled list).
    pub interrupt_before: Option<Vec<String>>,
    /// Stop after these nodes (else the graph's compiled list).
    pub interrupt_after: Option<Vec<String>>,
    /// How long to wait for a busy thread's lease (else the graph's,
    /// [`CompileOptions::lease_wait`]); no effect on a graph without leases.
    pub lease_wait: Option<Duration>,
}

impl RunOptions {
    /// No option: the run uses the graph's settings.
    pub fn new() -> Self {
        RunOptions::default()
    }

    /// Saves as `durability` says in this run.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = Some(durability);
        self
    }

    /// Waits up to `wait` for the thread's lease when another runner holds
    /// it, then fails with
    /// [`GraphError::ThreadBusy`](crate::graph::GraphError::ThreadBusy).
    #[must_use]
    pub fn lease_wait(mut self, wait: Duration) -> Self {
        self.lease_wait = Some(wait);
        self
    }

    /// Uses `limit` as this run's recursion limit.
    #[must_use]
    pub fn recursion_limit(mut self, limit: usize) -> Self {
        self.recursion_limit = Some(limit);
        self
    }

    /// Stops this run before any of these nodes (an empty list: never).
    #[must_use]
    pub fn interrupt_before<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_before = Some(names(nodes));
        self
    }

    /// Stops this run after any of these nodes (an empty list: never).
    #[must_use]
    pub fn interrupt_after<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interrupt_after = Some(names(nodes));
        self
    }
}
