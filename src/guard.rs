//! What a pull may not do to the store, checked before anything is
//! committed: shrink a stored quarter to less than half its rows, drop a
//! benefit group from a stored quarter, or mix demo and real figures.

use std::collections::{BTreeMap, BTreeSet};

use crate::Error;
use crate::engine::{Engine, Params};
use crate::period::Period;
use crate::report::provenance::{StoredPeriod, stored_periods};
use crate::report::rows::strings;
use crate::schema::{INTERNSHIPS, OUTCOMES};
use crate::store::Store;

/// The `source` value of demo rows.
pub const DEMO: &str = "demo";

/// What the store holds before a pull.
#[derive(Debug, Default)]
pub struct Stored {
    /// Per table and quarter: the extract it came from, its source and rows.
    pub periods: BTreeMap<&'static str, BTreeMap<Period, StoredPeriod>>,
    /// The benefit groups of each stored quarter of `outcomes`.
    pub groups: BTreeMap<Period, BTreeSet<String>>,
}

/// What a pull is about to store in one table.
#[derive(Debug, Default)]
pub struct Incoming {
    pub rows: BTreeMap<Period, usize>,
    /// Benefit groups per quarter (outcomes only).
    pub groups: BTreeMap<Period, BTreeSet<String>>,
}

impl Stored {
    pub async fn read(store: &Store) -> Result<Stored, Error> {
        let engine = Engine::open(store, None).await?;
        let mut stored = Stored::default();
        for table in [OUTCOMES, INTERNSHIPS] {
            let periods = stored_periods(&engine, table).await?;
            stored.periods.insert(
                table,
                periods
                    .into_iter()
                    .filter_map(|p| Some((p.period.parse().ok()?, p)))
                    .collect(),
            );
        }
        if engine.versions().contains_key(OUTCOMES) {
            let query = "stored_groups";
            let batches = engine.named(query, &Params::new()).await?;
            let periods = strings(&batches, query, "period")?;
            let groups = strings(&batches, query, "benefit_group")?;
            for (period, group) in periods.into_iter().zip(groups) {
                if let (Some(Ok(period)), Some(group)) = (period.map(|p| p.parse()), group) {
                    stored.groups.entry(period).or_default().insert(group);
                }
            }
        }
        Ok(stored)
    }

    /// The quarters of `table` and the extract each came from.
    pub fn hashes(&self, table: &str) -> BTreeMap<Period, &str> {
        self.periods
            .get(table)
            .into_iter()
            .flatten()
            .map(|(p, s)| (*p, s.extract_sha256.as_str()))
            .collect()
    }

    /// The sources other than the demo that the store holds rows of.
    pub fn real_sources(&self) -> BTreeSet<&str> {
        self.periods
            .values()
            .flat_map(|periods| periods.values())
            .map(|p| p.source.as_str())
            .filter(|s| *s != DEMO)
            .collect()
    }

    /// The quarters of `table` that hold demo rows.
    pub fn demo_periods(&self, table: &str) -> Vec<Period> {
        self.periods
            .get(table)
            .into_iter()
            .flatten()
            .filter(|(_, p)| p.source == DEMO)
            .map(|(period, _)| *period)
            .collect()
    }

    /// Refuse a pull that would shrink a stored quarter of `table` to less
    /// than half its rows, or drop one of its benefit groups, unless the
    /// user allows it. Demo quarters being replaced are not guarded.
    pub fn check(&self, table: &str, incoming: &Incoming, allow_shrink: bool) -> Result<(), Error> {
        if allow_shrink {
            return Ok(());
        }
        let held = self.periods.get(table);
        for (period, rows) in &incoming.rows {
            let Some(before) = held.and_then(|h| h.get(period)) else {
                continue;
            };
            if before.source == DEMO {
                continue;
            }
            if (*rows as i64) * 2 < before.rows {
                return Err(Error::Shrink {
                    table: table.to_string(),
                    period: *period,
                    before: before.rows,
                    after: *rows,
                });
            }
            if let (Some(had), Some(gets)) = (self.groups.get(period), incoming.groups.get(period))
            {
                let lost: Vec<&str> = had.difference(gets).map(String::as_str).collect();
                if !lost.is_empty() {
                    return Err(Error::LostGroups {
                        period: *period,
                        groups: lost.join(", "),
                    });
                }
            }
        }
        Ok(())
    }
}
