//! The quarterly council briefing: this quarter's figures for every benefit
//! group, a summary written from them, the trend of the last quarters as
//! charts, the per-type effects when person-level data exist, the notes a
//! careful analyst would add, and where every figure came from. All figures
//! come from the store through the named queries in `sql/`; all words from
//! the catalogue of the briefing's language.

mod checks;

mod revisions;
pub mod summary;
mod table;
mod trend;
mod types;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use self::summary::{GroupSummary, Setting};
use self::trend::TrendView;
use self::types::TypesView;
use super::catalogue::Catalogue;
use super::definition::Definition;
use super::letter::{EffectRow, effect_rows_of, row_key};
use super::provenance::{Provenance, provenance_of, stored_periods};
use super::{MIN_PEOPLE, ReportError};
use crate::area::{Area, Areas, COUNTRY_CODE};
use crate::engine::Engine;
use crate::period::Period;
use crate::report::trace::{Call, Rerun, Sentence};
use crate::schema::OUTCOMES;
use crate::store::Store;

/// Everything a briefing is built from.
pub struct Request<'a> {
    pub engine: &'a Engine,
    pub store: &'a Store,
    pub definition: &'a Definition,
    pub period: Period,
    pub area: &'static Area,
    pub t: &'a Catalogue,
    pub tera: &'a tera::Tera,
    /// The output file's name without extension; chart files start with it.
    pub stem: String,
}

/// A chart drawn as SVG, and the file the Markdown version links.
#[derive(Debug, Clone, Serialize)]
pub struct ChartFile {
    pub file: String,
    pub title: String,
    pub svg: String,
}

/// The briefing, ready for the templates.
#[derive(Debug, Serialize)]
pub struct BriefingContext {
    t: serde_json::Value,
    lang: String,
    title: String,
    subtitle: String,
    area: String,
    pub demo: bool,
    summary: Vec<Sentence>,
    table: table::TableView,
    trend_heading: String,
    pub trends: Vec<TrendView>,
    pub types: Option<TypesView>,
    types_none: Option<String>,
    notes: Vec<String>,
    provenance: Provenance,
    provenance_line: String,
    appendix: Vec<Rerun>,
}

/// `period` moved back `n` quarters.
fn back(period: Period, n: u16) -> Option<Period> {
    let index = u32::from(period.year()) * 4 + u32::from(period.quarter()) - 1;
    let index = index.checked_sub(u32::from(n))?;
    Period::new((index / 4) as u16, (index % 4) as u8 + 1)
}

/// Quarters as short ranges: `2016Q1–2024Q4, 2025Q2`.
fn ranges(periods: &[Period]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut start: Option<(Period, Period)> = None;
    for p in periods {
        start = match start {
            Some((first, last)) if last.next() == *p => Some((first, *p)),
            Some((first, last)) => {
                out.push(if first == last {
                    first.to_string()
                } else {
                    format!("{first}–{last}")
                });
                Some((*p, *p))
            }
            None => Some((*p, *p)),
        };
    }
    if let Some((first, last)) = start {
        out.push(if first == last {
            first.to_string()
        } else {
            format!("{first}–{last}")
        });
    }
    if out.is_empty() {
        "no quarters".into()
    } else {
        out.join(", ")
    }
}

pub(super) fn render_chart(
    tera: &tera::Tera,
    template: &str,
    chart: &impl Serialize,
) -> Result<String, ReportError> {
    let context = tera::Context::from_serialize(chart).map_err(|cause| ReportError::Template {
        template: template.into(),
        cause,
    })?;
    tera.render(template, &context)
        .map_err(|cause| ReportError::Template {
            template: format!("templates/{template}"),
            cause,
        })
}

/// Build the briefing, or say why it must not be rendered.
pub async fn build(request: &Request<'_>) -> Result<BriefingContext, ReportError> {
    let Request {
        engine,
        store,
        definition,
        period,
        area,
        t,
        tera,
        stem,
    } = request;
    let (period, area) = (*period, *area);
    let stored = stored_periods(engine, OUTCOMES).await?;
    let held: Vec<Period> = stored
        .iter()
        .filter_map(|p| p.period.parse().ok())
        .collect();
    if !held.contains(&period) {
        return Err(ReportError::QuarterNotHeld {
            period,
            held: ranges(&held),
        });
    }
    let set: Vec<&str> = definition.comparison.iter().map(|a| a.as_str()).collect();
    let area_in_set = set.contains(&area.code.as_str());
    let mut ranked_areas = set.clone();
    if !area_in_set && area.code != COUNTRY_CODE {
        ranked_areas.push(&area.code);
    }

    // This quarter, every group: Table 1 and the ranks. The data checks
    // and the trend are started with it; they read the same snapshot.
    let effect = Call::new("effect_by_area", OUTCOMES, engine)
        .with("period", period)
        .with("areas", ranked_areas.join(","));
    let check_call = Call::new("quarter_checks", OUTCOMES, engine)
        .with("period", period)
        .with("areas", set.join(","));
    let quarters = definition.briefing.trend_quarters.max(1);
    let trend_call = Call::new("briefing_trend", OUTCOMES, engine)
        .with("area", &area.code)
        .with("areas", set.join(","))
        .with("period", period)
        .with("quarters", quarters);
    let (effect_rows, check_rows, trend_rows) = (
        effect.start(engine),
        check_call.start(engine),
        trend_call.start(engine),
    );
    // The per-type figures too, and the table's history (for the revised
    // figures) is read meanwhile: the briefing needs them last.
    let types_rows = types::start(request);
    let (effect_rows, previous_version) = futures::join!(
        effect_rows.rows(),
        revisions::previous_version(store, period)
    );
    let rows = effect_rows_of(&effect_rows?)?;
    if !rows.iter().any(|r| r.area_code == area.code) {
        let all: Vec<&str> = Areas::builtin().iter().map(|a| a.code.as_str()).collect();
        let everywhere = Call::new("effect_by_area", OUTCOMES, engine)
            .with("period", period)
            .with("areas", all.join(","));
        let with_rows: BTreeSet<String> = effect_rows_of(&everywhere.run(engine).await?)?
            .into_iter()
            .map(|r| r.area_code)
            .collect();
        let candidates = Areas::builtin()
            .iter()
            .filter(|a| with_rows.contains(&a.code));
        return Err(ReportError::AreaWithoutRows {
            area: format!("{} ({})", area.code, area.name),
            period,
            nearest: Areas::builtin()
                .nearest(&area.code, candidates, 3)
                .join(", "),
        });
    }

    // The data checks, before anything is rendered.
    let check_rows = checks::read(&check_rows.rows().await?)?;
    let previous = back(period, 1).map(|p| t.quarter(p)).unwrap_or_default();
    let year_ago = back(period, 4).map(|p| t.quarter(p)).unwrap_or_default();
    let findings = checks::judge(t, &definition.briefing.checks, &check_rows, &previous);
    if !findings.blocking.is_empty() {
        return Err(ReportError::ChecksFailed {
            report: definition.name.clone(),
            period,
            failures: findings.blocking,
        });
    }

    let Some(provenance) = provenance_of(engine, OUTCOMES, period, &stored) else {
        return Err(ReportError::NoData { period });
    };
    let set_phrase = t.fill("briefing.comparison", &[("n", &set.len().to_string())]);
    let present: BTreeSet<String> = rows.iter().map(|r| r.benefit_group.clone()).collect();
    let groups = table::group_order(definition, &present);

    let (mut table, suppressed_cells) = table::table(
        t,
        &effect,
        &rows,
        &groups,
        area,
        &ranked_areas,
        t.fill("table.caption", &[("quarter", &t.quarter(period))]),
    );
    table.source_line = t.fill(
        "table.source",
        &[(
            "source",
            &match provenance.sources.as_str() {
                "demo" => t.text("table.source_demo"),
                "jobindsats" => "Jobindsats".to_string(),
                other => other.to_string(),
            },
        )],
    );

    // The trend of the last quarters, and what changed since the last briefing.
    let points = trend::points(&trend_rows.rows().await?)?;
    let mut appendix_calls = vec![effect.clone(), check_call, trend_call.clone()];
    let mut revised = trend::Revised::new();
    if let Some(version) = previous_version? {
        let before_engine = Engine::open_table_at(store, OUTCOMES, version).await?;
        let mut before_call = trend_call.clone();
        before_call.version = Some(version);
        let before = trend::points(&before_call.run(&before_engine).await?)?;
        for now in &points {
            let Some(old) = before
                .iter()
                .find(|b| b.period == now.period && b.group == now.group)
            else {
                continue;
            };
            if old.share != now.share {
                let shown = |v: Option<f64>| v.map(|v| t.percent(v)).unwrap_or_else(|| "–".into());
                revised.insert(
                    (now.group.clone(), now.period.clone()),
                    (shown(old.share), shown(now.share)),
                );
            }
        }
        appendix_calls.push(before_call);
    }

    let first_quarter = back(period, quarters - 1).unwrap_or(period);
    let window: Vec<Period> = first_quarter.through(period).collect();
    let mut trends = Vec::new();
    let mut summary = Vec::new();
    let setting = Setting {
        area: area.name.clone(),
        set: set_phrase.clone(),
        set_size: set.len(),
        area_in_set,
        quarter: t.quarter(period),
        previous: previous.clone(),
        year_ago: year_ago.clone(),
    };
    let trend_input = trend::Input {
        t,
        tera,
        stem,
        area,
        set_phrase: &set_phrase,
        period,
        window: &window,
        points: &points,
        revised: &revised,
        call: &trend_call,
    };
    for group in &definition.groups {
        let code = group.code();
        let group_rows: Vec<&EffectRow> = rows.iter().filter(|r| r.benefit_group == code).collect();
        let mine = group_rows.iter().find(|r| r.area_code == area.code);
        let now = points
            .iter()
            .find(|p| p.group == code && p.period == period.to_string());
        let figures = GroupSummary {
            group: code.into(),
            share: mine.and_then(|r| r.shown_share()),
            country: mine.and_then(|r| r.country_share),
            standing: if area.code == COUNTRY_CODE {
                None
            } else {
                super::letter::standing(&group_rows, &area.code)
            },
            since_quarter: now.and_then(|p| p.since_quarter),
            since_year: now.and_then(|p| p.since_year),
        };
        let trend_key = format!("period={period} benefit_group={code}");
        for (i, text) in summary::group_sentences(t, &setting, &figures)
            .into_iter()
            .enumerate()
        {
            let sources = if i == 0 {
                [area.code.as_str(), COUNTRY_CODE]
                    .map(|shown| effect.source(t, &row_key(shown, *group)))
                    .to_vec()
            } else {
                vec![trend_call.source(t, &trend_key)]
            };
            summary.push(Sentence { text, sources });
        }
        trends.push(trend::view(&trend_input, code)?);
    }

    // Per internship type, when person-level data exist for the quarter.
    let (types, types_none) = match types::section(request, types_rows).await? {
        Some((view, call)) => {
            appendix_calls.push(call);
            (Some(view), None)
        }
        None => (
            None,
            Some(t.fill("types.none", &[("quarter", &t.quarter(period))])),
        ),
    };

    // Notes a careful analyst would add.
    let mut notes = Vec::new();
    if !suppressed_cells.is_empty() {
        notes.push(t.fill(
            "notes.suppressed",
            &[
                ("n", &suppressed_cells.len().to_string()),
                ("min", &MIN_PEOPLE.to_string()),
                ("cells", &t.join(&suppressed_cells)),
            ],
        ));
    }
    let mut by_quarter: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((group, quarter), (before, after)) in &revised {
        by_quarter.entry(quarter.clone()).or_default().push(t.fill(
            "notes.revision",
            &[
                ("recipients", &t.text(&format!("recipients.{group}"))),
                ("area", &area.name),
                ("before", before),
                ("after", after),
            ],
        ));
    }
    for (quarter, changes) in by_quarter {
        let quarter = quarter
            .parse::<Period>()
            .map(|p| t.quarter(p))
            .unwrap_or(quarter);
        notes.push(t.fill(
            "notes.revised",
            &[("quarter", &quarter), ("changes", &changes.join("; "))],
        ));
    }
    let missing: BTreeSet<String> = check_rows
        .iter()
        .filter_map(|r| r.missing.as_deref())
        .flat_map(|m| m.split(", ").map(str::to_string))
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().take(10).cloned().collect();
        let key = if missing.len() > names.len() {
            "notes.missing_many"
        } else {
            "notes.missing"
        };
        notes.push(t.fill(
            key,
            &[
                ("n", &missing.len().to_string()),
                ("quarter", &t.quarter(period)),
                ("names", &t.join(&names)),
            ],
        ));
    }
    notes.extend(findings.notes);
    notes.push(t.text("notes.uncertainty"));
    if provenance.demo {
        notes.push(t.text("notes.demo"));
    }

    let provenance_line = provenance.line(t);

    let title = match (&definition.title, t.code()) {
        (Some(title), "da") => title.clone(),
        _ => t.text("briefing.title"),
    };
    Ok(BriefingContext {
        t: t.tree().clone(),
        lang: t.code().into(),
        subtitle: t.fill(
            "briefing.subtitle",
            &[("area", &area.name), ("quarter", &t.quarter(period))],
        ),
        title,
        area: area.name.clone(),
        demo: provenance.demo,
        summary,
        table,
        trend_heading: t.fill("heading.trend", &[("n", &quarters.to_string())]),
        trends,
        types,
        types_none,
        notes,
        provenance,
        provenance_line,
        appendix: appendix_calls.iter().map(|call| call.rerun(t)).collect(),
    })
}

pub(super) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_count_back_across_years() {
        let p: Period = "2024Q1".parse().unwrap();
        assert_eq!(back(p, 1).unwrap().to_string(), "2023Q4");
        assert_eq!(back(p, 4).unwrap().to_string(), "2023Q1");
        assert_eq!(back(p, 7).unwrap().to_string(), "2022Q2");
    }

    #[test]
    fn held_quarters_read_as_ranges() {
        let ps: Vec<Period> = ["2016Q1", "2016Q2", "2016Q3", "2017Q1"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(ranges(&ps), "2016Q1–2016Q3, 2017Q1");
    }
}
