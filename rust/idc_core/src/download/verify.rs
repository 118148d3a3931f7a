//! What a downloaded object must match: its size always, and one checksum the server states,
//! the cheapest to compute of those stated: CRC32C (`x-goog-hash` of GCS,
//! `x-amz-checksum-crc32c` of S3), CRC32, CRC64NVME, then MD5 (the ETag of a single-part upload,
//! or `x-goog-hash`). A SHA-256 that the plan states (a release manifest's, for an index file)
//! is checked instead of any of those. Checksums are computed as the bytes stream, so
//! verifying costs no second read.

use base64::Engine as _;
use md5::{Digest, Md5};
use sha2::Sha256;

/// The checksums a server may state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Crc32c,
    Crc32,
    Crc64Nvme,
    Md5,
    Sha256,
}

impl Algorithm {
    /// Whether the checksum of a whole object can be combined from those of its ranges (so
    /// ranges can be checked as they land, in any order).
    pub fn combinable(self) -> bool {
        matches!(self, Algorithm::Crc32c | Algorithm::Crc32)
    }
}

/// One computed or stated checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    Crc32c(u32),
    Crc32(u32),
    Crc64Nvme(u64),
    Md5([u8; 16]),
    Sha256([u8; 32]),
}

/// The properties an object is known to have, gathered from its listing and response headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub size: Option<u64>,
    pub md5: Option<[u8; 16]>,
    pub crc32c: Option<u32>,
    pub crc32: Option<u32>,
    pub crc64nvme: Option<u64>,
    /// Stated only by a plan that knows the content (never by a server's headers).
    pub sha256: Option<[u8; 32]>,
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
        one(&mut self.crc32, other.crc32, "CRC32")?;
        one(&mut self.crc64nvme, other.crc64nvme, "CRC64NVME")?;
        one(&mut self.sha256, other.sha256, "SHA-256")?;
        Ok(())
    }

    /// Forget every checksum (only the size is checked).
    pub fn without_checksums(mut self) -> Self {
        self.md5 = None;
        self.crc32c = None;
        self.crc32 = None;
        self.crc64nvme = None;
        self.sha256 = None;
        self
    }

    /// The checksum to compute: a SHA-256 the plan states (it names the content the plan
    /// wants, where a server's checksum only shows the transfer was whole), else the stated
    /// checksum that is cheapest to compute: CRC32C and CRC32 run at many GB/s per core with
    /// the processor's instructions, CRC64NVME close to that, MD5 at a few hundred MB/s.
    pub fn cheapest(&self) -> Option<Algorithm> {
        if self.sha256.is_some() {
            Some(Algorithm::Sha256)
        } else if self.crc32c.is_some() {
            Some(Algorithm::Crc32c)
        } else if self.crc32.is_some() {
            Some(Algorithm::Crc32)
        } else if self.crc64nvme.is_some() {
            Some(Algorithm::Crc64Nvme)
        } else if self.md5.is_some() {
            Some(Algorithm::Md5)
        } else {
            None
        }
    }

    fn stated(&self, algorithm: Algorithm) -> Option<Checksum> {
        match algorithm {
            Algorithm::Crc32c => self.crc32c.map(Checksum::Crc32c),
            Algorithm::Crc32 => self.crc32.map(Checksum::Crc32),
            Algorithm::Crc64Nvme => self.crc64nvme.map(Checksum::Crc64Nvme),
            Algorithm::Md5 => self.md5.map(Checksum::Md5),
            Algorithm::Sha256 => self.sha256.map(Checksum::Sha256),
        }
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

fn decode<const N: usize>(encoded: &str) -> Option<[u8; N]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    bytes.try_into().ok()
}

/// Read one `x-goog-hash` header value (`crc32c=<base64>,md5=<base64>`; GCS may also send the
/// two as separate headers) into `into`. Unknown or malformed entries are ignored.
pub fn parse_goog_hash(value: &str, into: &mut Expected) {
    for part in value.split(',') {
        let Some((name, encoded)) = part.trim().split_once('=') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "crc32c" => {
                if let Some(b) = decode::<4>(encoded) {
                    into.crc32c = Some(u32::from_be_bytes(b));
                }
            }
            "md5" => {
                if let Some(b) = decode::<16>(encoded) {
                    into.md5 = Some(b);
                }
            }
            _ => {}
        }
    }
}

/// The S3 checksum headers a GET or HEAD with `x-amz-checksum-mode: ENABLED` may carry.
pub const AMZ_CHECKSUM_HEADERS: [&str; 3] = [
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc64nvme",
];

/// Read the value of the S3 checksum header `name` (base64, big-endian) into `into`. Composite
/// checksums of multipart uploads (`<base64>-<parts>`) are not checksums of the content and are
/// ignored, as are malformed values.
pub fn parse_amz_checksum(name: &str, value: &str, into: &mut Expected) {
    match name {
        "x-amz-checksum-crc32c" => {
            if let Some(b) = decode::<4>(value) {
                into.crc32c = Some(u32::from_be_bytes(b));
            }
        }
        "x-amz-checksum-crc32" => {
            if let Some(b) = decode::<4>(value) {
                into.crc32 = Some(u32::from_be_bytes(b));
            }
        }
        "x-amz-checksum-crc64nvme" => {
            if let Some(b) = decode::<8>(value) {
                into.crc64nvme = Some(u64::from_be_bytes(b));
            }
        }
        _ => {}
    }
}

/// Lower-case hex, for messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

enum State {
    None,
    Crc32c(u32),
    Crc32(crc32fast::Hasher),
    Crc64Nvme(crc64fast_nvme::Digest),
    Md5(Box<Md5>),
    Sha256(Box<Sha256>),
}

/// One checksum computed while streaming (or none: the length only).
pub struct Hasher {
    state: State,
    len: u64,
}

/// The result of a [`Hasher`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Computed {
    pub len: u64,
    pub checksum: Option<Checksum>,
}

impl Hasher {
    pub fn new(algorithm: Option<Algorithm>) -> Self {
        let state = match algorithm {
            None => State::None,
            Some(Algorithm::Crc32c) => State::Crc32c(0),
            Some(Algorithm::Crc32) => State::Crc32(crc32fast::Hasher::new()),
            Some(Algorithm::Crc64Nvme) => State::Crc64Nvme(crc64fast_nvme::Digest::new()),
            Some(Algorithm::Md5) => State::Md5(Box::new(Md5::new())),
            Some(Algorithm::Sha256) => State::Sha256(Box::new(Sha256::new())),
        };
        Self { state, len: 0 }
    }

    /// A hasher for the cheapest checksum `expected` states.
    pub fn for_expected(expected: &Expected) -> Self {
        Self::new(expected.cheapest())
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::None => {}
            State::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            State::Crc32(h) => h.update(data),
            State::Crc64Nvme(d) => d.write(data),
            State::Md5(m) => m.update(data),
            State::Sha256(h) => h.update(data),
        }
        self.len += data.len() as u64;
    }

    pub fn finish(self) -> Computed {
        let checksum = match self.state {
            State::None => None,
            State::Crc32c(c) => Some(Checksum::Crc32c(c)),
            State::Crc32(h) => Some(Checksum::Crc32(h.finalize())),
            State::Crc64Nvme(d) => Some(Checksum::Crc64Nvme(d.sum64())),
            State::Md5(m) => {
                let mut out = [0u8; 16];
                out.copy_from_slice(m.finalize().as_slice());
                Some(Checksum::Md5(out))
            }
            State::Sha256(h) => {
                let mut out = [0u8; 32];
                out.copy_from_slice(h.finalize().as_slice());
                Some(Checksum::Sha256(out))
            }
        };
        Computed {
            len: self.len,
            checksum,
        }
    }
}

/// The checksum of a whole object from those of its consecutive parts (each with its length),
/// for the algorithms that allow it.
pub fn combine(parts: &[(Checksum, u64)]) -> Option<Checksum> {
    let (first, _) = parts.first()?;
    match first {
        Checksum::Crc32c(_) => {
            let mut crc = 0u32;
            for (c, len) in parts {
                let Checksum::Crc32c(c) = c else { return None };
                crc = crc32c::crc32c_combine(crc, *c, *len as usize);
            }
            Some(Checksum::Crc32c(crc))
        }
        Checksum::Crc32(_) => {
            let mut whole = crc32fast::Hasher::new();
            for (c, len) in parts {
                let Checksum::Crc32(c) = c else { return None };
                whole.combine(&crc32fast::Hasher::new_with_initial_len(*c, *len));
            }
            Some(Checksum::Crc32(whole.finalize()))
        }
        Checksum::Crc64Nvme(_) | Checksum::Md5(_) | Checksum::Sha256(_) => None,
    }
}

/// How a file was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    SizeOnly,
    Md5,
    Crc32c,
    Crc32,
    Crc64Nvme,
    Sha256,
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::SizeOnly => "size",
            Verification::Md5 => "md5",
            Verification::Crc32c => "crc32c",
            Verification::Crc32 => "crc32",
            Verification::Crc64Nvme => "crc64nvme",
            Verification::Sha256 => "sha256",
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
    let Some(got) = computed.checksum else {
        return Ok(Verification::SizeOnly);
    };
    let (algorithm, verification) = match got {
        Checksum::Crc32c(_) => (Algorithm::Crc32c, Verification::Crc32c),
        Checksum::Crc32(_) => (Algorithm::Crc32, Verification::Crc32),
        Checksum::Crc64Nvme(_) => (Algorithm::Crc64Nvme, Verification::Crc64Nvme),
        Checksum::Md5(_) => (Algorithm::Md5, Verification::Md5),
        Checksum::Sha256(_) => (Algorithm::Sha256, Verification::Sha256),
    };
    match expected.stated(algorithm) {
        None => Ok(Verification::SizeOnly),
        Some(want) if want == got => Ok(verification),
        Some(want) => Err(match (want, got) {
            (Checksum::Md5(w), Checksum::Md5(g)) => {
                format!("MD5 mismatch: expected {}, computed {}", hex(&w), hex(&g))
            }
            (Checksum::Sha256(w), Checksum::Sha256(g)) => {
                format!(
                    "SHA-256 mismatch: expected {}, computed {}",
                    hex(&w),
                    hex(&g)
                )
            }
            (Checksum::Crc32c(w), Checksum::Crc32c(g)) => {
                format!("CRC32C mismatch: expected {w:08x}, computed {g:08x}")
            }
            (Checksum::Crc32(w), Checksum::Crc32(g)) => {
                format!("CRC32 mismatch: expected {w:08x}, computed {g:08x}")
            }
            (w, g) => format!("checksum mismatch: expected {w:x?}, computed {g:x?}"),
        }),
    }
}

/// The length and `algorithm`'s checksum of a file, read in 1 MiB blocks (blocking: call from
/// a blocking thread).
pub fn hash_file(path: &std::path::Path, algorithm: Algorithm) -> std::io::Result<Computed> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Hasher::new(Some(algorithm));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stated_sha256_is_what_is_checked() {
        let mut expected = Expected {
            size: Some(3),
            crc32c: Some(0x364b3fb7),
            ..Default::default()
        };
        let mut sha = [0u8; 32];
        // SHA-256 of "abc".
        for (i, b) in "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            .as_bytes()
            .chunks(2)
            .enumerate()
        {
            sha[i] = u8::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap();
        }
        expected.sha256 = Some(sha);
        assert_eq!(expected.cheapest(), Some(Algorithm::Sha256));
        let mut h = Hasher::for_expected(&expected);
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(check(&expected, &h.finish()), Ok(Verification::Sha256));
        let mut h = Hasher::for_expected(&expected);
        h.update(b"abd");
        let err = check(&expected, &h.finish()).unwrap_err();
        assert!(
            err.starts_with("SHA-256 mismatch: expected ba7816bf"),
            "{err}"
        );
        assert_eq!(expected.without_checksums().cheapest(), None);
    }

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

    fn hash(algorithm: Option<Algorithm>) -> Computed {
        let mut h = Hasher::new(algorithm);
        h.update(b"hel");
        h.update(b"lo");
        h.finish()
    }

    #[test]
    fn hasher_and_check() {
        let md5 = hash(Some(Algorithm::Md5));
        assert_eq!(md5.len, 5);
        let mut exp = Expected {
            size: Some(5),
            ..Default::default()
        };
        assert_eq!(exp.cheapest(), None);
        assert_eq!(check(&exp, &hash(None)), Ok(Verification::SizeOnly));
        exp.md5 = md5_from_etag("5d41402abc4b2a76b9719d911017c592");
        assert_eq!(exp.cheapest(), Some(Algorithm::Md5));
        assert_eq!(check(&exp, &md5), Ok(Verification::Md5));
        // With CRC32C stated as well, only CRC32C is computed and checked.
        exp.crc32c = Some(crc32c::crc32c(b"hello"));
        assert_eq!(exp.cheapest(), Some(Algorithm::Crc32c));
        let crc = hash(exp.cheapest());
        assert_eq!(crc.checksum, Some(Checksum::Crc32c(0x9a71_bb4c)));
        assert_eq!(check(&exp, &crc), Ok(Verification::Crc32c));
        exp.crc32c = Some(1);
        assert!(check(&exp, &crc).unwrap_err().contains("CRC32C mismatch"));
        exp.md5 = Some([0; 16]);
        assert!(check(&exp, &md5).unwrap_err().contains("MD5 mismatch"));
        exp.size = Some(6);
        assert!(check(&exp, &md5)
            .unwrap_err()
            .contains("expected 6 bytes, received 5"));
    }

    #[test]
    fn s3_checksum_headers() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut e = Expected::default();
        let crc32 = crc32fast::hash(b"hello");
        parse_amz_checksum(
            "x-amz-checksum-crc32",
            &b64.encode(crc32.to_be_bytes()),
            &mut e,
        );
        let mut d = crc64fast_nvme::Digest::new();
        d.write(b"hello");
        let crc64 = d.sum64();
        parse_amz_checksum(
            "x-amz-checksum-crc64nvme",
            &b64.encode(crc64.to_be_bytes()),
            &mut e,
        );
        // A composite checksum of a multipart upload says nothing about the content.
        parse_amz_checksum("x-amz-checksum-crc32c", "yZRlqg==-3", &mut e);
        assert_eq!(e.crc32c, None);
        assert_eq!(e.cheapest(), Some(Algorithm::Crc32));
        assert_eq!(
            check(&e, &hash(Some(Algorithm::Crc32))),
            Ok(Verification::Crc32)
        );
        e.crc32 = None;
        assert_eq!(check(&e, &hash(e.cheapest())), Ok(Verification::Crc64Nvme));
        e.crc64nvme = Some(crc64 ^ 1);
        assert!(check(&e, &hash(e.cheapest())).is_err());
    }

    #[test]
    fn part_checksums_combine() {
        let data = b"the quick brown fox jumps over the lazy dog";
        for algorithm in [Algorithm::Crc32c, Algorithm::Crc32] {
            let parts: Vec<(Checksum, u64)> = data
                .chunks(7)
                .map(|c| {
                    let mut h = Hasher::new(Some(algorithm));
                    h.update(c);
                    (h.finish().checksum.unwrap(), c.len() as u64)
                })
                .collect();
            let mut whole = Hasher::new(Some(algorithm));
            whole.update(data);
            assert_eq!(combine(&parts), whole.finish().checksum, "{algorithm:?}");
        }
        assert!(!Algorithm::Md5.combinable() && !Algorithm::Crc64Nvme.combinable());
    }

    #[test]
    fn merge_detects_changes() {
        let mut a = Expected {
            size: Some(5),
            ..Default::default()
        };
        a.merge(&Expected {
            size: Some(5),
            md5: Some([1; 16]),
            ..Default::default()
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
