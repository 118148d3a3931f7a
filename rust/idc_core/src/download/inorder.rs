//! The checksum of a file whose ranges are written out of order, computed while the download
//! runs, for the checksums that cannot be combined from those of the ranges (MD5, CRC64NVME).
//!
//! Such a checksum can only be fed in order. The ranges of a large object arrive in parallel, so a hashing
//! task follows the written prefix of the file: each range reports the regions it has written,
//! and the task reads the contiguous prefix back (from the page cache, moments after it was
//! written) and hashes it. When the last range lands only its own tail is left to hash, instead
//! of the whole file.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::failure::Failure;
use super::fsutil;
use super::verify::{Algorithm, Checksum, Hasher};

/// Bytes hashed per step on a blocking thread.
const HASH_BLOCK: usize = 8 << 20;

#[derive(Default)]
struct Written {
    /// Every byte below this offset has been written.
    contiguous: u64,
    /// Written regions beyond `contiguous`: start -> end.
    ahead: BTreeMap<u64, u64>,
}

#[derive(Default)]
struct Shared {
    written: Mutex<Written>,
    wake: Notify,
}

impl Shared {
    fn contiguous(&self) -> u64 {
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contiguous
    }
}

/// The checksum of a whole file, or why it could not be read back.
type Outcome = Result<Checksum, Failure>;

/// Follows the written prefix of one file and hashes it.
pub(crate) struct InOrderHash {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<Outcome>>>,
}

impl InOrderHash {
    /// Start hashing `file` (of `size` bytes, at `path`) with `algorithm` as it is written.
    pub fn start(file: Arc<File>, path: PathBuf, size: u64, algorithm: Algorithm) -> Self {
        let shared = Arc::<Shared>::default();
        let task = tokio::spawn(follow(Arc::clone(&shared), file, path, size, algorithm));
        Self {
            shared,
            task: Mutex::new(Some(task)),
        }
    }

    /// Record that `start..end` of the file has been written (an attempt that is retried may
    /// report a region again: it writes the same bytes).
    pub fn written(&self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        {
            let mut w = self
                .shared
                .written
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if start <= w.contiguous {
                w.contiguous = w.contiguous.max(end);
                while let Some((&s, &e)) = w.ahead.first_key_value() {
                    if s > w.contiguous {
                        break;
                    }
                    w.ahead.pop_first();
                    w.contiguous = w.contiguous.max(e);
                }
            } else {
                let e = w.ahead.entry(start).or_insert(end);
                *e = (*e).max(end);
            }
        }
        self.shared.wake.notify_one();
    }

    /// The checksum of the whole file, once every byte has been written.
    pub async fn finish(&self) -> Outcome {
        let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Err(Failure::Protocol("the checksum was already taken".into()));
        };
        task.await.unwrap_or_else(|e| {
            Err(Failure::Protocol(format!(
                "hashing stopped unexpectedly: {e}"
            )))
        })
    }
}

impl Drop for InOrderHash {
    fn drop(&mut self) {
        if let Some(task) = self
            .task
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

async fn follow(
    shared: Arc<Shared>,
    file: Arc<File>,
    path: PathBuf,
    size: u64,
    algorithm: Algorithm,
) -> Outcome {
    let mut hasher = Hasher::new(Some(algorithm));
    let mut buf = vec![0u8; HASH_BLOCK];
    let mut cursor = 0u64;
    while cursor < size {
        let ready = shared.contiguous().min(size);
        if ready <= cursor {
            // notify_one keeps a wake-up that came before this wait, so none is lost.
            shared.wake.notified().await;
            continue;
        }
        let n = (ready - cursor).min(HASH_BLOCK as u64) as usize;
        let (f, p) = (Arc::clone(&file), path.clone());
        let at = cursor;
        (hasher, buf) = tokio::task::spawn_blocking(move || {
            fsutil::read_exact_at(&f, &mut buf[..n], at)
                .map_err(|e| Failure::io("reading back", &p, e))?;
            hasher.update(&buf[..n]);
            Ok::<_, Failure>((hasher, buf))
        })
        .await
        .unwrap_or_else(|e| {
            Err(Failure::Protocol(format!(
                "hashing stopped unexpectedly: {e}"
            )))
        })?;
        cursor += n as u64;
    }
    hasher
        .finish()
        .checksum
        .ok_or_else(|| Failure::Protocol("no checksum was computed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_regions_written_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(3 * HASH_BLOCK + 12345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let file = Arc::new(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .unwrap(),
        );
        file.set_len(data.len() as u64).unwrap();
        let h = InOrderHash::start(
            Arc::clone(&file),
            path.clone(),
            data.len() as u64,
            Algorithm::Md5,
        );
        // Regions land in reverse order, one is reported twice, with pauses the task waits through.
        let cuts = [0, 1000, HASH_BLOCK + 17, 2 * HASH_BLOCK, data.len()];
        for w in cuts.windows(2).rev() {
            fsutil::write_all_at(&file, &data[w[0]..w[1]], w[0] as u64).unwrap();
            h.written(w[0] as u64, w[1] as u64);
            h.written(w[0] as u64, w[1] as u64);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let got = h.finish().await.unwrap();
        let mut want = Hasher::new(Some(Algorithm::Md5));
        want.update(&data);
        assert_eq!(Some(got), want.finish().checksum);
        assert!(h.finish().await.is_err(), "the checksum is taken once");
    }
}
