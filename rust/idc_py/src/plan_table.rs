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

/// The string column `name` of `batch` when the table has it (all nulls when it has not).
fn optional_strings(batch: &RecordBatch, name: &str) -> PyResult<Option<StringArray>> {
    match batch.column_by_name(name) {
        Some(_) => strings(batch, name).map(Some),
        None => Ok(None),
    }
}

fn optional_text(column: &Option<StringArray>, row: usize) -> Option<String> {
    column.as_ref().and_then(|c| text(c, row))
}

/// 64 hexadecimal digits as the 32 bytes of a SHA-256.
fn sha256(hex: &str, row: usize) -> PyResult<[u8; 32]> {
    let bad = || {
        DownloadError::new_err(format!(
            "row {row} of the plan table has sha256 {hex:?}, not 64 hexadecimal digits"
        ))
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The plan items of `batches`, in order. Besides the plan columns, a table may have `url` (a
/// file at a plain URL, instead of a bucket's `prefix` or `key`) and `sha256` (the content's
/// SHA-256 in hexadecimal, checked instead of the server's checksum).
pub fn plan_items(batches: &[RecordBatch]) -> PyResult<Vec<core::PlanItem>> {
    let mut items = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let bucket = strings(batch, "bucket")?;
        let prefix = strings(batch, "prefix")?;
        let key = strings(batch, "key")?;
        let destination = strings(batch, "destination")?;
        let series = strings(batch, "SeriesInstanceUID")?;
        let sop = strings(batch, "SOPInstanceUID")?;
        let url = optional_strings(batch, "url")?;
        let sha = optional_strings(batch, "sha256")?;
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
            let (bucket, source) = match (
                text(&bucket, row),
                text(&prefix, row),
                text(&key, row),
                optional_text(&url, row),
            ) {
                (_, None, None, Some(u)) => (String::new(), Source::Url(u)),
                (None, ..) => {
                    return Err(DownloadError::new_err(format!(
                        "row {row} of the plan table has no bucket"
                    )))
                }
                (Some(b), Some(p), None, None) => (b, Source::Prefix(p)),
                (Some(b), None, Some(k), None) => (b, Source::Object(k)),
                (Some(b), ..) => {
                    return Err(DownloadError::new_err(format!(
                        "row {row} of the plan table (bucket {b:?}) needs exactly one of 'prefix' (a series) \
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
                sha256: optional_text(&sha, row)
                    .map(|h| sha256(&h, row))
                    .transpose()?,
            });
        }
    }
    Ok(items)
}
