//! What the store holds: quarters, where each came from, table versions and
//! the last commits.

use serde::Serialize;

use crate::Error;
use crate::config::Config;
use crate::engine::{Engine, Params};
use crate::report::rows::{ints, strings};
use crate::schema::OUTCOMES;
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
}

pub async fn status(config: &Config) -> Result<Status, Error> {
    let store = Store::open(&config.store)?;
    let engine = Engine::open(&store, None).await?;
    let version = engine.versions().get(OUTCOMES).copied();
    let mut periods = Vec::new();
    if version.is_some() {
        let q = "stored_extracts";
        let batches = engine.named(q, &Params::new()).await?;
        let p = strings(&batches, q, "period")?;
        let s = strings(&batches, q, "source")?;
        let h = strings(&batches, q, "extract_sha256")?;
        let t = ints(&batches, q, "pulled_at")?;
        let n = ints(&batches, q, "row_count")?;
        for i in 0..p.len() {
            periods.push(StoredPeriod {
                period: p[i].clone().unwrap_or_default(),
                source: s[i].clone().unwrap_or_default(),
                extract_sha256: h[i].clone().unwrap_or_default(),
                pulled_at: t[i],
                rows: n[i].unwrap_or_default(),
            });
        }
    }
    let commits = store.history(OUTCOMES, Some(10)).await?;
    Ok(Status {
        store: store.root().display().to_string(),
        table: OUTCOMES.into(),
        version,
        periods,
        commits,
    })
}
