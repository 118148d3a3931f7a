//! A small S3-compatible HTTP server for the downloader's tests: path-style GET (with Range),
//! HEAD, ListObjectsV2 (paged, or ignored like GCS used to) and V1, and faults injected per
//! request: error statuses, connection resets, truncated bodies, stalls, corrupted bytes.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use idc_core::download::{DownloadConfig, RetryPolicy};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the next request for a key gets instead of a normal answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// An error status with an S3 error code.
    Status(u16, &'static str),
    /// The connection is reset before anything is sent.
    Reset,
    /// Headers announce the full length, then only this many bytes are sent before closing.
    Truncate(usize),
    /// Headers and this many bytes are sent, then nothing for a long time.
    Stall(usize),
    /// The body has one byte changed.
    Corrupt,
    /// Sent slowly: this many bytes every 50 ms.
    Trickle(usize),
}

#[derive(Clone)]
pub struct Object {
    pub data: Arc<Vec<u8>>,
    /// Serve digests in `x-goog-hash` (and a non-MD5 ETag) as GCS does.
    pub goog: bool,
    /// Serve a multipart-style ETag (no digest).
    pub multipart: bool,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<(String, String), Object>,
    faults: HashMap<String, VecDeque<Fault>>,
    /// Faults for every request of a key, forever.
    always: HashMap<String, Fault>,
    requests: HashMap<String, usize>,
    heads: HashMap<String, usize>,
    /// Every listing page says it is truncated and gives a new continuation token, whatever
    /// was asked: a listing that never ends.
    endless_listing: bool,
    listing_pages: usize,
}

pub struct S3Server {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    pub page_size: Arc<AtomicUsize>,
    /// When false, `list-type=2` is ignored and V1 listings are served (GCS's old behaviour).
    pub v2: Arc<std::sync::atomic::AtomicBool>,
    pub total_requests: Arc<AtomicUsize>,
}

/// The settings of the tests' downloads and reads from `server`: 8 requests in flight, stalls
/// given up after 0.7 s, retries 10-100 ms apart, so that faults are retried quickly.
pub fn config(server: &S3Server, root: &Path) -> DownloadConfig {
    let mut c = DownloadConfig::new(server.endpoint(), root);
    c.concurrency = 8;
    c.stall_timeout = Duration::from_millis(700);
    c.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(20),
    };
    c
}

pub fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl S3Server {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = S3Server {
            addr,
            state: Arc::new(Mutex::new(State::default())),
            page_size: Arc::new(AtomicUsize::new(1000)),
            v2: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            total_requests: Arc::new(AtomicUsize::new(0)),
        };
        let (state, page, v2, total) = (
            Arc::clone(&server.state),
            Arc::clone(&server.page_size),
            Arc::clone(&server.v2),
            Arc::clone(&server.total_requests),
        );
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (state, page, v2, total) = (
                    Arc::clone(&state),
                    Arc::clone(&page),
                    Arc::clone(&v2),
                    Arc::clone(&total),
                );
                tokio::spawn(async move {
                    let _ = serve(sock, state, page, v2, total).await;
                });
            }
        });
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn put(&self, bucket: &str, key: &str, data: Vec<u8>) {
        self.put_object(
            bucket,
            key,
            Object {
                data: Arc::new(data),
                goog: false,
                multipart: false,
            },
        );
    }

    pub fn put_object(&self, bucket: &str, key: &str, obj: Object) {
        self.state
            .lock()
            .unwrap()
            .objects
            .insert((bucket.into(), key.into()), obj);
    }

    /// Queue faults for the next requests of `key` (in order).
    pub fn fault(&self, key: &str, faults: impl IntoIterator<Item = Fault>) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(key.into())
            .or_default()
            .extend(faults);
    }

    /// From now on every listing page is truncated, with a new continuation token each time.
    pub fn endless_listing(&self) {
        self.state.lock().unwrap().endless_listing = true;
    }

    /// The listing pages served so far.
    pub fn listing_pages(&self) -> usize {
        self.state.lock().unwrap().listing_pages
    }

    pub fn fault_always(&self, key: &str, fault: Fault) {
        self.state.lock().unwrap().always.insert(key.into(), fault);
    }

    /// GETs of `key` so far.
    pub fn requests(&self, key: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// HEADs of `key` so far.
    pub fn heads(&self, key: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .heads
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}

async fn serve(
    mut sock: TcpStream,
    state: Arc<Mutex<State>>,
    page: Arc<AtomicUsize>,
    v2: Arc<std::sync::atomic::AtomicBool>,
    total: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        // Read one request head.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 4096];
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end + 4);
        total.fetch_add(1, Ordering::SeqCst);
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_string();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut range: Option<(u64, u64)> = None;
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                if k.trim().eq_ignore_ascii_case("range") {
                    let v = v.trim().trim_start_matches("bytes=");
                    if let Some((a, b)) = v.split_once('-') {
                        range = Some((a.parse().unwrap_or(0), b.parse().unwrap_or(u64::MAX)));
                    }
                }
            }
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let path = decode(path.trim_start_matches('/'));
        let (bucket, key) = path
            .split_once('/')
            .map(|(b, k)| (b.to_string(), k.to_string()))
            .unwrap_or((path.clone(), String::new()));
        let params: HashMap<String, String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();

        if key.is_empty() {
            let body = list(
                &state,
                &bucket,
                &params,
                page.load(Ordering::SeqCst),
                v2.load(Ordering::SeqCst),
            );
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(resp.as_bytes()).await?;
            continue;
        }

        let (obj, fault) = {
            let mut st = state.lock().unwrap();
            // Faults and request counts are for the GETs that carry the bytes; HEADs (which ask
            // for the stated checksums) are counted apart.
            let fault = if method == "HEAD" {
                *st.heads.entry(key.clone()).or_default() += 1;
                None
            } else {
                *st.requests.entry(key.clone()).or_default() += 1;
                st.faults
                    .get_mut(&key)
                    .and_then(|q| q.pop_front())
                    .or_else(|| st.always.get(&key).cloned())
            };
            (
                st.objects.get(&(bucket.clone(), key.clone())).cloned(),
                fault,
            )
        };
        if let Some(Fault::Status(code, name)) = &fault {
            let body = format!("<?xml version=\"1.0\"?><Error><Code>{name}</Code><Message>injected</Message></Error>");
            let resp = format!(
                "HTTP/1.1 {code} Injected\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(resp.as_bytes()).await?;
            continue;
        }
        if let Some(Fault::Reset) = fault {
            // SO_LINGER 0: closing sends a reset (and does not block).
            #[allow(deprecated)]
            sock.set_linger(Some(Duration::ZERO))?;
            return Ok(());
        }
        let Some(obj) = obj else {
            let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
            let resp = format!(
                "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(resp.as_bytes()).await?;
            continue;
        };
        let data = &obj.data;
        let size = data.len() as u64;
        let (status, start, end) = match range {
            Some((a, b)) if a < size => ("206 Partial Content", a, b.min(size - 1)),
            Some(_) => {
                let resp = format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{size}\r\nContent-Length: 0\r\n\r\n");
                sock.write_all(resp.as_bytes()).await?;
                continue;
            }
            None => ("200 OK", 0, size.saturating_sub(1)),
        };
        let mut body: Vec<u8> = if size == 0 {
            Vec::new()
        } else {
            data[start as usize..=end as usize].to_vec()
        };
        let mut headers = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
        if range.is_some() {
            headers.push_str(&format!("Content-Range: bytes {start}-{end}/{size}\r\n"));
        }
        let md5 = Md5::digest(data.as_slice());
        if obj.goog {
            let b64 = base64::engine::general_purpose::STANDARD;
            let crc = crc32c::crc32c(data);
            headers.push_str(&format!(
                "x-goog-hash: crc32c={}\r\n",
                b64.encode(crc.to_be_bytes())
            ));
            headers.push_str(&format!("x-goog-hash: md5={}\r\n", b64.encode(md5)));
            headers.push_str("ETag: \"CJiN4p2O7YIDEAE=\"\r\n");
        } else if obj.multipart {
            headers.push_str(&format!("ETag: \"{}-3\"\r\n", md5_hex(data)));
        } else {
            headers.push_str(&format!("ETag: \"{}\"\r\n", md5_hex(data)));
        }
        headers.push_str("\r\n");
        if method == "HEAD" {
            sock.write_all(headers.as_bytes()).await?;
            continue;
        }
        match fault {
            Some(Fault::Truncate(n)) => {
                sock.write_all(headers.as_bytes()).await?;
                sock.write_all(&body[..n.min(body.len())]).await?;
                sock.flush().await?;
                return Ok(());
            }
            Some(Fault::Stall(n)) => {
                sock.write_all(headers.as_bytes()).await?;
                sock.write_all(&body[..n.min(body.len())]).await?;
                sock.flush().await?;
                tokio::time::sleep(Duration::from_secs(120)).await;
                return Ok(());
            }
            Some(Fault::Trickle(step)) => {
                sock.write_all(headers.as_bytes()).await?;
                for c in body.chunks(step.max(1)) {
                    sock.write_all(c).await?;
                    sock.flush().await?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
            Some(Fault::Corrupt) if !body.is_empty() => {
                let i = body.len() / 2;
                body[i] ^= 0xff;
            }
            _ => {}
        }
        sock.write_all(headers.as_bytes()).await?;
        sock.write_all(&body).await?;
    }
}

fn list(
    state: &Mutex<State>,
    bucket: &str,
    params: &HashMap<String, String>,
    page: usize,
    v2_supported: bool,
) -> String {
    let mut st = state.lock().unwrap();
    st.listing_pages += 1;
    let endless = st.endless_listing.then_some(st.listing_pages);
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let v2 = v2_supported && params.get("list-type").map(String::as_str) == Some("2");
    let after = if endless.is_some() {
        None // the same first page again, under a new token
    } else if v2 {
        params.get("continuation-token").cloned()
    } else {
        params.get("marker").cloned()
    };
    let keys: Vec<(&String, &Object)> = st
        .objects
        .iter()
        .filter(|((b, k), _)| {
            b == bucket && k.starts_with(&prefix) && after.as_ref().is_none_or(|a| k > a)
        })
        .map(|((_, k), o)| (k, o))
        .collect();
    let truncated = keys.len() > page || endless.is_some();
    let shown = &keys[..keys.len().min(page)];
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    xml.push_str(&format!(
        "<Name>{bucket}</Name><Prefix>{}</Prefix>",
        xml_escape(&prefix)
    ));
    if v2 {
        xml.push_str(&format!("<KeyCount>{}</KeyCount>", shown.len()));
    }
    xml.push_str(&format!("<IsTruncated>{truncated}</IsTruncated>"));
    for (k, o) in shown {
        let etag = if o.multipart {
            format!("{}-3", md5_hex(&o.data))
        } else {
            md5_hex(&o.data)
        };
        xml.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;{etag}&quot;</ETag><Size>{}</Size></Contents>",
            xml_escape(k),
            o.data.len()
        ));
    }
    if truncated {
        let last = match endless {
            Some(n) => format!("token-{n}"),
            None => shown.last().map(|(k, _)| k.to_string()).unwrap_or_default(),
        };
        if v2 {
            xml.push_str(&format!(
                "<NextContinuationToken>{}</NextContinuationToken>",
                xml_escape(&last)
            ));
        }
        // V1 without a delimiter: no NextMarker, the client continues from the last key.
    }
    xml.push_str("</ListBucketResult>");
    xml
}
