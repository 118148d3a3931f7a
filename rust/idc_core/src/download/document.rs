//! One small document at a plain URL (a release listing, a release manifest, a DOI record, or
//! only the answer to a HEAD), read whole within a size and a time bound, through the same
//! HTTP client, error reading and retries as the objects of a download: the client's one
//! HTTP stack.

use std::time::Duration;

use reqwest::Method;
use tokio_util::sync::CancellationToken;

use super::config::DownloadConfig;
use super::error::DownloadError;
use super::failure::Failure;
use super::http::Http;
use super::plan::check_url;

/// What to fetch and within which bounds.
#[derive(Clone, Debug)]
pub struct DocumentRequest {
    pub url: String,
    /// A HEAD: only the status and the headers.
    pub head: bool,
    /// Sent as `Accept`, when given.
    pub accept: Option<String>,
    /// A body larger than this is refused.
    pub max_bytes: usize,
    /// The whole fetch, retries included, ends after this long.
    pub deadline: Duration,
}

/// The server's answer: a success, or a 403 or 404 (how servers and buckets say that a
/// document is not published), with its headers and (for a success) its body.
#[derive(Clone, Debug)]
pub struct Document {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Fetch `request` with `config`'s client settings (timeouts, retries, user agent).
pub async fn fetch_document(
    request: DocumentRequest,
    config: &DownloadConfig,
) -> Result<Document, DownloadError> {
    check_url(&request.url).map_err(DownloadError::Config)?;
    let mut config = config.clone();
    config.endpoint = origin(&request.url);
    let http = Http::new(&config)?;
    let url = request.url.as_str();
    let never = CancellationToken::new();
    let fetch = config.retry.run(&never, || async {
        let method = if request.head {
            Method::HEAD
        } else {
            Method::GET
        };
        let mut req = http.client.request(method, url);
        if let Some(accept) = &request.accept {
            req = req.header(reqwest::header::ACCEPT, accept);
        }
        let resp = match http.send(req).await {
            Err(Failure::Status { status, .. }) if status == 403 || status == 404 => {
                return Ok(Document {
                    status,
                    headers: Vec::new(),
                    body: Vec::new(),
                })
            }
            other => other?,
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = if request.head {
            Vec::new()
        } else {
            http.read_body(resp, request.max_bytes).await?
        };
        Ok(Document {
            status,
            headers,
            body,
        })
    });
    match tokio::time::timeout(request.deadline, fetch).await {
        Err(_) => Err(DownloadError::Fetch(format!(
            "{url} did not arrive within {} s (it came too slowly)",
            request.deadline.as_secs_f64()
        ))),
        Ok(got) => got
            .outcome
            .map_err(|f| DownloadError::Fetch(f.describe(url, None))),
    }
}

/// `scheme://host[:port]` of a URL that [`check_url`] accepted.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(origin("https://h.org/a/b.json"), "https://h.org");
        assert_eq!(origin("http://127.0.0.1:8000?x=1"), "http://127.0.0.1:8000");
    }
}
