//! `RetryPolicy`: how often a failing node is tried again, and after how
//! long, as LangGraph's `RetryPolicy`.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

type RetryOn = dyn Fn(&(dyn Error + Send + Sync + 'static)) -> bool + Send + Sync;

/// Retries of a node that returns an error, set with
/// [`StateGraph::add_retry_policy`](crate::graph::StateGraph::add_retry_policy).
///
/// The defaults are LangGraph's: 3 attempts in all, 0.5 s before the
/// second, each wait `backoff_factor` (2) times the one before, at most
/// 128 s, plus a random jitter of up to 1 s; every error retries unless
/// [`retry_on`](Self::retry_on) says otherwise. Only errors the node
/// returns retry: an interrupt, a panic, an invalid update or a typed
/// state that does not decode does not.
/// Each retry is a [`StreamEvent::TaskRetry`](crate::graph::StreamEvent::TaskRetry)
/// in [`StreamMode::Tasks`](crate::graph::StreamMode::Tasks); the error of
/// the last attempt fails the task and is saved as a failure always is.
///
/// ```
/// use std::time::Duration;
/// use checkpointer::graph::RetryPolicy;
///
/// let policy = RetryPolicy::new()
///     .max_attempts(5)
///     .initial_interval(Duration::from_millis(100))
///     .jitter(false)
///     .retry_on(|e| e.to_string().contains("timeout"));
/// assert_eq!(policy.delay(1), Duration::from_millis(100));
/// assert_eq!(policy.delay(3), Duration::from_millis(400));
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_interval: Duration,
    backoff_factor: f64,
    max_interval: Duration,
    jitter: bool,
    retry_on: Option<Arc<RetryOn>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_interval: Duration::from_millis(500),
            backoff_factor: 2.0,
            max_interval: Duration::from_secs(128),
            jitter: true,
            retry_on: None,
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_interval", &self.initial_interval)
            .field("backoff_factor", &self.backoff_factor)
            .field("max_interval", &self.max_interval)
            .field("jitter", &self.jitter)
            .field("retry_on", &self.retry_on.as_ref().map(|_| ".."))
            .finish()
    }
}

impl RetryPolicy {
    /// LangGraph's defaults (see above).
    pub fn new() -> Self {
        RetryPolicy::default()
    }

    /// Attempts in all, the first included (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait before the second attempt.
    #[must_use]
    pub fn initial_interval(mut self, interval: Duration) -> Self {
        self.initial_interval = interval;
        self
    }

    /// How much longer each wait is than the one before (at least 1).
    #[must_use]
    pub fn backoff_factor(mut self, factor: f64) -> Self {
        self.backoff_factor = if factor.is_finite() {
            factor.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// The longest wait, before jitter.
    #[must_use]
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// Whether a random 0 to 1 s is added to each wait.
    #[must_use]
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Which errors retry (by default, all).
    #[must_use]
    pub fn retry_on<F>(mut self, f: F) -> Self
    where
        F: Fn(&(dyn Error + Send + Sync + 'static)) -> bool + Send + Sync + 'static,
    {
        self.retry_on = Some(Arc::new(f));
        self
    }

    /// The wait after failed attempt `attempt` (1-based), before jitter:
    /// `initial_interval * backoff_factor^(attempt - 1)`, at most
    /// `max_interval`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.initial_interval.as_secs_f64() * self.backoff_factor.powi(exponent);
        let max = self.max_interval.as_secs_f64();
        Duration::try_from_secs_f64(secs.min(max)).unwrap_or(self.max_interval)
    }

    /// Whether failed attempt `attempt` (1-based) with `error` is tried
    /// again, and after how long (jitter included).
    pub(crate) fn next_wait(
        &self,
        attempt: u32,
        error: &(dyn Error + Send + Sync + 'static),
    ) -> Option<Duration> {
        // A typed state that does not decode would not decode next time.
        #[cfg(feature = "derive")]
        if error.is::<super::typed::StateDecodeError>() {
            return None;
        }
        if attempt >= self.max_attempts || !self.retry_on.as_ref().is_none_or(|f| f(error)) {
            return None;
        }
        let jitter = if self.jitter {
            Duration::from_secs_f64(fastrand::f64())
        } else {
            Duration::ZERO
        };
        Some(self.delay(attempt) + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_factor_up_to_the_maximum() {
        let p = RetryPolicy::new()
            .initial_interval(Duration::from_secs(1))
            .max_interval(Duration::from_secs(5))
            .jitter(false);
        let waits: Vec<Duration> = (1..=4).map(|a| p.delay(a)).collect();
        assert_eq!(waits, [1, 2, 4, 5].map(Duration::from_secs));
    }

    #[test]
    fn attempts_and_the_predicate_decide_whether_to_retry() {
        let p = RetryPolicy::new()
            .max_attempts(2)
            .jitter(false)
            .retry_on(|e| e.to_string() == "flaky");
        let flaky: Box<dyn Error + Send + Sync> = "flaky".into();
        let fatal: Box<dyn Error + Send + Sync> = "fatal".into();
        assert_eq!(
            p.next_wait(1, flaky.as_ref()),
            Some(Duration::from_millis(500))
        );
        assert_eq!(p.next_wait(2, flaky.as_ref()), None);
        assert_eq!(p.next_wait(1, fatal.as_ref()), None);
        let jittered = RetryPolicy::new().next_wait(1, fatal.as_ref()).unwrap();
        assert!(jittered >= Duration::from_millis(500) && jittered < Duration::from_millis(1500));
    }
}
