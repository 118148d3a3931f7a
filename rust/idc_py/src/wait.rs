//! Run a core future from Python: without the GIL, waking every 100 ms to let Ctrl-C through.
//!
//! The wait is on a channel, not on a tokio timer: while a query keeps every runtime worker
//! busy, tokio's timers may not fire, but the channel's timeout always does.

use std::future::Future;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;

use crate::errors;

pub fn run<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = idc_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let rt = idc_core::runtime::get();
    let (tx, rx) = sync_channel(1);
    let rx = Mutex::new(rx); // shared with the GIL-free closure below, which must be Send
    let handle = rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    loop {
        let received = py.detach(|| {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv_timeout(Duration::from_millis(100))
        });
        match received {
            Ok(result) => return result.map_err(errors::to_py),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    handle.abort();
                    return Err(interrupt);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                // The task ended without sending: it panicked. Report its message.
                let reason = match rt.block_on(handle) {
                    Err(e) => e.to_string(),
                    Ok(()) => "no result".to_string(),
                };
                return Err(errors::to_py(idc_core::CoreError::Execution(format!(
                    "the query task stopped: {reason}"
                ))));
            }
        }
    }
}
