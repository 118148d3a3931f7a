//! `idc_index._core`: the Python face of `idc_core`. It converts arguments and results and
//! maps errors onto the exceptions of `idc_index.errors`; the logic lives in `idc_core`.

mod arrow_py;
mod document;
mod download;
mod errors;
mod file_list;
mod params;
mod plan_table;
mod range_read;
mod records;
mod wait;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;

use idc_core::query::{
    Engine as CoreEngine, Layout, OptimizeOutcome, QueryOutput, QueryStream, UserData,
};

/// One DataFusion session with the IDC indices registered as tables.
#[pyclass(frozen, module = "idc_index._core")]
struct Engine {
    inner: Arc<CoreEngine>,
}

#[pymethods]
impl Engine {
    #[new]
    fn new() -> Self {
        Self {
            inner: Arc::new(CoreEngine::new()),
        }
    }

    /// Register a parquet file as table `name` (and `aliases`); reads only its footer.
    #[pyo3(signature = (name, path, aliases = Vec::new()))]
    fn register_parquet(
        &self,
        py: Python<'_>,
        name: String,
        path: PathBuf,
        aliases: Vec<String>,
    ) -> PyResult<()> {
        let engine = Arc::clone(&self.inner);
        wait::query(py, async move {
            engine.register_parquet(&name, &path, &aliases).await
        })
    }

    /// Register the parquet file at an http(s) `url` as table `name` (and `aliases`); reads
    /// only its footer, and each query only the ranges it needs.
    #[pyo3(signature = (name, url, aliases = Vec::new()))]
    fn register_remote_parquet(
        &self,
        py: Python<'_>,
        name: String,
        url: String,
        aliases: Vec<String>,
    ) -> PyResult<()> {
        let engine = Arc::clone(&self.inner);
        wait::query(py, async move {
            engine.register_remote_parquet(&name, &url, &aliases).await
        })
    }

    /// Register the rows of `data` (any object with `__arrow_c_stream__`) as the user's table
    /// `name`, held in memory.
    fn register_arrow(
        &self,
        py: Python<'_>,
        name: String,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (schema, batches) = arrow_py::import_stream(data)?;
        self.register_user_table(py, name, UserData::Batches(schema, batches))
    }

    /// Register a parquet or CSV file (`format`) as the user's table `name`; it is read once,
    /// now, into memory.
    fn register_file(
        &self,
        py: Python<'_>,
        name: String,
        path: PathBuf,
        format: &str,
    ) -> PyResult<()> {
        let data = match format {
            "parquet" => UserData::Parquet(path),
            "csv" => UserData::Csv(path),
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "format must be 'parquet' or 'csv', not {other:?}"
                )))
            }
        };
        self.register_user_table(py, name, data)
    }

    /// Remove the user's table `name`.
    fn unregister_table(&self, name: &str) -> PyResult<()> {
        self.inner
            .unregister_user_table(name)
            .map_err(errors::registration_error)
    }

    /// The user's registered tables, sorted.
    fn user_table_names(&self) -> Vec<String> {
        self.inner.user_table_names()
    }

    /// Declare each of `columns` a key of index `name` (see the core's `Engine::declare_key`).
    fn declare_key(&self, name: &str, columns: Vec<String>) -> PyResult<()> {
        self.inner
            .declare_key(name, &columns)
            .map_err(errors::query_error)
    }

    /// Run one read-only SQL statement with `params` bound to its placeholders (`?`, `$1` or
    /// `$name`); the GIL is released while it runs and Ctrl-C stops it.
    #[pyo3(signature = (sql, params = None))]
    fn sql(
        &self,
        py: Python<'_>,
        sql: String,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<QueryResult> {
        let params = params::from_python(params)?;
        let engine = Arc::clone(&self.inner);
        let out = wait::query(
            py,
            async move { engine.sql_with_params(&sql, &params).await },
        )?;
        Ok(QueryResult { out })
    }

    /// Run one read-only SQL statement as [`Engine::sql`] does, its rows coming batch by batch
    /// as they are computed: iterate the result for one `QueryResult` per batch.
    #[pyo3(signature = (sql, params = None))]
    fn sql_batches(
        &self,
        py: Python<'_>,
        sql: String,
        params: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<QueryBatches> {
        let params = params::from_python(params)?;
        let engine = Arc::clone(&self.inner);
        let stream = wait::query(py, async move { engine.sql_stream(&sql, &params).await })?;
        Ok(QueryBatches {
            stream: Arc::new(tokio::sync::Mutex::new(stream)),
        })
    }

    /// Registered table names, sorted.
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    /// The parquet file that table `name` reads now, or None.
    fn table_path(&self, name: &str) -> Option<String> {
        self.inner.table_path(name)
    }

    /// The indices held in memory as Arrow, and their bytes.
    fn memory_held(&self) -> std::collections::BTreeMap<String, usize> {
        self.inner.memory_held()
    }

    /// Start rewriting table `name` into `dst` (sorted, small row groups, bloom filters) in the
    /// background, `delay_seconds` from now; the table switches to the new file when it is complete.
    #[pyo3(signature = (name, dst, sort_by, bloom_filter_columns, row_group_rows, page_rows, compression, metadata, delay_seconds=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn start_optimize(
        &self,
        name: &str,
        dst: PathBuf,
        sort_by: Vec<String>,
        bloom_filter_columns: Vec<String>,
        row_group_rows: usize,
        page_rows: usize,
        compression: String,
        metadata: Vec<(String, String)>,
        delay_seconds: f64,
    ) -> PyResult<()> {
        let delay = Duration::try_from_secs_f64(delay_seconds).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "delay_seconds must be 0 or more, got {delay_seconds}"
            ))
        })?;
        let layout = Layout {
            sort_by,
            bloom_filter_columns,
            row_group_rows,
            page_rows,
            compression,
            metadata,
        };
        self.inner
            .start_optimize(name, dst, layout, delay)
            .map_err(errors::query_error)
    }

    /// Wait for the background rewrite of `name`; returns the new file's path, or None when
    /// no rewrite was started or another process is writing it.
    fn wait_optimized(&self, py: Python<'_>, name: String) -> PyResult<Option<String>> {
        let engine = Arc::clone(&self.inner);
        let outcome = wait::query(py, async move { engine.wait_optimized(&name).await })?;
        Ok(match outcome {
            OptimizeOutcome::Swapped(path) => Some(path.display().to_string()),
            OptimizeOutcome::NotStarted | OptimizeOutcome::Busy => None,
        })
    }
}

impl Engine {
    fn register_user_table(&self, py: Python<'_>, name: String, data: UserData) -> PyResult<()> {
        let engine = Arc::clone(&self.inner);
        let registered = async move { engine.register_user_table(&name, data).await };
        wait::query_with(py, registered, errors::registration_error)
    }
}

/// The rows of a query, held as Arrow record batches in the core.
#[pyclass(frozen, module = "idc_index._core")]
struct QueryResult {
    out: QueryOutput,
}

#[pymethods]
impl QueryResult {
    #[getter]
    fn num_rows(&self) -> usize {
        self.out.num_rows()
    }

    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.out
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn __len__(&self) -> usize {
        self.out.num_rows()
    }

    /// The rows as a list of dicts (column name -> Python value).
    fn to_pylist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        arrow_py::rows(py, &self.out)
    }

    /// One column as a list of Python values.
    fn column<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        arrow_py::column(py, &self.out, name)
    }

    /// The rows as an Arrow C stream capsule (the Arrow PyCapsule interface): consumers import
    /// the buffers without a copy. `requested_schema` is not applied; the rows come as they are.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, pyo3::types::PyCapsule>> {
        let _ = requested_schema;
        pyo3::types::PyCapsule::new_with_value(py, self.out.to_c_stream(), c"arrow_array_stream")
    }
}

/// The rows of a query as they are computed, one `QueryResult` per batch; the GIL is released
/// while the next batch is computed and Ctrl-C stops it.
#[pyclass(frozen, module = "idc_index._core")]
struct QueryBatches {
    stream: Arc<tokio::sync::Mutex<QueryStream>>,
}

#[pymethods]
impl QueryBatches {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<QueryResult>> {
        let stream = Arc::clone(&self.stream);
        let next = wait::query(py, async move {
            let mut stream = stream.lock().await;
            let schema = Arc::clone(&stream.schema);
            Ok(stream.next().await?.map(|batch| QueryOutput {
                schema,
                batches: vec![batch],
            }))
        })?;
        Ok(next.map(|out| QueryResult { out }))
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_class::<QueryResult>()?;
    m.add_class::<QueryBatches>()?;
    download::register(m)?;
    records::register(m)?;
    document::register(m)?;
    range_read::register(m)?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "BUILD_PROFILE",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "optimized"
        },
    )?;
    Ok(())
}
