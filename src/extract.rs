//! An extract: one body as a source delivered it, with where it came from.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::period::Period;

/// A pulled body, before it is landed and parsed.
#[derive(Debug, Clone)]
pub struct Extract {
    /// The source's name as stored in the provenance column (`demo`, `file`).
    pub source: String,
    /// What a user would call this input in an error message (a path, a URL,
    /// `demo 2019Q3`).
    pub input: String,
    /// How the body is written.
    pub format: Format,
    /// The bytes exactly as received.
    pub body: Body,
    /// The quarter the extract was asked for, if it was asked for one.
    pub period: Option<Period>,
    pub pulled_at: DateTime<Utc>,
}

/// Where a body's bytes are: in memory (an API response), or in a file that
/// may be larger than memory should hold (a case system's export).
#[derive(Debug, Clone)]
pub enum Body {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Extract {
    pub fn new(
        source: &str,
        input: String,
        format: Format,
        body: Vec<u8>,
        period: Option<Period>,
    ) -> Extract {
        Extract::with_body(source, input, format, Body::Bytes(body), period)
    }

    pub fn with_body(
        source: &str,
        input: String,
        format: Format,
        body: Body,
        period: Option<Period>,
    ) -> Extract {
        Extract {
            source: source.to_string(),
            input,
            format,
            body,
            period,
            pulled_at: Utc::now(),
        }
    }

    /// The body's length in bytes, if it can be known without reading it.
    pub fn length(&self) -> Option<u64> {
        match &self.body {
            Body::Bytes(bytes) => u64::try_from(bytes.len()).ok(),
            Body::File(path) => std::fs::metadata(path).ok().map(|m| m.len()),
        }
    }

    /// The body as a buffered stream.
    pub fn reader(&self) -> std::io::Result<Box<dyn BufRead + Send + '_>> {
        Ok(match &self.body {
            Body::Bytes(bytes) => Box::new(bytes.as_slice()),
            Body::File(path) => Box::new(BufReader::with_capacity(1 << 20, File::open(path)?)),
        })
    }

    /// The bytes `range` of the body (those of it there are) as a buffered
    /// stream.
    pub fn range_reader(&self, range: Range<u64>) -> std::io::Result<Box<dyn BufRead + Send + '_>> {
        Ok(match &self.body {
            Body::Bytes(bytes) => {
                // As a file's, a read past the end ends there.
                let at = |n: u64| usize::try_from(n).map_or(bytes.len(), |n| n.min(bytes.len()));
                Box::new(&bytes[at(range.start)..at(range.end).max(at(range.start))])
            }
            Body::File(path) => {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(range.start))?;
                let part = file.take(range.end.saturating_sub(range.start));
                Box::new(BufReader::with_capacity(1 << 20, part))
            }
        })
    }

    /// The whole body, for formats that are small (API responses, outcome tables).
    pub fn bytes(&self) -> std::io::Result<Cow<'_, [u8]>> {
        Ok(match &self.body {
            Body::Bytes(bytes) => Cow::Borrowed(bytes.as_slice()),
            Body::File(path) => Cow::Owned(std::fs::read(path)?),
        })
    }
}

/// The formats extracts come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The outcomes CSV that `validate::outcomes` reads.
    OutcomesCsv,
    /// A Jobindsats API v3 data response: `{"columns", "rows"}`.
    JobindsatsV3,
    /// A Jobindsats API v2 data response: `[{"Variables", "Data"}]`.
    JobindsatsV2,
    /// A person-level extract from a case system, as CSV.
    InternshipsCsv,
    InternshipsParquet,
    /// One JSON object per line.
    InternshipsJsonl,
}

impl Format {
    /// The table an extract of this format is stored in.
    pub fn table(self) -> &'static str {
        match self {
            Format::OutcomesCsv | Format::JobindsatsV3 | Format::JobindsatsV2 => {
                crate::schema::OUTCOMES
            }
            Format::InternshipsCsv | Format::InternshipsParquet | Format::InternshipsJsonl => {
                crate::schema::INTERNSHIPS
            }
        }
    }

    /// The name the index of `raw/` records the format by.
    pub fn code(self) -> &'static str {
        match self {
            Format::OutcomesCsv => "outcomes_csv",
            Format::JobindsatsV3 => "jobindsats_v3",
            Format::JobindsatsV2 => "jobindsats_v2",
            Format::InternshipsCsv => "internships_csv",
            Format::InternshipsParquet => "internships_parquet",
            Format::InternshipsJsonl => "internships_jsonl",
        }
    }

    /// The format a [`Format::code`] names.
    pub fn from_code(code: &str) -> Option<Format> {
        [
            Format::OutcomesCsv,
            Format::JobindsatsV3,
            Format::JobindsatsV2,
            Format::InternshipsCsv,
            Format::InternshipsParquet,
            Format::InternshipsJsonl,
        ]
        .into_iter()
        .find(|f| f.code() == code)
    }

    /// The file name extension a landed body gets.
    pub fn extension(self) -> &'static str {
        match self {
            Format::OutcomesCsv => "csv",
            Format::JobindsatsV3 | Format::JobindsatsV2 => "json",
            Format::InternshipsCsv => "csv",
            Format::InternshipsParquet => "parquet",
            Format::InternshipsJsonl => "jsonl",
        }
    }
}
