//! Values bound to a query's placeholders, as DuckDB's `execute(sql, params)` binds them.
//!
//! A query names its placeholders in one of three styles: `?` (taken in order), `$1` (by
//! position) or `$name` (by name). [`bind`] rewrites the text so that every placeholder is a
//! numbered `$k` that DataFusion plans, and returns the values in that order: values stay
//! values (a quote in a string cannot end the literal), they are never spliced into the text.
//!
//! A list bound right after `IN` (`WHERE SeriesInstanceUID IN ?`) stands for the list of its
//! elements, `IN ($k, $k+1, ...)`, so that the lookup prunes files and row groups as a literal
//! list does; an empty list matches nothing. Anywhere else a list is one array value.

use std::collections::{BTreeMap, HashMap, HashSet};

use datafusion::common::ParamValues;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::dialect::DuckDbDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::dialect::{splice, LineOffsets};
use crate::error::{CoreError, Result};

/// The values a caller binds: none, in order (`?`, `$1`), or by name (`$name`).
#[derive(Debug, Clone, Default)]
pub enum Params {
    #[default]
    None,
    Positional(Vec<ScalarValue>),
    Named(BTreeMap<String, ScalarValue>),
}

/// `sql` with every placeholder numbered `$1..$n`, and the values in that order (`None` when
/// the query has no placeholder and no value was given).
pub fn bind(sql: &str, params: &Params) -> Result<(String, Option<ParamValues>)> {
    let Ok(tokens) = Tokenizer::new(&DuckDbDialect {}, sql).tokenize_with_location() else {
        // Not tokenisable: planning reports the syntax error.
        return Ok((sql.to_string(), None));
    };
    let offsets = LineOffsets::new(sql);
    let mut binder = Binder::default();
    let mut edits = Vec::new();
    let mut last_word_is_in = false;
    let mut question_marks = 0usize;
    let mut styles = Vec::new();
    for token in &tokens {
        if let Token::Placeholder(text) = &token.token {
            let (style, value) = if text == "?" {
                question_marks += 1;
                ("?", lookup(params, Key::Position(question_marks), text)?)
            } else if let Ok(n) = text[1..].parse::<usize>() {
                ("$1", lookup(params, Key::Position(n), text)?)
            } else {
                ("$name", lookup(params, Key::Name(&text[1..]), text)?)
            };
            if !styles.contains(&style) {
                styles.push(style);
            }
            let start = offsets.byte(token.span.start);
            let replacement = binder.placeholder(text, value, last_word_is_in);
            edits.push((start, offsets.byte(token.span.end) - start, replacement));
        }
        if !matches!(token.token, Token::Whitespace(_)) {
            last_word_is_in = matches!(&token.token, Token::Word(w) if w.keyword == Keyword::IN);
        }
    }
    if styles.len() > 1 {
        return Err(CoreError::Sql(format!(
            "the query mixes placeholder styles ({}); use one: ? (in order), $1 (by position) or $name (by name)",
            styles.join(", ")
        )));
    }
    check_all_used(params, question_marks, &binder.used)?;
    if binder.values.is_empty() && matches!(params, Params::None) {
        return Ok((sql.to_string(), None));
    }
    Ok((
        splice(sql, edits),
        Some(ParamValues::List(
            binder.values.into_iter().map(Into::into).collect(),
        )),
    ))
}

enum Key<'a> {
    Position(usize),
    Name(&'a str),
}

/// The value bound to one placeholder, or an error naming it.
fn lookup<'p>(params: &'p Params, key: Key<'_>, text: &str) -> Result<&'p ScalarValue> {
    let found = match (params, &key) {
        (Params::Positional(values), Key::Position(n)) => {
            n.checked_sub(1).and_then(|i| values.get(i))
        }
        (Params::Named(values), Key::Name(name)) => values.get(*name),
        // `$1` with values by name: the name "1".
        (Params::Named(values), Key::Position(n)) if text != "?" => values.get(&n.to_string()),
        _ => None,
    };
    found.ok_or_else(|| {
        let given = match params {
            Params::None => "no values were given".to_string(),
            Params::Positional(v) => format!("{} value(s) were given in order", v.len()),
            Params::Named(v) => format!(
                "values were given for {}",
                v.keys().map(|k| format!("${k}")).collect::<Vec<_>>().join(", ")
            ),
        };
        let which = match key {
            Key::Position(n) if text == "?" => format!("placeholder ? number {n}"),
            _ => format!("placeholder {text}"),
        };
        CoreError::Sql(format!(
            "{which} has no value: {given}. Give one value per ? or $N (params= a list or tuple), or one per $name (params= a dict; on the command line --param NAME=VALUE)"
        ))
    })
}

/// Every value given is used by some placeholder: a value too many is a query that does not
/// say what its caller meant.
fn check_all_used(params: &Params, question_marks: usize, used: &HashSet<String>) -> Result<()> {
    let unused: Vec<String> = match params {
        Params::None => return Ok(()),
        Params::Positional(values) if question_marks > 0 => {
            if values.len() > question_marks {
                return Err(CoreError::Sql(format!(
                    "the query has {question_marks} ? placeholder(s) and {} values were given; give one value per ?",
                    values.len()
                )));
            }
            return Ok(());
        }
        Params::Positional(values) => (1..=values.len())
            .filter(|n| !used.contains(&format!("${n}")))
            .map(|n| format!("${n}"))
            .collect(),
        Params::Named(values) => values
            .keys()
            .filter(|k| !used.contains(&format!("${k}")))
            .map(|k| format!("${k}"))
            .collect(),
    };
    if unused.is_empty() {
        return Ok(());
    }
    Err(CoreError::Sql(format!(
        "values were given for {} but the query has no such placeholder; remove them or use them in the query",
        unused.join(", ")
    )))
}

/// Numbers the placeholders of the rewritten text; a placeholder written twice (`$1`, `$id`)
/// is one value.
#[derive(Default)]
struct Binder {
    values: Vec<ScalarValue>,
    numbered: HashMap<String, String>,
    used: HashSet<String>,
}

impl Binder {
    fn placeholder(&mut self, text: &str, value: &ScalarValue, in_list: bool) -> String {
        self.used.insert(text.to_string());
        if in_list {
            if let Some(elements) = list_elements(value) {
                if elements.is_empty() {
                    return "(NULL)".to_string();
                }
                let numbers: Vec<String> = elements.into_iter().map(|v| self.push(v)).collect();
                return format!("({})", numbers.join(", "));
            }
        }
        if text != "?" {
            if let Some(n) = self.numbered.get(text) {
                return n.clone();
            }
        }
        let n = self.push(value.clone());
        if text != "?" {
            self.numbered.insert(text.to_string(), n.clone());
        }
        n
    }

    fn push(&mut self, value: ScalarValue) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }
}

/// The elements of a list value.
fn list_elements(value: &ScalarValue) -> Option<Vec<ScalarValue>> {
    let ScalarValue::List(array) = value else {
        return None;
    };
    let values = array.value(0);
    (0..values.len())
        .map(|i| ScalarValue::try_from_array(&values, i).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.to_string()))
    }

    fn list(items: &[&str]) -> ScalarValue {
        let values: Vec<ScalarValue> = items.iter().map(|v| s(v)).collect();
        ScalarValue::List(ScalarValue::new_list_nullable(
            &values,
            &datafusion::arrow::datatypes::DataType::Utf8,
        ))
    }

    fn values(p: Option<ParamValues>) -> Vec<ScalarValue> {
        match p {
            Some(ParamValues::List(v)) => v.into_iter().map(|f| f.value).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn question_marks_are_numbered_in_order() {
        let params = Params::Positional(vec![s("a"), ScalarValue::Int64(Some(2))]);
        let (sql, p) = bind("SELECT * FROM t WHERE x ILIKE ? AND n >= ?", &params).unwrap();
        assert_eq!(sql, "SELECT * FROM t WHERE x ILIKE $1 AND n >= $2");
        assert_eq!(values(p), vec![s("a"), ScalarValue::Int64(Some(2))]);
    }

    #[test]
    fn a_question_mark_inside_a_literal_or_comment_is_text() {
        let params = Params::Positional(vec![s("a")]);
        let (sql, _) = bind("SELECT '?' AS q -- ?\nFROM t WHERE x = ?", &params).unwrap();
        assert_eq!(sql, "SELECT '?' AS q -- ?\nFROM t WHERE x = $1");
    }

    #[test]
    fn names_and_positions_used_twice_are_one_value() {
        let named = Params::Named(BTreeMap::from([("uid".to_string(), s("1.2"))]));
        let (sql, p) = bind("SELECT $uid AS a, $uid AS b", &named).unwrap();
        assert_eq!(sql, "SELECT $1 AS a, $1 AS b");
        assert_eq!(values(p), vec![s("1.2")]);
        let positional = Params::Positional(vec![s("x"), s("y")]);
        let (sql, p) = bind("SELECT $2, $1, $2", &positional).unwrap();
        assert_eq!(sql, "SELECT $1, $2, $1");
        assert_eq!(values(p), vec![s("y"), s("x")]);
    }

    #[test]
    fn a_list_after_in_is_its_elements() {
        let params = Params::Positional(vec![list(&["a", "b"]), s("c")]);
        let (sql, p) = bind("SELECT 1 WHERE x IN ? AND y = ?", &params).unwrap();
        assert_eq!(sql, "SELECT 1 WHERE x IN ($1, $2) AND y = $3");
        assert_eq!(values(p), vec![s("a"), s("b"), s("c")]);
        let (sql, _) = bind(
            "SELECT 1 WHERE x NOT IN ?",
            &Params::Positional(vec![list(&[])]),
        )
        .unwrap();
        assert_eq!(sql, "SELECT 1 WHERE x NOT IN (NULL)");
    }

    #[test]
    fn wrong_counts_and_styles_name_the_placeholder() {
        let one = Params::Positional(vec![s("a")]);
        let err = bind("SELECT ? , ?", &one).unwrap_err().to_string();
        assert!(err.contains("placeholder ? number 2 has no value"), "{err}");
        let three = Params::Positional(vec![s("a"), s("b"), s("c")]);
        let err = bind("SELECT ?", &three).unwrap_err().to_string();
        assert!(err.contains("1 ? placeholder(s) and 3 values"), "{err}");
        let err = bind("SELECT $1", &Params::Positional(vec![s("a"), s("b")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("values were given for $2"), "{err}");
        let named = Params::Named(BTreeMap::from([("a".to_string(), s("x"))]));
        let err = bind("SELECT $b", &named).unwrap_err().to_string();
        assert!(
            err.contains("placeholder $b has no value: values were given for $a"),
            "{err}"
        );
        let err = bind("SELECT ?, $1", &one).unwrap_err().to_string();
        assert!(err.contains("mixes placeholder styles"), "{err}");
        let err = bind("SELECT ?", &Params::None).unwrap_err().to_string();
        assert!(err.contains("no values were given"), "{err}");
    }

    #[test]
    fn no_placeholders_and_no_values_leave_the_text_alone() {
        let (sql, p) = bind("SELECT  1 -- x", &Params::None).unwrap();
        assert_eq!(sql, "SELECT  1 -- x");
        assert!(p.is_none());
    }
}
