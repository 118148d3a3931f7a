//! Local files read with positional reads on files held open.
//!
//! DataFusion reads a parquet file through an object store, one range at a time: the footer,
//! then each bloom filter and each column chunk it needs. The object store for local files
//! opens the file, reads the range and closes it on the blocking thread pool for every range,
//! so a lookup that reads 50 bloom filters and 31 column chunks costs about 60 opens and 800
//! thread hand-offs. This store opens each file once and reads each range with one positional
//! read (`pread`), on the calling thread: the bytes come from the page cache.
//!
//! An open file is checked against the path at each `head` (DataFusion asks once per query and
//! file, when it lists the table's files): a file replaced since it was opened (a new release
//! moved into place, a damaged copy fetched again) is opened again. A file cut short in place
//! while it is read (by another program, or a disk that failed) is a read error that names the
//! file, never a crash: a memory map of it would raise SIGBUS on the first page past the new end.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, Error, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use futures::stream::{self, BoxStream};

const STORE: &str = "FileStore";

/// One open file, with the metadata it was opened with.
struct OpenFile {
    file: File,
    /// Size, modification time and identity (in the ETag): a file replaced by a rename is
    /// another file even when its size and time are the same.
    meta: ObjectMeta,
}

/// An object store over the local filesystem that reads ranges of files held open. Writes,
/// listings and deletes go to [`LocalFileSystem`].
pub struct FileStore {
    local: LocalFileSystem,
    files: Mutex<HashMap<PathBuf, Arc<OpenFile>>>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(STORE).finish_non_exhaustive()
    }
}

impl fmt::Display for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(STORE)
    }
}

impl Default for FileStore {
    fn default() -> Self {
        Self {
            local: LocalFileSystem::new(),
            files: Mutex::new(HashMap::new()),
        }
    }
}

impl FileStore {
    /// The open file of `location`; `check` compares it with the path first and opens the file
    /// again when it was replaced.
    fn open(&self, location: &Path, check: bool) -> Result<Arc<OpenFile>> {
        let path = self.local.path_to_filesystem(location)?;
        let cached = self.lock().get(&path).cloned();
        if let Some(f) = cached {
            if !check || f.is_current(&path, location)? {
                return Ok(f);
            }
        }
        let opened = Arc::new(OpenFile::open(&path, location)?);
        self.lock().insert(path, Arc::clone(&opened));
        Ok(opened)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<OpenFile>>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl OpenFile {
    fn open(path: &std::path::Path, location: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| io_error(e, location))?;
        let metadata = file.metadata().map_err(|e| io_error(e, location))?;
        Ok(Self {
            meta: object_meta(&metadata, location),
            file,
        })
    }

    fn is_current(&self, path: &std::path::Path, location: &Path) -> Result<bool> {
        let metadata = std::fs::metadata(path).map_err(|e| io_error(e, location))?;
        Ok(object_meta(&metadata, location) == self.meta)
    }

    /// The bytes of `range`, which must lie within the size the file had when it was opened.
    fn read(&self, range: Range<u64>, location: &Path) -> Result<Bytes> {
        let size = self.meta.size;
        if range.start > range.end || range.end > size {
            return Err(generic(format!(
                "range {}..{} is outside {location}, which has {size} bytes",
                range.start, range.end
            )));
        }
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        read_exact_at(&self.file, &mut buf, range.start).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                generic(format!(
                    "{location} is shorter than the {size} bytes it had when it was opened: \
                     it was cut short while in use"
                ))
            } else {
                generic(format!("{location} cannot be read: {e}"))
            }
        })?;
        Ok(Bytes::from(buf))
    }
}

/// Fill `buf` from `file` at `offset`, without moving a shared cursor (so that concurrent reads
/// of one file need no lock).
#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    // `seek_read` moves the handle's cursor, which no other reader of this store relies on.
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The file's identity: its inode where there is one (a file renamed into place has another).
#[cfg(unix)]
fn file_id(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn file_id(metadata: &std::fs::Metadata) -> u64 {
    // No stable file identity in std; the creation time changes when a file is replaced.
    metadata
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

fn generic(message: String) -> Error {
    Error::Generic {
        store: STORE,
        source: message.into(),
    }
}

fn object_meta(metadata: &std::fs::Metadata, location: &Path) -> ObjectMeta {
    let modified = metadata.modified().unwrap_or(std::time::UNIX_EPOCH);
    let micros = modified
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    ObjectMeta {
        location: location.clone(),
        last_modified: modified.into(),
        size: metadata.len(),
        e_tag: Some(format!(
            "{:x}-{micros:x}-{:x}",
            file_id(metadata),
            metadata.len()
        )),
        version: None,
    }
}

fn io_error(e: std::io::Error, location: &Path) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound {
            path: location.to_string(),
            source: Box::new(e),
        }
    } else {
        Error::Generic {
            store: STORE,
            source: Box::new(e),
        }
    }
}

#[async_trait]
impl ObjectStore for FileStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.local.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.local.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let conditional = options.if_match.is_some()
            || options.if_none_match.is_some()
            || options.if_modified_since.is_some()
            || options.if_unmodified_since.is_some()
            || options.version.is_some();
        if conditional {
            return self.local.get_opts(location, options).await;
        }
        let file = self.open(location, options.head)?;
        let range = match &options.range {
            Some(r) => r
                .as_range(file.meta.size)
                .map_err(|e| generic(e.to_string()))?,
            None => 0..file.meta.size,
        };
        let payload = if options.head {
            Bytes::new()
        } else {
            file.read(range.clone(), location)?
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream::once(async move { Ok(payload) }))),
            attributes: Default::default(),
            range,
            meta: file.meta.clone(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let file = self.open(location, false)?;
        ranges
            .iter()
            .map(|r| file.read(r.clone(), location))
            .collect()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.local.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.local.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.local.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.local.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::object_store::ObjectStoreExt;

    fn store_with(contents: &[u8]) -> (tempfile::TempDir, PathBuf, Path, FileStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.parquet");
        std::fs::write(&path, contents).unwrap();
        let location = Path::from_filesystem_path(&path).unwrap();
        (dir, path, location, FileStore::default())
    }

    #[tokio::test]
    async fn reads_ranges_of_a_file_and_sees_it_replaced() {
        let (_dir, path, location, store) = store_with(b"0123456789");
        assert_eq!(store.get_range(&location, 2..5).await.unwrap(), &b"234"[..]);
        let ranges = store.get_ranges(&location, &[0..1, 8..10]).await.unwrap();
        assert_eq!(
            ranges,
            vec![Bytes::from_static(b"0"), Bytes::from_static(b"89")]
        );
        // A new file renamed into place is read at the next head, as a query's listing asks.
        let new = path.with_extension("new");
        std::fs::write(&new, b"abcdefghijkl").unwrap();
        std::fs::rename(&new, &path).unwrap();
        assert_eq!(store.head(&location).await.unwrap().size, 12);
        assert_eq!(
            store.get_range(&location, 10..12).await.unwrap(),
            &b"kl"[..]
        );
    }

    #[tokio::test]
    async fn a_file_cut_short_while_open_is_a_read_error_not_a_crash() {
        let (_dir, path, location, store) = store_with(&[7u8; 1 << 20]);
        assert_eq!(store.head(&location).await.unwrap().size, 1 << 20);
        // Cut short in place, as a failing disk or another program would: the same inode, so the
        // open file is still the one read. A memory map would raise SIGBUS here.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4096)
            .unwrap();
        assert_eq!(
            store.get_range(&location, 0..4096).await.unwrap().len(),
            4096
        );
        let err = store
            .get_range(&location, 8192..(1 << 20))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cut short while in use"), "{err}");
        assert!(err.to_string().contains("index.parquet"), "{err}");
    }
}
