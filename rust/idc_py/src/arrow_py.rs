//! Query results to Python as plain Python values (small results, without importing pyarrow);
//! Arrow consumers take them through the C stream interface instead (`QueryOutput::to_c_stream`).
//! The user's own tables come in through the same interface.

use datafusion::arrow;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchReader};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use idc_core::query::QueryOutput;

pub fn rows<'py>(py: Python<'py>, out: &QueryOutput) -> PyResult<Bound<'py, PyAny>> {
    let names: Vec<Bound<'py, PyAny>> = out
        .schema
        .fields()
        .iter()
        .map(|f| PyString::new(py, f.name()).into_any())
        .collect();
    let list = PyList::empty(py);
    for batch in &out.batches {
        for row in 0..batch.num_rows() {
            let dict = PyDict::new(py);
            for (name, array) in names.iter().zip(batch.columns()) {
                dict.set_item(name, value(py, array, row)?)?;
            }
            list.append(dict)?;
        }
    }
    Ok(list.into_any())
}

pub fn column<'py>(py: Python<'py>, out: &QueryOutput, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let index = out.schema.index_of(name).map_err(|_| {
        pyo3::exceptions::PyKeyError::new_err(format!(
            "no column {name:?} in the result; columns: {}",
            out.schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let list = PyList::empty(py);
    for batch in &out.batches {
        let array = batch.column(index);
        for row in 0..batch.num_rows() {
            list.append(value(py, array, row)?)?;
        }
    }
    Ok(list.into_any())
}

/// One cell as a Python value: str, int, float, bool, None, list (lists), dict (structs);
/// other types (dates, times, decimals) as their display text.
fn value<'py>(py: Python<'py>, array: &ArrayRef, row: usize) -> PyResult<Bound<'py, PyAny>> {
    use arrow::datatypes as t;
    if array.is_null(row) {
        return Ok(py.None().into_bound(py));
    }
    macro_rules! prim {
        ($ty:ty) => {
            array
                .as_primitive::<$ty>()
                .value(row)
                .into_pyobject(py)?
                .into_any()
        };
    }
    Ok(match array.data_type() {
        DataType::Utf8 => array
            .as_string::<i32>()
            .value(row)
            .into_pyobject(py)?
            .into_any(),
        DataType::LargeUtf8 => array
            .as_string::<i64>()
            .value(row)
            .into_pyobject(py)?
            .into_any(),
        DataType::Utf8View => array
            .as_string_view()
            .value(row)
            .into_pyobject(py)?
            .into_any(),
        DataType::Boolean => array
            .as_boolean()
            .value(row)
            .into_pyobject(py)?
            .to_owned()
            .into_any(),
        DataType::Int8 => prim!(t::Int8Type),
        DataType::Int16 => prim!(t::Int16Type),
        DataType::Int32 => prim!(t::Int32Type),
        DataType::Int64 => prim!(t::Int64Type),
        DataType::UInt8 => prim!(t::UInt8Type),
        DataType::UInt16 => prim!(t::UInt16Type),
        DataType::UInt32 => prim!(t::UInt32Type),
        DataType::UInt64 => prim!(t::UInt64Type),
        DataType::Float32 => prim!(t::Float32Type),
        DataType::Float64 => prim!(Float64Type),
        DataType::Decimal128(..) | DataType::Decimal256(..) | DataType::Float16 => {
            let f = arrow::compute::cast(&array.slice(row, 1), &DataType::Float64)
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            f.as_primitive::<Float64Type>()
                .value(0)
                .into_pyobject(py)?
                .into_any()
        }
        DataType::List(_) => list(py, &array.as_list::<i32>().value(row))?,
        DataType::LargeList(_) => list(py, &array.as_list::<i64>().value(row))?,
        DataType::ListView(_) | DataType::FixedSizeList(..) | DataType::LargeListView(_) => {
            let cast = arrow::compute::cast(
                &array.slice(row, 1),
                &DataType::new_list(list_item_type(array), true),
            )
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            list(py, &cast.as_list::<i32>().value(0))?
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let dict = PyDict::new(py);
            for (field, child) in fields.iter().zip(s.columns()) {
                dict.set_item(field.name(), value(py, child, row)?)?;
            }
            dict.into_any()
        }
        _ => {
            let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            formatter
                .value(row)
                .to_string()
                .into_pyobject(py)?
                .into_any()
        }
    })
}

fn list_item_type(array: &ArrayRef) -> DataType {
    match array.data_type() {
        DataType::ListView(f) | DataType::LargeListView(f) | DataType::FixedSizeList(f, _) => {
            f.data_type().clone()
        }
        other => other.clone(),
    }
}

fn list<'py>(py: Python<'py>, items: &ArrayRef) -> PyResult<Bound<'py, PyAny>> {
    let out = PyList::empty(py);
    for i in 0..items.len() {
        out.append(value(py, items, i)?)?;
    }
    Ok(out.into_any())
}

/// The rows of any object that implements the Arrow PyCapsule stream protocol
/// (`__arrow_c_stream__`: pyarrow, polars, pandas through pyarrow, DuckDB results).
pub fn import_stream(data: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    use arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
    use pyo3::types::{PyCapsule, PyCapsuleMethods};

    let capsule = data
        .call_method0("__arrow_c_stream__")?
        .cast_into::<PyCapsule>()
        .map_err(|_| PyTypeError::new_err("__arrow_c_stream__ did not return a PyCapsule"))?;
    let pointer = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule named "arrow_array_stream" holds an FFI_ArrowArrayStream (the Arrow
    // PyCapsule interface); from_raw moves it out and leaves a released stream behind, which
    // the capsule's destructor then skips.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(pointer.cast().as_ptr()) };
    let reader = ArrowArrayStreamReader::try_new(stream)
        .map_err(|e| PyValueError::new_err(format!("the Arrow stream could not be read: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("the Arrow stream could not be read: {e}")))?;
    Ok((schema, batches))
}
