//! `praktik sql`: a SQL shell over the store, on the same engine as the
//! reports. At a terminal: line editing, history kept between uses, Tab
//! completion, results that fit the window, Ctrl-C to cancel. Fed a file
//! (`praktik sql < checks.sql`): only results and errors, and exit 1 if a
//! statement failed.

mod command;
mod complete;
mod fit;
mod history;
mod split;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Editor};

use crate::Error;
use crate::as_of::AsOf;
use crate::config::Config;
use crate::engine::{Engine, Params, QueryError};
use crate::output::{self, OutputError, QueryFormat};
use crate::store::Store;
use command::Command;
use complete::{Names, SqlHelper};

/// Rows a result shows at a terminal before it shows only its ends.
const MAX_ROWS: usize = 40;
/// How deep `\i` may include files that include files.
const MAX_INCLUDE_DEPTH: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    Command(command::CommandError),
    #[error("cannot start the line editor")]
    Editor(#[source] ReadlineError),
    #[error("{failed} of {total} statements and commands failed (listed above)")]
    Failed { failed: usize, total: usize },
    #[error(
        "cannot read {path}; check the name (it is relative to the folder praktik was started in)"
    )]
    Read {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error(
        "\\i {path} would go more than {MAX_INCLUDE_DEPTH} files deep; does a file include itself?"
    )]
    TooDeep { path: PathBuf },
}

/// Run the shell: interactively when standard input is a terminal,
/// otherwise over the statements it holds.
pub async fn run(config: &Config, as_of: &AsOf, interactive: bool) -> Result<(), Error> {
    let store = Store::open_for(config)?;
    let engine = Engine::open_as_of(&store, as_of).await?;
    let mut shell = Shell {
        store,
        engine,
        format: QueryFormat::Table,
        output: None,
        timing: false,
        editor: None,
        history: None,
        depth: 0,
        ran: 0,
        failed: 0,
    };
    if interactive {
        shell.interactive().await?;
    } else {
        let stdin = std::io::stdin();
        shell.script(&mut stdin.lock(), None).await;
    }
    match shell.failed {
        0 => Ok(()),
        failed => Err(ShellError::Failed {
            failed,
            total: shell.ran,
        }
        .into()),
    }
}

/// Whether the shell goes on after a piece of input.
#[derive(Debug, PartialEq)]
enum Flow {
    Continue,
    /// Ctrl-C: the rest of this input (a pasted block, an `\i` file) is dropped.
    Stop,
    Quit,
}

/// A piece of input ready to run.
enum Piece {
    Statement { sql: String, line: usize },
    Command { text: String, line: usize },
}

/// Lines gathered into statements; a line starting with `\` between
/// statements is a command.
#[derive(Default)]
struct Reader {
    buffer: String,
    /// The line the buffer's text starts on (from 1).
    first: usize,
}

impl Reader {
    fn line(&mut self, text: &str, number: usize) -> Vec<Piece> {
        if split::is_blank(&self.buffer) {
            self.buffer.clear();
            self.first = number;
            if text.trim_start().starts_with('\\') {
                return vec![Piece::Command {
                    text: text.trim().to_string(),
                    line: number,
                }];
            }
        }
        self.buffer.push_str(text);
        self.buffer.push('\n');
        let (done, rest) = split::statements(&self.buffer);
        let first = self.first;
        let consumed = self.buffer.len() - rest.len();
        self.first += self.buffer[..consumed].matches('\n').count();
        self.buffer = rest;
        done.into_iter()
            .map(|s| Piece::Statement {
                sql: s.sql,
                line: first + s.line,
            })
            .collect()
    }

    /// What is left at the end of the input: a last statement without `;`.
    fn end(&mut self) -> Option<Piece> {
        let rest = std::mem::take(&mut self.buffer);
        (!split::is_blank(&rest)).then(|| Piece::Statement {
            sql: rest.trim().to_string(),
            line: self.first,
        })
    }
}

struct Shell {
    store: Store,
    engine: Engine,
    format: QueryFormat,
    /// `\o FILE`: results go there instead of the terminal.
    output: Option<PathBuf>,
    timing: bool,
    /// At a terminal: the line editor.
    editor: Option<Editor<SqlHelper, DefaultHistory>>,
    history: Option<PathBuf>,
    /// How many `\i` files deep the shell is reading.
    depth: usize,
    ran: usize,
    failed: usize,
}

impl Shell {
    async fn interactive(&mut self) -> Result<(), Error> {
        let config = rustyline::Config::builder()
            .max_history_size(10_000)
            .and_then(|c| c.history_ignore_dups(true))
            .map_err(ShellError::Editor)?
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .build();
        let mut editor = Editor::with_config(config).map_err(ShellError::Editor)?;
        editor.set_helper(Some(SqlHelper::new(Names::of(&self.engine).await)));
        self.history = history::file();
        if let Some(path) = &self.history
            && path.exists()
            && let Err(e) = editor.load_history(path)
        {
            say(&format!("cannot read the history {}: {e}", path.display()));
        }
        self.editor = Some(editor);
        say(&format!(
            "praktik sql on {} ({}). \\help lists the commands; \\q or Ctrl-D leaves.",
            self.store,
            self.versions()
        ));
        while let Some(editor) = self.editor.as_mut() {
            let input = match editor.readline("praktik> ") {
                Ok(input) => input,
                // Ctrl-C on a line: a fresh line.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(ShellError::Editor(e).into()),
            };
            self.remember(&input);
            let mut reader = Reader::default();
            let mut pieces: Vec<Piece> = Vec::new();
            for (i, line) in input.lines().enumerate() {
                pieces.extend(reader.line(line, i + 1));
            }
            pieces.extend(reader.end());
            for piece in pieces {
                match self.piece(piece, None).await {
                    Flow::Continue => {}
                    Flow::Stop => break,
                    Flow::Quit => return Ok(()),
                }
            }
        }
        Ok(())
    }

    /// Keep `input` in the history, in memory and in the file, unless it
    /// holds what looks like a CPR number.
    fn remember(&mut self, input: &str) {
        let Some(editor) = self.editor.as_mut() else {
            return;
        };
        if input.trim().is_empty() {
            return;
        }
        if !history::may_keep(input) {
            say("not kept in the history: it holds what looks like a CPR number");
            return;
        }
        let kept = editor.add_history_entry(input.trim_end());
        if let (Ok(true), Some(path)) = (kept, &self.history) {
            let saved = match path.parent() {
                Some(folder) => std::fs::create_dir_all(folder).map_err(ReadlineError::from),
                None => Ok(()),
            }
            .and_then(|()| editor.append_history(path));
            if let Err(e) = saved {
                say(&format!(
                    "cannot keep the history in {}: {e}; it is kept until the shell ends",
                    path.display()
                ));
                self.history = None;
            }
        }
    }

    /// Run the statements and commands in `input`; `file` names where they
    /// come from in errors (standard input when none).
    async fn script(&mut self, input: &mut dyn BufRead, file: Option<&Path>) -> Flow {
        let mut reader = Reader::default();
        for (i, line) in input.lines().enumerate() {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    self.failed += 1;
                    say(&format!("error: cannot read {}: {e}", origin(file)));
                    return Flow::Continue;
                }
            };
            for piece in reader.line(&line, i + 1) {
                match self.piece(piece, file).await {
                    Flow::Continue => {}
                    stop => return stop,
                }
            }
        }
        match reader.end() {
            Some(piece) => self.piece(piece, file).await,
            None => Flow::Continue,
        }
    }

    /// Run one statement or command; its error is said, counted, and the
    /// shell goes on.
    async fn piece(&mut self, piece: Piece, file: Option<&Path>) -> Flow {
        let interactive = self.editor.is_some() && file.is_none();
        let (result, line) = match piece {
            Piece::Statement { sql, line } => {
                let label = if interactive {
                    "the statement".to_string()
                } else {
                    format!("the statement at line {line} of {}", origin(file))
                };
                self.ran += 1;
                (self.statement(&label, &sql, &Params::new()).await, line)
            }
            Piece::Command { text, line } => {
                self.ran += 1;
                (self.command(&text).await, line)
            }
        };
        match result {
            Ok(flow) => flow,
            Err(e) => {
                self.failed += 1;
                let place = if interactive {
                    String::new()
                } else {
                    format!(" (line {line} of {})", origin(file))
                };
                say(&format!("{}{place}", crate::describe_error(&e)));
                Flow::Continue
            }
        }
    }

    /// Run `sql` with `params` and show its result.
    async fn statement(&mut self, label: &str, sql: &str, params: &Params) -> Result<Flow, Error> {
        let started = Instant::now();
        let Some(result) = self
            .cancellable(self.engine.query(label, sql, params))
            .await
        else {
            return Ok(Flow::Stop);
        };
        let (schema, batches) = result?;
        self.show(&schema, batches)?;
        self.took(started);
        Ok(Flow::Continue)
    }

    /// Await `query`; at a terminal, Ctrl-C (the terminal is not in raw
    /// mode while a query runs) drops it, which stops its work: `None`.
    async fn cancellable<F: std::future::Future>(&self, query: F) -> Option<F::Output> {
        if self.editor.is_none() {
            return Some(query.await);
        }
        tokio::select! {
            result = query => Some(result),
            _ = tokio::signal::ctrl_c() => {
                say("cancelled");
                None
            }
        }
    }

    /// `Run time: 0.012 s` under `\timing on`.
    fn took(&self, started: Instant) {
        if self.timing {
            say(&format!(
                "Run time: {:.3} s",
                started.elapsed().as_secs_f64()
            ));
        }
    }

    async fn command(&mut self, text: &str) -> Result<Flow, Error> {
        match command::parse(text).map_err(ShellError::Command)? {
            Command::Quit => return Ok(Flow::Quit),
            Command::Help => say(&command::help()),
            Command::Tables => {
                let batch = self.engine.overview().await?;
                self.show(&batch.schema(), vec![batch])?;
            }
            Command::Describe(table) => {
                let batch = self.engine.describe(&table).await?;
                self.show(&batch.schema(), vec![batch])?;
            }
            Command::Run { name, params } => {
                let sql = crate::engine::named_query(&name)
                    .ok_or_else(|| QueryError::UnknownQuery(name.clone()))?;
                let mut bound = Params::new();
                for (key, value) in &params {
                    bound.insert(key, value);
                }
                return self
                    .statement(&format!("sql/{name}.sql"), sql, &bound)
                    .await;
            }
            Command::Format(None) => say(&format!("the format is {}", self.format.name())),
            Command::Format(Some(format)) => {
                self.format = format;
                self.note(&format!("results as {}", format.name()));
                if format == QueryFormat::Parquet && self.output.is_none() {
                    self.note("parquet is written to a file only: give \\o FILE");
                }
            }
            Command::Output(None) => {
                self.output = None;
                self.note("results go to the terminal");
            }
            Command::Output(Some(path)) => {
                // Fails now, not at the first result, when it cannot be written.
                std::fs::File::create(&path).map_err(|cause| OutputError::OutFile {
                    path: path.clone(),
                    cause,
                })?;
                self.note(&format!("results go to {}", path.display()));
                self.output = Some(path);
            }
            Command::Include(path) => return self.include(&path).await,
            Command::AsOf(as_of) => {
                self.engine = Engine::open_as_of(&self.store, &as_of).await?;
                let names = Names::of(&self.engine).await;
                if let Some(helper) = self.editor.as_mut().and_then(|e| e.helper_mut()) {
                    helper.names = names;
                }
                self.note(&format!("reading {}", self.versions()));
            }
            Command::Timing(on) => {
                self.timing = on.unwrap_or(!self.timing);
                self.note(&format!(
                    "timing is {}",
                    if self.timing { "on" } else { "off" }
                ));
            }
            Command::History => match self.editor.as_ref() {
                Some(editor) => {
                    let mut text = String::new();
                    for (i, entry) in editor.history().iter().enumerate() {
                        text.push_str(&format!(
                            "{:>5}  {}\n",
                            i + 1,
                            entry.replace('\n', "\n       ")
                        ));
                    }
                    print(&text)?;
                }
                None => say("there is no history outside the interactive shell"),
            },
        }
        Ok(Flow::Continue)
    }

    async fn include(&mut self, path: &Path) -> Result<Flow, Error> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(ShellError::TooDeep {
                path: path.to_path_buf(),
            }
            .into());
        }
        let file = std::fs::File::open(path).map_err(|cause| ShellError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        self.depth += 1;
        let flow = Box::pin(self.script(&mut std::io::BufReader::new(file), Some(path))).await;
        self.depth -= 1;
        Ok(flow)
    }

    /// A result, in the chosen format, to the terminal or the `\o` file.
    fn show(&mut self, schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<(), Error> {
        let batches = if batches.is_empty() {
            vec![RecordBatch::new_empty(schema.clone())]
        } else {
            batches
        };
        if let Some(path) = &self.output {
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            if self.format == QueryFormat::Parquet {
                output::OutFile::create(path)?.finish(&batches, QueryFormat::Parquet)?;
            } else {
                let mut text = Vec::new();
                output::write(&batches, self.format, &mut text)?;
                let failed = |cause| OutputError::OutFile {
                    path: path.clone(),
                    cause,
                };
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(failed)?;
                file.write_all(&text).map_err(failed)?;
            }
            self.note(&format!("{rows} row(s) written to {}", path.display()));
            return Ok(());
        }
        let width = self
            .editor
            .as_mut()
            .and_then(|e| e.dimensions())
            .map(|(columns, _)| columns);
        match (self.format, width) {
            (QueryFormat::Table, Some(width)) => {
                let fit = fit::Fit {
                    width: width.into(),
                    max_rows: MAX_ROWS,
                };
                print(&fit::render(schema, &batches, fit).map_err(OutputError::from)?)
            }
            (format, _) => {
                let mut stdout = std::io::stdout().lock();
                output::write(&batches, format, &mut stdout)?;
                stdout.flush().map_err(OutputError::from)?;
                Ok(())
            }
        }
    }

    /// A message that only a person at the terminal needs: a script's
    /// output holds only results and errors.
    fn note(&self, text: &str) {
        if self.editor.is_some() {
            say(text);
        }
    }

    /// `outcomes v3, internships v5`.
    fn versions(&self) -> String {
        let versions: Vec<String> = self
            .engine
            .versions()
            .iter()
            .map(|(table, version)| format!("{table} v{version}"))
            .collect();
        if versions.is_empty() {
            "no tables yet".to_string()
        } else {
            versions.join(", ")
        }
    }
}

fn origin(file: Option<&Path>) -> String {
    file.map_or_else(|| "the input".to_string(), |f| f.display().to_string())
}

/// A message for the person (standard error), not a result.
fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// A result for standard output.
fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| OutputError::from(e).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<String> {
        let mut reader = Reader::default();
        let mut found = Vec::new();
        for (i, line) in text.lines().enumerate() {
            found.extend(reader.line(line, i + 1));
        }
        found.extend(reader.end());
        found
            .into_iter()
            .map(|p| match p {
                Piece::Statement { sql, line } => format!("{line}: {sql}"),
                Piece::Command { text, line } => format!("{line}: cmd {text}"),
            })
            .collect()
    }

    #[test]
    fn lines_become_statements_and_commands_with_their_line_numbers() {
        assert_eq!(
            pieces("\\timing on\nSELECT 1;\n\nSELECT\n  2; SELECT 3;\n\\d outcomes\nSELECT 4"),
            vec![
                "1: cmd \\timing on",
                "2: SELECT 1",
                "4: SELECT\n  2",
                "5: SELECT 3",
                "6: cmd \\d outcomes",
                "7: SELECT 4",
            ]
        );
    }

    #[test]
    fn a_backslash_inside_a_statement_is_part_of_it() {
        assert_eq!(
            pieces("SELECT 'a\n\\d not a command';"),
            vec!["1: SELECT 'a\n\\d not a command'"]
        );
    }
}
