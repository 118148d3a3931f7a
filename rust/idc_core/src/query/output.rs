//! The rows of a query: collected ([`QueryOutput`]) or as they are computed ([`QueryStream`]).

use std::sync::Arc;

use datafusion::arrow;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;

use super::trim;
use crate::error::Result;

/// The rows of a query, as Arrow record batches.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryOutput {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The rows through the Arrow C stream interface: the consumer (pyarrow, polars, DuckDB)
    /// imports the batches' buffers as they are, without a copy.
    pub fn to_c_stream(&self) -> arrow::ffi_stream::FFI_ArrowArrayStream {
        let batches = self.batches.clone().into_iter().map(Ok);
        let reader =
            arrow::record_batch::RecordBatchIterator::new(batches, Arc::clone(&self.schema));
        arrow::ffi_stream::FFI_ArrowArrayStream::new(Box::new(reader))
    }
}

/// The rows of a query as they are computed: [`Engine::sql_stream`].
pub struct QueryStream {
    pub schema: SchemaRef,
    pub(crate) batches: futures::stream::BoxStream<'static, Result<RecordBatch>>,
}

impl QueryStream {
    /// A stream of rows already computed.
    pub(crate) fn of(out: QueryOutput) -> Self {
        QueryStream {
            schema: out.schema,
            batches: Box::pin(futures::stream::iter(out.batches.into_iter().map(Ok))),
        }
    }

    /// The next batch of rows, or None after the last; the memory the query freed goes back
    /// to the system once it ends (see `trim`).
    pub async fn next(&mut self) -> Result<Option<RecordBatch>> {
        let next = self.batches.next().await.transpose()?;
        if next.is_none() {
            trim::after_query();
        }
        Ok(next)
    }
}
