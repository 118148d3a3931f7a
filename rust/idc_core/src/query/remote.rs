//! Index files read where they are published, over HTTP(S), a range at a time.
//!
//! A release under a releases URL can be queried without downloading it: DataFusion reads a
//! file's footer (one request for most files, with its `metadata_size_hint`), then only the
//! row groups, pages and bloom filters a query needs, through object_store's HTTP store (Range
//! requests, retries on transient failures, nearby ranges merged into one request). Footers and
//! page indexes stay in the session's metadata cache, so a second query reads only data.
//!
//! A published release never changes under its versioned URL, so what a HEAD says about a
//! file (its size, ETag and time) is kept from the first time it is asked (DataFusion asks at
//! every query, when it lists a table's files), and so are small ranges: the bloom filters a
//! lookup reads in every row group, which DataFusion reads again at every query.
//!
//! Ranges less than [`COALESCE_BYTES`] apart are fetched in one request. object_store merges
//! ranges up to 1 MiB apart, which reads whole row groups (about 1 MB each in the release
//! layout) for a query that needs three small columns of them: a filtered count of a large
//! collection read 47 MB of a 74 MB index that way.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result as DFResult, Statistics};
use datafusion::datasource::TableType;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::object_store::client::ClientOptions;
use datafusion::object_store::http::{HttpBuilder, HttpStore};
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    coalesce_ranges, CopyOptions, Error, GetOptions, GetRange, GetResult, GetResultPayload,
    ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, Result, RetryConfig,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use futures::stream::{self, BoxStream};

use crate::error::{CoreError, Result as CoreResult};

const STORE: &str = "RemoteIndexStore";
/// Partitions of a scan of a remote file: each reads its row groups one after another, each
/// read a round trip, so a lookup's bloom filters and a scan's column chunks are read this many
/// at a time.
pub const SCAN_PARTITIONS: usize = 16;
/// Ranges closer than this are read in one request (see the module's documentation).
const COALESCE_BYTES: u64 = 64 * 1024;
/// Ranges up to this size are kept once read (bloom filters; index and footer parts).
const SMALL_RANGE_BYTES: u64 = 64 * 1024;
/// At most this many bytes of small ranges are kept per origin; later ones are read each time.
const SMALL_RANGES_BUDGET: usize = 64 << 20;

/// Whether `location` names a file over HTTP(S) rather than a local path.
pub fn is_remote(location: &str) -> bool {
    location.starts_with("https://") || location.starts_with("http://")
}

/// Make the HTTP(S) origin of `location` (`scheme://host:port`) readable by `ctx`, once per
/// origin.
pub fn register_origin(ctx: &SessionContext, location: &str) -> CoreResult<()> {
    let url = url::Url::parse(location)
        .map_err(|e| CoreError::Table(format!("{location} is not a valid URL: {e}")))?;
    let origin = url.origin().ascii_serialization();
    let store_url = ObjectStoreUrl::parse(&origin)?;
    if ctx.runtime_env().object_store(&store_url).is_ok() {
        return Ok(());
    }
    let client = ClientOptions::new()
        .with_allow_http(true)
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(60));
    let retry = RetryConfig {
        max_retries: 5,
        retry_timeout: Duration::from_secs(120),
        ..RetryConfig::default()
    };
    let inner = HttpBuilder::new()
        .with_url(origin.as_str())
        .with_client_options(client)
        .with_retry(retry)
        .build()
        .map_err(|e| CoreError::Table(format!("cannot read from {origin}: {e}")))?;
    let store = RemoteIndexStore {
        origin: origin.clone(),
        inner,
        heads: Mutex::new(HashMap::new()),
        small: Mutex::new(SmallRanges::default()),
    };
    ctx.register_object_store(store_url.as_ref(), Arc::new(store));
    Ok(())
}

/// Read-only HTTP(S) store of published index files, whose HEAD answers and small ranges are
/// kept.
struct RemoteIndexStore {
    origin: String,
    inner: HttpStore,
    heads: Mutex<HashMap<Path, ObjectMeta>>,
    small: Mutex<SmallRanges>,
}

/// Small ranges read so far, within [`SMALL_RANGES_BUDGET`].
#[derive(Default)]
struct SmallRanges {
    ranges: HashMap<(Path, Range<u64>), Bytes>,
    bytes: usize,
}

impl fmt::Debug for RemoteIndexStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STORE}({})", self.origin)
    }
}

impl fmt::Display for RemoteIndexStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

fn read_only(what: &str) -> Error {
    Error::NotSupported {
        source: format!("{what}: index files over HTTP are read-only").into(),
    }
}

#[async_trait]
impl ObjectStore for RemoteIndexStore {
    async fn put_opts(&self, _: &Path, _: PutPayload, _: PutOptions) -> Result<PutResult> {
        Err(read_only("put"))
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        Err(read_only("put"))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let unconditional = options.if_match.is_none()
            && options.if_none_match.is_none()
            && options.if_modified_since.is_none()
            && options.if_unmodified_since.is_none()
            && options.version.is_none();
        let (payload, range) = match (&options.range, options.head) {
            _ if !unconditional => return self.inner.get_opts(location, options).await,
            (None, true) => (Bytes::new(), None),
            (Some(GetRange::Bounded(r)), false) if r.end - r.start <= SMALL_RANGE_BYTES => (
                self.get_range_kept(location, r.clone()).await?,
                Some(r.clone()),
            ),
            _ => return self.inner.get_opts(location, options).await,
        };
        let meta = self.head_of(location).await?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream::once(async { Ok(payload) }))),
            attributes: Default::default(),
            range: range.unwrap_or(0..meta.size),
            meta,
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        coalesce_ranges(ranges, |r| self.get_range_kept(location, r), COALESCE_BYTES).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        Box::pin(futures::StreamExt::map(locations, |_| {
            Err(read_only("delete"))
        }))
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> Result<()> {
        Err(read_only("copy"))
    }
}

impl RemoteIndexStore {
    async fn head_of(&self, location: &Path) -> Result<ObjectMeta> {
        if let Some(meta) = lock(&self.heads).get(location) {
            return Ok(meta.clone());
        }
        let meta = self.inner.head(location).await?;
        lock(&self.heads).insert(location.clone(), meta.clone());
        Ok(meta)
    }

    /// One range, from the kept small ranges when it is one of them.
    async fn get_range_kept(&self, location: &Path, range: Range<u64>) -> Result<Bytes> {
        let small = range.end - range.start <= SMALL_RANGE_BYTES;
        let key = (location.clone(), range.clone());
        if small {
            if let Some(bytes) = lock(&self.small).ranges.get(&key) {
                return Ok(bytes.clone());
            }
        }
        let bytes = self.inner.get_range(location, range).await?;
        if small {
            let mut kept = lock(&self.small);
            if kept.bytes + bytes.len() <= SMALL_RANGES_BUDGET {
                kept.bytes += bytes.len();
                kept.ranges.insert(key, bytes.clone());
            }
        }
        Ok(bytes)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A table over a remote file whose scans read [`SCAN_PARTITIONS`] parts of it side by side,
/// whatever the session's partitions (which are sized for the CPU, not for round trips).
#[derive(Debug)]
pub struct RemoteTable {
    inner: Arc<dyn TableProvider>,
}

impl RemoteTable {
    pub fn new(inner: Arc<dyn TableProvider>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl TableProvider for RemoteTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        let wider = plan.repartitioned(SCAN_PARTITIONS, state.config_options())?;
        Ok(wider.unwrap_or(plan))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}
