//! What a download tells when it ends: every file on disk, every failure with its reason.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::failure::FailureKind;
use super::limit::ConcurrencyStats;
use super::verify::Verification;

/// How a listed file ended up on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Fetched by this run.
    Downloaded,
    /// Found at its destination, complete, and left alone.
    AlreadyPresent,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Downloaded => "downloaded",
            FileStatus::AlreadyPresent => "already_present",
        }
    }
}

/// A file that is at its destination, complete and verified. A run keeps one per file until
/// its report, so it is compact: its folder, bucket, key prefix and series are shared with
/// the other files of its folder (see [`Shared`]); only its name is its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    folder: Arc<Folder>,
    /// The key after the folder's key prefix.
    name: Box<str>,
    /// The file's name, when it is not `name`.
    file_name: Option<Box<OsStr>>,
    pub size: u64,
    pub status: FileStatus,
    pub verification: Verification,
    sop_instance_uid: Option<Arc<str>>,
}

/// What the files of one folder have in common.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Folder {
    dir: PathBuf,
    bucket: Arc<str>,
    /// The keys up to their last `/` (included).
    key_prefix: String,
    series_instance_uid: Option<Arc<str>>,
}

/// The folders of the records made so far, each held once.
#[derive(Debug, Default)]
pub struct Shared {
    folders: HashSet<Arc<Folder>>,
}

impl FileRecord {
    /// The record of the file at `path`, object `key` of `bucket`, its folder taken from (or
    /// added to) `shared`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: &mut Shared,
        path: &Path,
        bucket: Arc<str>,
        key: &str,
        size: u64,
        status: FileStatus,
        verification: Verification,
        series_instance_uid: Option<Arc<str>>,
        sop_instance_uid: Option<Arc<str>>,
    ) -> Self {
        let split = key.rfind('/').map_or(0, |i| i + 1);
        let (key_prefix, name) = key.split_at(split);
        let file_name = path.file_name().unwrap_or_default();
        let folder = Folder {
            dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
            bucket,
            key_prefix: key_prefix.to_string(),
            series_instance_uid,
        };
        let folder = match shared.folders.get(&folder) {
            Some(f) => Arc::clone(f),
            None => {
                let f = Arc::new(folder);
                shared.folders.insert(Arc::clone(&f));
                f
            }
        };
        Self {
            folder,
            name: name.into(),
            file_name: (file_name != OsStr::new(name)).then(|| file_name.into()),
            size,
            status,
            verification,
            sop_instance_uid,
        }
    }

    /// Where the file is.
    pub fn path(&self) -> PathBuf {
        self.folder.dir.join(self.file_name())
    }

    fn file_name(&self) -> &OsStr {
        self.file_name
            .as_deref()
            .unwrap_or_else(|| OsStr::new(&*self.name))
    }

    pub fn bucket(&self) -> &str {
        &self.folder.bucket
    }

    /// The object's key.
    pub fn key(&self) -> String {
        format!("{}{}", self.folder.key_prefix, self.name)
    }

    pub fn series_instance_uid(&self) -> Option<&str> {
        self.folder.series_instance_uid.as_deref()
    }

    pub fn sop_instance_uid(&self) -> Option<&str> {
        self.sop_instance_uid.as_deref()
    }

    /// The order of the records' paths, without making them.
    fn cmp_path(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.folder, &other.folder) {
            return self.file_name().cmp(other.file_name());
        }
        self.components().cmp(other.components())
    }

    fn components(&self) -> impl Iterator<Item = Component<'_>> {
        let name = Component::Normal(self.file_name());
        self.folder.dir.components().chain(std::iter::once(name))
    }
}

/// A file (or a whole prefix, when its listing failed) that is not at its destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedFile {
    pub bucket: String,
    /// The object key, or the prefix when the listing itself failed.
    pub key: String,
    /// Where it would have been written, when known.
    pub path: Option<PathBuf>,
    pub kind: FailureKind,
    /// What happened and what to do, for a person.
    pub reason: String,
    /// Requests made for it (0 when none was).
    pub attempts: u32,
    pub series_instance_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
}

/// The outcome of one download.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every file written or already present, sorted by path.
    pub files: Vec<FileRecord>,
    /// Every failure, sorted by bucket and key.
    pub failed: Vec<FailedFile>,
    pub bytes_downloaded: u64,
    pub bytes_present: u64,
    pub seconds: f64,
    /// The caller cancelled the download.
    pub cancelled: bool,
    /// Why the run stopped early on its own (the disk is full), if it did.
    pub stopped: Option<String>,
    /// Items never begun because the run was cancelled or stopped (a series not listed yet
    /// counts as one): a rerun fetches them. Those under way are in `failed`.
    pub not_started: u64,
    /// What the limit of requests in flight did: where it started, its peak, its decreases.
    pub concurrency: ConcurrencyStats,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && !self.cancelled && self.stopped.is_none()
    }

    /// The report of finished files and failures: sorted, with the byte totals summed.
    pub(crate) fn assemble(
        mut files: Vec<FileRecord>,
        mut failed: Vec<FailedFile>,
        seconds: f64,
        cancelled: bool,
        stopped: Option<String>,
        not_started: u64,
        concurrency: ConcurrencyStats,
    ) -> Report {
        files.sort_by(FileRecord::cmp_path);
        files.shrink_to_fit();
        failed.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
        let sum = |status: FileStatus| {
            files
                .iter()
                .filter(|f| f.status == status)
                .map(|f| f.size)
                .sum()
        };
        Report {
            bytes_downloaded: sum(FileStatus::Downloaded),
            bytes_present: sum(FileStatus::AlreadyPresent),
            files,
            failed,
            seconds,
            cancelled,
            stopped,
            not_started,
            concurrency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(shared: &mut Shared, path: &str, key: &str) -> FileRecord {
        FileRecord::new(
            shared,
            Path::new(path),
            Arc::from("idc-open-data"),
            key,
            1,
            FileStatus::Downloaded,
            Verification::Md5,
            Some(Arc::from("1.2.3")),
            None,
        )
    }

    #[test]
    fn a_record_gives_back_its_path_and_key_and_shares_its_folder() {
        let mut shared = Shared::default();
        let a = record(&mut shared, "/d/c/s/a.dcm", "uuid/a.dcm");
        let b = record(&mut shared, "/d/c/s/renamed.dcm", "uuid/b.dcm");
        let top = record(&mut shared, "/d/top.dcm", "top.dcm");
        assert_eq!(a.path(), Path::new("/d/c/s/a.dcm"));
        assert_eq!(a.key(), "uuid/a.dcm");
        assert_eq!(b.path(), Path::new("/d/c/s/renamed.dcm"));
        assert_eq!(b.key(), "uuid/b.dcm");
        assert_eq!(
            (top.path(), top.key()),
            (PathBuf::from("/d/top.dcm"), "top.dcm".into())
        );
        assert!(Arc::ptr_eq(&a.folder, &b.folder) && !Arc::ptr_eq(&a.folder, &top.folder));
        assert!(a.file_name.is_none() && b.file_name.is_some());
        assert_eq!(a.series_instance_uid(), Some("1.2.3"));
        assert_eq!(std::mem::size_of::<FileRecord>(), 72);
    }

    #[test]
    fn records_sort_as_their_paths_do() {
        let mut shared = Shared::default();
        let paths = [
            "/d/b/x.dcm",
            "/d/a/sub/y.dcm",
            "/d/a/z.dcm",
            "/d/a.dcm",
            "/d/a/b.dcm",
            "/d/ab/c.dcm",
            "/d/a/sub.dcm",
        ];
        let mut records: Vec<FileRecord> = paths
            .iter()
            .map(|p| record(&mut shared, p, &format!("k{p}")))
            .collect();
        records.sort_by(FileRecord::cmp_path);
        let mut expected: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        expected.sort();
        assert_eq!(
            records.iter().map(FileRecord::path).collect::<Vec<_>>(),
            expected
        );
    }
}
