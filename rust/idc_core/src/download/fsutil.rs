//! Local file operations of the downloader: temporary files and their rename into place,
//! directories checked to stay inside the root, positional writes, preallocation.
//! The synchronous ones block, so async callers run them through [`blocking`]
//! ([`TempFile::open`] and [`PositionalWriter`] do so themselves).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::failure::Failure;
use super::plan::PARTIAL_SUFFIX;

/// Writes are handed to the blocking pool in blocks of this size.
pub(crate) const WRITE_BLOCK: usize = 4 << 20;

/// Run a file operation on tokio's blocking threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Failure::Protocol(format!(
            "a file operation stopped unexpectedly: {e}"
        )))
    })
}

/// A temporary file this run writes, held under an exclusive lock until it is renamed into
/// place or, when dropped unrenamed, removed.
///
/// Several processes may write the same destination at once (a rerun started while the first
/// still runs, overlapping job-array shards). Each claims the temporary name
/// `.<name>.idc-partial` by locking the file it creates there. A file found under that name
/// whose lock can be taken is a killed run's leftover and is replaced; one that is locked
/// belongs to a live writer, and this run writes under a name of its own
/// (`.<name>.<pid>-<n>.idc-partial`) instead. Each writer renames only its own file, after
/// verifying it, so the destination ends as one complete file whichever rename comes last.
pub(crate) struct TempFile {
    pub path: PathBuf,
    pub file: Arc<File>,
    renamed: bool,
}

impl TempFile {
    /// Claim the temporary file `temp` (from [`temp_path`](super::plan::temp_path)), with
    /// `preallocate` bytes reserved. Blocks: run it through [`blocking`].
    pub fn create(temp: &Path, preallocate: Option<u64>) -> Result<Self, Failure> {
        let (path, file) = claim(temp)?;
        let claimed = Self {
            path,
            file: Arc::new(file),
            renamed: false,
        };
        if let Some(len) = preallocate {
            self::preallocate(&claimed.file, len)
                .map_err(|e| Failure::io("allocating space for", &claimed.path, e))?;
        }
        Ok(claimed)
    }

    /// [`TempFile::create`] on a blocking thread.
    pub async fn open(temp: &Path, preallocate: Option<u64>) -> Result<Self, Failure> {
        let t = temp.to_path_buf();
        blocking(move || Self::create(&t, preallocate)).await
    }

    /// Make the verified file the final one (after an fsync when asked), still holding the
    /// lock, so that no other writer can take the name for a leftover meanwhile. Blocks.
    pub fn rename_into_place(mut self, fsync: bool, dest: &Path) -> Result<(), Failure> {
        if fsync {
            self.file
                .sync_all()
                .map_err(|e| Failure::io("flushing", &self.path, e))?;
        }
        std::fs::rename(&self.path, dest)
            .map_err(|e| Failure::io("renaming the finished download to", dest, e))?;
        self.renamed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.renamed {
            // Ours alone (it is locked, or has a name of its own): nobody else's work is lost.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The temporary name to write and its file, locked.
fn claim(temp: &Path) -> Result<(PathBuf, File), Failure> {
    for _ in 0..2 {
        match create_locked(temp) {
            Ok(Some(file)) => return Ok((temp.to_path_buf(), file)),
            // Created, but another writer locked it first (it took the file for a leftover
            // and is replacing it): leave the name to it.
            Ok(None) => break,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !replace_leftover(temp) {
                    break;
                }
            }
            Err(e) => return Err(Failure::io("creating", temp, e)),
        }
    }
    let own = own_name(temp);
    match create_locked(&own) {
        Ok(Some(file)) => Ok((own, file)),
        Ok(None) => Err(Failure::Protocol(format!(
            "{} is locked by another process although this process just created it",
            own.display()
        ))),
        Err(e) => Err(Failure::io("creating", &own, e)),
    }
}

/// A new file at `path` with this process's exclusive lock on it, or `None` when another
/// process locked it first.
fn create_locked(path: &Path) -> io::Result<Option<File>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    Ok(try_lock(&file).then_some(file))
}

/// Remove what is under `temp` if it is a killed run's leftover: a file whose lock can be
/// taken, or anything that is not a regular file (a symbolic link is removed, never
/// followed). False when a live writer holds it, or it cannot be removed.
fn replace_leftover(temp: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(temp) else {
        // Gone meanwhile: try the name again.
        return true;
    };
    if meta.is_file() {
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(temp)
        else {
            return false;
        };
        if !try_lock(&file) {
            return false;
        }
        // Removed while locked, so that no writer that opened it meanwhile can take it too.
        let removed = std::fs::remove_file(temp).is_ok();
        drop(file);
        return removed;
    }
    std::fs::remove_file(temp).is_ok()
}

fn try_lock(file: &File) -> bool {
    file.try_lock().is_ok()
}

/// `.<name>.<pid>-<n>.idc-partial` beside `temp` (`.<name>.idc-partial`): a name no other
/// process and no other file of this process uses.
fn own_name(temp: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = temp.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.strip_suffix(PARTIAL_SUFFIX).unwrap_or(&name);
    temp.with_file_name(format!("{stem}.{}-{n}{PARTIAL_SUFFIX}", std::process::id()))
}

/// Write the pieces of `data` to a fresh temporary file and rename it to `dest`, in one
/// blocking step.
pub(crate) fn write_new(
    data: &[Bytes],
    fsync: bool,
    temp: &Path,
    dest: &Path,
) -> Result<(), Failure> {
    let claimed = TempFile::create(temp, None)?;
    write_all_vectored_at(&claimed.file, data, 0)
        .map_err(|e| Failure::io("writing", &claimed.path, e))?;
    claimed.rename_into_place(fsync, dest)
}

/// Create `dir` and check that, symbolic links resolved, it is still inside `root` (canonical).
pub(crate) fn create_dir_inside(dir: &Path, root: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::io("creating the directory", dir, e))?;
    let real =
        std::fs::canonicalize(dir).map_err(|e| Failure::io("resolving the directory", dir, e))?;
    if !real.starts_with(root) {
        return Err(Failure::Unsafe(format!(
            "{} resolves to {}, outside the destination root {} (through a symbolic link); nothing is written there",
            dir.display(),
            real.display(),
            root.display()
        )));
    }
    Ok(())
}

/// Write all of `buf` at `offset` without moving a shared file position, so that several
/// ranges of one file can be written at once.
pub fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0usize;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_write(
                file,
                &buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the whole buffer",
                ));
            }
            done += n;
        }
        Ok(())
    }
}

/// Fill all of `buf` from `offset` without moving a shared file position.
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0usize;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file is shorter than expected",
                ));
            }
            done += n;
        }
        Ok(())
    }
}

/// Reserve `len` bytes for `file`: on Linux the blocks are allocated now, so a full disk shows
/// up before any byte is fetched; elsewhere (or where the file system cannot) the length is set.
pub fn preallocate(file: &File, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if len > 0 {
            let Ok(off_len) = libc::off_t::try_from(len) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "file too large for this platform",
                ));
            };
            // SAFETY: the descriptor is valid for the lifetime of `file`.
            let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, off_len) };
            match rc {
                0 => return Ok(()),
                libc::EOPNOTSUPP | libc::EINVAL => {}
                errno => return Err(io::Error::from_raw_os_error(errno)),
            }
        }
    }
    file.set_len(len)
}

/// Write all of `bufs`, one after the other, at `offset` without moving a shared file position:
/// the received pieces go to the file as they are, with no copy into a staging buffer.
pub fn write_all_vectored_at(file: &File, bufs: &[Bytes], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;
        // Linux and the BSDs take at most this many pieces per call (IOV_MAX).
        const MAX_PIECES: usize = 1024;
        let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        IoSlice::advance_slices(&mut rest, 0);
        let mut offset = offset;
        while !rest.is_empty() {
            let n = rest.len().min(MAX_PIECES);
            let Ok(at) = libc::off_t::try_from(offset) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "file offset too large for this platform",
                ));
            };
            // SAFETY: the descriptor is valid for the lifetime of `file`, and `IoSlice` has the
            // layout of `iovec` on Unix; `n` slices are readable for the call.
            let written = unsafe {
                libc::pwritev(
                    file.as_raw_fd(),
                    rest.as_ptr().cast::<libc::iovec>(),
                    n as libc::c_int,
                    at,
                )
            };
            if written < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if written == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the whole buffer",
                ));
            }
            offset += written as u64;
            IoSlice::advance_slices(&mut rest, written as usize);
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let mut offset = offset;
        for b in bufs {
            write_all_at(file, b, offset)?;
            offset += b.len() as u64;
        }
        Ok(())
    }
}

/// Collects the pieces written to one region of a file and hands them to a blocking thread
/// once they add up to a block, written in one vectored call.
pub struct PositionalWriter {
    file: Arc<File>,
    offset: u64,
    pieces: Vec<Bytes>,
    buffered: usize,
    block: usize,
}

impl PositionalWriter {
    pub fn new(file: Arc<File>, offset: u64, block: usize) -> Self {
        Self {
            file,
            offset,
            pieces: Vec::new(),
            buffered: 0,
            block,
        }
    }

    /// Keep `data`; returns the region of the file written, if a block was written.
    pub async fn write(&mut self, data: Bytes) -> io::Result<Option<(u64, u64)>> {
        self.buffered += data.len();
        self.pieces.push(data);
        if self.buffered >= self.block {
            return self.flush().await;
        }
        Ok(None)
    }

    /// Write what is kept; returns the region of the file written, if any.
    pub async fn flush(&mut self) -> io::Result<Option<(u64, u64)>> {
        if self.buffered == 0 {
            return Ok(None);
        }
        let pieces = std::mem::take(&mut self.pieces);
        let (file, offset) = (Arc::clone(&self.file), self.offset);
        tokio::task::spawn_blocking(move || write_all_vectored_at(&file, &pieces, offset))
            .await
            .map_err(|e| io::Error::other(format!("the writer thread stopped: {e}")))??;
        let region = (offset, offset + self.buffered as u64);
        self.offset = region.1;
        self.buffered = 0;
        Ok(Some(region))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_live_writers_temporary_file_is_left_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(".x.dcm.idc-partial");
        let first = TempFile::create(&temp, None).unwrap();
        assert_eq!(first.path, temp);
        let second = TempFile::create(&temp, None).unwrap();
        assert_ne!(second.path, temp);
        let name = second
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(".x.dcm.") && name.ends_with(PARTIAL_SUFFIX),
            "{name}"
        );
        write_all_at(&first.file, b"first", 0).unwrap();
        write_all_at(&second.file, b"second", 0).unwrap();
        // Each renames its own file; the last rename wins, and nothing else is left.
        first
            .rename_into_place(false, &dir.path().join("x.dcm"))
            .unwrap();
        second
            .rename_into_place(false, &dir.path().join("x.dcm"))
            .unwrap();
        assert_eq!(names(dir.path()), ["x.dcm"]);
        assert_eq!(std::fs::read(dir.path().join("x.dcm")).unwrap(), b"second");
    }

    #[test]
    fn a_dropped_temporary_file_removes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(".x.dcm.idc-partial");
        let first = TempFile::create(&temp, None).unwrap();
        let second = TempFile::create(&temp, None).unwrap();
        let own = second.path.clone();
        drop(second);
        assert!(!own.exists());
        assert!(temp.exists(), "the live writer's file stays");
        drop(first);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_killed_runs_leftover_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(".x.dcm.idc-partial");
        std::fs::write(&temp, b"left by a killed run").unwrap();
        let claimed = TempFile::create(&temp, Some(3)).unwrap();
        assert_eq!(claimed.path, temp);
        assert_eq!(std::fs::metadata(&temp).unwrap().len(), 3);
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_at_the_temporary_name_is_removed_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"keep").unwrap();
        let temp = dir.path().join(".x.dcm.idc-partial");
        std::os::unix::fs::symlink(&target, &temp).unwrap();
        let claimed = TempFile::create(&temp, None).unwrap();
        assert_eq!(claimed.path, temp);
        assert!(!std::fs::symlink_metadata(&temp)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn preallocate_and_write_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = File::create(&path).unwrap();
        preallocate(&f, 10).unwrap();
        write_all_at(&f, b"world", 5).unwrap();
        write_all_vectored_at(
            &f,
            &[
                Bytes::from_static(b"he"),
                Bytes::new(),
                Bytes::from_static(b"llo"),
            ],
            0,
        )
        .unwrap();
        drop(f);
        assert_eq!(std::fs::read(&path).unwrap(), b"helloworld");
        let mut back = [0u8; 4];
        read_exact_at(&File::open(&path).unwrap(), &mut back, 3).unwrap();
        assert_eq!(&back, b"lowo");
    }
}
