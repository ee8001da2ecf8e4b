//! How to read STAR's Jobindsats API: base URL, API version, table, which
//! columns carry what, and how the API's labels map to our benefit groups and
//! areas. All of it lives under `[jobindsats]` in `praktik.toml`, with
//! defaults a user only has to check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::area::AreaCode;
use crate::benefit::BenefitGroup;

/// The environment variable holding the API key.
pub const TOKEN_ENV: &str = "JOBINDSATS_TOKEN";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// `GET /v3/data/{table}?…&format=json`, `Authorization: Bearer <token>`.
    V3,
    /// `POST /v2/data/{table}/json`, `Authorization: <key>`.
    V2,
}

/// What to do with a row whose area name the map does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownAreas {
    /// Reject the extract, naming the area (the default).
    Error,
    /// Leave the row out and log a warning naming it.
    Skip,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Base URL; `PRAKTIK_JOBINDSATS_URL` overrides it.
    pub url: String,
    pub api: ApiVersion,
    /// The table whose measures carry the outcome.
    pub table: String,
    /// A file holding the key, if not given in `JOBINDSATS_TOKEN`.
    pub token_file: Option<PathBuf>,
    /// Column labels (or v2 variable names) that hold the period and the area.
    pub period_columns: Vec<String>,
    pub area_columns: Vec<String>,
    /// The dimension columns whose labels, joined by " / ", name a benefit group.
    pub group_columns: Vec<String>,
    /// The measure (column label, or its end) with the number of ended internships.
    pub ended_measure: String,
    /// The measure with the share in ordinary work or education 3 months after.
    pub share_measure: String,
    /// Dimension labels joined by " / " → benefit group. Rows whose labels
    /// are not listed are left out (and counted in the log).
    pub benefit_groups: BTreeMap<String, BenefitGroup>,
    /// Area names the API uses that are not the official names → area code.
    pub areas: BTreeMap<String, AreaCode>,
    pub unknown_areas: UnknownAreas,
    /// How many of the newest quarters `run` pulls again to catch revisions.
    pub recheck_latest: usize,
    pub connect_timeout_secs: u64,
    pub timeout_secs: u64,
    /// Retries after the first attempt, on connection errors, timeouts, 429 and 5xx.
    pub retries: u32,
    /// The first wait between attempts; it doubles each time, with jitter.
    pub backoff_ms: u64,
    /// No retry starts after this long since the first attempt.
    pub max_wait_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        let groups = [
            (
                "Kontanthjælp / Jobparate mv.",
                BenefitGroup::KontanthjaelpJobparat,
            ),
            (
                "Kontanthjælp / Aktivitetsparate mv.",
                BenefitGroup::KontanthjaelpAktivitetsparat,
            ),
            ("A-dagpenge / Målgrupper i alt", BenefitGroup::Dagpenge),
            (
                "Uddannelseshjælp / Målgrupper i alt",
                BenefitGroup::Uddannelseshjaelp,
            ),
            (
                "Integrationsydelse / Målgrupper i alt",
                BenefitGroup::Integrationsydelse,
            ),
            (
                "Sygedagpenge / Målgrupper i alt",
                BenefitGroup::Sygedagpenge,
            ),
            (
                "Ressourceforløb / Målgrupper i alt",
                BenefitGroup::Ressourceforloeb,
            ),
            (
                "Ledighedsydelse / Målgrupper i alt",
                BenefitGroup::Ledighedsydelse,
            ),
            (
                "Jobafklaringsforløb / Målgrupper i alt",
                BenefitGroup::Jobafklaringsforloeb,
            ),
        ];
        Settings {
            url: "https://api.jobindsats.dk".into(),
            api: ApiVersion::V3,
            table: "Y14D03".into(),
            token_file: None,
            period_columns: vec!["Periode".into(), "period".into()],
            area_columns: vec!["Område".into(), "area".into()],
            group_columns: vec!["Ydelsesgrupper".into(), "Målgruppe".into()],
            ended_measure: "Antal afsluttede forløb".into(),
            share_measure: "I ordinær beskæftigelse eller uddannelse 3 mdr. efter (pct.)".into(),
            benefit_groups: groups
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            areas: BTreeMap::new(),
            unknown_areas: UnknownAreas::Error,
            recheck_latest: 4,
            connect_timeout_secs: 10,
            timeout_secs: 60,
            retries: 4,
            backoff_ms: 500,
            max_wait_secs: 120,
        }
    }
}

impl Settings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}
