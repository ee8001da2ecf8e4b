//! Chart geometry: where each point, line, band and label of a chart lies,
//! in SVG user units. The Tera templates `templates/chart_*.svg` draw it, so
//! that every word on a chart comes from the catalogue and every number from
//! the figures.
//!
//! Made for grey-scale print and colour-blind readers: the Okabe–Ito palette,
//! and lines told apart by style (solid with circles, dashed with squares)
//! and by a label at their end, never by colour alone.

use serde::Serialize;

/// The drawing's size in SVG units (about 170 × 74 mm when printed on A4).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 48.0;
/// The most quarter labels the axis holds without overlapping.
const MAX_X_LABELS: usize = 10;
/// The smallest vertical distance between two end labels.
const LABEL_GAP: f64 = 13.0;

/// Writes a value with so many decimals, as the report's language does.
pub type Format<'a> = dyn Fn(f64, usize) -> String + 'a;

/// One labelled value on an axis.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub at: f64,
    pub label: String,
    /// A quarter whose figures changed since the last briefing.
    pub revised: bool,
}

/// A point of a line, with the value as the chart's language writes it.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub value: String,
    pub quarter: String,
    pub revised: bool,
}

/// A label at the end of a line.
#[derive(Debug, Clone, Serialize)]
pub struct EndLabel {
    pub x: f64,
    pub y: f64,
    pub text: String,
}

/// What a trend chart shows: one value per quarter (`None` is a gap).
#[derive(Debug, Clone)]
pub struct TrendData {
    pub quarters: Vec<String>,
    pub area: Vec<Option<f64>>,
    pub country: Vec<Option<f64>>,
    /// The comparison set's lowest and highest share.
    pub band: Vec<Option<(f64, f64)>>,
    pub revised: Vec<bool>,
}

/// The words on a trend chart, in the report's language.
#[derive(Debug, Clone, Serialize)]
pub struct TrendWords {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub area: String,
    pub country: String,
    pub band: String,
    pub axis: String,
    pub revised_note: String,
}

/// A trend chart laid out.
#[derive(Debug, Clone, Serialize)]
pub struct TrendChart {
    pub width: f64,
    pub height: f64,
    pub plot: Frame,
    pub words: TrendWords,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    /// `M x y L x y …`, broken at gaps.
    pub area_path: String,
    pub country_path: String,
    /// One closed polygon per run of quarters with a band.
    pub band_paths: Vec<String>,
    pub area_points: Vec<Point>,
    pub country_points: Vec<Point>,
    pub labels: Vec<EndLabel>,
    pub any_revised: bool,
}

/// The plotting area inside the drawing.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Frame {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
}

/// A value axis from 0 to a round number above `highest`, with 4–7 ticks.
fn value_ticks(highest: f64, format: &Format) -> (f64, Vec<f64>, Vec<String>) {
    let highest = highest.max(1.0);
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 25.0]
        .into_iter()
        .find(|step| (highest / step).ceil() <= 6.0)
        .unwrap_or(25.0);
    let top = ((highest / step).ceil() * step).min(100.0).max(step);
    let count = (top / step).round() as usize;
    let values: Vec<f64> = (0..=count).map(|i| i as f64 * step).collect();
    let labels = values.iter().map(|v| format(*v, 0)).collect();
    (top, values, labels)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// `M x y L x y …` through the present points, a new `M` after each gap.
fn path(points: &[Option<(f64, f64)>]) -> String {
    let mut out = String::new();
    let mut pen_down = false;
    for point in points {
        match point {
            Some((x, y)) => {
                out.push_str(if pen_down { " L" } else { " M" });
                out.push_str(&format!(" {x:.1} {y:.1}"));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    out.trim_start().to_string()
}

/// Lay out a trend chart. `format` writes a value as the report's language does.
pub fn trend(data: &TrendData, words: TrendWords, format: &Format) -> TrendChart {
    let plot = Frame {
        left: LEFT,
        top: TOP,
        right: WIDTH - RIGHT,
        bottom: HEIGHT - BOTTOM,
    };
    let highest = data
        .area
        .iter()
        .chain(&data.country)
        .flatten()
        .copied()
        .chain(data.band.iter().flatten().map(|(_, high)| *high))
        .fold(0.0, f64::max);
    let (top, values, labels) = value_ticks(highest, format);
    let y = |v: f64| round1(plot.bottom - (v / top) * (plot.bottom - plot.top));
    let n = data.quarters.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            round1((plot.left + plot.right) / 2.0)
        } else {
            round1(plot.left + 12.0 + i as f64 * (plot.right - plot.left - 24.0) / (n - 1) as f64)
        }
    };
    let y_ticks = values
        .iter()
        .zip(labels)
        .map(|(v, label)| Tick {
            at: y(*v),
            label,
            revised: false,
        })
        .collect();
    // At most ten labels fit the axis: beyond that every k-th, counted from
    // the newest quarter, which is always labelled.
    let every = n.div_ceil(MAX_X_LABELS);
    let x_ticks = data
        .quarters
        .iter()
        .enumerate()
        .map(|(i, q)| Tick {
            at: x(i),
            label: if (n - 1 - i).is_multiple_of(every) {
                q.clone()
            } else {
                String::new()
            },
            revised: data.revised.get(i).copied().unwrap_or(false),
        })
        .collect();
    let at = |series: &[Option<f64>]| -> Vec<Option<(f64, f64)>> {
        series
            .iter()
            .enumerate()
            .map(|(i, v)| v.map(|v| (x(i), y(v))))
            .collect()
    };
    let points = |series: &[Option<f64>]| -> Vec<Point> {
        series
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.map(|v| Point {
                    x: x(i),
                    y: y(v),
                    value: format(v, 1),
                    quarter: data.quarters.get(i).cloned().unwrap_or_default(),
                    revised: data.revised.get(i).copied().unwrap_or(false),
                })
            })
            .collect()
    };
    let mut band_paths = Vec::new();
    let mut run: Vec<(f64, f64, f64)> = Vec::new();
    for (i, band) in data.band.iter().chain(std::iter::once(&None)).enumerate() {
        match band {
            Some((low, high)) => run.push((x(i), y(*low), y(*high))),
            None if !run.is_empty() => {
                let (first_x, _, _) = run[0];
                let (last_x, _, _) = run[run.len() - 1];
                let mut d = String::new();
                if run.len() == 1 {
                    // One quarter alone: a narrow bar, so that it still shows.
                    let (cx, low, high) = run[0];
                    d.push_str(&format!(
                        "M {:.1} {high:.1} L {:.1} {high:.1} L {:.1} {low:.1} L {:.1} {low:.1} Z",
                        cx - 4.0,
                        cx + 4.0,
                        cx + 4.0,
                        cx - 4.0
                    ));
                } else {
                    d.push_str(&format!("M {first_x:.1} {:.1}", run[0].2));
                    for (px, _, high) in &run[1..] {
                        d.push_str(&format!(" L {px:.1} {high:.1}"));
                    }
                    d.push_str(&format!(" L {last_x:.1} {:.1}", run[run.len() - 1].1));
                    for (px, low, _) in run.iter().rev().skip(1) {
                        d.push_str(&format!(" L {px:.1} {low:.1}"));
                    }
                    d.push_str(" Z");
                }
                band_paths.push(d);
                run.clear();
            }
            None => {}
        }
    }
    let area_points = points(&data.area);
    let country_points = points(&data.country);
    let mut labels = Vec::new();
    let label_x = plot.right + 8.0;
    let last_y = |pts: &[Point]| pts.last().map(|p| p.y);
    if let Some(ya) = last_y(&area_points) {
        labels.push(EndLabel {
            x: label_x,
            y: ya,
            text: words.area.clone(),
        });
    }
    if let Some(yc) = last_y(&country_points) {
        labels.push(EndLabel {
            x: label_x,
            y: yc,
            text: words.country.clone(),
        });
    }
    if let [a, b] = labels.as_mut_slice()
        && (a.y - b.y).abs() < LABEL_GAP
    {
        let middle = (a.y + b.y) / 2.0;
        let (upper, lower) = if a.y <= b.y { (a, b) } else { (b, a) };
        upper.y = round1(middle - LABEL_GAP / 2.0);
        lower.y = round1(middle + LABEL_GAP / 2.0);
    }
    for label in &mut labels {
        label.y = round1(label.y + 4.0); // baseline below the line's height
    }
    TrendChart {
        width: WIDTH,
        height: HEIGHT,
        plot,
        y_ticks,
        x_ticks,
        area_path: path(&at(&data.area)),
        country_path: path(&at(&data.country)),
        band_paths,
        area_points,
        country_points,
        labels,
        any_revised: data.revised.iter().any(|r| *r),
        words,
    }
}

/// One internship type's share with its 95 % interval; `None` when hidden.
#[derive(Debug, Clone)]
pub struct Interval {
    pub name: String,
    pub share: Option<(f64, f64, f64)>,
}

/// The words on an interval chart.
#[derive(Debug, Clone, Serialize)]
pub struct IntervalWords {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub axis: String,
    pub hidden: String,
}

/// One row of an interval chart.
#[derive(Debug, Clone, Serialize)]
pub struct IntervalRow {
    pub y: f64,
    pub name: String,
    pub shown: bool,
    pub x: f64,
    pub low: f64,
    pub high: f64,
    pub value: String,
}

/// An interval chart laid out: one row per type, a dot and a bar.
#[derive(Debug, Clone, Serialize)]
pub struct IntervalChart {
    pub width: f64,
    pub height: f64,
    pub plot: Frame,
    pub words: IntervalWords,
    pub x_ticks: Vec<Tick>,
    pub rows: Vec<IntervalRow>,
}

/// Lay out an interval chart on a 0–100 axis (or less, when all is lower).
pub fn intervals(items: &[Interval], words: IntervalWords, format: &Format) -> IntervalChart {
    const ROW: f64 = 34.0;
    let height = TOP + BOTTOM + ROW * items.len().max(1) as f64;
    let plot = Frame {
        left: 170.0,
        top: TOP,
        right: WIDTH - 40.0,
        bottom: height - BOTTOM,
    };
    let highest = items
        .iter()
        .filter_map(|i| i.share.map(|(_, _, high)| high))
        .fold(0.0, f64::max);
    let (top, values, labels) = value_ticks(highest, format);
    let x = |v: f64| round1(plot.left + (v / top) * (plot.right - plot.left));
    let x_ticks = values
        .iter()
        .zip(labels)
        .map(|(v, label)| Tick {
            at: x(*v),
            label,
            revised: false,
        })
        .collect();
    let rows = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let y = round1(plot.top + ROW * (i as f64 + 0.5));
            match item.share {
                Some((share, low, high)) => IntervalRow {
                    y,
                    name: item.name.clone(),
                    shown: true,
                    x: x(share),
                    low: x(low),
                    high: x(high),
                    value: format(share, 1),
                },
                None => IntervalRow {
                    y,
                    name: item.name.clone(),
                    shown: false,
                    x: plot.left,
                    low: plot.left,
                    high: plot.left,
                    value: String::new(),
                },
            }
        })
        .collect();
    IntervalChart {
        width: WIDTH,
        height: round1(height),
        plot,
        words,
        x_ticks,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> TrendWords {
        TrendWords {
            id: "t".into(),
            title: "T".into(),
            desc: "D".into(),
            area: "København".into(),
            country: "Hele landet".into(),
            band: "B".into(),
            axis: "pct.".into(),
            revised_note: "r".into(),
        }
    }

    fn format(v: f64, decimals: usize) -> String {
        format!("{v:.decimals$}")
    }

    #[test]
    fn a_missing_quarter_is_a_gap_not_a_zero() {
        let data = TrendData {
            quarters: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            area: vec![Some(20.0), None, Some(22.0), Some(24.0)],
            country: vec![Some(30.0); 4],
            band: vec![
                Some((10.0, 40.0)),
                None,
                Some((12.0, 41.0)),
                Some((11.0, 42.0)),
            ],
            revised: vec![false, false, true, false],
        };
        let chart = trend(&data, words(), &format);
        assert_eq!(chart.area_points.len(), 3);
        assert_eq!(
            chart.area_path.matches('M').count(),
            2,
            "{}",
            chart.area_path
        );
        assert_eq!(chart.country_path.matches('M').count(), 1);
        assert_eq!(chart.band_paths.len(), 2);
        assert!(chart.any_revised && chart.x_ticks[2].revised);
        // No point lies on the zero line.
        let zero = chart.y_ticks[0].at;
        assert!(chart.area_points.iter().all(|p| p.y < zero));
    }

    #[test]
    fn end_labels_never_overlap() {
        let data = TrendData {
            quarters: vec!["a".into(), "b".into()],
            area: vec![Some(30.0), Some(30.1)],
            country: vec![Some(30.0), Some(30.0)],
            band: vec![None, None],
            revised: vec![false, false],
        };
        let chart = trend(&data, words(), &format);
        assert!((chart.labels[0].y - chart.labels[1].y).abs() >= LABEL_GAP - 0.1);
    }

    #[test]
    fn a_long_trend_labels_every_other_quarter_and_always_the_newest() {
        let n = 16;
        let data = TrendData {
            quarters: (0..n).map(|i| format!("q{i}")).collect(),
            area: vec![Some(20.0); n],
            country: vec![Some(30.0); n],
            band: vec![None; n],
            revised: vec![false; n],
        };
        let chart = trend(&data, words(), &format);
        let labels: Vec<&str> = chart.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels.iter().filter(|l| !l.is_empty()).count(), 8);
        assert_eq!(labels[n - 1], "q15");
        assert_eq!(labels[n - 2], "");
        assert_eq!(chart.area_points.len(), n);
    }

    #[test]
    fn the_value_axis_covers_the_highest_value() {
        let (top, values, _) = value_ticks(47.6, &format);
        assert_eq!(top, 50.0);
        assert!(values.len() >= 4 && values.len() <= 7, "{values:?}");
        let (top, _, _) = value_ticks(5.6, &format);
        assert_eq!(top, 6.0);
    }
}
