//! The disk that downloads go to: whether a local I/O error means it is full, and how much
//! space is free on it (for the message that says so).

use std::path::Path;

/// Whether a local I/O error means the disk (or the user's quota) is full.
pub fn is_disk_full(err: &std::io::Error) -> bool {
    if err.kind() == std::io::ErrorKind::StorageFull
        || err.kind() == std::io::ErrorKind::QuotaExceeded
    {
        return true;
    }
    matches!(err.raw_os_error(), Some(code) if code == libc::ENOSPC || code == libc::EDQUOT)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full() {
        assert!(is_disk_full(&std::io::Error::from_raw_os_error(
            libc::ENOSPC
        )));
        assert!(is_disk_full(&std::io::Error::from_raw_os_error(
            libc::EDQUOT
        )));
        assert!(!is_disk_full(&std::io::Error::from_raw_os_error(
            libc::EACCES
        )));
    }

    #[test]
    fn free_space_of_a_path_not_created_yet() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_space(&dir.path().join("not/yet/there")).unwrap() > 0);
    }
}
