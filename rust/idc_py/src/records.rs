//! What a finished transfer reports, as Python sees it: `DownloadedFile`, `FailedFile` and
//! `TransferReport`, built from the core's records. The file records can also be made and
//! pickled in Python (a Dask worker returns them as they are; a shard that died is recorded as
//! a failure by the caller), so their string fields are checked against the values they take.

use std::collections::BTreeMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use idc_core::download as core;

use crate::errors::DownloadError;
use crate::file_list::FileList;

/// A file that is at its destination, complete and verified.
#[pyclass(frozen, get_all, eq, module = "idc_index._core")]
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadedFile {
    path: String,
    bucket: String,
    key: String,
    size: u64,
    /// `"downloaded"` by this run, or `"already_present"` (found complete, left alone).
    status: &'static str,
    /// How it was checked: `"crc32c"`, `"crc32"`, `"crc64nvme"`, `"md5"`, `"sha256"` (one the
    /// plan stated), or `"size"`.
    verification: &'static str,
    series_instance_uid: Option<String>,
    sop_instance_uid: Option<String>,
}

/// The values of `DownloadedFile.status`, `.verification` and `FailedFile.kind` (a failure the
/// caller records itself, such as a Dask shard that died, is `shard_error`).
const STATUSES: &[&str] = &["downloaded", "already_present"];
const VERIFICATIONS: &[&str] = &["crc32c", "crc32", "crc64nvme", "md5", "sha256", "size"];
const KINDS: &[&str] = &[
    "not_found",
    "access_denied",
    "http",
    "network",
    "tls",
    "integrity",
    "local_io",
    "disk_full",
    "unsafe_path",
    "protocol",
    "cancelled",
    "not_attempted",
    "internal",
    "shard_error",
];

/// `text` cut to at most `max` characters: its start and its end, joined by `…`.
fn clip(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max * 2 / 3).collect();
    let tail: String = text.chars().skip(n - (max - max * 2 / 3 - 1)).collect();
    format!("{head}…{tail}")
}

fn one_of(value: &str, values: &[&'static str], what: &str) -> PyResult<&'static str> {
    values
        .iter()
        .find(|v| **v == value)
        .copied()
        .ok_or_else(|| {
            DownloadError::new_err(format!(
                "{what} must be one of {}, not {value:?}",
                values.join(", ")
            ))
        })
}

#[pymethods]
impl DownloadedFile {
    /// A record of a file on disk (as a report holds it: made by the downloader, or unpickled).
    #[new]
    #[pyo3(signature = (path, bucket, key, size, status, verification, series_instance_uid = None,
                        sop_instance_uid = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        path: String,
        bucket: String,
        key: String,
        size: u64,
        status: &str,
        verification: &str,
        series_instance_uid: Option<String>,
        sop_instance_uid: Option<String>,
    ) -> PyResult<Self> {
        Ok(Self {
            path,
            bucket,
            key,
            size,
            status: one_of(status, STATUSES, "status")?,
            verification: one_of(verification, VERIFICATIONS, "verification")?,
            series_instance_uid,
            sop_instance_uid,
        })
    }

    /// Pickle support (Dask sends reports between processes): the arguments of `new`.
    #[allow(clippy::type_complexity)]
    fn __getnewargs__(
        &self,
    ) -> (
        String,
        String,
        String,
        u64,
        &'static str,
        &'static str,
        Option<String>,
        Option<String>,
    ) {
        (
            self.path.clone(),
            self.bucket.clone(),
            self.key.clone(),
            self.size,
            self.status,
            self.verification,
            self.series_instance_uid.clone(),
            self.sop_instance_uid.clone(),
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "DownloadedFile(path={:?}, size={}, status={:?}, verification={:?})",
            self.path, self.size, self.status, self.verification
        )
    }
}

impl From<&core::FileRecord> for DownloadedFile {
    fn from(f: &core::FileRecord) -> Self {
        Self {
            path: f.path().display().to_string(),
            bucket: f.bucket().to_string(),
            key: f.key(),
            size: f.size,
            status: f.status.as_str(),
            verification: f.verification.as_str(),
            series_instance_uid: f.series_instance_uid().map(str::to_string),
            sop_instance_uid: f.sop_instance_uid().map(str::to_string),
        }
    }
}

/// A file (or a whole series prefix, when its listing failed) that is not on disk.
#[pyclass(frozen, get_all, eq, module = "idc_index._core")]
#[derive(Clone, PartialEq, Eq)]
pub struct FailedFile {
    bucket: String,
    /// The object key, or the prefix when the listing itself failed.
    key: String,
    path: Option<String>,
    /// `not_found`, `access_denied`, `http`, `network`, `integrity`, `local_io`, `disk_full`,
    /// `unsafe_path`, `protocol`, `cancelled`, `not_attempted`, `internal`, or `shard_error`
    /// (recorded by the caller for a shard of a distributed download that never reported).
    kind: &'static str,
    /// What happened and what to do, for a person.
    reason: String,
    attempts: u32,
    series_instance_uid: Option<String>,
    sop_instance_uid: Option<String>,
}

#[pymethods]
impl FailedFile {
    /// A record of a file not on disk (as a report holds it: made by the downloader, by the
    /// caller for work that never reached it, or unpickled).
    #[new]
    #[pyo3(signature = (bucket, key, path, kind, reason, attempts = 0, series_instance_uid = None,
                        sop_instance_uid = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        bucket: String,
        key: String,
        path: Option<String>,
        kind: &str,
        reason: String,
        attempts: u32,
        series_instance_uid: Option<String>,
        sop_instance_uid: Option<String>,
    ) -> PyResult<Self> {
        Ok(Self {
            bucket,
            key,
            path,
            kind: one_of(kind, KINDS, "kind")?,
            reason,
            attempts,
            series_instance_uid,
            sop_instance_uid,
        })
    }

    /// Pickle support (Dask sends reports between processes): the arguments of `new`.
    #[allow(clippy::type_complexity)]
    fn __getnewargs__(
        &self,
    ) -> (
        String,
        String,
        Option<String>,
        &'static str,
        String,
        u32,
        Option<String>,
        Option<String>,
    ) {
        (
            self.bucket.clone(),
            self.key.clone(),
            self.path.clone(),
            self.kind,
            self.reason.clone(),
            self.attempts,
            self.series_instance_uid.clone(),
            self.sop_instance_uid.clone(),
        )
    }

    /// One line of bounded length, whatever the reason says (the whole reason is `.reason`).
    fn __repr__(&self) -> String {
        format!(
            "FailedFile(key={:?}, kind={:?}, reason={:?})",
            clip(&self.key, 200),
            self.kind,
            clip(&self.reason, 300)
        )
    }
}

impl From<&core::FailedFile> for FailedFile {
    fn from(f: &core::FailedFile) -> Self {
        Self {
            bucket: f.bucket.clone(),
            key: f.key.clone(),
            path: f.path.as_ref().map(|p| p.display().to_string()),
            kind: f.kind.as_str(),
            reason: f.reason.clone(),
            attempts: f.attempts,
            series_instance_uid: f.series_instance_uid.clone(),
            sop_instance_uid: f.sop_instance_uid.clone(),
        }
    }
}

/// What the core reports at the end of a transfer. Its files are read from the core's records
/// as they are asked for (`FileList`); its failures are made into Python objects once, and
/// handed out as they are (a `Vec` field would be copied into new objects on every read).
#[pyclass(frozen, get_all, module = "idc_index._core")]
pub struct TransferReport {
    /// Every file written or already present (`DownloadedFile`), sorted by path.
    files: Py<FileList>,
    /// Every failure (`FailedFile`), sorted by bucket and key.
    failed: Py<PyList>,
    bytes_downloaded: u64,
    bytes_present: u64,
    seconds: f64,
    /// The caller cancelled the download.
    cancelled: bool,
    /// Why the run stopped early on its own (the disk is full), if it did.
    stopped: Option<String>,
    /// Items never begun because the run was cancelled or stopped (a series not listed yet
    /// counts as one).
    not_started: u64,
    /// What the limit of requests in flight did: `cap`, `start`, `peak`, `lowest`, `last`,
    /// `decreases`.
    concurrency: BTreeMap<&'static str, u64>,
}

impl TransferReport {
    pub fn new(py: Python<'_>, r: Arc<core::Report>) -> PyResult<Self> {
        let failed = PyList::new(py, r.failed.iter().map(FailedFile::from))?;
        Ok(Self {
            files: Py::new(py, FileList::new(Arc::clone(&r)))?,
            failed: failed.unbind(),
            bytes_downloaded: r.bytes_downloaded,
            bytes_present: r.bytes_present,
            seconds: r.seconds,
            cancelled: r.cancelled,
            stopped: r.stopped.clone(),
            not_started: r.not_started,
            concurrency: {
                let c = &r.concurrency;
                BTreeMap::from([
                    ("cap", c.cap as u64),
                    ("start", c.start as u64),
                    ("peak", c.peak as u64),
                    ("lowest", c.lowest as u64),
                    ("last", c.last as u64),
                    ("decreases", u64::from(c.decreases)),
                ])
            },
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DownloadedFile>()?;
    m.add_class::<FailedFile>()?;
    m.add_class::<TransferReport>()?;
    m.add_class::<FileList>()?;
    Ok(())
}
