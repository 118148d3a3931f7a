//! Run a core future from Python: without the GIL, waking every 100 ms to let Ctrl-C through.

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;

use crate::errors;

pub fn run<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = idc_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let rt = idc_core::runtime::get();
    let mut handle = rt.spawn(fut);
    loop {
        let step = py.detach(|| {
            rt.block_on(async { tokio::time::timeout(Duration::from_millis(100), &mut handle).await })
        });
        match step {
            Ok(Ok(result)) => return result.map_err(errors::to_py),
            Ok(Err(join_error)) => {
                return Err(errors::to_py(idc_core::CoreError::Execution(format!(
                    "the query task stopped: {join_error}"
                ))))
            }
            Err(_elapsed) => {
                if let Err(interrupt) = py.check_signals() {
                    handle.abort();
                    return Err(interrupt);
                }
            }
        }
    }
}
