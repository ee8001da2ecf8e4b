//! The briefing's summary: per benefit group, where the area lies against
//! the country and the comparison set (naming who it ties with and who is
//! ahead), and how it changed since the quarter before and the year before,
//! called a real change only when larger than the statistical uncertainty.
//! Every word comes from the catalogue, every figure from the queries.

use crate::report::catalogue::Catalogue;
pub use crate::report::narrative::Standing;

/// A change of a share and its uncertainty, both as shown (one decimal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub points: f64,
    /// 1.96 times the standard error of the difference.
    pub margin: f64,
    /// |points| > margin, as the query says.
    pub real: bool,
}

/// One benefit group's figures for the summary.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupSummary {
    /// The catalogue's code for the group: `dagpenge`.
    pub group: String,
    pub share: Option<f64>,
    pub country: Option<f64>,
    pub standing: Option<Standing>,
    pub since_quarter: Option<Change>,
    pub since_year: Option<Change>,
}

/// Who the summary is about, and when.
#[derive(Debug, Clone)]
pub struct Setting {
    pub area: String,
    /// The comparison set as prose: `landets 6 største kommuner`.
    pub set: String,
    pub set_size: usize,
    /// Whether the area is itself one of the comparison set.
    pub area_in_set: bool,
    pub quarter: String,
    pub previous: String,
    pub year_ago: String,
}

/// The rank clause: `, den næsthøjeste blandt landets 6 største kommuner efter Aarhus`.
fn rank_clause(t: &Catalogue, setting: &Setting, standing: &Standing) -> String {
    if standing.ranked < 2 {
        return String::new();
    }
    let word = t.rank_word(standing.rank, standing.ranked);
    let ranked = standing.ranked.to_string();
    let mut clause = if !setting.area_in_set {
        t.fill(
            "summary.rank_outside",
            &[
                ("word", &word),
                ("area", &setting.area),
                ("set", &setting.set),
            ],
        )
    } else if standing.ranked < setting.set_size {
        t.fill(
            "summary.rank_partial",
            &[("word", &word), ("ranked", &ranked), ("set", &setting.set)],
        )
    } else {
        t.fill("summary.rank", &[("word", &word), ("set", &setting.set)])
    };
    let upper_half = standing.rank * 2 <= standing.ranked + 1;
    if !standing.tied_with.is_empty() {
        clause.push_str(&t.fill("summary.tied", &[("names", &t.join(&standing.tied_with))]));
    } else if upper_half && !standing.ahead.is_empty() {
        clause.push_str(&t.fill("summary.ahead", &[("names", &t.join(&standing.ahead))]));
    } else if !upper_half && !standing.behind.is_empty() {
        clause.push_str(&t.fill("summary.behind", &[("names", &t.join(&standing.behind))]));
    }
    clause
}

/// `1,2 procentpoint mere end i 3. kvartal 2024 (inden for …)`.
fn change_phrase(t: &Catalogue, change: &Change, quarter: &str) -> String {
    let key = if change.points > 0.0 {
        "summary.more"
    } else if change.points < 0.0 {
        "summary.less"
    } else {
        "summary.same"
    };
    let amount = t.fill(
        key,
        &[("points", &t.points(change.points)), ("quarter", quarter)],
    );
    let judgement = t.fill(
        if change.real {
            "summary.real"
        } else {
            "summary.not_real"
        },
        &[("margin", &t.points(change.margin))],
    );
    t.fill(
        "summary.change",
        &[("amount", &amount), ("judgement", &judgement)],
    )
}

/// The summary's sentences for one group: where it stands, then how it changed.
pub fn group_sentences(t: &Catalogue, setting: &Setting, g: &GroupSummary) -> Vec<String> {
    let recipients = t.text(&format!("recipients.{}", g.group));
    let Some(share) = g.share else {
        return vec![t.fill(
            "summary.no_share",
            &[
                ("recipients", &recipients),
                ("area", &setting.area),
                ("quarter", &setting.quarter),
            ],
        )];
    };
    let rank = g
        .standing
        .as_ref()
        .map(|s| rank_clause(t, setting, s))
        .unwrap_or_default();
    let share_text = t.percent(share);
    let level = match g.country {
        Some(country) => t.fill(
            "summary.level",
            &[
                ("recipients", &recipients),
                ("share", &share_text),
                ("area", &setting.area),
                ("country", &t.percent(country)),
                ("rank", &rank),
            ],
        ),
        None => t.fill(
            "summary.level_no_country",
            &[
                ("recipients", &recipients),
                ("share", &share_text),
                ("area", &setting.area),
                ("rank", &rank),
            ],
        ),
    };
    let quarter = g
        .since_quarter
        .map(|c| change_phrase(t, &c, &setting.previous));
    let year = g
        .since_year
        .map(|c| change_phrase(t, &c, &setting.year_ago));
    let changes = match (quarter, year) {
        (Some(first), Some(second)) => {
            t.fill("summary.changes", &[("first", &first), ("second", &second)])
        }
        (Some(first), None) => t.fill(
            "summary.change_one",
            &[("first", &first), ("missing", &setting.year_ago)],
        ),
        (None, Some(first)) => t.fill(
            "summary.change_one",
            &[("first", &first), ("missing", &setting.previous)],
        ),
        (None, None) => t.fill(
            "summary.no_change_base",
            &[
                ("previous", &setting.previous),
                ("year_ago", &setting.year_ago),
            ],
        ),
    };
    vec![level, changes]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(in_set: bool) -> Setting {
        Setting {
            area: "København".into(),
            set: "landets 6 største kommuner".into(),
            set_size: 6,
            area_in_set: in_set,
            quarter: "4. kvartal 2024".into(),
            previous: "3. kvartal 2024".into(),
            year_ago: "4. kvartal 2023".into(),
        }
    }

    fn standing(rank: usize, tied: &[&str], ahead: &[&str], behind: &[&str]) -> Standing {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Standing {
            rank,
            ranked: 6,
            tied_with: names(tied),
            ahead: names(ahead),
            behind: names(behind),
        }
    }

    fn group(share: Option<f64>, standing: Option<Standing>) -> GroupSummary {
        GroupSummary {
            group: "dagpenge".into(),
            share,
            country: Some(32.5),
            standing,
            since_quarter: Some(Change {
                points: 1.2,
                margin: 2.0,
                real: false,
            }),
            since_year: Some(Change {
                points: -3.1,
                margin: 1.9,
                real: true,
            }),
        }
    }

    #[test]
    fn a_tie_for_highest_names_the_partner() {
        let t = Catalogue::load("da").unwrap();
        let s = group_sentences(
            &t,
            &setting(true),
            &group(Some(33.0), Some(standing(1, &["Aarhus"], &[], &[]))),
        );
        assert_eq!(
            s[0],
            "For dagpengemodtagerne var 33,0 pct. i ordinært arbejde eller uddannelse 3 måneder \
             efter endt virksomhedspraktik i København mod 32,5 pct. i hele landet, den højeste \
             blandt landets 6 største kommuner sammen med Aarhus."
        );
        assert_eq!(
            s[1],
            "Det er 1,2 procentpoint mere end i 3. kvartal 2024 (inden for den statistiske \
             usikkerhed på ±2,0 procentpoint) og 3,1 procentpoint mindre end i 4. kvartal 2023 \
             (en reel ændring, større end den statistiske usikkerhed på ±1,9 procentpoint)."
        );
    }

    #[test]
    fn the_one_ahead_and_the_one_behind_are_named() {
        let t = Catalogue::load("da").unwrap();
        let s = group_sentences(
            &t,
            &setting(true),
            &group(
                Some(30.0),
                Some(standing(2, &[], &["Aalborg"], &["Odense"])),
            ),
        );
        assert!(
            s[0].ends_with("den næsthøjeste blandt landets 6 største kommuner efter Aalborg."),
            "{}",
            s[0]
        );
        let s = group_sentences(
            &t,
            &setting(true),
            &group(Some(20.0), Some(standing(5, &[], &["Aarhus"], &["Vejle"]))),
        );
        assert!(
            s[0].ends_with("den næstlaveste blandt landets 6 største kommuner foran Vejle."),
            "{}",
            s[0]
        );
        let s = group_sentences(
            &t,
            &setting(true),
            &group(Some(10.0), Some(standing(6, &[], &["Aarhus"], &[]))),
        );
        assert!(
            s[0].ends_with("den laveste blandt landets 6 største kommuner."),
            "{}",
            s[0]
        );
    }

    #[test]
    fn an_area_outside_the_set_is_compared_not_ranked_among_it() {
        let t = Catalogue::load("en").unwrap();
        let mut setting = setting(false);
        setting.area = "Vejle".into();
        setting.set = "the 6 largest municipalities".into();
        let s = group_sentences(
            &t,
            &setting,
            &group(Some(30.0), Some(standing(3, &[], &["Aalborg"], &[]))),
        );
        assert!(
            s[0].ends_with("the third highest when Vejle is compared with the 6 largest municipalities after Aalborg."),
            "{}",
            s[0]
        );
    }

    #[test]
    fn a_suppressed_share_is_said_and_not_compared() {
        let t = Catalogue::load("da").unwrap();
        let s = group_sentences(&t, &setting(true), &group(None, None));
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0],
            "For dagpengemodtagerne foreligger der ikke et tal for København, der kan vises, i 4. kvartal 2024."
        );
    }

    #[test]
    fn a_missing_quarter_to_compare_with_is_said() {
        let t = Catalogue::load("en").unwrap();
        let mut g = group(Some(30.0), None);
        g.since_year = None;
        g.since_quarter = Some(Change {
            points: 0.0,
            margin: 2.0,
            real: false,
        });
        let s = group_sentences(&t, &setting(true), &g);
        assert!(
            s[1].starts_with("That is the same as in 3. kvartal 2024 (within"),
            "{}",
            s[1]
        );
        assert!(
            s[1].ends_with("there is no figure for 4. kvartal 2023 to compare with."),
            "{}",
            s[1]
        );
    }
}
