//! Local files served from memory maps.
//!
//! DataFusion reads a parquet file through an object store, one range at a time: the footer,
//! then each bloom filter and each column chunk it needs. The object store for local files
//! opens the file, reads the range and closes it on the blocking thread pool for every range,
//! so a lookup that reads 50 bloom filters and 31 column chunks costs about 60 opens and 800
//! thread hand-offs. This store maps each file once and hands out slices of the mapping:
//! a range read is a pointer and a length, on the calling thread, with no copy.
//!
//! A mapping is checked against the file at each `head` (DataFusion asks once per query and
//! file, when it lists the table's files): a file replaced since it was mapped (a new release
//! moved into place) is mapped again. The index files are only ever replaced by a rename, never
//! rewritten in place, so a mapping never sees a file shrink under it.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
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
use memmap2::Mmap;

const STORE: &str = "MappedFileStore";

/// One mapped file, with the metadata it was mapped with.
struct Mapping {
    map: Arc<Mmap>,
    /// Size, modification time and inode (in the ETag): a file replaced by a rename has
    /// another inode even when its size and time are the same.
    meta: ObjectMeta,
}

/// Part of a mapping, owned by the `Bytes` handed out (the mapping lives as long as any part).
struct Slice {
    map: Arc<Mmap>,
    range: Range<usize>,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        &self.map[self.range.clone()]
    }
}

/// An object store over the local filesystem that reads through memory maps. Writes, listings
/// and deletes go to [`LocalFileSystem`].
pub struct MappedFileStore {
    local: LocalFileSystem,
    maps: Mutex<HashMap<PathBuf, Arc<Mapping>>>,
}

impl fmt::Debug for MappedFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(STORE).finish_non_exhaustive()
    }
}

impl fmt::Display for MappedFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(STORE)
    }
}

impl Default for MappedFileStore {
    fn default() -> Self {
        Self {
            local: LocalFileSystem::new(),
            maps: Mutex::new(HashMap::new()),
        }
    }
}

impl MappedFileStore {
    /// The mapping of `location`; `check` compares it with the file first and maps the file
    /// again when it was replaced.
    fn mapping(&self, location: &Path, check: bool) -> Result<Arc<Mapping>> {
        let path = self.local.path_to_filesystem(location)?;
        let cached = self.lock().get(&path).cloned();
        if let Some(m) = cached {
            if !check || m.is_current(&path, location)? {
                return Ok(m);
            }
        }
        let mapping = Arc::new(Mapping::open(&path, location)?);
        self.lock().insert(path, Arc::clone(&mapping));
        Ok(mapping)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Mapping>>> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Mapping {
    fn open(path: &std::path::Path, location: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| io_error(e, location))?;
        let metadata = file.metadata().map_err(|e| io_error(e, location))?;
        // SAFETY: the mapped files are index files that are replaced by renames, never
        // truncated or rewritten in place (see the module documentation).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| io_error(e, location))?;
        Ok(Self {
            map: Arc::new(map),
            meta: object_meta(&metadata, location),
        })
    }

    fn is_current(&self, path: &std::path::Path, location: &Path) -> Result<bool> {
        let metadata = std::fs::metadata(path).map_err(|e| io_error(e, location))?;
        Ok(object_meta(&metadata, location) == self.meta)
    }

    fn slice(&self, range: Range<u64>, location: &Path) -> Result<Bytes> {
        let size = self.map.len() as u64;
        if range.start > range.end || range.end > size {
            return Err(Error::Generic {
                store: STORE,
                source: format!(
                    "range {}..{} is outside {location}, which has {size} bytes",
                    range.start, range.end
                )
                .into(),
            });
        }
        Ok(Bytes::from_owner(Slice {
            map: Arc::clone(&self.map),
            range: range.start as usize..range.end as usize,
        }))
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
            metadata.ino(),
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
impl ObjectStore for MappedFileStore {
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
        let mapping = self.mapping(location, options.head)?;
        let range = match &options.range {
            Some(r) => r.as_range(mapping.meta.size).map_err(|e| Error::Generic {
                store: STORE,
                source: e.to_string().into(),
            })?,
            None => 0..mapping.meta.size,
        };
        let payload = if options.head {
            Bytes::new()
        } else {
            mapping.slice(range.clone(), location)?
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream::once(async move { Ok(payload) }))),
            attributes: Default::default(),
            range,
            meta: mapping.meta.clone(),
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mapping = self.mapping(location, false)?;
        ranges
            .iter()
            .map(|r| mapping.slice(r.clone(), location))
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
