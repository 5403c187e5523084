//! A per-key sliding-window rate limit, as SnapState's: the requests of
//! the last window are counted before this one is added, a refused
//! request counts too, and a refusal is 429 with `Retry-After` in whole
//! seconds (the window, rounded up).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::{ApiError, ApiResult};

/// The limit: at most `max` requests per key in any `window`.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `max` requests per key per `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        RateLimiter {
            max,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Retry-After`: the window in seconds, rounded up.
    pub fn retry_after(&self) -> u64 {
        self.window
            .as_millis()
            .div_ceil(1000)
            .try_into()
            .unwrap_or(u64::MAX)
    }

    /// Counts a request of `key` now; 429 if the window was full.
    pub fn check(&self, key: &str) -> ApiResult<()> {
        self.check_at(key, Instant::now())
    }

    /// [`check`](Self::check) at a given instant.
    pub fn check_at(&self, key: &str, now: Instant) -> ApiResult<()> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| ApiError::Internal("rate limiter lock poisoned".to_owned()))?;
        if seen.len() > 10_000 {
            // Forget keys whose window is empty, so the map stays small.
            seen.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let times = seen.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        let count = times.len();
        times.push_back(now);
        if count >= self.max {
            return Err(ApiError::RateLimited {
                retry_after: self.retry_after(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_requests_count_and_the_window_slides() {
        let limiter = RateLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(limiter.check_at("k", t0).is_ok());
        assert!(limiter.check_at("k", t0 + Duration::from_secs(1)).is_ok());
        assert!(matches!(
            limiter.check_at("k", t0 + Duration::from_secs(2)),
            Err(ApiError::RateLimited { retry_after: 10 })
        ));
        assert!(
            limiter
                .check_at("other", t0 + Duration::from_secs(2))
                .is_ok()
        );
        // At 10 s the first left the window, but the refused one at 2 s is
        // still in it with the one at 1 s.
        assert!(limiter.check_at("k", t0 + Duration::from_secs(10)).is_err());
        assert!(limiter.check_at("k", t0 + Duration::from_secs(13)).is_ok());
    }
}
