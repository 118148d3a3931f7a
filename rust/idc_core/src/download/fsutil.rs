//! Local file operations of the downloader: temporary files and their rename into place,
//! directories checked to stay inside the root, positional writes, preallocation.
//! The synchronous ones block, so async callers run them through [`blocking`] (`open_temp`
//! and [`PositionalWriter`] do so themselves).

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

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

/// Write the pieces of `data` to a fresh temporary file and rename it to `dest`, in one
/// blocking step.
pub(crate) fn write_new(
    data: &[Bytes],
    fsync: bool,
    temp: &Path,
    dest: &Path,
) -> Result<(), Failure> {
    let f = create_temp(temp)?;
    write_all_vectored_at(&f, data, 0).map_err(|e| Failure::io("writing", temp, e))?;
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
