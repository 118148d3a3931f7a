//! What a downloaded object must match: its size always, its MD5 and CRC32C whenever the
//! server states them (the ETag of a single-part upload, the `x-goog-hash` header of GCS).
//! Digests are computed while the bytes stream, so verifying costs no second read.

use base64::Engine as _;
use md5::{Digest, Md5};

/// The properties an object is known to have, gathered from its listing and response headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub size: Option<u64>,
    pub md5: Option<[u8; 16]>,
    pub crc32c: Option<u32>,
}

impl Expected {
    /// Add what `other` knows. A value that contradicts one already known means the object
    /// changed between two requests: the message says which property differs.
    pub fn merge(&mut self, other: &Expected) -> Result<(), String> {
        fn one<T: PartialEq + Copy + std::fmt::Debug>(
            mine: &mut Option<T>,
            theirs: Option<T>,
            what: &str,
        ) -> Result<(), String> {
            match (*mine, theirs) {
                (Some(a), Some(b)) if a != b => {
                    Err(format!("its {what} changed from {a:?} to {b:?}"))
                }
                (None, Some(b)) => {
                    *mine = Some(b);
                    Ok(())
                }
                _ => Ok(()),
            }
        }
        one(&mut self.size, other.size, "size")?;
        one(&mut self.md5, other.md5, "MD5")?;
        one(&mut self.crc32c, other.crc32c, "CRC32C")?;
        Ok(())
    }

    /// Whether any digest is known (size alone does not count).
    pub fn has_digest(&self) -> bool {
        self.md5.is_some() || self.crc32c.is_some()
    }
}

/// The MD5 stated by an ETag: S3 (and GCS's XML API) use the hex MD5 of the content for objects
/// uploaded in one part. Multipart ETags (`"<hex>-<parts>"`), weak ETags and anything that is not
/// 32 hex digits say nothing about the content and give `None`.
pub fn md5_from_etag(etag: &str) -> Option<[u8; 16]> {
    let t = etag.trim();
    if t.starts_with("W/") {
        return None;
    }
    let t = t.trim_matches('"');
    if t.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in t.as_bytes().chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Read one `x-goog-hash` header value (`crc32c=<base64>,md5=<base64>`; GCS may also send the
/// two as separate headers) into `into`. Unknown or malformed entries are ignored.
pub fn parse_goog_hash(value: &str, into: &mut Expected) {
    let b64 = base64::engine::general_purpose::STANDARD;
    for part in value.split(',') {
        let Some((name, encoded)) = part.trim().split_once('=') else {
            continue;
        };
        let Ok(bytes) = b64.decode(encoded.trim()) else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "crc32c" if bytes.len() == 4 => {
                into.crc32c = Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
            }
            "md5" if bytes.len() == 16 => {
                let mut m = [0u8; 16];
                m.copy_from_slice(&bytes);
                into.md5 = Some(m);
            }
            _ => {}
        }
    }
}

/// Lower-case hex, for messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Digests computed while streaming; only those that can be checked are computed.
pub struct Hasher {
    md5: Option<Md5>,
    crc32c: Option<u32>,
    len: u64,
}

/// The result of a [`Hasher`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Computed {
    pub len: u64,
    pub md5: Option<[u8; 16]>,
    pub crc32c: Option<u32>,
}

impl Hasher {
    pub fn new(md5: bool, crc32c: bool) -> Self {
        Self {
            md5: md5.then(Md5::new),
            crc32c: crc32c.then_some(0),
            len: 0,
        }
    }

    /// A hasher for whatever `expected` can check.
    pub fn for_expected(expected: &Expected) -> Self {
        Self::new(expected.md5.is_some(), expected.crc32c.is_some())
    }

    pub fn update(&mut self, data: &[u8]) {
        if let Some(m) = self.md5.as_mut() {
            m.update(data);
        }
        if let Some(c) = self.crc32c.as_mut() {
            *c = crc32c::crc32c_append(*c, data);
        }
        self.len += data.len() as u64;
    }

    pub fn finish(self) -> Computed {
        Computed {
            len: self.len,
            md5: self.md5.map(|m| {
                let digest = m.finalize();
                let mut out = [0u8; 16];
                out.copy_from_slice(digest.as_slice());
                out
            }),
            crc32c: self.crc32c,
        }
    }
}

/// How a file was verified, strongest evidence named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    SizeOnly,
    Md5,
    Crc32c,
    Md5AndCrc32c,
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::SizeOnly => "size",
            Verification::Md5 => "md5",
            Verification::Crc32c => "crc32c",
            Verification::Md5AndCrc32c => "md5+crc32c",
        }
    }
}

/// Compare what was received with what was expected. `Err` carries a message naming the
/// property that differs, with both values.
pub fn check(expected: &Expected, computed: &Computed) -> Result<Verification, String> {
    if let Some(size) = expected.size {
        if size != computed.len {
            return Err(format!(
                "size mismatch: expected {size} bytes, received {}",
                computed.len
            ));
        }
    }
    let mut md5_ok = false;
    let mut crc_ok = false;
    if let (Some(want), Some(got)) = (expected.md5, computed.md5) {
        if want != got {
            return Err(format!(
                "MD5 mismatch: expected {}, computed {}",
                hex(&want),
                hex(&got)
            ));
        }
        md5_ok = true;
    }
    if let (Some(want), Some(got)) = (expected.crc32c, computed.crc32c) {
        if want != got {
            return Err(format!(
                "CRC32C mismatch: expected {want:08x}, computed {got:08x}"
            ));
        }
        crc_ok = true;
    }
    Ok(match (md5_ok, crc_ok) {
        (true, true) => Verification::Md5AndCrc32c,
        (true, false) => Verification::Md5,
        (false, true) => Verification::Crc32c,
        (false, false) => Verification::SizeOnly,
    })
}

/// MD5 of a file, read in 1 MiB blocks (blocking: call from a blocking thread).
pub fn md5_file(path: &std::path::Path) -> std::io::Result<[u8; 16]> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(h.finalize().as_slice());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_part_etag_gives_md5() {
        let m = md5_from_etag("\"d41d8cd98f00b204e9800998ecf8427e\"").unwrap();
        assert_eq!(hex(&m), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_from_etag("D41D8CD98F00B204E9800998ECF8427E"), Some(m));
    }

    #[test]
    fn multipart_weak_and_odd_etags_give_nothing() {
        assert_eq!(
            md5_from_etag("\"d41d8cd98f00b204e9800998ecf8427e-3\""),
            None
        );
        assert_eq!(
            md5_from_etag("W/\"d41d8cd98f00b204e9800998ecf8427e\""),
            None
        );
        assert_eq!(md5_from_etag("\"5f3a1c2b-1000\""), None);
        assert_eq!(md5_from_etag("\"zz1d8cd98f00b204e9800998ecf8427e\""), None);
        assert_eq!(md5_from_etag(""), None);
    }

    #[test]
    fn goog_hash_both_forms() {
        // Empty content: crc32c = 0, md5 = d41d8cd9...
        let mut e = Expected::default();
        parse_goog_hash("crc32c=AAAAAA==,md5=1B2M2Y8AsgTpgAmY7PhCfg==", &mut e);
        assert_eq!(e.crc32c, Some(0));
        assert_eq!(hex(&e.md5.unwrap()), "d41d8cd98f00b204e9800998ecf8427e");

        // GCS sends big-endian CRC32C and MD5, each base64, possibly in two headers.
        let crc = crc32c::crc32c(b"hello");
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut e = Expected::default();
        parse_goog_hash(&format!("crc32c={}", b64.encode(crc.to_be_bytes())), &mut e);
        parse_goog_hash("md5=XUFAKrxLKna5cZ2REBfFkg==", &mut e);
        assert_eq!(e.crc32c, Some(crc));
        assert_eq!(crc, 0x9a71_bb4c);
        assert_eq!(hex(&e.md5.unwrap()), "5d41402abc4b2a76b9719d911017c592");

        let mut e = Expected::default();
        parse_goog_hash("crc32c=not base64!,md5=AAAA,sha1=xyz", &mut e);
        assert_eq!(e, Expected::default());
    }

    #[test]
    fn hasher_and_check() {
        let mut h = Hasher::new(true, true);
        h.update(b"hel");
        h.update(b"lo");
        let c = h.finish();
        assert_eq!(c.len, 5);
        assert_eq!(hex(&c.md5.unwrap()), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(c.crc32c, Some(crc32c::crc32c(b"hello")));

        let mut exp = Expected {
            size: Some(5),
            ..Default::default()
        };
        assert_eq!(check(&exp, &c), Ok(Verification::SizeOnly));
        exp.md5 = md5_from_etag("5d41402abc4b2a76b9719d911017c592");
        assert_eq!(check(&exp, &c), Ok(Verification::Md5));
        exp.crc32c = Some(crc32c::crc32c(b"hello"));
        assert_eq!(check(&exp, &c), Ok(Verification::Md5AndCrc32c));
        exp.crc32c = Some(1);
        assert!(check(&exp, &c).unwrap_err().contains("CRC32C mismatch"));
        exp.crc32c = None;
        exp.md5 = Some([0; 16]);
        assert!(check(&exp, &c).unwrap_err().contains("MD5 mismatch"));
        exp.size = Some(6);
        assert!(check(&exp, &c)
            .unwrap_err()
            .contains("expected 6 bytes, received 5"));
    }

    #[test]
    fn merge_detects_changes() {
        let mut a = Expected {
            size: Some(5),
            md5: None,
            crc32c: None,
        };
        a.merge(&Expected {
            size: Some(5),
            md5: Some([1; 16]),
            crc32c: None,
        })
        .unwrap();
        assert_eq!(a.md5, Some([1; 16]));
        let err = a
            .merge(&Expected {
                size: Some(6),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.contains("size changed"), "{err}");
    }
}
