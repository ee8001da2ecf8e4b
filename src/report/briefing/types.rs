//! The briefing's per-type section: each internship type's purpose measure
//! with its 95 % interval as a chart and a table, and sentences that call a
//! difference between types certain only when the intervals do not overlap
//! (`sql/effect_by_type.sql`).

use serde::Serialize;

use super::{ChartFile, Request, render_chart};
use crate::area::AreaKind;
use crate::internship::InternshipType;
use crate::report::ReportError;
use crate::report::chart::{self, Interval, IntervalWords};
use crate::report::provenance::stored_periods;
use crate::report::trace::{Call, Figure, Sentence, Source, Started};
use crate::report::type_effects::{all_groups, municipality_param, type_rows_of};
use crate::schema::INTERNSHIPS;

/// One type's share at 3 months, for comparing the types with each other.
struct AtThreeMonths {
    name: String,
    share: Option<(f64, f64, f64)>,
    source: Source,
}

#[derive(Debug, Serialize)]
struct TypeRow {
    name: String,
    purpose: String,
    share: Figure,
    interval: String,
    count: String,
}

#[derive(Debug, Serialize)]
pub struct TypesView {
    intro: String,
    pub chart: ChartFile,
    rows: Vec<TypeRow>,
    sentences: Vec<Sentence>,
}

/// The section's query, started so that it runs beside the briefing's
/// others, when the briefing has the section at all (person-level data are
/// stored, and the area is a municipality or the country).
pub(super) fn start(request: &Request<'_>) -> Option<(Call, Started)> {
    let Request {
        engine,
        period,
        area,
        ..
    } = request;
    if !engine.versions().contains_key(INTERNSHIPS) || area.kind == AreaKind::Jobcenter {
        return None;
    }
    let call = Call::new("effect_by_type", INTERNSHIPS, engine)
        .with("period", period)
        .with("municipality", municipality_param(area));
    let rows = call.start(engine);
    Some((call, rows))
}

/// The per-type section: each type's purpose measure with its interval,
/// from the query [`start`] started; none when no person-level data are
/// stored for the quarter.
pub(super) async fn section(
    request: &Request<'_>,
    started: Option<(Call, Started)>,
) -> Result<Option<(TypesView, Call)>, ReportError> {
    let Request {
        engine,
        period,
        area,
        t,
        tera,
        stem,
        ..
    } = request;
    let Some((call, rows)) = started else {
        return Ok(None);
    };
    let held = stored_periods(engine, INTERNSHIPS).await?;
    if !held.iter().any(|p| p.period == period.to_string()) {
        return Ok(None);
    }
    let type_rows = type_rows_of(&rows.rows().await?)?;
    let mut rows = Vec::new();
    let mut items = Vec::new();
    let mut sentences = Vec::new();
    let mut firsts: Vec<AtThreeMonths> = Vec::new();
    for kind in InternshipType::ALL {
        let Some(row) = all_groups(&type_rows, kind, "purpose") else {
            continue;
        };
        let name = t.text(&format!("internship_type.{}", kind.code()));
        let purpose = t.text(&format!("purpose.{}", kind.code()));
        let key = format!(
            "internship_type={} benefit_group=alle measure=purpose",
            kind.code()
        );
        let share = row.share;
        let (text, mark, interval) = match share {
            Some((s, l, h)) => (
                t.decimal(s, 1),
                "",
                t.fill(
                    "number.range",
                    &[("low", &t.decimal(l, 1)), ("high", &t.decimal(h, 1))],
                ),
            ),
            None => ("–".to_string(), "¹", String::new()),
        };
        let source = call.source(t, &key);
        sentences.push(Sentence {
            text: match share {
                Some((s, l, h)) => t.fill(
                    "types.purpose_shown",
                    &[
                        ("name", &name),
                        ("share", &t.percent(s)),
                        ("purpose", &purpose),
                        ("low", &t.decimal(l, 1)),
                        ("high", &t.decimal(h, 1)),
                    ],
                ),
                None => t.fill(
                    "types.purpose_hidden",
                    &[("name", &name), ("purpose", &purpose)],
                ),
            },
            sources: vec![source.clone()],
        });
        rows.push(TypeRow {
            name: name.clone(),
            purpose,
            share: call.figure(t, text, mark, &key),
            interval,
            count: row
                .internships
                .map(|c| t.count(c))
                .unwrap_or_else(|| "–".into()),
        });
        items.push(Interval {
            name: name.clone(),
            share,
        });
        if let Some(at_3m) = all_groups(&type_rows, kind, "3m") {
            let key = format!(
                "internship_type={} benefit_group=alle measure=3m",
                kind.code()
            );
            firsts.push(AtThreeMonths {
                name,
                share: at_3m.share,
                source: call.source(t, &key),
            });
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    for (i, a) in firsts.iter().enumerate() {
        for b in &firsts[i + 1..] {
            let (Some(x), Some(y)) = (a.share, b.share) else {
                continue;
            };
            let ((high, hs), (low, ls)) = if x.0 >= y.0 {
                ((a, x), (b, y))
            } else {
                ((b, y), (a, x))
            };
            let key = if hs.1 <= ls.2 {
                "types.overlap"
            } else {
                "types.differ"
            };
            sentences.push(Sentence {
                text: t.fill(
                    key,
                    &[
                        ("high", &high.name),
                        ("low", &low.name.to_lowercase()),
                        ("high_share", &t.percent(hs.0)),
                        ("low_share", &t.percent(ls.0)),
                    ],
                ),
                sources: vec![high.source.clone(), low.source.clone()],
            });
        }
    }
    let values: Vec<String> = items
        .iter()
        .map(|item| match item.share {
            Some((s, l, h)) => t.fill(
                "chart.type_value",
                &[
                    ("name", &item.name),
                    ("share", &t.percent(s)),
                    ("low", &t.decimal(l, 1)),
                    ("high", &t.decimal(h, 1)),
                ],
            ),
            None => t.fill("chart.type_hidden", &[("name", &item.name)]),
        })
        .collect();
    let words = IntervalWords {
        id: "types".into(),
        title: t.fill(
            "chart.types_title",
            &[("area", &area.name), ("quarter", &t.quarter(*period))],
        ),
        desc: t.fill(
            "chart.types_desc",
            &[("values", &(values.join("; ") + "."))],
        ),
        axis: t.text("types.share"),
        hidden: t.text("chart.not_shown"),
    };
    let decimal = |v: f64, decimals: usize| t.decimal(v, decimals);
    let layout = chart::intervals(&items, words.clone(), &decimal);
    Ok(Some((
        TypesView {
            intro: t.fill(
                "types.intro",
                &[("area", &area.name), ("quarter", &t.quarter(*period))],
            ),
            chart: ChartFile {
                file: format!("{stem}-types.svg"),
                title: words.title,
                svg: render_chart(tera, "chart_types.svg", &layout)?,
            },
            rows,
            sentences,
        },
        call,
    )))
}
