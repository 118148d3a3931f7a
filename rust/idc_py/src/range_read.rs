//! A byte range of each of many objects read into memory through the core's client
//! (`read_ranges`): the headers of DICOM files, read without their pixel data.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use idc_core::download as core;

use crate::download::DownloadConfig;
use crate::errors::{download_error, DownloadError};
use crate::wait;

/// What was read of one object: its bytes, its size, or why it could not be read.
#[pyclass(frozen, module = "idc_index._core")]
pub struct RangeRead {
    data: Py<PyBytes>,
    #[pyo3(get)]
    object_size: Option<u64>,
    #[pyo3(get)]
    error: Option<String>,
}

#[pymethods]
impl RangeRead {
    /// The bytes from the range's start: all that were asked for, fewer only where the object
    /// ends first; empty on error.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let len = self.data.bind(py).as_bytes().len();
        match &self.error {
            Some(e) => format!("RangeRead(error={e:?})"),
            None => match self.object_size {
                Some(size) => format!("RangeRead({len} bytes, object_size={size})"),
                None => format!("RangeRead({len} bytes, object_size=None)"),
            },
        }
    }
}

/// Read the `(bucket, key, start, length)` byte ranges in parallel Range requests at
/// `config`'s endpoint, with the downloader's retries and its adaptive limit on requests in
/// flight (capped by `config.concurrency`). One `RangeRead` per request, in their order; a
/// range that cannot be read has its `error`. Raises `DownloadError` for settings or ranges
/// that could never be read. Ctrl-C stops it.
#[pyfunction]
fn read_ranges(
    py: Python<'_>,
    requests: Vec<(String, String, u64, u64)>,
    config: &DownloadConfig,
) -> PyResult<Vec<RangeRead>> {
    let requests = requests
        .into_iter()
        .map(|(bucket, key, start, len)| core::RangeRequest {
            bucket,
            key,
            start,
            len,
        })
        .collect();
    let cfg = config.inner.clone();
    let reads = wait::run(
        py,
        async move { core::read_ranges(requests, &cfg).await },
        download_error,
        |reason| DownloadError::new_err(format!("the reads stopped ({reason}); try again")),
    )?;
    Ok(reads
        .into_iter()
        .map(|read| match read {
            Ok(r) => RangeRead {
                data: PyBytes::new(py, &r.data).unbind(),
                object_size: r.object_size,
                error: None,
            },
            Err(e) => RangeRead {
                data: PyBytes::new(py, b"").unbind(),
                object_size: None,
                error: Some(e),
            },
        })
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RangeRead>()?;
    m.add_function(wrap_pyfunction!(read_ranges, m)?)?;
    Ok(())
}
