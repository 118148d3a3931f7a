//! What every task of one download shares: settings, the HTTP side, limits, the cancel token,
//! the live counters, and the outcomes collected for the report.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::classify::ErrorClass;
use super::config::DownloadConfig;
use super::failure::{Failure, FailureKind};
use super::fsutil;
use super::http::Http;
use super::job::FileId;
use super::limit::Limiter;
use super::progress::Progress;
use super::report::{FailedFile, FileStatus, Report};
use super::verify::Verification;
use super::written::{self, Written};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
struct Collected {
    written: Written,
    failed: Vec<FailedFile>,
}

/// State shared by every task of one download.
pub(crate) struct Ctx {
    pub cfg: DownloadConfig,
    pub http: Http,
    /// The destination root, canonical: every file is checked to stay under it.
    pub root: PathBuf,
    pub progress: Arc<Progress>,
    pub cancel: CancellationToken,
    pub user_cancelled: AtomicBool,
    /// Requests in flight (whole objects and ranges), as many as the network takes, at most
    /// `concurrency`.
    pub requests: Arc<Limiter>,
    /// Large objects in progress.
    pub large: Arc<Semaphore>,
    /// Listings in flight.
    pub lists: Arc<Semaphore>,
    fatal: Mutex<Option<String>>,
    out: Mutex<Collected>,
    /// Items never begun because the run was cancelled or stopped: counted, not listed, so
    /// that cancelling a plan of a million series does not make a million records.
    not_started: AtomicU64,
    /// Directories created (and checked) by this run.
    dirs: Mutex<HashSet<PathBuf>>,
}

impl Ctx {
    pub fn new(cfg: DownloadConfig, http: Http, root: PathBuf, progress: Arc<Progress>) -> Self {
        Self {
            requests: Limiter::new(cfg.concurrency),
            large: Arc::new(Semaphore::new(cfg.max_large_files)),
            lists: Arc::new(Semaphore::new(cfg.list_concurrency)),
            cfg,
            http,
            root,
            progress,
            cancel: CancellationToken::new(),
            user_cancelled: AtomicBool::new(false),
            fatal: Mutex::new(None),
            out: Mutex::new(Collected::default()),
            not_started: AtomicU64::new(0),
            dirs: Mutex::new(HashSet::new()),
        }
    }

    /// Stop the whole run for `reason` (the first reason wins).
    pub fn stop(&self, reason: String) {
        lock(&self.fatal).get_or_insert(reason);
        self.cancel.cancel();
    }

    /// Record a file that is at its destination.
    pub async fn succeed(
        &self,
        id: &FileId,
        path: &Path,
        size: u64,
        status: FileStatus,
        verification: Verification,
    ) {
        match status {
            FileStatus::Downloaded => self.progress.downloaded(),
            FileStatus::AlreadyPresent => self.progress.skipped(size),
        }
        let full = lock(&self.out).written.add(
            path,
            Arc::clone(&id.bucket),
            &id.key,
            size,
            status,
            verification,
            id.series.clone(),
            id.sop.clone(),
        );
        if let Some(run) = full {
            // Sorted and written out off the runtime's threads, without holding the lock.
            let outcome = tokio::task::spawn_blocking(move || written::write_run(run)).await;
            match outcome {
                Ok(outcome) => lock(&self.out).written.written(outcome),
                Err(e) => self.stop(format!(
                    "internal error while keeping the list of files: {e}"
                )),
            }
        }
    }

    /// Count `n` items (series not listed, files not requested) that the run will never begin,
    /// because it was cancelled or stopped.
    pub fn not_started(&self, n: u64) {
        self.not_started.fetch_add(n, Ordering::Relaxed);
    }

    /// Record a file (or prefix) that is not at its destination. A fatal failure stops the
    /// run; a cancellation reads as such, or as not attempted when the run stopped early.
    pub fn fail(
        &self,
        id: &FileId,
        path: Option<&Path>,
        failure: Failure,
        attempts: u32,
        elapsed: Option<Duration>,
    ) {
        let uri = id.uri();
        let (kind, reason) = match failure {
            Failure::Cancelled => match lock(&self.fatal).clone() {
                Some(why) => (
                    FailureKind::NotAttempted,
                    format!("{uri}: not completed because the download stopped early: {why}"),
                ),
                None => (
                    FailureKind::Cancelled,
                    format!("{uri}: cancelled before it completed"),
                ),
            },
            f => {
                let endpoint = (!id.bucket.is_empty()).then(|| self.http.endpoint.base());
                let mut reason = f.describe(&uri, endpoint);
                if attempts > 1 {
                    let secs = elapsed
                        .map(|e| format!(" over {:.1} s", e.as_secs_f64()))
                        .unwrap_or_default();
                    reason.push_str(&format!(" (gave up after {attempts} attempts{secs})"));
                }
                if f.class() == ErrorClass::Fatal {
                    self.stop(reason.clone());
                }
                (f.kind(), reason)
            }
        };
        self.record_failed(id, path, kind, reason, attempts);
    }

    /// Record a defect of the downloader itself (a task that panicked).
    pub fn fail_internal(&self, id: &FileId, path: &Path, message: &str) {
        let reason = format!(
            "{}: internal error in the downloader: {message}; please report it",
            id.uri()
        );
        self.record_failed(id, Some(path), FailureKind::Internal, reason, 0);
    }

    fn record_failed(
        &self,
        id: &FileId,
        path: Option<&Path>,
        kind: FailureKind,
        reason: String,
        attempts: u32,
    ) {
        self.progress.failed();
        lock(&self.out).failed.push(FailedFile {
            bucket: id.bucket.to_string(),
            key: id.key.clone(),
            path: path.map(Path::to_path_buf),
            kind,
            reason,
            attempts,
            series_instance_uid: id.series.as_deref().map(str::to_string),
            sop_instance_uid: id.sop.as_deref().map(str::to_string),
        });
    }

    /// Create `dir` (once per run) and check that it stays inside the root.
    pub async fn ensure_dir(&self, dir: &Path) -> Result<(), Failure> {
        if lock(&self.dirs).contains(dir) {
            return Ok(());
        }
        let (d, root) = (dir.to_path_buf(), self.root.clone());
        fsutil::blocking(move || fsutil::create_dir_inside(&d, &root)).await?;
        lock(&self.dirs).insert(dir.to_path_buf());
        Ok(())
    }

    /// The report of everything recorded so far.
    pub fn finish(&self, started: Instant) -> Report {
        let out = std::mem::take(&mut *lock(&self.out));
        Report::assemble(
            out.written.finish(),
            out.failed,
            started.elapsed().as_secs_f64(),
            self.user_cancelled.load(Ordering::SeqCst),
            lock(&self.fatal).clone(),
            self.not_started.load(Ordering::Relaxed),
            self.requests.stats(),
        )
    }
}
