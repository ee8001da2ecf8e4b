//! What the store holds: quarters, where each came from, table versions and
//! the last commits.

use serde::Serialize;

use crate::Error;
use crate::config::Config;
use crate::engine::Engine;
pub use crate::report::provenance::StoredPeriod;
use crate::report::provenance::stored_periods;
use crate::schema::{INTERNSHIPS, OUTCOMES};
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
}

#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    pub version: u64,
    pub periods: Vec<StoredPeriod>,
}

pub async fn status(config: &Config) -> Result<Status, Error> {
    let store = Store::open(&config.store)?;
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
    Ok(Status {
        store: store.root().display().to_string(),
        table: OUTCOMES.into(),
        version,
        periods,
        commits,
        internships,
    })
}
