//! The exceptions of `idc_index.errors`, imported once, and the mapping of core errors onto them.

use pyo3::prelude::*;

use idc_core::CoreError;

pyo3::import_exception!(idc_index.errors, SQLError);
pyo3::import_exception!(idc_index.errors, ReadOnlySQLError);
pyo3::import_exception!(idc_index.errors, UnknownTableError);
pyo3::import_exception!(idc_index.errors, IndexFileError);
pyo3::import_exception!(idc_index.errors, TableRegistrationError);
pyo3::import_exception!(idc_index.errors, QueryCancelledError);
pyo3::import_exception!(idc_index.errors, DownloadError);

/// A query-side error as the exception of its kind.
pub fn query_error(err: CoreError) -> PyErr {
    let message = err.to_string();
    match err {
        CoreError::ReadOnly(_) => ReadOnlySQLError::new_err(message),
        CoreError::Sql(_) | CoreError::Execution(_) => SQLError::new_err(message),
        CoreError::Table(_) => UnknownTableError::new_err(message),
        CoreError::Io { .. } => IndexFileError::new_err(message),
        CoreError::Cancelled => QueryCancelledError::new_err(message),
    }
}

/// An error registering or removing a user table: a refused name or an unreadable file.
pub fn registration_error(err: CoreError) -> PyErr {
    match err {
        CoreError::Table(message) => TableRegistrationError::new_err(message),
        other => query_error(other),
    }
}

/// A downloader error (bad setting or plan, a failed listing, ...).
pub fn download_error(err: idc_core::download::DownloadError) -> PyErr {
    DownloadError::new_err(err.to_string())
}
