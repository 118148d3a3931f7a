//! The run: plan items become jobs (objects directly, prefixes once listed), and jobs run
//! under the request and large-object limits until all are recorded.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::task::JoinSet;

use super::failure::Failure;
use super::file::{self, FilePermit};
use super::fsutil::blocking;
use super::job::{FileId, Job};
use super::list::list_prefix;
use super::plan::{relative_name, PlanItem, ResolvedItem, ResolvedPlan, Source};
use super::report::Report;
use super::s3::ListedObject;
use super::state::Ctx;
use super::verify::{md5_from_etag, Expected};

/// Run the whole download and return its report.
pub(crate) async fn run(ctx: Arc<Ctx>, plan: ResolvedPlan) -> Report {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Arc<Job>>(ctx.cfg.concurrency * 4 + 64);
    let producer = tokio::spawn(produce(Arc::clone(&ctx), plan, tx));
    let mut tasks = JoinSet::new();
    while let Some(job) = rx.recv().await {
        while tasks.try_join_next().is_some() {}
        let large = job
            .listed
            .size
            .is_some_and(|s| s > ctx.cfg.multipart_threshold);
        let permit = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => None,
            p = Arc::clone(&ctx.large).acquire_owned(), if large => p.ok().map(FilePermit::Large),
            p = ctx.requests.acquire(), if !large => p.ok().map(FilePermit::Request),
        };
        match permit {
            Some(permit) => {
                tasks.spawn(file::run(Arc::clone(&ctx), job, permit, large));
            }
            None => ctx.not_started(1),
        }
    }
    if let Err(e) = producer.await {
        ctx.stop(format!("internal error while listing: {e}"));
    }
    while tasks.join_next().await.is_some() {}
    // The files' records are merged from their temporary files: off the runtime's threads.
    tokio::task::spawn_blocking(move || ctx.finish(started))
        .await
        .unwrap_or_else(|e| Report {
            seconds: started.elapsed().as_secs_f64(),
            stopped: Some(format!(
                "internal error while making the report: {e}; please report it"
            )),
            ..Default::default()
        })
}

/// Turn plan items into jobs, each read from the plan when its turn comes: objects directly,
/// prefixes after listing them.
async fn produce(ctx: Arc<Ctx>, plan: ResolvedPlan, tx: mpsc::Sender<Arc<Job>>) {
    let mut lists = JoinSet::new();
    for (position, &index) in plan.kept.iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            ctx.not_started((plan.kept.len() - position) as u64);
            break;
        }
        while lists.try_join_next().is_some() {}
        let ResolvedItem { item, destination } = match plan.get(index) {
            Ok(r) => r,
            Err(e) => {
                // Checked before the run began: only a plan that changed since reads otherwise.
                ctx.stop(format!("plan item {index} cannot be read any more: {e}"));
                break;
            }
        };
        match &item.source {
            Source::Object(key) | Source::Url(key) => {
                let listed = Expected {
                    size: item.size,
                    sha256: item.sha256,
                    ..Default::default()
                };
                let id = FileId::of(&item, key.clone());
                let job = Job::new(id, destination, listed, true);
                if tx.send(Arc::new(job)).await.is_err() {
                    break;
                }
            }
            Source::Prefix(_) => {
                let permit = tokio::select! {
                    biased;
                    _ = ctx.cancel.cancelled() => None,
                    p = Arc::clone(&ctx.lists).acquire_owned() => p.ok(),
                };
                let Some(permit) = permit else {
                    ctx.progress.listed(item.size.unwrap_or(0), None);
                    ctx.not_started(1);
                    continue;
                };
                let (ctx, tx) = (Arc::clone(&ctx), tx.clone());
                lists.spawn(expand(ctx, item, destination, tx, permit));
            }
        }
    }
    while lists.join_next().await.is_some() {}
}

/// List a prefix item and send a job for each of its objects, to be written under `dir`.
async fn expand(
    ctx: Arc<Ctx>,
    item: PlanItem,
    dir: PathBuf,
    tx: mpsc::Sender<Arc<Job>>,
    permit: OwnedSemaphorePermit,
) {
    let Source::Prefix(prefix) = &item.source else {
        return;
    };
    let prefix_id = FileId {
        sop: None,
        ..FileId::of(&item, prefix.clone())
    };
    let listing = list_prefix(&ctx.http, &ctx.cfg.retry, &ctx.cancel, &item.bucket, prefix).await;
    drop(permit);
    let hint = item.size.unwrap_or(0);
    // Directory markers (keys ending in '/') are not files.
    let objects = listing.outcome.map(|objects| {
        objects
            .into_iter()
            .filter(|o| !o.key.ends_with('/'))
            .collect::<Vec<ListedObject>>()
    });
    let objects = match objects {
        Ok(objects) if !objects.is_empty() => objects,
        failed => {
            let (reason, elapsed) = match failed {
                Err(f) => (f, Some(listing.elapsed)),
                Ok(_) => (Failure::empty_prefix(), None),
            };
            ctx.progress.listed(hint, None);
            ctx.fail(&prefix_id, Some(&dir), reason, listing.attempts, elapsed);
            return;
        }
    };
    let named: Vec<(ListedObject, Result<PathBuf, String>)> = objects
        .into_iter()
        .map(|o| {
            let path = relative_name(prefix, &o.key).map(|rel| dir.join(rel));
            (o, path)
        })
        .collect();
    let safe_bytes = named
        .iter()
        .filter(|(_, p)| p.is_ok())
        .map(|(o, _)| o.size)
        .sum();
    ctx.progress
        .listed(hint, Some((named.len() as u64, safe_bytes)));
    let present = if ctx.cfg.resume {
        names_in(&dir).await
    } else {
        Some(HashSet::new())
    };
    for (o, path) in named {
        let id = FileId {
            key: o.key,
            ..prefix_id.clone()
        };
        let path = match path {
            Ok(p) => p,
            Err(msg) => {
                ctx.fail(&id, None, Failure::Unsafe(msg), 0, None);
                continue;
            }
        };
        let listed = Expected {
            size: Some(o.size),
            md5: o.etag.as_deref().and_then(md5_from_etag),
            ..Default::default()
        };
        let maybe_present = match (&present, path.parent() == Some(dir.as_path())) {
            (Some(names), true) => path.file_name().is_some_and(|n| names.contains(n)),
            _ => true,
        };
        let job = Job::new(id, path, listed, maybe_present);
        if tx.send(Arc::new(job)).await.is_err() {
            return;
        }
    }
}

/// The names in `dir`, read once for all the files of a listed prefix so that a fresh download
/// does not look for each file on its own; `None` when the directory cannot be read.
async fn names_in(dir: &Path) -> Option<HashSet<OsString>> {
    let d = dir.to_path_buf();
    blocking(move || match std::fs::read_dir(&d) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(HashSet::new())),
        Err(_) => Ok(None),
        Ok(entries) => Ok(entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .ok()),
    })
    .await
    .ok()
    .flatten()
}
