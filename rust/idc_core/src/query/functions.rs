//! DuckDB functions that idc-index queries use and DataFusion lacks.
//!
//! `regexp_extract` and `len` are implemented here, DuckDB's date part functions (`year(d)`,
//! ...) are written as DataFusion's `date_part`; the others are DuckDB's names for functions
//! that DataFusion has under another name, registered as aliases.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    lit, ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use regex::Regex;

/// DuckDB name -> DataFusion name, for scalar functions.
const SCALAR_ALIASES: [(&str, &str); 8] = [
    ("string_split", "string_to_array"),
    ("str_split", "string_to_array"),
    ("regexp_matches", "regexp_like"),
    ("list_aggregate", "array_agg"),
    ("strftime", "to_char"),
    ("strptime", "to_timestamp_micros"),
    ("list_value", "make_array"),
    ("struct_extract", "get_field"),
];
/// DuckDB name -> DataFusion name, for aggregates.
const AGGREGATE_ALIASES: [(&str, &str); 8] = [
    ("any_value", "first_value"),
    ("arbitrary", "first_value"),
    ("first", "first_value"),
    ("last", "last_value"),
    ("list", "array_agg"),
    ("group_concat", "string_agg"),
    ("approx_count_distinct", "approx_distinct"),
    ("variance", "var_samp"),
];

/// Register `regexp_extract` and the DuckDB aliases that DataFusion does not already know.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(RegexpExtract::new()));
    for (name, part) in DATE_PARTS {
        ctx.register_udf(ScalarUDF::from(DuckDatePart::new(name, part)));
    }
    let state = ctx.state();
    if let Some(chars) = state.scalar_functions().get("character_length") {
        ctx.register_udf(ScalarUDF::from(Len::new(Arc::clone(chars))));
    }
    for (alias, target) in SCALAR_ALIASES {
        if state.scalar_functions().contains_key(alias) {
            continue;
        }
        if let Some(f) = state.scalar_functions().get(target) {
            ctx.register_udf(f.as_ref().clone().with_aliases([alias]));
        }
    }
    for (alias, target) in AGGREGATE_ALIASES {
        if state.aggregate_functions().contains_key(alias) {
            continue;
        }
        if let Some(f) = state.aggregate_functions().get(target) {
            ctx.register_udaf(f.as_ref().clone().with_aliases([alias]));
        }
    }
}

/// DuckDB's date part functions and the `date_part` field each one reads.
const DATE_PARTS: [(&str, &str); 7] = [
    ("year", "year"),
    ("quarter", "quarter"),
    ("month", "month"),
    ("day", "day"),
    ("dayofweek", "dow"),
    ("dayofyear", "doy"),
    ("week", "week"),
];

/// `year(d)` and the like, as in DuckDB: a `BIGINT`, written by the simplifier as
/// `CAST(date_part('year', d) AS BIGINT)`, so that DataFusion's own function computes it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DuckDatePart {
    name: &'static str,
    part: &'static str,
    signature: Signature,
}

impl DuckDatePart {
    pub fn new(name: &'static str, part: &'static str) -> Self {
        Self {
            name,
            part,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DuckDatePart {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> Result<datafusion::arrow::datatypes::FieldRef> {
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(datafusion::arrow::datatypes::Field::new(
            self.name,
            DataType::Int64,
            nullable,
        )))
    }

    fn simplify(&self, mut args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let Some(date) = args.pop().filter(|_| args.is_empty()) else {
            return plan_err!("{} takes one argument, a date or timestamp", self.name);
        };
        let part = datafusion::functions::expr_fn::date_part(lit(self.part), date);
        Ok(ExprSimplifyResult::Simplified(
            datafusion::logical_expr::cast(part, DataType::Int64),
        ))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!(
            "{} is rewritten as date_part before it runs; this call was not",
            self.name
        )
    }
}

/// `len(x)`, as in DuckDB: the number of characters of a string, the number of elements of a
/// list. Strings go to DataFusion's `character_length`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Len {
    signature: Signature,
    chars: Arc<ScalarUDF>,
}

impl Len {
    pub fn new(chars: Arc<ScalarUDF>) -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
            chars,
        }
    }
}

fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

impl ScalarUDFImpl for Len {
    fn name(&self) -> &str {
        "len"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] if is_list(t) || t.is_null() => Ok(DataType::Int64),
            [t] if t.is_string() => self.chars.return_type(arg_types),
            [t] => plan_err!("len takes a string or a list, not {t}"),
            _ => plan_err!("len takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let data_type = args.args[0].data_type();
        if data_type.is_null() {
            return Ok(ColumnarValue::Scalar(
                datafusion::scalar::ScalarValue::Int64(None),
            ));
        }
        if !is_list(&data_type) {
            return self.chars.invoke_with_args(args);
        }
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let list = args.args[0].to_array(args.number_rows)?;
        let lengths: Int64Array = match list.data_type() {
            DataType::List(_) => list_lengths(list.as_list::<i32>()),
            DataType::LargeList(_) => list_lengths(list.as_list::<i64>()),
            _ => {
                let l = list.as_fixed_size_list();
                (0..l.len())
                    .map(|i| l.is_valid(i).then_some(i64::from(l.value_length())))
                    .collect()
            }
        };
        let out: ArrayRef = Arc::new(lengths);
        if scalar {
            Ok(ColumnarValue::Scalar(
                datafusion::scalar::ScalarValue::try_from_array(&out, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

fn list_lengths<O: datafusion::arrow::array::OffsetSizeTrait>(
    l: &datafusion::arrow::array::GenericListArray<O>,
) -> Int64Array {
    let offsets = l.value_offsets();
    (0..l.len())
        .map(|i| {
            l.is_valid(i)
                .then(|| (offsets[i + 1] - offsets[i]).as_usize() as i64)
        })
        .collect()
}

/// `regexp_extract(string, pattern [, group])`, as in DuckDB: the text matched by capture
/// group `group` (0, the whole match, by default) of the first match, `''` when the pattern
/// does not match, NULL when the string is NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RegexpExtract {
    signature: Signature,
}

impl RegexpExtract {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for RegexpExtract {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for RegexpExtract {
    fn name(&self) -> &str {
        "regexp_extract"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Utf8, DataType::Utf8]),
            3 => Ok(vec![DataType::Utf8, DataType::Utf8, DataType::Int64]),
            n => plan_err!(
                "regexp_extract takes 2 or 3 arguments (string, pattern [, group]), got {n}"
            ),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let strings = cast(&arrays[0], &DataType::Utf8)?;
        let patterns = cast(&arrays[1], &DataType::Utf8)?;
        let groups: Option<ArrayRef> = arrays
            .get(2)
            .map(|g| cast(g, &DataType::Int64))
            .transpose()?;
        let out = extract(
            strings.as_string::<i32>(),
            patterns.as_string::<i32>(),
            groups.as_ref().map(|g| {
                g.as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("cast to Int64")
            }),
        )?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(
                datafusion::scalar::ScalarValue::try_from_array(&out, 0)?,
            ))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

fn extract(
    strings: &datafusion::arrow::array::StringArray,
    patterns: &datafusion::arrow::array::StringArray,
    groups: Option<&Int64Array>,
) -> Result<ArrayRef> {
    let mut compiled: HashMap<&str, Regex> = HashMap::new();
    let mut out = StringBuilder::with_capacity(strings.len(), strings.len() * 8);
    for row in 0..strings.len() {
        if strings.is_null(row) || patterns.is_null(row) || groups.is_some_and(|g| g.is_null(row)) {
            out.append_null();
            continue;
        }
        let pattern = patterns.value(row);
        if !compiled.contains_key(pattern) {
            match Regex::new(pattern) {
                Ok(re) => compiled.insert(pattern, re),
                Err(e) => return exec_err!("regexp_extract: invalid pattern {pattern:?}: {e}"),
            };
        }
        let re = &compiled[pattern];
        let group = groups.map_or(0, |g| g.value(row));
        if group < 0 || group as usize >= re.captures_len() {
            return exec_err!(
                "regexp_extract: group {group} does not exist in pattern {pattern:?}, which has {} capture group(s)",
                re.captures_len() - 1
            );
        }
        let value = re
            .captures(strings.value(row))
            .and_then(|c| c.get(group as usize))
            .map_or("", |m| m.as_str());
        out.append_value(value);
    }
    Ok(Arc::new(out.finish()))
}
