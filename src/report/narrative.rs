//! Sentences written from the numbers: where an area lies against the
//! national average, and its rank among the comparison areas. Nothing here
//! is typed in by hand; every figure and judgement comes from the query.

use super::format::{decimal, list, rank_word};

/// Where an area stands in the comparison set for one group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Standing {
    /// 1 = highest; ties share a rank.
    pub rank: usize,
    /// How many areas of the set have a shown share.
    pub ranked: usize,
    /// The other areas with the same share as shown.
    pub tied_with: Vec<String>,
    /// The areas ranked just above (for an upper-half rank).
    pub ahead: Vec<String>,
    /// The areas ranked just below (for a lower-half rank).
    pub behind: Vec<String>,
}

/// One benefit group's figures for the area a letter is about.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFigures {
    /// How a sentence names the recipients: `de jobparate kontanthjælpsmodtagere`.
    pub recipients: String,
    /// The area's share in percent; `None` when missing or suppressed.
    pub share: Option<f64>,
    /// The whole country's share in percent.
    pub country: Option<f64>,
    /// Rank among the comparison areas that have a share (1 = highest).
    pub rank: Option<usize>,
    /// How many comparison areas have a share.
    pub ranked: usize,
    /// The other comparison areas with the same share as shown.
    pub tied_with: Vec<String>,
    /// The areas ranked just above the area (named for an upper-half rank).
    pub ahead: Vec<String>,
    /// The areas ranked just below the area (named for a lower-half rank).
    pub behind: Vec<String>,
}

impl GroupFigures {
    /// Who the rank is told against: `("delt med", "Aarhus")`,
    /// `("efter", "Aalborg")`, `("foran", "Randers")`, or none.
    fn neighbours(&self, rank: usize, ranked: usize) -> Option<(&'static str, String)> {
        let upper_half = rank * 2 <= ranked + 1;
        if !self.tied_with.is_empty() {
            Some(("delt med", list(&self.tied_with, "og")))
        } else if upper_half && !self.ahead.is_empty() {
            Some(("efter", list(&self.ahead, "og")))
        } else if !upper_half && !self.behind.is_empty() {
            Some(("foran", list(&self.behind, "og")))
        } else {
            None
        }
    }
}

/// The neighbours of several groups with one rank, as one phrase:
/// `, efter Aalborg`, `, efter henholdsvis Aalborg og Odense`.
fn neighbours_phrase(members: &[&GroupFigures], rank: usize, ranked: usize) -> String {
    let each: Vec<Option<(&str, String)>> =
        members.iter().map(|g| g.neighbours(rank, ranked)).collect();
    match each.as_slice() {
        [] | [None] => String::new(),
        [Some((word, names))] => format!(", {word} {names}"),
        _ => {
            let Some(all) = each.iter().cloned().collect::<Option<Vec<_>>>() else {
                return String::new();
            };
            let word = all[0].0;
            let names: Vec<String> = all.iter().map(|(_, n)| n.clone()).collect();
            if all.iter().any(|(w, _)| *w != word) {
                let phrases: Vec<String> = all.iter().map(|(w, n)| format!("{w} {n}")).collect();
                format!(", henholdsvis {}", list(&phrases, "og"))
            } else if names.iter().all(|n| *n == names[0]) {
                format!(", {word} {}", names[0])
            } else {
                format!(", {word} henholdsvis {}", list(&names, "og"))
            }
        }
    }
}

/// Who the sentences are about, and against whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `Jobcenter København`.
    pub jobcenter: String,
    /// The comparison set as prose, e.g. `landets 6 største kommuner`.
    pub comparison: String,
    /// How many areas the comparison set has, with or without a share.
    pub comparison_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Below,
    Above,
    Level,
    NoShare,
    NoCountry,
}

impl Relation {
    fn of(g: &GroupFigures) -> Relation {
        match (g.share, g.country) {
            (None, _) => Relation::NoShare,
            (Some(_), None) => Relation::NoCountry,
            (Some(s), Some(c)) => match tenths(s).cmp(&tenths(c)) {
                std::cmp::Ordering::Less => Relation::Below,
                std::cmp::Ordering::Greater => Relation::Above,
                std::cmp::Ordering::Equal => Relation::Level,
            },
        }
    }

    /// +1 good news, -1 bad news, 0 neither: decides where "Derimod" belongs.
    fn tone(self) -> i8 {
        match self {
            Relation::Above => 1,
            Relation::Below => -1,
            _ => 0,
        }
    }
}

fn tenths(share: f64) -> i64 {
    (share * 10.0).round() as i64
}

fn pct(values: &[f64]) -> String {
    let shown: Vec<String> = values.iter().map(|v| decimal(*v, 1)).collect();
    let joined = list(&shown, "og");
    if values.len() > 1 {
        format!("henholdsvis {joined} pct.")
    } else {
        format!("{joined} pct.")
    }
}

fn recipients(groups: &[&GroupFigures], joiner: &str) -> String {
    let names: Vec<String> = groups.iter().map(|g| g.recipients.clone()).collect();
    let joined = list(&names, joiner);
    if groups.len() > 1 && joiner == "samt" {
        format!("henholdsvis {joined}")
    } else {
        joined
    }
}

/// Group items by a key, keeping the order in which keys first appear.
fn grouped<K: PartialEq + Copy>(
    items: &[GroupFigures],
    key: impl Fn(&GroupFigures) -> Option<K>,
) -> Vec<(K, Vec<&GroupFigures>)> {
    let mut out: Vec<(K, Vec<&GroupFigures>)> = Vec::new();
    for item in items {
        let Some(k) = key(item) else { continue };
        match out.iter_mut().find(|(existing, _)| *existing == k) {
            Some((_, members)) => members.push(item),
            None => out.push((k, vec![item])),
        }
    }
    out
}

/// The sentences after the table, in reading order.
pub fn sentences(subject: &Subject, groups: &[GroupFigures]) -> Vec<String> {
    let mut out = Vec::new();
    let mut previous_tone = 0i8;
    // Whether the sentence before began with "Derimod": two in a row read
    // as a chain, so the second contrast is said plainly.
    let mut contrasted = false;
    let mut opening = true;
    for (relation, members) in grouped(groups, |g| Some(Relation::of(g))) {
        let shares: Vec<f64> = members.iter().filter_map(|g| g.share).collect();
        let countries: Vec<f64> = members.iter().filter_map(|g| g.country).collect();
        let position = match relation {
            Relation::Below => "under landsgennemsnittet",
            Relation::Above => "over landsgennemsnittet",
            Relation::Level => "på niveau med landsgennemsnittet",
            Relation::NoShare => {
                out.push(format!(
                    "For {} foreligger der ikke et tal, der kan vises, for {}.",
                    recipients(&members, "og"),
                    subject.jobcenter
                ));
                contrasted = false;
                continue;
            }
            Relation::NoCountry => {
                out.push(format!(
                    "For {} er afgangen {}; der foreligger ikke et landsgennemsnit at sammenligne med.",
                    recipients(&members, "og"),
                    pct(&shares)
                ));
                contrasted = false;
                continue;
            }
        };
        let figures = format!("{} mod {} for hele landet.", pct(&shares), pct(&countries));
        let tone = relation.tone();
        let contrast = !opening && tone != 0 && previous_tone == -tone && !contrasted;
        let sentence = if opening {
            format!(
                "Det fremgår, at {} fsv. angår {} ligger {position} med en afgang til job/uddannelse \
                 3 måneder efter endt virksomhedspraktik på {figures}",
                subject.jobcenter,
                recipients(&members, "og"),
            )
        } else {
            let lead = if contrast {
                "Derimod ligger kommunen"
            } else {
                "Kommunen ligger"
            };
            format!(
                "{lead} {position} for {} med {figures}",
                recipients(&members, "og")
            )
        };
        out.push(sentence);
        contrasted = contrast;
        opening = false;
        if tone != 0 {
            previous_tone = tone;
        }
    }

    let mut ranks = grouped(groups, |g| match (g.rank, g.share) {
        (Some(rank), Some(_)) if g.ranked >= 2 => Some((rank, g.tied_with.len(), g.ranked)),
        _ => None,
    });
    ranks.sort_by_key(|((rank, _, ranked), _)| (*rank, *ranked));
    for ((rank, _, ranked), members) in ranks {
        let word = rank_word(rank, ranked);
        let tone = if rank * 2 <= ranked {
            1
        } else if (ranked - rank + 1) * 2 <= ranked {
            -1
        } else {
            0
        };
        // A contrast, unless the sentence before was one already.
        let contrast = tone != 0 && previous_tone == -tone && !contrasted;
        let lead = if contrast {
            "Derimod har kommunen"
        } else {
            "Kommunen har"
        };
        contrasted = contrast;
        let among = if ranked < subject.comparison_size {
            format!("de {ranked} af {}, der har et tal", subject.comparison)
        } else {
            subject.comparison.clone()
        };
        let tie = neighbours_phrase(&members, rank, ranked);
        out.push(format!(
            "{lead} den {word} afgangseffekt til ordinært arbejde/uddannelse for {} blandt {among}{tie}.",
            recipients(&members, "samt"),
        ));
        if tone != 0 {
            previous_tone = tone;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            jobcenter: "Jobcenter København".into(),
            comparison: "landets 6 største kommuner".into(),
            comparison_size: 6,
        }
    }

    fn group(
        recipients: &str,
        share: Option<f64>,
        country: Option<f64>,
        rank: Option<usize>,
        ahead: &[&str],
        behind: &[&str],
    ) -> GroupFigures {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        GroupFigures {
            recipients: recipients.into(),
            share,
            country,
            rank,
            ranked: 6,
            tied_with: Vec::new(),
            ahead: names(ahead),
            behind: names(behind),
        }
    }

    fn letter_2020() -> Vec<GroupFigures> {
        vec![
            group(
                "de jobparate kontanthjælpsmodtagere",
                Some(14.8),
                Some(19.2),
                Some(5),
                &["Randers"],
                &["Odense"],
            ),
            group(
                "de aktivitetsparate kontanthjælpsmodtagere",
                Some(5.6),
                Some(5.0),
                Some(2),
                &["Aalborg"],
                &["København"],
            ),
            group(
                "dagpengemodtagerne",
                Some(33.0),
                Some(32.5),
                Some(2),
                &["Odense"],
                &["Esbjerg/Fanø"],
            ),
        ]
    }

    #[test]
    fn the_model_letters_judgements_come_out() {
        let text = sentences(&subject(), &letter_2020());
        assert_eq!(
            text[0],
            "Det fremgår, at Jobcenter København fsv. angår de jobparate kontanthjælpsmodtagere \
             ligger under landsgennemsnittet med en afgang til job/uddannelse 3 måneder efter endt \
             virksomhedspraktik på 14,8 pct. mod 19,2 pct. for hele landet."
        );
        assert_eq!(
            text[1],
            "Derimod ligger kommunen over landsgennemsnittet for de aktivitetsparate \
             kontanthjælpsmodtagere og dagpengemodtagerne med henholdsvis 5,6 og 33,0 pct. mod \
             henholdsvis 5,0 og 32,5 pct. for hele landet."
        );
        assert_eq!(
            text[2],
            "Kommunen har den næsthøjeste afgangseffekt til ordinært arbejde/uddannelse for \
             henholdsvis de aktivitetsparate kontanthjælpsmodtagere samt dagpengemodtagerne blandt \
             landets 6 største kommuner, efter henholdsvis Aalborg og Odense."
        );
        assert_eq!(
            text[3],
            "Derimod har kommunen den næstlaveste afgangseffekt til ordinært arbejde/uddannelse for \
             de jobparate kontanthjælpsmodtagere blandt landets 6 største kommuner, foran Odense."
        );
        assert_eq!(text.len(), 4);
    }

    #[test]
    fn equal_as_shown_is_level_not_above() {
        let text = sentences(
            &subject(),
            &[group(
                "dagpengemodtagerne",
                Some(32.54),
                Some(32.5),
                Some(1),
                &[],
                &["Aarhus"],
            )],
        );
        assert!(
            text[0].contains("ligger på niveau med landsgennemsnittet"),
            "{}",
            text[0]
        );
        assert!(text[1].contains("den højeste afgangseffekt"), "{}", text[1]);
    }

    #[test]
    fn ties_and_missing_values_are_said_honestly() {
        let mut groups = letter_2020();
        groups[1].tied_with = vec!["Aalborg".into()];
        groups[2].share = None;
        groups[2].rank = None;
        groups[0].ranked = 5;
        groups[0].behind.clear(); // the lowest of five now
        let text = sentences(&subject(), &groups).join(" ");
        assert!(text.contains("for de aktivitetsparate kontanthjælpsmodtagere blandt landets 6 største kommuner, delt med Aalborg."), "{text}");
        assert!(text.contains("For dagpengemodtagerne foreligger der ikke et tal, der kan vises, for Jobcenter København."), "{text}");
        assert!(
            text.contains("blandt de 5 af landets 6 største kommuner, der har et tal."),
            "{text}"
        );
        assert!(!text.contains("33,0"), "{text}");
    }

    #[test]
    fn derimod_never_twice_in_a_row() {
        let groups = [
            group("A", Some(40.0), Some(30.0), Some(1), &[], &["X"]),
            group("B", Some(10.0), Some(30.0), Some(6), &["Y"], &[]),
        ];
        let text = sentences(&subject(), &groups);
        assert!(
            text[1].starts_with("Derimod ligger kommunen under"),
            "{text:?}"
        );
        assert!(text[2].starts_with("Kommunen har den højeste"), "{text:?}");
        assert!(
            text[2].ends_with("blandt landets 6 største kommuner."),
            "{text:?}"
        );
        assert!(
            text[3].starts_with("Derimod har kommunen den laveste"),
            "{text:?}"
        );
    }

    #[test]
    fn no_rank_sentence_without_others_to_compare_with() {
        let mut groups = letter_2020();
        for g in &mut groups {
            g.ranked = 1;
        }
        let text = sentences(&subject(), &groups).join(" ");
        assert!(!text.contains("afgangseffekt"), "{text}");
    }
}
