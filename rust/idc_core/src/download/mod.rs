//! The parallel S3 downloader: a plan (prefixes to list, or single objects, each with a
//! destination) becomes verified files on disk.
//!
//! ```text
//! start(plan, config) -> Result<DownloadHandle, DownloadError>
//!                                            checks the plan and the settings, spawns the
//!                                            transfer on the process runtime
//! handle.progress()   -> ProgressSnapshot    bytes and files, lock-free, at any time
//! handle.cancel()                            stops within about a second; nothing partial is
//!                                            left under a final name
//! handle.wait().await -> Result<&Report, DownloadError>
//!                                            every file written or already present, every
//!                                            failure with its reason, bytes, seconds; `Lost`
//!                                            when the transfer ended without a report
//! list(bucket, prefix, config).await         one listing on its own, nothing written
//! read_ranges(requests, &config).await      a byte range of each of many objects, into memory
//!                                            (headers read without their pixel data)
//! ```
//!
//! How a download flows, module by module:
//! - [`config`]: the settings and their bounds; [`plan`]: plan items, checked against the
//!   destination root (nothing is written outside it) and deduplicated.
//! - `schedule`: the run. Objects become jobs at once; prefixes are listed (`list`, over
//!   [`s3`]'s URLs and XML) under `list_concurrency` and become one job per object. Jobs run
//!   under `limit`'s requests in flight, which grow while the completion rate grows and halve
//!   when the server throttles, never above `concurrency` (large objects under
//!   `max_large_files`).
//! - `file`: one job: skip it when already present and complete (resume), create its
//!   directory, fetch it (`whole`: one GET, small bodies in memory; `ranged`: parallel Range
//!   requests into a preallocated file, MD5 and CRC64NVME hashed in order by `inorder`), and
//!   record it. `head` asks for an object's size and checksums (a present object planned
//!   without its size; the full-object checksum a ranged fetch is checked against).
//! - [`verify`]: sizes and the digests the server states, computed as bytes stream;
//!   [`classify`]: which failures are transient, permanent or fatal; [`retry`]: the backoff
//!   loop; [`failure`]: what a failure reads as; [`fsutil`]: temporary files claimed under a
//!   lock, rename into place, directories, positional writes; [`disk`]: a full disk and its
//!   free space.
//! - `http`: the one client, error statuses read, bodies read with a stall timeout and paced
//!   by `rate`'s bandwidth limit when one is set.
//! - `state`: what the tasks share (settings, `http`, limits, cancel, outcomes);
//!   [`progress`]: the live counters; `written`: the records of the files done (sorted runs
//!   in a temporary file as they fill, merged at the end); [`report`]: the outcome; `handle`:
//!   the caller's side; `error`: why a download could not start.
//! - `range_read`: byte ranges of many objects read into memory, for headers (no files).
//!
//! Endpoints are addressed path-style (`<endpoint>/<bucket>/<key>`), anonymously; a
//! [`Source::Url`] item is fetched at its own URL. A file is written as `.<name>.idc-partial`
//! next to its destination (locked while written: another live writer of the same file writes
//! under a name of its own) and renamed only once its size and stated digests match. Transient failures are retried with backoff; a full disk stops the
//! run; every other failure is reported per file.

pub mod classify;
pub mod config;
pub mod disk;
mod document;
mod error;
pub mod failure;
mod file;
pub mod fsutil;
mod handle;
mod head;
mod http;
mod inorder;
mod job;
mod limit;
mod list;
pub mod plan;
pub mod progress;
mod range_read;
mod ranged;
mod rate;
pub mod report;
pub mod retry;
pub mod s3;
mod schedule;
mod state;
pub mod verify;
mod whole;
mod written;

use std::sync::Arc;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

pub use config::DownloadConfig;
pub use document::{fetch_document, Document, DocumentRequest};
pub use error::DownloadError;
pub use failure::FailureKind;
pub use handle::DownloadHandle;
pub use limit::ConcurrencyStats;
pub use plan::{PlanItem, PlanSource, Source, PARTIAL_SUFFIX};
pub use progress::ProgressSnapshot;
pub use range_read::{read_ranges, RangeRead, RangeRequest, MAX_RANGE_LEN};
pub use report::{FailedFile, FileStatus, Report};
pub use retry::RetryPolicy;
pub use verify::Verification;
pub use written::{ByteTotals, FileRecord, FileRecords};

/// The AWS endpoint of the IDC buckets.
pub const AWS_ENDPOINT: &str = "https://s3.amazonaws.com";
/// The GCS endpoint (S3-compatible XML API) of the IDC buckets.
pub const GCS_ENDPOINT: &str = "https://storage.googleapis.com";

/// List every object under `prefix` of `bucket` at `config.endpoint`, with the downloader's
/// retries and its V2-then-V1 listing; nothing is written (`config.root` is not used).
pub async fn list(
    bucket: &str,
    prefix: &str,
    config: DownloadConfig,
) -> Result<Vec<s3::ListedObject>, DownloadError> {
    config.check()?;
    plan::check_bucket(bucket).map_err(DownloadError::Config)?;
    let http = http::Http::new(&config)?;
    let listing = list::list_prefix(
        &http,
        &config.retry,
        &CancellationToken::new(),
        bucket,
        prefix,
    )
    .await;
    listing.outcome.map_err(|f| {
        DownloadError::List(f.describe(
            &format!("s3://{bucket}/{prefix}"),
            Some(http.endpoint.base()),
        ))
    })
}

/// Check the plan, create the destination root, and start the download on the process runtime.
/// `plan` is read item by item (see [`PlanSource`]); a `Vec<PlanItem>` is one.
pub fn start(
    plan: impl PlanSource + 'static,
    config: DownloadConfig,
) -> Result<DownloadHandle, DownloadError> {
    config.check()?;
    let http = http::Http::new(&config)?;
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
    let progress = Arc::new(progress::Progress::default());
    let resolved = plan::resolve(Arc::new(plan), &root, &canon_root, |item| {
        match item.source {
            Source::Object(_) | Source::Url(_) => progress.planned_object(item.size),
            Source::Prefix(_) => progress.planned_prefix(item.size.unwrap_or(0)),
        }
    })
    .map_err(DownloadError::Plan)?;
    let ctx = Arc::new(state::Ctx::new(config, http, canon_root, progress));
    let (handle, report, guard) = DownloadHandle::new(Arc::clone(&ctx));
    crate::runtime::get().spawn(async move {
        let _guard = guard;
        let started = std::time::Instant::now();
        let outcome = std::panic::AssertUnwindSafe(schedule::run(ctx, resolved))
            .catch_unwind()
            .await;
        let r = outcome.unwrap_or_else(|_| Report {
            seconds: started.elapsed().as_secs_f64(),
            stopped: Some("internal error in the downloader; please report it".into()),
            ..Default::default()
        });
        let _ = report.set(Arc::new(r));
    });
    Ok(handle)
}
