//! The on-disk layout that makes lookups cheap: rows sorted along the IDC hierarchy, small
//! row groups, page-level statistics and bloom filters on the identifier columns.
//!
//! The main index that idc-index-data ships is one row group of a million rows: every lookup
//! decodes the whole identifier column. In the layout written here a lookup by
//! SeriesInstanceUID reads the bloom filters, then the pages of one row group.

use std::path::Path;
use std::time::{Duration, SystemTime};

use datafusion::common::config::{ParquetColumnOptions, TableParquetOptions};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ident, ParquetReadOptions, SessionConfig, SessionContext};

use crate::error::{CoreError, Result};

/// How a table is rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Columns to sort by, outermost first (collection, patient, study, series).
    pub sort_by: Vec<String>,
    /// Columns that get a bloom filter in every row group (exact-match lookups).
    pub bloom_filter_columns: Vec<String>,
    /// Rows per row group.
    pub row_group_rows: usize,
    /// Rows per data page (the unit the page index can skip).
    pub page_rows: usize,
    /// Parquet compression of every column, as DataFusion names it (`zstd(3)`, `lz4_raw`, ...).
    pub compression: String,
    /// Key-value metadata written into the file footer.
    pub metadata: Vec<(String, String)>,
}

/// How long a lock file of another writer is respected before it counts as abandoned.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Write `src` to `dst` in `layout`: into a temporary file beside `dst`, renamed into place
/// when complete, so that `dst` never exists half-written. Returns `false`, writing nothing,
/// when another process holds the lock for `dst` (several clients starting at once rewrite
/// the index once, not once each).
pub async fn write(src: &str, dst: &Path, layout: &Layout) -> Result<bool> {
    let dir = dst.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| CoreError::Io {
        context: format!("cannot create the index cache directory {}", dir.display()),
        source,
    })?;
    let file = dst.file_name().and_then(|n| n.to_str()).unwrap_or("index");
    let tmp = dir.join(format!(".{file}.{}.partial", std::process::id()));
    let lock = dir.join(format!(".{file}.lock"));
    if !take_lock(&lock)? {
        return Ok(false);
    }
    remove_partials(dir, file);
    let result = write_locked(src, dst, &tmp, layout).await;
    let _ = std::fs::remove_file(&lock);
    result.map(|()| true)
}

/// Take the lock file for a rewrite: it holds the writer's process id. A lock whose process
/// is gone (on Linux) or that is older than [`LOCK_TIMEOUT`] is taken over.
fn take_lock(lock: &Path) -> Result<bool> {
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock)
        {
            Ok(mut f) => {
                use std::io::Write;
                let _ = write!(f, "{}", std::process::id());
                return Ok(true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if lock_is_live(lock) {
                    return Ok(false);
                }
                let _ = std::fs::remove_file(lock);
            }
            Err(source) => {
                return Err(CoreError::Io {
                    context: format!("cannot create {}", lock.display()),
                    source,
                })
            }
        }
    }
    Ok(false)
}

fn lock_is_live(lock: &Path) -> bool {
    let age = std::fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    if age >= LOCK_TIMEOUT {
        return false;
    }
    let holder = std::fs::read_to_string(lock)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match holder {
        Some(pid) if Path::new("/proc/self").exists() => {
            Path::new("/proc").join(pid.to_string()).exists()
        }
        _ => true,
    }
}

/// Remove what writers that died left behind in `dir`: `.<file>.<pid>.partial`.
fn remove_partials(dir: &Path, file: &str) {
    let prefix = format!(".{file}.");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".partial") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

async fn write_locked(src: &str, dst: &Path, tmp: &Path, layout: &Layout) -> Result<()> {
    let tmp_str = tmp.to_str().ok_or_else(|| {
        CoreError::Table(format!("cache path {} is not valid UTF-8", tmp.display()))
    })?;

    // A session of its own: the user's session keeps its settings and its memory.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    let df = ctx.read_parquet(src, ParquetReadOptions::default()).await?;
    let order = layout
        .sort_by
        .iter()
        .map(|c| ident(c).sort(true, true))
        .collect();
    let df = df.sort(order)?;

    let mut options = TableParquetOptions::default();
    options.global.compression = Some(layout.compression.clone());
    options.global.statistics_enabled = Some("page".into());
    options.global.max_row_group_size = layout.row_group_rows;
    options.global.data_page_row_count_limit = layout.page_rows;
    for column in &layout.bloom_filter_columns {
        options.column_specific_options.insert(
            column.clone(),
            ParquetColumnOptions {
                bloom_filter_enabled: Some(true),
                bloom_filter_fpp: Some(0.01),
                bloom_filter_ndv: Some(layout.row_group_rows as u64),
                ..Default::default()
            },
        );
    }
    for (k, v) in &layout.metadata {
        options
            .key_value_metadata
            .insert(k.clone(), Some(v.clone()));
    }
    let written = df
        .write_parquet(
            tmp_str,
            DataFrameWriteOptions::new().with_single_file_output(true),
            Some(options),
        )
        .await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(tmp);
        return Err(e.into());
    }
    std::fs::rename(tmp, dst).map_err(|source| {
        let _ = std::fs::remove_file(tmp);
        CoreError::Io {
            context: format!("cannot move the optimised index to {}", dst.display()),
            source,
        }
    })
}
