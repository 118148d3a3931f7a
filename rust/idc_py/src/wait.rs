//! Waiting on the core from Python, written once for queries, listings and downloads: without
//! the GIL, waking every 100 ms to let Ctrl-C through.
//!
//! The waits are on a channel or a condition variable, not on a tokio timer: while a query
//! keeps every runtime worker busy, tokio's timers may not fire, but these timeouts always do.

use std::future::Future;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::errors;

const TICK: Duration = Duration::from_millis(100);

/// Call `step(timeout)` without the GIL until it gives a value or `deadline` passes (`Ok(None)`).
/// Between steps, a pending Ctrl-C calls `on_interrupt` and is raised as KeyboardInterrupt.
pub fn poll<T: Send>(
    py: Python<'_>,
    deadline: Option<Instant>,
    mut step: impl FnMut(Duration) -> Option<T> + Send,
    on_interrupt: impl FnOnce(),
) -> PyResult<Option<T>> {
    loop {
        let tick = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(TICK),
            None => TICK,
        };
        if tick.is_zero() {
            return Ok(None);
        }
        if let Some(v) = py.detach(|| step(tick)) {
            return Ok(Some(v));
        }
        if let Err(interrupt) = py.check_signals() {
            on_interrupt();
            return Err(interrupt);
        }
    }
}

/// Run `fut` on the core's runtime and wait for it; Ctrl-C aborts it. Its error becomes
/// `to_py(error)`; a task that ends without a result (it panicked) gives `lost(reason)`.
pub fn run<F, T, E>(
    py: Python<'_>,
    fut: F,
    to_py: impl FnOnce(E) -> PyErr,
    lost: impl FnOnce(String) -> PyErr,
) -> PyResult<T>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let rt = idc_core::runtime::get();
    let (tx, rx) = sync_channel(1);
    let rx = Mutex::new(rx); // shared with the GIL-free step below, which must be Send
    let handle = rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    let abort = handle.abort_handle();
    let received = poll(
        py,
        None,
        |tick| {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            match rx.recv_timeout(tick) {
                Ok(result) => Some(Some(result)),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(None),
            }
        },
        || abort.abort(),
    )?;
    match received.flatten() {
        Some(result) => result.map_err(to_py),
        None => {
            // The task ended without sending: it panicked. Report its message.
            let reason = match rt.block_on(handle) {
                Err(e) => e.to_string(),
                Ok(()) => "no result".to_string(),
            };
            Err(lost(reason))
        }
    }
}

/// [`run`] for the query engine's futures.
pub fn query<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = idc_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    query_with(py, fut, errors::query_error)
}

/// [`query`] with the engine's errors mapped by `to_py`.
pub fn query_with<F, T>(
    py: Python<'_>,
    fut: F,
    to_py: fn(idc_core::CoreError) -> PyErr,
) -> PyResult<T>
where
    F: Future<Output = idc_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    run(py, fut, to_py, |reason| {
        errors::query_error(idc_core::CoreError::Execution(format!(
            "the query task stopped: {reason}"
        )))
    })
}
