//! Query and download core of idc-index.
//!
//! Pure Rust, no Python: the PyO3 crate `idc_py` wraps it as `idc_index._core`.
//! - [`query`]: one DataFusion session over the parquet indices, read-only SQL in the dialect
//!   that idc-index users write (DuckDB habits), and the optimised copy of large indices.
//! - [`runtime`]: the process-wide tokio runtime, recreated after a fork.

#[cfg(feature = "download")]
pub mod download;
pub mod error;
#[cfg(feature = "query")]
pub mod query;
pub mod runtime;

pub use error::{CoreError, Result};
