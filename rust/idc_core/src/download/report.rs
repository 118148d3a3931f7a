//! What a download tells when it ends: every file on disk, every failure with its reason.

use std::path::PathBuf;

use super::failure::FailureKind;
use super::limit::ConcurrencyStats;
use super::written::FileRecords;

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
    pub files: FileRecords,
    /// Every failure, sorted by bucket and key.
    pub failed: Vec<FailedFile>,
    pub bytes_downloaded: u64,
    pub bytes_present: u64,
    pub seconds: f64,
    /// The caller cancelled the download.
    pub cancelled: bool,
    /// Why the run stopped early on its own (the disk is full), if it did.
    pub stopped: Option<String>,
    /// Items never begun because the run was cancelled or stopped (a series not listed yet
    /// counts as one): a rerun fetches them. Those under way are in `failed`.
    pub not_started: u64,
    /// What the limit of requests in flight did: where it started, its peak, its decreases.
    pub concurrency: ConcurrencyStats,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && !self.cancelled && self.stopped.is_none()
    }

    /// The report of finished files (sorted, with their byte totals) and failures, sorted.
    pub(crate) fn assemble(
        files: FileRecords,
        mut failed: Vec<FailedFile>,
        seconds: f64,
        cancelled: bool,
        stopped: Option<String>,
        not_started: u64,
        concurrency: ConcurrencyStats,
    ) -> Report {
        failed.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
        Report {
            bytes_downloaded: files.bytes().downloaded,
            bytes_present: files.bytes().present,
            files,
            failed,
            seconds,
            cancelled,
            stopped,
            not_started,
            concurrency,
        }
    }
}
