//! What the store holds: quarters, where each came from, table versions and
//! the last commits.

use serde::Serialize;

use crate::Error;
use crate::config::Config;
use crate::engine::{Engine, Params};
use crate::report::rows::{ints, strings};
use crate::schema::{INTERNSHIPS, OUTCOMES};
use crate::store::{Commit, Store};

#[derive(Debug, Clone, Serialize)]
pub struct StoredPeriod {
    pub period: String,
    pub source: String,
    pub extract_sha256: String,
    /// Microseconds since the epoch.
    pub pulled_at: Option<i64>,
    pub rows: i64,
}

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
}

#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    pub version: u64,
    pub periods: Vec<StoredPeriod>,
}

/// The rows of a `stored_*extracts` query.
async fn stored_periods(engine: &Engine, q: &str) -> Result<Vec<StoredPeriod>, Error> {
    let batches = engine.named(q, &Params::new()).await?;
    let p = strings(&batches, q, "period")?;
    let s = strings(&batches, q, "source")?;
    let h = strings(&batches, q, "extract_sha256")?;
    let t = ints(&batches, q, "pulled_at")?;
    let n = ints(&batches, q, "row_count")?;
    Ok((0..p.len())
        .map(|i| StoredPeriod {
            period: p[i].clone().unwrap_or_default(),
            source: s[i].clone().unwrap_or_default(),
            extract_sha256: h[i].clone().unwrap_or_default(),
            pulled_at: t[i],
            rows: n[i].unwrap_or_default(),
        })
        .collect())
}

pub async fn status(config: &Config) -> Result<Status, Error> {
    let store = Store::open(&config.store)?;
    let engine = Engine::open(&store, None).await?;
    let version = engine.versions().get(OUTCOMES).copied();
    let periods = if version.is_some() {
        stored_periods(&engine, "stored_extracts").await?
    } else {
        Vec::new()
    };
    let commits = store.history(OUTCOMES, Some(10)).await?;
    let internships = match engine.versions().get(INTERNSHIPS) {
        Some(version) => Some(TableSummary {
            version: *version,
            periods: stored_periods(&engine, "stored_internship_extracts").await?,
        }),
        None => None,
    };
    Ok(Status {
        store: store.root().display().to_string(),
        table: OUTCOMES.into(),
        version,
        periods,
        commits,
        internships,
    })
}
