//! What Tab offers in `praktik sql`, and when Enter ends the input: SQL
//! keywords, the tables, their columns (those of the tables the statement
//! names first), DataFusion's functions, the named queries and the shell's
//! commands.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use crate::engine::{Engine, NAMED_QUERIES};
use crate::output::QueryFormat;

/// The names Tab can offer, read from the engine when the shell opens it.
#[derive(Debug, Default, Clone)]
pub struct Names {
    tables: Vec<String>,
    columns: BTreeMap<String, Vec<String>>,
    functions: Vec<String>,
    table_functions: Vec<String>,
}

impl Names {
    pub async fn of(engine: &Engine) -> Names {
        let mut names = Names {
            tables: engine.table_names(),
            ..Names::default()
        };
        for table in &names.tables {
            if let Ok(frame) = engine.context().table(table.as_str()).await {
                let columns = frame.schema().fields().iter().map(|f| f.name().clone());
                names.columns.insert(table.clone(), columns.collect());
            }
        }
        let state = engine.context().state();
        names.functions = state
            .scalar_functions()
            .keys()
            .chain(state.aggregate_functions().keys())
            .chain(state.window_functions().keys())
            .cloned()
            .collect();
        names.functions.sort();
        names.functions.dedup();
        names.table_functions = state.table_functions().keys().cloned().collect();
        names.table_functions.sort();
        names
    }
}

/// The shell's helper for rustyline.
pub struct SqlHelper {
    pub names: Names,
    files: FilenameCompleter,
}

impl SqlHelper {
    pub fn new(names: Names) -> SqlHelper {
        SqlHelper {
            names,
            files: FilenameCompleter::new(),
        }
    }

    /// The candidates for the word ending at `pos` in `input`, and where that word starts.
    pub fn candidates<'a>(&self, input: &'a str, pos: usize) -> (usize, Vec<String>) {
        let before = &input[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '.')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        let statement = current_statement(before);
        if let Some(command) = statement.trim_start().strip_prefix('\\') {
            return self.command_candidates(before, start, command);
        }
        let words = |text: &'a str| -> Vec<&'a str> {
            text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')'))
                .filter(|w| !w.is_empty())
                .collect()
        };
        // The tables the whole statement names, also after the cursor.
        let after = &input[pos..];
        let after = &after[..after.find(';').unwrap_or(after.len())];
        let mut all = words(statement);
        all.extend(words(after));
        let mentioned = mentioned_tables(&all, &self.names.tables);
        let words = words(&statement[..statement.len() - word.len()]);
        if let Some((qualifier, prefix)) = word.rsplit_once('.') {
            let table = mentioned
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(qualifier))
                .map_or(qualifier, |(_, table)| table.as_str());
            let columns = self.names.columns.get(table).into_iter().flatten();
            let found = matching(columns.map(String::as_str), prefix)
                .into_iter()
                .map(|c| format!("{qualifier}.{c}"))
                .collect();
            return (start, found);
        }
        let previous = words.last().map(|w| w.to_ascii_uppercase());
        if matches!(previous.as_deref(), Some("FROM" | "JOIN")) {
            let tables = self.names.tables.iter().chain(&self.names.table_functions);
            return (start, matching(tables.map(String::as_str), word));
        }
        // Columns of the tables named first (all tables' when none is), then
        // functions, tables and keywords.
        let mut columns: Vec<&str> = if mentioned.is_empty() {
            self.names
                .columns
                .values()
                .flatten()
                .map(String::as_str)
                .collect()
        } else {
            mentioned
                .iter()
                .filter_map(|(_, t)| self.names.columns.get(t.as_str()))
                .flatten()
                .map(String::as_str)
                .collect()
        };
        columns.sort_unstable();
        columns.dedup();
        let upper = word.chars().next().is_some_and(char::is_uppercase);
        let keywords = ALL_KEYWORDS.iter().map(|k| {
            if upper {
                (*k).to_string()
            } else {
                k.to_lowercase()
            }
        });
        let mut found = matching(columns.into_iter(), word);
        for group in [
            matching(self.names.functions.iter().map(String::as_str), word),
            matching(self.names.tables.iter().map(String::as_str), word),
        ] {
            found.extend(
                group
                    .into_iter()
                    .filter(|c| !found.contains(c))
                    .collect::<Vec<_>>(),
            );
        }
        let keywords: Vec<String> = keywords.collect();
        let keywords: Vec<String> = matching(keywords.iter().map(String::as_str), word)
            .into_iter()
            .filter(|k| !found.iter().any(|f| f.eq_ignore_ascii_case(k)))
            .collect();
        found.extend(keywords);
        (start, found)
    }

    fn command_candidates(
        &self,
        before: &str,
        start: usize,
        command: &str,
    ) -> (usize, Vec<String>) {
        let Some((name, argument)) = command.split_once(char::is_whitespace) else {
            // The command's name itself, with its backslash.
            let at = before.rfind('\\').unwrap_or(start);
            let names = super::command::names();
            return (at, matching(names.into_iter(), &format!("\\{command}")));
        };
        let word = &before[start..];
        let offer = |words: Vec<&str>| (start, matching(words.into_iter(), word));
        match name {
            "d" | "dt" | "schema" => offer(self.names.tables.iter().map(String::as_str).collect()),
            "run" if !argument.trim_start().contains(char::is_whitespace) => {
                offer(NAMED_QUERIES.iter().map(|(n, _)| *n).collect())
            }
            "format" | "f" => offer(QueryFormat::ALL.iter().map(|f| f.name()).collect()),
            "timing" => offer(vec!["on", "off"]),
            _ => (start, Vec::new()),
        }
    }
}

/// The statement being typed: the text after the last `;`.
fn current_statement(before: &str) -> &str {
    let (_, rest) = super::split::statements(before);
    let offset = before.len() - rest.len();
    &before[offset..]
}

/// The tables named after FROM or JOIN, each with the alias it goes by
/// (its own name when it has none).
fn mentioned_tables(words: &[&str], tables: &[String]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if !matches!(word.to_ascii_uppercase().as_str(), "FROM" | "JOIN") {
            continue;
        }
        let Some(table) = words
            .get(i + 1)
            .and_then(|w| tables.iter().find(|t| t.eq_ignore_ascii_case(w)))
        else {
            continue;
        };
        found.push((table.clone(), table.clone()));
        let alias = match words.get(i + 2) {
            Some(w) if w.eq_ignore_ascii_case("AS") => words.get(i + 3),
            other => other,
        };
        if let Some(alias) = alias.filter(|a| !is_keyword(a)) {
            found.push(((*alias).to_string(), table.clone()));
        }
    }
    found
}

fn is_keyword(word: &str) -> bool {
    ALL_KEYWORDS
        .binary_search(&word.to_ascii_uppercase().as_str())
        .is_ok()
}

/// The `names` that start with `prefix` (letter case aside), sorted, each once.
fn matching<'a>(names: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<String> {
    let prefix = prefix.to_lowercase();
    let mut found: Vec<String> = names
        .filter(|n| n.to_lowercase().starts_with(&prefix))
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    found
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let command = current_statement(&line[..pos]).trim_start();
        if ["\\i ", "\\o ", "\\include ", "\\output "]
            .iter()
            .any(|c| command.starts_with(c))
        {
            return self.files.complete(line, pos, ctx);
        }
        let (start, found) = self.candidates(line, pos);
        Ok((
            start,
            found
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Validator for SqlHelper {
    /// Enter runs the input once it ends a statement with `;` or is a
    /// command; otherwise it starts another line of the same statement.
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

/// Whether `input` is ready to run: blank, a command, or statements ending with `;`.
pub fn is_complete(input: &str) -> bool {
    input.trim_start().starts_with('\\')
        || super::split::is_blank(&super::split::statements(input).1)
}

impl Hinter for SqlHelper {
    type Hint = String;
}

impl Highlighter for SqlHelper {}

impl Helper for SqlHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> SqlHelper {
        let mut columns = BTreeMap::new();
        columns.insert(
            "outcomes".to_string(),
            vec![
                "area_code".to_string(),
                "share_pct".to_string(),
                "period".to_string(),
            ],
        );
        columns.insert(
            "areas".to_string(),
            vec!["area_code".to_string(), "area_name".to_string()],
        );
        SqlHelper::new(Names {
            tables: vec!["areas".into(), "benefit_groups".into(), "outcomes".into()],
            columns,
            functions: vec!["sum".into(), "substr".into(), "avg".into()],
            table_functions: vec!["range".into()],
        })
    }

    /// What Tab offers with the cursor at `|` (or at the end).
    fn offered(input: &str) -> Vec<String> {
        let pos = input.find('|').unwrap_or(input.len());
        let input = input.replacen('|', "", 1);
        helper().candidates(&input, pos).1
    }

    #[test]
    fn tables_after_from_and_join() {
        assert_eq!(offered("SELECT * FROM outc"), vec!["outcomes"]);
        assert_eq!(offered("select * from outcomes o join ar"), vec!["areas"]);
        assert_eq!(offered("SELECT * FROM r"), vec!["range"]);
    }

    #[test]
    fn columns_of_the_named_tables_come_first() {
        let found = offered("SELECT sh");
        assert_eq!(found[0], "share_pct");
        let found = offered("SELECT area_n");
        assert_eq!(found, vec!["area_name"]);
        // Named tables only: `area_name` is not in outcomes.
        let found = offered("SELECT a FROM outcomes WHERE area_");
        assert_eq!(found, vec!["area_code"]);
        assert_eq!(offered("SELECT o.sh| FROM outcomes o"), vec!["o.share_pct"]);
        assert_eq!(offered("SELECT outcomes.per"), vec!["outcomes.period"]);
    }

    #[test]
    fn functions_and_keywords_in_the_case_typed() {
        let found = offered("SELECT su");
        assert!(
            found.contains(&"sum".to_string()) && found.contains(&"substr".to_string()),
            "{found:?}"
        );
        assert!(offered("SELECT * FROM outcomes WH").contains(&"WHERE".to_string()));
        assert!(offered("select * from outcomes wh").contains(&"where".to_string()));
    }

    #[test]
    fn commands_and_their_arguments() {
        assert_eq!(offered("\\ti"), vec!["\\timing"]);
        assert_eq!(offered("\\d outc"), vec!["outcomes"]);
        assert_eq!(offered("\\run effect_by_a"), vec!["effect_by_area"]);
        assert_eq!(offered("\\format js"), vec!["json", "jsonl"]);
    }

    #[test]
    fn enter_waits_for_the_semicolon() {
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT ';"));
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1;\n  "));
        assert!(is_complete("\\d outcomes"));
        assert!(is_complete(""));
        assert!(!is_complete("SELECT 1; SELECT"));
    }
}
