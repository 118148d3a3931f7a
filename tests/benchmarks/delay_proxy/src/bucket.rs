//! The bandwidth cap: one token bucket for the whole proxy, filled at the link's rate from a
//! monotonic clock. A writer reserves its bytes and is told how long to sleep before sending
//! them; reservations may run the bucket below zero (bytes promised to earlier writers), so
//! writers on many connections are served one after the other at exactly the link's rate, each
//! sleeping until its turn instead of polling.
//!
//! The arithmetic is exact: the level is kept in nano-bytes (bytes x 10^9), so that a refill is
//! `elapsed nanoseconds x bytes per second` with no rounding and waits are rounded up to the
//! nanosecond. Times are passed in, so the tests drive it with a fake clock.

use std::time::{Duration, Instant};

const NANOS: i128 = 1_000_000_000;

/// The largest piece written at once: 64 KiB or 1 ms worth of the link, whichever is less (but
/// at least a packet), so a connection's bytes are spread over the link in small bursts.
pub fn write_size(bytes_per_s: u64) -> usize {
    (bytes_per_s / 1000).clamp(1500, 64 << 10) as usize
}

/// What the bucket holds when full (the largest burst after an idle moment): 64 KiB or 2 ms
/// worth, whichever is more. tokio's timer fires on whole milliseconds, so a writer wakes up to
/// about 1 ms after its turn; the bucket must hold what accrued meanwhile or the link loses it.
pub fn capacity(bytes_per_s: u64) -> u64 {
    (bytes_per_s / 500).max(64 << 10)
}

/// Bytes per second of a link of `mbit_per_s` megabits (10^6 bits) per second.
pub fn bytes_per_s(mbit_per_s: f64) -> u64 {
    (mbit_per_s * 125_000.0).round() as u64
}

#[derive(Debug)]
pub struct Bucket {
    /// Bytes per second added.
    rate: i128,
    /// The most the bucket holds, in nano-bytes.
    capacity: i128,
    /// Tokens in nano-bytes; below zero when bytes are promised ahead of the clock.
    level: i128,
    /// When the level was last brought up to date.
    last: Instant,
}

impl Bucket {
    /// A full bucket of `capacity` bytes filled at `bytes_per_s`.
    pub fn new(bytes_per_s: u64, capacity: u64, now: Instant) -> Self {
        assert!(bytes_per_s > 0, "a bucket needs a rate");
        let capacity = i128::from(capacity) * NANOS;
        Bucket {
            rate: i128::from(bytes_per_s),
            capacity,
            level: capacity,
            last: now,
        }
    }

    /// Takes `n` bytes at `now` and returns how long the caller must wait before sending them
    /// (zero when the bucket held them). The bytes are the caller's from this moment: the next
    /// caller waits for its own on top of them.
    pub fn reserve(&mut self, n: u64, now: Instant) -> Duration {
        self.refill(now);
        self.level -= i128::from(n) * NANOS;
        if self.level >= 0 {
            Duration::ZERO
        } else {
            let ns = (-self.level + self.rate - 1) / self.rate;
            Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
        }
    }

    /// The tokens at `now`, in bytes (negative: promised ahead), after a refill.
    #[cfg(test)]
    fn level(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.level as f64 / NANOS as f64
    }

    fn refill(&mut self, now: Instant) {
        // A clock reading older than the last one (callers race for the lock) adds nothing.
        if let Some(elapsed) = now.checked_duration_since(self.last) {
            self.level = (self.level + elapsed.as_nanos() as i128 * self.rate).min(self.capacity);
            self.last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: f64) -> Duration {
        Duration::from_nanos((x * 1e6).round() as u64)
    }

    #[test]
    fn sizes_for_200_mbit_and_1_gbit() {
        assert_eq!(bytes_per_s(200.0), 25_000_000);
        assert_eq!(bytes_per_s(1000.0), 125_000_000);
        assert_eq!(bytes_per_s(0.5), 62_500);
        assert_eq!(write_size(25_000_000), 25_000); // 1 ms
        assert_eq!(write_size(125_000_000), 65_536); // 64 KiB, 0.52 ms
        assert_eq!(write_size(62_500), 1500);
        assert_eq!(capacity(25_000_000), 65_536); // 2.6 ms
        assert_eq!(capacity(125_000_000), 250_000); // 2 ms
    }

    #[test]
    fn starts_full_then_waits_for_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(25_000_000, 65_536, t0);
        assert_eq!(b.reserve(65_536, t0), Duration::ZERO);
        // Empty: 25,000 bytes take exactly 1 ms at 25 MB/s.
        assert_eq!(b.reserve(25_000, t0), ms(1.0));
        // Half a millisecond later, half of it has accrued: the same wait, from later.
        assert_eq!(b.reserve(1, t0 + ms(0.5)), Duration::from_nanos(500_040));
        // A byte at 25 MB/s is 40 ns: rounded up, never down.
        let mut c = Bucket::new(25_000_000, 0, t0);
        assert_eq!(c.reserve(1, t0), Duration::from_nanos(40));
        let mut d = Bucket::new(3, 0, t0);
        assert_eq!(d.reserve(1, t0), Duration::from_nanos(333_333_334));
    }

    #[test]
    fn fills_up_to_its_capacity_only() {
        let t0 = Instant::now();
        let mut b = Bucket::new(125_000_000, 250_000, t0);
        assert_eq!(b.reserve(250_000, t0), Duration::ZERO);
        assert_eq!(b.level(t0 + ms(1.0)), 125_000.0);
        // Idle for 10 s: full, not 1.25 GB.
        assert_eq!(b.level(t0 + Duration::from_secs(10)), 250_000.0);
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.reserve(250_000, t1), Duration::ZERO);
        assert_eq!(b.reserve(125_000, t1), ms(1.0));
        // A reading from before the last one adds nothing and takes nothing back.
        assert_eq!(b.level(t0), -125_000.0);
        assert_eq!(b.level(t1 + ms(1.0)), 0.0);
    }

    #[test]
    fn connections_reserving_at_once_are_served_in_turn_at_the_rate() {
        let t0 = Instant::now();
        let (rate, cap, piece) = (25_000_000u64, 65_536u64, 25_000u64);
        let mut b = Bucket::new(rate, cap, t0);
        let waits: Vec<Duration> = (0..1000).map(|_| b.reserve(piece, t0)).collect();
        // The k-th piece may go once the bucket has earned it beyond what it held.
        for (k, w) in waits.iter().enumerate() {
            let owed = ((k as u64 + 1) * piece).saturating_sub(cap);
            assert_eq!(
                w.as_nanos(),
                (u128::from(owed) * 1_000_000_000).div_ceil(u128::from(rate))
            );
        }
        // 25 MB through a 25 MB/s link: 1 s less the bucket's head start.
        assert_eq!(
            waits[999],
            Duration::from_nanos(1_000_000_000 - 65_536 * 40)
        );
    }

    /// One writer that sleeps on a millisecond timer, waking on the next whole millisecond after
    /// its turn and 0.3 ms later still: the bucket makes up the lateness, so the link carries
    /// its rate, neither less nor more (beyond the first burst).
    #[test]
    fn late_wakeups_do_not_cost_the_link() {
        for mbit in [200.0, 1000.0] {
            let rate = bytes_per_s(mbit);
            let (piece, cap) = (write_size(rate) as u64, capacity(rate));
            let t0 = Instant::now();
            let mut b = Bucket::new(rate, cap, t0);
            let (mut now, mut sent) = (Duration::ZERO, 0u64);
            let total = rate * 5; // 5 s of the link
            while sent < total {
                let wait = b.reserve(piece, t0 + now);
                if !wait.is_zero() {
                    let due = (now + wait).as_nanos();
                    now =
                        Duration::from_nanos(due.div_ceil(1_000_000) as u64 * 1_000_000) + ms(0.3);
                }
                sent += piece;
            }
            // The last piece is sent at `now`: the bytes before it took at least their time.
            let ideal = (sent - piece - cap) as f64 / rate as f64;
            let took = now.as_secs_f64();
            assert!(
                took >= ideal,
                "{mbit} Mbit/s: {took} s for {ideal} s worth of bytes"
            );
            // Up to one piece's time and one late wake-up (1.3 ms) after it: nothing was lost.
            assert!(
                took <= ideal + 0.003,
                "{mbit} Mbit/s: {took} s for {ideal} s worth of bytes"
            );
        }
    }
}
