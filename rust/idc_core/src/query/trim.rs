//! Memory freed by queries goes back to the operating system.
//!
//! A query allocates its hash tables and decoded pages on the runtime's threads, and glibc's
//! allocator keeps what they free in per-thread arenas: resident memory grew by 100-300 MB with
//! some queries (a lookup of 10,000 series, COUNT(DISTINCT) over the index) and did not come
//! down. After a query, `malloc_trim` hands the free pages back; it runs on the blocking pool,
//! after the result is returned, at most once per [`INTERVAL_MS`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Trims closer together than this are skipped (a burst of lookups trims once).
const INTERVAL_MS: u64 = 200;

static LAST_MS: AtomicU64 = AtomicU64::new(0);

/// Trim the allocator's free memory in the background, unless a trim ran less than
/// [`INTERVAL_MS`] ago.
pub fn after_query() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) < INTERVAL_MS
        || LAST_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    crate::runtime::get().spawn_blocking(trim);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
