//! What to download and where: plan items, and the path rules that keep every file inside the
//! destination root whatever a key, an index value or a template contains.

use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

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

/// The items of a plan, read one at a time by their index. The core reads each item twice:
/// once to check the whole plan before the first request, and again when its turn comes; so
/// a plan is never held as one value per item (the binding reads items from the plan's Arrow
/// table, which a million series keep in a few hundred MB, not in gigabytes of strings).
pub trait PlanSource: Send + Sync {
    /// How many items the plan has.
    fn len(&self) -> usize;
    /// Whether the plan has no item.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Item `index` (below [`Self::len`]), or why it is not an item (named in the message).
    fn item(&self, index: usize) -> Result<PlanItem, String>;
}

impl PlanSource for Vec<PlanItem> {
    fn len(&self) -> usize {
        <[PlanItem]>::len(self)
    }
    fn item(&self, index: usize) -> Result<PlanItem, String> {
        Ok(self[index].clone())
    }
}

/// A plan item whose destination has been checked and made absolute under the canonical root.
pub(crate) struct ResolvedItem {
    pub item: PlanItem,
    pub destination: PathBuf,
}

/// A checked plan: the indices of its items to fetch (in order, exact repeats dropped), each
/// read again from the source when its turn comes.
pub(crate) struct ResolvedPlan {
    source: Arc<dyn PlanSource>,
    pub kept: Vec<usize>,
    root: PathBuf,
    canon_root: PathBuf,
}

impl ResolvedPlan {
    /// Item `index` of the source with its checked destination.
    pub fn get(&self, index: usize) -> Result<ResolvedItem, String> {
        let item = self.source.item(index)?;
        let destination = resolve_one(&item, &self.root, &self.canon_root)?;
        Ok(ResolvedItem { item, destination })
    }
}

/// Check every item of `source` against `root` (absolute, normalised, and `canon_root` once
/// symbolic links are resolved) and drop exact repeats; `each` sees every kept item once.
/// `Err` names up to five bad items. Holds a hash and an index per item, not the items.
pub(crate) fn resolve(
    source: Arc<dyn PlanSource>,
    root: &Path,
    canon_root: &Path,
    mut each: impl FnMut(&PlanItem),
) -> Result<ResolvedPlan, String> {
    let mut problems = Vec::new();
    let mut kept = Vec::with_capacity(source.len());
    // The first item of each hash of (bucket, source, destination): an item whose hash was seen
    // is a repeat if it equals that item (another item of the same hash is kept).
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(source.len());
    for index in 0..source.len() {
        let resolved = source.item(index).and_then(|item| {
            let dest = resolve_one(&item, root, canon_root)?;
            Ok((item, dest))
        });
        let (item, dest) = match resolved {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let mut hasher = DefaultHasher::new();
        (&item.bucket, &item.source, &dest).hash(&mut hasher);
        let repeat = match seen.entry(hasher.finish()) {
            Entry::Vacant(v) => {
                v.insert(index);
                false
            }
            Entry::Occupied(first) => source.item(*first.get()).is_ok_and(|f| {
                f.bucket == item.bucket
                    && f.source == item.source
                    && resolve_one(&f, root, canon_root).is_ok_and(|d| d == dest)
            }),
        };
        if !repeat {
            each(&item);
            kept.push(index);
        }
    }
    if problems.is_empty() {
        return Ok(ResolvedPlan {
            source,
            kept,
            root: root.to_path_buf(),
            canon_root: canon_root.to_path_buf(),
        });
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn object(key: &str, dest: &str) -> PlanItem {
        PlanItem {
            bucket: "idc-open-data".into(),
            source: Source::Object(key.into()),
            destination: dest.into(),
            size: Some(1),
            series_instance_uid: None,
            sop_instance_uid: None,
            sha256: None,
        }
    }

    /// A plan that counts the items read from it, as the binding's Arrow table is read.
    struct Counted(Vec<PlanItem>, AtomicUsize);

    impl PlanSource for Counted {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn item(&self, index: usize) -> Result<PlanItem, String> {
            self.1.fetch_add(1, Ordering::Relaxed);
            if self.0[index].bucket.is_empty() {
                return Err(format!("row {index} has no bucket"));
            }
            Ok(self.0[index].clone())
        }
    }

    #[test]
    fn a_checked_plan_keeps_indices_drops_repeats_and_reads_items_again() {
        let root = normalise_root(Path::new("/data/dl")).unwrap();
        let items = vec![
            object("s/1.dcm", "a/1.dcm"),
            object("s/2.dcm", "a/2.dcm"),
            object("s/1.dcm", "a/./1.dcm"), // the first again: same object, same file
            object("s/1.dcm", "b/1.dcm"),   // the same object to another file: kept
        ];
        let source = Arc::new(Counted(items, AtomicUsize::new(0)));
        let mut seen = Vec::new();
        let plan = resolve(source.clone(), &root, &root, |item| {
            seen.push(item.destination.clone())
        })
        .unwrap();
        assert_eq!(plan.kept, vec![0, 1, 3]);
        assert_eq!(seen, ["a/1.dcm", "a/2.dcm", "b/1.dcm"].map(PathBuf::from));
        let read = source.1.load(Ordering::Relaxed);
        let third = plan.get(3).unwrap();
        assert_eq!(third.destination, PathBuf::from("/data/dl/b/1.dcm"));
        assert_eq!(source.1.load(Ordering::Relaxed), read + 1); // read from the source again
    }

    #[test]
    fn a_plan_with_bad_items_names_them() {
        let root = normalise_root(Path::new("/data/dl")).unwrap();
        let mut bad = object("s/3.dcm", "c/3.dcm");
        bad.bucket = String::new();
        let items = vec![
            object("s/1.dcm", "../escape.dcm"),
            object("s/2.dcm", "a/2.dcm"),
            bad,
        ];
        let err = resolve(Arc::new(items.clone()), &root, &root, |_| {})
            .err()
            .unwrap();
        assert!(err.contains("outside the destination root"), "{err}");
        let counted = Arc::new(Counted(items, AtomicUsize::new(0)));
        let err = resolve(counted, &root, &root, |_| {}).err().unwrap();
        assert!(err.contains("row 2 has no bucket"), "{err}");
    }

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
