//! One object to fetch: who it is ([`FileId`]), where it goes, and what is known of it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::header::{HeaderMap, ETAG};

use super::failure::Failure;
use super::plan::PlanItem;
use super::progress::Progress;
use super::s3::Endpoint;
use super::verify::{
    md5_from_etag, parse_amz_checksum, parse_goog_hash, Expected, AMZ_CHECKSUM_HEADERS,
};

/// Which object a file is, and the DICOM identities its report carries.
#[derive(Clone, Debug)]
pub(crate) struct FileId {
    /// Empty for a file at a plain URL ([`Source::Url`](super::plan::Source::Url)).
    pub bucket: Arc<str>,
    /// The object key (or the prefix of a listing), or the URL when there is no bucket.
    pub key: String,
    pub series: Option<Arc<str>>,
    pub sop: Option<Arc<str>>,
}

impl FileId {
    /// The identity of `key` within plan item `item`.
    pub fn of(item: &PlanItem, key: String) -> Self {
        Self {
            bucket: Arc::from(item.bucket.as_str()),
            key,
            series: item.series_instance_uid.as_deref().map(Arc::from),
            sop: item.sop_instance_uid.as_deref().map(Arc::from),
        }
    }

    /// `s3://bucket/key`, or the URL, for messages.
    pub fn uri(&self) -> String {
        if self.bucket.is_empty() {
            return self.key.clone();
        }
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Where the object is fetched from.
    pub fn url(&self, endpoint: &Endpoint) -> String {
        if self.bucket.is_empty() {
            return self.key.clone();
        }
        endpoint.object_url(&self.bucket, &self.key)
    }
}

/// One object to fetch.
pub(crate) struct Job {
    pub id: FileId,
    pub path: PathBuf,
    /// What the plan or the listing says about the object.
    pub listed: Expected,
    /// False when the destination is known to hold no such file (no need to look for it).
    pub maybe_present: bool,
    /// Whether the size is already part of the progress total.
    size_counted: AtomicBool,
}

impl Job {
    pub fn new(id: FileId, path: PathBuf, listed: Expected, maybe_present: bool) -> Self {
        let size_counted = AtomicBool::new(listed.size.is_some());
        Self {
            id,
            path,
            listed,
            maybe_present,
            size_counted,
        }
    }

    /// Add the object's size to the progress total the first time it becomes known.
    pub fn size_known(&self, progress: &Progress, size: u64) {
        if !self.size_counted.swap(true, Ordering::Relaxed) {
            progress.size_learned(size);
        }
    }

    /// What is known of the object once a response states its length and checksums. GCS states
    /// them in `x-goog-hash` (its ETag is not always an MD5); S3 states the MD5 in a
    /// single-part ETag, and CRCs in `x-amz-checksum-*` when asked (`x-amz-checksum-mode`).
    /// With `checksums` off only the size is kept.
    pub fn expected(
        &self,
        headers: &HeaderMap,
        whole_len: Option<u64>,
        checksums: bool,
    ) -> Result<Expected, Failure> {
        let mut stated = Expected {
            size: whole_len,
            ..Default::default()
        };
        let goog: Vec<_> = headers
            .get_all("x-goog-hash")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let mut base = self.listed.clone();
        if goog.is_empty() {
            stated.md5 = headers
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .and_then(md5_from_etag);
        } else {
            for v in goog {
                parse_goog_hash(v, &mut stated);
            }
            base.md5 = None;
        }
        for name in AMZ_CHECKSUM_HEADERS {
            if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                parse_amz_checksum(name, v, &mut stated);
            }
        }
        base.merge(&stated).map_err(Failure::Changed)?;
        Ok(if checksums {
            base
        } else {
            base.without_checksums()
        })
    }
}
