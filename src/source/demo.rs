//! The built-in demo source: deterministic synthetic outcomes for every area
//! and benefit group, 2016Q1–2024Q4, needing no network and no token.
//!
//! Counts are drawn per municipality from a seeded generator (size, season,
//! trend, a local effect and noise); jobcentre and country rows are sums of
//! their municipalities, so every row's share agrees with its counts. In
//! 2019Q3 the rows of the model letter's Table 1 are solved for, so that they
//! round to exactly the printed figures while every sum still holds.

use std::collections::HashMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::demo_text::{Seed, push_period, push_signed, rng_for};
use crate::area::{Area, AreaKind, Areas};
use crate::benefit::BenefitGroup;
use crate::period::Period;
use crate::validate::OUTCOME_COLUMNS;

pub fn first_period() -> Period {
    Period::new(2016, 1).expect("2016Q1 is a quarter")
}

pub fn last_period() -> Period {
    Period::new(2024, 4).expect("2024Q4 is a quarter")
}

/// The quarter the model letter is about, and its Table 1 (shares in
/// percent, as printed): area, then jobparat, aktivitetsparat, dagpenge.
const LETTER_PERIOD: (u16, u8) = (2019, 3);
const LETTER_TABLE: [(&str, [f64; 3]); 7] = [
    ("000", [19.2, 5.0, 32.5]),
    ("101", [14.8, 5.6, 33.0]),
    ("751", [24.0, 3.6, 29.8]),
    ("851", [21.7, 9.2, 30.7]),
    ("461", [13.0, 3.0, 35.6]),
    ("561/563", [18.9, 3.8, 30.8]),
    ("730", [21.4, 5.3, 16.7]),
];
const LETTER_GROUPS: [BenefitGroup; 3] = [
    BenefitGroup::KontanthjaelpJobparat,
    BenefitGroup::KontanthjaelpAktivitetsparat,
    BenefitGroup::Dagpenge,
];

/// Ended internships in the whole country in an ordinary quarter, and the
/// typical share in work or education 3 months after, per benefit group.
fn national_level(group: BenefitGroup) -> (f64, f64) {
    match group {
        BenefitGroup::KontanthjaelpJobparat => (40_000.0, 19.0),
        BenefitGroup::KontanthjaelpAktivitetsparat => (28_000.0, 5.0),
        BenefitGroup::Dagpenge => (35_000.0, 32.0),
        BenefitGroup::Uddannelseshjaelp => (15_000.0, 24.0),
        BenefitGroup::Integrationsydelse => (9_000.0, 16.0),
        BenefitGroup::Sygedagpenge => (12_000.0, 21.0),
        BenefitGroup::Ressourceforloeb => (4_000.0, 4.0),
        BenefitGroup::Ledighedsydelse => (3_000.0, 18.0),
        BenefitGroup::Jobafklaringsforloeb => (2_500.0, 5.0),
    }
}

/// Rough population (thousands) of the large municipalities; the others get
/// a seeded size around a typical municipality's.
fn known_size(code: &str) -> Option<f64> {
    Some(match code {
        "101" => 630.0,
        "751" => 350.0,
        "851" => 217.0,
        "461" => 205.0,
        "561" => 116.0,
        "563" => 3.5,
        "730" => 98.0,
        "147" => 104.0,
        "621" => 97.0,
        "630" => 117.0,
        "657" => 90.0,
        "791" => 98.0,
        "825" => 1.8,
        _ => return None,
    })
}

/// One generated row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counts {
    ended: i64,
    in_work: i64,
}

impl Counts {
    fn add(self, other: Counts) -> Counts {
        Counts {
            ended: self.ended + other.ended,
            in_work: self.in_work + other.in_work,
        }
    }

    /// The share in tenths of a percent, rounded half up; `None` for no ended.
    fn share_tenths(self) -> Option<i64> {
        (self.ended > 0).then(|| (self.in_work * 2000 + self.ended) / (2 * self.ended))
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

pub(super) fn size_of(area: &Area) -> f64 {
    known_size(&area.code).unwrap_or_else(|| {
        (45.0 * (0.55 * normal(&mut rng_for(&["size", &area.code]))).exp()).clamp(2.0, 90.0)
    })
}

/// What happened to internships in a quarter: season, trend, and the
/// pause of spring 2020.
fn quarter_effect(period: Period) -> (f64, f64) {
    let years = f64::from(period.year()) - 2016.0 + f64::from(period.quarter() - 1) / 4.0;
    let season = [0.95, 1.05, 0.9, 1.1][usize::from(period.quarter() - 1)];
    let (volume, share_shift) = match (period.year(), period.quarter()) {
        (2020, 2) => (0.35, -4.0),
        (2020, 3) => (0.75, -1.5),
        _ => (1.0, 0.0),
    };
    (
        season * volume * (1.0 + 0.02 * years),
        share_shift + 0.25 * years,
    )
}

/// `size` is `size_of(area)`, `total_size` the sum over all municipalities.
fn generate_municipality(
    area: &Area,
    group: BenefitGroup,
    period: Period,
    (size, total_size): (f64, f64),
) -> Counts {
    let (national_ended, national_share) = national_level(group);
    let (volume, share_shift) = quarter_effect(period);
    let local = {
        let mut rng = rng_for(&["local", &area.code, group.code()]);
        (
            1.0 + 0.25 * normal(&mut rng),
            0.2 * national_share * normal(&mut rng),
        )
    };
    let mut rng = Seed::new()
        .part("cell")
        .part(&area.code)
        .part(group.code())
        .period(period)
        .rng();
    let ended = national_ended * size / total_size
        * volume
        * local.0.max(0.3)
        * (1.0 + 0.08 * normal(&mut rng));
    let ended = ended.round().max(0.0) as i64;
    let share = (national_share + local.1 + share_shift + 0.06 * national_share * normal(&mut rng))
        .clamp(0.5, 95.0);
    let in_work = ((ended as f64) * share / 100.0).round() as i64;
    Counts {
        ended,
        in_work: in_work.clamp(0, ended),
    }
}

/// Smallest change to `base` (more ended, then the in-work count that fits)
/// so that `fixed + change` rounds to `target_tenths`.
fn solve(base: Counts, fixed: Counts, target_tenths: i64) -> Counts {
    let mut ended = base.ended.max(50);
    loop {
        let total_ended = ended + fixed.ended;
        let ideal = (target_tenths * total_ended + 500) / 1000 - fixed.in_work;
        for in_work in [ideal, ideal - 1, ideal + 1] {
            let own = Counts { ended, in_work };
            if (0..=ended).contains(&in_work)
                && own.add(fixed).share_tenths() == Some(target_tenths)
            {
                return own;
            }
        }
        ended += 1;
    }
}

/// Move the in-work counts of `free` municipalities so that the country total
/// rounds to `target_tenths`, spreading the change by size.
fn steer_country(cells: &mut [(String, Counts)], free: &dyn Fn(&str) -> bool, target_tenths: i64) {
    let total = cells.iter().fold(Counts::default(), |a, (_, c)| a.add(*c));
    let wanted = (target_tenths * total.ended + 500) / 1000;
    let wanted = [wanted, wanted - 1, wanted + 1]
        .into_iter()
        .find(|w| {
            Counts {
                ended: total.ended,
                in_work: *w,
            }
            .share_tenths()
                == Some(target_tenths)
        })
        .unwrap_or(wanted);
    let mut missing = wanted - total.in_work;
    let free_ended: i64 = cells
        .iter()
        .filter(|(c, _)| free(c))
        .map(|(_, c)| c.ended)
        .sum();
    if free_ended == 0 {
        return;
    }
    let delta = missing;
    for (_, counts) in cells.iter_mut().filter(|(c, _)| free(c)) {
        let step = (delta * counts.ended / free_ended)
            .clamp(-counts.in_work, counts.ended - counts.in_work);
        counts.in_work += step;
        missing -= step;
    }
    while missing != 0 {
        let before = missing;
        for (_, counts) in cells.iter_mut().filter(|(c, _)| free(c)) {
            let step = missing.signum();
            if missing != 0 && (0..=counts.ended).contains(&(counts.in_work + step)) {
                counts.in_work += step;
                missing -= step;
            }
        }
        if missing == before {
            break;
        }
    }
}

/// The municipalities' counts for one period and group; `sizes` are their
/// [`size_of`], in the order of `areas.municipalities()`.
fn municipality_counts(
    areas: &Areas,
    group: BenefitGroup,
    period: Period,
    sizes: &[f64],
) -> Vec<(String, Counts)> {
    let total_size: f64 = sizes.iter().sum();
    let mut cells: Vec<(String, Counts)> = areas
        .municipalities()
        .zip(sizes)
        .map(|(a, size)| {
            (
                a.code.clone(),
                generate_municipality(a, group, period, (*size, total_size)),
            )
        })
        .collect();
    let Some(column) = LETTER_GROUPS.iter().position(|g| *g == group) else {
        return cells;
    };
    if (period.year(), period.quarter()) != LETTER_PERIOD {
        return cells;
    }
    let tenths = |share: f64| (share * 10.0).round() as i64;
    let get = |cells: &[(String, Counts)], code: &str| {
        cells
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, n)| *n)
            .unwrap_or_default()
    };
    let mut pinned: Vec<&str> = Vec::new();
    for (code, shares) in LETTER_TABLE {
        let Some(area) = areas.by_code(code) else {
            continue;
        };
        if area.kind == AreaKind::Land {
            continue;
        }
        // Solve the first member; the others keep their generated counts.
        // An area without members has nothing to solve.
        let Some((first, rest)) = area.members.split_first() else {
            continue;
        };
        let fixed = rest
            .iter()
            .fold(Counts::default(), |a, m| a.add(get(&cells, m)));
        let solved = solve(get(&cells, first), fixed, tenths(shares[column]));
        if let Some(cell) = cells.iter_mut().find(|(c, _)| c == first) {
            cell.1 = solved;
        }
        pinned.extend(area.members.iter().map(String::as_str));
    }
    let country_share = LETTER_TABLE[0].1[column];
    steer_country(
        &mut cells,
        &|code| !pinned.contains(&code),
        tenths(country_share),
    );
    cells
}

/// The demo extract for one quarter, as the CSV that `validate::outcomes` reads.
pub fn extract_csv(period: Period) -> Vec<u8> {
    let areas = Areas::builtin();
    let mut out = Vec::with_capacity(64 * areas.iter().count() * BenefitGroup::ALL.len());
    out.extend_from_slice(OUTCOME_COLUMNS.join(",").as_bytes());
    out.push(b'\n');
    let sizes: Vec<f64> = areas.municipalities().map(size_of).collect();
    let by_group: Vec<(BenefitGroup, Vec<(String, Counts)>)> = BenefitGroup::ALL
        .into_iter()
        .map(|group| (group, municipality_counts(areas, group, period, &sizes)))
        .collect();
    // Each group's counts by municipality code (an area sums its members').
    let by_code: HashMap<(BenefitGroup, &str), Counts> = by_group
        .iter()
        .flat_map(|(group, cells)| cells.iter().map(|(c, n)| ((*group, c.as_str()), *n)))
        .collect();
    for area in areas.iter() {
        for group in BenefitGroup::ALL {
            let counts = area.members.iter().fold(Counts::default(), |acc, m| {
                acc.add(
                    by_code
                        .get(&(group, m.as_str()))
                        .copied()
                        .unwrap_or_default(),
                )
            });
            push_period(&mut out, period);
            for text in [&area.code, &area.name, group.code()] {
                out.push(b',');
                out.extend_from_slice(text.as_bytes());
            }
            for count in [counts.ended, counts.in_work] {
                out.push(b',');
                push_signed(&mut out, count);
            }
            out.push(b',');
            if let Some(tenths) = counts.share_tenths() {
                push_signed(&mut out, tenths / 10);
                out.push(b'.');
                push_signed(&mut out, tenths % 10);
            }
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(period: Period) -> Vec<Vec<String>> {
        String::from_utf8(extract_csv(period))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }

    fn find<'a>(rows: &'a [Vec<String>], code: &str, group: &str) -> &'a [String] {
        rows.iter().find(|r| r[1] == code && r[3] == group).unwrap()
    }

    #[test]
    fn is_deterministic() {
        let p = Period::new(2021, 2).unwrap();
        assert_eq!(extract_csv(p), extract_csv(p));
    }

    #[test]
    fn table_1_of_the_letter_comes_out_exactly() {
        let rows = rows(Period::new(2019, 3).unwrap());
        let groups = LETTER_GROUPS.map(|g| g.code());
        for (code, shares) in LETTER_TABLE {
            for (group, share) in groups.iter().zip(shares) {
                let row = find(&rows, code, group);
                assert_eq!(row[6], format!("{share:.1}"), "{code} {group}");
            }
        }
    }

    #[test]
    fn sums_and_shares_agree_in_every_period() {
        let areas = Areas::builtin();
        for period in [
            Period::new(2016, 1).unwrap(),
            Period::new(2019, 3).unwrap(),
            last_period(),
        ] {
            let rows = rows(period);
            assert_eq!(rows.len(), areas.iter().count() * BenefitGroup::ALL.len());
            for group in BenefitGroup::ALL.map(|g| g.code()) {
                for area in areas.iter().filter(|a| a.kind != AreaKind::Kommune) {
                    let row = find(&rows, &area.code, group);
                    let sum = |col: usize| -> i64 {
                        area.members
                            .iter()
                            .map(|m| find(&rows, m, group)[col].parse::<i64>().unwrap())
                            .sum()
                    };
                    assert_eq!(
                        row[4].parse::<i64>().unwrap(),
                        sum(4),
                        "{} {group}",
                        area.code
                    );
                    assert_eq!(
                        row[5].parse::<i64>().unwrap(),
                        sum(5),
                        "{} {group}",
                        area.code
                    );
                }
            }
            for row in &rows {
                let ended: f64 = row[4].parse().unwrap();
                let in_work: f64 = row[5].parse().unwrap();
                if ended > 0.0 {
                    let share: f64 = row[6].parse().unwrap();
                    assert!(
                        (share - 100.0 * in_work / ended).abs() <= 0.05 + 1e-9,
                        "{row:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn sizes_differ_and_spring_2020_is_a_dip() {
        let rows19 = rows(Period::new(2019, 2).unwrap());
        let rows20 = rows(Period::new(2020, 2).unwrap());
        let ended =
            |rows: &[Vec<String>], code| find(rows, code, "dagpenge")[4].parse::<i64>().unwrap();
        assert!(ended(&rows19, "101") > 10 * ended(&rows19, "563"));
        assert!(ended(&rows20, "000") < ended(&rows19, "000") / 2);
    }
}
