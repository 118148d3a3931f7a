//! Result columns named as DuckDB names them.
//!
//! idc-index 0.13 ran on DuckDB, and code written for it reads unaliased expressions back by
//! DuckDB's names: `df["count_star()"]` for `COUNT(*)`, `1` for `SELECT 1`, `(a + b)`,
//! `sum(series_size_MB)`. DataFusion names them its own way (`count(*)`, `Int64(1)`,
//! `sum(index.series_size_MB)`). [`name_like_duckdb`] gives each unaliased expression of the
//! outermost SELECT DuckDB's name as an alias, before the statement is planned.
//!
//! The names are computed from the user's text as written (before the dialect rewrite, which
//! adds `','` to `string_agg(x)` and quotes identifiers); an expression this module does not
//! know keeps DataFusion's name.

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, DataType, DuplicateTreatment, Expr, FunctionArg,
    FunctionArgExpr, FunctionArgOperator, FunctionArguments, Ident, SelectItem, SetExpr, Statement,
    Subscript, UnaryOperator, Value,
};

/// Alias each unaliased expression of `statement`'s outermost SELECT with the name DuckDB
/// gives it, computed from `written` (the same statement parsed from the user's own text).
pub fn name_like_duckdb(
    statement: &mut DFStatement,
    written: impl FnOnce() -> Option<DFStatement>,
) {
    let Some(items) = projection(statement) else {
        return;
    };
    name_fields(items);
    if !items.iter().any(needs_name) {
        return;
    }
    let Some(mut written) = written() else {
        return;
    };
    let Some(written_items) = projection(&mut written) else {
        return;
    };
    if written_items.len() != items.len() {
        return;
    }
    for (item, written) in items.iter_mut().zip(written_items.iter()) {
        let (SelectItem::UnnamedExpr(expr), SelectItem::UnnamedExpr(written)) = (&*item, written)
        else {
            continue;
        };
        if !needs_name(item) {
            continue;
        }
        if let Some(name) = top_level_name(written) {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', name),
            };
        }
    }
}

/// A qualified name (`i.Modality`, or `s.source_doi` of a struct, which DataFusion names
/// `s[source_doi]`) named by its last part, as DuckDB names both; not when two items would get
/// the same name (`a.x, b.x` of a join), which DataFusion refuses.
fn name_fields(items: &mut [SelectItem]) {
    let last = |item: &SelectItem| match item {
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
            parts.last().map(|p| p.value.to_lowercase())
        }
        _ => None,
    };
    let names: Vec<Option<String>> = items.iter().map(last).collect();
    for (item, name) in items.iter_mut().zip(&names) {
        let Some(name) = name else {
            continue;
        };
        if names.iter().filter(|n| n.as_ref() == Some(name)).count() > 1 {
            continue;
        }
        if let SelectItem::UnnamedExpr(expr) = item {
            let Expr::CompoundIdentifier(parts) = &*expr else {
                continue;
            };
            let alias = Ident::with_quote(
                '"',
                parts.last().map_or_else(String::new, |p| p.value.clone()),
            );
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias,
            };
        }
    }
}

/// The items of the outermost SELECT (the first of a UNION, which names its columns).
fn projection(statement: &mut DFStatement) -> Option<&mut Vec<SelectItem>> {
    let DFStatement::Statement(statement) = statement else {
        return None;
    };
    let Statement::Query(query) = statement.as_mut() else {
        return None;
    };
    let mut body = query.body.as_mut();
    loop {
        match body {
            SetExpr::Select(select) => return Some(&mut select.projection),
            SetExpr::SetOperation { left, .. } => body = left.as_mut(),
            SetExpr::Query(query) => body = query.body.as_mut(),
            _ => return None,
        }
    }
}

/// An unaliased expression that is not a plain column (DataFusion names those as DuckDB does).
fn needs_name(item: &SelectItem) -> bool {
    matches!(item, SelectItem::UnnamedExpr(e) if !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)))
}

/// DuckDB's name for a whole SELECT item: a column or field reached through a qualifier or a
/// struct (`i.Modality`, `s.source_doi`, `sources[1].source_doi`) is named by its last part.
fn top_level_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::CompoundIdentifier(parts) => parts.last().map(|p| p.value.clone()),
        Expr::CompoundFieldAccess { access_chain, .. } => match access_chain.last()? {
            AccessExpr::Dot(Expr::Identifier(field)) => Some(field.value.clone()),
            AccessExpr::Subscript(Subscript::Index {
                index: Expr::Value(v),
            }) => match &v.value {
                Value::SingleQuotedString(field) => Some(field.clone()),
                _ => None,
            },
            _ => None,
        },
        other => duckdb_name(other),
    }
}

/// DuckDB's name for `expr`, or `None` for an expression this module does not know.
fn duckdb_name(expr: &Expr) -> Option<String> {
    Some(match expr {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::CompoundIdentifier(parts) => parts
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>()
            .join("."),
        Expr::Value(value) => literal(&value.value)?,
        Expr::TypedString(typed) => {
            format!(
                "CAST({} AS {})",
                literal(&typed.value.value)?,
                type_name(&typed.data_type)
            )
        }
        Expr::Nested(inner) => duckdb_name(inner)?,
        Expr::Function(f) => {
            if f.over.is_some() || !matches!(f.parameters, FunctionArguments::None) {
                return None;
            }
            let name = f.name.0.last()?.as_ident()?.value.to_lowercase();
            let FunctionArguments::List(list) = &f.args else {
                return None;
            };
            if !list.clauses.is_empty() {
                return None;
            }
            let args = list.args.iter().map(argument).collect::<Option<Vec<_>>>()?;
            let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
            let call = match (name.as_str(), args.as_slice()) {
                ("count", [star]) if star == "*" && !distinct => "count_star()".to_string(),
                ("coalesce", _) => format!("COALESCE({})", args.join(", ")),
                _ => format!(
                    "{name}({}{})",
                    if distinct { "DISTINCT " } else { "" },
                    args.join(", ")
                ),
            };
            match &f.filter {
                Some(filter) => format!("{call} FILTER (WHERE {})", duckdb_name(filter)?),
                None => call,
            }
        }
        Expr::BinaryOp { left, op, right } => {
            format!(
                "({} {} {})",
                duckdb_name(left)?,
                operator(op)?,
                duckdb_name(right)?
            )
        }
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => format!("(-({}))", duckdb_name(expr)?),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => format!("(NOT {})", duckdb_name(expr)?),
        // DuckDB names LIKE by its operator: ~~ (ILIKE ~~*), negated with !.
        Expr::Like {
            negated,
            expr,
            pattern,
            escape_char: None,
            any: false,
        } => like(*negated, "~~", expr, pattern)?,
        Expr::ILike {
            negated,
            expr,
            pattern,
            escape_char: None,
            any: false,
        } => like(*negated, "~~*", expr, pattern)?,
        Expr::IsNull(e) => format!("({} IS NULL)", duckdb_name(e)?),
        Expr::IsNotNull(e) => format!("({} IS NOT NULL)", duckdb_name(e)?),
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let items = list.iter().map(duckdb_name).collect::<Option<Vec<_>>>()?;
            let test = format!("({} IN ({}))", duckdb_name(expr)?, items.join(", "));
            if *negated {
                format!("(NOT {test})")
            } else {
                test
            }
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => format!(
            "({} BETWEEN {} AND {})",
            duckdb_name(expr)?,
            duckdb_name(low)?,
            duckdb_name(high)?
        ),
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr,
            data_type,
            format: None,
            ..
        } => {
            format!("CAST({} AS {})", duckdb_name(expr)?, type_name(data_type))
        }
        Expr::Case {
            operand: None,
            conditions,
            else_result,
            ..
        } => {
            let mut out = "CASE ".to_string();
            for when in conditions {
                out.push_str(&format!(
                    " WHEN ({}) THEN ({})",
                    duckdb_name(&when.condition)?,
                    duckdb_name(&when.result)?
                ));
            }
            let otherwise = match else_result {
                Some(e) => duckdb_name(e)?,
                None => "NULL".to_string(),
            };
            format!("{out} ELSE {otherwise} END")
        }
        _ => return None,
    })
}

fn like(negated: bool, op: &str, expr: &Expr, pattern: &Expr) -> Option<String> {
    let not = if negated { "!" } else { "" };
    Some(format!(
        "({} {not}{op} {})",
        duckdb_name(expr)?,
        duckdb_name(pattern)?
    ))
}

fn argument(arg: &FunctionArg) -> Option<String> {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => duckdb_name(e),
        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => Some("*".to_string()),
        // `f(a = b)`, which the parser reads as a named argument: a comparison (see `idioms`).
        FunctionArg::Named {
            name,
            arg: FunctionArgExpr::Expr(e),
            operator: FunctionArgOperator::Equals,
        } => Some(format!("({} = {})", name.value, duckdb_name(e)?)),
        _ => None,
    }
}

fn literal(value: &Value) -> Option<String> {
    Some(match value {
        Value::Number(n, _) => n.clone(),
        Value::SingleQuotedString(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Boolean(b) => b.to_string(),
        Value::Null => "NULL".to_string(),
        _ => return None,
    })
}

fn operator(op: &BinaryOperator) -> Option<&'static str> {
    use BinaryOperator as B;
    Some(match op {
        B::Plus => "+",
        B::Minus => "-",
        B::Multiply => "*",
        B::Divide => "/",
        B::Modulo => "%",
        B::StringConcat => "||",
        B::Gt => ">",
        B::Lt => "<",
        B::GtEq => ">=",
        B::LtEq => "<=",
        B::Eq => "=",
        B::NotEq => "!=",
        B::And => "AND",
        B::Or => "OR",
        _ => return None,
    })
}

/// A type as DuckDB spells it in a cast's name.
fn type_name(data_type: &DataType) -> String {
    let written = data_type.to_string().to_uppercase();
    match written.as_str() {
        "INT" | "INT4" | "INTEGER" | "SIGNED" => "INTEGER",
        "BIGINT" | "INT8" | "LONG" => "BIGINT",
        "TEXT" | "STRING" | "VARCHAR" | "CHAR" | "BPCHAR" => "VARCHAR",
        "DOUBLE" | "FLOAT8" | "DOUBLE PRECISION" => "DOUBLE",
        "FLOAT" | "FLOAT4" | "REAL" => "FLOAT",
        "BOOL" | "BOOLEAN" => "BOOLEAN",
        _ => return written,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;
    use datafusion::sql::sqlparser::dialect::DuckDbDialect;

    use super::*;

    fn named(sql: &str) -> Vec<String> {
        rewritten_and_named(sql, sql)
    }

    fn parse(sql: &str) -> Option<DFStatement> {
        DFParser::parse_sql_with_dialect(sql, &DuckDbDialect {})
            .ok()?
            .pop_front()
    }

    /// The names given to `rewritten` (what DataFusion plans) from `written` (the user's text).
    fn rewritten_and_named(rewritten: &str, written: &str) -> Vec<String> {
        let mut statement = parse(rewritten).unwrap();
        name_like_duckdb(&mut statement, || parse(written));
        projection(&mut statement)
            .unwrap()
            .iter()
            .map(|item| match item {
                SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                other => format!("unnamed: {other}"),
            })
            .collect()
    }

    #[test]
    fn unaliased_expressions_get_duckdbs_names() {
        assert_eq!(
            named("SELECT COUNT(*), count(DISTINCT PatientID), SUM(i.x) / 1000, 1, 'a''b', -x FROM t i"),
            ["count_star()", "count(DISTINCT PatientID)", "(sum(i.x) / 1000)", "1", "'a''b'", "(-(x))"]
        );
        assert_eq!(
            named("SELECT x::DOUBLE, CAST(y AS int), x LIKE 'C%', x IN ('a', 'b'), x IS NULL, COALESCE(x, 'z'), count_if(x = 'a'), DATE '2020-01-01' FROM t"),
            [
                "CAST(x AS DOUBLE)",
                "CAST(y AS INTEGER)",
                "(x ~~ 'C%')",
                "(x IN ('a', 'b'))",
                "(x IS NULL)",
                "COALESCE(x, 'z')",
                "count_if((x = 'a'))",
                "CAST('2020-01-01' AS DATE)"
            ]
        );
    }

    #[test]
    fn aliases_columns_and_unknown_expressions_are_left_alone() {
        assert_eq!(
            named("SELECT COUNT(*) AS n, x, row_number() OVER () FROM t"),
            ["n", "unnamed: x", "unnamed: row_number() OVER ()"]
        );
    }

    #[test]
    fn qualified_names_are_named_by_their_last_part_unless_two_would_clash() {
        assert_eq!(
            named("SELECT t.y, s.source_doi FROM t"),
            ["y", "source_doi"]
        );
        assert_eq!(
            named("SELECT a.x, b.X FROM a, b"),
            ["unnamed: a.x", "unnamed: b.X"]
        );
    }

    #[test]
    fn fields_are_named_by_their_last_part() {
        assert_eq!(
            rewritten_and_named(
                "SELECT s['source_doi'], sources[1]['source_doi'], v['option_code'] FROM t",
                "SELECT s.source_doi, sources[1].source_doi, v['option_code'] FROM t"
            ),
            ["source_doi", "source_doi", "option_code"]
        );
    }

    #[test]
    fn the_first_select_of_a_union_names_the_columns() {
        assert_eq!(
            named("SELECT COUNT(*) FROM a UNION ALL SELECT 2 FROM b"),
            ["count_star()"]
        );
    }
}
