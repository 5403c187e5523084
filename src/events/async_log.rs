//! Async access to any event log.

use std::sync::Arc;

use super::error::{EventError, EventResult};
use super::event::Event;
use super::log::EventLog;
use super::state::RunState;

/// Any [`EventLog`] from async code: each call runs on tokio's blocking
/// pool (`spawn_blocking`), so a slow disk or server never stalls an async
/// worker. Each call is one call of the log underneath (one transaction in
/// SQLite and PostgreSQL), so a dropped future never leaves half of one.
///
/// ```
/// use checkpointer::events::{AsyncEventLog, Event, EventKind, MemoryEventLog};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), checkpointer::events::EventError> {
/// let log = AsyncEventLog::new(MemoryEventLog::new());
/// log.save_event(Event::new("run-1", EventKind::RunStarted)).await?;
/// assert_eq!(log.list_events("run-1", 0).await?.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AsyncEventLog {
    inner: Arc<dyn EventLog>,
}

impl AsyncEventLog {
    /// Wraps `log`.
    pub fn new(log: impl EventLog + 'static) -> Self {
        Self::from_arc(Arc::new(log))
    }

    /// Wraps a shared log.
    pub fn from_arc(log: Arc<dyn EventLog>) -> Self {
        AsyncEventLog { inner: log }
    }

    /// The log underneath.
    pub fn inner(&self) -> &Arc<dyn EventLog> {
        &self.inner
    }

    /// Runs `call` on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        call: impl FnOnce(&dyn EventLog) -> EventResult<T> + Send + 'static,
    ) -> EventResult<T> {
        let log = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || call(&*log)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(EventError::backend("async", operation, e.to_string())),
        }
    }

    /// [`EventLog::save_event`].
    pub async fn save_event(&self, event: Event) -> EventResult<()> {
        self.blocking("save_event", move |l| l.save_event(&event))
            .await
    }

    /// [`EventLog::list_events`].
    pub async fn list_events(
        &self,
        run_id: impl Into<String>,
        since_seq: u64,
    ) -> EventResult<Vec<Event>> {
        let run_id = run_id.into();
        self.blocking("list_events", move |l| l.list_events(&run_id, since_seq))
            .await
    }

    /// [`EventLog::save_snapshot`].
    pub async fn save_snapshot(
        &self,
        run_id: impl Into<String>,
        state: RunState,
    ) -> EventResult<()> {
        let run_id = run_id.into();
        self.blocking("save_snapshot", move |l| l.save_snapshot(&run_id, &state))
            .await
    }

    /// [`EventLog::load_latest`].
    pub async fn load_latest(&self, run_id: impl Into<String>) -> EventResult<Option<RunState>> {
        let run_id = run_id.into();
        self.blocking("load_latest", move |l| l.load_latest(&run_id))
            .await
    }

    /// [`EventLog::delete_run`].
    pub async fn delete_run(&self, run_id: impl Into<String>) -> EventResult<()> {
        let run_id = run_id.into();
        self.blocking("delete_run", move |l| l.delete_run(&run_id))
            .await
    }

    /// [`EventLog::list_runs`].
    pub async fn list_runs(&self) -> EventResult<Vec<String>> {
        self.blocking("list_runs", |l| l.list_runs()).await
    }

    /// [`EventLog::last_seq`].
    pub async fn last_seq(
        &self,
        run_id: impl Into<String>,
        lane_id: impl Into<String>,
    ) -> EventResult<u64> {
        let (run_id, lane_id) = (run_id.into(), lane_id.into());
        self.blocking("last_seq", move |l| l.last_seq(&run_id, &lane_id))
            .await
    }
}
