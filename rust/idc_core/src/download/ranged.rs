//! A large object in parallel Range requests, each written at its offset into a preallocated
//! temporary file. A HEAD first asks which checksums the server states (a Range response
//! carries no full-object CRC); the cheapest is used. CRC32C and CRC32 are computed per range
//! and combined; MD5 and CRC64NVME are hashed in order as the written prefix grows
//! ([`InOrderHash`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::header::{CONTENT_RANGE, RANGE};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::failure::{Failed, Failure};
use super::fsutil::{blocking, PositionalWriter, TempFile, WRITE_BLOCK};
use super::head::head;
use super::inorder::InOrderHash;
use super::job::Job;
use super::limit::{Limiter, Permit};
use super::progress::Counted;
use super::state::Ctx;
use super::verify::{self, Algorithm, Checksum, Computed, Expected, Hasher, Verification};

/// A file whose assembled ranges fail verification is fetched again this many times in all.
const FILE_ATTEMPTS: u32 = 2;

/// What one ranged request delivered.
struct Part {
    len: u64,
    checksum: Option<Checksum>,
    expected: Expected,
}

/// One range of the object, and where its bytes go.
struct Range {
    start: u64,
    /// Inclusive, as in the Range header.
    end: u64,
    file: Arc<File>,
    /// Written regions are reported here when the checksum is followed in order.
    in_order: Option<Arc<InOrderHash>>,
    /// The checksum computed per range, when it combines.
    part_checksum: Option<Algorithm>,
    temp: PathBuf,
}

/// Fetch `job` (of `size` bytes) into `temp` in ranges, verify it, and rename it into place.
pub(crate) async fn fetch(
    ctx: &Arc<Ctx>,
    job: &Arc<Job>,
    temp: &Path,
    size: u64,
) -> Result<(u64, Verification), Failed> {
    let known = stated(ctx, job).await;
    let mut file_attempt = 0;
    loop {
        file_attempt += 1;
        match fetch_once(ctx, job, &known, temp, size).await {
            Err((Failure::Mismatch(_), _)) if file_attempt < FILE_ATTEMPTS => continue,
            other => return other,
        }
    }
}

/// What the listing and a HEAD with checksum mode say about the object. A HEAD that fails
/// leaves the listing's word: the ranges' own responses still state the ETag.
async fn stated(ctx: &Ctx, job: &Job) -> Expected {
    if !ctx.cfg.checksums {
        return job.listed.clone().without_checksums();
    }
    head(ctx, job).await.unwrap_or_else(|_| job.listed.clone())
}

async fn fetch_once(
    ctx: &Arc<Ctx>,
    job: &Arc<Job>,
    known: &Expected,
    temp: &Path,
    size: u64,
) -> Result<(u64, Verification), Failed> {
    let claimed = TempFile::open(temp, Some(size)).await.map_err(|f| (f, 0))?;
    let (file, temp) = (&claimed.file, claimed.path.as_path());
    let algorithm = known.cheapest();
    let part_checksum = algorithm.filter(|a| a.combinable());
    let in_order = algorithm.filter(|a| !a.combinable()).map(|a| {
        Arc::new(InOrderHash::start(
            Arc::clone(file),
            temp.to_path_buf(),
            size,
            a,
        ))
    });
    let (parts, attempts) =
        fetch_parts(ctx, job, file, in_order.clone(), part_checksum, temp, size).await?;
    let mut expected = known.clone();
    for p in &parts {
        expected
            .merge(&p.expected)
            .map_err(|m| (Failure::Changed(m), attempts))?;
    }
    let checksum = if part_checksum.is_some() {
        let sums: Option<Vec<(Checksum, u64)>> = parts
            .iter()
            .map(|p| p.checksum.map(|c| (c, p.len)))
            .collect();
        sums.and_then(|s| verify::combine(&s))
    } else {
        // In order as written; or, when only the ranges' responses stated a checksum, over the
        // whole file now.
        let hasher = match (in_order, expected.cheapest()) {
            (Some(h), _) => Some(h),
            (None, Some(a)) => {
                let h = InOrderHash::start(Arc::clone(file), temp.to_path_buf(), size, a);
                h.written(0, size);
                Some(Arc::new(h))
            }
            (None, None) => None,
        };
        match hasher {
            Some(h) => Some(h.finish().await.map_err(|f| (f, attempts))?),
            None => None,
        }
    };
    let computed = Computed {
        len: parts.iter().map(|p| p.len).sum(),
        checksum,
    };
    let v = verify::check(&expected, &computed).map_err(|m| (Failure::Mismatch(m), attempts))?;
    let fsync = ctx.cfg.fsync;
    let dest = job.path.clone();
    blocking(move || claimed.rename_into_place(fsync, &dest))
        .await
        .map_err(|f| (f, attempts))?;
    Ok((size, v))
}

/// Every range, at most `ranges_per_file` at once (and within the run's request limit); the
/// first failure cancels the others. Returns the parts in order and the most attempts any
/// range needed.
async fn fetch_parts(
    ctx: &Arc<Ctx>,
    job: &Arc<Job>,
    file: &Arc<File>,
    in_order: Option<Arc<InOrderHash>>,
    part_checksum: Option<Algorithm>,
    temp: &Path,
    size: u64,
) -> Result<(Vec<Part>, u32), Failed> {
    let window = Arc::new(Semaphore::new(ctx.cfg.ranges_per_file));
    let part_size = ctx.cfg.part_size.max(1);
    let n_parts = size.div_ceil(part_size) as usize;
    let cancel = ctx.cancel.child_token();
    let mut parts: Vec<Option<Part>> = (0..n_parts).map(|_| None).collect();
    let mut first_error: Option<Failed> = None;
    let mut max_attempts = 1;
    let mut set: JoinSet<(usize, Result<Part, Failure>, u32)> = JoinSet::new();

    let mut record = |done: Result<(usize, Result<Part, Failure>, u32), tokio::task::JoinError>,
                      parts: &mut Vec<Option<Part>>,
                      first_error: &mut Option<Failed>| {
        match done {
            Ok((i, Ok(p), n)) => {
                max_attempts = max_attempts.max(n);
                parts[i] = Some(p);
            }
            Ok((_, Err(f), n)) => {
                if matches!(first_error, None | Some((Failure::Cancelled, _))) {
                    *first_error = Some((f, n));
                }
                cancel.cancel();
            }
            Err(e) => {
                first_error.get_or_insert((
                    Failure::Protocol(format!("a range request stopped unexpectedly: {e}")),
                    0,
                ));
                cancel.cancel();
            }
        }
    };

    for i in 0..n_parts {
        while let Some(done) = set.try_join_next() {
            record(done, &mut parts, &mut first_error);
        }
        let Some(permits) = acquire(&cancel, &window, &ctx.requests).await else {
            break;
        };
        let start = i as u64 * part_size;
        let range = Range {
            start,
            end: (start + part_size).min(size) - 1,
            file: Arc::clone(file),
            in_order: in_order.clone(),
            part_checksum,
            temp: temp.to_path_buf(),
        };
        let (ctx, job, cancel) = (Arc::clone(ctx), Arc::clone(job), cancel.clone());
        set.spawn(async move {
            let (c, j, r) = (&ctx, &job, &range);
            let got = ctx
                .cfg
                .retry
                .run(&cancel, || async move {
                    let got = fetch_part(c, j, r, size).await;
                    c.requests.observe(&got);
                    got
                })
                .await;
            drop(permits);
            (i, got.outcome, got.attempts)
        });
    }
    while let Some(done) = set.join_next().await {
        record(done, &mut parts, &mut first_error);
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if ctx.cancel.is_cancelled() || parts.iter().any(Option::is_none) {
        return Err((Failure::Cancelled, max_attempts));
    }
    Ok((parts.into_iter().flatten().collect(), max_attempts))
}

/// A slot in the object's window, then a request permit; `None` once cancelled.
async fn acquire(
    cancel: &CancellationToken,
    window: &Arc<Semaphore>,
    requests: &Arc<Limiter>,
) -> Option<(tokio::sync::OwnedSemaphorePermit, Permit)> {
    if cancel.is_cancelled() {
        return None;
    }
    let slot = tokio::select! {
        biased;
        _ = cancel.cancelled() => return None,
        p = Arc::clone(window).acquire_owned() => p.ok()?,
    };
    let permit = tokio::select! {
        biased;
        _ = cancel.cancelled() => return None,
        p = requests.acquire() => p.ok()?,
    };
    Some((slot, permit))
}

/// `bytes <start>-<end>/<total>` of a Content-Range header.
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (s, e) = range.split_once('-')?;
    Some((
        s.trim().parse().ok()?,
        e.trim().parse().ok()?,
        total.trim().parse().ok()?,
    ))
}

async fn fetch_part(ctx: &Ctx, job: &Job, range: &Range, size: u64) -> Result<Part, Failure> {
    let (start, end) = (range.start, range.end);
    let url = job.id.url(&ctx.http.endpoint);
    let req = ctx
        .http
        .client
        .get(&url)
        .header(RANGE, format!("bytes={start}-{end}"));
    let mut resp = ctx.http.send(req).await?;
    if resp.status().as_u16() != 206 {
        return Err(Failure::Protocol(format!(
            "a Range request was answered with HTTP {} instead of 206; the server does not support ranges",
            resp.status().as_u16()
        )));
    }
    let got_range = resp
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range);
    match got_range {
        Some((s, e, total)) if s == start && e == end && total == size => {}
        Some((_, _, total)) if total != size => {
            return Err(Failure::Changed(format!(
                "its size changed from {size} to {total} bytes"
            )))
        }
        _ => {
            return Err(Failure::Protocol(format!(
                "a Range request for bytes {start}-{end} got another range"
            )))
        }
    }
    let expected = job.expected(resp.headers(), Some(size), ctx.cfg.checksums)?;
    let want = end - start + 1;
    let mut writer = PositionalWriter::new(Arc::clone(&range.file), start, WRITE_BLOCK);
    let mut counted = Counted::new(&ctx.progress);
    let mut hasher = Hasher::new(range.part_checksum);
    let mut got = 0u64;
    let written = |region: Option<(u64, u64)>| {
        if let (Some(h), Some((s, e))) = (&range.in_order, region) {
            h.written(s, e);
        }
    };
    let write_err = |e| Failure::io("writing", &range.temp, e);
    while let Some(chunk) = ctx.http.next_chunk(&mut resp).await? {
        if got + chunk.len() as u64 > want {
            return Err(Failure::Protocol(format!(
                "more than the {want} bytes requested arrived"
            )));
        }
        hasher.update(&chunk);
        got += chunk.len() as u64;
        counted.add(chunk.len() as u64);
        written(writer.write(chunk).await.map_err(write_err)?);
    }
    if got < want {
        return Err(Failure::Truncated { got, want });
    }
    written(writer.flush().await.map_err(write_err)?);
    counted.keep();
    Ok(Part {
        len: got,
        checksum: hasher.finish().checksum,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 0-99/1000"), Some((0, 99, 1000)));
        assert_eq!(parse_content_range("bytes */1000"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
