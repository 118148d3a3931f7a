//! Which SQL runs: one statement, and only one that reads. idc-index reads the indices, it never
//! changes them, and it reads no file that was not registered as an index.

use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::DuckDbDialect;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{TokenWithSpan, Tokenizer};

use crate::error::{CoreError, Result};

/// The tokens of `sql`, as the parser reads them.
pub fn tokenize(sql: &str) -> Result<Vec<TokenWithSpan>> {
    Tokenizer::new(&DuckDbDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| DataFusionError::from(ParserError::from(e)).into())
}

/// Parse the `tokens` of `sql` into its one statement, refusing anything but one query:
/// idc-index reads the indices, it never changes them, and it reads no file that was not
/// registered as an index.
pub fn parse_read_only(
    sql: &str,
    tokens: Vec<TokenWithSpan>,
    recursion_limit: usize,
) -> Result<DFStatement> {
    let mut statements = DFParserBuilder::new(tokens)
        .with_dialect(&DuckDbDialect {})
        .with_recursion_limit(recursion_limit)
        .build()?
        .parse_statements()?;
    if statements.len() > 1 {
        return Err(CoreError::ReadOnly(format!(
            "sql_query runs one statement at a time; this text holds {}. Send them one by one.",
            statements.len()
        )));
    }
    let Some(statement) = statements.pop_front() else {
        return Err(CoreError::Sql(
            "the SQL text is empty: write a SELECT query".into(),
        ));
    };
    if is_read_only(&statement) {
        return Ok(statement);
    }
    let verb: Vec<&str> = sql.split_whitespace().take(3).collect();
    Err(CoreError::ReadOnly(format!(
        "the indices are read-only: only SELECT, WITH ... SELECT, EXPLAIN and SHOW queries run, not `{}`. \
         To keep a result, save the returned DataFrame (for example with .to_parquet()).",
        verb.join(" ")
    )))
}

fn is_read_only(statement: &DFStatement) -> bool {
    match statement {
        DFStatement::Statement(s) => match s.as_ref() {
            Statement::Query(q) => !has_select_into(q),
            Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ExplainTable { .. } => true,
            Statement::Explain {
                statement, analyze, ..
            } => {
                !analyze && matches!(statement.as_ref(), Statement::Query(q) if !has_select_into(q))
            }
            _ => false,
        },
        DFStatement::Explain(e) => is_read_only(&e.statement),
        _ => false,
    }
}

fn has_select_into(q: &datafusion::sql::sqlparser::ast::Query) -> bool {
    use datafusion::sql::sqlparser::ast::SetExpr;
    matches!(q.body.as_ref(), SetExpr::Select(s) if s.into.is_some())
}
