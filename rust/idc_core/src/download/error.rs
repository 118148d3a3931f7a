//! Why a download could not start, or a listing on its own failed.

use thiserror::Error;

/// Why a download could not start (per-file problems are in the [`Report`](super::Report) instead).
#[derive(Debug, Error)]
pub enum DownloadError {
    /// A setting is out of range.
    #[error("invalid download setting: {0}")]
    Config(String),
    /// Plan items that cannot be downloaded as given (bad bucket, destination outside the root...).
    #[error("invalid download plan: {0}")]
    Plan(String),
    /// The destination root cannot be created or used.
    #[error("{0}")]
    Destination(String),
    /// The HTTP client could not be set up.
    #[error("the HTTP client could not start: {0}")]
    Client(String),
    /// The transfer ended without a report (the process forked or the runtime stopped).
    #[error("the download stopped without a report (the process forked or is shutting down); run it again")]
    Lost,
    /// A listing on its own ([`list`](super::list())) failed after its retries.
    #[error("{0}")]
    List(String),
    /// A document on its own ([`fetch_document`](super::fetch_document)) could not be read.
    #[error("{0}")]
    Fetch(String),
}
