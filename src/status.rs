//! What the store holds: quarters, where each came from, table versions and
//! the last commits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::Error;
use crate::config::Config;
use crate::engine::{Engine, Params};
pub use crate::report::provenance::StoredPeriod;
use crate::report::provenance::stored_periods;
use crate::report::rows::strings;
use crate::schema::{INTERNSHIPS, OUTCOMES, RUNS};
use crate::source::{Source, demo};
use crate::store::{Commit, Store};

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub store: String,
    pub table: String,
    pub version: Option<u64>,
    pub periods: Vec<StoredPeriod>,
    /// Newest first.
    pub commits: Vec<Commit>,
    /// The person-level table: its version and the quarters it holds.
    pub internships: Option<TableSummary>,
    /// The last runs and pulls, newest first.
    pub runs: Vec<RunLine>,
    /// What is out of date, each in a sentence that says what to do.
    pub stale: Vec<String>,
}

/// One row of the run ledger.
#[derive(Debug, Clone, Serialize)]
pub struct RunLine {
    pub started_at: String,
    pub command: String,
    pub source: String,
    pub outcome: String,
    pub versions: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    pub version: u64,
    pub periods: Vec<StoredPeriod>,
}

pub async fn status(config: &Config) -> Result<Status, Error> {
    let store = Store::open_for(config)?;
    let engine = Engine::open(&store, None).await?;
    let version = engine.versions().get(OUTCOMES).copied();
    let periods = if version.is_some() {
        stored_periods(&engine, OUTCOMES).await?
    } else {
        Vec::new()
    };
    let commits = store.history(OUTCOMES, Some(10)).await?;
    let internships = match engine.versions().get(INTERNSHIPS) {
        Some(version) => Some(TableSummary {
            version: *version,
            periods: stored_periods(&engine, INTERNSHIPS).await?,
        }),
        None => None,
    };
    let runs = last_runs(&engine).await?;
    let mut stale = missing_from_source(config, &periods);
    // A source that lists its quarters over the network is not asked here;
    // the ledger says whether the last pull of it got everything.
    if let Some(last) = runs.first().filter(|r| r.outcome != "ok") {
        stale.push(format!(
            "the last {} ({}, source {}) failed, so the store may lack quarters the source lists: see its error above, then run `praktik run`",
            last.command, last.started_at, last.source
        ));
    }
    stale.extend(reports_older_than_their_data(
        &config.out,
        periods
            .iter()
            .chain(internships.iter().flat_map(|t| &t.periods)),
    ));
    Ok(Status {
        store: store.to_string(),
        table: OUTCOMES.into(),
        version,
        periods,
        commits,
        internships,
        runs,
        stale,
    })
}

async fn last_runs(engine: &Engine) -> Result<Vec<RunLine>, Error> {
    let query = "last_runs";
    if engine.context().table_exist(RUNS).unwrap_or(false) {
        let batches = engine.named(query, &Params::new().with("count", 5)).await?;
        let text = |column| strings(&batches, query, column);
        let (started, command, source, outcome, versions, error) = (
            text("started_at")?,
            text("command")?,
            text("source")?,
            text("outcome")?,
            text("versions")?,
            text("error")?,
        );
        return Ok((0..started.len())
            .map(|i| RunLine {
                started_at: started[i].clone().unwrap_or_default(),
                command: command[i].clone().unwrap_or_default(),
                source: source[i].clone().unwrap_or_default(),
                outcome: outcome[i].clone().unwrap_or_default(),
                versions: versions[i].clone(),
                error: error[i].clone(),
            })
            .collect());
    }
    Ok(Vec::new())
}

/// Quarters the configured source offers that the store lacks, where that
/// can be told without asking the source over the network.
fn missing_from_source(config: &Config, stored: &[StoredPeriod]) -> Vec<String> {
    match &config.source {
        Source::Demo => {
            let held: BTreeSet<&str> = stored.iter().map(|p| p.period.as_str()).collect();
            let missing: Vec<String> = demo::first_period()
                .through(demo::last_period())
                .map(|p| p.to_string())
                .filter(|p| !held.contains(p.as_str()))
                .collect();
            if missing.is_empty() {
                Vec::new()
            } else {
                vec![format!(
                    "the demo source offers {} quarter(s) the store lacks ({}–{}): run `praktik run`",
                    missing.len(),
                    missing[0],
                    missing[missing.len() - 1]
                )]
            }
        }
        Source::File(_) | Source::Jobindsats => Vec::new(),
    }
}

/// Reports written before the data of their quarter was last pulled.
fn reports_older_than_their_data<'a>(
    out: &Path,
    periods: impl Iterator<Item = &'a StoredPeriod>,
) -> Vec<String> {
    let mut pulled: BTreeMap<&str, i64> = BTreeMap::new();
    for p in periods {
        let at = pulled.entry(p.period.as_str()).or_default();
        *at = (*at).max(p.pulled_at.unwrap_or_default());
    }
    let mut stale = Vec::new();
    for (period, pulled_at) in pulled {
        let Ok(entries) = std::fs::read_dir(out.join("reports").join(period)) else {
            continue;
        };
        for entry in entries.flatten() {
            let written = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_micros() as i64);
            if written < pulled_at {
                stale.push(format!(
                    "{} is older than the data of {period}: render it again (`praktik run`, or `praktik report NAME --period {period}`)",
                    entry.path().display()
                ));
            }
        }
    }
    stale
}
