//! An object in one GET, verified while it streams: small ones received into memory and
//! written in one step, larger ones streamed into the temporary file.

use std::path::Path;

use reqwest::header::CONTENT_LENGTH;

use super::failure::{Failed, Failure};
use super::fsutil::{self, blocking, PositionalWriter, TempFile, WRITE_BLOCK};
use super::http::{header_u64, CHECKSUM_MODE};
use super::job::Job;
use super::progress::Counted;
use super::state::Ctx;
use super::verify::{self, Hasher, Verification};

/// Objects up to this size are received into memory and written in one step.
const IN_MEMORY_MAX: u64 = WRITE_BLOCK as u64;

/// Where the body goes.
enum Body {
    /// Small objects: received into memory (the pieces as they came), written once verified.
    Memory(Vec<bytes::Bytes>),
    /// Larger ones: streamed into the temporary file.
    File(TempFile, PositionalWriter),
}

/// Fetch `job` with retries into `temp`, verify it, and rename it into place.
pub(crate) async fn fetch(
    ctx: &Ctx,
    job: &Job,
    temp: &Path,
) -> Result<(u64, Verification), Failed> {
    let url = &job.id.url(&ctx.http.endpoint);
    let got = ctx
        .cfg
        .retry
        .run(&ctx.cancel, || async move {
            let got = attempt(ctx, job, url, temp).await;
            ctx.requests.observe(&got);
            got
        })
        .await;
    let attempts = got.attempts;
    let (body, size, v) = got.outcome.map_err(|f| (f, attempts))?;
    let fsync = ctx.cfg.fsync;
    let (t, d) = (temp.to_path_buf(), job.path.clone());
    let written = match body {
        Body::Memory(data) => blocking(move || fsutil::write_new(&data, fsync, &t, &d)).await,
        Body::File(claimed, writer) => {
            drop(writer);
            blocking(move || claimed.rename_into_place(fsync, &d)).await
        }
    };
    written.map_err(|f| (f, attempts))?;
    Ok((size, v))
}

async fn attempt(
    ctx: &Ctx,
    job: &Job,
    url: &str,
    temp: &Path,
) -> Result<(Body, u64, Verification), Failure> {
    let mut req = ctx.http.client.get(url);
    if ctx.cfg.checksums {
        req = req.header(CHECKSUM_MODE.0, CHECKSUM_MODE.1);
    }
    let mut resp = ctx.http.send(req).await?;
    let len = header_u64(resp.headers(), CONTENT_LENGTH);
    let expected = job.expected(resp.headers(), len, ctx.cfg.checksums)?;
    if let Some(l) = len {
        job.size_known(&ctx.progress, l);
    }
    let mut body = match len {
        Some(l) if l <= IN_MEMORY_MAX => Body::Memory(Vec::new()),
        _ => {
            let claimed = TempFile::open(temp, None).await?;
            let writer = PositionalWriter::new(claimed.file.clone(), 0, WRITE_BLOCK);
            Body::File(claimed, writer)
        }
    };
    let mut hasher = Hasher::for_expected(&expected);
    let mut counted = Counted::new(&ctx.progress);
    let mut got = 0u64;
    while let Some(chunk) = ctx.http.next_chunk(&mut resp).await? {
        got += chunk.len() as u64;
        if let Some(want) = expected.size.filter(|&want| got > want) {
            // A body without an end (or longer than its object) is not written on and on.
            return Err(Failure::Protocol(format!(
                "more than the object's {want} bytes arrived"
            )));
        }
        hasher.update(&chunk);
        counted.add(chunk.len() as u64);
        match &mut body {
            Body::Memory(pieces) => pieces.push(chunk),
            Body::File(claimed, writer) => {
                writer
                    .write(chunk)
                    .await
                    .map_err(|e| Failure::io("writing", &claimed.path, e))?;
            }
        }
    }
    let computed = hasher.finish();
    if let Some(want) = len.filter(|&l| computed.len < l) {
        return Err(Failure::Truncated {
            got: computed.len,
            want,
        });
    }
    if let Body::File(claimed, writer) = &mut body {
        writer
            .flush()
            .await
            .map_err(|e| Failure::io("writing", &claimed.path, e))?;
    }
    let v = verify::check(&expected, &computed).map_err(Failure::Mismatch)?;
    counted.keep();
    Ok((body, computed.len, v))
}
