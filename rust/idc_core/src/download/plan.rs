//! What to download and where: plan items, and the path rules that keep every file inside the
//! destination root whatever a key, an index value or a template contains.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// Where the objects of one plan item come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Every object under this prefix (a series: `<crdc_series_uuid>/`), listed first.
    /// The destination is a directory; each object is written under its key minus the prefix.
    Prefix(String),
    /// One object (an instance: `<crdc_series_uuid>/<crdc_instance_uuid>.dcm`).
    /// The destination is the file path.
    Object(String),
    /// One file at a plain `http(s)://` URL, not in a bucket (a published index file); the
    /// item's bucket is empty. The destination is the file path.
    Url(String),
}

/// One unit of a download plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanItem {
    pub bucket: String,
    pub source: Source,
    /// A directory for [`Source::Prefix`], a file path for [`Source::Object`]. Relative paths are
    /// taken relative to the destination root; absolute ones must lie inside it.
    pub destination: PathBuf,
    /// For an object, its exact size when known (lets a rerun skip it without a request and
    /// sends large objects to parallel ranged requests); for a prefix, the expected total size,
    /// used only for progress until the listing is done.
    pub size: Option<u64>,
    /// Copied into the report of every file of this item.
    pub series_instance_uid: Option<String>,
    /// Copied into the report (meaningful for object items).
    pub sop_instance_uid: Option<String>,
    /// The file's SHA-256, for an object or URL whose content the plan knows (a release
    /// manifest states it for each index file): checked instead of what the server states.
    pub sha256: Option<[u8; 32]>,
}

impl PlanItem {
    /// `s3://bucket/prefix-or-key`, or the URL, for messages.
    pub fn uri(&self) -> String {
        match &self.source {
            Source::Prefix(p) | Source::Object(p) => format!("s3://{}/{}", self.bucket, p),
            Source::Url(url) => url.clone(),
        }
    }
}

/// A plan item whose destination has been checked and made absolute under the canonical root.
pub(crate) struct ResolvedItem {
    pub item: PlanItem,
    pub destination: PathBuf,
}

/// Check every item of `plan` against `root` (absolute, normalised, and `canon_root` once
/// symbolic links are resolved) and drop exact repeats. `Err` names up to five bad items.
pub(crate) fn resolve(
    plan: Vec<PlanItem>,
    root: &Path,
    canon_root: &Path,
) -> Result<Vec<ResolvedItem>, String> {
    let mut problems = Vec::new();
    let mut resolved = Vec::with_capacity(plan.len());
    let mut seen = std::collections::HashSet::new();
    for item in plan {
        match resolve_one(&item, root, canon_root) {
            Ok(dest) => {
                if seen.insert((item.bucket.clone(), item.source.clone(), dest.clone())) {
                    resolved.push(ResolvedItem {
                        item,
                        destination: dest,
                    });
                }
            }
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        return Ok(resolved);
    }
    let n = problems.len();
    let mut msg = problems.into_iter().take(5).collect::<Vec<_>>().join("; ");
    if n > 5 {
        msg.push_str(&format!("; and {} more", n - 5));
    }
    Err(msg)
}

fn resolve_one(item: &PlanItem, root: &Path, canon_root: &Path) -> Result<PathBuf, String> {
    let (key, is_prefix) = match &item.source {
        Source::Prefix(p) => (p, true),
        Source::Object(k) => (k, false),
        Source::Url(url) => {
            check_url(url)?;
            if !item.bucket.is_empty() {
                return Err(format!(
                    "{url}: a URL item has no bucket, not {:?}",
                    item.bucket
                ));
            }
            let dest =
                inside_root(root, &item.destination, false).map_err(|e| format!("{url}: {e}"))?;
            return Ok(canon_root.join(dest.strip_prefix(root).unwrap_or(&dest)));
        }
    };
    check_bucket(&item.bucket)?;
    if key.is_empty() || key.starts_with('/') {
        return Err(format!(
            "{}: an empty or absolute key or prefix would list or name the whole bucket",
            item.uri()
        ));
    }
    if !is_prefix && key.ends_with('/') {
        return Err(format!("{}: an object key cannot end with '/'", item.uri()));
    }
    let dest = inside_root(root, &item.destination, is_prefix)
        .map_err(|e| format!("{}: {e}", item.uri()))?;
    // The canonical root is what files are checked against: keep destinations under it.
    Ok(canon_root.join(dest.strip_prefix(root).unwrap_or(&dest)))
}

/// The suffix of a file being written; a file with it is never complete.
pub const PARTIAL_SUFFIX: &str = ".idc-partial";

/// The temporary name of `path` while it is written: `.<name>.idc-partial` in the same
/// directory, so the final rename is atomic and a leftover cannot be mistaken for the file.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .unwrap_or_else(|| OsStr::new("object"))
        .to_string_lossy();
    path.with_file_name(format!(".{name}{PARTIAL_SUFFIX}"))
}

/// `path` without `.` and with `..` applied, purely lexically. `None` when `..` climbs above
/// the start of a relative path or above `/`.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    let mut depth = 0usize;
    for c in path.components() {
        match c {
            Component::Prefix(p) => out.push(p.as_os_str()),
            Component::RootDir => out.push(Component::RootDir.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return None;
                }
                out.pop();
                depth -= 1;
            }
            Component::Normal(n) => {
                out.push(n);
                depth += 1;
            }
        }
    }
    Some(out)
}

/// The absolute, normalised form of the destination root.
pub fn normalise_root(root: &Path) -> Result<PathBuf, String> {
    let abs = std::path::absolute(root).map_err(|e| {
        format!(
            "the destination root {} cannot be resolved: {e}",
            root.display()
        )
    })?;
    normalise(&abs).ok_or_else(|| {
        format!(
            "the destination root {} is not a valid path",
            root.display()
        )
    })
}

/// `dest` (relative to `root`, or absolute) as an absolute path, if it lies inside `root`
/// (`root` itself is allowed only when `allow_root`). `root` must come from [`normalise_root`].
pub fn inside_root(root: &Path, dest: &Path, allow_root: bool) -> Result<PathBuf, String> {
    let joined = if dest.is_absolute() {
        dest.to_path_buf()
    } else {
        root.join(dest)
    };
    let outside = || {
        format!(
            "{} is outside the destination root {}; destinations must stay inside it",
            dest.display(),
            root.display()
        )
    };
    let norm = normalise(&joined).ok_or_else(outside)?;
    if !norm.starts_with(root) || (!allow_root && norm == root) {
        return Err(outside());
    }
    Ok(norm)
}

/// The relative path an object of a prefix item is written to: its key without the prefix.
/// Every component must be a plain name (no `..`, `.`, empty component, backslash or NUL), so
/// that no key can climb out of the item's directory.
pub fn relative_name(prefix: &str, key: &str) -> Result<PathBuf, String> {
    let rest = key.strip_prefix(prefix).ok_or_else(|| {
        format!("the key {key:?} does not start with the listed prefix {prefix:?}")
    })?;
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        return Err(format!(
            "the key {key:?} names the prefix itself, not a file"
        ));
    }
    let mut out = PathBuf::new();
    for part in rest.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains(['\\', '\0']) {
            return Err(format!(
                "the key {key:?} contains the unsafe path component {part:?}; it is not written"
            ));
        }
        out.push(part);
    }
    Ok(out)
}

/// A URL the client fetches as it is: `http://` or `https://`, a host, nothing that would
/// make the request line ambiguous (white space, control characters) and no fragment.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.and_then(|r| r.split(['/', '?']).next()).unwrap_or("");
    if host.is_empty()
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
        || url.contains('#')
    {
        return Err(format!(
            "{url:?} is not a URL to fetch; give one like 'https://example.org/releases/v1/index.parquet'"
        ));
    }
    Ok(())
}

/// Bucket names that can be put in a URL path as they are: S3's rules (3-63 characters,
/// lower-case letters, digits, dots, hyphens; underscores for legacy buckets).
pub fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok_len = (3..=63).contains(&bucket.len());
    let ok_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
    let ok_ends = bucket
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && bucket
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_ends {
        Ok(())
    } else {
        Err(format!(
            "{bucket:?} is not a valid bucket name (3-63 lower-case letters, digits, '.', '-'); \
             IDC buckets are for example 'idc-open-data'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_hidden_and_marked() {
        assert_eq!(
            temp_path(Path::new("/d/s/x.dcm")),
            PathBuf::from("/d/s/.x.dcm.idc-partial")
        );
    }

    #[test]
    fn destinations_stay_inside_the_root() {
        let root = normalise_root(Path::new("/data/dl")).unwrap();
        assert_eq!(
            inside_root(&root, Path::new("a/b"), false).unwrap(),
            PathBuf::from("/data/dl/a/b")
        );
        assert_eq!(
            inside_root(&root, Path::new("a/./c/../b"), false).unwrap(),
            PathBuf::from("/data/dl/a/b")
        );
        assert_eq!(
            inside_root(&root, Path::new("/data/dl/x"), false).unwrap(),
            PathBuf::from("/data/dl/x")
        );
        assert_eq!(
            inside_root(&root, Path::new("."), true).unwrap(),
            PathBuf::from("/data/dl")
        );
        for bad in [
            "../x",
            "a/../../x",
            "/data/dlx/y",
            "/etc/passwd",
            "/data/dl/../x",
            ".",
            "",
        ] {
            let err = inside_root(&root, Path::new(bad), false).unwrap_err();
            assert!(err.contains("outside the destination root"), "{bad}: {err}");
        }
    }

    #[test]
    fn relative_root_is_made_absolute() {
        let root = normalise_root(Path::new("rel/./dir")).unwrap();
        assert!(root.is_absolute());
        assert!(root.ends_with("rel/dir"));
    }

    #[test]
    fn key_names() {
        assert_eq!(
            relative_name("s/", "s/i.dcm").unwrap(),
            PathBuf::from("i.dcm")
        );
        assert_eq!(
            relative_name("s", "s/i.dcm").unwrap(),
            PathBuf::from("i.dcm")
        );
        assert_eq!(
            relative_name("s/", "s/sub/i.dcm").unwrap(),
            PathBuf::from("sub/i.dcm")
        );
        for bad in [
            "s/../x",
            "s/a/../../x",
            "s/./x",
            "s/a//b",
            "s/a\\..\\b",
            "s/",
        ] {
            assert!(relative_name("s/", bad).is_err(), "{bad}");
        }
        assert!(relative_name("s/", "t/x").is_err());
    }

    #[test]
    fn urls() {
        for ok in [
            "https://example.org/v1/idc_index.parquet",
            "http://127.0.0.1:8000/f.parquet",
            "https://github.com/o/r/releases/download/v1/x.parquet?raw=1",
        ] {
            check_url(ok).unwrap();
        }
        for bad in [
            "",
            "ftp://h/f",
            "https://",
            "https:///f",
            "http://h/a b",
            "http://h/f#x",
            "s3://b/k",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn buckets() {
        for ok in [
            "idc-open-data",
            "idc-open-data-cr",
            "idc-open-idc1",
            "my.bucket_1",
        ] {
            check_bucket(ok).unwrap();
        }
        for bad in [
            "",
            "ab",
            "Idc",
            "a/b",
            "-abc",
            "abc-",
            "a?b=c",
            &"x".repeat(64),
        ] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
    }
}
