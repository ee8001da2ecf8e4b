//! The shell's own commands (`\d`, `\format csv`, `\run trend …`): what a
//! line starting with `\` asks for, or why it cannot be done.

use std::path::PathBuf;

use crate::as_of::AsOf;
use crate::output::QueryFormat;

/// The commands, with the help line of each; `\help` prints them in this order.
pub const COMMANDS: [(&str, &str); 10] = [
    (
        "\\d",
        "\\d [TABLE]        the tables (rows, quarters held), or TABLE's columns",
    ),
    (
        "\\run",
        "\\run NAME [k=v …]  a named query from sql/ with its parameters",
    ),
    (
        "\\format",
        "\\format [NAME]    table (fits the terminal), csv, json, jsonl, markdown, parquet (needs \\o)",
    ),
    (
        "\\o",
        "\\o [FILE]         results into FILE (parquet: replaced per result), \\o alone: the terminal",
    ),
    ("\\i", "\\i FILE           run the statements in FILE"),
    (
        "\\as-of",
        "\\as-of [WHEN]     read the tables at 3, outcomes=3,internships=5 or a time; alone: newest",
    ),
    (
        "\\timing",
        "\\timing [on|off]  print how long each statement took",
    ),
    (
        "\\history",
        "\\history          the statements kept in the history",
    ),
    ("\\help", "\\help             this list (also \\?)"),
    ("\\q", "\\q                leave (also Ctrl-D)"),
];

/// One parsed command line.
#[derive(Debug, PartialEq)]
pub enum Command {
    Tables,
    Describe(String),
    Run {
        name: String,
        params: Vec<(String, String)>,
    },
    Format(Option<QueryFormat>),
    Output(Option<PathBuf>),
    Include(PathBuf),
    AsOf(AsOf),
    Timing(Option<bool>),
    History,
    Help,
    Quit,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CommandError {
    #[error("unknown command `{given}`{nearest}; the commands are {list}", list = names().join(" "))]
    Unknown { given: String, nearest: String },
    #[error("{0}")]
    Usage(String),
}

/// The names of the commands, as `\help` lists them.
pub fn names() -> Vec<&'static str> {
    COMMANDS.iter().map(|(name, _)| *name).collect()
}

/// Parse `line`, which starts with `\`.
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let line = line.trim().trim_end_matches(';').trim_end();
    let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let usage = |text: &str| Err(CommandError::Usage(text.to_string()));
    let argument = || (!rest.is_empty()).then(|| rest.to_string());
    match name {
        "\\d" | "\\dt" | "\\schema" => Ok(argument().map_or(Command::Tables, Command::Describe)),
        "\\run" => {
            let mut words = rest.split_whitespace();
            let Some(name) = words.next() else {
                return usage(
                    "\\run needs the name of a query: \\run effect_by_area period=2019Q3 (\\d lists the tables, the queries are in sql/)",
                );
            };
            let params = words
                .map(|word| match word.split_once('=') {
                    Some((key, value)) if !key.is_empty() => {
                        Ok((key.to_string(), value.to_string()))
                    }
                    _ => Err(CommandError::Usage(format!(
                        "`{word}` is not a parameter: write NAME=VALUE, e.g. period=2019Q3"
                    ))),
                })
                .collect::<Result<_, _>>()?;
            Ok(Command::Run {
                name: name
                    .trim_end_matches(".sql")
                    .trim_start_matches("sql/")
                    .to_string(),
                params,
            })
        }
        "\\format" | "\\f" => match argument() {
            None => Ok(Command::Format(None)),
            Some(text) => text
                .parse()
                .map(|f| Command::Format(Some(f)))
                .map_err(|e: crate::output::OutputError| CommandError::Usage(e.to_string())),
        },
        "\\o" | "\\output" => Ok(Command::Output(argument().map(PathBuf::from))),
        "\\i" | "\\include" => match argument() {
            Some(file) => Ok(Command::Include(PathBuf::from(file))),
            None => usage("\\i needs a file: \\i checks.sql"),
        },
        "\\as-of" | "\\asof" => match argument() {
            None => Ok(Command::AsOf(AsOf::default())),
            Some(text) => text
                .parse()
                .map(Command::AsOf)
                .map_err(|e: crate::as_of::BadAsOf| CommandError::Usage(e.to_string())),
        },
        "\\timing" => match rest {
            "" => Ok(Command::Timing(None)),
            "on" => Ok(Command::Timing(Some(true))),
            "off" => Ok(Command::Timing(Some(false))),
            other => usage(&format!("\\timing takes on or off, not `{other}`")),
        },
        "\\history" | "\\s" => Ok(Command::History),
        "\\help" | "\\?" | "\\h" => Ok(Command::Help),
        "\\q" | "\\quit" => Ok(Command::Quit),
        other => {
            let nearest = names()
                .into_iter()
                .map(|n| (crate::spelling::edit_distance(n, other), n))
                .min()
                .filter(|(distance, _)| *distance <= 2)
                .map(|(_, n)| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            Err(CommandError::Unknown {
                given: other.to_string(),
                nearest,
            })
        }
    }
}

/// The help text: one line per command.
pub fn help() -> String {
    let mut text = String::from(
        "Statements end with `;` and may span lines; they only read (no CREATE, INSERT, COPY …).\n",
    );
    for (_, line) in COMMANDS {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("Tab completes names; Up and Down walk the history; Ctrl-C cancels the line or the running query.");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse("\\d"), Ok(Command::Tables));
        assert_eq!(
            parse("\\d outcomes;"),
            Ok(Command::Describe("outcomes".into()))
        );
        assert_eq!(
            parse("\\run effect_by_area period=2019Q3 benefit_group=dagpenge"),
            Ok(Command::Run {
                name: "effect_by_area".into(),
                params: vec![
                    ("period".into(), "2019Q3".into()),
                    ("benefit_group".into(), "dagpenge".into())
                ]
            })
        );
        assert_eq!(
            parse("\\format csv"),
            Ok(Command::Format(Some(QueryFormat::Csv)))
        );
        assert_eq!(parse("\\o"), Ok(Command::Output(None)));
        assert_eq!(
            parse("\\o out/a b.csv"),
            Ok(Command::Output(Some("out/a b.csv".into())))
        );
        assert_eq!(parse("\\timing on"), Ok(Command::Timing(Some(true))));
        assert_eq!(parse("\\as-of"), Ok(Command::AsOf(AsOf::default())));
        assert!(matches!(parse("\\as-of 3"), Ok(Command::AsOf(_))));
        assert_eq!(parse("\\q"), Ok(Command::Quit));
    }

    #[test]
    fn wrong_commands_say_what_exists() {
        let Err(CommandError::Unknown { given, nearest }) = parse("\\fromat csv") else {
            panic!("not refused")
        };
        assert_eq!(given, "\\fromat");
        assert!(nearest.contains("\\format"), "{nearest}");
        let message = parse("\\zz").unwrap_err().to_string();
        assert!(
            message.contains("\\timing") && message.contains("\\run"),
            "{message}"
        );
        assert!(
            parse("\\run")
                .unwrap_err()
                .to_string()
                .contains("\\run effect_by_area")
        );
        assert!(
            parse("\\run trend 2019Q3")
                .unwrap_err()
                .to_string()
                .contains("NAME=VALUE")
        );
        assert!(
            parse("\\format xlsx")
                .unwrap_err()
                .to_string()
                .contains("csv")
        );
        assert!(
            parse("\\timing maybe")
                .unwrap_err()
                .to_string()
                .contains("on or off")
        );
        assert!(parse("\\as-of yesterday").is_err());
    }

    #[test]
    fn help_lists_every_command() {
        let help = help();
        for name in names() {
            assert!(help.contains(name), "{name} missing from help");
        }
    }
}
