use thiserror::Error;

/// Every error the core reports. Messages say what was wrong and what to do instead.
#[derive(Debug, Error)]
pub enum CoreError {
    /// The SQL is well formed but would change state or read outside the registered indices.
    #[error("{0}")]
    ReadOnly(String),
    /// The SQL could not be parsed or planned (unknown table or column, bad syntax, type error).
    #[error("{0}")]
    Sql(String),
    /// A table name that is not registered, or registered twice.
    #[error("{0}")]
    Table(String),
    /// Reading or writing a local file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The query was cancelled by the caller.
    #[error("query cancelled")]
    Cancelled,
    /// Anything DataFusion reports while executing a plan.
    #[error("{0}")]
    Execution(String),
}

pub type Result<T> = std::result::Result<T, CoreError>;

#[cfg(feature = "query")]
impl From<datafusion::error::DataFusionError> for CoreError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as E;
        match e {
            E::SQL(..) | E::Plan(..) | E::SchemaError(..) | E::NotImplemented(..) => {
                CoreError::Sql(strip_datafusion_prefix(&e.to_string()))
            }
            E::Context(_, inner) => CoreError::from(*inner),
            E::Diagnostic(_, inner) => CoreError::from(*inner),
            other => CoreError::Execution(strip_datafusion_prefix(&other.to_string())),
        }
    }
}

#[cfg(feature = "query")]
impl From<datafusion::parquet::errors::ParquetError> for CoreError {
    fn from(e: datafusion::parquet::errors::ParquetError) -> Self {
        CoreError::Execution(format!("writing parquet: {e}"))
    }
}

#[cfg(feature = "query")]
/// DataFusion prefixes its messages with the error class ("Error during planning: ...");
/// users of idc-index care about the message itself.
fn strip_datafusion_prefix(msg: &str) -> String {
    const PREFIXES: [&str; 6] = [
        "Error during planning: ",
        "SQL error: ",
        "Schema error: ",
        "This feature is not implemented: ",
        "Execution error: ",
        "Arrow error: ",
    ];
    let mut m = msg.trim();
    loop {
        match PREFIXES.iter().find(|p| m.starts_with(*p)) {
            Some(p) => m = &m[p.len()..],
            None => return m.to_string(),
        }
    }
}
