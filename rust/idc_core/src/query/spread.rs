//! A lookup in a file that is one large row group, read on every core.
//!
//! idc-index-data ships the main index as one row group of a million rows. DataFusion gives a
//! row group to one partition, so until the optimised copy is written (every fresh container's
//! first process) a lookup decompresses and compares the whole identifier column on one core,
//! while the other partitions have nothing to read. [`OneRowGroupFiles::spread`] gives each
//! partition of such a scan its own run of the row group's rows instead (a
//! `ParquetRowSelection`): the reader skips the pages before and after its run by their
//! headers, without decompressing them, so the partitions share the decoding.
//!
//! Only for lookups by identifier, where the filter is evaluated on the filter's column alone
//! before anything else is read. A file without a page index is fetched a column chunk at a
//! time, whole, so a scan that keeps many rows would read each chunk once per partition.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::datasource::listing::{ListingTableUrl, PartitionedFile};
use datafusion::datasource::physical_plan::parquet::ParquetRowSelection;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use datafusion::physical_plan::ExecutionPlan;
use object_store::path::Path as StorePath;

/// Below this many rows a row group is decoded quickly enough on one core.
const MIN_ROWS: usize = 100_000;

/// The local index files, by the location their scans name them with. Whether a file is one
/// row group of at least [`MIN_ROWS`] rows is read from its footer when a lookup first scans
/// it, not when it is registered: a process that makes no lookup (and every process on the
/// optimised copy, whose footer is half a megabyte) pays nothing for it at start.
#[derive(Debug, Default)]
pub struct OneRowGroupFiles(RwLock<HashMap<StorePath, Arc<Noted>>>);

/// A registered file, and once a lookup has scanned it, its size and rows if it is one large
/// row group.
#[derive(Debug)]
struct Noted {
    path: PathBuf,
    shape: OnceLock<Option<(u64, usize)>>,
}

impl Noted {
    fn shape(&self) -> Option<(u64, usize)> {
        *self.shape.get_or_init(|| one_row_group(&self.path))
    }
}

impl OneRowGroupFiles {
    /// Remember the parquet file at `path`, whose lookups may be spread. A footer that cannot
    /// be read is left to the scan, which reports it.
    pub fn note(&self, path: &Path) {
        let Some(location) = path
            .to_str()
            .and_then(|p| ListingTableUrl::parse(p).ok())
            .map(|url| url.prefix().clone())
        else {
            return;
        };
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(
            location,
            Arc::new(Noted {
                path: path.to_path_buf(),
                shape: OnceLock::new(),
            }),
        );
    }

    /// `plan` with every scan of a remembered file split by rows over the scan's partitions.
    pub fn spread(&self, plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        let files = self.0.read().unwrap_or_else(|p| p.into_inner());
        if files.is_empty() {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            Ok(match spread_scan(&node, &files) {
                Some(spread) => Transformed::yes(spread),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }
}

/// `node` as a scan whose partitions each read their own run of rows, if it scans one of `files`
/// alone over several partitions. A file of another size at that place (replaced since its
/// footer was read) is scanned as DataFusion planned it.
fn spread_scan(
    node: &Arc<dyn ExecutionPlan>,
    files: &HashMap<StorePath, Arc<Noted>>,
) -> Option<Arc<dyn ExecutionPlan>> {
    let config = node
        .downcast_ref::<DataSourceExec>()?
        .data_source()
        .downcast_ref::<FileScanConfig>()?;
    let parts = config.file_groups.len();
    let mut scanned = config.file_groups.iter().flat_map(FileGroup::iter);
    let first = scanned.next()?;
    let location = &first.object_meta.location;
    let noted = files.get(location)?;
    let one_file = scanned.all(|f| &f.object_meta.location == location);
    if !one_file || parts < 2 || config.file_source().file_type() != "parquet" {
        return None;
    }
    let (size, rows) = noted.shape()?;
    if size != first.object_meta.size {
        return None;
    }
    let groups = runs(rows, parts)
        .map(|selection| {
            let file = PartitionedFile::new_from_meta(first.object_meta.clone())
                .with_extension(ParquetRowSelection::new(selection));
            FileGroup::new(vec![file])
        })
        .collect();
    let config = FileScanConfigBuilder::from(config.clone())
        .with_file_groups(groups)
        .build();
    Some(DataSourceExec::from_data_source(config))
}

/// The size and rows of the parquet file at `path` if it is one row group of at least
/// [`MIN_ROWS`].
fn one_row_group(path: &Path) -> Option<(u64, usize)> {
    let file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&file).ok()?;
    let rows = usize::try_from(metadata.file_metadata().num_rows()).ok()?;
    (metadata.num_row_groups() == 1 && rows >= MIN_ROWS).then_some((size, rows))
}

/// `parts` selections of `rows` rows, each of the next run of about `rows / parts`, in order.
fn runs(rows: usize, parts: usize) -> impl Iterator<Item = RowSelection> {
    let step = rows.div_ceil(parts);
    (0..parts).map(move |i| {
        let start = (i * step).min(rows);
        let len = step.min(rows - start);
        RowSelection::from(vec![
            RowSelector::skip(start),
            RowSelector::select(len),
            RowSelector::skip(rows - start - len),
        ])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runs_cover_every_row_once_in_order() {
        for (rows, parts) in [(1_000_003, 2), (1_000_000, 4), (100_000, 3), (5, 8)] {
            let mut next = 0;
            for selection in runs(rows, parts) {
                let selectors: Vec<RowSelector> = selection.into();
                let total: usize = selectors.iter().map(|s| s.row_count).sum();
                assert_eq!(total, rows);
                let start: usize = selectors
                    .iter()
                    .take_while(|s| s.skip)
                    .map(|s| s.row_count)
                    .sum();
                let selected: usize = selectors
                    .iter()
                    .filter(|s| !s.skip)
                    .map(|s| s.row_count)
                    .sum();
                assert_eq!(start, next.min(rows));
                next = start + selected;
            }
            assert_eq!(next, rows);
        }
    }
}
