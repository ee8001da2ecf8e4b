//! Report definitions: TOML files in `reports/` saying which template to
//! render, for which quarter, area and comparison set, with the human-written
//! text of a letter.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;

use super::ReportError;
use crate::area::AreaCode;
use crate::benefit::BenefitGroup;
use crate::period::Period;

/// The definitions shipped in the binary, used when there is no `reports/` folder.
const BUILTIN: [(&str, &str); 3] = [
    ("briefing", include_str!("../../reports/briefing.toml")),
    ("letter", include_str!("../../reports/letter.toml")),
    (
        "type-effects",
        include_str!("../../reports/type-effects.toml"),
    ),
];

/// Which quarter a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodChoice {
    /// The newest quarter in the store.
    Latest,
    Fixed(Period),
}

impl<'de> serde::Deserialize<'de> for PeriodChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "latest" {
            return Ok(PeriodChoice::Latest);
        }
        Period::from_str(&text)
            .map(PeriodChoice::Fixed)
            .map_err(|e| serde::de::Error::custom(format!("{e}, or `latest`")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Letter,
    TypeEffects,
    Briefing,
}

impl Template {
    pub fn name(self) -> &'static str {
        match self {
            Template::Letter => "letter",
            Template::TypeEffects => "type_effects",
            Template::Briefing => "briefing",
        }
    }
}

/// A block of human-written text: a paragraph or a bullet list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Block {
    Paragraph { text: String },
    Bullets { bullets: Vec<String> },
}

/// One report definition.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// The file name without `.toml`; set when loading.
    #[serde(skip)]
    pub name: String,
    pub template: Template,
    /// The heading; a briefing takes its own from the catalogue when none is given.
    #[serde(default)]
    pub title: Option<String>,
    /// The language, where the template has catalogues (briefings): `da`, `en`.
    #[serde(default)]
    pub lang: Option<String>,
    pub period: PeriodChoice,
    /// The area the report is about.
    pub area: AreaCode,
    /// The comparison set, in the order the table shows it (letters).
    #[serde(default)]
    pub comparison: Vec<AreaCode>,
    /// The comparison set as prose; `{n}` becomes its size (letters).
    #[serde(default)]
    pub comparison_phrase: String,
    /// The benefit groups, in the order the table shows them (letters).
    #[serde(default)]
    pub groups: Vec<BenefitGroup>,
    /// The human-written text of an answer letter.
    pub letter: Option<LetterText>,
    /// Human-written paragraphs before the figures (type-effects reports).
    #[serde(default)]
    pub intro: Vec<Block>,
    /// What a briefing shows and checks.
    #[serde(default)]
    pub briefing: BriefingSettings,
}

/// The `[briefing]` section of a briefing definition.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BriefingSettings {
    /// How many quarters the trend charts show, ending with the briefing's.
    pub trend_quarters: u16,
    pub checks: Checks,
}

impl Default for BriefingSettings {
    fn default() -> Self {
        BriefingSettings {
            trend_quarters: 8,
            checks: Checks::default(),
        }
    }
}

/// What a failed data check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckLevel {
    /// Nothing is rendered; the last good briefing stays.
    Block,
    /// The briefing says so in its notes.
    Note,
    Off,
}

/// The data checks a briefing makes before it renders, `[briefing.checks]`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    /// Every municipality present for the quarter.
    pub municipalities: CheckLevel,
    /// The whole country's row present.
    pub country_row: CheckLevel,
    /// The country's share within `country_mean_tolerance` points of the
    /// ended-weighted mean of its municipalities.
    pub country_mean: CheckLevel,
    pub country_mean_tolerance: f64,
    /// No share outside 0–100.
    pub share_range: CheckLevel,
    /// No change larger than `jump_points` since the quarter before.
    pub jump: CheckLevel,
    pub jump_points: f64,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            municipalities: CheckLevel::Note,
            country_row: CheckLevel::Block,
            country_mean: CheckLevel::Block,
            country_mean_tolerance: 0.5,
            share_range: CheckLevel::Block,
            jump: CheckLevel::Note,
            jump_points: 10.0,
        }
    }
}

/// The human-written parts of an answer letter.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LetterText {
    pub recipient: Vec<String>,
    pub email: Option<String>,
    pub salutation: String,
    pub inquiry_date: NaiveDate,
    pub date: NaiveDate,
    pub case_number: String,
    pub document_number: String,
    /// The administration answering: `Beskæftigelses- og Integrationsforvaltningen`.
    pub sender: String,
    /// The sender's address column, line by line.
    pub sender_address: Vec<String>,
    pub phone: Option<String>,
    pub web: Option<String>,
    pub question: String,
    pub answer_heading: String,
    pub answer: Vec<Block>,
    pub data_heading: String,
    pub data_intro: String,
    /// The table's caption before the quarter: the quarter is added from data.
    pub caption: String,
    pub after: Vec<Block>,
    pub closing: String,
    pub signer: String,
    pub signer_title: String,
}

impl Definition {
    fn parse(name: &str, text: &str, origin: &Path) -> Result<Definition, ReportError> {
        let mut definition: Definition =
            toml::from_str(text).map_err(|cause| ReportError::Definition {
                path: origin.to_path_buf(),
                cause: Box::new(cause),
            })?;
        definition.name = name.to_string();
        let letter_incomplete = definition.template == Template::Letter
            && (definition.groups.is_empty()
                || definition.comparison.is_empty()
                || definition.letter.is_none()
                || definition.title.is_none());
        let briefing_incomplete = definition.template == Template::Briefing
            && (definition.groups.is_empty() || definition.comparison.is_empty());
        if letter_incomplete || briefing_incomplete {
            return Err(ReportError::EmptyDefinition {
                path: origin.to_path_buf(),
            });
        }
        Ok(definition)
    }
}

/// The definitions in `dir` if it exists, else the built-in ones; sorted by name.
pub fn load_all(dir: &Path) -> Result<Vec<Definition>, ReportError> {
    if !dir.is_dir() {
        return BUILTIN
            .iter()
            .map(|(name, text)| {
                Definition::parse(
                    name,
                    text,
                    &PathBuf::from(format!("(built in) reports/{name}.toml")),
                )
            })
            .collect();
    }
    let read_dir = |cause| ReportError::ReadDefinitions {
        path: dir.to_path_buf(),
        cause,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(path).map_err(|cause| ReportError::ReadDefinitions {
                    path: path.clone(),
                    cause,
                })?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            Definition::parse(name, &text, path)
        })
        .collect()
}

/// One definition by name.
pub fn load(dir: &Path, name: &str) -> Result<Definition, ReportError> {
    let all = load_all(dir)?;
    let known: Vec<String> = all.iter().map(|d| d.name.clone()).collect();
    all.into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| ReportError::UnknownReport {
            name: name.into(),
            known: known.join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_letter_parses() {
        let all = load_all(Path::new("/nonexistent")).unwrap();
        assert_eq!(all[1].name, "letter");
        assert_eq!(
            all[1].period,
            PeriodChoice::Fixed("2019Q3".parse().unwrap())
        );
        assert_eq!(all[1].comparison.len(), 6);
        assert_eq!(all[0].template, Template::Briefing);
        assert_eq!(all[0].briefing.trend_quarters, 8);
    }

    #[test]
    fn a_typo_in_a_definition_is_an_error() {
        let text = BUILTIN[1].1.replace("salutation", "salutaton");
        let err = Definition::parse("x", &text, Path::new("reports/x.toml")).unwrap_err();
        let shown = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(
            shown.contains("reports/x.toml") && shown.contains("salutaton"),
            "{shown}"
        );
    }
}
