//! Core errors become the exceptions of `idc_index.errors`, one class per kind.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use idc_core::CoreError;

pub fn to_py(err: CoreError) -> PyErr {
    let class = match &err {
        CoreError::ReadOnly(_) => "ReadOnlySQLError",
        CoreError::Sql(_) | CoreError::Execution(_) => "SQLError",
        CoreError::Table(_) => "UnknownTableError",
        CoreError::Io { .. } => "IndexFileError",
        CoreError::Cancelled => "SQLError",
    };
    py_error(class, err.to_string())
}

/// Raise `idc_index.errors.<class>` with `message` (RuntimeError if that module is missing).
pub fn py_error(class: &str, message: String) -> PyErr {
    Python::attach(
        |py| match py.import("idc_index.errors").and_then(|m| m.getattr(class)) {
            Ok(exc_type) => match exc_type.call1((message.clone(),)) {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            },
            Err(_) => PyRuntimeError::new_err(message),
        },
    )
}
