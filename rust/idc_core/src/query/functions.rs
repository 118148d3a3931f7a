//! DuckDB functions that idc-index queries use and DataFusion lacks.
//!
//! `regexp_extract` is implemented here; the others are DuckDB's names for functions that
//! DataFusion has under another name, registered as aliases.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use regex::Regex;

/// DuckDB name -> DataFusion name, for scalar functions.
const SCALAR_ALIASES: [(&str, &str); 5] = [
    ("string_split", "string_to_array"),
    ("str_split", "string_to_array"),
    ("regexp_matches", "regexp_like"),
    ("len", "character_length"),
    ("list_aggregate", "array_agg"),
];
/// DuckDB name -> DataFusion name, for aggregates.
const AGGREGATE_ALIASES: [(&str, &str); 4] = [
    ("any_value", "first_value"),
    ("arbitrary", "first_value"),
    ("list", "array_agg"),
    ("group_concat", "string_agg"),
];

/// Register `regexp_extract` and the DuckDB aliases that DataFusion does not already know.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(RegexpExtract::new()));
    let state = ctx.state();
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
