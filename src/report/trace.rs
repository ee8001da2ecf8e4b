//! The named queries a report runs, remembered with their parameters so
//! that every figure can name where it came from and the appendix can list
//! the command that reruns it.

use arrow::record_batch::RecordBatch;
use serde::Serialize;

use super::ReportError;
use super::catalogue::Catalogue;
use crate::engine::{Engine, Params};

/// One named query with its parameters, over one table at one version.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: &'static str,
    pub params: Vec<(&'static str, String)>,
    pub table: &'static str,
    pub version: Option<u64>,
}

/// A query under way (see [`Call::start`]). Dropped unread (the report
/// stopped at an earlier error), the query is stopped too.
pub struct Started {
    query: &'static str,
    task: tokio::task::JoinHandle<Result<Vec<RecordBatch>, ReportError>>,
}

impl Drop for Started {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Started {
    /// The query's rows, once it has finished.
    pub async fn rows(mut self) -> Result<Vec<RecordBatch>, ReportError> {
        match (&mut self.task).await {
            Ok(rows) => rows,
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(_) => Err(ReportError::Stopped {
                query: format!("sql/{}.sql", self.query),
            }),
        }
    }
}

/// Where one figure came from: shown on hover, kept in data attributes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Source {
    pub query: String,
    pub params: String,
    pub table: String,
    pub version: String,
    pub row: String,
    /// All of the above as one line, for the hover title.
    pub title: String,
}

/// A figure as shown, and its source.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub text: String,
    /// A footnote mark when the figure is not shown.
    pub mark: String,
    pub source: Source,
}

/// A sentence and the rows its figures came from.
#[derive(Debug, Clone, Serialize)]
pub struct Sentence {
    pub text: String,
    pub sources: Vec<Source>,
}

/// One line of the appendix.
#[derive(Debug, Clone, Serialize)]
pub struct Rerun {
    pub query: String,
    pub uses: String,
    pub table: String,
    pub version: String,
    pub command: String,
}

impl Call {
    pub fn new(name: &'static str, table: &'static str, engine: &Engine) -> Call {
        Call {
            name,
            params: Vec::new(),
            table,
            version: engine.versions().get(table).copied(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Call {
        self.params.push((name, value.to_string()));
        self
    }

    pub async fn run(&self, engine: &Engine) -> Result<Vec<RecordBatch>, ReportError> {
        let mut params = Params::new();
        for (name, value) in &self.params {
            params.insert(name, value);
        }
        Ok(engine.named_once(self.name, &params).await?)
    }

    /// Run the query on a task of its own, so that its planning and
    /// reading go on beside the caller's; [`Started::rows`] waits for it.
    pub fn start(&self, engine: &Engine) -> Started {
        let (call, engine) = (self.clone(), engine.clone());
        Started {
            query: self.name,
            task: tokio::spawn(async move { call.run(&engine).await }),
        }
    }

    fn shown_params(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn shown_version(&self) -> String {
        self.version.map(|v| v.to_string()).unwrap_or_default()
    }

    /// The source of the figure in the row `row` (`area_code=101 benefit_group=dagpenge`).
    pub fn source(&self, t: &Catalogue, row: &str) -> Source {
        let params = self.shown_params();
        let version = self.shown_version();
        let query = format!("sql/{}.sql", self.name);
        Source {
            title: t.fill(
                "provenance.figure",
                &[
                    ("query", &query),
                    ("params", &params),
                    ("table", self.table),
                    ("version", &version),
                    ("row", row),
                ],
            ),
            query,
            params,
            table: self.table.into(),
            version,
            row: row.into(),
        }
    }

    /// A figure from the row `row`.
    pub fn figure(&self, t: &Catalogue, text: String, mark: &str, row: &str) -> Figure {
        Figure {
            text,
            mark: mark.into(),
            source: self.source(t, row),
        }
    }

    /// The appendix line: what the query is for and how to rerun it, on
    /// the very table version the figures came from.
    pub fn rerun(&self, t: &Catalogue) -> Rerun {
        let mut command = format!("praktik query --file sql/{}.sql", self.name);
        for (name, value) in &self.params {
            command.push_str(&format!(" --param {name}={value}"));
        }
        if let Some(version) = self.version {
            command.push_str(&format!(" --as-of {}={version}", self.table));
        }
        Rerun {
            query: format!("sql/{}.sql", self.name),
            uses: t.text(&format!("uses.{}", self.name)),
            table: self.table.into(),
            version: self.shown_version(),
            command,
        }
    }
}
