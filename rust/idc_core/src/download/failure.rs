//! Why an attempt failed, how that is treated, and how it reads in a report.

use std::path::PathBuf;
use std::time::Duration;

use super::classify::{classify_status, ErrorClass};
use super::disk::{free_space, is_disk_full};

/// The kind of a per-file failure in a report (stable strings for Python: [`FailureKind::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// HTTP 404, or a prefix with no objects.
    NotFound,
    /// HTTP 403.
    AccessDenied,
    /// Another HTTP error status, after the retries for the transient ones.
    Http,
    /// Connection errors, resets, timeouts, stalls, truncated bodies, after retries.
    Network,
    /// The server's TLS certificate is not trusted: not retried (a retry meets the same one).
    Tls,
    /// The bytes did not match the stated size or checksum, after retries; or the object
    /// changed while it was read.
    Integrity,
    /// A local file or directory could not be created or written.
    LocalIo,
    /// The disk is full: the run stopped.
    DiskFull,
    /// The key or destination would be written outside the destination root.
    UnsafePath,
    /// The server's answer could not be understood.
    Protocol,
    /// Cancelled by the caller before it completed.
    Cancelled,
    /// Never attempted because the run stopped early (disk full).
    NotAttempted,
    /// A defect in the downloader itself.
    Internal,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NotFound => "not_found",
            FailureKind::AccessDenied => "access_denied",
            FailureKind::Http => "http",
            FailureKind::Network => "network",
            FailureKind::Tls => "tls",
            FailureKind::Integrity => "integrity",
            FailureKind::LocalIo => "local_io",
            FailureKind::DiskFull => "disk_full",
            FailureKind::UnsafePath => "unsafe_path",
            FailureKind::Protocol => "protocol",
            FailureKind::Cancelled => "cancelled",
            FailureKind::NotAttempted => "not_attempted",
            FailureKind::Internal => "internal",
        }
    }
}

/// One failed attempt.
#[derive(Debug)]
pub(crate) enum Failure {
    Status {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    Network(String),
    Tls(String),
    Stalled(Duration),
    Truncated {
        got: u64,
        want: u64,
    },
    Mismatch(String),
    Changed(String),
    Io {
        doing: String,
        path: PathBuf,
        err: std::io::Error,
    },
    Unsafe(String),
    Protocol(String),
    Cancelled,
}

/// Whether a connection error is the server's certificate being refused (rustls's words).
fn is_untrusted_certificate(message: &str) -> bool {
    [
        "invalid peer certificate",
        "UnknownIssuer",
        "certificate verify failed",
        "BadSignature",
        "NotValidForName",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// A failure with the number of requests made for the file.
pub(crate) type Failed = (Failure, u32);

impl Failure {
    pub fn io(doing: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        Failure::Io {
            doing: doing.to_string(),
            path: path.to_path_buf(),
            err,
        }
    }

    /// A listing that found no object under its prefix reads as a missing object.
    pub fn empty_prefix() -> Self {
        Failure::Status {
            status: 404,
            code: Some("no objects under this prefix".into()),
            message: None,
        }
    }

    pub fn network(err: reqwest::Error) -> Self {
        // The outermost message of reqwest is generic ("error sending request"); the cause
        // chain says what happened (connection refused, reset, unexpected end of file).
        let mut msg = err.to_string();
        let mut src = std::error::Error::source(&err);
        while let Some(s) = src {
            let m = s.to_string();
            if !msg.contains(&m) {
                msg.push_str(": ");
                msg.push_str(&m);
            }
            src = s.source();
        }
        if err.is_timeout() {
            msg.push_str(" (timed out)");
        }
        if is_untrusted_certificate(&msg) {
            return Failure::Tls(msg);
        }
        Failure::Network(msg)
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Failure::Status { status, code, .. } => classify_status(*status, code.as_deref()),
            Failure::Network(_)
            | Failure::Stalled(_)
            | Failure::Truncated { .. }
            | Failure::Mismatch(_) => ErrorClass::Transient,
            Failure::Io { err, .. } if is_disk_full(err) => ErrorClass::Fatal,
            Failure::Io { .. }
            | Failure::Unsafe(_)
            | Failure::Changed(_)
            | Failure::Tls(_)
            | Failure::Protocol(_) => ErrorClass::Permanent,
            Failure::Cancelled => ErrorClass::Permanent,
        }
    }

    pub fn kind(&self) -> FailureKind {
        match self {
            Failure::Status { status: 404, .. } => FailureKind::NotFound,
            Failure::Status { status: 403, .. } => FailureKind::AccessDenied,
            Failure::Status { .. } => FailureKind::Http,
            Failure::Network(_) | Failure::Stalled(_) | Failure::Truncated { .. } => {
                FailureKind::Network
            }
            Failure::Tls(_) => FailureKind::Tls,
            Failure::Mismatch(_) | Failure::Changed(_) => FailureKind::Integrity,
            Failure::Io { err, .. } if is_disk_full(err) => FailureKind::DiskFull,
            Failure::Io { .. } => FailureKind::LocalIo,
            Failure::Unsafe(_) => FailureKind::UnsafePath,
            Failure::Protocol(_) => FailureKind::Protocol,
            Failure::Cancelled => FailureKind::Cancelled,
        }
    }

    /// What happened, for a person; `uri` names the object and `endpoint` the server (`None`
    /// for a file at a plain URL, which names its server itself).
    pub fn describe(&self, uri: &str, endpoint: Option<&str>) -> String {
        let from = endpoint.map(|e| format!(" from {e}")).unwrap_or_default();
        let server = endpoint.unwrap_or("the server");
        match self {
            Failure::Status {
                status: 404, code, ..
            } => {
                let code = code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
                match endpoint {
                    Some(e) => format!(
                        "{uri} was not found at {e} (HTTP 404{code}); check the bucket and the source location \
                         (AWS or GCS) or the endpoint"
                    ),
                    None => format!("{uri} was not found (HTTP 404{code})"),
                }
            }
            Failure::Status {
                status: 403, code, ..
            } => {
                let code = code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
                match endpoint {
                    Some(e) => format!(
                        "access to {uri} was denied by {e} (HTTP 403{code}); IDC buckets are public, so the bucket \
                         name or the endpoint is probably wrong"
                    ),
                    None => format!("access to {uri} was denied (HTTP 403{code})"),
                }
            }
            Failure::Status {
                status,
                code,
                message,
            } => {
                let mut s = format!("{server} answered HTTP {status} for {uri}");
                if let Some(c) = code {
                    s.push_str(&format!(" ({c}"));
                    if let Some(m) = message {
                        s.push_str(&format!(": {m}"));
                    }
                    s.push(')');
                }
                s
            }
            Failure::Network(m) => format!("network error reading {uri}{from}: {m}"),
            Failure::Tls(m) => format!(
                "the TLS certificate of {server} is not trusted, reading {uri} ({m}). If a proxy on this network \
                 re-signs HTTPS, set SSL_CERT_FILE to its CA bundle (PEM); run again after that, not before"
            ),
            Failure::Stalled(d) => {
                format!(
                    "no data for {:.1} s while reading {uri}{from} (stalled)",
                    d.as_secs_f64()
                )
            }
            Failure::Truncated { got, want } => {
                format!(
                    "the connection closed after {got} of {want} bytes of {uri} (truncated body)"
                )
            }
            Failure::Mismatch(m) => format!("{uri}: {m}"),
            Failure::Changed(m) => {
                format!("{uri} changed while it was downloaded ({m}); run the download again")
            }
            Failure::Io { doing, path, err } if is_disk_full(err) => {
                let free = free_space(path)
                    .map(|b| format!(" ({} free)", human_bytes(b)))
                    .unwrap_or_default();
                format!(
                    "no space left on the device while {doing} {}{free}: {err}; free some space or choose another \
                     download directory, then run again (files already written are kept and skipped)",
                    path.display()
                )
            }
            Failure::Io { doing, path, err }
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                format!(
                    "cannot write while {doing} {}: {err}; choose a download directory you can write to",
                    path.display()
                )
            }
            Failure::Io { doing, path, err } => {
                format!("error while {doing} {}: {err}", path.display())
            }
            Failure::Unsafe(m) => m.clone(),
            Failure::Protocol(m) => format!("unexpected answer from {server} for {uri}: {m}"),
            Failure::Cancelled => format!("{uri}: cancelled before it completed"),
        }
    }
}

/// `1.5 GB`-style sizes for messages (decimal units, as disk tools show them).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_kinds() {
        let slow = Failure::Status {
            status: 503,
            code: Some("SlowDown".into()),
            message: None,
        };
        assert_eq!(slow.class(), ErrorClass::SlowDown);
        assert_eq!(slow.kind(), FailureKind::Http);
        let nf = Failure::Status {
            status: 404,
            code: Some("NoSuchKey".into()),
            message: None,
        };
        assert_eq!(nf.class(), ErrorClass::Permanent);
        assert_eq!(nf.kind(), FailureKind::NotFound);
        assert!(nf
            .describe("s3://b/k", Some("http://h"))
            .contains("not found"));
        assert_eq!(
            Failure::Truncated { got: 1, want: 2 }.class(),
            ErrorClass::Transient
        );
        assert_eq!(
            Failure::Stalled(Duration::from_secs(1)).class(),
            ErrorClass::Transient
        );
        assert_eq!(Failure::Mismatch("x".into()).class(), ErrorClass::Transient);
        assert_eq!(Failure::Mismatch("x".into()).kind(), FailureKind::Integrity);
        let full = Failure::io(
            "writing",
            std::path::Path::new("/tmp/x"),
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert_eq!(full.class(), ErrorClass::Fatal);
        assert_eq!(full.kind(), FailureKind::DiskFull);
        assert!(full
            .describe("s3://b/k", Some("e"))
            .contains("free some space"));
        let denied = Failure::io(
            "creating",
            std::path::Path::new("/x"),
            std::io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(denied.class(), ErrorClass::Permanent);
        assert!(denied
            .describe("u", Some("e"))
            .contains("choose a download directory you can write to"));
        let ro = Failure::io(
            "creating",
            std::path::Path::new("/x"),
            std::io::Error::from_raw_os_error(libc::EROFS),
        );
        assert_eq!(ro.kind(), FailureKind::LocalIo);
        assert!(ro
            .describe("u", Some("e"))
            .contains("choose a download directory you can write to"));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_bytes(2_000_000_000_000), "2.0 TB");
    }
}
