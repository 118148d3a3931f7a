//! DuckDB idioms that DataFusion lacks, written as what DataFusion has, on the parsed statement.
//!
//! - `arg_max(x, y)` / `max_by(x, y)` (and `arg_min` / `min_by`): the `x` of the row with the
//!   largest (smallest) `y`, rows whose `y` is NULL left out, as
//!   `first_value(x ORDER BY y DESC) FILTER (WHERE y IS NOT NULL)`;
//! - `count_if(c)`: `count(*) FILTER (WHERE c)`;
//! - `ORDER BY ALL`: every column of the SELECT, left to right;
//! - `f(a = b)` is a comparison, as in DuckDB: the DuckDB dialect of the SQL parser reads it as a
//!   named argument `a`, which no function here takes;
//! - in a lambda's body, `x.field` (a field of the struct a parameter `x` stands for) as
//!   `x['field']`: the planner would read `x.field` as the column `field` of a table `x`.
//!
//! A lateral `UNNEST` in `FROM` is [`super::lateral`]'s. Plain renamings (`first`, `strftime`, ...)
//! are aliases registered in [`super::functions`].

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator,
    FunctionArguments, Ident, OrderByExpr, OrderByKind, Query, SelectItem, SetExpr, Subscript,
    Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::DuckDbDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Rewrite the idioms of `statement` in place; one that cannot be rewritten is left for the
/// planner to report.
pub fn rewrite(statement: &mut DFStatement) {
    if let DFStatement::Statement(statement) = statement {
        let _ = statement.visit(&mut Idioms);
    }
}

struct Idioms;

impl VisitorMut for Idioms {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        super::lateral::rewrite(query);
        order_by_all(query);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        comparisons_not_names(expr);
        lambda_fields(expr);
        if let Some(rewritten) = aggregate(expr) {
            *expr = rewritten;
        }
        ControlFlow::Continue(())
    }
}

/// In the body of a lambda, `x.a.b` where `x` is one of its parameters as `x['a']['b']`.
fn lambda_fields(expr: &mut Expr) {
    let Expr::Lambda(lambda) = expr else {
        return;
    };
    let params: Vec<String> = lambda
        .params
        .iter()
        .map(|p| p.name.value.to_lowercase())
        .collect();
    let _ = lambda.body.visit(&mut ParamFields(&params));
}

/// Rewrites fields of the parameters `.0` (lower case) as subscripts.
struct ParamFields<'a>(&'a [String]);

impl ParamFields<'_> {
    fn is_param(&self, ident: &Ident) -> bool {
        self.0.contains(&ident.value.to_lowercase())
    }
}

fn subscript(field: &Ident) -> AccessExpr {
    AccessExpr::Subscript(Subscript::Index {
        index: Expr::value(Value::SingleQuotedString(field.value.clone())),
    })
}

impl VisitorMut for ParamFields<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::CompoundIdentifier(parts) if parts.len() > 1 && self.is_param(&parts[0]) => {
                *expr = Expr::CompoundFieldAccess {
                    root: Box::new(Expr::Identifier(parts[0].clone())),
                    access_chain: parts[1..].iter().map(subscript).collect(),
                };
            }
            Expr::CompoundFieldAccess { root, access_chain } if matches!(root.as_ref(), Expr::Identifier(i) if self.is_param(i)) => {
                for access in access_chain.iter_mut() {
                    if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                        *access = subscript(field);
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// `ORDER BY ALL` as `ORDER BY 1, 2, ...` over the items of the query's SELECT (not when one
/// is a `*`, whose columns are not known here).
fn order_by_all(query: &mut Query) {
    let Some(order_by) = query.order_by.as_mut() else {
        return;
    };
    let OrderByKind::All(options) = &order_by.kind else {
        return;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return;
    };
    if select.projection.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    }) {
        return;
    }
    let options = *options;
    order_by.kind = OrderByKind::Expressions(
        (1..=select.projection.len())
            .map(|i| OrderByExpr {
                expr: Expr::value(Value::Number(i.to_string(), false)),
                options,
                with_fill: None,
            })
            .collect(),
    );
}

/// The arguments `a = b` of a call as comparisons.
fn comparisons_not_names(expr: &mut Expr) {
    let Expr::Function(f) = expr else {
        return;
    };
    let FunctionArguments::List(list) = &mut f.args else {
        return;
    };
    for arg in &mut list.args {
        if let FunctionArg::Named {
            name,
            arg: FunctionArgExpr::Expr(value),
            operator: FunctionArgOperator::Equals,
        } = arg
        {
            let comparison = Expr::BinaryOp {
                left: Box::new(Expr::Identifier(name.clone())),
                op: BinaryOperator::Eq,
                right: Box::new(value.clone()),
            };
            *arg = FunctionArg::Unnamed(FunctionArgExpr::Expr(comparison));
        }
    }
}

/// The DataFusion form of a DuckDB aggregate call, or `None`.
fn aggregate(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else {
        return None;
    };
    if f.over.is_some() || f.filter.is_some() {
        return None;
    }
    let name = f.name.0.last()?.as_ident()?.value.to_lowercase();
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    let args: Vec<&Expr> = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let text = match (name.as_str(), args.as_slice()) {
        ("arg_max" | "max_by" | "argmax", [x, y]) => {
            format!("first_value({x} ORDER BY {y} DESC) FILTER (WHERE {y} IS NOT NULL)")
        }
        ("arg_min" | "min_by" | "argmin", [x, y]) => {
            format!("first_value({x} ORDER BY {y} ASC) FILTER (WHERE {y} IS NOT NULL)")
        }
        ("count_if", [condition]) => format!("count(*) FILTER (WHERE {condition})"),
        _ => return None,
    };
    Parser::new(&DuckDbDialect {})
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = DFParser::parse_sql_with_dialect(sql, &DuckDbDialect {})
            .unwrap()
            .pop_front()
            .unwrap();
        rewrite(&mut statement);
        statement.to_string()
    }

    #[test]
    fn duckdb_aggregates_become_datafusions() {
        assert_eq!(
            rewritten("SELECT arg_max(a, b), min_by(a, b + 1), count_if(c = 'x') FROM t"),
            "SELECT first_value(a ORDER BY b DESC) FILTER (WHERE b IS NOT NULL), \
             first_value(a ORDER BY b + 1 ASC) FILTER (WHERE b + 1 IS NOT NULL), \
             count(*) FILTER (WHERE c = 'x') FROM t"
        );
    }

    #[test]
    fn order_by_all_is_every_column() {
        assert_eq!(
            rewritten("SELECT a, count(*) FROM t GROUP BY ALL ORDER BY ALL DESC"),
            "SELECT a, count(*) FROM t GROUP BY ALL ORDER BY 1 DESC, 2 DESC"
        );
        assert_eq!(
            rewritten("SELECT * FROM t ORDER BY ALL"),
            "SELECT * FROM t ORDER BY ALL"
        );
    }

    #[test]
    fn fields_of_lambda_parameters_are_subscripts() {
        assert_eq!(
            rewritten("SELECT list_transform(s, x -> x.doi || x.a.b || t.c) FROM t"),
            "SELECT list_transform(s, x -> x['doi'] || x['a']['b'] || t.c) FROM t"
        );
        assert_eq!(
            rewritten("SELECT list_filter(s, lambda X: x.n > 1) FROM t"),
            "SELECT list_filter(s, lambda X : x['n'] > 1) FROM t"
        );
    }
}
