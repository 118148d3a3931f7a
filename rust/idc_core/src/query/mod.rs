//! SQL over the IDC parquet indices: one DataFusion session per client.

mod cancel;
mod compact;
mod describe;
pub mod dialect;
mod file_store;
pub mod functions;
mod hints;
mod idioms;
mod in_order;
mod lateral;
pub mod layout;
mod names;
mod output;
pub mod params;
mod read_only;
mod remote;
mod resident;
mod rules;
mod spread;
mod table;
mod trim;
mod user_table;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::error::{CoreError, Result};
use dialect::NameMap;
pub use layout::Layout;
pub use output::{QueryOutput, QueryStream};
pub use params::Params;
use table::SwappableTable;
pub use user_table::UserData;

/// Columns whose values identify a handful of rows (and carry bloom filters in the optimised
/// layout).
pub const IDENTIFIER_COLUMNS: &[&str] = &[
    "SeriesInstanceUID",
    "StudyInstanceUID",
    "PatientID",
    "SOPInstanceUID",
    "crdc_series_uuid",
    "crdc_instance_uuid",
];

/// Keys of a join's build side, at most, that its probe side's scan is given as an IN list.
const INLIST_KEYS: usize = 16;

/// Batches a partition of a streamed query computes ahead of its turn (see `in_order`): a few
/// MB each, so that a streamed whole-index scan holds tens of MB, not half the index.
const STREAM_AHEAD: usize = 2;

/// What the background rewrite of a table into its optimised layout ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptimizeOutcome {
    /// The table now reads the file at this path.
    Swapped(PathBuf),
    /// Another process is writing the same file; this session keeps the file it has.
    Busy,
    /// No rewrite was started for this table.
    NotStarted,
}

/// A DataFusion session with the IDC indices registered as tables.
pub struct Engine {
    ctx: SessionContext,
    /// Registered index name -> its table (aliases share one table).
    tables: RwLock<BTreeMap<String, Arc<SwappableTable>>>,
    /// Memory left for small indices held as Arrow (see [`resident`]).
    resident_budget: Arc<resident::Budget>,
    /// The user's own tables (see [`Engine::register_user_table`]), by name.
    user_tables: RwLock<BTreeMap<String, SchemaRef>>,
    names: RwLock<NameMap>,
    optimizing: Mutex<HashMap<String, JoinHandle<Result<OptimizeOutcome>>>>,
    /// Index files of one large row group, whose lookups are spread over the cores.
    one_row_group: spread::OneRowGroupFiles,
}

impl Engine {
    pub fn new() -> Self {
        let mut config = SessionConfig::new().with_information_schema(true);
        let opts = config.options_mut();
        // Late materialisation (decode the other columns only for rows that pass the filter)
        // is switched on per query, for lookups by identifier: see `Engine::sql`.
        opts.execution.parquet.reorder_filters = true;
        // Row counts and sizes from the footers (cached with them), so that joins build their
        // hash table on the small side: a join of the main index with collections_index built
        // it from the million rows of the index without them.
        opts.execution.collect_statistics = true;
        // A join whose build side has a few keys hands them to the probe side's scan as an IN
        // list, which its bloom filters prune row groups with (a lookup of one instance joined
        // with the main index: 74 -> 21 ms). DataFusion weighs the build side's arrays, and a
        // lookup's one row of string views still points into the pages it was read from (12.5
        // MB for one row of sm_instance_index), so the bound is the number of keys instead. Not
        // DataFusion's 150: the 28 collections of a join with collections_index, which no row
        // group statistics or bloom filter can prune by, made the join 1.6x slower as a list.
        opts.optimizer.hash_join_inlist_pushdown_max_size = usize::MAX;
        opts.optimizer.hash_join_inlist_pushdown_max_distinct_values = INLIST_KEYS;
        let ctx = SessionContext::new_with_config(config);
        ctx.register_object_store(
            ObjectStoreUrl::local_filesystem().as_ref(),
            Arc::new(file_store::FileStore::default()),
        );
        functions::register(&ctx);
        // Ours before DataFusion's split of distinct aggregates, which they prepare.
        let split =
            datafusion::optimizer::single_distinct_to_groupby::SingleDistinctToGroupBy::new();
        ctx.remove_optimizer_rule(datafusion::optimizer::OptimizerRule::name(&split));
        ctx.add_optimizer_rule(Arc::new(rules::AggregateRule::DISTINCT_OF_UNIQUE));
        ctx.add_optimizer_rule(Arc::new(rules::AggregateRule::DEPENDENT_GROUP_KEYS));
        ctx.add_optimizer_rule(Arc::new(rules::AggregateRule::COUNT_AS_SUM));
        ctx.add_optimizer_rule(Arc::new(split));
        ctx.add_analyzer_rule(Arc::new(rules::FloatDivision));
        Self {
            ctx,
            tables: RwLock::new(BTreeMap::new()),
            resident_budget: Arc::new(resident::Budget::new(resident::BUDGET_BYTES)),
            user_tables: RwLock::new(BTreeMap::new()),
            names: RwLock::new(NameMap::default()),
            optimizing: Mutex::new(HashMap::new()),
            one_row_group: spread::OneRowGroupFiles::default(),
        }
    }

    /// Register the parquet file at `path` as table `name` (and each of `aliases`), reading
    /// only its footer.
    pub async fn register_parquet(
        &self,
        name: &str,
        path: &Path,
        aliases: &[String],
    ) -> Result<()> {
        let provider = self.index_table(path).await?;
        self.register_index(name, path_string(path)?, provider, aliases)
    }

    /// Register the parquet file at the HTTP(S) `url` as table `name` (and each of `aliases`),
    /// reading only its footer; queries read the ranges they need (see [`remote`]).
    pub async fn register_remote_parquet(
        &self,
        name: &str,
        url: &str,
        aliases: &[String],
    ) -> Result<()> {
        if !remote::is_remote(url) {
            return Err(CoreError::Table(format!(
                "{url} is not an http:// or https:// URL"
            )));
        }
        remote::register_origin(&self.ctx, url)?;
        let listing = listing_table_in(&self.ctx, url).await.map_err(|e| {
            CoreError::Table(format!("{url} cannot be read as a parquet file: {e}"))
        })?;
        let provider = Arc::new(remote::RemoteTable::new(listing));
        self.register_index(name, url.to_string(), provider, aliases)
    }

    fn register_index(
        &self,
        name: &str,
        location: String,
        provider: Arc<dyn TableProvider>,
        aliases: &[String],
    ) -> Result<()> {
        let table = Arc::new(SwappableTable::new(location, provider));
        for n in std::iter::once(name).chain(aliases.iter().map(String::as_str)) {
            if self.ctx.table_exist(n)? {
                self.ctx.deregister_table(n)?;
            }
            self.ctx
                .register_table(n, Arc::clone(&table) as Arc<dyn TableProvider>)?;
            write(&self.tables).insert(n.to_string(), Arc::clone(&table));
        }
        self.rebuild_names();
        Ok(())
    }

    async fn index_table(&self, path: &Path) -> Result<Arc<dyn TableProvider>> {
        if !path.is_file() {
            return Err(CoreError::Table(format!(
                "index file {} does not exist",
                path.display()
            )));
        }
        let table = index_table_in(&self.ctx, path, &self.resident_budget)
            .await
            .map_err(|e| {
                CoreError::Table(format!(
                    "{} is not a readable parquet file: {e}",
                    path.display()
                ))
            })?;
        self.one_row_group.note(path);
        Ok(table)
    }

    /// Declare each of `columns` a key of index `name`: no two rows share a value, and none is
    /// NULL. The planner then knows, for example, that `COUNT(DISTINCT key)` is `COUNT(key)`,
    /// and that the key determines the other columns of its row (see `rules`). Only for what
    /// the release guarantees: the index builder's gates refuse a release that breaks a key.
    pub fn declare_key(&self, name: &str, columns: &[String]) -> Result<()> {
        let table = read(&self.tables)
            .get(name)
            .cloned()
            .ok_or_else(|| CoreError::Table(format!("no index named {name}")))?;
        let schema = table.schema();
        let indices = columns
            .iter()
            .map(|c| {
                schema.index_of(c).map_err(|_| {
                    CoreError::Table(format!("index {name} has no column {c} to declare a key"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !table.declare_keys(&indices) {
            return Err(CoreError::Table(format!(
                "the keys of {name} were declared before"
            )));
        }
        Ok(())
    }

    /// Register the user's own table `name` (read-only, held in memory), replacing one of the
    /// user's registered under that name before. The name of an index is refused.
    pub async fn register_user_table(&self, name: &str, data: UserData) -> Result<()> {
        if name.trim().is_empty() {
            return Err(CoreError::Table(
                "a table name cannot be empty; name the table as you will write it in SQL".into(),
            ));
        }
        self.refuse_index_name(name, "register a table under another name")?;
        let (schema, batches) = user_table::load(data).await?;
        let table = MemTable::try_new(Arc::clone(&schema), vec![batches])?;
        // As spelled: the SQL rewrite quotes the name in this spelling.
        let reference = TableReference::bare(name);
        if self.ctx.table_exist(reference.clone())? {
            self.ctx.deregister_table(reference.clone())?;
        }
        self.ctx.register_table(reference, Arc::new(table))?;
        write(&self.user_tables).insert(name.to_string(), schema);
        self.rebuild_names();
        Ok(())
    }

    /// Remove the user's table `name`. Indices cannot be removed.
    pub fn unregister_user_table(&self, name: &str) -> Result<()> {
        self.refuse_index_name(
            name,
            "only tables registered with register_table can be removed",
        )?;
        if write(&self.user_tables).remove(name).is_none() {
            let yours = self.user_table_names();
            return Err(CoreError::Table(if yours.is_empty() {
                format!("no table named {name} was registered; there are none")
            } else {
                format!(
                    "no table named {name} was registered; registered: {}",
                    yours.join(", ")
                )
            }));
        }
        self.ctx.deregister_table(TableReference::bare(name))?;
        self.rebuild_names();
        Ok(())
    }

    fn refuse_index_name(&self, name: &str, what_to_do: &str) -> Result<()> {
        let taken = read(&self.tables)
            .keys()
            .find(|t| t.eq_ignore_ascii_case(name))
            .cloned();
        match taken {
            Some(index) => Err(CoreError::Table(format!(
                "{name} is the name of the index {index}; {what_to_do}"
            ))),
            None => Ok(()),
        }
    }

    fn rebuild_names(&self) {
        let mut names = NameMap::default();
        let indices = read(&self.tables);
        let user_tables = read(&self.user_tables);
        let schemas = indices
            .iter()
            .map(|(name, table)| (name, table.schema()))
            .chain(user_tables.iter().map(|(n, s)| (n, Arc::clone(s))));
        for (name, schema) in schemas {
            names.insert(name);
            for field in schema.fields() {
                names.insert(field.name());
                insert_nested_fields(&mut names, field.data_type());
            }
        }
        *write(&self.names) = names;
    }

    /// Registered index names, sorted.
    pub fn table_names(&self) -> Vec<String> {
        read(&self.tables).keys().cloned().collect()
    }

    /// The user's registered tables, sorted.
    pub fn user_table_names(&self) -> Vec<String> {
        read(&self.user_tables).keys().cloned().collect()
    }

    /// The Arrow schema of a registered index or user table.
    pub fn table_schema(&self, name: &str) -> Option<SchemaRef> {
        read(&self.tables)
            .get(name)
            .map(|t| t.schema())
            .or_else(|| read(&self.user_tables).get(name).cloned())
    }

    /// Every table a query can read: the indices and the user's tables.
    fn all_table_names(&self) -> Vec<String> {
        let mut names = self.table_names();
        names.extend(self.user_table_names());
        names
    }

    /// `DESCRIBE table` or `SHOW TABLES`, answered in DuckDB's shape (see [`describe`]).
    fn describe(&self, request: describe::Request) -> Result<QueryOutput> {
        let names = self.all_table_names();
        match request {
            describe::Request::Describe(name) => {
                // A table named in any case, as in DuckDB.
                let table = names
                    .iter()
                    .find(|n| n.as_str() == name)
                    .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(&name)));
                match table.and_then(|t| self.table_schema(t)) {
                    Some(schema) => describe::describe(&schema),
                    None => Err(self.explain(CoreError::Sql(format!("table '{name}' not found")))),
                }
            }
            describe::Request::ShowTables => describe::show_tables(names),
        }
    }

    /// The indices held in memory (small ones, after their first use) and their bytes.
    pub fn memory_held(&self) -> BTreeMap<String, usize> {
        let tables = read(&self.tables);
        let mut held = BTreeMap::new();
        for (name, table) in tables.iter() {
            let bytes = table.memory_bytes();
            // An alias shares its table: count it once, under its first name.
            let counted = tables
                .iter()
                .take_while(|(n, _)| *n != name)
                .any(|(_, t)| Arc::ptr_eq(t, table));
            if bytes > 0 && !counted {
                held.insert(name.clone(), bytes);
            }
        }
        held
    }

    /// The file a registered table reads now.
    pub fn table_path(&self, name: &str) -> Option<String> {
        read(&self.tables).get(name).map(|t| t.path())
    }

    /// Run one read-only statement and collect its rows.
    pub async fn sql(&self, sql: &str) -> Result<QueryOutput> {
        self.sql_with_params(sql, &Params::None).await
    }

    /// Run one read-only statement, with `params` bound to its placeholders, and collect its
    /// rows.
    pub async fn sql_with_params(&self, sql: &str, params: &Params) -> Result<QueryOutput> {
        let mut stream = self.run(sql, params, in_order::Ahead::All).await?;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await? {
            batches.push(batch);
        }
        Ok(QueryOutput {
            schema: stream.schema,
            batches,
        })
    }

    /// Run one read-only statement, with `params` bound to its placeholders; its rows come
    /// batch by batch as they are computed ([`QueryStream::next`]), so that a consumer that
    /// turns each batch into something else never holds the whole result.
    pub async fn sql_stream(&self, sql: &str, params: &Params) -> Result<QueryStream> {
        self.run(sql, params, in_order::Ahead::Batches(STREAM_AHEAD))
            .await
    }

    /// Plan `sql` and start it; a partition whose rows come later computes `ahead` of its turn.
    async fn run(&self, sql: &str, params: &Params, ahead: in_order::Ahead) -> Result<QueryStream> {
        // Placeholders are numbered and the DuckDB-style rewrite works on the user's text; the
        // rewritten text is tokenised and parsed once (its tokens serve the lookup check too),
        // and planned from the parse.
        let (bound, values) = params::bind(sql, params)?;
        let sql = dialect::rewrite(&bound, &read(&self.names));
        let tokens = read_only::tokenize(&sql)?;
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        // Late materialisation pays off when a filter keeps a handful of rows (a lookup by
        // identifier) and costs a third more on scans that keep many.
        let pushdown_filters = dialect::is_identifier_lookup(&tokens, IDENTIFIER_COLUMNS);
        let mut state = self.ctx.state();
        let recursion_limit = state.config().options().sql_parser.recursion_limit.get();
        let mut statement = read_only::parse_read_only(&sql, tokens, recursion_limit)?;
        if let Some(request) = describe::request(&statement) {
            return self.describe(request).map(QueryStream::of);
        }
        names::name_like_duckdb(&mut statement, || {
            read_only::parse_read_only(&bound, read_only::tokenize(&bound).ok()?, recursion_limit)
                .ok()
        });
        idioms::rewrite(&mut statement);
        state
            .config_mut()
            .options_mut()
            .execution
            .parquet
            .pushdown_filters = pushdown_filters;
        // Planned (and optimised) without the tables' keys when the query unnests (or only
        // says the word, which costs it the keys' shortcuts, not its answer): see
        // table::KEYS_HIDDEN. The text, which a lateral UNNEST is rewritten from, says it.
        let unnests = sql.to_ascii_lowercase().contains("unnest");
        let (task, physical) = table::KEYS_HIDDEN
            .scope(unnests, async {
                let mut plan = state
                    .statement_to_plan(statement)
                    .await
                    .map_err(|e| self.explain(e.into()))?;
                if let Some(values) = values {
                    plan = plan.with_param_values(values)?;
                }
                options.verify_plan(&plan)?;
                state
                    .config_mut()
                    .options_mut()
                    .execution
                    .enable_file_stream_work_stealing = !in_order::only_reads(&plan);
                let df = DataFrame::new(state, plan);
                let task = Arc::new(df.task_ctx());
                let physical = df
                    .create_physical_plan()
                    .await
                    .and_then(|plan| {
                        if pushdown_filters {
                            self.one_row_group.spread(plan)
                        } else {
                            Ok(plan)
                        }
                    })
                    .and_then(cancel::yield_after_joins)
                    .and_then(|plan| in_order::keep_file_order(plan, ahead))
                    .map_err(|e| self.explain(e.into()))?;
                Ok::<_, CoreError>((task, physical))
            })
            .await?;
        // The schema of the plan that runs: the analyzer's rewrites (see `rules`) may change
        // the types the logical plan was first given.
        let schema = physical.schema();
        // Each batch is compacted as it arrives, so that the pages a batch points into are
        // let go before the next ones are read (see `compact`).
        let batches = datafusion::physical_plan::execute_stream(physical, task)
            .map_err(|e| self.explain(e.into()))?
            .map(|batch| {
                batch
                    .and_then(compact::compact)
                    .map_err(|e| with_hint(e.into()))
            });
        Ok(QueryStream {
            schema,
            batches: Box::pin(batches),
        })
    }

    /// Add what a user needs to an error: the tables that exist when one does not, what to
    /// write instead of DuckDB SQL that is not available here.
    fn explain(&self, err: CoreError) -> CoreError {
        match err {
            CoreError::Sql(msg) if msg.contains("not found") && msg.starts_with("table ") => {
                CoreError::Table(hints::with_hint(format!(
                    "{msg}. Tables you can query: {}",
                    self.all_table_names().join(", ")
                )))
            }
            other => with_hint(other),
        }
    }

    /// Rewrite table `name` into `dst` with `layout` in the background; once written and
    /// checked, the table reads the new file. A file already at `dst` is used as is.
    ///
    /// The rewrite starts after `delay`: a process that ends sooner (a one-shot command) leaves
    /// it to a longer one and pays nothing for it.
    pub fn start_optimize(
        &self,
        name: &str,
        dst: PathBuf,
        layout: Layout,
        delay: Duration,
    ) -> Result<()> {
        let table = read(&self.tables)
            .get(name)
            .cloned()
            .ok_or_else(|| CoreError::Table(format!("no table named {name}")))?;
        let src = table.path();
        let ctx = self.ctx.clone();
        let budget = Arc::clone(&self.resident_budget);
        let job = crate::runtime::get().spawn(async move {
            tokio::time::sleep(delay).await;
            if !dst.is_file() && !layout::write(&src, &dst, &layout).await? {
                return Ok(OptimizeOutcome::Busy);
            }
            let provider = index_table_in(&ctx, &dst, &budget).await?;
            if !table.swap(path_string(&dst)?, provider) {
                return Err(CoreError::Table(format!(
                    "the optimised copy {} has another schema than {src}; delete it to rebuild it",
                    dst.display()
                )));
            }
            Ok(OptimizeOutcome::Swapped(dst))
        });
        lock(&self.optimizing).insert(name.to_string(), job);
        Ok(())
    }

    /// Wait for the background rewrite of `name` started by [`Self::start_optimize`].
    pub async fn wait_optimized(&self, name: &str) -> Result<OptimizeOutcome> {
        let job = lock(&self.optimizing).remove(name);
        match job {
            None => Ok(OptimizeOutcome::NotStarted),
            Some(job) => match job.await {
                Ok(result) => result,
                Err(e) => Err(CoreError::Execution(format!(
                    "the index rewrite stopped: {e}"
                ))),
            },
        }
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

/// The table of the index file at `path`: held in memory after its first use when the file
/// is small (see [`resident`]), read from the file by every query otherwise.
async fn index_table_in(
    ctx: &SessionContext,
    path: &Path,
    budget: &Arc<resident::Budget>,
) -> Result<Arc<dyn TableProvider>> {
    let table = listing_table_in(ctx, &path_string(path)?).await?;
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= resident::MAX_FILE_BYTES);
    Ok(if small {
        Arc::new(resident::ResidentTable::new(
            path.to_path_buf(),
            table,
            Arc::clone(budget),
        ))
    } else {
        table
    })
}

/// The parquet file at `location` (a local path, or a URL whose store is registered) as a table.
async fn listing_table_in(ctx: &SessionContext, location: &str) -> Result<Arc<dyn TableProvider>> {
    let url = ListingTableUrl::parse(location)?;
    let options = ParquetReadOptions::default()
        .to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await?;
    // Statistics are computed once per file, not once per query.
    let statistics = ctx.runtime_env().cache_manager.get_file_statistic_cache();
    Ok(Arc::new(
        ListingTable::try_new(config)?.with_cache(statistics),
    ))
}

/// The names of the fields inside struct columns (and structs inside lists), at any depth.
fn insert_nested_fields(names: &mut NameMap, data_type: &DataType) {
    match data_type {
        DataType::Struct(fields) => {
            for f in fields {
                names.insert_field(f.name());
                insert_nested_fields(names, f.data_type());
            }
        }
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => insert_nested_fields(names, f.data_type()),
        _ => {}
    }
}

/// An SQL error with what to write instead, when there is something (see `hints`).
fn with_hint(err: CoreError) -> CoreError {
    match err {
        CoreError::Sql(msg) => CoreError::Sql(hints::with_hint(msg)),
        other => other,
    }
}

fn path_string(path: &Path) -> Result<String> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        CoreError::Table(format!("index path {} is not valid UTF-8", path.display()))
    })
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn lock<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}
