//! How a failed attempt is treated: its class, and the class of an HTTP error status.
//!
//! Transient: HTTP 5xx, 429 and 408, S3's `SlowDown`, connection errors and resets, timeouts,
//! stalls, truncated bodies, a digest or size that does not match (corruption in transit).
//! Permanent: other 4xx (a missing or private object does not appear by asking again), a key
//! that would be written outside the destination, local file errors. Fatal: the disk is full,
//! which stops the whole run rather than failing every remaining file one by one.

/// How a failed attempt is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retry after a backoff.
    Transient,
    /// The server asked to slow down: retry after a longer backoff.
    SlowDown,
    /// Do not retry this file; report it.
    Permanent,
    /// Stop the whole run.
    Fatal,
}

/// The class of an HTTP error status, with the S3 error code from the body when there is one.
pub fn classify_status(status: u16, code: Option<&str>) -> ErrorClass {
    match (status, code) {
        (_, Some("SlowDown")) | (503, _) | (429, _) => ErrorClass::SlowDown,
        (
            _,
            Some(
                "RequestTimeout" | "InternalError" | "ServiceUnavailable" | "RequestTimeTooSkewed",
            ),
        ) => ErrorClass::Transient,
        (408, _) | (500..=599, _) => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(classify_status(503, Some("SlowDown")), ErrorClass::SlowDown);
        assert_eq!(classify_status(503, None), ErrorClass::SlowDown);
        assert_eq!(classify_status(429, None), ErrorClass::SlowDown);
        assert_eq!(
            classify_status(500, Some("InternalError")),
            ErrorClass::Transient
        );
        assert_eq!(classify_status(502, None), ErrorClass::Transient);
        assert_eq!(classify_status(504, None), ErrorClass::Transient);
        assert_eq!(classify_status(408, None), ErrorClass::Transient);
        assert_eq!(
            classify_status(400, Some("RequestTimeout")),
            ErrorClass::Transient
        );
        assert_eq!(
            classify_status(404, Some("NoSuchKey")),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify_status(403, Some("AccessDenied")),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify_status(400, Some("InvalidArgument")),
            ErrorClass::Permanent
        );
    }
}
