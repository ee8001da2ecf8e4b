//! Demo person-level data: deterministic internships for every municipality,
//! 2019Q4–2024Q4, of the three types with their own outcomes, written as a
//! Danish case system exports them (`;`, decimal comma, Danish headers). The
//! same rows, at any count, feed `praktik demo generate` for the benchmark.

use std::io::Write;

use chrono::{Datelike, Duration, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::demo::size_of;
use super::demo_text::{Seed, push_number, push_period, push_signed};
use crate::area::{Area, Areas};
use crate::benefit::BenefitGroup;
use crate::internship::{InternshipType, Status};
use crate::period::Period;

/// The header a Danish case system writes.
pub const HEADER: &str = "Praktik_id;Person;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato;Branche;Timer pr. uge;Status 3 mdr;Status 6 mdr;Status 12 mdr";

const INDUSTRIES: [&str; 6] = [
    "Detailhandel",
    "Bygge og anlæg",
    "Transport",
    "Hotel og restauration",
    "Social og sundhed",
    "Industri",
];

pub fn first_period() -> Period {
    Period::new(2019, 4).expect("2019Q4 is a quarter")
}

pub fn last_period() -> Period {
    Period::new(2024, 4).expect("2024Q4 is a quarter")
}

/// Internships ended in a quarter in a municipality at the demo's scale.
fn count(area: &Area, period: Period) -> usize {
    let season = [0.95, 1.05, 0.9, 1.1][usize::from(period.quarter() - 1)];
    (size_of(area) / 630.0 * 300.0 * season).round().max(3.0) as usize
}

/// Pick from `(value, weight)` pairs.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, options: &[(T, f64)]) -> T {
    let total: f64 = options.iter().map(|o| o.1).sum();
    let mut x = rng.random::<f64>() * total;
    for (value, weight) in options {
        if x < *weight {
            return *value;
        }
        x -= weight;
    }
    options[options.len() - 1].0
}

/// Where a citizen of this type and group is `horizon` (0, 1, 2 = 3, 6, 12
/// months) after the end: each type reaches its own purpose.
fn status(
    rng: &mut ChaCha8Rng,
    kind: InternshipType,
    group: BenefitGroup,
    horizon: usize,
) -> Status {
    let ready = match group {
        BenefitGroup::Dagpenge => 1.5,
        BenefitGroup::KontanthjaelpJobparat | BenefitGroup::Uddannelseshjaelp => 1.0,
        _ => 0.5,
    };
    let t = horizon as f64;
    let options: [(Status, f64); 6] = match kind {
        InternshipType::Jobpraktik => [
            (Status::OrdinaryJob, (26.0 + 6.0 * t) * ready),
            (Status::Education, 7.0 + t),
            (Status::Fleksjob, 1.0),
            (Status::Foertidspension, 0.5),
            (Status::OnBenefit, 55.0 - 6.0 * t),
            (Status::Other, 6.0),
        ],
        InternshipType::Udviklingspraktik => [
            (Status::OrdinaryJob, (6.0 + 2.0 * t) * ready),
            (Status::Education, 4.0 + t),
            (Status::Fleksjob, 9.0 + 5.0 * t),
            (Status::Foertidspension, 5.0 + 3.0 * t),
            (Status::OnBenefit, 68.0 - 10.0 * t),
            (Status::Other, 8.0),
        ],
        InternshipType::Kompetencepraktik => [
            (Status::OrdinaryJob, (12.0 + 9.0 * t) * ready),
            (Status::Education, 9.0 + 3.0 * t),
            (Status::Fleksjob, 1.0),
            (Status::Foertidspension, 0.5),
            (Status::OnBenefit, 70.0 - 12.0 * t),
            (Status::Other, 7.0),
        ],
    };
    pick(rng, &options)
}

fn danish_status(status: Status) -> &'static str {
    match status {
        Status::OrdinaryJob => "Ordinær beskæftigelse",
        Status::Education => "Uddannelse",
        Status::Fleksjob => "Fleksjob",
        Status::Foertidspension => "Førtidspension",
        Status::OnBenefit => "På ydelse",
        Status::Other => "Andet",
    }
}

/// `d` as a Danish export writes it: 31-12-2024.
fn write_date(out: &mut Vec<u8>, d: NaiveDate) {
    push_number(out, u64::from(d.day()), 2);
    out.push(b'-');
    push_number(out, u64::from(d.month()), 2);
    out.push(b'-');
    push_signed(out, i64::from(d.year()));
}

/// The hours a week an internship may have, as a Danish export writes them.
const HOURS: [&str; 6] = ["15,0", "18,5", "20,0", "25,0", "30,0", "37,0"];

/// One internship, the `index`th of its municipality and quarter, as a CSV
/// line (without its line end) at the end of `out`.
fn push_line(out: &mut Vec<u8>, area: &Area, period: Period, index: usize, people: usize) {
    let mut rng = Seed::new()
        .part("internship")
        .part(&area.code)
        .period(period)
        .number(index as u64)
        .rng();
    let kind = pick(
        &mut rng,
        &[
            (InternshipType::Jobpraktik, 0.5),
            (InternshipType::Udviklingspraktik, 0.3),
            (InternshipType::Kompetencepraktik, 0.2),
        ],
    );
    let group = pick(
        &mut rng,
        &[
            (BenefitGroup::KontanthjaelpJobparat, 0.30),
            (BenefitGroup::KontanthjaelpAktivitetsparat, 0.25),
            (BenefitGroup::Dagpenge, 0.20),
            (BenefitGroup::Uddannelseshjaelp, 0.10),
            (BenefitGroup::Integrationsydelse, 0.06),
            (BenefitGroup::Sygedagpenge, 0.04),
            (BenefitGroup::Ressourceforloeb, 0.05),
        ],
    );
    let first_day = NaiveDate::from_ymd_opt(
        i32::from(period.year()),
        u32::from(period.quarter() - 1) * 3 + 1,
        1,
    )
    .unwrap_or_default();
    let end = first_day + Duration::days(rng.random_range(0..90));
    let start = end - Duration::weeks(rng.random_range(4..14));
    let hours = HOURS[rng.random_range(0..HOURS.len())];
    let person = rng.random_range(0..people);
    let statuses = [0, 1, 2].map(|h| danish_status(status(&mut rng, kind, group, h)));
    let code = &area.code;
    // {code}-{period}-{index:05};P{code}-{person:06};{code};{group};{kind};
    out.extend_from_slice(code.as_bytes());
    out.push(b'-');
    push_period(out, period);
    out.push(b'-');
    push_number(out, index as u64, 5);
    out.extend_from_slice(b";P");
    out.extend_from_slice(code.as_bytes());
    out.push(b'-');
    push_number(out, person as u64, 6);
    for text in [code, group.code(), kind.code()] {
        out.push(b';');
        out.extend_from_slice(text.as_bytes());
    }
    out.push(b';');
    write_date(out, start);
    out.push(b';');
    write_date(out, end);
    let industry = INDUSTRIES[rng.random_range(0..INDUSTRIES.len())];
    for text in [industry, hours, statuses[0], statuses[1], statuses[2]] {
        out.push(b';');
        out.extend_from_slice(text.as_bytes());
    }
}

/// The demo's person-level extract for one quarter.
pub fn extract_csv(period: Period) -> Vec<u8> {
    let counts: Vec<(&Area, usize)> = Areas::builtin()
        .municipalities()
        .map(|area| (area, count(area, period)))
        .collect();
    // A line is ~150 bytes; room for longer names.
    let lines: usize = counts.iter().map(|(_, n)| n).sum();
    let mut out = Vec::with_capacity(HEADER.len() + 1 + 192 * lines);
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    for (area, n) in counts {
        for i in 0..n {
            push_line(&mut out, area, period, i, n * 3);
            out.push(b'\n');
        }
    }
    out
}

/// Write `rows` demo internships as Danish CSV, spread over municipalities
/// and quarters in the demo's proportions (for the benchmark).
pub fn generate_csv(rows: usize, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{HEADER}")?;
    let areas: Vec<&Area> = Areas::builtin().municipalities().collect();
    let periods: Vec<Period> = first_period().through(last_period()).collect();
    let cells: Vec<(Period, &Area, usize)> = periods
        .iter()
        .flat_map(|p| areas.iter().map(move |a| (*p, *a, count(a, *p))))
        .collect();
    let total: usize = cells.iter().map(|c| c.2).sum();
    // Each cell gets its share of `rows`; the rounding remainder goes to the first cells.
    let scaled: Vec<usize> = cells.iter().map(|c| c.2 * rows / total.max(1)).collect();
    let mut remainder = rows - scaled.iter().sum::<usize>();
    let mut line = Vec::new();
    for ((period, area, _), n) in cells.iter().zip(scaled) {
        let n = n + usize::from(remainder > 0);
        remainder = remainder.saturating_sub(1);
        for i in 0..n {
            line.clear();
            push_line(&mut line, area, *period, i, n * 3);
            line.push(b'\n');
            out.write_all(&line)?;
        }
    }
    Ok(())
}

/// Write `rows` demo internships as Parquet with typed columns (dates as
/// dates, hours as numbers, English column names), in row groups of `chunk`.
pub fn generate_parquet(rows: usize, out: std::fs::File) -> Result<(), String> {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Date32Array, Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::ArrowWriter;

    const CHUNK: usize = 262_144;
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let schema = Arc::new(Schema::new(vec![
        text("internship_id"),
        text("person_key"),
        text("municipality_code"),
        text("benefit_group"),
        text("internship_type"),
        Field::new("start_date", DataType::Date32, true),
        Field::new("end_date", DataType::Date32, true),
        text("industry"),
        Field::new("hours_per_week", DataType::Float64, true),
        text("status_3m"),
        text("status_6m"),
        text("status_12m"),
    ]));
    let mut writer = ArrowWriter::try_new(out, schema.clone(), None).map_err(|e| e.to_string())?;
    let mut csv = Vec::new();
    generate_csv(rows, &mut csv).map_err(|e| e.to_string())?;
    let text = String::from_utf8(csv).map_err(|e| e.to_string())?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let day = |s: &str| {
        NaiveDate::parse_from_str(s, "%d-%m-%Y")
            .map(|d| (d - epoch).num_days() as i32)
            .ok()
    };
    let status = |s: &str| s.parse::<Status>().map(Status::code).ok();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    for chunk in lines.chunks(CHUNK) {
        let cells: Vec<Vec<&str>> = chunk.iter().map(|l| l.split(';').collect()).collect();
        let strings = |i: usize| -> ArrayRef {
            Arc::new(StringArray::from(
                cells.iter().map(|c| Some(c[i])).collect::<Vec<_>>(),
            ))
        };
        let columns: Vec<ArrayRef> = vec![
            strings(0),
            strings(1),
            strings(2),
            strings(3),
            strings(4),
            Arc::new(Date32Array::from(
                cells.iter().map(|c| day(c[5])).collect::<Vec<_>>(),
            )),
            Arc::new(Date32Array::from(
                cells.iter().map(|c| day(c[6])).collect::<Vec<_>>(),
            )),
            strings(7),
            Arc::new(Float64Array::from(
                cells
                    .iter()
                    .map(|c| c[8].replace(',', ".").parse().ok())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                cells.iter().map(|c| status(c[9])).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                cells.iter().map(|c| status(c[10])).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                cells.iter().map(|c| status(c[11])).collect::<Vec<_>>(),
            )),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_has_every_type() {
        let p = Period::new(2022, 2).unwrap();
        let a = String::from_utf8(extract_csv(p)).unwrap();
        assert_eq!(a.as_bytes(), extract_csv(p));
        for kind in InternshipType::ALL {
            assert!(a.contains(&format!(";{};", kind.code())));
        }
        assert!(a.lines().count() > 1000);
    }

    #[test]
    fn generates_exactly_the_rows_asked_for() {
        let mut out = Vec::new();
        generate_csv(12_345, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 12_345 + 1);
        let ids: std::collections::HashSet<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split(';').next().unwrap())
            .collect();
        assert_eq!(ids.len(), 12_345, "ids are unique");
    }
}
