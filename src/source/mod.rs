//! Where extracts come from. Each source is one file; `Source` names them.

pub mod demo;
pub mod demo_internships;
mod demo_text;
mod file;
pub mod jobindsats;

use std::collections::BTreeSet;
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
    /// Extracts on disk, `file:PATH`: an outcomes CSV, a person-level
    /// extract (CSV, Parquet, JSON lines), or a folder of them.
    File(PathBuf),
    /// STAR's Jobindsats API, configured under `[jobindsats]`.
    Jobindsats,
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
    #[error("{path}: rejected before anything of it was kept: {reason}")]
    Unclassified { path: PathBuf, reason: String },
    #[error(
        "a file extract holds the quarters it holds: give one --period to check it against, or none"
    )]
    FileRange,
    #[error("no Jobindsats key: set the environment variable {env} (a key is issued by STAR on request), or name a file holding it with token_file under [jobindsats] in praktik.toml", env = jobindsats::TOKEN_ENV)]
    NoToken,
    #[error("cannot read the Jobindsats key from the token_file {path}")]
    TokenFile {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("the Jobindsats key holds characters that cannot be sent in a header; check {env} or the token_file", env = jobindsats::TOKEN_ENV)]
    BadToken,
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error("the Jobindsats API refused the key (HTTP {status}) at {url}: it is wrong or has expired. The key comes from the environment variable {env} or the token_file under [jobindsats]; ask STAR for a new one if it has expired", env = jobindsats::TOKEN_ENV)]
    Unauthorized { url: String, status: u16 },
    #[error(
        "the Jobindsats API cannot serve {url} (HTTP 422): {cause} (request id {request_id}); check table, period and the [jobindsats] settings"
    )]
    Unprocessable {
        url: String,
        cause: String,
        request_id: String,
    },
    #[error("the Jobindsats API answered {url} with HTTP {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error(
        "gave up on {url} after {attempts} attempts; the last failed with: {last}. The API may be down: try again later"
    )]
    GaveUp {
        url: String,
        attempts: u32,
        last: String,
    },
    #[error("cannot read the table's periods from {url}: {detail}")]
    Metadata { url: String, detail: String },
    #[error("the Jobindsats table {table} lists no quarters")]
    NothingListed { table: String },
    #[error("the Jobindsats table {table} does not list {period}; it has {first} to {last}")]
    NotListed {
        table: String,
        period: Period,
        first: Period,
        last: Period,
    },
}

/// Why a text names no source.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{0}` is not a source: use `demo`, `jobindsats` or `file:PATH` (an outcomes CSV)")]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "demo" => Ok(Source::Demo),
            "jobindsats" => Ok(Source::Jobindsats),
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
            Source::Jobindsats => f.write_str("jobindsats"),
        }
    }
}

crate::deserialize_from_str!(Source);

impl Source {
    /// The name stored in the `source` provenance column.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Demo => "demo",
            Source::File(_) => "file",
            Source::Jobindsats => "jobindsats",
        }
    }

    /// The bodies for the wanted quarters, exactly as the source gives them.
    /// `stored` is what the store holds already (a source that can list its
    /// quarters fetches only what is new, plus what it may have revised).
    pub async fn pull(
        &self,
        wanted: &Wanted,
        stored: &BTreeSet<Period>,
        jobindsats: &jobindsats::Settings,
    ) -> Result<Vec<Extract>, PullError> {
        match self {
            Source::Demo => demo_extracts(wanted),
            Source::File(path) => file::pull(path, wanted),
            Source::Jobindsats => jobindsats::pull(jobindsats, wanted, stored).await,
        }
    }
}

fn demo_extracts(wanted: &Wanted) -> Result<Vec<Extract>, PullError> {
    let (first, last) = (demo::first_period(), demo::last_period());
    let periods: Vec<Period> = match wanted {
        Wanted::All => first.through(last).collect(),
        Wanted::Periods(list) => list.clone(),
    };
    if let Some(&period) = periods.iter().find(|p| **p < first || **p > last) {
        return Err(PullError::NotOffered {
            source_name: "demo".into(),
            period,
            first,
            last,
        });
    }
    // Each quarter is generated from its own seeds, on a thread per core.
    Ok(crate::parallel::map_in_order(periods, demo_quarter)
        .into_iter()
        .flatten()
        .collect())
}

/// The demo's extracts for one quarter: the outcomes, and the person-level
/// internships for the quarters that have them.
fn demo_quarter(period: Period) -> Vec<Extract> {
    let mut extracts = vec![Extract::new(
        "demo",
        format!("demo extract {period}"),
        Format::OutcomesCsv,
        demo::extract_csv(period),
        Some(period),
    )];
    let people = demo_internships::first_period()..=demo_internships::last_period();
    if people.contains(&period) {
        extracts.push(Extract::new(
            "demo",
            format!("demo person-level extract {period}"),
            Format::InternshipsCsv,
            demo_internships::extract_csv(period),
            Some(period),
        ));
    }
    extracts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Body;

    fn bytes(extract: &Extract) -> &[u8] {
        match &extract.body {
            Body::Bytes(bytes) => bytes,
            Body::File(path) => panic!("a demo body in a file: {}", path.display()),
        }
    }

    /// The quarters are generated on several threads; what comes out is in
    /// quarter order and byte for byte what each quarter gives alone.
    #[test]
    fn the_demo_quarters_come_in_order_and_as_each_alone() {
        let all = demo_extracts(&Wanted::All).unwrap();
        let alone: Vec<Extract> = demo::first_period()
            .through(demo::last_period())
            .flat_map(demo_quarter)
            .collect();
        assert_eq!(all.len(), 36 + 21);
        assert_eq!(all.len(), alone.len());
        for (a, b) in all.iter().zip(&alone) {
            assert_eq!(a.input, b.input);
            assert!(bytes(a) == bytes(b), "{}", a.input);
        }
        let asked = [Period::new(2024, 4).unwrap(), Period::new(2016, 1).unwrap()];
        let some = demo_extracts(&Wanted::Periods(asked.to_vec())).unwrap();
        let inputs: Vec<&str> = some.iter().map(|e| e.input.as_str()).collect();
        assert_eq!(
            inputs,
            [
                "demo extract 2024Q4",
                "demo person-level extract 2024Q4",
                "demo extract 2016Q1"
            ]
        );
    }

    /// The demo is the same bytes from one version of praktik to the next
    /// (its figures are in the README, the tests and stores made before):
    /// a change of the generator's code must not change what it writes.
    #[test]
    fn the_demo_writes_the_bytes_it_always_wrote() {
        use sha2::{Digest, Sha256};
        let sha256 = |extract: &Extract| hex::encode(Sha256::digest(bytes(extract)));
        let letter = demo_quarter(Period::new(2019, 3).unwrap());
        assert_eq!(
            sha256(&letter[0]),
            "9a9edd9cbea4a9ed356d6c19c1572683ec2166c3dc499ca1e825187dac5e15de"
        );
        let last = demo_quarter(Period::new(2024, 4).unwrap());
        assert_eq!(
            sha256(&last[1]),
            "e7bdd82546857b6a7c5994b2b9793872a05401a8cec2d4d450b51bb309cce7de"
        );
    }
}
