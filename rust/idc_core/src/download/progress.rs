//! Counters that the transfer updates and a poller reads at any time, without locks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters of one download.
#[derive(Debug, Default)]
pub struct Progress {
    bytes_done: AtomicU64,
    bytes_present: AtomicU64,
    bytes_total: AtomicU64,
    files_downloaded: AtomicU64,
    files_skipped: AtomicU64,
    files_failed: AtomicU64,
    files_total: AtomicU64,
    listings_pending: AtomicU64,
}

/// A consistent-enough reading of [`Progress`] (each counter is read atomically).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// Bytes received, plus the size of files found already present. Bytes of an attempt that
    /// failed are taken back, so this never runs ahead of what is on disk.
    pub bytes_done: u64,
    /// The part of `bytes_done` that is files found already present (not transferred: a rate
    /// is the rest over the time).
    pub bytes_present: u64,
    /// Bytes of every file known so far; while listings are pending it includes the size
    /// hints of the prefixes not listed yet.
    pub bytes_total: u64,
    pub files_downloaded: u64,
    /// Files found already present and verified.
    pub files_skipped: u64,
    pub files_failed: u64,
    /// Files known so far (grows while listings are pending).
    pub files_total: u64,
    /// Prefixes not listed yet: while non-zero, the totals are provisional.
    pub listings_pending: u64,
}

impl ProgressSnapshot {
    /// Files finished either way.
    pub fn files_finished(&self) -> u64 {
        self.files_downloaded + self.files_skipped + self.files_failed
    }
}

impl Progress {
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            bytes_done: self.bytes_done.load(Relaxed),
            bytes_present: self.bytes_present.load(Relaxed),
            bytes_total: self.bytes_total.load(Relaxed),
            files_downloaded: self.files_downloaded.load(Relaxed),
            files_skipped: self.files_skipped.load(Relaxed),
            files_failed: self.files_failed.load(Relaxed),
            files_total: self.files_total.load(Relaxed),
            listings_pending: self.listings_pending.load(Relaxed),
        }
    }

    pub(crate) fn add_bytes(&self, n: u64) {
        self.bytes_done.fetch_add(n, Relaxed);
    }
    pub(crate) fn sub_bytes(&self, n: u64) {
        self.bytes_done.fetch_sub(n, Relaxed);
    }

    // The totals change only here: when the plan is read, when a listing ends, and when a
    // response tells the size of an object the plan gave without one.

    /// An object of the plan, of `size` bytes when known.
    pub(crate) fn planned_object(&self, size: Option<u64>) {
        self.files_total.fetch_add(1, Relaxed);
        self.bytes_total.fetch_add(size.unwrap_or(0), Relaxed);
    }
    /// A prefix of the plan, expected to hold about `hint` bytes.
    pub(crate) fn planned_prefix(&self, hint: u64) {
        self.listings_pending.fetch_add(1, Relaxed);
        self.bytes_total.fetch_add(hint, Relaxed);
    }
    /// A prefix's listing ended: `files` objects of `bytes` in all replace its hint. A failed
    /// (or never started) listing counts as one file, which fails.
    pub(crate) fn listed(&self, hint: u64, listed: Option<(u64, u64)>) {
        let (files, bytes) = listed.unwrap_or((1, 0));
        self.listings_pending.fetch_sub(1, Relaxed);
        self.files_total.fetch_add(files, Relaxed);
        if bytes >= hint {
            self.bytes_total.fetch_add(bytes - hint, Relaxed);
        } else {
            self.bytes_total.fetch_sub(hint - bytes, Relaxed);
        }
    }
    /// The size of an object planned without one.
    pub(crate) fn size_learned(&self, size: u64) {
        self.bytes_total.fetch_add(size, Relaxed);
    }

    pub(crate) fn downloaded(&self) {
        self.files_downloaded.fetch_add(1, Relaxed);
    }
    pub(crate) fn skipped(&self, bytes: u64) {
        self.files_skipped.fetch_add(1, Relaxed);
        self.bytes_present.fetch_add(bytes, Relaxed);
        self.bytes_done.fetch_add(bytes, Relaxed);
    }
    pub(crate) fn failed(&self) {
        self.files_failed.fetch_add(1, Relaxed);
    }
}

/// Bytes counted while an attempt streams; taken back unless the attempt is kept (a failed,
/// retried or cancelled attempt must not inflate the progress).
pub(crate) struct Counted<'a> {
    progress: &'a Progress,
    bytes: u64,
    keep: bool,
}

impl<'a> Counted<'a> {
    pub fn new(progress: &'a Progress) -> Self {
        Self {
            progress,
            bytes: 0,
            keep: false,
        }
    }
    pub fn add(&mut self, n: u64) {
        self.bytes += n;
        self.progress.add_bytes(n);
    }
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if !self.keep {
            self.progress.sub_bytes(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_bytes_are_taken_back_unless_kept() {
        let p = Progress::default();
        {
            let mut c = Counted::new(&p);
            c.add(10);
            assert_eq!(p.snapshot().bytes_done, 10);
        }
        assert_eq!(p.snapshot().bytes_done, 0);
        let mut c = Counted::new(&p);
        c.add(7);
        c.keep();
        assert_eq!(p.snapshot().bytes_done, 7);
        p.planned_object(Some(100));
        p.planned_prefix(40);
        assert_eq!(p.snapshot().listings_pending, 1);
        p.listed(40, Some((3, 10)));
        p.size_learned(5);
        let s = p.snapshot();
        assert_eq!(
            (s.bytes_total, s.files_total, s.listings_pending),
            (115, 4, 0)
        );
        p.planned_prefix(7);
        p.listed(7, None);
        assert_eq!(
            (p.snapshot().bytes_total, p.snapshot().files_total),
            (115, 5)
        );
    }
}
