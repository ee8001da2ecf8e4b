//! The data checks a briefing makes before anything is rendered
//! (`sql/quarter_checks.sql`), each blocking or a note as the definition says.

use arrow::record_batch::RecordBatch;

use crate::area::Areas;
use crate::report::ReportError;
use crate::report::catalogue::Catalogue;
use crate::report::definition::{CheckLevel, Checks};
use crate::report::rows::{floats, ints, strings};

/// One row of `quarter_checks.sql`.
#[derive(Debug, Clone, Default)]
pub struct QuarterCheck {
    pub group: String,
    pub expected: i64,
    pub present: i64,
    pub missing: Option<String>,
    pub country_present: bool,
    pub country_share: Option<f64>,
    pub municipal_mean: Option<f64>,
    pub out_of_range: i64,
    pub jump: Option<f64>,
    pub jump_area: Option<String>,
}

/// The rows of `quarter_checks.sql`'s result.
pub fn read(batches: &[RecordBatch]) -> Result<Vec<QuarterCheck>, ReportError> {
    let q = "quarter_checks";
    let group = strings(batches, q, "benefit_group")?;
    let expected = ints(batches, q, "municipalities_expected")?;
    let present = ints(batches, q, "municipalities_present")?;
    let missing = strings(batches, q, "missing_municipalities")?;
    let country_present = strings(batches, q, "country_present")?;
    let country = floats(batches, q, "country_share_pct")?;
    let mean = floats(batches, q, "municipal_mean_pct")?;
    let out = ints(batches, q, "out_of_range")?;
    let jump = floats(batches, q, "largest_jump_pp")?;
    let jump_area = strings(batches, q, "largest_jump_area")?;
    Ok((0..group.len())
        .map(|i| QuarterCheck {
            group: group[i].clone().unwrap_or_default(),
            expected: expected[i].unwrap_or_default(),
            present: present[i].unwrap_or_default(),
            missing: missing[i].clone().filter(|m| !m.is_empty()),
            country_present: country_present[i].as_deref() == Some("true"),
            country_share: country[i],
            municipal_mean: mean[i],
            out_of_range: out[i].unwrap_or_default(),
            jump: jump[i],
            jump_area: jump_area[i].clone(),
        })
        .collect())
}

/// What the checks found: failures that block, and notes for the reader.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    pub blocking: Vec<String>,
    pub notes: Vec<String>,
}

impl Findings {
    fn add(&mut self, t: &Catalogue, level: CheckLevel, name_key: &str, detail: String) {
        let line = t.fill(
            "notes.check",
            &[("name", &t.text(name_key)), ("detail", &detail)],
        );
        match level {
            CheckLevel::Block => self.blocking.push(line),
            CheckLevel::Note => self.notes.push(line),
            CheckLevel::Off => {}
        }
    }
}

/// Judge every group's row against the definition's checks.
pub fn judge(
    t: &Catalogue,
    checks: &Checks,
    rows: &[QuarterCheck],
    previous_quarter: &str,
) -> Findings {
    let mut found = Findings::default();
    let jump_name = t.fill("check.jump", &[("n", &t.decimal(checks.jump_points, 1))]);
    for row in rows {
        let group = t.text(&format!("group.{}", row.group));
        let group_args = [("group", group.as_str())];
        let all_there = row.present >= row.expected;
        if !all_there {
            found.add(
                t,
                checks.municipalities,
                "check.municipalities",
                t.fill(
                    "check.failed_municipalities",
                    &[
                        ("n", &(row.expected - row.present).to_string()),
                        ("expected", &row.expected.to_string()),
                        ("group", &group),
                    ],
                ),
            );
        }
        if !row.country_present {
            found.add(
                t,
                checks.country_row,
                "check.country_row",
                t.fill("check.failed_country_row", &group_args),
            );
        }
        match (row.country_share, row.municipal_mean) {
            (Some(country), Some(mean))
                if all_there && (country - mean).abs() > checks.country_mean_tolerance + 1e-9 =>
            {
                found.add(
                    t,
                    checks.country_mean,
                    "check.country_mean",
                    t.fill(
                        "check.failed_country_mean",
                        &[
                            ("group", &group),
                            ("country", &t.percent(country)),
                            ("mean", &t.percent(mean)),
                        ],
                    ),
                );
            }
            (Some(_), Some(_)) if !all_there && checks.country_mean != CheckLevel::Off => {
                found.notes.push(t.fill(
                    "notes.check",
                    &[
                        ("name", &t.text("check.country_mean")),
                        ("detail", &t.fill("check.skipped_country_mean", &group_args)),
                    ],
                ));
            }
            _ => {}
        }
        if row.out_of_range > 0 {
            found.add(
                t,
                checks.share_range,
                "check.share_range",
                t.fill(
                    "check.failed_share_range",
                    &[("n", &row.out_of_range.to_string()), ("group", &group)],
                ),
            );
        }
        if let (Some(jump), Some(code)) = (row.jump, &row.jump_area)
            && jump.abs() > checks.jump_points
        {
            let area = Areas::builtin()
                .by_code(code)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| code.clone());
            let detail = t.fill(
                "check.failed_jump",
                &[
                    ("area", &area),
                    ("group", &group),
                    ("points", &t.points(jump)),
                    ("previous", previous_quarter),
                ],
            );
            let line = t.fill("notes.check", &[("name", &jump_name), ("detail", &detail)]);
            match checks.jump {
                CheckLevel::Block => found.blocking.push(line),
                CheckLevel::Note => found.notes.push(line),
                CheckLevel::Off => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> QuarterCheck {
        QuarterCheck {
            group: "dagpenge".into(),
            expected: 98,
            present: 98,
            missing: None,
            country_present: true,
            country_share: Some(32.5),
            municipal_mean: Some(32.5),
            out_of_range: 0,
            jump: Some(1.0),
            jump_area: Some("101".into()),
        }
    }

    #[test]
    fn a_good_quarter_passes() {
        let t = Catalogue::load("da").unwrap();
        assert_eq!(
            judge(&t, &Checks::default(), &[good()], "x"),
            Findings::default()
        );
    }

    #[test]
    fn each_failure_blocks_or_notes_as_defined() {
        let t = Catalogue::load("en").unwrap();
        let mut row = good();
        row.country_share = Some(33.1);
        row.out_of_range = 2;
        row.jump = Some(-12.5);
        let found = judge(&t, &Checks::default(), &[row], "Q3 2024");
        assert_eq!(found.blocking.len(), 2, "{found:?}");
        assert!(found.blocking[0].contains("33.1%") && found.blocking[0].contains("32.5%"));
        assert!(found.blocking[1].contains("2 shares outside 0–100"));
        assert_eq!(found.notes.len(), 1);
        assert!(
            found.notes[0].contains("København has changed 12.5 percentage points"),
            "{found:?}"
        );
    }

    #[test]
    fn the_mean_is_not_checked_when_municipalities_are_missing() {
        let t = Catalogue::load("en").unwrap();
        let mut row = good();
        row.present = 90;
        row.country_share = Some(40.0);
        let found = judge(&t, &Checks::default(), &[row], "x");
        assert!(found.blocking.is_empty(), "{found:?}");
        assert_eq!(found.notes.len(), 2, "{found:?}");
    }
}
