//! A running download as its caller sees it: progress, cancel, and waiting for the report from
//! inside the runtime (`wait`) or from any other thread (`wait_blocking`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use super::error::DownloadError;
use super::progress::ProgressSnapshot;
use super::report::Report;
use super::state::Ctx;

/// Set when the transfer's task ends (or is dropped), for threads outside the runtime.
#[derive(Default)]
struct Finished {
    done: Mutex<bool>,
    changed: Condvar,
}

/// Signals the end to both kinds of waiter when dropped: at the end of the transfer's task,
/// or with the task.
pub(crate) struct FinishGuard {
    finished: Arc<Finished>,
    done: watch::Sender<bool>,
}

impl Drop for FinishGuard {
    fn drop(&mut self) {
        *self.finished.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.finished.changed.notify_all();
        let _ = self.done.send(true);
    }
}

/// A running (or finished) download.
pub struct DownloadHandle {
    ctx: Arc<Ctx>,
    report: Arc<OnceLock<Arc<Report>>>,
    done: watch::Receiver<bool>,
    finished: Arc<Finished>,
}

impl DownloadHandle {
    /// A handle on the run of `ctx`, the slot its report goes to, and the guard that the
    /// transfer's task holds until it ends.
    pub(crate) fn new(ctx: Arc<Ctx>) -> (Self, Arc<OnceLock<Arc<Report>>>, FinishGuard) {
        let report = Arc::new(OnceLock::new());
        let (done_tx, done_rx) = watch::channel(false);
        let finished = Arc::new(Finished::default());
        let guard = FinishGuard {
            finished: Arc::clone(&finished),
            done: done_tx,
        };
        let handle = Self {
            ctx,
            report: Arc::clone(&report),
            done: done_rx,
            finished,
        };
        (handle, report, guard)
    }

    /// The counters right now.
    pub fn progress(&self) -> ProgressSnapshot {
        self.ctx.progress.snapshot()
    }

    /// Stop the download: requests are dropped, partial files removed, and the report lists
    /// what was not completed as cancelled. Returns at once; [`DownloadHandle::wait`] for the end.
    pub fn cancel(&self) {
        self.ctx.user_cancelled.store(true, Ordering::SeqCst);
        self.ctx.cancel.cancel();
    }

    pub fn is_finished(&self) -> bool {
        self.report.get().is_some()
    }

    /// The report, once finished.
    pub fn report(&self) -> Option<&Report> {
        self.report.get().map(Arc::as_ref)
    }

    /// The report once finished, shared: its records stay in one place however many hold it.
    pub fn shared_report(&self) -> Option<Arc<Report>> {
        self.report.get().cloned()
    }

    /// Block the calling thread (not a runtime thread) for up to `timeout`; returns whether
    /// the download has ended. Needs no runtime timer, so busy workers cannot delay it.
    pub fn wait_blocking(&self, timeout: Duration) -> bool {
        let done = self.finished.done.lock().unwrap_or_else(|p| p.into_inner());
        let (done, _) = self
            .finished
            .changed
            .wait_timeout_while(done, timeout, |d| !*d)
            .unwrap_or_else(|p| p.into_inner());
        *done
    }

    /// Wait for the end of the download and return its report; [`DownloadError::Lost`] when
    /// the transfer ended without one (the process forked or the runtime stopped).
    pub async fn wait(&self) -> Result<&Report, DownloadError> {
        let mut done = self.done.clone();
        while !*done.borrow_and_update() {
            if done.changed().await.is_err() {
                break;
            }
        }
        self.report
            .get()
            .map(Arc::as_ref)
            .ok_or(DownloadError::Lost)
    }
}
