//! The transfer: list prefixes, schedule files under bounded concurrency, fetch each object
//! (whole, or in parallel ranges written into place), verify, rename, record the outcome.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_RANGE, ETAG, RANGE};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::failure::{Failure, FailureKind};
use super::fsutil::{self, PositionalWriter};
use super::inorder::InOrderMd5;
use super::plan::{relative_name, temp_path, PlanItem, Source};
use super::progress::{Counted, Progress};
use super::retry::ErrorClass;
use super::s3::{parse_error, parse_list, Endpoint, ListMode, ListPage, ListedObject};
use super::verify::{
    self, md5_from_etag, parse_goog_hash, Computed, Expected, Hasher, Verification,
};
use super::{DownloadConfig, FailedFile, FileRecord, FileStatus, Report};

/// Writes are handed to the blocking pool in blocks of this size.
const WRITE_BLOCK: usize = 4 << 20;
/// Objects up to this size are received into memory and written in one step.
const IN_MEMORY_MAX: u64 = WRITE_BLOCK as u64;
/// Error bodies and listing pages larger than this are not read.
const MAX_ERROR_BODY: usize = 64 << 10;
const MAX_LIST_BODY: usize = 64 << 20;
/// A file whose assembled ranges fail verification is fetched again this many times in all.
const LARGE_FILE_ATTEMPTS: u32 = 2;

/// One object to fetch.
pub(crate) struct Job {
    bucket: Arc<str>,
    key: String,
    path: PathBuf,
    /// What the plan or the listing says about the object.
    listed: Expected,
    series: Option<Arc<str>>,
    sop: Option<Arc<str>>,
    /// False when the destination is known to hold no such file (no need to look for it).
    maybe_present: bool,
    /// Whether the size is already part of the progress total.
    total_counted: AtomicBool,
}

impl Job {
    fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

#[derive(Default)]
struct Collected {
    files: Vec<FileRecord>,
    failed: Vec<FailedFile>,
}

/// State shared by every task of one download.
pub(crate) struct Ctx {
    pub cfg: DownloadConfig,
    pub endpoint: Endpoint,
    pub canon_root: PathBuf,
    pub client: reqwest::Client,
    pub progress: Arc<Progress>,
    pub cancel: CancellationToken,
    pub user_cancelled: AtomicBool,
    fatal: Mutex<Option<String>>,
    out: Mutex<Collected>,
    requests: Arc<Semaphore>,
    large: Arc<Semaphore>,
    lists: Arc<Semaphore>,
    list_v1: AtomicBool,
    dirs: Mutex<HashSet<PathBuf>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Ctx {
    pub fn new(
        cfg: DownloadConfig,
        endpoint: Endpoint,
        canon_root: PathBuf,
        client: reqwest::Client,
        progress: Arc<Progress>,
    ) -> Self {
        let requests = Arc::new(Semaphore::new(cfg.concurrency));
        let large = Arc::new(Semaphore::new(cfg.max_large_files));
        let lists = Arc::new(Semaphore::new(cfg.list_concurrency));
        Self {
            cfg,
            endpoint,
            canon_root,
            client,
            progress,
            cancel: CancellationToken::new(),
            user_cancelled: AtomicBool::new(false),
            fatal: Mutex::new(None),
            out: Mutex::new(Collected::default()),
            requests,
            large,
            lists,
            list_v1: AtomicBool::new(false),
            dirs: Mutex::new(HashSet::new()),
        }
    }

    /// Stop the whole run for `reason` (the first reason wins).
    fn stop(&self, reason: String) {
        lock(&self.fatal).get_or_insert(reason);
        self.cancel.cancel();
    }

    fn succeed(&self, record: FileRecord) {
        match record.status {
            FileStatus::Downloaded => self.progress.downloaded(),
            FileStatus::AlreadyPresent => self.progress.skipped(record.size),
        }
        lock(&self.out).files.push(record);
    }

    #[allow(clippy::too_many_arguments)]
    fn record_failure(
        &self,
        bucket: &str,
        key: &str,
        path: Option<PathBuf>,
        series: Option<&Arc<str>>,
        sop: Option<&Arc<str>>,
        failure: Failure,
        attempts: u32,
        elapsed: Option<Duration>,
    ) {
        let uri = format!("s3://{bucket}/{key}");
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
                let mut reason = f.describe(&uri, self.endpoint.base());
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
        self.progress.failed();
        lock(&self.out).failed.push(FailedFile {
            bucket: bucket.to_string(),
            key: key.to_string(),
            path,
            kind,
            reason,
            attempts,
            series_instance_uid: series.map(|s| s.to_string()),
            sop_instance_uid: sop.map(|s| s.to_string()),
        });
    }

    fn fail_job(&self, job: &Job, failure: Failure, attempts: u32, elapsed: Option<Duration>) {
        self.record_failure(
            &job.bucket,
            &job.key,
            Some(job.path.clone()),
            job.series.as_ref(),
            job.sop.as_ref(),
            failure,
            attempts,
            elapsed,
        );
    }

    fn finish(&self, started: Instant) -> Report {
        let mut out = std::mem::take(&mut *lock(&self.out));
        out.files.sort_by(|a, b| a.path.cmp(&b.path));
        out.failed
            .sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
        let sum = |status: FileStatus| {
            out.files
                .iter()
                .filter(|f| f.status == status)
                .map(|f| f.size)
                .sum()
        };
        Report {
            bytes_downloaded: sum(FileStatus::Downloaded),
            bytes_present: sum(FileStatus::AlreadyPresent),
            files: out.files,
            failed: out.failed,
            seconds: started.elapsed().as_secs_f64(),
            cancelled: self.user_cancelled.load(Ordering::SeqCst),
            stopped: lock(&self.fatal).clone(),
        }
    }

    /// Send a request; error statuses become [`Failure::Status`] with the S3 error code.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, Failure> {
        let stall = self.cfg.stall_timeout;
        let resp = match tokio::time::timeout(stall, req.send()).await {
            Err(_) => return Err(Failure::Stalled(stall)),
            Ok(r) => r.map_err(Failure::network)?,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = read_body(resp, MAX_ERROR_BODY, stall)
            .await
            .unwrap_or_default();
        let (code, message) = parse_error(&String::from_utf8_lossy(&body));
        Err(Failure::Status {
            status: status.as_u16(),
            code,
            message,
        })
    }

    /// Combine what the plan or listing says with what a response states. GCS states digests in
    /// `x-goog-hash` (its ETag is not always an MD5); S3 states the MD5 in a single-part ETag.
    fn expected_from(
        &self,
        job: &Job,
        headers: &HeaderMap,
        whole_len: Option<u64>,
    ) -> Result<Expected, Failure> {
        let mut stated = Expected {
            size: whole_len,
            ..Default::default()
        };
        let goog: Vec<_> = headers
            .get_all("x-goog-hash")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let mut base = job.listed.clone();
        if goog.is_empty() {
            stated.md5 = headers
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .and_then(md5_from_etag);
        } else {
            for v in goog {
                parse_goog_hash(v, &mut stated);
            }
            base.md5 = None;
        }
        base.merge(&stated).map_err(Failure::Changed)?;
        if !self.cfg.checksums {
            base.md5 = None;
            base.crc32c = None;
        }
        Ok(base)
    }
}

fn header_u64(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The next piece of a response body (`None` at its end), or a stall or network failure.
async fn next_chunk(
    resp: &mut reqwest::Response,
    stall: Duration,
) -> Result<Option<impl std::ops::Deref<Target = [u8]>>, Failure> {
    tokio::time::timeout(stall, resp.chunk())
        .await
        .map_err(|_| Failure::Stalled(stall))?
        .map_err(Failure::network)
}

/// Read a whole (small) body, giving up on stalls and on bodies over `limit`.
async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
    stall: Duration,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    loop {
        match next_chunk(&mut resp, stall).await? {
            Some(c) => {
                if body.len() + c.len() > limit {
                    return Err(Failure::Protocol(format!(
                        "the response body is larger than {limit} bytes"
                    )));
                }
                body.extend_from_slice(&c);
            }
            None => return Ok(body),
        }
    }
}

/// Run `attempt` until it succeeds, fails for good, or `cancel` fires; returns the outcome, the
/// number of attempts and the time spent.
async fn with_retries<T, F, Fut>(
    ctx: &Ctx,
    cancel: &CancellationToken,
    mut attempt: F,
) -> (Result<T, Failure>, u32, Duration)
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let start = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Failure::Cancelled),
            r = attempt(n) => r,
        };
        let failure = match outcome {
            Ok(v) => return (Ok(v), n, start.elapsed()),
            Err(f) => f,
        };
        if matches!(failure, Failure::Cancelled) {
            return (Err(failure), n, start.elapsed());
        }
        let Some(delay) = ctx
            .cfg
            .retry
            .next_delay(n, failure.class(), start.elapsed())
        else {
            return (Err(failure), n, start.elapsed());
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return (Err(Failure::Cancelled), n, start.elapsed()),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Failure::Protocol(format!(
            "a file operation stopped unexpectedly: {e}"
        )))
    })
}

// ------------------------------------------------------------------------------------------
// Scheduling

/// A plan item whose destination has been checked and made absolute.
pub(crate) struct ResolvedItem {
    pub item: PlanItem,
    pub destination: PathBuf,
}

/// Run the whole download and return its report.
pub(crate) async fn run(ctx: Arc<Ctx>, plan: Vec<ResolvedItem>) -> Report {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Arc<Job>>(ctx.cfg.concurrency * 4 + 64);
    let producer = tokio::spawn(produce(Arc::clone(&ctx), plan, tx));
    let mut tasks = JoinSet::new();
    while let Some(job) = rx.recv().await {
        while tasks.try_join_next().is_some() {}
        if ctx.cancel.is_cancelled() {
            ctx.fail_job(&job, Failure::Cancelled, 0, None);
            continue;
        }
        let large = job
            .listed
            .size
            .is_some_and(|s| s > ctx.cfg.multipart_threshold);
        let sem = if large { &ctx.large } else { &ctx.requests };
        let permit = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => {
                ctx.fail_job(&job, Failure::Cancelled, 0, None);
                continue;
            }
            p = Arc::clone(sem).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => {
                    ctx.fail_job(&job, Failure::Cancelled, 0, None);
                    continue;
                }
            },
        };
        let c = Arc::clone(&ctx);
        tasks.spawn(file_task(c, job, permit, large));
    }
    if let Err(e) = producer.await {
        ctx.stop(format!("internal error while listing: {e}"));
    }
    while tasks.join_next().await.is_some() {}
    ctx.finish(started)
}

fn job_for(
    item: &PlanItem,
    key: String,
    path: PathBuf,
    listed: Expected,
    maybe_present: bool,
) -> Arc<Job> {
    Arc::new(Job {
        bucket: Arc::from(item.bucket.as_str()),
        key,
        path,
        listed,
        series: item.series_instance_uid.as_deref().map(Arc::from),
        sop: item.sop_instance_uid.as_deref().map(Arc::from),
        maybe_present,
        total_counted: AtomicBool::new(false),
    })
}

/// The names in `dir`, read once for all the files of a listed prefix so that a fresh download
/// does not look for each file on its own; `None` when the directory cannot be read.
async fn names_in(dir: &Path) -> Option<HashSet<OsString>> {
    let d = dir.to_path_buf();
    blocking(move || match std::fs::read_dir(&d) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(HashSet::new())),
        Err(_) => Ok(None),
        Ok(entries) => Ok(entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .ok()),
    })
    .await
    .ok()
    .flatten()
}

/// Turn plan items into jobs: objects directly, prefixes after listing them.
async fn produce(ctx: Arc<Ctx>, plan: Vec<ResolvedItem>, tx: mpsc::Sender<Arc<Job>>) {
    let mut lists = JoinSet::new();
    for ResolvedItem { item, destination } in plan {
        while lists.try_join_next().is_some() {}
        match &item.source {
            Source::Object(key) => {
                let listed = Expected {
                    size: item.size,
                    ..Default::default()
                };
                let job = job_for(&item, key.clone(), destination, listed, true);
                job.total_counted
                    .store(item.size.is_some(), Ordering::Relaxed);
                if tx.send(job).await.is_err() {
                    break;
                }
            }
            Source::Prefix(prefix) => {
                let permit = tokio::select! {
                    biased;
                    _ = ctx.cancel.cancelled() => None,
                    p = Arc::clone(&ctx.lists).acquire_owned() => p.ok(),
                };
                let Some(permit) = permit else {
                    ctx.progress.listing_finished();
                    ctx.progress.adjust_total(item.size.unwrap_or(0), 0);
                    ctx.progress.add_files(1);
                    let (b, p) = (item.bucket.clone(), prefix.clone());
                    ctx.record_failure(
                        &b,
                        &p,
                        Some(destination),
                        None,
                        None,
                        Failure::Cancelled,
                        0,
                        None,
                    );
                    continue;
                };
                lists.spawn(list_item(
                    Arc::clone(&ctx),
                    item,
                    destination,
                    tx.clone(),
                    permit,
                ));
            }
        }
    }
    while lists.join_next().await.is_some() {}
}

async fn list_item(
    ctx: Arc<Ctx>,
    item: PlanItem,
    dir: PathBuf,
    tx: mpsc::Sender<Arc<Job>>,
    permit: OwnedSemaphorePermit,
) {
    let Source::Prefix(prefix) = &item.source else {
        return;
    };
    let (listed, attempts, elapsed) = list_prefix(&ctx, &item.bucket, prefix).await;
    drop(permit);
    ctx.progress.listing_finished();
    let hint = item.size.unwrap_or(0);
    let series = item.series_instance_uid.as_deref().map(Arc::<str>::from);
    // Directory markers (keys ending in '/') are not files.
    let listed = listed.map(|objects| {
        objects
            .into_iter()
            .filter(|o| !o.key.ends_with('/'))
            .collect::<Vec<ListedObject>>()
    });
    let objects = match listed {
        Ok(objects) if !objects.is_empty() => objects,
        failed => {
            let (reason, elapsed) = match failed {
                Err(f) => (f, Some(elapsed)),
                Ok(_) => {
                    let code = Some("no objects under this prefix".into());
                    (
                        Failure::Status {
                            status: 404,
                            code,
                            message: None,
                        },
                        None,
                    )
                }
            };
            ctx.progress.adjust_total(hint, 0);
            ctx.progress.add_files(1);
            let (b, d) = (&item.bucket, Some(dir));
            ctx.record_failure(
                b,
                prefix,
                d,
                series.as_ref(),
                None,
                reason,
                attempts,
                elapsed,
            );
            return;
        }
    };
    ctx.progress
        .adjust_total(hint, objects.iter().map(|o| o.size).sum());
    ctx.progress.add_files(objects.len() as u64);
    let present = if ctx.cfg.resume {
        names_in(&dir).await
    } else {
        Some(HashSet::new())
    };
    for o in objects {
        let path = match relative_name(prefix, &o.key) {
            Ok(rel) => dir.join(rel),
            Err(msg) => {
                ctx.progress.adjust_total(o.size, 0);
                ctx.record_failure(
                    &item.bucket,
                    &o.key,
                    None,
                    series.as_ref(),
                    None,
                    Failure::Unsafe(msg),
                    0,
                    None,
                );
                continue;
            }
        };
        let listed = Expected {
            size: Some(o.size),
            md5: o.etag.as_deref().and_then(md5_from_etag),
            crc32c: None,
        };
        let maybe_present = match (&present, path.parent() == Some(dir.as_path())) {
            (Some(names), true) => path.file_name().is_some_and(|n| names.contains(n)),
            _ => true,
        };
        let job = job_for(&item, o.key, path, listed, maybe_present);
        job.total_counted.store(true, Ordering::Relaxed);
        if tx.send(job).await.is_err() {
            return;
        }
    }
}

/// List every object under `prefix`: ListObjectsV2 with continuation tokens, falling back to
/// V1 with markers when the server does not speak V2.
async fn list_prefix(
    ctx: &Ctx,
    bucket: &str,
    prefix: &str,
) -> (Result<Vec<ListedObject>, Failure>, u32, Duration) {
    let mut mode = if ctx.list_v1.load(Ordering::Relaxed) {
        ListMode::V1
    } else {
        ListMode::V2
    };
    let mut cursor: Option<String> = None;
    let mut all = Vec::new();
    let mut attempts_total = 0;
    let start = Instant::now();
    loop {
        let (page, attempts, _) = with_retries(ctx, &ctx.cancel, |_| {
            list_page(ctx, bucket, prefix, mode, cursor.as_deref())
        })
        .await;
        attempts_total += attempts;
        let page = match page {
            Ok(p) => p,
            Err(Failure::Status {
                status: 400 | 501, ..
            }) if mode == ListMode::V2 && cursor.is_none() => {
                mode = ListMode::V1;
                ctx.list_v1.store(true, Ordering::Relaxed);
                continue;
            }
            Err(f) => return (Err(f), attempts_total, start.elapsed()),
        };
        if mode == ListMode::V2
            && cursor.is_none()
            && !page.looks_v2
            && page.next_continuation_token.is_none()
        {
            // The server ignored `list-type=2` and answered a V1 listing.
            mode = ListMode::V1;
            ctx.list_v1.store(true, Ordering::Relaxed);
        }
        let last_key = page.objects.last().map(|o| o.key.clone());
        let ListPage {
            objects,
            is_truncated,
            next_continuation_token,
            next_marker,
            ..
        } = page;
        all.extend(objects.into_iter().filter(|o| o.key.starts_with(prefix)));
        if !is_truncated {
            return (Ok(all), attempts_total, start.elapsed());
        }
        let next = match (mode, next_continuation_token) {
            (ListMode::V2, Some(token)) => Some(token),
            _ => {
                mode = ListMode::V1;
                next_marker.or(last_key)
            }
        };
        if next.is_none() || next == cursor {
            let msg = "the listing is truncated but gives no way to continue it".to_string();
            return (Err(Failure::Protocol(msg)), attempts_total, start.elapsed());
        }
        cursor = next;
    }
}

/// List `prefix` of `bucket` on its own (no download): the objects, or why the listing failed.
pub(crate) async fn list_only(
    ctx: &Ctx,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ListedObject>, String> {
    let (listed, _, _) = list_prefix(ctx, bucket, prefix).await;
    listed.map_err(|f| f.describe(&format!("s3://{bucket}/{prefix}"), ctx.endpoint.base()))
}

async fn list_page(
    ctx: &Ctx,
    bucket: &str,
    prefix: &str,
    mode: ListMode,
    cursor: Option<&str>,
) -> Result<ListPage, Failure> {
    let url = ctx.endpoint.list_url(bucket, prefix, mode, cursor);
    let resp = ctx.send(ctx.client.get(&url)).await?;
    let body = read_body(resp, MAX_LIST_BODY, ctx.cfg.stall_timeout).await?;
    parse_list(&String::from_utf8_lossy(&body)).map_err(Failure::Protocol)
}

// ------------------------------------------------------------------------------------------
// One file

async fn file_task(ctx: Arc<Ctx>, job: Arc<Job>, permit: OwnedSemaphorePermit, large: bool) {
    let started = Instant::now();
    let outcome = AssertUnwindSafe(process_file(&ctx, &job, permit, large))
        .catch_unwind()
        .await;
    match outcome {
        Ok(Ok(record)) => ctx.succeed(record),
        Ok(Err((failure, attempts))) => {
            ctx.fail_job(&job, failure, attempts, Some(started.elapsed()))
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            ctx.progress.failed();
            lock(&ctx.out).failed.push(FailedFile {
                bucket: job.bucket.to_string(),
                key: job.key.clone(),
                path: Some(job.path.clone()),
                kind: FailureKind::Internal,
                reason: format!(
                    "{}: internal error in the downloader: {msg}; please report it",
                    job.uri()
                ),
                attempts: 0,
                series_instance_uid: job.series.as_deref().map(str::to_string),
                sop_instance_uid: job.sop.as_deref().map(str::to_string),
            });
        }
    }
}

fn record(job: &Job, size: u64, status: FileStatus, verification: Verification) -> FileRecord {
    FileRecord {
        path: job.path.clone(),
        bucket: job.bucket.to_string(),
        key: job.key.clone(),
        size,
        status,
        verification,
        series_instance_uid: job.series.as_deref().map(str::to_string),
        sop_instance_uid: job.sop.as_deref().map(str::to_string),
    }
}

async fn process_file(
    ctx: &Arc<Ctx>,
    job: &Arc<Job>,
    permit: OwnedSemaphorePermit,
    large: bool,
) -> Result<FileRecord, (Failure, u32)> {
    if ctx.cfg.resume && job.maybe_present {
        if let Some((size, v)) = already_present(ctx, job).await {
            return Ok(record(job, size, FileStatus::AlreadyPresent, v));
        }
    }
    let dir = job
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| ctx.canon_root.clone());
    ensure_dir(ctx, &dir).await.map_err(|f| (f, 0))?;
    let temp = temp_path(&job.path);
    let result = match (large, job.listed.size) {
        (true, Some(size)) => {
            drop(permit);
            fetch_ranges(ctx, job, &temp, size).await
        }
        _ => {
            let r = fetch_whole(ctx, job, &temp).await;
            drop(permit);
            r
        }
    };
    match result {
        Ok((size, v)) => Ok(record(job, size, FileStatus::Downloaded, v)),
        Err(e) => {
            let t = temp.clone();
            let _ = blocking(move || match std::fs::remove_file(&t) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Failure::io("removing", &t, e))
                }
                _ => Ok(()),
            })
            .await;
            Err(e)
        }
    }
}

/// The size and verification of the file already at the destination, if it is the object.
async fn already_present(ctx: &Ctx, job: &Job) -> Option<(u64, Verification)> {
    let meta = tokio::fs::symlink_metadata(&job.path).await.ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut expected = job.listed.clone();
    if expected.size.is_none() {
        // An object given without its size: ask the server for it.
        let url = ctx.endpoint.object_url(&job.bucket, &job.key);
        let (head, _, _) = with_retries(ctx, &ctx.cancel, |_| async {
            let resp = ctx.send(ctx.client.head(&url)).await?;
            ctx.expected_from(
                job,
                resp.headers(),
                header_u64(resp.headers(), CONTENT_LENGTH),
            )
        })
        .await;
        expected = head.ok()?;
    }
    let size = expected.size?;
    if meta.len() != size {
        return None;
    }
    let verification = match expected.md5 {
        Some(want) if ctx.cfg.verify_existing => {
            let path = job.path.clone();
            let got = blocking(move || {
                verify::md5_file(&path).map_err(|e| Failure::io("reading", &path, e))
            })
            .await
            .ok()?;
            if got != want {
                return None;
            }
            Verification::Md5
        }
        _ => Verification::SizeOnly,
    };
    if !job.total_counted.swap(true, Ordering::Relaxed) {
        ctx.progress.adjust_total(0, size);
    }
    Some((size, verification))
}

/// Create `dir` and check that, symbolic links resolved, it is still inside the root.
async fn ensure_dir(ctx: &Ctx, dir: &Path) -> Result<(), Failure> {
    if lock(&ctx.dirs).contains(dir) {
        return Ok(());
    }
    let d = dir.to_path_buf();
    let root = ctx.canon_root.clone();
    blocking(move || {
        std::fs::create_dir_all(&d).map_err(|e| Failure::io("creating the directory", &d, e))?;
        let real = std::fs::canonicalize(&d).map_err(|e| Failure::io("resolving the directory", &d, e))?;
        if !real.starts_with(&root) {
            return Err(Failure::Unsafe(format!(
                "{} resolves to {}, outside the destination root {} (through a symbolic link); nothing is written there",
                d.display(),
                real.display(),
                root.display()
            )));
        }
        Ok(())
    })
    .await?;
    lock(&ctx.dirs).insert(dir.to_path_buf());
    Ok(())
}

/// Create the temporary file afresh: a leftover of a killed run is replaced, and an existing
/// symbolic link under the temporary name is removed rather than followed.
fn create_temp(temp: &Path) -> Result<File, Failure> {
    let create = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(temp)
    };
    match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(temp).map_err(|e| Failure::io("removing", temp, e))?;
            create()
        }
        other => other,
    }
    .map_err(|e| Failure::io("creating", temp, e))
}

async fn open_temp(temp: &Path, preallocate: Option<u64>) -> Result<Arc<File>, Failure> {
    let t = temp.to_path_buf();
    blocking(move || {
        let f = create_temp(&t)?;
        if let Some(len) = preallocate {
            fsutil::preallocate(&f, len).map_err(|e| Failure::io("allocating space for", &t, e))?;
        }
        Ok(Arc::new(f))
    })
    .await
}

/// Make the verified temporary file the final one (after an fsync when configured).
fn rename_into_place<F: std::borrow::Borrow<File>>(
    file: F,
    fsync: bool,
    temp: &Path,
    dest: &Path,
) -> Result<(), Failure> {
    if fsync {
        file.borrow()
            .sync_all()
            .map_err(|e| Failure::io("flushing", temp, e))?;
    }
    drop(file);
    std::fs::rename(temp, dest)
        .map_err(|e| Failure::io("renaming the finished download to", dest, e))
}

async fn commit(ctx: &Ctx, file: Arc<File>, temp: &Path, dest: &Path) -> Result<(), Failure> {
    let fsync = ctx.cfg.fsync;
    let (t, d) = (temp.to_path_buf(), dest.to_path_buf());
    blocking(move || rename_into_place(file, fsync, &t, &d)).await
}

/// Write a verified body that was received into memory: temporary file, then rename, in one
/// step on a blocking thread.
async fn write_whole(ctx: &Ctx, data: Vec<u8>, temp: &Path, dest: &Path) -> Result<(), Failure> {
    let fsync = ctx.cfg.fsync;
    let (t, d) = (temp.to_path_buf(), dest.to_path_buf());
    blocking(move || {
        let mut f = create_temp(&t)?;
        std::io::Write::write_all(&mut f, &data).map_err(|e| Failure::io("writing", &t, e))?;
        rename_into_place(f, fsync, &t, &d)
    })
    .await
}

/// Where the body of a whole-object GET goes.
enum Body {
    /// Small objects: received into memory, written once verified.
    Memory(Vec<u8>),
    /// Larger ones: streamed into the temporary file.
    File(Arc<File>, PositionalWriter),
}

/// One GET of the whole object, verified on the way.
async fn fetch_whole(
    ctx: &Ctx,
    job: &Job,
    temp: &Path,
) -> Result<(u64, Verification), (Failure, u32)> {
    let url = ctx.endpoint.object_url(&job.bucket, &job.key);
    let url = url.as_str();
    let (outcome, attempts, _) = with_retries(ctx, &ctx.cancel, |_| async move {
        let mut resp = ctx.send(ctx.client.get(url)).await?;
        let len = header_u64(resp.headers(), CONTENT_LENGTH);
        let expected = ctx.expected_from(job, resp.headers(), len)?;
        if let Some(l) = len {
            if !job.total_counted.swap(true, Ordering::Relaxed) {
                ctx.progress.adjust_total(0, l);
            }
        }
        let mut body = match len {
            Some(l) if l <= IN_MEMORY_MAX => Body::Memory(Vec::with_capacity(l as usize)),
            _ => {
                let file = open_temp(temp, None).await?;
                let writer = PositionalWriter::new(
                    Arc::clone(&file),
                    0,
                    WRITE_BLOCK,
                    len.unwrap_or(0) as usize,
                );
                Body::File(file, writer)
            }
        };
        let mut hasher = Hasher::for_expected(&expected);
        let mut counted = Counted::new(&ctx.progress);
        let stall = ctx.cfg.stall_timeout;
        loop {
            let Some(chunk) = next_chunk(&mut resp, stall).await? else {
                break;
            };
            hasher.update(&chunk);
            match &mut body {
                Body::Memory(data) => data.extend_from_slice(&chunk),
                Body::File(_, writer) => {
                    writer
                        .write(&chunk)
                        .await
                        .map_err(|e| Failure::io("writing", temp, e))?;
                }
            }
            counted.add(chunk.len() as u64);
        }
        let computed = hasher.finish();
        if let Some(want) = len.filter(|&l| computed.len < l) {
            return Err(Failure::Truncated {
                got: computed.len,
                want,
            });
        }
        if let Body::File(_, writer) = &mut body {
            writer
                .flush()
                .await
                .map_err(|e| Failure::io("writing", temp, e))?;
        }
        let v = verify::check(&expected, &computed).map_err(Failure::Mismatch)?;
        counted.keep();
        Ok((body, computed.len, v))
    })
    .await;
    let (body, size, v) = outcome.map_err(|f| (f, attempts))?;
    let written = match body {
        Body::Memory(data) => write_whole(ctx, data, temp, &job.path).await,
        Body::File(file, writer) => {
            drop(writer);
            commit(ctx, file, temp, &job.path).await
        }
    };
    written.map_err(|f| (f, attempts))?;
    Ok((size, v))
}

/// What one ranged request delivered.
struct Part {
    len: u64,
    crc32c: u32,
    expected: Expected,
}

/// A large object: parallel Range requests, each written at its offset into a preallocated
/// temporary file; CRC32C combined from the parts, MD5 (when stated) hashed in order as the
/// written prefix grows ([`InOrderMd5`]).
async fn fetch_ranges(
    ctx: &Arc<Ctx>,
    job: &Arc<Job>,
    temp: &Path,
    size: u64,
) -> Result<(u64, Verification), (Failure, u32)> {
    let mut file_attempt = 0;
    loop {
        file_attempt += 1;
        match fetch_ranges_once(ctx, job, temp, size).await {
            Err((Failure::Mismatch(_), _)) if file_attempt < LARGE_FILE_ATTEMPTS => continue,
            other => return other,
        }
    }
}

async fn fetch_ranges_once(
    ctx: &Arc<Ctx>,
    job: &Arc<Job>,
    temp: &Path,
    size: u64,
) -> Result<(u64, Verification), (Failure, u32)> {
    let file = open_temp(temp, Some(size)).await.map_err(|f| (f, 0))?;
    let md5 = Arc::new(InOrderMd5::new(Arc::clone(&file), temp.to_path_buf(), size));
    if job.listed.md5.is_some() && ctx.cfg.checksums {
        md5.start();
    }
    let window = Arc::new(Semaphore::new(ctx.cfg.ranges_per_file));
    let part_size = ctx.cfg.part_size.max(1);
    let n_parts = size.div_ceil(part_size) as usize;
    let cancel = ctx.cancel.child_token();
    let mut parts: Vec<Option<Part>> = (0..n_parts).map(|_| None).collect();
    let mut first_error: Option<(Failure, u32)> = None;
    let mut max_attempts = 1;
    let mut set: JoinSet<(usize, Result<Part, Failure>, u32)> = JoinSet::new();

    let mut handle = |done: Result<(usize, Result<Part, Failure>, u32), tokio::task::JoinError>,
                      parts: &mut Vec<Option<Part>>,
                      first_error: &mut Option<(Failure, u32)>| {
        match done {
            Ok((i, Ok(p), n)) => {
                max_attempts = max_attempts.max(n);
                parts[i] = Some(p);
            }
            Ok((_, Err(f), n)) => {
                if first_error.is_none() || matches!(first_error, Some((Failure::Cancelled, _))) {
                    *first_error = Some((f, n));
                }
                cancel.cancel();
            }
            Err(e) => {
                first_error.get_or_insert((
                    Failure::Protocol(format!("a range request stopped unexpectedly: {e}")),
                    0,
                ));
                cancel.cancel();
            }
        }
    };

    for i in 0..n_parts {
        while let Some(done) = set.try_join_next() {
            handle(done, &mut parts, &mut first_error);
        }
        if cancel.is_cancelled() {
            break;
        }
        let slot = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            p = Arc::clone(&window).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let permit = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            p = Arc::clone(&ctx.requests).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let start = i as u64 * part_size;
        let end = (start + part_size).min(size) - 1;
        let (ctx2, job2, file2, md5_2, cancel2, temp2) = (
            Arc::clone(ctx),
            Arc::clone(job),
            Arc::clone(&file),
            Arc::clone(&md5),
            cancel.clone(),
            temp.to_path_buf(),
        );
        set.spawn(async move {
            let (r, n, _) = with_retries(&ctx2, &cancel2, |_| {
                fetch_part(
                    &ctx2,
                    &job2,
                    Arc::clone(&file2),
                    &md5_2,
                    &temp2,
                    start,
                    end,
                    size,
                )
            })
            .await;
            drop((permit, slot));
            (i, r, n)
        });
    }
    while let Some(done) = set.join_next().await {
        handle(done, &mut parts, &mut first_error);
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if ctx.cancel.is_cancelled() || parts.iter().any(Option::is_none) {
        return Err((Failure::Cancelled, max_attempts));
    }
    let parts: Vec<Part> = parts.into_iter().flatten().collect();
    let mut expected = Expected {
        size: Some(size),
        ..Default::default()
    };
    let mut crc = 0u32;
    for p in &parts {
        expected
            .merge(&p.expected)
            .map_err(|m| (Failure::Changed(m), max_attempts))?;
        crc = crc32c::crc32c_combine(crc, p.crc32c, p.len as usize);
    }
    let mut computed = Computed {
        len: parts.iter().map(|p| p.len).sum(),
        md5: None,
        crc32c: Some(crc),
    };
    if expected.md5.is_some() {
        md5.start();
        let digest = md5
            .finish()
            .await
            .unwrap_or_else(|| Err(Failure::Protocol("the MD5 was not computed".into())));
        computed.md5 = Some(digest.map_err(|f| (f, max_attempts))?);
    }
    drop(md5);
    let v =
        verify::check(&expected, &computed).map_err(|m| (Failure::Mismatch(m), max_attempts))?;
    commit(ctx, file, temp, &job.path)
        .await
        .map_err(|f| (f, max_attempts))?;
    Ok((size, v))
}

/// `bytes <start>-<end>/<total>` of a Content-Range header.
fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (s, e) = range.split_once('-')?;
    Some((
        s.trim().parse().ok()?,
        e.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

#[allow(clippy::too_many_arguments)]
async fn fetch_part(
    ctx: &Ctx,
    job: &Job,
    file: Arc<File>,
    md5: &InOrderMd5,
    temp: &Path,
    start: u64,
    end: u64,
    size: u64,
) -> Result<Part, Failure> {
    let url = ctx.endpoint.object_url(&job.bucket, &job.key);
    let mut resp = ctx
        .send(
            ctx.client
                .get(&url)
                .header(RANGE, format!("bytes={start}-{end}")),
        )
        .await?;
    if resp.status().as_u16() != 206 {
        return Err(Failure::Protocol(format!(
            "a Range request was answered with HTTP {} instead of 206; the server does not support ranges",
            resp.status().as_u16()
        )));
    }
    let range = resp
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range);
    match range {
        Some((s, e, total)) if s == start && e == end && total == size => {}
        Some((_, _, total)) if total != size => {
            return Err(Failure::Changed(format!(
                "its size changed from {size} to {total} bytes"
            )))
        }
        _ => {
            return Err(Failure::Protocol(format!(
                "a Range request for bytes {start}-{end} got another range"
            )))
        }
    }
    let expected = ctx.expected_from(job, resp.headers(), Some(size))?;
    if expected.md5.is_some() {
        md5.start();
    }
    let want = end - start + 1;
    let mut writer = PositionalWriter::new(file, start, WRITE_BLOCK, WRITE_BLOCK);
    let mut counted = Counted::new(&ctx.progress);
    let mut crc = 0u32;
    let mut got = 0u64;
    let stall = ctx.cfg.stall_timeout;
    loop {
        let Some(chunk) = next_chunk(&mut resp, stall).await? else {
            break;
        };
        if got + chunk.len() as u64 > want {
            return Err(Failure::Protocol(format!(
                "more than the {want} bytes requested arrived"
            )));
        }
        crc = crc32c::crc32c_append(crc, &chunk);
        if let Some((s, e)) = writer
            .write(&chunk)
            .await
            .map_err(|e| Failure::io("writing", temp, e))?
        {
            md5.written(s, e);
        }
        got += chunk.len() as u64;
        counted.add(chunk.len() as u64);
    }
    if got < want {
        return Err(Failure::Truncated { got, want });
    }
    if let Some((s, e)) = writer
        .flush()
        .await
        .map_err(|e| Failure::io("writing", temp, e))?
    {
        md5.written(s, e);
    }
    counted.keep();
    Ok(Part {
        len: got,
        crc32c: crc,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 0-99/1000"), Some((0, 99, 1000)));
        assert_eq!(parse_content_range("bytes */1000"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
