//! What to write instead, added to the error of DuckDB SQL that DataFusion cannot run.

/// DuckDB functions that have no counterpart here, and what to write instead.
const FUNCTIONS: &[(&str, &str)] = &[
    (
        "mode",
        "GROUP BY x ORDER BY COUNT(*) DESC LIMIT 1 gives the most frequent value",
    ),
    (
        "histogram",
        "SELECT x, COUNT(*) ... GROUP BY x counts each value",
    ),
    (
        "string_split_regex",
        "regexp_replace(s, pattern, ',', 'g') then string_split(..., ',')",
    ),
    ("list_unique", "cardinality(list_distinct(l))"),
    ("epoch", "date_part('epoch', t)"),
    (
        "date_diff",
        "date_part('day', end - start), or date_part of the difference in the unit wanted",
    ),
    (
        "datediff",
        "date_part('day', end - start), or date_part of the difference in the unit wanted",
    ),
    ("printf", "concat(...) or || with CAST(x AS VARCHAR)"),
    ("format", "concat(...) or || with CAST(x AS VARCHAR)"),
    ("hash", "md5(CAST(x AS VARCHAR))"),
    ("columns", "name the columns, or SELECT * EXCLUDE (...)"),
    (
        "read_parquet",
        "client.register_table(\"name\", \"file.parquet\") makes a file a table",
    ),
    (
        "read_csv",
        "client.register_table(\"name\", \"file.csv\") makes a file a table",
    ),
    (
        "read_csv_auto",
        "client.register_table(\"name\", \"file.csv\") makes a file a table",
    ),
];

/// `message` with a hint when it is one of DataFusion's errors for DuckDB SQL it lacks.
pub fn with_hint(message: String) -> String {
    if let Some(name) = invalid_function(&message) {
        if let Some((_, hint)) = FUNCTIONS.iter().find(|(f, _)| f.eq_ignore_ascii_case(name)) {
            return format!(
                "{message}\n{name}() is DuckDB's and is not available here; instead: {hint}"
            );
        }
    }
    if message.contains("table function 'UNNEST' not found")
        || message.contains("OuterReferenceColumn")
    {
        return format!(
            "{message}\nA lateral UNNEST is supported here for one table and one UNNEST of one list \
             (FROM t, UNNEST(t.list) AS u(x)); otherwise unnest in a subquery: SELECT x['field'] FROM \
             (SELECT t.*, unnest(t.list) AS x FROM t)"
        );
    }
    message
}

/// The name in DataFusion's "Invalid function 'name'" or "table function 'name' not found".
fn invalid_function(message: &str) -> Option<&str> {
    let rest = message
        .split("Invalid function '")
        .nth(1)
        .or_else(|| message.split("table function '").nth(1))?;
    rest.split('\'').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duckdb_functions_say_what_to_write_instead() {
        let hinted = with_hint(
            "Error during planning: Invalid function 'mode'.\nDid you mean 'mod'?".into(),
        );
        assert!(hinted.ends_with("mode() is DuckDB's and is not available here; instead: GROUP BY x ORDER BY COUNT(*) DESC LIMIT 1 gives the most frequent value"), "{hinted}");
        let other = "Error during planning: Invalid function 'nope'.".to_string();
        assert_eq!(with_hint(other.clone()), other);
        assert!(
            with_hint("table function 'UNNEST' not found".into()).contains("unnest in a subquery")
        );
    }
}
