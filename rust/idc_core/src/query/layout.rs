//! The on-disk layout that makes lookups cheap: rows sorted along the IDC hierarchy, small
//! row groups, page-level statistics and bloom filters on the identifier columns.
//!
//! The main index that idc-index-data ships is one row group of a million rows: every lookup
//! decodes the whole identifier column. In the layout written here a lookup by
//! SeriesInstanceUID reads the bloom filters, then the pages of one row group.

use std::path::Path;
use std::time::{Duration, SystemTime};

use std::str::FromStr;
use std::sync::Arc;

use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::prelude::{ident, ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;

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

/// Memory the rewrite's sort may hold before it spills to temporary files.
const SORT_MEMORY: usize = 160 * 1024 * 1024;

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
    // A session of its own: the user's session keeps its settings and its memory. Its sort holds
    // at most SORT_MEMORY and spills sorted runs to temporary files beyond it (then merges
    // them), so that rewriting the million-row main index does not hold it all in memory.
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(SORT_MEMORY)))
        .build_arc()?;
    let ctx =
        SessionContext::new_with_config_rt(SessionConfig::new().with_target_partitions(1), runtime);
    let df = ctx.read_parquet(src, ParquetReadOptions::default()).await?;
    let order = layout
        .sort_by
        .iter()
        .map(|c| ident(c).sort(true, true))
        .collect();
    let df = df.sort(order)?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut batches = df.execute_stream().await?;

    // Written with the parquet writer itself rather than DataFusion's sink, which records the
    // sort in the file (sorting_columns): the planner then keeps that order through every
    // aggregation and repartition, which made GROUP BY queries 2-5 times slower.
    let written = async {
        let file = std::fs::File::create(tmp).map_err(|source| CoreError::Io {
            context: format!("cannot create {}", tmp.display()),
            source,
        })?;
        let mut writer = ArrowWriter::try_new(file, schema, Some(writer_properties(layout)?))?;
        while let Some(batch) = batches.next().await {
            writer.write(&batch?)?;
        }
        writer.close()?;
        Ok::<(), CoreError>(())
    }
    .await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    std::fs::rename(tmp, dst).map_err(|source| {
        let _ = std::fs::remove_file(tmp);
        CoreError::Io {
            context: format!("cannot move the optimised index to {}", dst.display()),
            source,
        }
    })?;
    write_stamp(dst);
    Ok(())
}

/// Record beside `dst` the size and modification time it has now, as written: the client
/// reads a copy that differs from its stamp (written in place since) as damaged, and writes
/// it again. `.<file>.verified`, JSON `{"size": N, "mtime_ns": M}`, the format of
/// `idc_index.releases.stamps`. A stamp that cannot be written only costs that rewrite.
fn write_stamp(dst: &Path) {
    let Ok(meta) = std::fs::metadata(dst) else {
        return;
    };
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let name = dst.file_name().and_then(|n| n.to_str()).unwrap_or("index");
    let stamp = dst.with_file_name(format!(".{name}.verified"));
    let tmp = dst.with_file_name(format!(".{name}.verified.{}.tmp", std::process::id()));
    let text = format!("{{\"size\": {}, \"mtime_ns\": {mtime_ns}}}", meta.len());
    if std::fs::write(&tmp, text).is_err() || std::fs::rename(&tmp, &stamp).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The parquet writer's settings for `layout`: page statistics and indexes, bloom filters on
/// the identifier columns, the layout's compression, row groups and pages.
fn writer_properties(layout: &Layout) -> Result<WriterProperties> {
    let compression = Compression::from_str(&layout.compression).map_err(|e| {
        CoreError::Table(format!(
            "unknown parquet compression {:?}: {e}",
            layout.compression
        ))
    })?;
    let mut props = WriterProperties::builder()
        .set_compression(compression)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(layout.row_group_rows))
        .set_data_page_row_count_limit(layout.page_rows)
        .set_key_value_metadata(Some(
            layout
                .metadata
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect(),
        ));
    for column in &layout.bloom_filter_columns {
        let path = datafusion::parquet::schema::types::ColumnPath::from(column.as_str());
        props = props
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), 0.01)
            .set_column_bloom_filter_max_ndv(path, layout.row_group_rows as u64);
    }
    Ok(props.build())
}
