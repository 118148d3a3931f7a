#![cfg(feature = "download")]
//! Byte ranges of many objects read into memory (`read_ranges`) against the local S3 server.

mod download_support;

use std::path::Path;

use download_support::{bytes, config, Fault, S3Server};
use idc_core::download::{read_ranges, DownloadError, RangeRequest};

const BUCKET: &str = "idc-open-data";

fn range(key: &str, start: u64, len: u64) -> RangeRequest {
    RangeRequest {
        bucket: BUCKET.into(),
        key: key.into(),
        start,
        len,
    }
}

#[tokio::test]
async fn each_range_comes_in_request_order_with_the_object_size() {
    let server = S3Server::start().await;
    let objects: Vec<Vec<u8>> = (0..20).map(|i| bytes(i, 1_000 + 37 * i as usize)).collect();
    for (i, data) in objects.iter().enumerate() {
        server.put(BUCKET, &format!("s/{i}.dcm"), data.clone());
    }
    let requests: Vec<RangeRequest> = (0..20)
        .map(|i| range(&format!("s/{i}.dcm"), 10 * i, 300))
        .collect();
    let reads = read_ranges(requests, &config(&server, Path::new("unused")))
        .await
        .unwrap();
    assert_eq!(reads.len(), 20);
    for (i, read) in reads.into_iter().enumerate() {
        let read = read.unwrap();
        let start = 10 * i;
        assert_eq!(read.data, objects[i][start..start + 300]);
        assert_eq!(read.object_size, Some(objects[i].len() as u64));
    }
}

#[tokio::test]
async fn a_range_past_the_end_gives_what_there_is() {
    let server = S3Server::start().await;
    let data = bytes(1, 120);
    server.put(BUCKET, "short.dcm", data.clone());
    let reads = read_ranges(
        vec![range("short.dcm", 50, 1_000), range("short.dcm", 500, 10)],
        &config(&server, Path::new("unused")),
    )
    .await
    .unwrap();
    let tail = reads[0].as_ref().unwrap();
    assert_eq!(tail.data, data[50..]);
    assert_eq!(tail.object_size, Some(120));
    assert!(reads[1].as_ref().unwrap().data.is_empty());
}

#[tokio::test]
async fn a_missing_object_fails_alone_and_transient_failures_are_retried() {
    let server = S3Server::start().await;
    let data = bytes(2, 5_000);
    server.put(BUCKET, "flaky.dcm", data.clone());
    server.put(BUCKET, "cut.dcm", data.clone());
    server.fault("flaky.dcm", [Fault::Reset, Fault::Status(503, "SlowDown")]);
    server.fault("cut.dcm", [Fault::Truncate(100)]);
    let reads = read_ranges(
        vec![
            range("missing.dcm", 0, 100),
            range("flaky.dcm", 0, 4_096),
            range("cut.dcm", 0, 4_096),
        ],
        &config(&server, Path::new("unused")),
    )
    .await
    .unwrap();
    let missing = reads[0].as_ref().unwrap_err();
    assert!(
        missing.contains("s3://idc-open-data/missing.dcm was not found"),
        "{missing}"
    );
    assert_eq!(reads[1].as_ref().unwrap().data, data[..4_096]);
    assert_eq!(reads[2].as_ref().unwrap().data, data[..4_096]);
    assert_eq!(server.requests("flaky.dcm"), 3);
    assert_eq!(server.requests("cut.dcm"), 2);
}

#[tokio::test]
async fn ranges_that_could_never_be_read_are_refused_before_any_request() {
    let server = S3Server::start().await;
    for bad in [range("a.dcm", 0, 0), range("a.dcm", 0, 1 << 40)] {
        let err = read_ranges(vec![bad], &config(&server, Path::new("unused")))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DownloadError::Config(ref m) if m.contains("ask for 1 to")),
            "{err}"
        );
    }
    let mut bad_bucket = range("a.dcm", 0, 10);
    bad_bucket.bucket = "No/Such".into();
    assert!(
        read_ranges(vec![bad_bucket], &config(&server, Path::new("unused")))
            .await
            .is_err()
    );
    assert_eq!(server.requests("a.dcm"), 0);
}
