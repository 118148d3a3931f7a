//! The downloader of `idc_core` driven from Python, through typed classes: `PlanItem` and
//! `DownloadConfig` in, `DownloadProgress` and `ListedObject` out, and the records of a
//! finished transfer (`records`). The transfer runs on the core's runtime; Python only polls,
//! so the GIL is never held while bytes move.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyType;

use idc_core::download as core;

use crate::errors::{download_error, DownloadError};
use crate::records::TransferReport;
use crate::wait;

/// One unit of a download: exactly one of `prefix` (a series, listed and fetched into the
/// directory `destination`) or `key` (one object, written to the file `destination`).
/// `destination` is relative to the download directory or inside it. `size` is the object's
/// size in bytes for a key (lets a rerun skip it without a request, and sends large objects to
/// parallel ranges) or the expected total of a prefix (progress only). The identities are
/// copied into the report.
#[pyclass(frozen, eq, hash, get_all, module = "idc_index._core")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PlanItem {
    bucket: String,
    destination: String,
    prefix: Option<String>,
    key: Option<String>,
    size: Option<u64>,
    series_instance_uid: Option<String>,
    sop_instance_uid: Option<String>,
}

#[pymethods]
impl PlanItem {
    #[new]
    #[pyo3(signature = (bucket, destination, prefix = None, key = None, size = None,
                        series_instance_uid = None, sop_instance_uid = None))]
    fn new(
        bucket: String,
        destination: PathBuf,
        prefix: Option<String>,
        key: Option<String>,
        size: Option<u64>,
        series_instance_uid: Option<String>,
        sop_instance_uid: Option<String>,
    ) -> PyResult<Self> {
        if prefix.is_some() == key.is_some() {
            return Err(DownloadError::new_err(format!(
                "a plan item for bucket {bucket:?} needs exactly one of 'prefix' (a series) and 'key' (one object)"
            )));
        }
        Ok(Self {
            bucket,
            destination: destination.to_string_lossy().into_owned(),
            prefix,
            key,
            size,
            series_instance_uid,
            sop_instance_uid,
        })
    }

    /// Every object of one series: `<bucket>/<crdc_series_uuid>/*` into the folder `destination`.
    #[classmethod]
    #[pyo3(signature = (bucket, crdc_series_uuid, destination, *, size = None, series_instance_uid = None))]
    fn series(
        _cls: &Bound<'_, PyType>,
        bucket: String,
        crdc_series_uuid: &str,
        destination: PathBuf,
        size: Option<u64>,
        series_instance_uid: Option<String>,
    ) -> PyResult<Self> {
        let prefix = format!("{}/", crdc_series_uuid.trim_matches('/'));
        Self::new(
            bucket,
            destination,
            Some(prefix),
            None,
            size,
            series_instance_uid,
            None,
        )
    }

    /// One object `<bucket>/<key>` written to the file `destination`.
    #[classmethod]
    #[pyo3(signature = (bucket, key, destination, *, size = None, series_instance_uid = None,
                        sop_instance_uid = None))]
    fn instance(
        _cls: &Bound<'_, PyType>,
        bucket: String,
        key: String,
        destination: PathBuf,
        size: Option<u64>,
        series_instance_uid: Option<String>,
        sop_instance_uid: Option<String>,
    ) -> PyResult<Self> {
        Self::new(
            bucket,
            destination,
            None,
            Some(key),
            size,
            series_instance_uid,
            sop_instance_uid,
        )
    }

    fn __repr__(&self) -> String {
        let (what, name) = match (&self.prefix, &self.key) {
            (Some(p), _) => ("prefix", p),
            (_, Some(k)) => ("key", k),
            _ => ("key", &String::new()),
        };
        format!(
            "PlanItem(bucket={:?}, {what}={name:?}, destination={:?}, size={})",
            self.bucket,
            self.destination,
            self.size.map_or("None".to_string(), |s| s.to_string())
        )
    }
}

fn seconds(name: &str, v: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            DownloadError::new_err(format!(
                "{name} must be a positive number of seconds, not {v}"
            ))
        })
}

/// How a download runs. Every setting left as None keeps the core's default; settings out of
/// range are refused when the download starts.
#[pyclass(frozen, module = "idc_index._core")]
#[derive(Clone)]
pub struct DownloadConfig {
    pub(crate) inner: core::DownloadConfig,
}

#[pymethods]
impl DownloadConfig {
    #[new]
    #[pyo3(signature = (
        endpoint, *, concurrency = None, list_concurrency = None, part_size = None,
        multipart_threshold = None, max_large_files = None, ranges_per_file = None,
        max_attempts = None, retry_max_seconds = None, stall_timeout = None, connect_timeout = None,
        fsync = None, resume = None, verify_existing = None, checksums = None, max_bandwidth = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        endpoint: String,
        concurrency: Option<usize>,
        list_concurrency: Option<usize>,
        part_size: Option<u64>,
        multipart_threshold: Option<u64>,
        max_large_files: Option<usize>,
        ranges_per_file: Option<usize>,
        max_attempts: Option<u32>,
        retry_max_seconds: Option<f64>,
        stall_timeout: Option<f64>,
        connect_timeout: Option<f64>,
        fsync: Option<bool>,
        resume: Option<bool>,
        verify_existing: Option<bool>,
        checksums: Option<bool>,
        max_bandwidth: Option<u64>,
    ) -> PyResult<Self> {
        let mut c = core::DownloadConfig::new(endpoint, PathBuf::from("."));
        fn set<T>(field: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *field = v;
            }
        }
        set(&mut c.concurrency, concurrency);
        set(&mut c.list_concurrency, list_concurrency);
        set(&mut c.part_size, part_size);
        set(&mut c.multipart_threshold, multipart_threshold);
        set(&mut c.max_large_files, max_large_files);
        set(&mut c.ranges_per_file, ranges_per_file);
        set(&mut c.retry.max_attempts, max_attempts);
        set(
            &mut c.retry.max_elapsed,
            retry_max_seconds
                .map(|v| seconds("retry_max_seconds", v))
                .transpose()?,
        );
        set(
            &mut c.stall_timeout,
            stall_timeout
                .map(|v| seconds("stall_timeout", v))
                .transpose()?,
        );
        set(
            &mut c.connect_timeout,
            connect_timeout
                .map(|v| seconds("connect_timeout", v))
                .transpose()?,
        );
        set(&mut c.fsync, fsync);
        set(&mut c.resume, resume);
        set(&mut c.verify_existing, verify_existing);
        set(&mut c.checksums, checksums);
        c.max_bandwidth = max_bandwidth;
        Ok(Self { inner: c })
    }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        format!(
            "DownloadConfig(endpoint={:?}, concurrency={}, list_concurrency={}, part_size={}, \
             multipart_threshold={}, max_large_files={}, ranges_per_file={}, max_attempts={}, \
             retry_max_seconds={}, stall_timeout={}, connect_timeout={}, fsync={}, resume={}, \
             verify_existing={}, checksums={}, max_bandwidth={})",
            c.endpoint,
            c.concurrency,
            c.list_concurrency,
            c.part_size,
            c.multipart_threshold,
            c.max_large_files,
            c.ranges_per_file,
            c.retry.max_attempts,
            c.retry.max_elapsed.as_secs_f64(),
            c.stall_timeout.as_secs_f64(),
            c.connect_timeout.as_secs_f64(),
            c.fsync,
            c.resume,
            c.verify_existing,
            c.checksums,
            c.max_bandwidth
                .map_or("None".to_string(), |b| b.to_string()),
        )
    }
}

/// A reading of a running download's counters.
#[pyclass(frozen, get_all, eq, module = "idc_index._core")]
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes received, plus the size of files found already present.
    bytes_done: u64,
    /// The part of `bytes_done` that is files found already present (not transferred).
    bytes_present: u64,
    /// Bytes of every file known so far (grows while listings are pending).
    bytes_total: u64,
    files_downloaded: u64,
    /// Files found already present and complete.
    files_skipped: u64,
    files_failed: u64,
    /// Files known so far (grows while listings are pending).
    files_total: u64,
    /// Series not listed yet; while non-zero, the totals still grow.
    listings_pending: u64,
}

#[pymethods]
impl DownloadProgress {
    /// Files finished either way.
    #[getter]
    fn files_finished(&self) -> u64 {
        self.files_downloaded + self.files_skipped + self.files_failed
    }

    fn __repr__(&self) -> String {
        format!(
            "DownloadProgress(bytes_done={}, bytes_total={}, files {}/{}, listings_pending={})",
            self.bytes_done,
            self.bytes_total,
            self.files_finished(),
            self.files_total,
            self.listings_pending
        )
    }
}

impl From<core::ProgressSnapshot> for DownloadProgress {
    fn from(p: core::ProgressSnapshot) -> Self {
        Self {
            bytes_done: p.bytes_done,
            bytes_present: p.bytes_present,
            bytes_total: p.bytes_total,
            files_downloaded: p.files_downloaded,
            files_skipped: p.files_skipped,
            files_failed: p.files_failed,
            files_total: p.files_total,
            listings_pending: p.listings_pending,
        }
    }
}

/// Start downloading the items of `plan` under `root` as `config` says; returns at once with a
/// handle. `plan` is a plan's Arrow table (any object with `__arrow_c_stream__`), read through
/// the Arrow C stream: no Python object per item.
#[pyfunction]
fn start_download(
    plan: &Bound<'_, PyAny>,
    root: PathBuf,
    config: &DownloadConfig,
) -> PyResult<DownloadHandle> {
    let (_, batches) = crate::arrow_py::import_stream(plan)?;
    let plan = crate::plan_table::ArrowPlan::new(&batches)?;
    let mut cfg = config.inner.clone();
    cfg.root = root;
    let handle = core::start(plan, cfg).map_err(download_error)?;
    Ok(DownloadHandle {
        inner: Arc::new(handle),
    })
}

/// A running download. Poll `progress()`, `wait(timeout)` without holding the GIL, `cancel()`
/// at any time, and read `report()` once finished.
#[pyclass(frozen, module = "idc_index._core")]
struct DownloadHandle {
    inner: Arc<core::DownloadHandle>,
}

#[pymethods]
impl DownloadHandle {
    /// The counters right now (totals grow while listings are pending).
    fn progress(&self) -> DownloadProgress {
        self.inner.progress().into()
    }

    /// Stop the download; returns at once (partial files are removed by the transfer itself).
    fn cancel(&self) {
        self.inner.cancel();
    }

    /// Whether the download has finished (completed, failed, or cancelled).
    fn done(&self) -> bool {
        self.inner.is_finished()
    }

    /// Wait up to `timeout` seconds (forever when None) for the end, without the GIL. Returns
    /// whether it has finished. Ctrl-C while waiting cancels the download and raises
    /// KeyboardInterrupt.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = match timeout {
            Some(t) if t.is_nan() || t < 0.0 => {
                return Err(DownloadError::new_err(format!(
                    "timeout must be a non-negative number, not {t}"
                )))
            }
            Some(t) => {
                Some(Instant::now() + Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX / 4))
            }
            None => None,
        };
        if self.inner.is_finished() {
            return Ok(true);
        }
        let inner = &self.inner;
        let ended = wait::poll(
            py,
            deadline,
            |tick| inner.wait_blocking(tick).then_some(()),
            || inner.cancel(),
        )?;
        Ok(ended.is_some() || self.inner.is_finished())
    }

    /// The report once finished, else None.
    fn report(&self, py: Python<'_>) -> PyResult<Option<TransferReport>> {
        self.inner
            .shared_report()
            .map(|r| TransferReport::new(py, r))
            .transpose()
    }
}

/// One object of a listing.
#[pyclass(frozen, get_all, eq, module = "idc_index._core")]
#[derive(Clone, PartialEq, Eq)]
struct ListedObject {
    key: String,
    size: u64,
}

/// List every object under `prefix` of `bucket` at `config`'s endpoint (with the downloader's
/// retries and V2-then-V1 listing); nothing is downloaded. Ctrl-C stops the listing.
#[pyfunction]
fn list_objects(
    py: Python<'_>,
    bucket: String,
    prefix: String,
    config: &DownloadConfig,
) -> PyResult<Vec<ListedObject>> {
    let cfg = config.inner.clone();
    let listed = wait::run(
        py,
        async move { core::list(&bucket, &prefix, cfg).await },
        download_error,
        |reason| DownloadError::new_err(format!("the listing stopped ({reason}); run it again")),
    )?;
    Ok(listed
        .into_iter()
        .map(|o| ListedObject {
            key: o.key,
            size: o.size,
        })
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PlanItem>()?;
    m.add_class::<DownloadConfig>()?;
    m.add_class::<DownloadProgress>()?;
    m.add_class::<DownloadHandle>()?;
    m.add_class::<ListedObject>()?;
    m.add_function(wrap_pyfunction!(start_download, m)?)?;
    m.add_function(wrap_pyfunction!(list_objects, m)?)?;
    m.add("AWS_ENDPOINT", core::AWS_ENDPOINT)?;
    m.add("GCS_ENDPOINT", core::GCS_ENDPOINT)?;
    m.add("PARTIAL_SUFFIX", core::PARTIAL_SUFFIX)?;
    Ok(())
}
