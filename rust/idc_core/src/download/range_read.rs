//! A byte range of each of many objects, read into memory: the first bytes of DICOM files,
//! whose headers are read without their pixel data. Range GETs in parallel under the
//! download's adaptive limit (capped by `concurrency`), each retried as a download's requests
//! are, each with an outcome of its own: one object missing does not lose the others.

use std::sync::Arc;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::config::DownloadConfig;
use super::error::DownloadError;
use super::failure::Failure;
use super::http::{header_u64, Http};
use super::limit::Limiter;
use super::plan::check_bucket;
use super::ranged::parse_content_range;

/// The most bytes one request may ask for: ranges are read into memory.
pub const MAX_RANGE_LEN: u64 = 256 << 20;

/// Bytes `start..start + len` of object `key` in `bucket`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeRequest {
    pub bucket: String,
    pub key: String,
    pub start: u64,
    pub len: u64,
}

/// What was read of one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeRead {
    /// The bytes from `start`: `len` of them, fewer only where the object ends first (none
    /// when it ends before `start`).
    pub data: Vec<u8>,
    /// The whole object's size, when the server said it.
    pub object_size: Option<u64>,
}

/// Read every request at `config.endpoint`; the outcomes come in the order of `requests`,
/// each the bytes read or why they could not be (after retries). Refused as a whole only
/// for settings or requests that could never be sent.
pub async fn read_ranges(
    requests: Vec<RangeRequest>,
    config: &DownloadConfig,
) -> Result<Vec<Result<RangeRead, String>>, DownloadError> {
    config.check()?;
    for r in &requests {
        check_bucket(&r.bucket).map_err(DownloadError::Config)?;
        if r.len == 0 || r.len > MAX_RANGE_LEN {
            return Err(DownloadError::Config(format!(
                "a range of {} bytes of s3://{}/{} cannot be read: ask for 1 to {MAX_RANGE_LEN} bytes",
                r.len, r.bucket, r.key
            )));
        }
    }
    let http = Arc::new(Http::new(config)?);
    let limiter = Limiter::new(config.concurrency);
    // Dropping this future (a caller's Ctrl-C) aborts the tasks with the set.
    let never = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let n = requests.len();
    for (i, request) in requests.into_iter().enumerate() {
        let (http, limiter, never) = (Arc::clone(&http), Arc::clone(&limiter), never.clone());
        let retry = config.retry.clone();
        tasks.spawn(async move {
            let got = retry
                .run(&never, || async {
                    let _permit = limiter.acquire().await.map_err(|_| Failure::Cancelled)?;
                    let got = read_one(&http, &request).await;
                    limiter.observe(&got);
                    got
                })
                .await;
            let uri = format!("s3://{}/{}", request.bucket, request.key);
            (
                i,
                got.outcome
                    .map_err(|f| f.describe(&uri, Some(http.endpoint.base()))),
            )
        });
    }
    let mut out: Vec<Result<RangeRead, String>> = vec![Ok(RangeRead::default()); n];
    while let Some(done) = tasks.join_next().await {
        let (i, outcome) =
            done.map_err(|e| DownloadError::Client(format!("a range read ended: {e}")))?;
        out[i] = outcome;
    }
    Ok(out)
}

/// One attempt at one range. A server that ignores Range (200) sends the object from its
/// start: the bytes before `start` are passed over and the rest is not read.
async fn read_one(http: &Http, r: &RangeRequest) -> Result<RangeRead, Failure> {
    let url = http.endpoint.object_url(&r.bucket, &r.key);
    let end = r.start + r.len - 1;
    let req = http
        .client
        .get(&url)
        .header(RANGE, format!("bytes={}-{end}", r.start));
    let mut resp = match http.send(req).await {
        // The object ends before `start`.
        Err(Failure::Status { status: 416, .. }) => return Ok(RangeRead::default()),
        other => other?,
    };
    let (mut skip, object_size) = if resp.status() == StatusCode::PARTIAL_CONTENT {
        match resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range)
        {
            Some((s, e, total)) if s == r.start && e <= end => (0, Some(total)),
            _ => {
                return Err(Failure::Protocol(format!(
                    "a Range request for bytes {}-{end} got another range",
                    r.start
                )))
            }
        }
    } else {
        (r.start, header_u64(resp.headers(), CONTENT_LENGTH))
    };
    let want = usize::try_from(r.len).unwrap_or(usize::MAX);
    let mut data = Vec::with_capacity(want.min(1 << 20));
    let mut ended = false;
    while data.len() < want {
        let Some(mut chunk) = http.next_chunk(&mut resp).await? else {
            ended = true;
            break;
        };
        if skip > 0 {
            let passed = skip.min(chunk.len() as u64);
            skip -= passed;
            let _ = chunk.split_to(passed as usize);
        }
        let take = chunk.len().min(want - data.len());
        data.extend_from_slice(&chunk[..take]);
    }
    // A body that ends early without stating a size is the object's end.
    let object_size = match object_size {
        None if ended && skip == 0 => Some(r.start + data.len() as u64),
        known => known,
    };
    if let Some(size) = object_size {
        let expected = size.saturating_sub(r.start).min(r.len);
        if (data.len() as u64) < expected {
            return Err(Failure::Protocol(format!(
                "the response ended after {} of {expected} bytes",
                data.len()
            )));
        }
    }
    Ok(RangeRead { data, object_size })
}
