//! Where stored figures came from: the extract each stored quarter of a
//! table was pulled from (`sql/stored_extracts.sql`,
//! `sql/stored_internship_extracts.sql`), and the provenance line every
//! report ends with.

use serde::Serialize;

use super::ReportError;
use super::catalogue::Catalogue;
use super::format;
use super::rows::{ints, strings};
use crate::engine::{Engine, Params};
use crate::period::Period;
use crate::schema::INTERNSHIPS;

/// The named query that lists a table's stored extracts.
pub fn stored_extracts_query(table: &str) -> &'static str {
    if table == INTERNSHIPS {
        "stored_internship_extracts"
    } else {
        "stored_extracts"
    }
}

/// One stored quarter of a table and the extract it came from.
#[derive(Debug, Clone, Serialize)]
pub struct StoredPeriod {
    pub period: String,
    pub source: String,
    pub extract_sha256: String,
    /// Microseconds since the epoch.
    pub pulled_at: Option<i64>,
    pub rows: i64,
}

/// Every stored quarter of `table`, oldest first; empty if the table does not exist.
pub async fn stored_periods(
    engine: &Engine,
    table: &str,
) -> Result<Vec<StoredPeriod>, ReportError> {
    if !engine.versions().contains_key(table) {
        return Ok(Vec::new());
    }
    let q = stored_extracts_query(table);
    let batches = engine.named_once(q, &Params::new()).await?;
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

/// Where the figures came from: printed at the end of every report.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub period: String,
    pub sources: String,
    pub pulled_at: String,
    pub extract_sha256: String,
    pub store_version: String,
    pub tool_version: String,
    /// True when the figures are the demo source's.
    pub demo: bool,
    /// When the newest extract was pulled, microseconds since the epoch.
    #[serde(skip)]
    pub pulled_at_micros: Option<i64>,
}

impl Provenance {
    /// The line every report ends with, in the catalogue's language.
    pub fn line(&self, t: &Catalogue) -> String {
        let pulled_at = self
            .pulled_at_micros
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map(|at| t.timestamp(at))
            .unwrap_or_default();
        let mut line = t.fill(
            "provenance.line",
            &[
                ("sources", &self.sources),
                ("pulled_at", &pulled_at),
                ("version", &self.store_version),
                ("sha", &self.extract_sha256),
                ("tool", &self.tool_version),
            ],
        );
        if self.demo {
            line.push(' ');
            line.push_str(&t.text("provenance.demo"));
        }
        line
    }
}

/// The provenance of `table` in `period`; `None` if the store lacks the quarter.
pub async fn provenance(
    engine: &Engine,
    table: &str,
    period: Period,
) -> Result<Option<Provenance>, ReportError> {
    let stored = stored_periods(engine, table).await?;
    Ok(provenance_of(engine, table, period, &stored))
}

/// The provenance of `table` in `period` from its stored quarters, as
/// [`stored_periods`] lists them.
pub fn provenance_of(
    engine: &Engine,
    table: &str,
    period: Period,
    stored: &[StoredPeriod],
) -> Option<Provenance> {
    let wanted = period.to_string();
    let mine: Vec<&StoredPeriod> = stored.iter().filter(|p| p.period == wanted).collect();
    if mine.is_empty() {
        return None;
    }
    let mut sources: Vec<String> = mine.iter().map(|p| p.source.clone()).collect();
    sources.dedup();
    let newest_micros = mine.iter().filter_map(|p| p.pulled_at).max();
    let newest = newest_micros.and_then(chrono::DateTime::from_timestamp_micros);
    Some(Provenance {
        period: wanted,
        demo: sources.iter().any(|s| s == "demo"),
        sources: sources.join(", "),
        pulled_at: newest.map(format::timestamp).unwrap_or_default(),
        extract_sha256: mine
            .iter()
            .map(|p| p.extract_sha256.clone())
            .collect::<Vec<_>>()
            .join(", "),
        store_version: engine
            .versions()
            .get(table)
            .map(u64::to_string)
            .unwrap_or_default(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        pulled_at_micros: newest_micros,
    })
}
