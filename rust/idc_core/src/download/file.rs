//! One file, start to end: skip it when already present, otherwise create its directory,
//! fetch it whole or in ranges under its temporary name, and record the outcome.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use tokio::sync::OwnedSemaphorePermit;

use super::failure::{Failed, Failure};
use super::fsutil::blocking;
use super::head::head;
use super::job::Job;
use super::limit::Permit;
use super::plan::temp_path;
use super::report::FileStatus;
use super::state::Ctx;
use super::verify::{self, Verification};
use super::{ranged, whole};

/// The place a file holds while it runs: a large object's (its ranges take request places
/// of their own), or one request's.
pub(crate) enum FilePermit {
    Large(#[allow(dead_code)] OwnedSemaphorePermit),
    Request(#[allow(dead_code)] Permit),
}

/// The task of one file: never panics out, always records one outcome.
pub(crate) async fn run(ctx: Arc<Ctx>, job: Arc<Job>, permit: FilePermit, large: bool) {
    let started = Instant::now();
    let outcome = AssertUnwindSafe(process(&ctx, &job, permit, large))
        .catch_unwind()
        .await;
    match outcome {
        Ok(Ok((size, status, v))) => ctx.succeed(&job.id, &job.path, size, status, v).await,
        Ok(Err((failure, attempts))) => ctx.fail(
            &job.id,
            Some(&job.path),
            failure,
            attempts,
            Some(started.elapsed()),
        ),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            ctx.fail_internal(&job.id, &job.path, &msg);
        }
    }
}

async fn process(
    ctx: &Arc<Ctx>,
    job: &Arc<Job>,
    permit: FilePermit,
    large: bool,
) -> Result<(u64, FileStatus, Verification), Failed> {
    if ctx.cfg.resume && job.maybe_present {
        if let Some((size, v)) = already_present(ctx, job).await {
            return Ok((size, FileStatus::AlreadyPresent, v));
        }
    }
    let dir = job.path.parent().unwrap_or(&ctx.root);
    ctx.ensure_dir(dir).await.map_err(|f| (f, 0))?;
    let temp = temp_path(&job.path);
    let result = match (large, job.listed.size) {
        (true, Some(size)) => {
            drop(permit);
            ranged::fetch(ctx, job, &temp, size).await
        }
        _ => {
            let r = whole::fetch(ctx, job, &temp).await;
            drop(permit);
            r
        }
    };
    result.map(|(size, v)| (size, FileStatus::Downloaded, v))
}

/// The size and verification of the file already at the destination, if it is the object.
async fn already_present(ctx: &Ctx, job: &Job) -> Option<(u64, Verification)> {
    let meta = tokio::fs::symlink_metadata(&job.path).await.ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut expected = job.listed.clone();
    if expected.size.is_none() {
        // An object given without its size: ask the server for it.
        expected = head(ctx, job).await.ok()?;
    }
    let size = expected.size?;
    if meta.len() != size {
        return None;
    }
    let verification = match expected.cheapest() {
        Some(algorithm) if ctx.cfg.verify_existing => {
            let path = job.path.clone();
            let computed = blocking(move || {
                verify::hash_file(&path, algorithm).map_err(|e| Failure::io("reading", &path, e))
            })
            .await
            .ok()?;
            verify::check(&expected, &computed).ok()?
        }
        _ => Verification::SizeOnly,
    };
    job.size_known(&ctx.progress, size);
    Some((size, verification))
}
