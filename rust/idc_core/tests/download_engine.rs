#![cfg(feature = "download")]
//! The downloader against a local S3-compatible server that injects faults.

mod download_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use download_support::{bytes, config, Fault, Object, S3Server};
use idc_core::download::{
    start, DownloadConfig, DownloadError, FailureKind, FileStatus, PlanItem, Report, RetryPolicy,
    Source, Verification,
};

const BUCKET: &str = "idc-open-data";

fn series(prefix: &str, dest: &str) -> PlanItem {
    PlanItem {
        bucket: BUCKET.into(),
        source: Source::Prefix(format!("{prefix}/")),
        destination: PathBuf::from(dest),
        size: None,
        series_instance_uid: Some(format!("1.2.3.{prefix}")),
        sop_instance_uid: None,
        sha256: None,
    }
}

fn object(key: &str, dest: &str, size: Option<u64>) -> PlanItem {
    PlanItem {
        bucket: BUCKET.into(),
        source: Source::Object(key.into()),
        destination: PathBuf::from(dest),
        size,
        series_instance_uid: Some("1.2.3".into()),
        sop_instance_uid: Some(format!("sop-{key}")),
        sha256: None,
    }
}

async fn download(plan: Vec<PlanItem>, cfg: DownloadConfig) -> Report {
    let handle = start(plan, cfg).expect("the plan is valid");
    handle.wait().await.expect("a report").clone()
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Seed `n` objects under each prefix; returns (key, data) pairs.
fn seed(server: &S3Server, prefixes: &[&str], n: usize, size: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (pi, p) in prefixes.iter().enumerate() {
        for i in 0..n {
            let key = format!("{p}/inst{i:03}.dcm");
            let data = bytes((pi * 1000 + i) as u64, size + i * 37);
            server.put(BUCKET, &key, data.clone());
            out.push((key, data));
        }
    }
    out
}

fn same(key: &str) -> PathBuf {
    PathBuf::from(key)
}

fn assert_identical(root: &Path, dest_of: impl Fn(&str) -> PathBuf, objects: &[(String, Vec<u8>)]) {
    for (key, data) in objects {
        let path = root.join(dest_of(key));
        let got =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{} missing: {e}", path.display()));
        assert!(got == *data, "{} differs from {key}", path.display());
    }
}

#[tokio::test]
async fn series_are_listed_across_pages_and_downloaded_byte_identical() {
    let server = S3Server::start().await;
    server
        .page_size
        .store(4, std::sync::atomic::Ordering::SeqCst);
    let objects = seed(&server, &["s1", "s2"], 10, 3000);
    let dir = tempfile::tempdir().unwrap();
    let report = download(
        vec![series("s1", "a/s1"), series("s2", "b")],
        config(&server, dir.path()),
    )
    .await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(report.files.len(), 20);
    assert!(report
        .files
        .iter()
        .all(|f| f.status == FileStatus::Downloaded && f.verification == Verification::Md5));
    let f = report
        .files
        .iter()
        .find(|f| f.key() == "s2/inst003.dcm")
        .unwrap();
    assert_eq!(f.series_instance_uid(), Some("1.2.3.s2"));
    assert!(
        f.path().ends_with("b/inst003.dcm"),
        "{}",
        f.path().display()
    );
    assert_eq!(
        report.bytes_downloaded,
        objects.iter().map(|(_, d)| d.len() as u64).sum::<u64>()
    );
    assert_identical(
        dir.path(),
        |k| {
            if k.starts_with("s1") {
                PathBuf::from("a").join(k)
            } else {
                PathBuf::from("b").join(&k[3..])
            }
        },
        &objects,
    );
    assert_eq!(
        files_under(dir.path()).len(),
        20,
        "no temporary file is left"
    );
}

#[tokio::test]
async fn v1_listing_is_used_when_the_server_ignores_v2() {
    let server = S3Server::start().await;
    server
        .page_size
        .store(3, std::sync::atomic::Ordering::SeqCst);
    server.v2.store(false, std::sync::atomic::Ordering::SeqCst);
    let objects = seed(&server, &["s1"], 8, 100);
    let dir = tempfile::tempdir().unwrap();
    let report = download(vec![series("s1", "s1")], config(&server, dir.path())).await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(report.files.len(), 8);
    assert_identical(dir.path(), same, &objects);
}

#[tokio::test]
async fn a_listing_that_never_ends_is_refused_not_followed() {
    let server = S3Server::start().await;
    server
        .page_size
        .store(3, std::sync::atomic::Ordering::SeqCst);
    seed(&server, &["s1"], 8, 100);
    server.endless_listing();
    let dir = tempfile::tempdir().unwrap();
    let mut empty = series("s1", "s1");
    empty.source = Source::Prefix("nothing-here/".into());
    empty.destination = PathBuf::from("empty");
    // The limit only keeps a listing followed forever from hanging the tests.
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        download(vec![series("s1", "s1"), empty], config(&server, dir.path())),
    )
    .await
    .expect("the listings ended");
    // Both listings fail on their second page at the latest: one repeats its keys under a new
    // token, the other lists nothing and says it goes on.
    assert_eq!(report.failed.len(), 2, "{:?}", report.failed);
    assert!(
        report
            .failed
            .iter()
            .all(|f| f.reason.contains("it would never end")),
        "{:?}",
        report.failed
    );
    assert!(
        server.listing_pages() <= 3,
        "{} pages",
        server.listing_pages()
    );
    assert_eq!(files_under(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn transient_faults_are_retried_until_every_file_is_identical() {
    let server = S3Server::start().await;
    let objects = seed(&server, &["s1"], 6, 200_000);
    server.fault(
        "s1/inst000.dcm",
        [
            Fault::Status(503, "SlowDown"),
            Fault::Status(503, "SlowDown"),
        ],
    );
    server.fault("s1/inst001.dcm", [Fault::Reset]);
    server.fault("s1/inst002.dcm", [Fault::Truncate(50_000)]);
    server.fault("s1/inst003.dcm", [Fault::Stall(10_000)]);
    server.fault("s1/inst004.dcm", [Fault::Corrupt]);
    server.fault(
        "s1/inst005.dcm",
        [Fault::Status(500, "InternalError"), Fault::Reset],
    );
    let dir = tempfile::tempdir().unwrap();
    let report = download(vec![series("s1", "s1")], config(&server, dir.path())).await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_identical(dir.path(), same, &objects);
    assert_eq!(server.requests("s1/inst000.dcm"), 3);
    assert_eq!(server.requests("s1/inst003.dcm"), 2);
    assert_eq!(
        server.requests("s1/inst004.dcm"),
        2,
        "a corrupted body is detected by its MD5 and fetched again"
    );
    assert_eq!(server.requests("s1/inst005.dcm"), 3);
    assert_eq!(files_under(dir.path()).len(), 6);
}

#[tokio::test]
async fn throttling_halves_the_requests_in_flight_and_the_download_completes() {
    let server = S3Server::start().await;
    let objects = seed(&server, &["s1", "s2", "s3"], 40, 20_000);
    // A third of the objects answer 503 SlowDown twice before they are served.
    let throttled: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).step_by(3).collect();
    for key in &throttled {
        server.fault(
            key,
            [
                Fault::Status(503, "SlowDown"),
                Fault::Status(503, "SlowDown"),
            ],
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&server, dir.path());
    cfg.concurrency = 64;
    let report = download(
        vec![series("s1", "s1"), series("s2", "s2"), series("s3", "s3")],
        cfg,
    )
    .await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_identical(dir.path(), same, &objects);
    for key in &throttled {
        assert_eq!(server.requests(key), 3, "{key}");
    }
    let c = report.concurrency;
    assert_eq!((c.cap, c.start), (64, 64));
    assert!(c.decreases >= 1, "{c:?}");
    assert!(c.lowest <= c.start / 2, "the limit backed off: {c:?}");
    assert!(c.peak <= c.cap, "{c:?}");
}

#[tokio::test]
async fn lasting_failures_are_reported_per_file_and_leave_nothing_behind() {
    let server = S3Server::start().await;
    let objects = seed(&server, &["s1"], 4, 1000);
    server.fault_always("s1/inst001.dcm", Fault::Status(503, "SlowDown"));
    server.fault_always("s1/inst002.dcm", Fault::Corrupt);
    server.fault_always("s1/inst003.dcm", Fault::Status(403, "AccessDenied"));
    let dir = tempfile::tempdir().unwrap();
    let plan = vec![
        series("s1", "s1"),
        object("s9/missing.dcm", "x/missing.dcm", None),
        series("nothing-here", "n"),
    ];
    let report = download(plan, config(&server, dir.path())).await;
    assert!(!report.ok());
    assert_eq!(report.files.len(), 1);
    assert_identical(dir.path(), same, &objects[..1]);
    let by_key = |k: &str| {
        report
            .failed
            .iter()
            .find(|f| f.key == k)
            .unwrap_or_else(|| panic!("{k} not reported"))
    };
    let slow = by_key("s1/inst001.dcm");
    assert_eq!(slow.kind, FailureKind::Http);
    assert_eq!(slow.attempts, 5);
    assert!(
        slow.reason.contains("SlowDown") && slow.reason.contains("gave up after 5 attempts"),
        "{}",
        slow.reason
    );
    let bad = by_key("s1/inst002.dcm");
    assert_eq!(bad.kind, FailureKind::Integrity);
    assert!(bad.reason.contains("MD5 mismatch"), "{}", bad.reason);
    let denied = by_key("s1/inst003.dcm");
    assert_eq!(
        (denied.kind, denied.attempts),
        (FailureKind::AccessDenied, 1)
    );
    let missing = by_key("s9/missing.dcm");
    assert_eq!(missing.kind, FailureKind::NotFound);
    assert_eq!(
        missing.sop_instance_uid.as_deref(),
        Some("sop-s9/missing.dcm")
    );
    let empty = by_key("nothing-here/");
    assert_eq!(empty.kind, FailureKind::NotFound);
    assert_eq!(report.failed.len(), 5);
    assert_eq!(
        files_under(dir.path()),
        vec!["s1/inst000.dcm".to_string()],
        "no partial file is left"
    );
}

#[tokio::test]
async fn large_objects_arrive_in_ranges_and_survive_faults() {
    let server = S3Server::start().await;
    let big = bytes(7, 3_000_000 + 123);
    server.put(BUCKET, "big/a.dcm", big.clone());
    server.put_object(
        BUCKET,
        "big/g.dcm",
        Object {
            data: Arc::new(big.clone()),
            goog: true,
            multipart: false,
        },
    );
    server.put_object(
        BUCKET,
        "big/m.dcm",
        Object {
            data: Arc::new(big.clone()),
            goog: false,
            multipart: true,
        },
    );
    server.fault(
        "big/a.dcm",
        [Fault::Reset, Fault::Truncate(1000), Fault::Corrupt],
    );
    server.fault("big/g.dcm", [Fault::Corrupt]);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&server, dir.path());
    cfg.part_size = 256 * 1024;
    cfg.multipart_threshold = 1024 * 1024;
    let report = download(vec![series("big", "big")], cfg).await;
    assert!(report.ok(), "{:?}", report.failed);
    for name in ["a", "g", "m"] {
        assert!(
            std::fs::read(dir.path().join(format!("big/{name}.dcm"))).unwrap() == big,
            "{name} differs"
        );
    }
    let v = |k: &str| {
        report
            .files
            .iter()
            .find(|f| f.key() == k)
            .unwrap()
            .verification
    };
    assert_eq!(v("big/a.dcm"), Verification::Md5);
    // GCS states CRC32C and MD5: only CRC32C, combined from the ranges, is computed.
    assert_eq!(v("big/g.dcm"), Verification::Crc32c);
    assert_eq!(v("big/m.dcm"), Verification::SizeOnly);
    // 12 ranges, plus retries for the reset and the truncation, plus one whole second pass
    // after the corruption was caught by the MD5 of the assembled file.
    assert_eq!(server.requests("big/a.dcm"), 12 + 2 + 12);
    assert_eq!(server.requests("big/g.dcm"), 24);
    assert_eq!(server.requests("big/m.dcm"), 12);
    // One HEAD per large object asks which checksums the server states.
    assert_eq!(server.heads("big/m.dcm"), 1);
    assert_eq!(files_under(dir.path()).len(), 3);

    // An object given by key and size (as slide-microscopy instances are) has no listed MD5:
    // the ETag of its first range states it, and the assembled file is checked against it.
    server.fault("big/a.dcm", [Fault::Corrupt]);
    let mut cfg = config(&server, dir.path());
    cfg.part_size = 256 * 1024;
    cfg.multipart_threshold = 1024 * 1024;
    let report = download(
        vec![object("big/a.dcm", "inst/a.dcm", Some(big.len() as u64))],
        cfg,
    )
    .await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(
        report.files.get(0).unwrap().unwrap().verification,
        Verification::Md5
    );
    assert!(std::fs::read(dir.path().join("inst/a.dcm")).unwrap() == big);

    // With checksums off only sizes are checked: the stated digests are not computed, and a
    // corrupted body of the right size is not noticed (what the setting trades away).
    server.fault("big/g.dcm", [Fault::Corrupt]);
    let mut cfg = config(&server, dir.path());
    cfg.part_size = 256 * 1024;
    cfg.multipart_threshold = 1024 * 1024;
    cfg.checksums = false;
    let report = download(
        vec![object("big/g.dcm", "nosum/g.dcm", Some(big.len() as u64))],
        cfg,
    )
    .await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(
        report.files.get(0).unwrap().unwrap().verification,
        Verification::SizeOnly
    );
    let got = std::fs::read(dir.path().join("nosum/g.dcm")).unwrap();
    assert_eq!(got.len(), big.len());
    assert!(got != big);
}

#[tokio::test]
async fn a_rerun_skips_what_is_present_and_fetches_the_rest() {
    let server = S3Server::start().await;
    let objects = seed(&server, &["s1"], 6, 5000);
    let dir = tempfile::tempdir().unwrap();
    let first = download(vec![series("s1", "s1")], config(&server, dir.path())).await;
    assert!(first.ok());
    let p = |i: usize| dir.path().join(format!("s1/inst{i:03}.dcm"));
    std::fs::remove_file(p(0)).unwrap();
    std::fs::write(p(1), b"short").unwrap();
    let mut same_size = objects[2].1.clone();
    same_size[10] ^= 1;
    std::fs::write(p(2), &same_size).unwrap();
    // A leftover of a killed run.
    std::fs::write(dir.path().join("s1/.inst003.dcm.idc-partial"), b"half").unwrap();

    let before: Vec<usize> = (0..6)
        .map(|i| server.requests(&format!("s1/inst{i:03}.dcm")))
        .collect();
    let second = download(vec![series("s1", "s1")], config(&server, dir.path())).await;
    assert!(second.ok(), "{:?}", second.failed);
    let fetched: Vec<usize> = (0..6)
        .map(|i| server.requests(&format!("s1/inst{i:03}.dcm")) - before[i])
        .collect();
    assert_eq!(fetched, vec![1, 1, 1, 0, 0, 0]);
    let status = |i: usize| {
        second
            .files
            .iter()
            .find(|f| f.path() == p(i))
            .unwrap()
            .status
    };
    assert_eq!(
        (0..6)
            .map(status)
            .filter(|s| *s == FileStatus::AlreadyPresent)
            .count(),
        3
    );
    assert_eq!(
        second.bytes_present,
        objects[3..]
            .iter()
            .map(|(_, d)| d.len() as u64)
            .sum::<u64>()
    );
    assert_identical(dir.path(), same, &objects);
    // The leftover of the killed run is still there (no file of this run used that name) but
    // never looks like a complete file.
    assert_eq!(
        files_under(dir.path())
            .iter()
            .filter(|f| f.ends_with(".idc-partial"))
            .count(),
        1
    );

    // Object items without a size are checked with a HEAD request.
    let (gets, heads) = (
        server.requests("s1/inst004.dcm"),
        server.heads("s1/inst004.dcm"),
    );
    let third = download(
        vec![object("s1/inst004.dcm", "s1/inst004.dcm", None)],
        config(&server, dir.path()),
    )
    .await;
    assert_eq!(
        third.files.get(0).unwrap().unwrap().status,
        FileStatus::AlreadyPresent
    );
    assert_eq!(server.heads("s1/inst004.dcm") - heads, 1);
    assert_eq!(server.requests("s1/inst004.dcm"), gets);
}

#[tokio::test]
async fn cancel_stops_quickly_and_leaves_no_partial_file() {
    let server = S3Server::start().await;
    let objects = seed(&server, &["s1"], 12, 100_000);
    for (k, _) in &objects {
        server.fault_always(k, Fault::Trickle(1000));
    }
    let dir = tempfile::tempdir().unwrap();
    let handle = start(vec![series("s1", "s1")], config(&server, dir.path())).unwrap();
    // Cancel once bytes are seen arriving, not after a fixed delay.
    let p = wait_for(|| {
        let p = handle.progress();
        (p.bytes_done > 0 && p.files_total == 12).then_some(p)
    })
    .await;
    assert!(p.bytes_done < 12 * 100_000, "{p:?}");
    // A thread outside the runtime (Python's) waits without a runtime timer.
    assert!(
        !handle.wait_blocking(Duration::from_millis(50)),
        "still running"
    );
    handle.cancel();
    assert!(
        handle.wait_blocking(Duration::from_secs(30)),
        "ended after the cancel"
    );
    let report = handle.wait().await.unwrap();
    // What stopped: no byte arrives once the report is in.
    let received = handle.progress().bytes_done;
    assert!(report.cancelled && !report.ok());
    // The transfers under way (at most the 8 requests in flight) are failures of their own;
    // the files never begun are counted, not listed.
    assert!(report.failed.len() <= 8, "{}", report.failed.len());
    assert!(report.not_started > 0);
    assert_eq!(report.failed.len() as u64 + report.not_started, 12);
    assert!(report
        .failed
        .iter()
        .all(|f| f.kind == FailureKind::Cancelled));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        handle.progress().bytes_done,
        received,
        "no byte after the report"
    );
    assert_eq!(
        files_under(dir.path()),
        Vec::<String>::new(),
        "nothing is left behind"
    );
}

/// Poll `f` until it gives a value (at most 30 s: a guard against a hang, not a measurement).
async fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "the awaited state never came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn url_item(url: String, dest: &str, data: &[u8], sha: [u8; 32]) -> PlanItem {
    PlanItem {
        bucket: String::new(),
        source: Source::Url(url),
        destination: PathBuf::from(dest),
        size: Some(data.len() as u64),
        series_instance_uid: None,
        sop_instance_uid: None,
        sha256: Some(sha),
    }
}

#[tokio::test]
async fn files_at_plain_urls_are_checked_against_the_sha256_the_plan_states() {
    let server = S3Server::start().await;
    let small = bytes(1, 200_000);
    let large = bytes(2, 3_000_000 + 7);
    server.put(BUCKET, "release/v1/small.parquet", small.clone());
    server.put(BUCKET, "release/v1/large.parquet", large.clone());
    server.put(BUCKET, "release/v1/changed.parquet", small.clone());
    let url = |name: &str| format!("{}/{BUCKET}/release/v1/{name}", server.endpoint());
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&server, dir.path());
    cfg.part_size = 256 * 1024;
    cfg.multipart_threshold = 1024 * 1024;
    let plan = vec![
        url_item(
            url("small.parquet"),
            "small.parquet",
            &small,
            sha256(&small),
        ),
        url_item(
            url("large.parquet"),
            "large.parquet",
            &large,
            sha256(&large),
        ),
        // The server's MD5 matches, but not the content the plan asks for.
        url_item(
            url("changed.parquet"),
            "changed.parquet",
            &small,
            sha256(&large),
        ),
    ];
    let report = download(plan, cfg).await;
    let mut got: Vec<_> = report
        .files
        .iter()
        .map(|f| {
            (
                f.path().file_name().unwrap().to_string_lossy().into_owned(),
                f.verification,
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("large.parquet".to_string(), Verification::Sha256),
            ("small.parquet".to_string(), Verification::Sha256)
        ]
    );
    assert_eq!(
        std::fs::read(dir.path().join("small.parquet")).unwrap(),
        small
    );
    assert!(std::fs::read(dir.path().join("large.parquet")).unwrap() == large);
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let failed = &report.failed[0];
    assert_eq!(failed.key, url("changed.parquet"));
    assert!(
        failed.reason.contains("SHA-256 mismatch"),
        "{}",
        failed.reason
    );
    assert_eq!(
        files_under(dir.path()),
        ["large.parquet", "small.parquet"],
        "nothing of the refused file is left"
    );
}

#[tokio::test]
async fn two_runs_writing_one_directory_both_end_with_every_file_whole() {
    let server = S3Server::start().await;
    // Streamed whole (over the in-memory size) and fetched in ranges, both sent slowly so that
    // the two runs write the same files at the same time.
    let whole = bytes(3, 5 << 20);
    let ranged = bytes(4, 7 << 20);
    server.put(BUCKET, "s1/whole.dcm", whole.clone());
    server.put(BUCKET, "s1/ranged.dcm", ranged.clone());
    server.fault_always("s1/whole.dcm", Fault::Trickle(512 << 10));
    server.fault_always("s1/ranged.dcm", Fault::Trickle(256 << 10));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&server, dir.path());
    cfg.part_size = 1 << 20;
    cfg.multipart_threshold = 6 << 20;
    let first = start(vec![series("s1", "s1")], cfg.clone()).unwrap();
    let second = start(vec![series("s1", "s1")], cfg).unwrap();
    // Both write each file at once: the second under a name of its own.
    let series_dir = dir.path().join("s1");
    for name in ["whole.dcm", "ranged.dcm"] {
        wait_for(|| {
            let partials = std::fs::read_dir(&series_dir)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .filter(|e| {
                            let n = e.file_name().to_string_lossy().into_owned();
                            n.starts_with(&format!(".{name}.")) && n.ends_with(".idc-partial")
                        })
                        .count()
                })
                .unwrap_or(0);
            (partials == 2).then_some(())
        })
        .await;
    }
    let (a, b) = (
        first.wait().await.unwrap().clone(),
        second.wait().await.unwrap().clone(),
    );
    assert!(a.ok() && b.ok(), "{:?} {:?}", a.failed, b.failed);
    assert_eq!(a.files.len() + b.files.len(), 4);
    assert!(std::fs::read(series_dir.join("whole.dcm")).unwrap() == whole);
    assert!(std::fs::read(series_dir.join("ranged.dcm")).unwrap() == ranged);
    assert_eq!(files_under(dir.path()), ["s1/ranged.dcm", "s1/whole.dcm"]);
}

#[tokio::test]
async fn nothing_is_written_outside_the_root() {
    let server = S3Server::start().await;
    server.put(BUCKET, "s1/ok.dcm", b"fine".to_vec());
    server.put(BUCKET, "s1/../../escape.dcm", b"evil".to_vec());
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");

    for bad in ["../x", "/etc/passwd", "a/../../x"] {
        let err = start(
            vec![object("s1/ok.dcm", bad, Some(4))],
            config(&server, &root),
        )
        .err()
        .unwrap();
        assert!(matches!(err, DownloadError::Plan(_)), "{bad}");
        assert!(
            err.to_string().contains("outside the destination root"),
            "{err}"
        );
    }

    let report = download(vec![series("s1", "s1")], config(&server, &root)).await;
    assert_eq!(report.files.len(), 1);
    let evil = report
        .failed
        .iter()
        .find(|f| f.key.contains("escape"))
        .unwrap();
    assert_eq!(evil.kind, FailureKind::UnsafePath);

    // A symbolic link inside the root that points outside it is not followed.
    let elsewhere = outer.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("link")).unwrap();
    let report = download(
        vec![object("s1/ok.dcm", "link/ok.dcm", Some(4))],
        config(&server, &root),
    )
    .await;
    assert_eq!(
        report.failed[0].kind,
        FailureKind::UnsafePath,
        "{:?}",
        report.failed
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(!outer.path().join("escape.dcm").exists());
}

#[tokio::test]
async fn unwritable_destinations_fail_per_file_with_a_clear_reason() {
    let server = S3Server::start().await;
    server.put(BUCKET, "s1/a.dcm", b"aaaa".to_vec());
    server.put(BUCKET, "s1/b.dcm", b"bbbb".to_vec());
    let dir = tempfile::tempdir().unwrap();
    // A file where a directory must go: no user, root included, can create the directory.
    std::fs::write(dir.path().join("blocked"), b"").unwrap();
    let plan = vec![
        object("s1/a.dcm", "blocked/a.dcm", Some(4)),
        object("s1/b.dcm", "ok/b.dcm", Some(4)),
    ];
    let report = download(plan, config(&server, dir.path())).await;
    assert_eq!(report.files.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.kind, FailureKind::LocalIo);
    assert!(
        f.reason.contains("creating the directory") && f.reason.contains("blocked"),
        "{}",
        f.reason
    );
    assert_eq!(
        server.requests("s1/a.dcm"),
        0,
        "nothing is fetched for a file that cannot be written"
    );

    // An unusable root is an error at start.
    let err = start(vec![], config(&server, &dir.path().join("blocked/sub")))
        .err()
        .unwrap();
    assert!(matches!(err, DownloadError::Destination(_)));
    assert!(
        err.to_string()
            .contains("choose a directory you can write to"),
        "{err}"
    );
}

#[tokio::test]
async fn progress_counts_bytes_and_files() {
    let server = S3Server::start().await;
    let objects = seed(&server, &["s1"], 5, 10_000);
    let dir = tempfile::tempdir().unwrap();
    let total: u64 = objects.iter().map(|(_, d)| d.len() as u64).sum();
    let mut item = series("s1", "s1");
    item.size = Some(1);
    let handle = start(vec![item], config(&server, dir.path())).unwrap();
    let before = handle.progress();
    assert_eq!((before.listings_pending, before.bytes_total), (1, 1));
    let report = handle.wait().await.unwrap();
    assert!(report.ok());
    let p = handle.progress();
    assert_eq!((p.bytes_done, p.bytes_total), (total, total));
    assert_eq!(
        (
            p.files_downloaded,
            p.files_total,
            p.files_failed,
            p.listings_pending
        ),
        (5, 5, 0, 0)
    );
}

#[tokio::test]
async fn bad_settings_and_plans_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = DownloadConfig::new("http://127.0.0.1:1", dir.path());
    cfg.concurrency = 0;
    assert!(matches!(
        start(vec![], cfg).err().unwrap(),
        DownloadError::Config(_)
    ));
    let mut cfg = DownloadConfig::new("http://127.0.0.1:1", dir.path());
    cfg.ranges_per_file = 0;
    assert!(start(vec![], cfg)
        .err()
        .unwrap()
        .to_string()
        .contains("ranges_per_file"));
    let cfg = DownloadConfig::new("s3.amazonaws.com", dir.path());
    assert!(start(vec![], cfg)
        .err()
        .unwrap()
        .to_string()
        .contains("not an endpoint URL"));
    let cfg = DownloadConfig::new("http://127.0.0.1:1", dir.path());
    let mut item = series("s1", "s1");
    item.bucket = "Bad/Bucket".into();
    let err = start(vec![item, object("", "x", None)], cfg).err().unwrap();
    assert!(
        err.to_string().contains("not a valid bucket name")
            && err.to_string().contains("whole bucket"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_reported_not_hung() {
    let dir = tempfile::tempdir().unwrap();
    // A port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = DownloadConfig::new(format!("http://127.0.0.1:{port}"), dir.path());
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(5),
    };
    let report = download(
        vec![series("s1", "s1"), object("s1/a.dcm", "a.dcm", Some(3))],
        cfg,
    )
    .await;
    assert_eq!(report.failed.len(), 2);
    assert!(
        report
            .failed
            .iter()
            .all(|f| f.kind == FailureKind::Network && f.attempts == 3),
        "{:?}",
        report.failed
    );
    assert!(
        report.failed[0].reason.contains("network error"),
        "{}",
        report.failed[0].reason
    );
}
