//! `DESCRIBE table` and `SHOW TABLES` answered in DuckDB's shape.
//!
//! Code written for idc-index 0.13 reads DuckDB's answers: `DESCRIBE` has the columns
//! `column_name`, `column_type` (SQL type names: `VARCHAR`, `BIGINT`, `STRUCT(...)[]`), `null`,
//! `key`, `default` and `extra`; `SHOW TABLES` has one column, `name`. DataFusion answers both
//! in its own shape, with Arrow type names (`Utf8View`).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{DescribeAlias, Statement};
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;

use super::QueryOutput;
use crate::error::{CoreError, Result};

/// What a statement asks that this module answers.
pub enum Request {
    /// The columns of a table, named as written.
    Describe(String),
    /// The names of the tables.
    ShowTables,
}

/// The request `statement` makes, if it is one of this module's.
pub fn request(statement: &DFStatement) -> Option<Request> {
    let DFStatement::Statement(statement) = statement else {
        return None;
    };
    match statement.as_ref() {
        Statement::ExplainTable {
            describe_alias: DescribeAlias::Describe | DescribeAlias::Desc,
            hive_format: None,
            table_name,
            ..
        } => {
            let name = table_name.0.last()?.as_ident()?.value.clone();
            Some(Request::Describe(name))
        }
        Statement::ShowTables { .. } => Some(Request::ShowTables),
        _ => None,
    }
}

/// DuckDB's `DESCRIBE` of a table with `schema`.
pub fn describe(schema: &Schema) -> Result<QueryOutput> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| duckdb_type(f.data_type()))
        .collect();
    let nulls: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| if f.is_nullable() { "YES" } else { "NO" })
        .collect();
    let none = vec![None::<&str>; names.len()];
    strings(&[
        ("column_name", StringArray::from(names)),
        ("column_type", StringArray::from(types)),
        ("null", StringArray::from(nulls)),
        ("key", StringArray::from(none.clone())),
        ("default", StringArray::from(none.clone())),
        ("extra", StringArray::from(none)),
    ])
}

/// DuckDB's `SHOW TABLES`: the names, sorted.
pub fn show_tables(mut names: Vec<String>) -> Result<QueryOutput> {
    names.sort();
    names.dedup();
    strings(&[("name", StringArray::from(names))])
}

fn strings(columns: &[(&str, StringArray)]) -> Result<QueryOutput> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, _)| Field::new(*name, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|(_, a)| Arc::new(a.clone()) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
        .map_err(|e| CoreError::Execution(e.to_string()))?;
    Ok(QueryOutput {
        schema,
        batches: vec![batch],
    })
}

/// An Arrow type as DuckDB names the SQL type it reads it as.
pub fn duckdb_type(data_type: &DataType) -> String {
    use DataType as T;
    match data_type {
        T::Utf8 | T::Utf8View | T::LargeUtf8 => "VARCHAR".into(),
        T::Boolean => "BOOLEAN".into(),
        T::Int8 => "TINYINT".into(),
        T::Int16 => "SMALLINT".into(),
        T::Int32 => "INTEGER".into(),
        T::Int64 => "BIGINT".into(),
        T::UInt8 => "UTINYINT".into(),
        T::UInt16 => "USMALLINT".into(),
        T::UInt32 => "UINTEGER".into(),
        T::UInt64 => "UBIGINT".into(),
        T::Float16 | T::Float32 => "FLOAT".into(),
        T::Float64 => "DOUBLE".into(),
        T::Date32 | T::Date64 => "DATE".into(),
        T::Time32(_) | T::Time64(_) => "TIME".into(),
        T::Timestamp(TimeUnit::Second, None) => "TIMESTAMP_S".into(),
        T::Timestamp(TimeUnit::Millisecond, None) => "TIMESTAMP_MS".into(),
        T::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP_NS".into(),
        T::Timestamp(_, None) => "TIMESTAMP".into(),
        T::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        T::Interval(_) | T::Duration(_) => "INTERVAL".into(),
        T::Binary | T::BinaryView | T::LargeBinary | T::FixedSizeBinary(_) => "BLOB".into(),
        T::Decimal32(p, s) | T::Decimal64(p, s) | T::Decimal128(p, s) | T::Decimal256(p, s) => {
            format!("DECIMAL({p},{s})")
        }
        T::Null => "\"NULL\"".into(),
        T::List(f) | T::LargeList(f) | T::ListView(f) | T::LargeListView(f) => {
            format!("{}[]", duckdb_type(f.data_type()))
        }
        T::FixedSizeList(f, n) => format!("{}[{n}]", duckdb_type(f.data_type())),
        T::Struct(fields) => format!(
            "STRUCT({})",
            fields
                .iter()
                .map(|f| format!("{} {}", field_name(f.name()), duckdb_type(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        T::Map(entries, _) => match entries.data_type() {
            T::Struct(kv) if kv.len() == 2 => format!(
                "MAP({}, {})",
                duckdb_type(kv[0].data_type()),
                duckdb_type(kv[1].data_type())
            ),
            other => other.to_string(),
        },
        T::Dictionary(_, values) => duckdb_type(values),
        other => other.to_string(),
    }
}

/// A struct field's name as DuckDB writes it in a type: quoted when it is a keyword or is not
/// a plain word (DuckDB's own keyword list is PostgreSQL's; the SQL parser's stands in for it).
fn field_name(name: &str) -> String {
    let word = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let keyword = ALL_KEYWORDS
        .binary_search(&name.to_ascii_uppercase().as_str())
        .is_ok();
    if word && !keyword {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_named_as_duckdb_names_them() {
        let item = Field::new("item", DataType::Utf8View, true);
        let doi = DataType::Struct(
            vec![
                Field::new("source_doi", DataType::Utf8, true),
                Field::new("ImageTypes", DataType::Int64, true),
                Field::new("Access", DataType::Int64, true),
            ]
            .into(),
        );
        assert_eq!(duckdb_type(&DataType::List(Arc::new(item))), "VARCHAR[]");
        assert_eq!(
            duckdb_type(&DataType::List(Arc::new(Field::new("item", doi, true)))),
            "STRUCT(source_doi VARCHAR, ImageTypes BIGINT, \"Access\" BIGINT)[]"
        );
        assert_eq!(
            duckdb_type(&DataType::Timestamp(TimeUnit::Microsecond, None)),
            "TIMESTAMP"
        );
    }
}
