//! DuckDB's lateral `UNNEST` in `FROM`, which DataFusion lacks, as the `unnest` in a projection
//! that DataFusion has:
//!
//! ```sql
//! SELECT t.collection_id, u.s['source_doi'] FROM collections_index t, UNNEST(t.sources) AS u(s)
//! -- is read as
//! SELECT t.collection_id, t.s['source_doi']
//! FROM (SELECT t.*, unnest(t.sources) AS s FROM collections_index AS t) AS t
//! ```
//!
//! One table (with or without an alias) and one `UNNEST` of a list, joined by a comma or `CROSS
//! JOIN`; references to the `UNNEST`'s alias (`u.s`) become references to the table's. Both drop the rows whose list is empty or NULL, as DuckDB's
//! lateral join does. Any other shape (two `UNNEST`s, `WITH ORDINALITY`, a join besides) is
//! left for the planner to report.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, Expr, FunctionArg, FunctionArgExpr, Ident, JoinOperator, ObjectName, Query,
    SetExpr, TableAlias, TableFactor, TableWithJoins, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::DuckDbDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Rewrite a lateral `UNNEST` in the `FROM` of `query`'s own `SELECT`, if it has one.
pub fn rewrite(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let Some(found) = lateral_unnest(&select.from) else {
        return;
    };
    let Some(derived) = derived_table(&found) else {
        return;
    };
    select.from = vec![TableWithJoins {
        relation: derived,
        joins: vec![],
    }];
    // `u.s` (and `u` alone, the element when the alias names no column) now read the table's.
    let _ = query.visit(&mut Renamed {
        from: found.unnest_alias.value.to_lowercase(),
        to: found.outer.clone(),
        column: found.column.clone(),
    });
}

/// The parts of `FROM table [AS t], UNNEST(list) AS u(s)`.
struct Found {
    table: ObjectName,
    /// The table's alias, or its name: what the columns are qualified with.
    outer: Ident,
    list: Expr,
    unnest_alias: Ident,
    /// The name of the unnested column (the alias's column, else the alias itself).
    column: Ident,
}

fn lateral_unnest(from: &[TableWithJoins]) -> Option<Found> {
    let (first, unnest) = match from {
        [first, second] if first.joins.is_empty() && second.joins.is_empty() => {
            (&first.relation, &second.relation)
        }
        [only]
            if only.joins.len() == 1
                && matches!(only.joins[0].join_operator, JoinOperator::CrossJoin(_)) =>
        {
            (&only.relation, &only.joins[0].relation)
        }
        _ => return None,
    };
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = first
    else {
        return None;
    };
    if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return None;
    }
    let TableFactor::Table {
        name: function,
        alias: Some(unnest_alias),
        args: Some(args),
        ..
    } = unnest
    else {
        return None;
    };
    if !function.to_string().eq_ignore_ascii_case("unnest") || unnest_alias.columns.len() > 1 {
        return None;
    }
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(list))] = args.args.as_slice() else {
        return None;
    };
    let outer = match alias {
        Some(a) => a.name.clone(),
        None => name.0.last()?.as_ident()?.clone(),
    };
    let column = unnest_alias
        .columns
        .first()
        .map_or_else(|| unnest_alias.name.clone(), |c| c.name.clone());
    Some(Found {
        table: name.clone(),
        outer,
        list: list.clone(),
        unnest_alias: unnest_alias.name.clone(),
        column,
    })
}

/// `(SELECT t.*, unnest(list) AS s FROM table AS t) AS t`, parsed from its text.
fn derived_table(found: &Found) -> Option<TableFactor> {
    let sql = format!(
        "SELECT {outer}.*, unnest({list}) AS {column} FROM {table} AS {outer}",
        outer = found.outer,
        list = found.list,
        column = found.column,
        table = found.table,
    );
    let subquery = Parser::new(&DuckDbDialect {})
        .try_with_sql(&sql)
        .ok()?
        .parse_query()
        .ok()?;
    Some(TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(TableAlias {
            explicit: true,
            name: found.outer.clone(),
            columns: vec![],
            at: None,
        }),
        sample: None,
    })
}

/// Renames the qualifier `from` (lower case) to `to`; `from` alone becomes `to.column`.
struct Renamed {
    from: String,
    to: Ident,
    column: Ident,
}

impl VisitorMut for Renamed {
    type Break = ();

    // A field access first (before its root is visited on its own): `u.s[...]` names the column
    // through the alias, `u[...]` is the element.
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundFieldAccess { root, access_chain } = expr {
            if matches!(root.as_ref(), Expr::Identifier(i) if i.value.to_lowercase() == self.from) {
                **root = match access_chain.first() {
                    Some(AccessExpr::Dot(_)) => Expr::Identifier(self.to.clone()),
                    _ => Expr::CompoundIdentifier(vec![self.to.clone(), self.column.clone()]),
                };
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::CompoundIdentifier(parts)
                if parts.len() > 1 && parts[0].value.to_lowercase() == self.from =>
            {
                parts[0] = self.to.clone();
            }
            Expr::Identifier(ident) if ident.value.to_lowercase() == self.from => {
                *expr = Expr::CompoundIdentifier(vec![self.to.clone(), self.column.clone()]);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::{DFParser, Statement as DFStatement};

    use super::*;

    fn parsed(sql: &str, rewriting: bool) -> String {
        let mut statement = DFParser::parse_sql_with_dialect(sql, &DuckDbDialect {})
            .unwrap()
            .pop_front()
            .unwrap();
        if let DFStatement::Statement(s) = &mut statement {
            if let datafusion::sql::sqlparser::ast::Statement::Query(q) = s.as_mut() {
                if rewriting {
                    rewrite(q);
                }
            }
        }
        statement.to_string()
    }

    fn rewritten(sql: &str) -> String {
        parsed(sql, true)
    }

    #[test]
    fn a_lateral_unnest_is_an_unnest_in_a_derived_table() {
        assert_eq!(
            rewritten(
                "SELECT t.collection_id, u.s['source_doi'] FROM collections_index t, \
                 UNNEST(t.sources) AS u(s) WHERE u.s['source_doi'] IS NOT NULL ORDER BY u.s['source_doi']"
            ),
            "SELECT t.collection_id, t.s['source_doi'] FROM (SELECT t.*, unnest(t.sources) AS s \
             FROM collections_index AS t) AS t WHERE t.s['source_doi'] IS NOT NULL ORDER BY t.s['source_doi']"
        );
        assert_eq!(
            rewritten("SELECT x FROM c CROSS JOIN UNNEST(c.l) AS u(x)"),
            "SELECT x FROM (SELECT c.*, unnest(c.l) AS x FROM c AS c) AS c"
        );
        assert_eq!(
            rewritten("SELECT u, u['f'] FROM c, UNNEST(c.l) AS u"),
            "SELECT c.u, c.u['f'] FROM (SELECT c.*, unnest(c.l) AS u FROM c AS c) AS c"
        );
    }

    #[test]
    fn other_shapes_are_left_alone() {
        for sql in [
            "SELECT * FROM a, b",
            "SELECT * FROM c, UNNEST(c.l) AS u(x), UNNEST(c.m) AS v(y)",
            "SELECT * FROM c LEFT JOIN UNNEST(c.l) AS u(x) ON TRUE",
            "SELECT * FROM c, UNNEST(c.l, c.m) AS u(x)",
        ] {
            assert_eq!(rewritten(sql), parsed(sql, false));
        }
    }
}
