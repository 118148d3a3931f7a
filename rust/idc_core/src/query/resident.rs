//! Small indices held in memory as Arrow after their first use.
//!
//! A parquet file is decoded again by every query that reads it. For the small indices
//! (`collections_index`, `prior_versions_index`, `analysis_results_index`, ...: a few MB each)
//! decoding is most of a query's time: `prior_versions_index` is one row group of 82,000 rows,
//! decoded on one core for every filter. Held as Arrow record batches, a table is filtered,
//! sorted and joined without decoding, and the planner knows its exact size (it builds hash
//! tables on it). The rows are loaded by the first query that reads the table, within a
//! budget shared by the session; a table that does not fit stays on disk. A file replaced
//! since (a new release moved into place) is loaded again.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::{Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::{collect_partitioned, ExecutionPlan};
use tokio::sync::Mutex;

/// Files larger than this are not held in memory (the main index, the large optional ones).
/// Decoded, a file takes 5 to 10 times its size: `prior_versions_index` (5 MB) takes 31 MB.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Memory that all resident tables of a session may take together.
pub const BUDGET_BYTES: usize = 128 * 1024 * 1024;
/// Partitions a resident table is split into, so that scans use both cores.
const PARTITIONS: usize = 2;

/// Bytes left for resident tables in one session.
#[derive(Debug)]
pub struct Budget(AtomicUsize);

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Self(AtomicUsize::new(bytes))
    }

    /// Take `bytes` from the budget; `false`, taking nothing, when fewer are left.
    pub fn take(&self, bytes: usize) -> bool {
        self.0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(bytes)
            })
            .is_ok()
    }

    pub fn give_back(&self, bytes: usize) {
        self.0.fetch_add(bytes, Ordering::SeqCst);
    }
}

/// What identifies one version of a file: a file replaced by a rename has another inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    ino: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            len: m.len(),
            modified: m.modified().ok(),
            ino: m.ino(),
        })
    }
}

/// The rows of one version of the file, or `None` when they did not fit in the budget.
struct Loaded {
    stamp: FileStamp,
    rows: Option<(MemTable, usize)>,
    budget: Arc<Budget>,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Some((_, bytes)) = &self.rows {
            self.budget.give_back(*bytes);
        }
    }
}

/// A table read from the parquet file at `path` (through `inner`) until its first scan, and
/// from memory after it, until the file is replaced.
pub struct ResidentTable {
    path: PathBuf,
    inner: Arc<dyn TableProvider>,
    budget: Arc<Budget>,
    loaded: Mutex<Option<Arc<Loaded>>>,
}

impl fmt::Debug for ResidentTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResidentTable")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ResidentTable {
    pub fn new(path: PathBuf, inner: Arc<dyn TableProvider>, budget: Arc<Budget>) -> Self {
        Self {
            path,
            inner,
            budget,
            loaded: Mutex::new(None),
        }
    }

    /// Bytes of Arrow held in memory now (0 before the first scan, or when over the budget).
    pub fn memory_bytes(&self) -> usize {
        self.loaded.try_lock().map_or(0, |l| {
            l.as_ref()
                .and_then(|l| l.rows.as_ref().map(|(_, bytes)| *bytes))
                .unwrap_or(0)
        })
    }

    /// The rows of the file as it is now: loaded by the first scan, and again after the file
    /// was replaced. `None` when the file cannot be looked at (the scan of `inner` reports it).
    async fn rows(&self, state: &dyn Session) -> Result<Option<Arc<Loaded>>> {
        let Some(stamp) = FileStamp::of(&self.path) else {
            return Ok(None);
        };
        let mut loaded = self.loaded.lock().await;
        if let Some(l) = loaded.as_ref().filter(|l| l.stamp == stamp) {
            return Ok(Some(Arc::clone(l)));
        }
        // The previous version's memory goes back to the budget before the new one is taken.
        *loaded = None;
        let l = Arc::new(self.load(state, stamp).await?);
        *loaded = Some(Arc::clone(&l));
        Ok(Some(l))
    }

    async fn load(&self, state: &dyn Session, stamp: FileStamp) -> Result<Loaded> {
        let plan = self.inner.scan(state, None, &[], None).await?;
        let batches: Vec<RecordBatch> = collect_partitioned(plan, state.task_ctx())
            .await?
            .into_iter()
            .flatten()
            .map(super::compact::compact)
            .collect::<Result<_>>()?;
        let bytes = batches.iter().map(RecordBatch::get_array_memory_size).sum();
        let rows = if self.budget.take(bytes) {
            let mut partitions = vec![Vec::new(); PARTITIONS];
            for (i, batch) in batches.into_iter().enumerate() {
                partitions[i % PARTITIONS].push(batch);
            }
            match MemTable::try_new(self.inner.schema(), partitions) {
                Ok(table) => Some((table, bytes)),
                Err(e) => {
                    self.budget.give_back(bytes);
                    return Err(e);
                }
            }
        } else {
            None
        };
        Ok(Loaded {
            stamp,
            rows,
            budget: Arc::clone(&self.budget),
        })
    }
}

#[async_trait]
impl TableProvider for ResidentTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match self.rows(state).await? {
            Some(l) => match &l.rows {
                Some((table, _)) => table.scan(state, projection, filters, limit).await,
                None => self.inner.scan(state, projection, filters, limit).await,
            },
            None => self.inner.scan(state, projection, filters, limit).await,
        }
    }

    /// The file's reader uses the filters to skip what it can, but never exactly: the rows
    /// may come from memory, and then the filter above the scan applies them.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(self
            .inner
            .supports_filters_pushdown(filters)?
            .into_iter()
            .map(|p| match p {
                TableProviderFilterPushDown::Exact => TableProviderFilterPushDown::Inexact,
                other => other,
            })
            .collect())
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_never_overdrawn() {
        let budget = Budget::new(100);
        assert!(budget.take(60));
        assert!(!budget.take(50));
        assert!(budget.take(40));
        assert!(!budget.take(1));
        budget.give_back(60);
        assert!(budget.take(50));
    }
}
