//! Cutting what an analyst typed into whole statements at `;`, with the
//! SQL tokenizer, so that a `;` inside a string or a comment does not end one.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// A whole statement, without its `;`, trimmed.
#[derive(Debug, PartialEq)]
pub struct Statement {
    pub sql: String,
    /// The line of the text it starts on, from 0.
    pub line: usize,
}

/// The statements that `text` completes (empty ones left out) and the text
/// after the last `;`, which a later line may finish. Text the tokenizer
/// cannot read yet (an open quote) is all rest.
pub fn statements(text: &str) -> (Vec<Statement>, String) {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, text).tokenize_with_location() else {
        return (Vec::new(), text.to_string());
    };
    let starts = line_starts(text);
    let mut done = Vec::new();
    let mut from = 0;
    for token in tokens.iter().filter(|t| t.token == Token::SemiColon) {
        let at = offset(
            text,
            &starts,
            token.span.start.line,
            token.span.start.column,
        );
        push_statement(&mut done, text, from, at);
        from = at + 1;
    }
    (done, text[from..].to_string())
}

/// Whether `text` holds nothing a statement needs: blanks and comments.
pub fn is_blank(text: &str) -> bool {
    match Tokenizer::new(&GenericDialect {}, text).tokenize() {
        Ok(tokens) => tokens.iter().all(|t| matches!(t, Token::Whitespace(_))),
        Err(_) => false,
    }
}

/// Add `text[from..to]` to `done` unless it is blank.
fn push_statement(done: &mut Vec<Statement>, text: &str, from: usize, to: usize) {
    let part = &text[from..to];
    if !is_blank(part) {
        let begins = from + (part.len() - part.trim_start().len());
        done.push(Statement {
            sql: part.trim().to_string(),
            line: text[..begins].matches('\n').count(),
        });
    }
}

/// The byte offset of each line's first character.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The byte offset of a 1-based line and character column.
fn offset(text: &str, starts: &[usize], line: u64, column: u64) -> usize {
    let start = starts
        .get((line as usize).saturating_sub(1))
        .copied()
        .unwrap_or(text.len());
    text[start..]
        .char_indices()
        .nth((column as usize).saturating_sub(1))
        .map_or(text.len(), |(i, _)| start + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(done: &[Statement]) -> Vec<&str> {
        done.iter().map(|s| s.sql.as_str()).collect()
    }

    #[test]
    fn statements_end_at_semicolons_outside_strings_and_comments() {
        let (done, rest) = statements(
            "SELECT ';' AS a; -- a comment; still one\nSELECT 'it''s'\n  AS b;\nSELECT /* ; */ 3",
        );
        assert_eq!(
            done,
            vec![
                Statement {
                    sql: "SELECT ';' AS a".into(),
                    line: 0
                },
                Statement {
                    sql: "-- a comment; still one\nSELECT 'it''s'\n  AS b".into(),
                    line: 0
                },
            ]
        );
        assert_eq!(rest, "\nSELECT /* ; */ 3");
    }

    #[test]
    fn an_open_quote_waits_for_more() {
        let (done, rest) = statements("SELECT 'Aarhus;\n");
        assert!(done.is_empty());
        assert_eq!(rest, "SELECT 'Aarhus;\n");
        let (done, rest) = statements("SELECT 'Aarhus;\nKøbenhavn';");
        assert_eq!(sqls(&done), vec!["SELECT 'Aarhus;\nKøbenhavn'"]);
        assert!(is_blank(&rest));
    }

    #[test]
    fn empty_statements_and_comments_are_no_statements() {
        let (done, rest) = statements(";; -- nothing\n ;");
        assert!(done.is_empty(), "{done:?}");
        assert!(is_blank(&rest));
        assert!(!is_blank("SELECT 1"));
        assert!(is_blank("  -- only a comment\n"));
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        let (done, _) = statements("SELECT 'æøå' AS x; SELECT 2;");
        assert_eq!(sqls(&done), vec!["SELECT 'æøå' AS x", "SELECT 2"]);
        let (done, _) = statements("\n\nSELECT 1;\n  SELECT\n 2;");
        assert_eq!(done.iter().map(|s| s.line).collect::<Vec<_>>(), vec![2, 3]);
    }
}
