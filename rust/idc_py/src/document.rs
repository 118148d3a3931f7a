//! One small document fetched on its own through the core's HTTP client (`fetch_document`):
//! release listings and manifests, the HEAD that checks a remotely read index, DOI records.

use std::collections::BTreeMap;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use idc_core::download as core;

use crate::download::DownloadConfig;
use crate::errors::{download_error, DownloadError};
use crate::wait;

/// Fetch `url` whole (or, with `head`, only its status and headers), at most `max_bytes`
/// bytes within `deadline` seconds, retries included, with `config`'s client settings (its
/// endpoint is not used). Returns `(status, headers, body)`: a success, or 403/404 (not
/// published) with an empty body. Anything else, or a bound passed, raises `DownloadError`
/// with what happened. Ctrl-C stops it.
#[pyfunction]
#[pyo3(signature = (url, config, *, max_bytes, deadline, head = false, accept = None))]
fn fetch_document<'py>(
    py: Python<'py>,
    url: String,
    config: &DownloadConfig,
    max_bytes: usize,
    deadline: f64,
    head: bool,
    accept: Option<String>,
) -> PyResult<(u16, BTreeMap<String, String>, Bound<'py, PyBytes>)> {
    if !(deadline.is_finite() && deadline > 0.0) {
        return Err(DownloadError::new_err(format!(
            "deadline must be a positive number of seconds, not {deadline}"
        )));
    }
    let request = core::DocumentRequest {
        url,
        head,
        accept,
        max_bytes,
        deadline: Duration::from_secs_f64(deadline),
    };
    let cfg = config.inner.clone();
    let doc = wait::run(
        py,
        async move { core::fetch_document(request, &cfg).await },
        download_error,
        |reason| DownloadError::new_err(format!("the fetch stopped ({reason}); try again")),
    )?;
    Ok((
        doc.status,
        doc.headers.into_iter().collect(),
        PyBytes::new(py, &doc.body),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fetch_document, m)?)?;
    Ok(())
}
