//! Python values bound to a query's placeholders, as DataFusion scalars.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::scalar::ScalarValue;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use idc_core::query::Params;

const KINDS: &str =
    "a str, int, float, bool, None, bytes, datetime.date, datetime.datetime, or a list of them";

/// `params` as given to `sql(sql, params)`: None, a list or tuple (for `?` and `$1`), or a dict
/// (for `$name`).
pub fn from_python(params: Option<&Bound<'_, PyAny>>) -> PyResult<Params> {
    let Some(params) = params.filter(|p| !p.is_none()) else {
        return Ok(Params::None);
    };
    if let Ok(dict) = params.cast::<PyDict>() {
        let mut named = BTreeMap::new();
        for (key, value) in dict.iter() {
            let key: String = key.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "params: a dict's keys are placeholder names (str), not {}",
                    type_name(&key)
                ))
            })?;
            let name = key.strip_prefix('$').unwrap_or(&key).to_string();
            let scalar = scalar(&value).map_err(|e| named_error(&format!("${name}"), e))?;
            named.insert(name, scalar);
        }
        return Ok(Params::Named(named));
    }
    if params.is_instance_of::<PyList>() || params.is_instance_of::<PyTuple>() {
        let values = params
            .try_iter()?
            .enumerate()
            .map(|(i, v)| {
                scalar(&v?)
                    .map_err(|e| named_error(&format!("value {} (of ? or ${})", i + 1, i + 1), e))
            })
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Params::Positional(values));
    }
    Err(PyTypeError::new_err(format!(
        "params must be a list or tuple (one value per ? or $1, $2, ...) or a dict (one value per $name), not {}",
        type_name(params)
    )))
}

fn named_error(which: &str, err: PyErr) -> PyErr {
    Python::attach(|py| PyTypeError::new_err(format!("params: {which}: {}", err.value(py))))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// One Python value as a scalar.
fn scalar(value: &Bound<'_, PyAny>) -> PyResult<ScalarValue> {
    let py = value.py();
    if value.is_none() {
        return Ok(ScalarValue::Null);
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(ScalarValue::Boolean(Some(value.extract()?)));
    }
    if value.is_instance_of::<PyInt>() {
        let n: i64 = value.extract().map_err(|_| {
            PyTypeError::new_err("an integer beyond 64 bits cannot be bound; pass it as a str")
        })?;
        return Ok(ScalarValue::Int64(Some(n)));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(ScalarValue::Float64(Some(value.extract()?)));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(ScalarValue::Utf8(Some(value.extract()?)));
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(ScalarValue::Binary(Some(bytes.as_bytes().to_vec())));
    }
    let datetime = py.import("datetime")?;
    if value.is_instance(&datetime.getattr("datetime")?)? {
        return timestamp(value);
    }
    if value.is_instance(&datetime.getattr("date")?)? {
        // Days since 1970-01-01, whose proleptic Gregorian ordinal is 719,163.
        let ordinal: i64 = value.call_method0("toordinal")?.extract()?;
        return Ok(ScalarValue::Date32(Some((ordinal - 719_163) as i32)));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return list(value);
    }
    if value.hasattr("__index__")? {
        // numpy integers
        return scalar(&value.call_method0("__index__")?);
    }
    Err(PyTypeError::new_err(format!(
        "a {} cannot be bound; bind {KINDS}",
        type_name(value)
    )))
}

/// A `datetime.datetime`: naive as a timestamp without time zone, aware as one in UTC.
fn timestamp(value: &Bound<'_, PyAny>) -> PyResult<ScalarValue> {
    let py = value.py();
    let aware = !value.call_method0("utcoffset")?.is_none();
    let (naive, zone) = if aware {
        let utc = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("tzinfo", py.None())?;
        let in_utc = value.call_method1("astimezone", (utc,))?;
        (
            in_utc.call_method("replace", (), Some(&kwargs))?,
            Some(Arc::from("UTC")),
        )
    } else {
        (value.clone(), None)
    };
    let field = |name: &str| -> PyResult<i64> { naive.getattr(name)?.extract() };
    let days = naive.call_method0("toordinal")?.extract::<i64>()? - 719_163;
    let seconds = days * 86_400 + field("hour")? * 3_600 + field("minute")? * 60 + field("second")?;
    let micros = seconds * 1_000_000 + field("microsecond")?;
    Ok(ScalarValue::TimestampMicrosecond(Some(micros), zone))
}

/// A list or tuple: one array value (after `IN`, its elements; see `idc_core::query::params`).
fn list(value: &Bound<'_, PyAny>) -> PyResult<ScalarValue> {
    let items = value
        .try_iter()?
        .map(|v| scalar(&v?))
        .collect::<PyResult<Vec<_>>>()?;
    let types: Vec<DataType> = items
        .iter()
        .map(ScalarValue::data_type)
        .filter(|t| *t != DataType::Null)
        .collect();
    let element = types.first().cloned().unwrap_or(DataType::Null);
    if let Some(other) = types.iter().find(|t| **t != element) {
        return Err(PyTypeError::new_err(format!(
            "a list's values must be of one kind; this one mixes {element} and {other}"
        )));
    }
    let items: Vec<ScalarValue> = items
        .into_iter()
        .map(|v| {
            if v == ScalarValue::Null {
                ScalarValue::try_from(&element)
            } else {
                Ok(v)
            }
        })
        .collect::<Result<_, _>>()
        .map_err(|e| PyTypeError::new_err(e.to_string()))?;
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &items, &element,
    )))
}
