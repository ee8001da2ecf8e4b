//! The briefing's trend: the last quarters of one benefit group as a chart
//! (the area, the country, and the comparison set as a band) and the table
//! of its figures, from `sql/briefing_trend.sql`. Missing and suppressed
//! quarters are gaps, never zeros; revised quarters are marked.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use serde::Serialize;

use super::summary::Change;
use super::{ChartFile, capitalised, render_chart};
use crate::area::Area;
use crate::period::Period;
use crate::report::ReportError;
use crate::report::catalogue::Catalogue;
use crate::report::chart::{self, TrendData, TrendWords};
use crate::report::rows::{floats, strings};
use crate::report::trace::{Call, Figure};

#[derive(Debug, Serialize)]
struct TrendRow {
    quarter: String,
    revised: bool,
    area: Figure,
    country: Figure,
    low: Figure,
    high: Figure,
}

#[derive(Debug, Serialize)]
pub struct TrendView {
    heading: String,
    pub chart: ChartFile,
    rows: Vec<TrendRow>,
}

/// One row of `briefing_trend.sql`.
#[derive(Debug, Clone)]
pub(super) struct TrendPoint {
    pub period: String,
    pub group: String,
    pub share: Option<f64>,
    pub suppressed: bool,
    pub country: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub since_quarter: Option<Change>,
    pub since_year: Option<Change>,
}

pub(super) fn points(batches: &[RecordBatch]) -> Result<Vec<TrendPoint>, ReportError> {
    let q = "briefing_trend";
    let periods = strings(batches, q, "period")?;
    let groups = strings(batches, q, "benefit_group")?;
    let share = floats(batches, q, "share_pct")?;
    let suppressed = strings(batches, q, "suppressed")?;
    let country = floats(batches, q, "country_share_pct")?;
    let low = floats(batches, q, "set_low_pct")?;
    let high = floats(batches, q, "set_high_pct")?;
    let cq = floats(batches, q, "change_quarter_pp")?;
    let mq = floats(batches, q, "margin_quarter_pp")?;
    let rq = strings(batches, q, "real_change_quarter")?;
    let cy = floats(batches, q, "change_year_pp")?;
    let my = floats(batches, q, "margin_year_pp")?;
    let ry = strings(batches, q, "real_change_year")?;
    let change = |points: Option<f64>, margin: Option<f64>, real: &Option<String>| {
        Some(Change {
            points: points?,
            margin: margin?,
            real: real.as_deref() == Some("true"),
        })
    };
    Ok((0..periods.len())
        .map(|i| TrendPoint {
            period: periods[i].clone().unwrap_or_default(),
            group: groups[i].clone().unwrap_or_default(),
            share: share[i],
            suppressed: suppressed[i].as_deref() == Some("true"),
            country: country[i],
            low: low[i],
            high: high[i],
            since_quarter: change(cq[i], mq[i], &rq[i]),
            since_year: change(cy[i], my[i], &ry[i]),
        })
        .collect())
}

/// What one group's trend chart is drawn from.
pub(super) struct Input<'a> {
    pub t: &'a Catalogue,
    pub tera: &'a tera::Tera,
    pub stem: &'a str,
    pub area: &'a Area,
    pub set_phrase: &'a str,
    pub period: Period,
    /// The quarters the chart shows, oldest first.
    pub window: &'a [Period],
    pub points: &'a [TrendPoint],
    /// (group, quarter) → (before, after) for quarters revised since the last briefing.
    pub revised: &'a Revised,
    pub call: &'a Call,
}

/// Quarters whose shown share changed since the last briefing:
/// (group, quarter) → (before, after) as shown.
pub(super) type Revised = BTreeMap<(String, String), (String, String)>;

/// One group's chart and the table of its figures.
pub(super) fn view(input: &Input<'_>, code: &str) -> Result<TrendView, ReportError> {
    let Input {
        t,
        tera,
        stem,
        area,
        set_phrase,
        period,
        window,
        points,
        revised,
        call: trend_call,
    } = input;
    let (t, period) = (*t, *period);
    let first_quarter = window.first().copied().unwrap_or(period);
    // The chart and its table.
    let point_at = |p: &Period| {
        points
            .iter()
            .find(|x| x.group == code && x.period == p.to_string())
    };
    let recipients = t.text(&format!("recipients.{code}"));
    let data = TrendData {
        quarters: window.iter().map(|p| t.quarter_short(*p)).collect(),
        area: window
            .iter()
            .map(|p| point_at(p).and_then(|x| x.share))
            .collect(),
        country: window
            .iter()
            .map(|p| point_at(p).and_then(|x| x.country))
            .collect(),
        band: window
            .iter()
            .map(|p| point_at(p).and_then(|x| Some((x.low?, x.high?))))
            .collect(),
        revised: window
            .iter()
            .map(|p| revised.contains_key(&(code.to_string(), p.to_string())))
            .collect(),
    };
    let gaps: Vec<String> = window
        .iter()
        .zip(&data.area)
        .filter(|(_, v)| v.is_none())
        .map(|(p, _)| t.quarter_short(*p))
        .collect();
    let shown = |v: Option<f64>| {
        v.map(|v| t.percent(v))
            .unwrap_or_else(|| t.text("chart.not_shown"))
    };
    let words = TrendWords {
        id: format!("trend-{code}"),
        title: t.fill(
            "chart.trend_title",
            &[
                ("recipients", &capitalised(&recipients)),
                ("first", &t.quarter_short(first_quarter)),
                ("last", &t.quarter_short(period)),
            ],
        ),
        desc: t.fill(
            "chart.trend_desc",
            &[
                ("n", &window.len().to_string()),
                ("area", &area.name),
                ("set", set_phrase),
                (
                    "gaps",
                    &if gaps.is_empty() {
                        String::new()
                    } else {
                        t.fill("chart.trend_gaps", &[("quarters", &t.join(&gaps))])
                    },
                ),
                ("last_area", &shown(data.area.last().copied().flatten())),
                (
                    "last_country",
                    &shown(data.country.last().copied().flatten()),
                ),
            ],
        ),
        area: area.name.clone(),
        country: t.text("chart.country"),
        band: t.fill("chart.band", &[("set", set_phrase)]),
        axis: t.text("chart.axis_share"),
        revised_note: t.text("chart.revised"),
    };
    let decimal = |v: f64, decimals: usize| t.decimal(v, decimals);
    let layout = chart::trend(&data, words.clone(), &decimal);
    let trend_rows = window
        .iter()
        .map(|p| {
            let x = point_at(p);
            let key = format!("period={p} benefit_group={code}");
            let cell = |v: Option<f64>, suppressed: bool| {
                let (text, mark) = match v {
                    Some(v) => (t.decimal(v, 1), ""),
                    None if suppressed => ("–".to_string(), "¹"),
                    None => ("–".to_string(), "²"),
                };
                trend_call.figure(t, text, mark, &key)
            };
            TrendRow {
                quarter: t.quarter_short(*p),
                revised: revised.contains_key(&(code.to_string(), p.to_string())),
                area: cell(x.and_then(|x| x.share), x.is_some_and(|x| x.suppressed)),
                country: cell(x.and_then(|x| x.country), false),
                low: cell(x.and_then(|x| x.low), false),
                high: cell(x.and_then(|x| x.high), false),
            }
        })
        .collect();
    Ok(TrendView {
        heading: t.text(&format!("group.{code}")),
        chart: ChartFile {
            file: format!("{stem}-trend-{code}.svg"),
            title: words.title.clone(),
            svg: render_chart(tera, "chart_trend.svg", &layout)?,
        },
        rows: trend_rows,
    })
}
