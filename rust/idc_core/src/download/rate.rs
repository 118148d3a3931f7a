//! A bandwidth limit for shared links (`DownloadConfig::max_bandwidth`): one token bucket for
//! every response body of a download. A body's reader takes tokens for each piece it receives
//! and, when the bucket is in debt, waits until the debt is paid before it reads on; TCP's flow
//! control then slows the server down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this much time's worth of bytes is received at full speed after an idle spell.
const BURST: Duration = Duration::from_millis(50);

/// A shared token bucket of `bytes_per_second`.
pub(crate) struct RateLimit {
    bytes_per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

struct Bucket {
    /// Bytes that may be received now; negative while the bucket is in debt.
    tokens: f64,
    refilled: Instant,
}

impl RateLimit {
    pub fn new(bytes_per_second: u64) -> Self {
        let rate = bytes_per_second as f64;
        let burst = (rate * BURST.as_secs_f64()).max(16.0 * 1024.0);
        Self {
            bytes_per_second: rate,
            burst,
            bucket: Mutex::new(Bucket {
                tokens: burst,
                refilled: Instant::now(),
            }),
        }
    }

    /// Take `n` bytes' tokens at `now`; how long the taker must wait before it reads on.
    fn take_at(&self, n: usize, now: Instant) -> Duration {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.refilled).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.bytes_per_second).min(self.burst);
        b.refilled = b.refilled.max(now);
        b.tokens -= n as f64;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / self.bytes_per_second)
        }
    }

    /// Account for `n` bytes received, waiting as long as the limit requires.
    pub async fn take(&self, n: usize) {
        let wait = self.take_at(n, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debt_sets_the_pace() {
        let limit = RateLimit::new(1_000_000); // 1 MB/s; burst 50 kB
        let t0 = Instant::now();
        // The burst is free, then every byte costs a microsecond.
        assert_eq!(limit.take_at(50_000, t0), Duration::ZERO);
        assert_eq!(limit.take_at(100_000, t0), Duration::from_millis(100));
        // Two readers at once share the rate: the second waits for both debts.
        assert_eq!(limit.take_at(100_000, t0), Duration::from_millis(200));
        // Time pays the debt back.
        let later = t0 + Duration::from_millis(200);
        assert_eq!(limit.take_at(0, later), Duration::ZERO);
        // Over any long stretch, what is received is the rate times the time (plus one burst).
        let mut t = later;
        let mut received = 0u64;
        for _ in 0..1000 {
            let wait = limit.take_at(65_536, t);
            received += 65_536;
            t += wait;
        }
        let seconds = (t - later).as_secs_f64();
        let rate = received as f64 / seconds;
        assert!((rate - 1_000_000.0).abs() / 1_000_000.0 < 0.01, "{rate}");
    }

    #[test]
    fn an_idle_spell_allows_one_burst_only() {
        let limit = RateLimit::new(1_000_000);
        let t0 = Instant::now();
        let idle = t0 + Duration::from_secs(60);
        assert_eq!(limit.take_at(50_000, idle), Duration::ZERO);
        assert_eq!(limit.take_at(1_000, idle), Duration::from_millis(1));
    }
}
