//! `idc_index._core.start_download` and `DownloadHandle`: the downloader of `idc_core` driven
//! from Python. The transfer runs on the core's runtime; Python only polls, so the GIL is never
//! held while bytes move.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use idc_core::download::{
    self as core, DownloadConfig, DownloadError, FailedFile, FileRecord, PlanItem,
    ProgressSnapshot, Report, RetryPolicy, Source,
};

use crate::errors::py_error;

fn download_error(err: DownloadError) -> PyErr {
    py_error("DownloadError", err.to_string())
}

/// One plan item from a dict: `bucket`, `prefix` or `key`, `destination`, and optionally
/// `size`, `series_instance_uid`, `sop_instance_uid`.
fn plan_item<'py>(index: usize, d: &Bound<'py, PyDict>) -> PyResult<PlanItem> {
    let bad = |what: String| py_error("DownloadError", format!("plan item {index}: {what}"));
    let get = |name: &str| -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(d.get_item(name)?.filter(|v| !v.is_none()))
    };
    let string = |name: &str| -> PyResult<Option<String>> {
        match get(name)? {
            None => Ok(None),
            Some(v) => v
                .extract::<String>()
                .map(Some)
                .map_err(|_| bad(format!("'{name}' must be a string"))),
        }
    };
    let bucket = string("bucket")?.ok_or_else(|| bad("'bucket' is missing".into()))?;
    let source = match (string("prefix")?, string("key")?) {
        (Some(p), None) => Source::Prefix(p),
        (None, Some(k)) => Source::Object(k),
        _ => {
            return Err(bad(
                "give exactly one of 'prefix' (a series) and 'key' (one object)".into(),
            ))
        }
    };
    let destination: PathBuf = match get("destination")? {
        Some(v) => v
            .extract()
            .map_err(|_| bad("'destination' must be a path".into()))?,
        None => return Err(bad("'destination' is missing".into())),
    };
    let size = match get("size")? {
        Some(v) => Some(
            v.extract::<u64>()
                .map_err(|_| bad("'size' must be a non-negative integer".into()))?,
        ),
        None => None,
    };
    Ok(PlanItem {
        bucket,
        source,
        destination,
        size,
        series_instance_uid: string("series_instance_uid")?,
        sop_instance_uid: string("sop_instance_uid")?,
    })
}

fn seconds(name: &str, v: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            py_error(
                "DownloadError",
                format!("{name} must be a positive number of seconds, not {v}"),
            )
        })
}

/// Start downloading `items` under `root` from `endpoint`; returns at once with a handle.
///
/// Each item is a dict: `bucket`; `prefix` (a series, listed then fetched into the directory
/// `destination`) or `key` (one object written to the file `destination`); optionally `size`
/// (bytes of the object, or expected total of the prefix), `series_instance_uid` and
/// `sop_instance_uid` (copied into the report). Destinations are relative to `root` or inside it.
#[pyfunction]
#[pyo3(signature = (
    items, root, endpoint, *, concurrency = None, list_concurrency = None, part_size = None,
    multipart_threshold = None, max_large_files = None, ranges_per_file = None, max_attempts = None,
    retry_max_seconds = None, stall_timeout = None, connect_timeout = None, fsync = false, resume = true,
    verify_existing = true, checksums = true
))]
#[allow(clippy::too_many_arguments)]
fn start_download(
    items: Vec<Bound<'_, PyDict>>,
    root: PathBuf,
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
    fsync: bool,
    resume: bool,
    verify_existing: bool,
    checksums: bool,
) -> PyResult<DownloadHandle> {
    let plan = items
        .iter()
        .enumerate()
        .map(|(i, d)| plan_item(i, d))
        .collect::<PyResult<Vec<_>>>()?;
    let mut cfg = DownloadConfig::new(endpoint, root);
    if let Some(v) = concurrency {
        cfg.concurrency = v;
    }
    if let Some(v) = list_concurrency {
        cfg.list_concurrency = v;
    }
    if let Some(v) = part_size {
        cfg.part_size = v;
    }
    if let Some(v) = multipart_threshold {
        cfg.multipart_threshold = v;
    }
    if let Some(v) = max_large_files {
        cfg.max_large_files = v;
    }
    if let Some(v) = ranges_per_file {
        cfg.ranges_per_file = v;
    }
    let mut retry = RetryPolicy::default();
    if let Some(v) = max_attempts {
        retry.max_attempts = v;
    }
    if let Some(v) = retry_max_seconds {
        retry.max_elapsed = seconds("retry_max_seconds", v)?;
    }
    cfg.retry = retry;
    if let Some(v) = stall_timeout {
        cfg.stall_timeout = seconds("stall_timeout", v)?;
    }
    if let Some(v) = connect_timeout {
        cfg.connect_timeout = seconds("connect_timeout", v)?;
    }
    cfg.fsync = fsync;
    cfg.resume = resume;
    cfg.verify_existing = verify_existing;
    cfg.checksums = checksums;
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

fn progress_dict<'py>(py: Python<'py>, p: &ProgressSnapshot) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes_done", p.bytes_done)?;
    d.set_item("bytes_total", p.bytes_total)?;
    d.set_item("files_downloaded", p.files_downloaded)?;
    d.set_item("files_skipped", p.files_skipped)?;
    d.set_item("files_failed", p.files_failed)?;
    d.set_item("files_total", p.files_total)?;
    d.set_item("listings_pending", p.listings_pending)?;
    Ok(d)
}

fn file_dict<'py>(py: Python<'py>, f: &FileRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("path", f.path.display().to_string())?;
    d.set_item("bucket", &f.bucket)?;
    d.set_item("key", &f.key)?;
    d.set_item("size", f.size)?;
    d.set_item("status", f.status.as_str())?;
    d.set_item("verification", f.verification.as_str())?;
    d.set_item("series_instance_uid", f.series_instance_uid.as_deref())?;
    d.set_item("sop_instance_uid", f.sop_instance_uid.as_deref())?;
    Ok(d)
}

fn failed_dict<'py>(py: Python<'py>, f: &FailedFile) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bucket", &f.bucket)?;
    d.set_item("key", &f.key)?;
    d.set_item("path", f.path.as_ref().map(|p| p.display().to_string()))?;
    d.set_item("kind", f.kind.as_str())?;
    d.set_item("reason", &f.reason)?;
    d.set_item("attempts", f.attempts)?;
    d.set_item("series_instance_uid", f.series_instance_uid.as_deref())?;
    d.set_item("sop_instance_uid", f.sop_instance_uid.as_deref())?;
    Ok(d)
}

fn report_dict<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let files = PyList::empty(py);
    for f in &r.files {
        files.append(file_dict(py, f)?)?;
    }
    let failed = PyList::empty(py);
    for f in &r.failed {
        failed.append(failed_dict(py, f)?)?;
    }
    d.set_item("files", files)?;
    d.set_item("failed", failed)?;
    d.set_item("bytes_downloaded", r.bytes_downloaded)?;
    d.set_item("bytes_present", r.bytes_present)?;
    d.set_item("seconds", r.seconds)?;
    d.set_item("cancelled", r.cancelled)?;
    d.set_item("stopped", r.stopped.as_deref())?;
    Ok(d)
}

#[pymethods]
impl DownloadHandle {
    /// Counters right now: bytes_done, bytes_total, files_downloaded, files_skipped,
    /// files_failed, files_total, listings_pending (totals grow while listings are pending).
    fn progress<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        progress_dict(py, &self.inner.progress())
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
                return Err(py_error(
                    "DownloadError",
                    format!("timeout must be a non-negative number, not {t}"),
                ))
            }
            Some(t) => {
                Some(Instant::now() + Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX / 4))
            }
            None => None,
        };
        loop {
            if self.inner.is_finished() {
                return Ok(true);
            }
            let step = match deadline {
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100)),
                None => Duration::from_millis(100),
            };
            if step.is_zero() {
                return Ok(false);
            }
            py.detach(|| self.inner.wait_blocking(step));
            if let Err(interrupt) = py.check_signals() {
                self.inner.cancel();
                return Err(interrupt);
            }
        }
    }

    /// The report once finished, else None: a dict with `files` (each: path, bucket, key,
    /// size, status "downloaded"|"already_present", verification, series_instance_uid,
    /// sop_instance_uid), `failed` (each: bucket, key, path, kind, reason, attempts,
    /// series_instance_uid, sop_instance_uid), bytes_downloaded, bytes_present, seconds,
    /// cancelled, stopped.
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.inner.report().map(|r| report_dict(py, r)).transpose()
    }
}

/// List every object under `prefix` of `bucket` at `endpoint` (with the downloader's retries
/// and V2-then-V1 listing); nothing is downloaded. Returns dicts with `key`, `size`, `etag`.
/// Ctrl-C stops the listing.
#[pyfunction]
#[pyo3(signature = (bucket, prefix, endpoint, *, max_attempts = None, connect_timeout = None))]
fn list_objects<'py>(
    py: Python<'py>,
    bucket: String,
    prefix: String,
    endpoint: String,
    max_attempts: Option<u32>,
    connect_timeout: Option<f64>,
) -> PyResult<Bound<'py, PyList>> {
    let mut cfg = DownloadConfig::new(endpoint, PathBuf::from("."));
    if let Some(v) = max_attempts {
        cfg.retry.max_attempts = v;
    }
    if let Some(v) = connect_timeout {
        cfg.connect_timeout = seconds("connect_timeout", v)?;
    }
    let rt = idc_core::runtime::get();
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let rx = std::sync::Mutex::new(rx);
    let task = rt.spawn(async move {
        let _ = tx.send(core::list(&bucket, &prefix, cfg).await);
    });
    let listed = loop {
        let received = py.detach(|| {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv_timeout(Duration::from_millis(100))
        });
        match received {
            Ok(result) => break result.map_err(download_error)?,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    return Err(interrupt);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(py_error(
                    "DownloadError",
                    "the listing stopped without a result; run it again".into(),
                ))
            }
        }
    };
    let out = PyList::empty(py);
    for o in listed {
        let d = PyDict::new(py);
        d.set_item("key", &o.key)?;
        d.set_item("size", o.size)?;
        d.set_item("etag", o.etag.as_deref())?;
        out.append(d)?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DownloadHandle>()?;
    m.add_function(wrap_pyfunction!(start_download, m)?)?;
    m.add_function(wrap_pyfunction!(list_objects, m)?)?;
    m.add("AWS_ENDPOINT", core::AWS_ENDPOINT)?;
    m.add("GCS_ENDPOINT", core::GCS_ENDPOINT)?;
    m.add("PARTIAL_SUFFIX", core::PARTIAL_SUFFIX)?;
    Ok(())
}
