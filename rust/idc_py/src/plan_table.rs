//! A download plan's Arrow table (the columns of `idc_index.download.plan_table.PLAN_COLUMNS`),
//! imported through the Arrow C stream and read by the core one item at a time: no Python
//! object per item, and no Rust value per item either, so a plan of a million series goes to
//! the core as its table (see `idc_core::download::PlanSource`).

use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use idc_core::download::{self as core, PlanSource, Source};
use pyo3::prelude::*;

use crate::errors::DownloadError;

/// The string column `name` of `batch` as plain UTF-8 (views and large strings cast; a plan's
/// own table is UTF-8 already, and is not copied).
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

/// The string column `name` of `batch` when the table has it (all nulls when it has not).
fn optional_strings(batch: &RecordBatch, name: &str) -> PyResult<Option<StringArray>> {
    match batch.column_by_name(name) {
        Some(_) => strings(batch, name).map(Some),
        None => Ok(None),
    }
}

fn text(column: &StringArray, row: usize) -> Option<&str> {
    column.is_valid(row).then(|| column.value(row))
}

fn optional_text(column: &Option<StringArray>, row: usize) -> Option<&str> {
    column.as_ref().and_then(|c| text(c, row))
}

/// 64 hexadecimal digits as the 32 bytes of a SHA-256.
fn sha256(hex: &str, row: usize) -> Result<[u8; 32], String> {
    let bad =
        || format!("row {row} of the plan table has sha256 {hex:?}, not 64 hexadecimal digits");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The columns of one batch of a plan's table.
struct PlanBatch {
    bucket: StringArray,
    prefix: StringArray,
    key: StringArray,
    destination: StringArray,
    series: StringArray,
    sop: StringArray,
    url: Option<StringArray>,
    sha: Option<StringArray>,
    size: Int64Array,
}

impl PlanBatch {
    fn new(batch: &RecordBatch) -> PyResult<Self> {
        let size_column = batch.column_by_name("size").ok_or_else(|| {
            DownloadError::new_err("the plan table has no column \"size\"; give a plan's table")
        })?;
        let size = cast(size_column, &DataType::Int64).map_err(|e| {
            DownloadError::new_err(format!(
                "the plan table's column \"size\" is not a number: {e}"
            ))
        })?;
        Ok(Self {
            bucket: strings(batch, "bucket")?,
            prefix: strings(batch, "prefix")?,
            key: strings(batch, "key")?,
            destination: strings(batch, "destination")?,
            series: strings(batch, "SeriesInstanceUID")?,
            sop: strings(batch, "SOPInstanceUID")?,
            url: optional_strings(batch, "url")?,
            sha: optional_strings(batch, "sha256")?,
            size: size.as_primitive::<Int64Type>().clone(),
        })
    }

    /// Its row `row` as a plan item; `index` is the row's number in the whole table.
    fn item(&self, row: usize, index: usize) -> Result<core::PlanItem, String> {
        let (bucket, source) = match (
            text(&self.bucket, row),
            text(&self.prefix, row),
            text(&self.key, row),
            optional_text(&self.url, row),
        ) {
            (_, None, None, Some(u)) => (String::new(), Source::Url(u.to_string())),
            (None, ..) => return Err(format!("row {index} of the plan table has no bucket")),
            (Some(b), Some(p), None, None) => (b.to_string(), Source::Prefix(p.to_string())),
            (Some(b), None, Some(k), None) => (b.to_string(), Source::Object(k.to_string())),
            (Some(b), ..) => {
                return Err(format!(
                    "row {index} of the plan table (bucket {b:?}) needs exactly one of 'prefix' (a series) \
                     and 'key' (one object)"
                ))
            }
        };
        let size = if self.size.is_valid(row) {
            Some(
                u64::try_from(self.size.value(row))
                    .map_err(|_| format!("row {index} of the plan table has a negative size"))?,
            )
        } else {
            None
        };
        Ok(core::PlanItem {
            bucket,
            source,
            destination: PathBuf::from(text(&self.destination, row).unwrap_or_default()),
            size,
            series_instance_uid: text(&self.series, row).map(str::to_string),
            sop_instance_uid: text(&self.sop, row).map(str::to_string),
            sha256: optional_text(&self.sha, row)
                .map(|h| sha256(h, index))
                .transpose()?,
        })
    }
}

/// A plan's table, read by the core item by item. Besides the plan columns, a table may have
/// `url` (a file at a plain URL, instead of a bucket's `prefix` or `key`) and `sha256` (the
/// content's SHA-256 in hexadecimal, checked instead of the server's checksum).
pub struct ArrowPlan {
    batches: Vec<PlanBatch>,
    /// The index of each batch's first row in the whole table.
    starts: Vec<usize>,
    len: usize,
}

impl ArrowPlan {
    pub fn new(batches: &[RecordBatch]) -> PyResult<Self> {
        let mut starts = Vec::with_capacity(batches.len());
        let mut len = 0;
        let mut kept = Vec::with_capacity(batches.len());
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            starts.push(len);
            len += batch.num_rows();
            kept.push(PlanBatch::new(batch)?);
        }
        Ok(Self {
            batches: kept,
            starts,
            len,
        })
    }
}

impl PlanSource for ArrowPlan {
    fn len(&self) -> usize {
        self.len
    }

    fn item(&self, index: usize) -> Result<core::PlanItem, String> {
        let b = self.starts.partition_point(|&start| start <= index) - 1;
        self.batches[b].item(index - self.starts[b], index)
    }
}
