//! A download plan's Arrow table (the columns of `idc_index.download.plan_table.PLAN_COLUMNS`)
//! read into the core's plan items through the Arrow C stream: no Python object per item, so a
//! plan of a million series goes to the core as its table.

use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use idc_core::download::{self as core, Source};
use pyo3::prelude::*;

use crate::errors::DownloadError;

/// The string column `name` of `batch` as plain UTF-8 (views and large strings cast).
fn strings(batch: &RecordBatch, name: &str) -> PyResult<StringArray> {
    let column = batch.column_by_name(name).ok_or_else(|| {
        DownloadError::new_err(format!(
            "the plan table has no column {name:?}; give a plan's table"
        ))
    })?;
    let utf8 = cast(column, &DataType::Utf8).map_err(|e| {
        DownloadError::new_err(format!("the plan table's column {name:?} is not text: {e}"))
    })?;
    Ok(utf8.as_string::<i32>().clone())
}

fn text(column: &StringArray, row: usize) -> Option<String> {
    column.is_valid(row).then(|| column.value(row).to_string())
}

/// The plan items of `batches`, in order.
pub fn plan_items(batches: &[RecordBatch]) -> PyResult<Vec<core::PlanItem>> {
    let mut items = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let bucket = strings(batch, "bucket")?;
        let prefix = strings(batch, "prefix")?;
        let key = strings(batch, "key")?;
        let destination = strings(batch, "destination")?;
        let series = strings(batch, "SeriesInstanceUID")?;
        let sop = strings(batch, "SOPInstanceUID")?;
        let size_column = batch.column_by_name("size").ok_or_else(|| {
            DownloadError::new_err("the plan table has no column \"size\"; give a plan's table")
        })?;
        let sizes = cast(size_column, &DataType::Int64).map_err(|e| {
            DownloadError::new_err(format!(
                "the plan table's column \"size\" is not a number: {e}"
            ))
        })?;
        let sizes = sizes.as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let Some(bucket) = text(&bucket, row) else {
                return Err(DownloadError::new_err(format!(
                    "row {row} of the plan table has no bucket"
                )));
            };
            let source = match (text(&prefix, row), text(&key, row)) {
                (Some(p), None) => Source::Prefix(p),
                (None, Some(k)) => Source::Object(k),
                _ => {
                    return Err(DownloadError::new_err(format!(
                        "row {row} of the plan table (bucket {bucket:?}) needs exactly one of 'prefix' (a series) \
                         and 'key' (one object)"
                    )))
                }
            };
            let size = if sizes.is_valid(row) {
                Some(u64::try_from(sizes.value(row)).map_err(|_| {
                    DownloadError::new_err(format!(
                        "row {row} of the plan table has a negative size"
                    ))
                })?)
            } else {
                None
            };
            items.push(core::PlanItem {
                bucket,
                source,
                destination: PathBuf::from(text(&destination, row).unwrap_or_default()),
                size,
                series_instance_uid: text(&series, row),
                sop_instance_uid: text(&sop, row),
            });
        }
    }
    Ok(items)
}
