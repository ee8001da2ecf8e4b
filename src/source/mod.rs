//! Where extracts come from. Each source is one file; `Source` names them.

pub mod demo;
mod file;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::extract::{Extract, Format};
use crate::period::Period;

/// A source of outcome extracts, as named on the command line or in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in, offline and deterministic.
    Demo,
    /// An outcomes CSV on disk: `file:PATH`.
    File(PathBuf),
}

/// Which quarters to pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Wanted {
    /// Whatever the source has.
    #[default]
    All,
    /// These quarters only.
    Periods(Vec<Period>),
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the {source_name} source has no data for {period}; it covers {first} to {last}")]
    NotOffered {
        source_name: String,
        period: Period,
        first: Period,
        last: Period,
    },
    #[error("cannot read the extract {path}")]
    ReadFile {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error(
        "a file extract holds the quarters it holds: give one --period to check it against, or none"
    )]
    FileRange,
}

/// Why a text names no source.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{0}` is not a source: use `demo` or `file:PATH` (an outcomes CSV)")]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "demo" => Ok(Source::Demo),
            other => match other.strip_prefix("file:") {
                Some(path) if !path.is_empty() => Ok(Source::File(PathBuf::from(path))),
                _ => Err(UnknownSource(s.to_string())),
            },
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Demo => f.write_str("demo"),
            Source::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Source {
    /// The name stored in the `source` provenance column.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Demo => "demo",
            Source::File(_) => "file",
        }
    }

    /// The bodies for the wanted quarters, exactly as the source gives them.
    pub async fn pull(&self, wanted: &Wanted) -> Result<Vec<Extract>, PullError> {
        match self {
            Source::Demo => demo_extracts(wanted),
            Source::File(path) => file::pull(path, wanted).map(|e| vec![e]),
        }
    }
}

fn demo_extracts(wanted: &Wanted) -> Result<Vec<Extract>, PullError> {
    let (first, last) = (demo::first_period(), demo::last_period());
    let periods: Vec<Period> = match wanted {
        Wanted::All => first.through(last).collect(),
        Wanted::Periods(list) => list.clone(),
    };
    periods
        .into_iter()
        .map(|period| {
            if period < first || period > last {
                return Err(PullError::NotOffered {
                    source_name: "demo".into(),
                    period,
                    first,
                    last,
                });
            }
            let body = demo::extract_csv(period).into_bytes();
            Ok(Extract::new(
                "demo",
                format!("demo extract {period}"),
                Format::OutcomesCsv,
                body,
                Some(period),
            ))
        })
        .collect()
}
