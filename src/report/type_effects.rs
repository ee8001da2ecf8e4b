//! The per-type report: what each internship type achieves against its own
//! purpose, from person-level data through `sql/effect_by_type.sql`.

use arrow::record_batch::RecordBatch;
use serde::Serialize;

use super::definition::{Block, Definition};
use super::format;
use super::provenance::{Provenance, provenance};
use super::rows::{floats, ints, strings};
use super::type_narrative::{self, TypeShare};
use super::{MIN_PEOPLE, ReportError};
use crate::area::COUNTRY_CODE;
use crate::engine::{Engine, Params};
use crate::internship::InternshipType;
use crate::period::Period;
use crate::schema::INTERNSHIPS;

const QUERY: &str = "effect_by_type";
const MEASURES: [(&str, &str); 4] = [
    ("3m", "Arbejde/uddannelse efter 3 mdr."),
    ("6m", "Arbejde/uddannelse efter 6 mdr."),
    ("12m", "Arbejde/uddannelse efter 12 mdr."),
    ("purpose", "Typens eget formål"),
];

/// One row of `effect_by_type.sql`.
pub(crate) struct EffectTypeRow {
    kind: String,
    group: String,
    measure: String,
    pub internships: Option<i64>,
    /// Share, low and high of the 95 % interval; `None` when suppressed.
    pub share: Option<(f64, f64, f64)>,
}

/// The rows of `effect_by_type.sql`'s result.
pub(crate) fn type_rows_of(batches: &[RecordBatch]) -> Result<Vec<EffectTypeRow>, ReportError> {
    let kinds = strings(batches, QUERY, "internship_type")?;
    let groups = strings(batches, QUERY, "benefit_group")?;
    let measures = strings(batches, QUERY, "measure")?;
    let counts = ints(batches, QUERY, "internships")?;
    let shares = floats(batches, QUERY, "share_pct")?;
    let lows = floats(batches, QUERY, "low_pct")?;
    let highs = floats(batches, QUERY, "high_pct")?;
    let suppressed = strings(batches, QUERY, "suppressed")?;
    Ok((0..kinds.len())
        .map(|i| EffectTypeRow {
            kind: kinds[i].clone().unwrap_or_default(),
            group: groups[i].clone().unwrap_or_default(),
            measure: measures[i].clone().unwrap_or_default(),
            internships: counts[i],
            share: match (suppressed[i].as_deref(), shares[i], lows[i], highs[i]) {
                (Some("false"), Some(s), Some(l), Some(h)) => Some((s, l, h)),
                _ => None,
            },
        })
        .collect())
}

/// The row of all benefit groups together for `kind` and `measure`.
pub(crate) fn all_groups<'a>(
    rows: &'a [EffectTypeRow],
    kind: InternshipType,
    measure: &str,
) -> Option<&'a EffectTypeRow> {
    rows.iter()
        .find(|r| r.kind == kind.code() && r.group == "alle" && r.measure == measure)
}

/// The `$municipality` of `effect_by_type.sql` for an area: its code, or `*`
/// for the whole country.
pub(crate) fn municipality_param(area: &crate::area::Area) -> String {
    if area.code == COUNTRY_CODE {
        "*".to_string()
    } else {
        area.code.clone()
    }
}

#[derive(Debug, Serialize)]
struct TypeRow {
    name: String,
    purpose: String,
    internships: String,
    cells: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct TypeEffectsContext {
    title: String,
    pub demo: bool,
    area: String,
    period: String,
    intro: Vec<Block>,
    headers: Vec<String>,
    rows: Vec<TypeRow>,
    comparisons: Vec<String>,
    purposes: Vec<String>,
    footnotes: Vec<String>,
    provenance: Provenance,
    provenance_line: String,
}

fn name(kind: &str) -> String {
    let mut chars = kind.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

fn purpose_measure(kind: InternshipType) -> &'static str {
    match kind {
        InternshipType::Jobpraktik => "i arbejde eller uddannelse efter 3 måneder",
        InternshipType::Udviklingspraktik => {
            "afklaret til arbejde, uddannelse, fleksjob eller førtidspension efter 6 måneder"
        }
        InternshipType::Kompetencepraktik => "i arbejde eller uddannelse efter 12 måneder",
    }
}

pub async fn context(
    engine: &Engine,
    definition: &Definition,
    period: Period,
) -> Result<TypeEffectsContext, ReportError> {
    if !engine.versions().contains_key(INTERNSHIPS) {
        return Err(ReportError::NoPersonData { period });
    }
    let area = definition.area.area();
    let params = Params::new()
        .with("period", period)
        .with("municipality", municipality_param(area));
    let rows = type_rows_of(&engine.named_once(QUERY, &params).await?)?;
    if rows.is_empty() {
        return Err(ReportError::NoPersonData { period });
    }
    let find = |kind: InternshipType, measure: &str| all_groups(&rows, kind, measure);

    let mut hidden = false;
    let mut table = Vec::new();
    let mut purposes = Vec::new();
    let mut firsts = Vec::new();
    for kind in InternshipType::ALL {
        let Some(first) = find(kind, "3m") else {
            continue;
        };
        let cells = MEASURES
            .iter()
            .map(
                |(measure, _)| match find(kind, measure).and_then(|r| r.share) {
                    Some((s, l, h)) => format!(
                        "{} ({}–{})",
                        format::decimal(s, 1),
                        format::decimal(l, 1),
                        format::decimal(h, 1)
                    ),
                    None => {
                        hidden = true;
                        "–¹".to_string()
                    }
                },
            )
            .collect();
        table.push(TypeRow {
            name: name(kind.code()),
            purpose: kind.purpose().to_string(),
            internships: first.internships.map_or_else(
                || {
                    hidden = true;
                    "–¹".to_string()
                },
                format::count,
            ),
            cells,
        });
        purposes.push(type_narrative::purpose_sentence(
            &name(kind.code()),
            purpose_measure(kind),
            find(kind, "purpose").and_then(|r| r.share),
        ));
        firsts.push(TypeShare {
            name: name(kind.code()),
            share: first.share,
        });
    }
    let comparisons =
        type_narrative::comparisons(&firsts, "i arbejde eller uddannelse efter 3 måneder");
    let mut footnotes =
        vec!["Tallene i parentes er 95 %-konfidensintervaller (Wilson).".to_string()];
    if hidden {
        footnotes.push(format!(
            "¹ Færre end {MIN_PEOPLE} forløb med kendt status; tallet vises ikke."
        ));
    }

    let provenance = provenance(engine, INTERNSHIPS, period)
        .await?
        .ok_or(ReportError::NoPersonData { period })?;
    Ok(TypeEffectsContext {
        title: definition.title.clone().unwrap_or_default(),
        demo: provenance.demo,
        area: area.name.clone(),
        period: period.danish(),
        intro: definition.intro.clone(),
        headers: MEASURES.iter().map(|(_, h)| h.to_string()).collect(),
        rows: table,
        comparisons,
        purposes,
        footnotes,
        provenance_line: provenance.line(&super::catalogue::Catalogue::load("da")?),
        provenance,
    })
}
