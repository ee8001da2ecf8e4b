//! `praktik sql`: an interactive SQL shell over the store, on the same engine
//! as the reports. Statements end with `;`; `\d` lists the tables, `\q` quits.

use std::io::{BufRead, Write};

use crate::Error;
use crate::config::Config;
use crate::engine::{Engine, Params};
use crate::output::{self, QueryFormat};
use crate::store::Store;

const HELP: &str = "Statements end with `;`. \\d lists the tables, \\d TABLE describes one, \\q quits. Queries are read-only.";

/// Read statements from `input` until it ends or `\q`; write results to
/// `out` and errors to `err`. An error in one statement does not end the shell.
pub async fn run(
    config: &Config,
    as_of: &crate::as_of::AsOf,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    prompt: bool,
) -> Result<(), Error> {
    let store = Store::open(&config.store)?;
    let engine = Engine::open_as_of(&store, as_of).await?;
    let io = |e: std::io::Error| Error::Output(output::OutputError::Io(e));
    if prompt {
        writeln!(err, "praktik sql over {} — {HELP}", store.root().display()).map_err(io)?;
    }
    let mut statement = String::new();
    let mut line = String::new();
    loop {
        if prompt {
            write!(
                err,
                "{}",
                if statement.is_empty() {
                    "praktik> "
                } else {
                    "     ..> "
                }
            )
            .map_err(io)?;
            err.flush().map_err(io)?;
        }
        line.clear();
        if input.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        let trimmed = line.trim();
        if statement.is_empty() {
            match trimmed {
                "" => continue,
                "\\q" | "quit" | "exit" => break,
                "\\?" | "help" => {
                    writeln!(err, "{HELP}").map_err(io)?;
                    continue;
                }
                "\\d" => {
                    statement.push_str("SHOW TABLES;");
                }
                _ => {
                    if let Some(table) = trimmed.strip_prefix("\\d ") {
                        match engine.describe(table.trim().trim_end_matches(';')).await {
                            Ok(batch) => output::write(&[batch], QueryFormat::Table, out)?,
                            Err(e) => writeln!(err, "{}", crate::describe_error(&e)).map_err(io)?,
                        }
                        continue;
                    }
                }
            }
        }
        if trimmed != "\\d" {
            statement.push_str(&line);
        }
        if !statement.trim_end().ends_with(';') {
            continue;
        }
        let sql = statement.trim().trim_end_matches(';').to_string();
        statement.clear();
        match engine.sql("the statement", &sql, &Params::new()).await {
            Ok(batches) => output::write(&batches, QueryFormat::Table, out)?,
            Err(e) => writeln!(err, "{}", crate::describe_error(&e)).map_err(io)?,
        }
    }
    Ok(())
}
