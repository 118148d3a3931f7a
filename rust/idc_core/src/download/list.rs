//! Listing a prefix: ListObjectsV2 with continuation tokens, falling back to V1 with markers
//! when the server does not speak V2, each page retried on its own.

use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use super::failure::Failure;
use super::http::Http;
use super::retry::{Attempts, RetryPolicy};
use super::s3::{parse_list, ListMode, ListPage, ListedObject};

/// Listing pages larger than this are not read.
const MAX_LIST_BODY: usize = 64 << 20;

/// Every object under `prefix` of `bucket` (directory markers included), with the attempts
/// made for all pages together.
pub(crate) async fn list_prefix(
    http: &Http,
    retry: &RetryPolicy,
    cancel: &CancellationToken,
    bucket: &str,
    prefix: &str,
) -> Attempts<Vec<ListedObject>> {
    let started = std::time::Instant::now();
    let mut mode = if http.lists_v1.load(Ordering::Relaxed) {
        ListMode::V1
    } else {
        ListMode::V2
    };
    let mut cursor: Option<String> = None;
    let mut previous_last: Option<String> = None;
    let mut all = Vec::new();
    let mut attempts = 0;
    let end = |outcome, attempts| Attempts {
        outcome,
        attempts,
        elapsed: started.elapsed(),
    };
    loop {
        let page = retry
            .run(cancel, || {
                list_page(http, bucket, prefix, mode, cursor.as_deref())
            })
            .await;
        attempts += page.attempts;
        let page = match page.outcome {
            Ok(p) => p,
            Err(Failure::Status {
                status: 400 | 501, ..
            }) if mode == ListMode::V2 && cursor.is_none() => {
                mode = ListMode::V1;
                http.lists_v1.store(true, Ordering::Relaxed);
                continue;
            }
            Err(f) => return end(Err(f), attempts),
        };
        if mode == ListMode::V2
            && cursor.is_none()
            && !page.looks_v2
            && page.next_continuation_token.is_none()
        {
            // The server ignored `list-type=2` and answered a V1 listing.
            mode = ListMode::V1;
            http.lists_v1.store(true, Ordering::Relaxed);
        }
        let last_key = page.objects.last().map(|o| o.key.clone());
        if let Some(problem) = no_progress(&page, previous_last.as_deref()) {
            return end(Err(Failure::Protocol(problem)), attempts);
        }
        let ListPage {
            objects,
            is_truncated,
            next_continuation_token,
            next_marker,
            ..
        } = page;
        all.extend(objects.into_iter().filter(|o| o.key.starts_with(prefix)));
        if !is_truncated {
            return end(Ok(all), attempts);
        }
        let next = match (mode, next_continuation_token) {
            (ListMode::V2, Some(token)) => Some(token),
            _ => {
                mode = ListMode::V1;
                next_marker.or(last_key.clone())
            }
        };
        if next.is_none() || next == cursor {
            let msg = "the listing is truncated but gives no way to continue it".to_string();
            return end(Err(Failure::Protocol(msg)), attempts);
        }
        cursor = next;
        previous_last = last_key;
    }
}

/// Why a page shows that a listing would never end, if it does. S3 lists keys in order, so a
/// page that goes on must list something, and something after the previous page's last key:
/// a server that answers every page as truncated, with a new token each time, would otherwise
/// be followed forever.
fn no_progress(page: &ListPage, previous_last: Option<&str>) -> Option<String> {
    if !page.is_truncated {
        return None;
    }
    let Some(first) = page.objects.first() else {
        return Some(
            "the listing says it goes on but its page lists nothing; it would never end".into(),
        );
    };
    match previous_last {
        Some(last) if first.key.as_str() <= last => Some(format!(
            "the listing does not advance: a page starts at {:?}, not after the previous page's last key {last:?}; \
             it would never end",
            first.key
        )),
        _ => None,
    }
}

async fn list_page(
    http: &Http,
    bucket: &str,
    prefix: &str,
    mode: ListMode,
    cursor: Option<&str>,
) -> Result<ListPage, Failure> {
    let url = http.endpoint.list_url(bucket, prefix, mode, cursor);
    let resp = http.send(http.client.get(&url)).await?;
    let body = http.read_body(resp, MAX_LIST_BODY).await?;
    parse_list(&String::from_utf8_lossy(&body)).map_err(Failure::Protocol)
}
