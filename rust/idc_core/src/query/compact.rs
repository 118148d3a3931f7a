//! Results that own only the bytes they show.
//!
//! The parquet reader gives strings as views into the decompressed pages of the file. A
//! filter that keeps a few rows keeps those views, and with them every page they point into:
//! the 10,000 rows of a lookup by `SeriesInstanceUID IN (...)` held 500 MB of pages of the
//! main index, a 5 MB index held in memory took 70 MB. Such arrays are copied into buffers of
//! their own (arrow's `gc`), which costs a copy of the strings kept.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Result;

/// Buffers larger than this many times the bytes their views use are compacted.
const SLACK: usize = 2;
/// Arrays whose buffers hold less than this are left as they are.
const SMALL_BYTES: usize = 64 * 1024;

/// `batch` with every string or binary view array that uses a small part of its buffers
/// copied into compact buffers.
pub fn compact(batch: RecordBatch) -> Result<RecordBatch> {
    if !batch
        .columns()
        .iter()
        .any(|c| matches!(c.data_type(), DataType::Utf8View | DataType::BinaryView))
    {
        return Ok(batch);
    }
    let columns: Vec<ArrayRef> = batch.columns().iter().map(compact_array).collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

fn compact_array(array: &ArrayRef) -> ArrayRef {
    macro_rules! compact_views {
        ($views:expr) => {{
            let views = $views;
            let held: usize = views.data_buffers().iter().map(|b| b.len()).sum();
            if held > SMALL_BYTES && held > SLACK * views.total_buffer_bytes_used() {
                Arc::new(views.gc()) as ArrayRef
            } else {
                Arc::clone(array)
            }
        }};
    }
    match array.data_type() {
        DataType::Utf8View => compact_views!(array.as_string_view()),
        DataType::BinaryView => compact_views!(array.as_binary_view()),
        _ => Arc::clone(array),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringViewArray;
    use datafusion::arrow::datatypes::{Field, Schema};

    #[test]
    fn a_slice_of_long_strings_lets_go_of_the_rest() {
        let long: Vec<String> = (0..10_000).map(|i| format!("{i:0>40}")).collect();
        let all = StringViewArray::from_iter_values(long.iter());
        let kept: ArrayRef = Arc::new(all.slice(10, 3));
        let schema = Arc::new(Schema::new(vec![Field::new(
            "s",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::clone(&kept)]).unwrap();
        let before = kept.get_array_memory_size();
        let out = compact(batch).unwrap();
        let column = out.column(0);
        assert!(column.get_array_memory_size() * 100 < before);
        assert_eq!(column.as_string_view().value(1), long[11]);
        // small or dense arrays are left alone
        let dense: ArrayRef = Arc::new(StringViewArray::from_iter_values(long.iter()));
        assert!(Arc::ptr_eq(&compact_array(&dense), &dense));
    }
}
