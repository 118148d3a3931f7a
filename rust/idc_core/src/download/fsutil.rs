//! Local file operations of the downloader: temporary files and their rename into place,
//! directories checked to stay inside the root, positional writes, preallocation, free space.
//! All of them block, so async callers run them through [`blocking`].

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::failure::Failure;

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

/// Create the temporary file afresh: a leftover of a killed run is replaced, and an existing
/// symbolic link under the temporary name is removed rather than followed.
pub(crate) fn create_temp(temp: &Path) -> Result<File, Failure> {
    let create = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(temp)
    };
    match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(temp).map_err(|e| Failure::io("removing", temp, e))?;
            create()
        }
        other => other,
    }
    .map_err(|e| Failure::io("creating", temp, e))
}

/// [`create_temp`], with `preallocate` bytes reserved, on a blocking thread.
pub(crate) async fn open_temp(temp: &Path, preallocate: Option<u64>) -> Result<Arc<File>, Failure> {
    let t = temp.to_path_buf();
    blocking(move || {
        let f = create_temp(&t)?;
        if let Some(len) = preallocate {
            self::preallocate(&f, len).map_err(|e| Failure::io("allocating space for", &t, e))?;
        }
        Ok(Arc::new(f))
    })
    .await
}

/// Make the verified temporary file the final one (after an fsync when asked).
pub(crate) fn rename_into_place<F: std::borrow::Borrow<File>>(
    file: F,
    fsync: bool,
    temp: &Path,
    dest: &Path,
) -> Result<(), Failure> {
    if fsync {
        file.borrow()
            .sync_all()
            .map_err(|e| Failure::io("flushing", temp, e))?;
    }
    drop(file);
    std::fs::rename(temp, dest)
        .map_err(|e| Failure::io("renaming the finished download to", dest, e))
}

/// Write `data` to a fresh temporary file and rename it to `dest`, in one blocking step.
pub(crate) fn write_new(data: &[u8], fsync: bool, temp: &Path, dest: &Path) -> Result<(), Failure> {
    let mut f = create_temp(temp)?;
    io::Write::write_all(&mut f, data).map_err(|e| Failure::io("writing", temp, e))?;
    rename_into_place(f, fsync, temp, dest)
}

/// Remove a temporary file if it is there.
pub(crate) fn remove_temp(temp: &Path) -> Result<(), Failure> {
    match std::fs::remove_file(temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Failure::io("removing", temp, e)),
        _ => Ok(()),
    }
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

/// Bytes available to this user on the file system holding `path` (or its nearest existing
/// ancestor), when the platform tells.
pub fn free_space(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut p = Some(path);
        while let Some(dir) = p {
            if dir.exists() {
                let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
                let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
                // SAFETY: `c` is a valid NUL-terminated path and `st` a valid out pointer.
                let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
                if rc != 0 {
                    return None;
                }
                // SAFETY: statvfs succeeded and filled `st`.
                let st = unsafe { st.assume_init() };
                // The field types differ between platforms (u32 on some 32-bit ones).
                #[allow(clippy::unnecessary_cast)]
                return Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64));
            }
            p = dir.parent();
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Buffers writes to one region of a file and hands them to a blocking thread in large blocks.
pub struct PositionalWriter {
    file: Arc<File>,
    offset: u64,
    buf: Vec<u8>,
    block: usize,
}

impl PositionalWriter {
    pub fn new(file: Arc<File>, offset: u64, block: usize, first_capacity: usize) -> Self {
        Self {
            file,
            offset,
            buf: Vec::with_capacity(first_capacity.min(block)),
            block,
        }
    }

    /// Buffer `data`; returns the region of the file written, if a block was written.
    pub async fn write(&mut self, data: &[u8]) -> io::Result<Option<(u64, u64)>> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.block {
            return self.flush().await;
        }
        Ok(None)
    }

    /// Write what is buffered; returns the region of the file written, if any.
    pub async fn flush(&mut self) -> io::Result<Option<(u64, u64)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let buf = std::mem::take(&mut self.buf);
        let file = Arc::clone(&self.file);
        let offset = self.offset;
        let mut buf =
            tokio::task::spawn_blocking(move || write_all_at(&file, &buf, offset).map(|()| buf))
                .await
                .map_err(|e| io::Error::other(format!("the writer thread stopped: {e}")))??;
        let region = (offset, offset + buf.len() as u64);
        self.offset = region.1;
        buf.clear();
        self.buf = buf;
        Ok(Some(region))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preallocate_and_write_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = File::create(&path).unwrap();
        preallocate(&f, 10).unwrap();
        write_all_at(&f, b"world", 5).unwrap();
        write_all_at(&f, b"hello", 0).unwrap();
        drop(f);
        assert_eq!(std::fs::read(&path).unwrap(), b"helloworld");
        let mut back = [0u8; 4];
        read_exact_at(&File::open(&path).unwrap(), &mut back, 3).unwrap();
        assert_eq!(&back, b"lowo");
        assert!(free_space(&dir.path().join("not/yet/there")).unwrap() > 0);
    }
}
