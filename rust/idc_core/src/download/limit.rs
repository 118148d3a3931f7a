//! How many requests are in flight: the network decides, the user's `concurrency` caps.
//!
//! [`Aimd`] is the controller, a pure value driven by the outcome of each request (and the
//! instant it arrived, so that tests give it any clock they like):
//! - it starts at [`START`] (or the cap, when lower);
//! - a *round* ends after as many completed requests as the limit held when it began (at
//!   least [`MIN_ROUND`]); at its end the round's completion rate is compared with the
//!   previous round's. Until two rounds in a row do not rise by a fifth or more, each
//!   completed request adds one (slow start, as TCP's: the limit doubles each round); after
//!   that it grows by one a round, or by a quarter when a round's rate rises again (additive
//!   probing);
//! - a request the server throttled (503 SlowDown, 429) halves the limit, as does a burst of
//!   failed requests (connection errors, resets, 5xx: an eighth of the limit, at least 2, in
//!   one round); the requests already in flight when it halved cannot halve it again (one
//!   decrease per round trip, as TCP), and slow start does not come back;
//! - never above the cap, never below 1.
//!
//! [`Limiter`] applies it to a tokio semaphore: permits are added when the limit grows and
//! forgotten when it shrinks (those held at that moment are forgotten as they are returned).
//! One limiter per run, and a run talks to one endpoint: the limit is per endpoint.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

use super::classify::ErrorClass;
use super::failure::Failure;

/// The limit a run starts at (or its cap, when lower): the fixed number of earlier versions,
/// which no network measured so far was too many for, so that short runs do not pay for the
/// climb from a lower start.
pub(crate) const START: usize = 64;
/// A round is never shorter than this many completed requests (a rate over fewer is noise).
pub(crate) const MIN_ROUND: usize = 8;
/// A round's rate "rises" when it is this much over the previous round's.
const RISE: f64 = 1.2;
/// Rounds that do not rise before slow start ends.
const FLAT_ROUNDS: u32 = 2;

/// What a request's outcome tells the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// The request completed (its body received).
    Done,
    /// The server asked to slow down (503, 429, SlowDown).
    Throttled,
    /// A transient failure: connection error, reset, stall, truncated body, other 5xx.
    Failed,
}

impl Signal {
    /// The signal of an attempt's outcome; `None` for those that say nothing about the
    /// network (a missing object, a local error, a cancel).
    pub fn of<T>(outcome: &Result<T, Failure>) -> Option<Signal> {
        match outcome {
            Ok(_) => Some(Signal::Done),
            Err(Failure::Cancelled) => None,
            Err(f) => match f.class() {
                ErrorClass::SlowDown => Some(Signal::Throttled),
                ErrorClass::Transient => Some(Signal::Failed),
                ErrorClass::Permanent | ErrorClass::Fatal => None,
            },
        }
    }
}

/// What the limit did during a run, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConcurrencyStats {
    /// The user's cap.
    pub cap: usize,
    /// The limit the run started at.
    pub start: usize,
    /// The highest limit reached.
    pub peak: usize,
    /// The lowest limit reached.
    pub lowest: usize,
    /// The limit at the end.
    pub last: usize,
    /// How many times it was halved (throttling or a burst of failures).
    pub decreases: u32,
}

/// The AIMD controller (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Aimd {
    limit: usize,
    cap: usize,
    slow_start: bool,
    flat: u32,
    round_len: usize,
    round_done: usize,
    round_failed: usize,
    round_start: Instant,
    last_rate: Option<f64>,
    /// Outcomes still to come from requests sent before the last decrease.
    grace: usize,
    stats: ConcurrencyStats,
}

impl Aimd {
    pub fn new(cap: usize, now: Instant) -> Self {
        let cap = cap.max(1);
        let limit = START.min(cap);
        Self {
            limit,
            cap,
            slow_start: true,
            flat: 0,
            round_len: limit.max(MIN_ROUND),
            round_done: 0,
            round_failed: 0,
            round_start: now,
            last_rate: None,
            grace: 0,
            stats: ConcurrencyStats {
                cap,
                start: limit,
                peak: limit,
                lowest: limit,
                last: limit,
                decreases: 0,
            },
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn stats(&self) -> ConcurrencyStats {
        self.stats
    }

    /// Take one request's outcome, at `now`; returns the new limit.
    pub fn on(&mut self, signal: Signal, now: Instant) -> usize {
        let in_grace = self.grace > 0;
        self.grace = self.grace.saturating_sub(1);
        match signal {
            Signal::Done => {
                self.round_done += 1;
                if self.slow_start && self.limit < self.cap {
                    // One more for each completion: the limit doubles over a round.
                    self.limit += 1;
                    self.record();
                }
                if self.round_done >= self.round_len {
                    self.end_round(now);
                }
            }
            Signal::Throttled if !in_grace => self.decrease(now),
            Signal::Throttled => {}
            Signal::Failed => {
                self.round_failed += 1;
                if !in_grace && self.round_failed >= (self.limit / 8).max(2) {
                    self.decrease(now);
                }
            }
        }
        self.limit
    }

    fn end_round(&mut self, now: Instant) {
        let secs = now
            .saturating_duration_since(self.round_start)
            .as_secs_f64()
            .max(1e-6);
        let rate = self.round_done as f64 / secs;
        let rising = self.last_rate.is_none_or(|r| rate > r * RISE);
        let grown = if self.slow_start && rising {
            self.flat = 0;
            self.limit
        } else if self.slow_start {
            self.flat += 1;
            self.slow_start = self.flat < FLAT_ROUNDS;
            self.limit
        } else if rising {
            self.limit + (self.limit / 4).max(1)
        } else {
            self.limit + 1
        };
        self.last_rate = Some(rate);
        self.set(grown.min(self.cap), now);
    }

    fn decrease(&mut self, now: Instant) {
        self.slow_start = false;
        self.grace = self.limit;
        self.stats.decreases += 1;
        self.set((self.limit / 2).max(1), now);
    }

    fn set(&mut self, limit: usize, now: Instant) {
        self.limit = limit;
        self.round_len = limit.max(MIN_ROUND);
        self.round_done = 0;
        self.round_failed = 0;
        self.round_start = now;
        self.record();
    }

    fn record(&mut self) {
        let (s, limit) = (&mut self.stats, self.limit);
        s.peak = s.peak.max(limit);
        s.lowest = s.lowest.min(limit);
        s.last = limit;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Requests in flight, under the controller's limit.
pub(crate) struct Limiter {
    sem: Arc<Semaphore>,
    inner: Mutex<Inner>,
    /// Permits to forget as they come back (the limit shrank while they were held).
    debt: AtomicUsize,
}

struct Inner {
    aimd: Aimd,
    /// Permits the semaphore holds or has lent, less the debt: the limit last applied.
    issued: usize,
}

/// One request's place; returned to the limiter (or forgotten, if the limit shrank) on drop.
pub(crate) struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            let paid = self
                .limiter
                .debt
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1));
            if paid.is_ok() {
                p.forget();
            }
        }
    }
}

impl Limiter {
    pub fn new(cap: usize) -> Arc<Self> {
        let aimd = Aimd::new(cap, Instant::now());
        let issued = aimd.limit();
        Arc::new(Self {
            sem: Arc::new(Semaphore::new(issued)),
            inner: Mutex::new(Inner { aimd, issued }),
            debt: AtomicUsize::new(0),
        })
    }

    /// Wait for a place.
    pub async fn acquire(self: &Arc<Self>) -> Result<Permit, AcquireError> {
        let p = Arc::clone(&self.sem).acquire_owned().await?;
        Ok(Permit {
            permit: Some(p),
            limiter: Arc::clone(self),
        })
    }

    /// Tell the controller how a request ended (nothing, for outcomes without a signal).
    pub fn observe<T>(&self, outcome: &Result<T, Failure>) {
        if let Some(s) = Signal::of(outcome) {
            self.signal(s);
        }
    }

    pub fn signal(&self, signal: Signal) {
        let mut inner = lock(&self.inner);
        let limit = inner.aimd.on(signal, Instant::now());
        if limit > inner.issued {
            let mut add = limit - inner.issued;
            if let Ok(owed) = self
                .debt
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                    Some(d - d.min(add))
                })
            {
                add -= owed.min(add);
            }
            self.sem.add_permits(add);
        } else if limit < inner.issued {
            let cut = inner.issued - limit;
            let gone = self.sem.forget_permits(cut);
            self.debt.fetch_add(cut - gone, Ordering::AcqRel);
        }
        inner.issued = limit;
    }

    #[cfg(test)]
    pub fn limit(&self) -> usize {
        lock(&self.inner).aimd.limit()
    }

    pub fn stats(&self) -> ConcurrencyStats {
        lock(&self.inner).aimd.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A controller with its own clock: `n` completions, `each` apart.
    struct Run {
        aimd: Aimd,
        now: Instant,
    }

    impl Run {
        fn new(cap: usize) -> Self {
            let now = Instant::now();
            Self {
                aimd: Aimd::new(cap, now),
                now,
            }
        }
        /// One round of the current limit's completions, taking `rtt` in all (a network
        /// where each request takes `rtt` and the limit is in flight).
        fn round(&mut self, rtt: Duration) -> usize {
            let n = self.aimd.round_len;
            for i in 0..n {
                if i == n - 1 {
                    self.now += rtt;
                }
                self.aimd.on(Signal::Done, self.now);
            }
            self.aimd.limit()
        }
        fn signal(&mut self, s: Signal) -> usize {
            self.aimd.on(s, self.now)
        }
    }

    const RTT: Duration = Duration::from_millis(80);

    #[test]
    fn doubles_while_the_rate_rises_up_to_the_cap() {
        // Latency bound: every round takes one round trip, so the rate follows the limit.
        let mut r = Run::new(1024);
        assert_eq!(r.aimd.limit(), START);
        let seen: Vec<usize> = (0..6).map(|_| r.round(RTT)).collect();
        assert_eq!(seen, [128, 256, 512, 1024, 1024, 1024]);
        assert_eq!(r.aimd.stats().peak, 1024);
        assert_eq!(r.aimd.stats().decreases, 0);
    }

    #[test]
    fn stops_doubling_when_the_rate_stops_rising() {
        // Throughput bound: a round of n completions takes n / 1000 s, whatever the limit.
        let mut r = Run::new(4096);
        let mut limits = vec![];
        for _ in 0..8 {
            let n = r.aimd.round_len;
            limits.push(r.round(Duration::from_millis(n as u64)));
        }
        // Slow start doubles each round until two rounds in a row do not rise, then one a
        // round.
        assert_eq!(limits, [128, 256, 512, 513, 514, 515, 516, 517]);
        assert!(!r.aimd.slow_start);
    }

    #[test]
    fn a_throttle_halves_once_per_round_trip_and_growth_is_then_additive() {
        let mut r = Run::new(1024);
        r.round(RTT);
        r.round(RTT);
        assert_eq!(r.aimd.limit(), 256);
        assert_eq!(r.signal(Signal::Throttled), 128);
        // The 256 requests that were in flight are throttled too: no further halving.
        for _ in 0..256 {
            assert_eq!(r.signal(Signal::Throttled), 128);
        }
        // A new throttle after that halves again.
        assert_eq!(r.signal(Signal::Throttled), 64);
        assert_eq!(r.aimd.stats().decreases, 2);
        assert_eq!(r.aimd.stats().lowest, 64);
        // No slow start after a throttle: rounds slower than before add one each.
        let slow = |n: usize| Duration::from_millis(4 * n as u64);
        let n = r.aimd.round_len;
        assert_eq!(r.round(slow(n)), 65);
        let n = r.aimd.round_len;
        assert_eq!(r.round(slow(n)), 66);
    }

    #[test]
    fn a_burst_of_failures_halves_but_a_single_one_does_not() {
        let mut r = Run::new(256);
        for _ in 0..4 {
            r.round(RTT);
        }
        assert_eq!(r.aimd.limit(), 256);
        assert_eq!(r.signal(Signal::Failed), 256, "one reset is not congestion");
        for _ in 0..30 {
            r.signal(Signal::Failed);
        }
        assert_eq!(r.aimd.limit(), 256);
        assert_eq!(
            r.signal(Signal::Failed),
            128,
            "an eighth of the limit failed"
        );
    }

    #[test]
    fn never_above_the_cap_never_below_one() {
        let mut r = Run::new(5);
        assert_eq!(r.aimd.limit(), 5);
        for _ in 0..5 {
            assert!(r.round(RTT) <= 5);
        }
        let mut r = Run::new(256);
        for _ in 0..20 {
            r.aimd.grace = 0;
            r.signal(Signal::Throttled);
        }
        assert_eq!(r.aimd.limit(), 1);
        assert_eq!(r.aimd.stats().lowest, 1);
        let mut r = Run::new(0);
        assert_eq!(r.aimd.limit(), 1);
        assert_eq!(r.round(RTT), 1);
    }

    #[test]
    fn outcomes_become_signals() {
        let ok: Result<(), Failure> = Ok(());
        assert_eq!(Signal::of(&ok), Some(Signal::Done));
        let slow: Result<(), Failure> = Err(Failure::Status {
            status: 503,
            code: Some("SlowDown".into()),
            message: None,
        });
        assert_eq!(Signal::of(&slow), Some(Signal::Throttled));
        let reset: Result<(), Failure> = Err(Failure::Network("reset".into()));
        assert_eq!(Signal::of(&reset), Some(Signal::Failed));
        let missing: Result<(), Failure> = Err(Failure::Status {
            status: 404,
            code: None,
            message: None,
        });
        assert_eq!(Signal::of(&missing), None);
        assert_eq!(Signal::of(&Err::<(), _>(Failure::Cancelled)), None);
    }

    #[tokio::test]
    async fn the_semaphore_follows_the_limit() {
        let l = Limiter::new(64);
        assert_eq!(l.sem.available_permits(), START);
        // Hold every place, then shrink: the held ones are forgotten as they come back.
        let mut held = Vec::new();
        for _ in 0..START {
            held.push(l.acquire().await.unwrap());
        }
        l.signal(Signal::Throttled);
        assert_eq!(l.limit(), START / 2);
        drop(held);
        assert_eq!(l.sem.available_permits(), START / 2);
        // Grow by completions: permits are added.
        for _ in 0..MIN_ROUND.max(START / 2) {
            l.signal(Signal::Done);
        }
        assert_eq!(l.sem.available_permits(), l.limit());
        assert!(l.limit() > START / 2);
        // Shrink while nothing is held: forgotten at once.
        let p = l.acquire().await.unwrap();
        {
            let mut inner = lock(&l.inner);
            inner.aimd.grace = 0;
        }
        l.signal(Signal::Throttled);
        drop(p);
        assert_eq!(l.sem.available_permits(), l.limit());
    }
}
