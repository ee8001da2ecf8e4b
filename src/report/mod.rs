//! Reports: a definition from `reports/`, figures from the store through the
//! named queries, sentences from those figures, rendered by Tera templates
//! into HTML and Markdown.

mod briefing;
pub mod catalogue;
pub mod chart;
pub mod definition;
pub mod format;
mod letter;
pub mod narrative;
mod pdf;
pub mod provenance;
pub mod render;
pub(crate) mod rows;
pub(crate) mod trace;
pub(crate) mod type_effects;
pub mod type_narrative;

use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use definition::{Definition, PeriodChoice};
pub use render::{Output, render};

use crate::engine::QueryError;
use crate::period::Period;

/// Cells built from fewer people than this are not shown.
pub const MIN_PEOPLE: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the report definition {path} is not valid; fix the TOML as the cause says")]
    Definition {
        path: PathBuf,
        #[source]
        cause: Box<toml::de::Error>,
    },
    #[error(
        "the definition {path} needs benefit groups and comparison areas (and a letter a title and a [letter] section)"
    )]
    EmptyDefinition { path: PathBuf },
    #[error("cannot read the report definitions in {path}")]
    ReadDefinitions {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("there is no report named `{name}`; the reports are: {known}")]
    UnknownReport { name: String, known: String },
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("the query {query} returned no column `{column}`")]
    MissingColumn { query: String, column: String },
    #[error("internal error: the query {query} was stopped before it finished; please report it")]
    Stopped { query: String },
    #[error("the column `{column}` of {query} has an unexpected type")]
    ColumnType {
        query: String,
        column: String,
        #[source]
        cause: arrow::error::ArrowError,
    },
    #[error(
        "the store has no figures for {period}; pull them with `praktik pull --period {period}`"
    )]
    NoData { period: Period },
    #[error(
        "the store has no person-level internships for {period}; pull an extract with `praktik pull --source file:PATH`"
    )]
    NoPersonData { period: Period },
    #[error("the store is empty; run `praktik pull` (or `praktik run`) first")]
    EmptyStore,
    #[error("cannot render the template {template}")]
    Template {
        template: String,
        #[source]
        cause: tera::Error,
    },
    #[error("cannot write the report to {path}")]
    Write {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error(
        "no Chromium found for PDF output: install it (apt-get install chromium) or set `chromium = \"PATH\"` in praktik.toml"
    )]
    NoChromium,
    #[error("cannot print the PDF {path}: {detail}")]
    Pdf { path: PathBuf, detail: String },
    #[error("there is no catalogue for the language `{lang}`; the languages are: {known}")]
    UnknownLanguage { lang: String, known: String },
    #[error(
        "the report `{report}` is written in Danish only; --lang {lang} applies to the briefing"
    )]
    LanguageNotOffered { report: String, lang: String },
    #[error("`{given}` is not a known area; the nearest codes are: {nearest}")]
    UnknownArea { given: String, nearest: String },
    #[error(
        "the store has no figures for {area} in {period}; areas with figures near it: {nearest}"
    )]
    AreaWithoutRows {
        area: String,
        period: Period,
        nearest: String,
    },
    #[error("the store does not hold {period}; it holds {held}")]
    QuarterNotHeld { period: Period, held: String },
    #[error(
        "the data checks of `{report}` for {period} failed, so nothing was rendered and the last good reports stay: {}",
        failures.join("; ")
    )]
    ChecksFailed {
        report: String,
        period: Period,
        failures: Vec<String>,
    },
    #[error("`{0}` is not a report format: use html, md, pdf or a list such as html,md,pdf")]
    UnknownFormat(String),
}

/// The file formats a report renders to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Html,
    Markdown,
    /// The HTML printed by headless Chromium.
    Pdf,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Html => "html",
            OutputFormat::Markdown => "md",
            OutputFormat::Pdf => "pdf",
        }
    }

    /// `html,md` → both.
    pub fn parse_list(text: &str) -> Result<Vec<OutputFormat>, ReportError> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(OutputFormat::from_str)
            .collect()
    }
}

impl FromStr for OutputFormat {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "html" => Ok(OutputFormat::Html),
            "md" | "markdown" => Ok(OutputFormat::Markdown),
            "pdf" => Ok(OutputFormat::Pdf),
            other => Err(ReportError::UnknownFormat(other.into())),
        }
    }
}

/// Where a report for `period` is written: `OUT/reports/2019Q3/NAME.html`.
pub fn output_path(out: &Path, period: Period, name: &str, format: OutputFormat) -> PathBuf {
    out.join("reports")
        .join(period.to_string())
        .join(format!("{name}.{}", format.extension()))
}
