//! Index files read where they are published, over HTTP(S), a range at a time.
//!
//! A release under a releases URL can be queried without downloading it: DataFusion reads a
//! file's footer (one request for most files, with its `metadata_size_hint`), then only the
//! row groups, pages and bloom filters a query needs, through object_store's HTTP store (Range
//! requests, retries on transient failures, nearby ranges merged into one request). Footers and
//! page indexes stay in the session's metadata cache, so a second query reads only data.
//!
//! A published release never changes under its versioned URL, so what a HEAD says about a
//! file (its size, ETag and time) is kept from the first time it is asked: DataFusion asks at
//! every query, when it lists a table's files, and each answer would be a round trip.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::client::ClientOptions;
use datafusion::object_store::http::{HttpBuilder, HttpStore};
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, Error, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
    RetryConfig,
};
use datafusion::prelude::SessionContext;
use futures::stream::{self, BoxStream};

use crate::error::{CoreError, Result as CoreResult};

const STORE: &str = "RemoteIndexStore";

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
    };
    ctx.register_object_store(store_url.as_ref(), Arc::new(store));
    Ok(())
}

/// Read-only HTTP(S) store of published index files, whose HEAD answers are kept.
struct RemoteIndexStore {
    origin: String,
    inner: HttpStore,
    heads: Mutex<HashMap<Path, ObjectMeta>>,
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
        let plain_head = options.head
            && options.range.is_none()
            && options.if_match.is_none()
            && options.if_none_match.is_none()
            && options.if_modified_since.is_none()
            && options.if_unmodified_since.is_none()
            && options.version.is_none();
        if !plain_head {
            return self.inner.get_opts(location, options).await;
        }
        let known = self.lock().get(location).cloned();
        let meta = match known {
            Some(meta) => meta,
            None => {
                let result = self.inner.get_opts(location, options).await?;
                self.lock().insert(location.clone(), result.meta.clone());
                result.meta
            }
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream::once(async { Ok(Bytes::new()) }))),
            attributes: Default::default(),
            range: 0..meta.size,
            meta,
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
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
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Path, ObjectMeta>> {
        self.heads.lock().unwrap_or_else(|e| e.into_inner())
    }
}
