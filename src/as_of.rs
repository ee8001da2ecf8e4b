//! `--as-of`: which version of each store table a command reads. A bare
//! version number applies to every table (`--as-of 3`); a store of several
//! tables whose versions differ is named per table (`--as-of
//! outcomes=3,internships=5`, the others at their newest); a moment applies
//! to each table as it was then (`--as-of 2026-11-29T06:00:00Z`, or a date:
//! the end of that day, UTC).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

use crate::schema::{INTERNSHIPS, OUTCOMES};

/// Which version of each store table to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AsOf {
    #[default]
    Newest,
    /// One version number for every table.
    Version(u64),
    /// A version per named table; the others at their newest.
    Tables(BTreeMap<String, u64>),
    /// Each table as it was at this moment.
    At(DateTime<Utc>),
}

#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "`{0}` is not an --as-of: give a version (3), versions per table (outcomes=3,internships=5), or a time (2026-11-29T06:00:00Z or 2026-11-29)"
)]
pub struct BadAsOf(pub String);

impl AsOf {
    /// A version number, as commands took it before tables could be named.
    pub fn from_version(version: Option<u64>) -> AsOf {
        version.map_or(AsOf::Newest, AsOf::Version)
    }

    /// `--as-of outcomes=3`: one table at one version.
    pub fn table(table: &str, version: u64) -> AsOf {
        AsOf::Tables(BTreeMap::from([(table.to_string(), version)]))
    }
}

impl FromStr for AsOf {
    type Err = BadAsOf;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let bad = || BadAsOf(text.to_string());
        if let Ok(version) = text.parse::<u64>() {
            return Ok(AsOf::Version(version));
        }
        if text.contains('=') {
            let mut tables = BTreeMap::new();
            for part in text.split(',') {
                let (table, version) = part.split_once('=').ok_or_else(bad)?;
                let table = table.trim();
                if ![OUTCOMES, INTERNSHIPS].contains(&table) {
                    return Err(bad());
                }
                tables.insert(
                    table.to_string(),
                    version.trim().parse().map_err(|_| bad())?,
                );
            }
            return Ok(AsOf::Tables(tables));
        }
        if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
            return Ok(AsOf::At(moment.with_timezone(&Utc)));
        }
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let end = day.and_hms_opt(23, 59, 59).ok_or_else(bad)?;
            return Ok(AsOf::At(end.and_utc()));
        }
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses() {
        assert_eq!("3".parse::<AsOf>().unwrap(), AsOf::Version(3));
        assert_eq!(
            "outcomes=3, internships=5".parse::<AsOf>().unwrap(),
            AsOf::Tables(BTreeMap::from([
                ("internships".to_string(), 5),
                ("outcomes".to_string(), 3)
            ]))
        );
        let AsOf::At(at) = "2026-11-29".parse::<AsOf>().unwrap() else {
            panic!("a date")
        };
        assert_eq!(at.to_rfc3339(), "2026-11-29T23:59:59+00:00");
        assert!(matches!(
            "2026-11-29T06:00:00Z".parse::<AsOf>(),
            Ok(AsOf::At(_))
        ));
        for bad in ["outcome=3", "outcomes=x", "yesterday", "-1"] {
            let err = bad.parse::<AsOf>().unwrap_err().to_string();
            assert!(err.contains("outcomes=3,internships=5"), "{err}");
        }
    }
}
