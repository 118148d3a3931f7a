//! How a download runs: every setting in one place, with its default and its bounds.

use std::path::PathBuf;
use std::time::Duration;

use super::error::DownloadError;
use super::retry::RetryPolicy;

/// How a download runs. [`DownloadConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct DownloadConfig {
    /// `https://s3.amazonaws.com`, `https://storage.googleapis.com` or any S3-compatible URL.
    pub endpoint: String,
    /// Nothing is written outside this directory; relative destinations are relative to it.
    pub root: PathBuf,
    /// The most requests in flight at once (GETs and range GETs): a cap. Below it the number
    /// follows the network: it starts at 64, grows while the completion rate grows and halves
    /// when the server throttles (503 SlowDown, 429) or many requests fail. Default 256.
    pub concurrency: usize,
    /// Prefix listings in flight at once. Default 16.
    pub list_concurrency: usize,
    /// Objects larger than this are fetched in ranges. Default 32 MiB.
    pub multipart_threshold: u64,
    /// The size of one range. Default 16 MiB.
    pub part_size: u64,
    /// Large objects in progress at once (their ranges share `concurrency`). Default 4.
    pub max_large_files: usize,
    /// Range requests in flight for one large object. Few, so that its ranges complete in
    /// order and its MD5 keeps up with them. Default 4.
    pub ranges_per_file: usize,
    pub retry: RetryPolicy,
    /// Time allowed to open a connection. Default 10 s.
    pub connect_timeout: Duration,
    /// A response that sends nothing for this long is abandoned and retried. Default 30 s.
    pub stall_timeout: Duration,
    /// fsync each file before renaming it into place. Default off.
    pub fsync: bool,
    /// Skip files already present with the right size (and the right checksum, when one is
    /// known and `verify_existing` is on). Default on.
    pub resume: bool,
    /// When resuming, check present files against the checksum stated for the object (the
    /// listing's ETag MD5, or what a HEAD states). Default on.
    pub verify_existing: bool,
    /// Check downloaded bytes against the checksum the server states. Off, only sizes are
    /// checked (as s5cmd does). Default on.
    pub checksums: bool,
    /// The most bytes per second every response body together may bring (a shared link);
    /// `None`, the default, sets no limit.
    pub max_bandwidth: Option<u64>,
    pub user_agent: String,
}

impl DownloadConfig {
    pub fn new(endpoint: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        Self {
            endpoint: endpoint.into(),
            root: root.into(),
            concurrency: 256,
            list_concurrency: 16,
            multipart_threshold: 32 << 20,
            part_size: 16 << 20,
            max_large_files: 4,
            ranges_per_file: 4,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            fsync: false,
            resume: true,
            verify_existing: true,
            checksums: true,
            max_bandwidth: None,
            user_agent: format!("idc-index/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Every setting within its bounds, or the first one that is not, named.
    pub fn check(&self) -> Result<(), DownloadError> {
        fn within<T: PartialOrd + std::fmt::Display>(
            name: &str,
            v: T,
            lo: T,
            hi: T,
        ) -> Result<(), DownloadError> {
            if v < lo || v > hi {
                return Err(DownloadError::Config(format!(
                    "{name} must be between {lo} and {hi}, not {v}"
                )));
            }
            Ok(())
        }
        within("concurrency", self.concurrency, 1, 4096)?;
        within("list_concurrency", self.list_concurrency, 1, 1024)?;
        within("max_large_files", self.max_large_files, 1, 256)?;
        within("ranges_per_file", self.ranges_per_file, 1, 256)?;
        if self.part_size < 1024 {
            return Err(DownloadError::Config(format!(
                "part_size must be at least 1024 bytes, not {}",
                self.part_size
            )));
        }
        if self.multipart_threshold < self.part_size {
            return Err(DownloadError::Config(format!(
                "multipart_threshold ({}) must not be smaller than part_size ({})",
                self.multipart_threshold, self.part_size
            )));
        }
        if let Some(rate) = self.max_bandwidth {
            within("max_bandwidth", rate, 1024, u64::MAX)?;
        }
        if self.retry.max_attempts == 0 {
            return Err(DownloadError::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        if self.stall_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(DownloadError::Config(
                "stall_timeout and connect_timeout must be positive".into(),
            ));
        }
        Ok(())
    }
}
