//! The SQL that idc-index users write, made to run on DataFusion.
//!
//! idc-index 0.13 ran queries on DuckDB, and its tutorials were written for it. Two habits
//! matter most:
//! - identifiers are case-insensitive but keep the case they were written in: `SELECT
//!   seriesinstanceuid FROM index` finds `SeriesInstanceUID`, and `COUNT(*) AS SeriesCount`
//!   names the result column `SeriesCount`. DataFusion lower-cases every unquoted identifier,
//!   which breaks both. [`rewrite`] quotes each unquoted identifier that names a known column
//!   (in the column's own spelling) or an alias of the query (in the alias's spelling).
//! - `string_agg(x)` without a separator joins with `,` in DuckDB; DataFusion needs the
//!   separator, so a `','` is added.
//!
//! The rewrite works on tokens and splices the original text, so comments, literals and
//! spacing reach DataFusion unchanged.

use std::collections::{HashMap, HashSet};

use datafusion::sql::sqlparser::dialect::DuckDbDialect;
use datafusion::sql::sqlparser::keywords::{Keyword, RESERVED_FOR_COLUMN_ALIAS};
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Word};

/// Case-insensitive maps from identifier to its canonical spelling: one for the names of
/// tables and columns, one for the fields of struct columns (`sources[1].source_doi`).
#[derive(Debug, Default, Clone)]
pub struct NameMap {
    names: Spellings,
    fields: Spellings,
}

impl NameMap {
    /// A table or column name.
    pub fn insert(&mut self, name: &str) {
        self.names.insert(name);
    }

    /// The name of a field inside a struct column, at any depth.
    pub fn insert_field(&mut self, name: &str) {
        self.fields.insert(name);
    }

    fn canonical(&self, lower: &str) -> Option<&str> {
        self.names.canonical(lower)
    }

    fn contains(&self, lower: &str) -> bool {
        self.names.contains(lower)
    }

    /// Whether `name`, exactly as written, is a table, column or field name.
    fn is_exact(&self, name: &str) -> bool {
        self.names.is_exact(name) || self.fields.is_exact(name)
    }

    /// The spelling of a struct field written as `name` in any case: the field's own, else a
    /// column's, else as written.
    fn field_spelling<'a>(&'a self, name: &'a str) -> &'a str {
        if self.fields.is_exact(name) {
            return name;
        }
        let lower = name.to_lowercase();
        self.fields
            .canonical(&lower)
            .or_else(|| self.names.canonical(&lower))
            .unwrap_or(name)
    }
}

/// lower-case name -> spelling, or `None` when two spellings disagree (left untouched).
#[derive(Debug, Default, Clone)]
struct Spellings(HashMap<String, Option<String>>);

impl Spellings {
    fn insert(&mut self, name: &str) {
        let key = name.to_lowercase();
        match self.0.get(&key) {
            None => {
                self.0.insert(key, Some(name.to_string()));
            }
            Some(Some(existing)) if existing != name => {
                self.0.insert(key, None);
            }
            Some(_) => {}
        }
    }

    fn canonical(&self, lower: &str) -> Option<&str> {
        self.0.get(lower).and_then(|s| s.as_deref())
    }

    fn contains(&self, lower: &str) -> bool {
        self.0.contains_key(lower)
    }

    fn is_exact(&self, name: &str) -> bool {
        self.canonical(&name.to_lowercase()) == Some(name)
    }
}

/// Aggregates whose separator argument is optional in DuckDB (default `,`).
const STRING_AGGREGATES: [&str; 3] = ["string_agg", "group_concat", "listagg"];
/// Functions whose `AS` introduces a type, not an alias.
const CAST_FUNCTIONS: [&str; 3] = ["cast", "try_cast", "safe_cast"];

/// Rewrite `sql` so that DataFusion reads it as DuckDB would. `columns` holds every column and
/// table name of the registered indices. SQL that does not tokenize is returned unchanged, so
/// that the parser reports the error.
pub fn rewrite(sql: &str, columns: &NameMap) -> String {
    let Ok(tokens) = Tokenizer::new(&DuckDbDialect {}, sql).tokenize_with_location() else {
        return sql.to_string();
    };
    let tokens: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let (aliases, alias_positions) = collect_aliases(&tokens, columns);
    let offsets = LineOffsets::new(sql);

    // (byte offset, bytes to replace, replacement), in token order.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    // Positions of words rewritten into `['field']`: a `.` after one is a field access too.
    let mut field_accesses: HashSet<usize> = HashSet::new();
    for (i, t) in tokens.iter().enumerate() {
        let Token::Word(word) = &t.token else {
            continue;
        };
        let next = tokens.get(i + 1).map(|n| &n.token);
        let is_call = matches!(next, Some(Token::LParen));
        let lower = word.value.to_lowercase();
        let span = |first: &TokenWithSpan| {
            let start = offsets.byte(first.span.start);
            (start, offsets.byte(t.span.end) - start)
        };
        let after_dot = i > 0 && tokens[i - 1].token == Token::Period;
        // `list[1].field`: DataFusion reads a dot after a subscript as a table qualifier;
        // `list[1]['field']` is the same access in its syntax.
        let after_access = after_dot
            && i > 1
            && (tokens[i - 2].token == Token::RBracket || field_accesses.contains(&(i - 2)));
        if after_access {
            let field = if word.quote_style.is_some() {
                word.value.as_str()
            } else {
                columns.field_spelling(&word.value)
            };
            let (start, len) = span(tokens[i - 1]);
            edits.push((start, len, format!("['{}']", field.replace('\'', "''"))));
            field_accesses.insert(i);
            continue;
        }
        if word.quote_style == Some('"') && !columns.is_exact(&word.value) {
            // DuckDB matches quoted names in any case too.
            if let Some(spelling) = columns.canonical(&lower) {
                let (start, len) = span(t);
                edits.push((start, len, quote(spelling)));
            }
            continue;
        }
        if after_dot && word.quote_style.is_none() && columns.is_exact(&word.value) {
            // `alias.field` of a struct, or `table.Column`, spelled exactly: kept as written.
            if word.value != lower {
                let (start, len) = span(t);
                edits.push((start, len, quote(&word.value)));
            }
            continue;
        }
        if word.quote_style.is_none() && !is_call {
            // An alias is named as written, even when it is a column name in another case.
            let as_written = alias_positions.contains(&i).then_some(word.value.as_str());
            let spelling = as_written
                .or_else(|| columns.canonical(&lower))
                .or_else(|| {
                    if columns.contains(&lower) {
                        None
                    } else {
                        aliases.get(&lower).map(String::as_str)
                    }
                });
            if let Some(spelling) = spelling.filter(|s| *s != lower) {
                let start = offsets.byte(t.span.start);
                edits.push((start, word.value.len(), quote(spelling)));
            }
        }
        if is_call && word.quote_style.is_none() && STRING_AGGREGATES.contains(&lower.as_str()) {
            if let Some(close) = lone_argument_end(&tokens, i + 1) {
                let before_order_by = matches!(tokens[close].token, Token::Word(_));
                let separator = if before_order_by { ", ',' " } else { ", ','" };
                edits.push((
                    offsets.byte(tokens[close].span.start),
                    0,
                    separator.to_string(),
                ));
            }
        }
    }
    // A separator is found when its call's `(` is reached, before the identifiers inside it.
    edits.sort_by_key(|e| e.0);
    splice(sql, edits)
}

/// `sql` with each `(byte offset, bytes to replace, replacement)` applied, in offset order.
pub(crate) fn splice(sql: &str, edits: Vec<(usize, usize, String)>) -> String {
    if edits.is_empty() {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + edits.len() * 4);
    let mut pos = 0;
    for (start, len, text) in edits {
        out.push_str(&sql[pos..start]);
        out.push_str(&text);
        pos = start + len;
    }
    out.push_str(&sql[pos..]);
    out
}

/// Whether the SQL of `tokens` compares one of `columns` with `=` or `IN` (a lookup by
/// identifier).
pub fn is_identifier_lookup(tokens: &[TokenWithSpan], columns: &[&str]) -> bool {
    let tokens: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    tokens.windows(2).any(|pair| match pair {
        [Token::Word(w), Token::Eq | Token::DoubleEq]
        | [Token::Word(w), Token::Word(Word {
            keyword: Keyword::IN,
            ..
        })] => columns.iter().any(|c| c.eq_ignore_ascii_case(&w.value)),
        _ => false,
    })
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Aliases introduced with `AS name` (outside `CAST(x AS type)`): those that are not column
/// names, by lower-case name, and the token positions of every alias.
fn collect_aliases(
    tokens: &[&TokenWithSpan],
    columns: &NameMap,
) -> (HashMap<String, String>, HashSet<usize>) {
    let mut aliases = HashMap::new();
    let mut positions = HashSet::new();
    let mut depth = 0usize;
    let mut cast_depths: Vec<usize> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match &t.token {
            Token::LParen => {
                depth += 1;
                if let Some(Token::Word(w)) = i.checked_sub(1).map(|p| &tokens[p].token) {
                    if CAST_FUNCTIONS.contains(&w.value.to_lowercase().as_str()) {
                        cast_depths.push(depth);
                    }
                }
            }
            Token::RParen => {
                if cast_depths.last() == Some(&depth) {
                    cast_depths.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Word(Word {
                keyword: Keyword::AS,
                ..
            }) if cast_depths.last() != Some(&depth) => {
                if let Some(Token::Word(alias)) = tokens.get(i + 1).map(|n| &n.token) {
                    let lower = alias.value.to_lowercase();
                    // `AS SELECT` (CREATE ... AS SELECT) and the like are not aliases.
                    if alias.quote_style.is_none()
                        && !RESERVED_FOR_COLUMN_ALIAS.contains(&alias.keyword)
                    {
                        positions.insert(i + 1);
                        if !columns.contains(&lower) {
                            aliases.entry(lower).or_insert_with(|| alias.value.clone());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (aliases, positions)
}

/// For a call whose `(` is at `open` and that has one argument (no top-level comma), the
/// token before which the separator goes: its `ORDER BY`, else its `)`. `None` otherwise.
fn lone_argument_end(tokens: &[&TokenWithSpan], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut order_by = None;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return (i > open + 1).then_some(order_by.unwrap_or(i));
                }
            }
            Token::Comma if depth == 1 => return None,
            Token::Word(Word {
                keyword: Keyword::ORDER,
                ..
            }) if depth == 1 => order_by = order_by.or(Some(i)),
            _ => {}
        }
    }
    None
}

/// Converts the tokenizer's (line, column) locations, counted in characters from 1, to byte
/// offsets into the SQL text.
pub(crate) struct LineOffsets<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    pub(crate) fn new(sql: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        Self { sql, line_starts }
    }

    pub(crate) fn byte(&self, loc: Location) -> usize {
        let line_start = self.line_starts[(loc.line as usize).saturating_sub(1)];
        let column = (loc.column as usize).saturating_sub(1);
        self.sql[line_start..]
            .char_indices()
            .nth(column)
            .map_or(self.sql.len(), |(i, _)| line_start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> NameMap {
        let mut m = NameMap::default();
        for n in [
            "SeriesInstanceUID",
            "Modality",
            "collection_id",
            "index",
            "series_size_MB",
        ] {
            m.insert(n);
        }
        m
    }

    fn names_with_fields() -> NameMap {
        let mut m = names();
        m.insert("source_DOI");
        m.insert("sources");
        for f in ["source_doi", "provenance", "data_contributor", "Access"] {
            m.insert_field(f);
        }
        m
    }

    #[test]
    fn a_field_after_a_subscript_becomes_a_field_access() {
        let out = rewrite(
            "SELECT sources[1].SOURCE_DOI, sources[1].provenance.data_contributor FROM t",
            &names_with_fields(),
        );
        assert_eq!(
            out,
            "SELECT sources[1]['source_doi'], sources[1]['provenance']['data_contributor'] FROM t"
        );
        let out = rewrite("SELECT sources[1].\"it's\" FROM t", &names_with_fields());
        assert_eq!(out, "SELECT sources[1]['it''s'] FROM t");
    }

    #[test]
    fn a_qualified_name_spelled_exactly_is_kept() {
        let out = rewrite(
            "SELECT s.source_doi, s.Access, i.seriesinstanceuid, source_doi FROM t",
            &names_with_fields(),
        );
        assert_eq!(
            out,
            r#"SELECT s.source_doi, s."Access", i."SeriesInstanceUID", "source_DOI" FROM t"#
        );
    }

    #[test]
    fn quoted_names_match_in_any_case() {
        let out = rewrite(
            r#"SELECT "seriesinstanceuid", "Modality", "unknown" FROM "INDEX""#,
            &names(),
        );
        assert_eq!(
            out,
            r#"SELECT "SeriesInstanceUID", "Modality", "unknown" FROM "index""#
        );
    }

    #[test]
    fn quotes_mixed_case_columns_in_any_spelling() {
        let out = rewrite("SELECT seriesinstanceuid, MODALITY FROM index", &names());
        assert_eq!(out, r#"SELECT "SeriesInstanceUID", "Modality" FROM index"#);
    }

    #[test]
    fn leaves_literals_comments_and_function_names_alone() {
        let sql = "SELECT modality -- Modality\nFROM index WHERE x = 'Modality' AND modality(1)";
        let out = rewrite(sql, &names());
        assert_eq!(
            out,
            "SELECT \"Modality\" -- Modality\nFROM index WHERE x = 'Modality' AND modality(1)"
        );
    }

    #[test]
    fn aliases_keep_their_spelling_and_match_any_case() {
        let out = rewrite(
            "SELECT COUNT(*) AS SeriesCount FROM index ORDER BY seriescount",
            &names(),
        );
        assert_eq!(
            out,
            r#"SELECT COUNT(*) AS "SeriesCount" FROM index ORDER BY "SeriesCount""#
        );
    }

    #[test]
    fn an_alias_spelled_like_a_column_keeps_its_own_spelling() {
        let out = rewrite(
            "SELECT Modality AS modality, seriesinstanceuid AS SERIESINSTANCEUID FROM index ORDER BY modality",
            &names(),
        );
        assert_eq!(
            out,
            r#"SELECT "Modality" AS modality, "SeriesInstanceUID" AS "SERIESINSTANCEUID" FROM index ORDER BY "Modality""#
        );
    }

    #[test]
    fn cast_types_are_not_aliases() {
        let out = rewrite("SELECT CAST(x AS Integer) AS Total FROM t", &names());
        assert_eq!(out, r#"SELECT CAST(x AS Integer) AS "Total" FROM t"#);
    }

    #[test]
    fn string_agg_gets_duckdbs_default_separator() {
        let out = rewrite("SELECT STRING_AGG(DISTINCT(modality)) FROM index", &names());
        assert_eq!(
            out,
            r#"SELECT STRING_AGG(DISTINCT("Modality"), ',') FROM index"#
        );
        let ordered = rewrite(
            "SELECT string_agg(DISTINCT modality ORDER BY modality) FROM t",
            &names(),
        );
        assert_eq!(
            ordered,
            r#"SELECT string_agg(DISTINCT "Modality" , ',' ORDER BY "Modality") FROM t"#
        );
        let kept = "SELECT string_agg(x, ';') FROM t";
        assert_eq!(rewrite(kept, &names()), kept);
    }

    #[test]
    fn string_agg_separator_and_identifiers_inside_it_are_both_rewritten() {
        let out = rewrite(
            "SELECT STRING_AGG(DISTINCT modality ORDER BY modality) AS m FROM index",
            &names(),
        );
        assert_eq!(
            out,
            r#"SELECT STRING_AGG(DISTINCT "Modality" , ',' ORDER BY "Modality") AS m FROM index"#
        );
    }

    #[test]
    fn non_reserved_keywords_can_be_aliases() {
        let out = rewrite(
            "SELECT collection_id AS Collection FROM index ORDER BY collection",
            &names(),
        );
        assert_eq!(
            out,
            r#"SELECT collection_id AS "Collection" FROM index ORDER BY "Collection""#
        );
    }

    #[test]
    fn identifier_lookups_are_recognised() {
        let ids = ["SeriesInstanceUID", "StudyInstanceUID"];
        let is_identifier_lookup = |sql: &str, ids: &[&str]| {
            let tokens = Tokenizer::new(&DuckDbDialect {}, sql)
                .tokenize_with_location()
                .unwrap();
            is_identifier_lookup(&tokens, ids)
        };
        assert!(is_identifier_lookup(
            r#"SELECT * FROM index WHERE "SeriesInstanceUID" = '1.2'"#,
            &ids
        ));
        assert!(is_identifier_lookup(
            "SELECT * FROM index i WHERE i.studyinstanceuid IN ('1', '2')",
            &ids
        ));
        assert!(!is_identifier_lookup(
            "SELECT * FROM index WHERE Modality = 'CT'",
            &ids
        ));
        assert!(!is_identifier_lookup(
            "SELECT SeriesInstanceUID FROM index",
            &ids
        ));
    }

    #[test]
    fn keywords_after_as_are_not_aliases() {
        let sql = "CREATE TABLE t AS SELECT 1";
        assert_eq!(rewrite(sql, &names()), sql);
    }

    #[test]
    fn multibyte_text_before_an_identifier_keeps_offsets_right() {
        let out = rewrite("SELECT 'é€' AS a,\n  modality FROM index", &names());
        assert_eq!(out, "SELECT 'é€' AS a,\n  \"Modality\" FROM index");
    }

    #[test]
    fn ambiguous_spellings_are_left_to_datafusion() {
        let mut m = names();
        m.insert("MODALITY");
        assert_eq!(
            rewrite("SELECT modality FROM t", &m),
            "SELECT modality FROM t"
        );
    }
}
