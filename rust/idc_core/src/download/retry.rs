//! How long to wait before another attempt, and the loop that makes the attempts: bounded
//! exponential backoff with jitter, for the failures whose [class](super::classify) is
//! transient or a request to slow down.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::classify::ErrorClass;
use super::failure::Failure;

/// Bounded exponential backoff with full jitter.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff's upper bound; doubled at each further attempt.
    pub base_delay: Duration,
    /// No single backoff is longer than this.
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt of a file.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the wait before attempt `attempt + 1` (`attempt` counts from 1).
    pub fn ceiling(&self, attempt: u32, class: ErrorClass) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let mut d = self.base_delay.saturating_mul(1u32 << exp);
        if class == ErrorClass::SlowDown {
            d = d.saturating_mul(4);
        }
        d.min(self.max_delay)
    }

    /// The wait before the next attempt, or `None` when the failure must not be retried:
    /// its class is not retryable, the attempts are used up, or the time budget would be exceeded.
    pub fn next_delay(
        &self,
        attempt: u32,
        class: ErrorClass,
        elapsed: Duration,
    ) -> Option<Duration> {
        if !matches!(class, ErrorClass::Transient | ErrorClass::SlowDown)
            || attempt >= self.max_attempts
        {
            return None;
        }
        let ceiling = self.ceiling(attempt, class);
        // Full jitter, but never less than a tenth of the ceiling so that retries do not hammer.
        let floor = ceiling / 10;
        let span = ceiling.saturating_sub(floor).as_nanos() as u64;
        let delay = floor
            + Duration::from_nanos(if span == 0 {
                0
            } else {
                fastrand::u64(0..=span)
            });
        if elapsed + delay > self.max_elapsed {
            return None;
        }
        Some(delay)
    }
}

/// What [`RetryPolicy::run`] ends with: the outcome, the attempts made, the time spent.
pub(crate) struct Attempts<T> {
    pub outcome: Result<T, Failure>,
    pub attempts: u32,
    pub elapsed: Duration,
}

impl RetryPolicy {
    /// Run `attempt` until it succeeds, fails for good, or `cancel` fires.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        cancel: &CancellationToken,
        mut attempt: F,
    ) -> Attempts<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let start = Instant::now();
        let mut n = 0;
        let end = |outcome, n| Attempts {
            outcome,
            attempts: n,
            elapsed: start.elapsed(),
        };
        loop {
            n += 1;
            let failure = tokio::select! {
                biased;
                _ = cancel.cancelled() => Failure::Cancelled,
                r = attempt() => match r {
                    Ok(v) => return end(Ok(v), n),
                    Err(f) => f,
                },
            };
            if matches!(failure, Failure::Cancelled) {
                return end(Err(failure), n);
            }
            let Some(delay) = self.next_delay(n, failure.class(), start.elapsed()) else {
                return end(Err(failure), n);
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return end(Err(Failure::Cancelled), n),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_bounded_and_jittered() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(10),
        };
        assert_eq!(
            p.ceiling(1, ErrorClass::Transient),
            Duration::from_millis(100)
        );
        assert_eq!(
            p.ceiling(3, ErrorClass::Transient),
            Duration::from_millis(400)
        );
        assert_eq!(p.ceiling(3, ErrorClass::SlowDown), Duration::from_secs(1));
        assert_eq!(p.ceiling(30, ErrorClass::Transient), Duration::from_secs(1));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let d = p
                .next_delay(2, ErrorClass::Transient, Duration::ZERO)
                .unwrap();
            assert!(
                d >= Duration::from_millis(20) && d <= Duration::from_millis(200),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 10, "backoff is not jittered");
    }

    #[test]
    fn retries_stop() {
        let p = RetryPolicy::default();
        assert_eq!(p.next_delay(1, ErrorClass::Permanent, Duration::ZERO), None);
        assert_eq!(p.next_delay(1, ErrorClass::Fatal, Duration::ZERO), None);
        assert_eq!(
            p.next_delay(p.max_attempts, ErrorClass::Transient, Duration::ZERO),
            None
        );
        assert!(p
            .next_delay(p.max_attempts - 1, ErrorClass::Transient, Duration::ZERO)
            .is_some());
        assert_eq!(p.next_delay(1, ErrorClass::Transient, p.max_elapsed), None);
    }
}
