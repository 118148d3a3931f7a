//! The parallel S3 downloader: a plan (prefixes to list, or single objects, each with a
//! destination) becomes verified files on disk.
//!
//! ```text
//! start(plan, config) -> DownloadHandle      spawns the transfer on the process runtime
//! handle.progress()   -> ProgressSnapshot    bytes and files, lock-free, at any time
//! handle.cancel()                            stops within about a second; nothing partial is
//!                                            left under a final name
//! handle.wait().await -> &Report             every file written or already present, every
//!                                            failure with its reason, bytes, seconds
//! ```
//!
//! - Endpoints are addressed path-style (`<endpoint>/<bucket>/<key>`), anonymously: AWS
//!   (`https://s3.amazonaws.com`), GCS's XML API (`https://storage.googleapis.com`), or any
//!   S3-compatible server. Listing uses ListObjectsV2 and falls back to V1 when the server
//!   does not speak it.
//! - At most [`DownloadConfig::concurrency`] requests are in flight. Objects larger than
//!   [`DownloadConfig::multipart_threshold`] are fetched in parallel Range requests of
//!   [`DownloadConfig::part_size`], written at their offsets into a preallocated file.
//! - A file is written as `.<name>.idc-partial` next to its destination and renamed only once
//!   its size, and its MD5 (single-part ETag) or CRC32C/MD5 (`x-goog-hash`) when stated,
//!   match. Transient failures are retried with backoff ([`RetryPolicy`]); a full disk stops the
//!   run; every other failure is reported per file.
//! - With [`DownloadConfig::resume`], a file already at its destination with the right size
//!   (and MD5, when the listing states it) is not fetched again.
//! - Nothing is written outside [`DownloadConfig::root`]: destinations, keys and symbolic links
//!   are checked.

mod engine;
pub mod failure;
pub mod fsutil;
mod inorder;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod s3;
pub mod verify;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use futures::FutureExt;
use thiserror::Error;
use tokio::sync::watch;

pub use failure::FailureKind;
pub use plan::{PlanItem, Source, PARTIAL_SUFFIX};
pub use progress::ProgressSnapshot;
pub use retry::RetryPolicy;
pub use verify::Verification;

/// The AWS endpoint of the IDC buckets.
pub const AWS_ENDPOINT: &str = "https://s3.amazonaws.com";
/// The GCS endpoint (S3-compatible XML API) of the IDC buckets.
pub const GCS_ENDPOINT: &str = "https://storage.googleapis.com";

/// How a download runs. [`DownloadConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct DownloadConfig {
    /// `https://s3.amazonaws.com`, `https://storage.googleapis.com` or any S3-compatible URL.
    pub endpoint: String,
    /// Nothing is written outside this directory; relative destinations are relative to it.
    pub root: PathBuf,
    /// Requests in flight at once (GETs and range GETs). Default 64.
    pub concurrency: usize,
    /// Prefix listings in flight at once. Default 16.
    pub list_concurrency: usize,
    /// Objects larger than this are fetched in ranges. Default 32 MiB.
    pub multipart_threshold: u64,
    /// The size of one range. Default 16 MiB.
    pub part_size: u64,
    /// Large objects in progress at once (their ranges share `concurrency`). Default 4.
    pub max_large_files: usize,
    /// Range requests in flight for one large object. Few, so that its ranges complete in
    /// order and its MD5 keeps up with them. Default 4.
    pub ranges_per_file: usize,
    pub retry: RetryPolicy,
    /// Time allowed to open a connection. Default 10 s.
    pub connect_timeout: Duration,
    /// A response that sends nothing for this long is abandoned and retried. Default 30 s.
    pub stall_timeout: Duration,
    /// fsync each file before renaming it into place. Default off.
    pub fsync: bool,
    /// Skip files already present with the right size (and MD5 when known). Default on.
    pub resume: bool,
    /// When resuming, compare the MD5 of present files with the listing's ETag. Default on.
    pub verify_existing: bool,
    /// Check downloaded bytes against the MD5 or CRC32C the server states. Off, only sizes are
    /// checked (as s5cmd does), which saves the CPU time of MD5 on fast links. Default on.
    pub checksums: bool,
    pub user_agent: String,
}

impl DownloadConfig {
    pub fn new(endpoint: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        Self {
            endpoint: endpoint.into(),
            root: root.into(),
            concurrency: 64,
            list_concurrency: 16,
            multipart_threshold: 32 << 20,
            part_size: 16 << 20,
            max_large_files: 4,
            ranges_per_file: 4,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            fsync: false,
            resume: true,
            verify_existing: true,
            checksums: true,
            user_agent: format!("idc-index/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    fn check(&self) -> Result<(), DownloadError> {
        let bad = |m: String| Err(DownloadError::Config(m));
        if !(1..=4096).contains(&self.concurrency) {
            return bad(format!(
                "concurrency must be between 1 and 4096, not {}",
                self.concurrency
            ));
        }
        if !(1..=1024).contains(&self.list_concurrency) {
            return bad(format!(
                "list_concurrency must be between 1 and 1024, not {}",
                self.list_concurrency
            ));
        }
        if !(1..=256).contains(&self.max_large_files) {
            return bad(format!(
                "max_large_files must be between 1 and 256, not {}",
                self.max_large_files
            ));
        }
        if !(1..=256).contains(&self.ranges_per_file) {
            return bad(format!(
                "ranges_per_file must be between 1 and 256, not {}",
                self.ranges_per_file
            ));
        }
        if self.part_size < 1024 {
            return bad(format!(
                "part_size must be at least 1024 bytes, not {}",
                self.part_size
            ));
        }
        if self.multipart_threshold < self.part_size {
            return bad(format!(
                "multipart_threshold ({}) must not be smaller than part_size ({})",
                self.multipart_threshold, self.part_size
            ));
        }
        if self.retry.max_attempts == 0 {
            return bad("retry.max_attempts must be at least 1".into());
        }
        if self.stall_timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad("stall_timeout and connect_timeout must be positive".into());
        }
        Ok(())
    }
}

/// Why a download could not start (per-file problems are in the [`Report`] instead).
#[derive(Debug, Error)]
pub enum DownloadError {
    /// A setting is out of range.
    #[error("invalid download setting: {0}")]
    Config(String),
    /// Plan items that cannot be downloaded as given (bad bucket, destination outside the root...).
    #[error("invalid download plan: {0}")]
    Plan(String),
    /// The destination root cannot be created or used.
    #[error("{0}")]
    Destination(String),
    /// The HTTP client could not be set up.
    #[error("the HTTP client could not start: {0}")]
    Client(String),
    /// The transfer ended without a report (the process forked or the runtime stopped).
    #[error("the download stopped without a report (the process forked or is shutting down); run it again")]
    Lost,
    /// A listing on its own ([`list`]) failed after its retries.
    #[error("{0}")]
    List(String),
}

/// How a listed file ended up on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Fetched by this run.
    Downloaded,
    /// Found at its destination, complete, and left alone.
    AlreadyPresent,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Downloaded => "downloaded",
            FileStatus::AlreadyPresent => "already_present",
        }
    }
}

/// A file that is at its destination, complete and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub path: PathBuf,
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub status: FileStatus,
    pub verification: Verification,
    pub series_instance_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
}

/// A file (or a whole prefix, when its listing failed) that is not at its destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedFile {
    pub bucket: String,
    /// The object key, or the prefix when the listing itself failed.
    pub key: String,
    /// Where it would have been written, when known.
    pub path: Option<PathBuf>,
    pub kind: FailureKind,
    /// What happened and what to do, for a person.
    pub reason: String,
    /// Requests made for it (0 when none was).
    pub attempts: u32,
    pub series_instance_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
}

/// The outcome of one download.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every file written or already present, sorted by path.
    pub files: Vec<FileRecord>,
    /// Every failure, sorted by bucket and key.
    pub failed: Vec<FailedFile>,
    pub bytes_downloaded: u64,
    pub bytes_present: u64,
    pub seconds: f64,
    /// The caller cancelled the download.
    pub cancelled: bool,
    /// Why the run stopped early on its own (the disk is full), if it did.
    pub stopped: Option<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && !self.cancelled && self.stopped.is_none()
    }
}

/// Set when the transfer's task ends (or is dropped), for threads outside the runtime.
#[derive(Default)]
struct Finished {
    done: Mutex<bool>,
    changed: Condvar,
}

/// Signals the end to both kinds of waiter when dropped: at the end of the transfer's task,
/// or with the task.
struct FinishGuard {
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
    ctx: Arc<engine::Ctx>,
    report: Arc<OnceLock<Report>>,
    done: watch::Receiver<bool>,
    finished: Arc<Finished>,
}

impl DownloadHandle {
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
        self.report.get()
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

    /// Wait for the end of the download and return its report.
    pub async fn wait(&self) -> Result<&Report, DownloadError> {
        let mut done = self.done.clone();
        while !*done.borrow_and_update() {
            if done.changed().await.is_err() {
                break;
            }
        }
        self.report.get().ok_or(DownloadError::Lost)
    }
}

/// List every object under `prefix` of `bucket` at `config.endpoint`, with the downloader's
/// retries and its V2-then-V1 listing; nothing is written (`config.root` is not used).
pub async fn list(
    bucket: &str,
    prefix: &str,
    config: DownloadConfig,
) -> Result<Vec<s3::ListedObject>, DownloadError> {
    config.check()?;
    plan::check_bucket(bucket).map_err(DownloadError::Config)?;
    let endpoint = s3::Endpoint::new(&config.endpoint).map_err(DownloadError::Config)?;
    let client = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .user_agent(config.user_agent.clone())
        .build()
        .map_err(|e| DownloadError::Client(e.to_string()))?;
    let root = config.root.clone();
    let ctx = engine::Ctx::new(
        config,
        endpoint,
        root,
        client,
        Arc::new(progress::Progress::default()),
    );
    engine::list_only(&ctx, bucket, prefix)
        .await
        .map_err(DownloadError::List)
}

/// Check the plan, create the destination root, and start the download on the process runtime.
pub fn start(plan: Vec<PlanItem>, config: DownloadConfig) -> Result<DownloadHandle, DownloadError> {
    config.check()?;
    let endpoint = s3::Endpoint::new(&config.endpoint).map_err(DownloadError::Config)?;
    let root = plan::normalise_root(&config.root).map_err(DownloadError::Destination)?;
    std::fs::create_dir_all(&root).map_err(|e| {
        DownloadError::Destination(format!(
            "the download directory {} cannot be created: {e}; choose a directory you can write to",
            root.display()
        ))
    })?;
    let canon_root = std::fs::canonicalize(&root).map_err(|e| {
        DownloadError::Destination(format!(
            "the download directory {} cannot be resolved: {e}",
            root.display()
        ))
    })?;

    // Check every item; name up to five bad ones.
    let mut problems = Vec::new();
    let mut resolved = Vec::with_capacity(plan.len());
    let mut seen = std::collections::HashSet::new();
    let progress = Arc::new(progress::Progress::default());
    for item in plan {
        let check = plan::check_bucket(&item.bucket).and_then(|()| {
            let (key, is_prefix) = match &item.source {
                Source::Prefix(p) => (p, true),
                Source::Object(k) => (k, false),
            };
            if key.is_empty() || key.starts_with('/') {
                return Err(format!(
                    "{}: an empty or absolute key or prefix would list or name the whole bucket",
                    item.uri()
                ));
            }
            if !is_prefix && key.ends_with('/') {
                return Err(format!("{}: an object key cannot end with '/'", item.uri()));
            }
            let dest = plan::inside_root(&root, &item.destination, is_prefix)
                .map_err(|e| format!("{}: {e}", item.uri()))?;
            // The canonical root is what files are checked against: keep destinations under it.
            let dest = canon_root.join(dest.strip_prefix(&root).unwrap_or(&dest));
            Ok(dest)
        });
        match check {
            Ok(dest) => {
                if !seen.insert((item.bucket.clone(), item.source.clone(), dest.clone())) {
                    continue;
                }
                match &item.source {
                    Source::Object(_) => {
                        progress.add_files(1);
                        progress.adjust_total(0, item.size.unwrap_or(0));
                    }
                    Source::Prefix(_) => {
                        progress.listing_started(1);
                        progress.adjust_total(0, item.size.unwrap_or(0));
                    }
                }
                resolved.push(engine::ResolvedItem {
                    item,
                    destination: dest,
                });
            }
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        let mut msg = problems.into_iter().take(5).collect::<Vec<_>>().join("; ");
        if n > 5 {
            msg.push_str(&format!("; and {} more", n - 5));
        }
        return Err(DownloadError::Plan(msg));
    }

    let client = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .pool_max_idle_per_host(config.concurrency)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent(config.user_agent.clone())
        .build()
        .map_err(|e| DownloadError::Client(e.to_string()))?;

    let ctx = Arc::new(engine::Ctx::new(
        config, endpoint, canon_root, client, progress,
    ));
    let report = Arc::new(OnceLock::new());
    let (done_tx, done_rx) = watch::channel(false);
    let finished = Arc::new(Finished::default());
    let (ctx2, report2) = (Arc::clone(&ctx), Arc::clone(&report));
    let guard = FinishGuard {
        finished: Arc::clone(&finished),
        done: done_tx,
    };
    crate::runtime::get().spawn(async move {
        let _guard = guard;
        let started = std::time::Instant::now();
        let outcome = std::panic::AssertUnwindSafe(engine::run(Arc::clone(&ctx2), resolved))
            .catch_unwind()
            .await;
        let r = outcome.unwrap_or_else(|_| Report {
            seconds: started.elapsed().as_secs_f64(),
            stopped: Some("internal error in the downloader; please report it".into()),
            ..Default::default()
        });
        let _ = report2.set(r);
    });
    Ok(DownloadHandle {
        ctx,
        report,
        done: done_rx,
        finished,
    })
}
