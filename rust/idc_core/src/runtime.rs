//! One tokio runtime for the whole process, created on first use.
//!
//! A forked child (multiprocessing on Linux) inherits the parent's runtime object but none of
//! its threads, so the runtime is keyed by process id and rebuilt in a child.

use std::sync::{Arc, Mutex, OnceLock};
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Mutex<(u32, Arc<Runtime>)>> = OnceLock::new();

fn build() -> Arc<Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("idc-core")
            .build()
            .expect("the tokio runtime could not start: the process is out of threads or memory"),
    )
}

/// The runtime of the current process.
pub fn get() -> Arc<Runtime> {
    let pid = std::process::id();
    let cell = RUNTIME.get_or_init(|| Mutex::new((pid, build())));
    let mut guard = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if guard.0 != pid {
        // The parent's runtime threads do not exist in this child: leak the dead runtime
        // (dropping it would try to join threads that are not there) and start a new one.
        let stale = std::mem::replace(&mut *guard, (pid, build()));
        std::mem::forget(stale);
    }
    Arc::clone(&guard.1)
}
