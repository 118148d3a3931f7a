//! A table whose backing file can be replaced while the session is live.
//!
//! The shipped main index is one row group of a million rows; a sorted copy with small row
//! groups, page indexes and bloom filters is written once in the background. Queries planned
//! before it is ready read the shipped file; queries planned after read the copy.

use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Constraint, Constraints, Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

tokio::task_local! {
    /// Set while a query that unnests is planned: the tables then declare no keys. DataFusion
    /// keeps a table's key through `unnest`, where it is no longer one (a collection with three
    /// sources is three rows), and then groups and sorts by the key alone where the query says
    /// more: `GROUP BY collection_id, doi` over unnested sources gave one row per collection,
    /// `ORDER BY collection_id, doi` sorted by the collection only. Wrong answers, without an
    /// error.
    pub static KEYS_HIDDEN: bool;
}

pub struct SwappableTable {
    schema: SchemaRef,
    inner: RwLock<(String, Arc<dyn TableProvider>)>,
    /// Columns declared keys (the planner derives functional dependencies from them).
    constraints: OnceLock<Constraints>,
}

impl fmt::Debug for SwappableTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwappableTable")
            .field("path", &self.path())
            .finish()
    }
}

impl SwappableTable {
    pub fn new(path: String, provider: Arc<dyn TableProvider>) -> Self {
        Self {
            schema: provider.schema(),
            inner: RwLock::new((path, provider)),
            constraints: OnceLock::new(),
        }
    }

    fn current(&self) -> Arc<dyn TableProvider> {
        let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&guard.1)
    }

    /// The file the table reads now.
    pub fn path(&self) -> String {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// Declare the columns at `indices` keys (unique, never NULL), each on its own; `false`
    /// when keys were declared before.
    pub fn declare_keys(&self, indices: &[usize]) -> bool {
        let keys = indices
            .iter()
            .map(|&i| Constraint::PrimaryKey(vec![i]))
            .collect();
        self.constraints
            .set(Constraints::new_unverified(keys))
            .is_ok()
    }

    /// Bytes of the table held in memory (see [`super::resident`]).
    pub fn memory_bytes(&self) -> usize {
        self.current()
            .downcast_ref::<super::resident::ResidentTable>()
            .map_or(0, |t| t.memory_bytes())
    }

    /// Read from `provider` from now on. Its schema must equal the current one, so that a plan
    /// made before the swap stays valid after it.
    pub fn swap(&self, path: String, provider: Arc<dyn TableProvider>) -> bool {
        if provider.schema() != self.schema {
            return false;
        }
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = (path, provider);
        true
    }
}

#[async_trait]
impl TableProvider for SwappableTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn constraints(&self) -> Option<&Constraints> {
        if KEYS_HIDDEN.try_with(|hidden| *hidden).unwrap_or(false) {
            return None;
        }
        self.constraints.get()
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
        self.current().scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.current().supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.current().statistics()
    }
}
