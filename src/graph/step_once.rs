//! `NodeContext::step_once`: a side effect that runs once per key and
//! thread, its result kept in the step ledger.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::graph::{NodeContext, NodeError};
use crate::ledger::{Claim, ClaimOptions, LedgerResult, StepLedger, now_ms};

/// The ledger namespace of graph steps.
pub const STEP_NAMESPACE: &str = "graph-steps";
/// The lease of a running step; renewed every third of it while the
/// closure runs, so it only lapses when the worker is gone (crashed,
/// stopped), and another run then takes the step over.
pub const STEP_LEASE: Duration = Duration::from_secs(30);
/// The longest wait between two claims of a step that another worker
/// holds.
const BUSY_POLL: Duration = Duration::from_secs(1);

impl NodeContext {
    /// The ledger of this graph ([`CompileOptions::ledger`](crate::graph::CompileOptions::ledger)).
    pub(crate) fn with_ledger(mut self, ledger: Option<Arc<dyn StepLedger>>) -> Self {
        self.ledger = ledger;
        self
    }

    /// Runs `f` once per `key` for this thread, across crashes, retries
    /// and resumes: the first call claims the step in the graph's ledger
    /// ([`CompileOptions::ledger`](crate::graph::CompileOptions::ledger)),
    /// runs `f` and stores its result; every later call for the same
    /// thread and key (a retry of the node, a resumed or repeated run, a
    /// run in another process on the same ledger) returns the stored
    /// result without running `f`. This is the exactly-once side effect
    /// (charge a card, send an e-mail) that a node re-run by a crash
    /// would otherwise repeat. (The name is not `step`: that is the
    /// superstep number.)
    ///
    /// - The result is stored as JSON (at most 64 KiB; store larger ones
    ///   elsewhere and return a reference).
    /// - While `f` runs, its lease ([`STEP_LEASE`]) is renewed; if another
    ///   worker holds the step, this call waits until that worker finishes
    ///   (then returns its result) or its lease lapses (then runs `f`).
    /// - If `f` fails (or interrupts), the step is released: nothing is
    ///   stored and the next attempt runs `f` again. A step recorded
    ///   `failed` by another client (mooncat's terminal state) is an error
    ///   until it is reset.
    /// - Steps live in the ledger namespace [`STEP_NAMESPACE`] under the
    ///   key `["<thread_id>","<key>"]` (JSON), so `checkpointer ledger list
    ///   graph-steps` shows them.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use checkpointer::graph::{CompileOptions, END, Reducer, START, StateGraph, Update};
    /// use checkpointer::ledger::MemoryLedger;
    /// use checkpointer::{Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// static CHARGES: AtomicUsize = AtomicUsize::new(0);
    /// let mut graph = StateGraph::new();
    /// graph.add_channel("receipt", Reducer::last_value());
    /// graph.add_node("charge", |_state, ctx| async move {
    ///     let receipt: String = ctx
    ///         .step_once("charge-order-7", || async {
    ///             CHARGES.fetch_add(1, Ordering::SeqCst); // the side effect
    ///             Ok("receipt-1".to_owned())
    ///         })
    ///         .await?;
    ///     Ok(Update::new().set("receipt", json!(receipt)))
    /// });
    /// graph.add_edge(START, "charge").add_edge("charge", END);
    /// let app = graph.compile(
    ///     CompileOptions::new()
    ///         .saver(Arc::new(InMemorySaver::new()))
    ///         .ledger(Arc::new(MemoryLedger::new())),
    /// )?;
    /// // Two runs of one thread: the card is charged once.
    /// for _ in 0..2 {
    ///     app.invoke(json!({}), &Config::thread("order-7")).await?;
    /// }
    /// assert_eq!(CHARGES.load(Ordering::SeqCst), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn step_once<T, F, Fut>(&self, key: &str, f: F) -> Result<T, NodeError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, NodeError>>,
    {
        let ledger = self.ledger.clone().ok_or_else(|| {
            NodeError::msg(format!(
                "step_once({key:?}) in node {:?}: the graph has no ledger (CompileOptions::ledger)",
                self.node()
            ))
        })?;
        let step = Step {
            ledger,
            key: serde_json::to_string(&[self.config().thread_id.as_str(), key])
                .unwrap_or_default(),
            owner: self.owner(),
        };
        let token = loop {
            match step
                .call(|l, s| l.claim(STEP_NAMESPACE, &s.key, &s.claim_options()))
                .await?
            {
                Claim::Claimed { token, .. } => break token,
                Claim::Done(record) => {
                    return serde_json::from_value(record.result).map_err(|e| {
                        step.error(format!(
                            "the stored result is not of the type asked for: {e}"
                        ))
                    });
                }
                Claim::Failed(record) => {
                    return Err(step.error(format!(
                        "the step is recorded failed ({}); reset it to run it again",
                        record.error.unwrap_or_default()
                    )));
                }
                Claim::Busy(record) => {
                    let left = record.lease_until.unwrap_or(0).saturating_sub(now_ms());
                    let wait = Duration::from_millis(u64::try_from(left).unwrap_or(0) + 5);
                    tokio::time::sleep(wait.min(BUSY_POLL)).await;
                }
            }
        };
        let renewal = step.renew(token.clone());
        let outcome = f().await;
        drop(renewal);
        match outcome {
            Ok(value) => {
                let stored = serde_json::to_value(&value)
                    .map_err(|e| step.error(format!("the result does not serialise: {e}")))?;
                let t = token.clone();
                step.call(move |l, s| l.done(STEP_NAMESPACE, &s.key, &t, stored, None))
                    .await?;
                Ok(value)
            }
            Err(e) => {
                // Release the step (fenced: only while the lease is ours).
                let reason = e.to_string();
                let released = step
                    .call(move |l, s| {
                        l.fail(STEP_NAMESPACE, &s.key, &token, &reason)?;
                        l.reset(STEP_NAMESPACE, &s.key)
                    })
                    .await;
                if let Err(release) = released {
                    tracing::warn!(key = %step.key, error = %release, "step_once: releasing a failed step");
                }
                Err(e)
            }
        }
    }

    /// Who claims: the run (`configurable.run_id`) or else the task.
    fn owner(&self) -> String {
        self.config()
            .configurable
            .get("run_id")
            .and_then(|v| v.as_str())
            .map_or_else(|| self.task_id().to_owned(), str::to_owned)
    }
}

/// One `step_once` call: its ledger, ledger key and owner.
#[derive(Clone)]
struct Step {
    ledger: Arc<dyn StepLedger>,
    key: String,
    owner: String,
}

impl Step {
    fn claim_options(&self) -> ClaimOptions {
        let lease = u64::try_from(STEP_LEASE.as_millis()).unwrap_or(u64::MAX);
        ClaimOptions::new()
            .with_owner(self.owner.clone())
            .with_lease_ms(lease)
    }

    fn error(&self, reason: impl std::fmt::Display) -> NodeError {
        NodeError::msg(format!("step_once {}: {reason}", self.key))
    }

    /// Runs a (blocking) ledger call off the async runtime.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn StepLedger, &Step) -> LedgerResult<T> + Send + 'static,
    ) -> Result<T, NodeError> {
        let step = self.clone();
        match tokio::task::spawn_blocking(move || f(&*step.ledger, &step)).await {
            Ok(result) => result.map_err(|e| self.error(e.to_string())),
            Err(e) => Err(self.error(format!("the ledger call panicked: {e}"))),
        }
    }

    /// Renews the lease every third of it until dropped (also when the
    /// run is dropped mid-step, as a crash would stop it) or lost.
    fn renew(&self, token: String) -> Renewal {
        let step = self.clone();
        Renewal(tokio::spawn(async move {
            loop {
                tokio::time::sleep(STEP_LEASE / 3).await;
                let t = token.clone();
                let lease = u64::try_from(STEP_LEASE.as_millis()).unwrap_or(u64::MAX);
                let touched = step
                    .call(move |l, s| l.touch(STEP_NAMESPACE, &s.key, &t, Some(lease)))
                    .await;
                if !matches!(touched, Ok(Some(_))) {
                    return;
                }
            }
        }))
    }
}

/// The renewal task, stopped on drop.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}
