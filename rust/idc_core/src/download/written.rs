//! The files a run has written or found present, for its report, in memory that does not grow
//! with their number: compact records ([`FileRecord`]: what the files of a folder share is held
//! once, in a [`Folder`]), sorted by path in runs of [`RUN_LEN`] and written to an unlinked
//! temporary file as each run fills, then merged into one sorted file when the run ends
//! ([`Written::finish`]). [`FileRecords`] reads them back, in path order, a block at a time.
//! When no temporary file can be made, the records stay in memory.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::report::FileStatus;
use super::verify::Verification;

/// Records sorted and written out at once; also the most a run holds in memory.
const RUN_LEN: usize = 1 << 16;
/// Records per block of the merged file: a read decodes one block.
const BLOCK: usize = 256;

/// A file that is at its destination, complete and verified. Compact: its folder, bucket, key
/// prefix and series are shared with the other files of its folder; only its name is its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    folder: Arc<Folder>,
    /// The key after the folder's key prefix.
    name: Box<str>,
    /// The file's name, when it is not `name`.
    file_name: Option<Box<str>>,
    pub size: u64,
    pub status: FileStatus,
    pub verification: Verification,
    sop_instance_uid: Option<Arc<str>>,
}

/// What the files of one folder have in common, and its number (what a record written to disk
/// keeps of its folder). Two folders are the same by what they hold, whatever their numbers.
#[derive(Debug)]
struct Folder {
    id: u32,
    dir: PathBuf,
    bucket: Arc<str>,
    /// The keys up to their last `/` (included).
    key_prefix: String,
    series_instance_uid: Option<Arc<str>>,
}

impl Folder {
    fn identity(&self) -> (&Path, &str, &str, Option<&str>) {
        (
            &self.dir,
            &self.bucket,
            &self.key_prefix,
            self.series_instance_uid.as_deref(),
        )
    }
}

impl PartialEq for Folder {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for Folder {}

impl Hash for Folder {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl FileRecord {
    /// Where the file is.
    pub fn path(&self) -> PathBuf {
        self.folder.dir.join(self.file_name())
    }

    fn file_name(&self) -> &OsStr {
        OsStr::new(self.file_name.as_deref().unwrap_or(&self.name))
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

/// The folders of the records, each held once, numbered in the order they came.
#[derive(Debug, Default)]
struct Folders {
    set: HashSet<Arc<Folder>>,
    list: Vec<Arc<Folder>>,
}

impl Folders {
    fn get(&mut self, mut folder: Folder) -> Arc<Folder> {
        if let Some(f) = self.set.get(&folder) {
            return Arc::clone(f);
        }
        folder.id = self.list.len() as u32;
        let f = Arc::new(folder);
        self.set.insert(Arc::clone(&f));
        self.list.push(Arc::clone(&f));
        f
    }
}

/// The records of a run as it goes.
#[derive(Debug)]
pub(crate) struct Written {
    /// Records sorted and written out at once.
    run_len: usize,
    folders: Folders,
    /// The run being filled.
    run: Vec<FileRecord>,
    /// Runs written out, each sorted: a file and its number of records.
    runs: Vec<(File, usize)>,
    /// No temporary file could be made: everything stays in `run`.
    in_memory: bool,
    /// The bytes of the files recorded, downloaded and found present.
    bytes: ByteTotals,
}

/// The bytes of the files a run recorded, by how they came to be on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteTotals {
    pub downloaded: u64,
    pub present: u64,
}

impl Default for Written {
    fn default() -> Self {
        Self::with_run_len(RUN_LEN)
    }
}

impl Written {
    fn with_run_len(run_len: usize) -> Self {
        Self {
            run_len,
            folders: Folders::default(),
            run: Vec::new(),
            runs: Vec::new(),
            in_memory: false,
            bytes: ByteTotals::default(),
        }
    }

    /// Record the file at `path`, object `key` of `bucket`. When the run is full, it is
    /// returned, to be written out ([`write_run`]) and handed back ([`Written::written`]).
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn add(
        &mut self,
        path: &Path,
        bucket: Arc<str>,
        key: &str,
        size: u64,
        status: FileStatus,
        verification: Verification,
        series_instance_uid: Option<Arc<str>>,
        sop_instance_uid: Option<Arc<str>>,
    ) -> Option<Vec<FileRecord>> {
        match status {
            FileStatus::Downloaded => self.bytes.downloaded += size,
            FileStatus::AlreadyPresent => self.bytes.present += size,
        }
        let split = key.rfind('/').map_or(0, |i| i + 1);
        let (key_prefix, name) = key.split_at(split);
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let folder = self.folders.get(Folder {
            id: 0,
            dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
            bucket,
            key_prefix: key_prefix.to_string(),
            series_instance_uid,
        });
        self.run.push(FileRecord {
            folder,
            name: name.into(),
            file_name: (file_name != name).then(|| file_name.into()),
            size,
            status,
            verification,
            sop_instance_uid,
        });
        (self.run.len() >= self.run_len && !self.in_memory).then(|| std::mem::take(&mut self.run))
    }

    /// A run written out by [`write_run`], or, when it could not be, its records: they stay in
    /// memory, as every later one does (nothing is lost).
    pub fn written(&mut self, outcome: Result<(File, usize), Vec<FileRecord>>) {
        match outcome {
            Ok(run) => self.runs.push(run),
            Err(records) => {
                self.run.extend(records);
                self.in_memory = true;
            }
        }
    }

    /// Every record, sorted by path: the runs merged into one file (or, when nothing was
    /// written out, the run itself). Reads and writes files: not for async code.
    pub fn finish(mut self) -> FileRecords {
        if !self.runs.is_empty() && !self.run.is_empty() && !self.in_memory {
            let last = write_run(std::mem::take(&mut self.run));
            self.written(last);
        }
        let folders = Arc::new(std::mem::take(&mut self.folders).list);
        if self.runs.is_empty() || !self.run.is_empty() {
            return self.in_memory_records(folders);
        }
        match merge(std::mem::take(&mut self.runs), &folders) {
            Ok((file, len, blocks)) => FileRecords {
                stored: Arc::new(Stored::Disk(Disk {
                    file: Mutex::new(file),
                    len,
                    blocks,
                    folders,
                    last: Mutex::new(None),
                })),
                bytes: self.bytes,
            },
            Err(_) => self.in_memory_records(folders),
        }
    }

    /// Everything in memory: the runs written out read back and the run being filled.
    fn in_memory_records(mut self, folders: Arc<Vec<Arc<Folder>>>) -> FileRecords {
        for (file, len) in std::mem::take(&mut self.runs) {
            let mut reader = BufReader::new(file);
            for _ in 0..len {
                match decode(&mut reader, &folders) {
                    Ok(r) => self.run.push(r),
                    Err(_) => break, // only a failing disk: what it lost is not listed
                }
            }
        }
        self.run.sort_by(FileRecord::cmp_path);
        self.run.shrink_to_fit();
        FileRecords {
            stored: Arc::new(Stored::Memory(self.run)),
            bytes: self.bytes,
        }
    }
}

/// Sort a full run and write it to a temporary file of its own: the file and its number of
/// records, or, when no file can be written, the records. Writes a file: not for async code.
pub(crate) fn write_run(mut run: Vec<FileRecord>) -> Result<(File, usize), Vec<FileRecord>> {
    run.sort_by(FileRecord::cmp_path);
    let write = |run: &[FileRecord]| -> io::Result<File> {
        let mut out = BufWriter::new(tempfile::tempfile()?);
        let mut buf = Vec::new();
        for r in run {
            buf.clear();
            encode(r, &mut buf);
            out.write_all(&buf)?;
        }
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    };
    match write(&run) {
        Ok(file) => Ok((file, run.len())),
        Err(_) => Err(run),
    }
}

/// Merge sorted runs into one file; its length and the offset of every block of [`BLOCK`].
fn merge(runs: Vec<(File, usize)>, folders: &[Arc<Folder>]) -> io::Result<(File, usize, Vec<u64>)> {
    struct Head(FileRecord, usize);
    impl PartialEq for Head {
        fn eq(&self, o: &Self) -> bool {
            self.cmp(o) == Ordering::Equal
        }
    }
    impl Eq for Head {}
    impl PartialOrd for Head {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Head {
        fn cmp(&self, o: &Self) -> Ordering {
            self.0.cmp_path(&o.0).then(self.1.cmp(&o.1))
        }
    }
    let mut left: Vec<usize> = runs.iter().map(|(_, n)| *n).collect();
    let mut readers: Vec<BufReader<File>> = runs
        .into_iter()
        .map(|(f, _)| BufReader::with_capacity(64 << 10, f))
        .collect();
    let mut heap = BinaryHeap::new();
    for (i, reader) in readers.iter_mut().enumerate() {
        if left[i] > 0 {
            left[i] -= 1;
            heap.push(Reverse(Head(decode(reader, folders)?, i)));
        }
    }
    let mut out = BufWriter::new(tempfile::tempfile()?);
    let (mut len, mut offset, mut blocks, mut buf) = (0usize, 0u64, Vec::new(), Vec::new());
    while let Some(Reverse(Head(record, i))) = heap.pop() {
        if len.is_multiple_of(BLOCK) {
            blocks.push(offset);
        }
        buf.clear();
        encode(&record, &mut buf);
        out.write_all(&buf)?;
        offset += buf.len() as u64;
        len += 1;
        if left[i] > 0 {
            left[i] -= 1;
            heap.push(Reverse(Head(decode(&mut readers[i], folders)?, i)));
        }
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    Ok((file, len, blocks))
}

/// The records of a finished run, sorted by path; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct FileRecords {
    stored: Arc<Stored>,
    /// Summed as the records came, so that no pass over them is needed.
    bytes: ByteTotals,
}

enum Stored {
    Memory(Vec<FileRecord>),
    Disk(Disk),
}

impl Default for Stored {
    fn default() -> Self {
        Stored::Memory(Vec::new())
    }
}

struct Disk {
    file: Mutex<File>,
    len: usize,
    /// The offset of each block of [`BLOCK`] records.
    blocks: Vec<u64>,
    folders: Arc<Vec<Arc<Folder>>>,
    /// The block read last, decoded: reading in order decodes each block once.
    last: Mutex<Option<(usize, Arc<Vec<FileRecord>>)>>,
}

impl Disk {
    fn block(&self, b: usize) -> io::Result<Arc<Vec<FileRecord>>> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, records)) = &*last {
            if *n == b {
                return Ok(Arc::clone(records));
            }
        }
        let end = self.blocks.get(b + 1).copied();
        let count = BLOCK.min(self.len - b * BLOCK);
        let mut bytes = Vec::new();
        {
            let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
            file.seek(SeekFrom::Start(self.blocks[b]))?;
            match end {
                Some(end) => {
                    bytes.resize((end - self.blocks[b]) as usize, 0);
                    file.read_exact(&mut bytes)?;
                }
                None => {
                    file.read_to_end(&mut bytes)?;
                }
            }
        }
        let mut reader = bytes.as_slice();
        let records = (0..count)
            .map(|_| decode(&mut reader, &self.folders))
            .collect::<io::Result<Vec<_>>>()?;
        let records = Arc::new(records);
        *last = Some((b, Arc::clone(&records)));
        Ok(records)
    }
}

impl FileRecords {
    pub fn len(&self) -> usize {
        match &*self.stored {
            Stored::Memory(v) => v.len(),
            Stored::Disk(d) => d.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i` in path order; `None` past the end. Reading the file the records were
    /// written to can fail only as the disk under it does.
    pub fn get(&self, i: usize) -> Option<io::Result<FileRecord>> {
        if i >= self.len() {
            return None;
        }
        Some(match &*self.stored {
            Stored::Memory(v) => Ok(v[i].clone()),
            Stored::Disk(d) => d.block(i / BLOCK).map(|b| b[i % BLOCK].clone()),
        })
    }

    /// Every record in path order (one that cannot be read back ends the iteration early,
    /// which only a failing disk does).
    pub fn iter(&self) -> impl Iterator<Item = FileRecord> + '_ {
        (0..self.len()).map_while(|i| self.get(i).and_then(Result::ok))
    }

    /// The bytes of the files, downloaded and found present.
    pub fn bytes(&self) -> ByteTotals {
        self.bytes
    }

    /// Whether the records were written to a temporary file.
    pub fn on_disk(&self) -> bool {
        matches!(&*self.stored, Stored::Disk(_))
    }
}

impl fmt::Debug for FileRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileRecords({} files)", self.len())
    }
}

/// One record as bytes: folder number, size, status, verification, then the name, the file's
/// name and the SOPInstanceUID, each a length (`u32::MAX`: none) and its bytes.
fn encode(r: &FileRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.folder.id.to_le_bytes());
    out.extend_from_slice(&r.size.to_le_bytes());
    out.push(r.status as u8);
    out.push(r.verification as u8);
    let mut text = |t: Option<&[u8]>| match t {
        Some(t) => {
            out.extend_from_slice(&(t.len() as u32).to_le_bytes());
            out.extend_from_slice(t);
        }
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
    };
    text(Some(r.name.as_bytes()));
    text(r.file_name.as_deref().map(str::as_bytes));
    text(r.sop_instance_uid.as_deref().map(str::as_bytes));
}

fn decode(input: &mut impl Read, folders: &[Arc<Folder>]) -> io::Result<FileRecord> {
    let bad =
        |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("a file record {what}"));
    let mut fixed = [0u8; 14];
    input.read_exact(&mut fixed)?;
    let folder = u32::from_le_bytes(fixed[0..4].try_into().expect("4 bytes")) as usize;
    let size = u64::from_le_bytes(fixed[4..12].try_into().expect("8 bytes"));
    let status = match fixed[12] {
        s if s == FileStatus::Downloaded as u8 => FileStatus::Downloaded,
        s if s == FileStatus::AlreadyPresent as u8 => FileStatus::AlreadyPresent,
        _ => return Err(bad("has an unknown status")),
    };
    let verification = [
        Verification::SizeOnly,
        Verification::Md5,
        Verification::Crc32c,
        Verification::Crc32,
        Verification::Crc64Nvme,
        Verification::Sha256,
    ]
    .into_iter()
    .find(|v| *v as u8 == fixed[13])
    .ok_or_else(|| bad("has an unknown verification"))?;
    let mut text = || -> io::Result<Option<Vec<u8>>> {
        let mut n = [0u8; 4];
        input.read_exact(&mut n)?;
        let n = u32::from_le_bytes(n);
        if n == u32::MAX {
            return Ok(None);
        }
        let mut t = vec![0u8; n as usize];
        input.read_exact(&mut t)?;
        Ok(Some(t))
    };
    let name = text()?.ok_or_else(|| bad("has no name"))?;
    let file_name = text()?;
    let sop = text()?;
    let utf8 = |t: Vec<u8>| String::from_utf8(t).map_err(|_| bad("is not UTF-8"));
    Ok(FileRecord {
        folder: Arc::clone(folders.get(folder).ok_or_else(|| bad("names no folder"))?),
        name: utf8(name)?.into_boxed_str(),
        file_name: file_name.map(utf8).transpose()?.map(String::into_boxed_str),
        size,
        status,
        verification,
        sop_instance_uid: sop.map(utf8).transpose()?.map(Arc::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record a file as a run does: a full run is written out and handed back.
    fn add(w: &mut Written, path: &str, key: &str, size: u64) {
        let full = w.add(
            Path::new(path),
            Arc::from("idc-open-data"),
            key,
            size,
            FileStatus::Downloaded,
            Verification::Md5,
            Some(Arc::from("1.2.3")),
            size.is_multiple_of(2)
                .then(|| Arc::from(format!("1.2.3.{size}").as_str())),
        );
        if let Some(run) = full {
            w.written(write_run(run));
        }
    }

    #[test]
    fn a_record_gives_back_its_path_and_key_and_shares_its_folder() {
        let mut w = Written::default();
        add(&mut w, "/d/c/s/a.dcm", "uuid/a.dcm", 1);
        add(&mut w, "/d/c/s/renamed.dcm", "uuid/b.dcm", 2);
        add(&mut w, "/d/top.dcm", "top.dcm", 3);
        let files = w.finish();
        assert!(!files.on_disk());
        let [a, b, top]: [FileRecord; 3] = files.iter().collect::<Vec<_>>().try_into().unwrap();
        assert_eq!(
            (a.path(), a.key()),
            (PathBuf::from("/d/c/s/a.dcm"), "uuid/a.dcm".into())
        );
        assert_eq!(
            (b.path(), b.key()),
            (PathBuf::from("/d/c/s/renamed.dcm"), "uuid/b.dcm".into())
        );
        assert_eq!(
            (top.path(), top.key()),
            (PathBuf::from("/d/top.dcm"), "top.dcm".into())
        );
        assert!(Arc::ptr_eq(&a.folder, &b.folder) && !Arc::ptr_eq(&a.folder, &top.folder));
        assert!(a.file_name.is_none() && b.file_name.is_some());
        assert_eq!(
            (a.series_instance_uid(), a.sop_instance_uid()),
            (Some("1.2.3"), None)
        );
        assert_eq!(b.sop_instance_uid(), Some("1.2.3.2"));
        assert_eq!(std::mem::size_of::<FileRecord>(), 72);
    }

    fn paths() -> Vec<String> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut out: Vec<String> = (0..2_000)
            .map(|i| {
                let dir = ["/d/a", "/d/a/sub", "/d/ab", "/d/b", "/d"][rng.usize(0..5)];
                format!("{dir}/{i:05}-{}.dcm", rng.u32(..))
            })
            .collect();
        out.extend(["/d/a.dcm".into(), "/d/a/sub.dcm".into()]);
        rng.shuffle(&mut out);
        out
    }

    #[test]
    fn records_kept_in_memory_sort_as_their_paths_do() {
        let mut w = Written::default();
        let paths = paths();
        for (i, p) in paths.iter().enumerate() {
            add(&mut w, p, &format!("k/{i}"), i as u64);
        }
        let files = w.finish();
        assert!(!files.on_disk());
        let mut expected: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        expected.sort();
        assert_eq!(files.iter().map(|f| f.path()).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn records_written_out_in_runs_come_back_merged_in_path_order() {
        let mut w = Written::with_run_len(300);
        let paths = paths();
        for (i, p) in paths.iter().enumerate() {
            add(
                &mut w,
                p,
                &format!("k/{}", p.rsplit('/').next().unwrap()),
                i as u64,
            );
        }
        assert_eq!(w.runs.len(), paths.len() / 300);
        assert!(w.run.len() < 300, "a full run stays in memory");
        let files = w.finish();
        assert!(files.on_disk());
        assert_eq!(files.len(), paths.len());
        let total = (0..paths.len() as u64).sum();
        assert_eq!(
            files.bytes(),
            ByteTotals {
                downloaded: total,
                present: 0
            }
        );
        let mut expected: Vec<(PathBuf, u64)> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (PathBuf::from(p), i as u64))
            .collect();
        expected.sort();
        let got: Vec<(PathBuf, u64)> = files.iter().map(|f| (f.path(), f.size)).collect();
        assert_eq!(got, expected);
        // Read out of order, each record is the one at its place.
        for i in [1_999, 0, 256, 255, 1_000, 2_001] {
            let f = files.get(i).unwrap().unwrap();
            assert_eq!((f.path(), f.size), expected[i]);
            assert_eq!(
                f.key(),
                format!("k/{}", expected[i].0.file_name().unwrap().to_str().unwrap())
            );
            assert_eq!(f.sop_instance_uid().is_some(), f.size.is_multiple_of(2));
        }
        assert!(files.get(paths.len()).is_none());
    }
}
