//! An extract: one body as a source delivered it, with where it came from.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::period::Period;

/// A pulled body, before it is parsed.
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
    pub body: Vec<u8>,
    /// SHA-256 of `body`, lower-case hex.
    pub sha256: String,
    /// The quarter the extract was asked for, if it was asked for one.
    pub period: Option<Period>,
    pub pulled_at: DateTime<Utc>,
}

impl Extract {
    pub fn new(
        source: &str,
        input: String,
        format: Format,
        body: Vec<u8>,
        period: Option<Period>,
    ) -> Extract {
        let sha256 = hex::encode(Sha256::digest(&body));
        Extract {
            source: source.to_string(),
            input,
            format,
            body,
            sha256,
            period,
            pulled_at: Utc::now(),
        }
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
