//! Requests to the endpoint: one HTTP client, error statuses turned into [`Failure`]s with the
//! S3 error code, bodies read piece by piece with a stall timeout.

use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName};

use super::config::DownloadConfig;
use super::error::DownloadError;
use super::failure::Failure;
use super::rate::RateLimit;
use super::s3::{parse_error, Endpoint};

/// Error bodies larger than this are not read.
const MAX_ERROR_BODY: usize = 64 << 10;

/// The certificate authorities of the PEM bundle that `SSL_CERT_FILE` names, trusted besides
/// the built-in roots: networks whose proxy re-signs HTTPS need theirs, and curl, Python and the
/// AWS CLI read the same variable. Read once per process.
fn extra_roots() -> Result<Vec<reqwest::Certificate>, DownloadError> {
    static ROOTS: OnceLock<Result<Vec<reqwest::Certificate>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let Some(path) = std::env::var_os("SSL_CERT_FILE") else {
                return Ok(Vec::new());
            };
            let shown = std::path::Path::new(&path).display().to_string();
            let pem = std::fs::read(&path)
                .map_err(|e| format!("SSL_CERT_FILE={shown} cannot be read ({e}); point it at a PEM bundle of CA certificates or unset it"))?;
            reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("SSL_CERT_FILE={shown} is not a PEM bundle of CA certificates ({e})"))
        })
        .clone()
        .map_err(DownloadError::Config)
}

/// The endpoint, the client that talks to it, and what was learnt about the server.
pub(crate) struct Http {
    pub endpoint: Endpoint,
    pub client: reqwest::Client,
    /// A response that sends nothing for this long is abandoned.
    pub stall: Duration,
    /// The server answered ListObjectsV2 with V1 (or not at all): list with V1 from now on.
    pub lists_v1: AtomicBool,
    /// The bandwidth limit every body shares, when one is set.
    rate: Option<RateLimit>,
}

impl Http {
    /// A client for `config.endpoint` with a connection pool sized for `config.concurrency`.
    pub fn new(config: &DownloadConfig) -> Result<Self, DownloadError> {
        let endpoint = Endpoint::new(&config.endpoint).map_err(DownloadError::Config)?;
        let mut builder = reqwest::Client::builder();
        for certificate in extra_roots()? {
            builder = builder.add_root_certificate(certificate);
        }
        let client = builder
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(config.concurrency)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| DownloadError::Client(e.to_string()))?;
        Ok(Self {
            endpoint,
            client,
            stall: config.stall_timeout,
            lists_v1: AtomicBool::new(false),
            rate: config.max_bandwidth.map(RateLimit::new),
        })
    }

    /// Send a request; error statuses become [`Failure::Status`] with the S3 error code.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, Failure> {
        let resp = match tokio::time::timeout(self.stall, req.send()).await {
            Err(_) => return Err(Failure::Stalled(self.stall)),
            Ok(r) => r.map_err(Failure::network)?,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = self
            .read_body(resp, MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        let (code, message) = parse_error(&String::from_utf8_lossy(&body));
        Err(Failure::Status {
            status: status.as_u16(),
            code,
            message,
        })
    }

    /// The next piece of a response body (`None` at its end), or a stall or network failure;
    /// paced by the bandwidth limit, when one is set.
    pub async fn next_chunk(
        &self,
        resp: &mut reqwest::Response,
    ) -> Result<Option<bytes::Bytes>, Failure> {
        let chunk = tokio::time::timeout(self.stall, resp.chunk())
            .await
            .map_err(|_| Failure::Stalled(self.stall))?
            .map_err(Failure::network)?;
        if let (Some(rate), Some(c)) = (&self.rate, &chunk) {
            rate.take(c.len()).await;
        }
        Ok(chunk)
    }

    /// Read a whole (small) body, giving up on stalls and on bodies over `limit`.
    pub async fn read_body(
        &self,
        mut resp: reqwest::Response,
        limit: usize,
    ) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        while let Some(c) = self.next_chunk(&mut resp).await? {
            if body.len() + c.len() > limit {
                return Err(Failure::Protocol(format!(
                    "the response body is larger than {limit} bytes"
                )));
            }
            body.extend_from_slice(&c);
        }
        Ok(body)
    }
}

/// Asks S3 to state the object's full-object checksum (CRC32C, CRC32 or CRC64NVME) with it.
pub(crate) const CHECKSUM_MODE: (&str, &str) = ("x-amz-checksum-mode", "ENABLED");

/// A header's value as a number, when it is one.
pub(crate) fn header_u64(headers: &HeaderMap, name: HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}
