//! Tables of the user's own (an inventory, labels, a clinical spreadsheet), registered next to
//! the indices so that queries can join them.
//!
//! A table is held in memory as Arrow record batches. A file is read once, when it is
//! registered: the table is a snapshot of it, and a file changed afterwards must be registered
//! again. (The indices are read through memory maps, which suits files that are only ever
//! replaced by a rename, as the index files are, but not files that their owner may rewrite.)

use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};

use crate::error::{CoreError, Result};

/// What a user table is made from.
#[derive(Debug, Clone)]
pub enum UserData {
    /// Rows the caller already holds (a DataFrame or Arrow table, through the C stream).
    Batches(SchemaRef, Vec<RecordBatch>),
    /// A parquet file.
    Parquet(PathBuf),
    /// A CSV file with a header line; column types are inferred from its rows.
    Csv(PathBuf),
}

/// The rows of `data`, read into memory.
pub async fn load(data: UserData) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (path, csv) = match data {
        UserData::Batches(schema, batches) => return Ok((schema, batches)),
        UserData::Parquet(path) => (path, false),
        UserData::Csv(path) => (path, true),
    };
    if !path.is_file() {
        return Err(CoreError::Table(format!(
            "{} is not a file; give the path of a parquet or CSV file",
            path.display()
        )));
    }
    let location = path_str(&path)?;
    // A session of its own, with the default local file reader: the user's file is read once,
    // here, not mapped.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let read = if csv {
        ctx.read_csv(location, CsvReadOptions::new().has_header(true))
            .await
    } else {
        ctx.read_parquet(location, ParquetReadOptions::default())
            .await
    };
    let kind = if csv { "CSV" } else { "parquet" };
    let unreadable = |e: datafusion::error::DataFusionError| {
        CoreError::Table(format!(
            "{} could not be read as a {kind} file: {e}",
            path.display()
        ))
    };
    let df = read.map_err(unreadable)?;
    let schema: SchemaRef = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(unreadable)?;
    Ok((schema, batches))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| CoreError::Table(format!("the path {} is not valid UTF-8", path.display())))
}
