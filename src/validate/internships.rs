//! Checking a person-level extract from a municipality's case system, row
//! by row as it streams in ([`super::person_rows`]), into Arrow batches of
//! the `internships` table. Every cell is checked; a CPR number is never
//! stored (the landing screen replaced it, and a value that still looks like
//! one becomes an HMAC-SHA-256 with the secret salt, or rejects the extract).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Builder, Float64Builder, StringBuilder};
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, Months, NaiveDate};

use super::Place;
use super::ValidateError;
use super::person_rows::{COLUMNS, Cells, Flow, for_each_row};
use crate::area::{Area, AreaKind, Areas};
use crate::benefit::BenefitGroup;
use crate::internship::{InternshipType, Status};
use crate::land::Landed;
use crate::period::Period;
use crate::privacy::cpr::{contains_cpr, is_cpr, is_pseudonym, pseudonym};
use crate::schema;

/// The secret for pseudonymous person keys.
use crate::privacy::SALT_ENV;

/// Rows per Arrow batch handed on while an extract streams through.
pub const BATCH_ROWS: usize = 65_536;

/// What a whole extract held, once every row passed.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub rows: usize,
    /// How many rows each quarter got.
    pub rows_by_period: BTreeMap<Period, usize>,
}

impl Summary {
    /// The quarters the rows cover.
    pub fn periods(&self) -> impl Iterator<Item = Period> + '_ {
        self.rows_by_period.keys().copied()
    }
}

/// `2024-05-31` or `31-05-2024`.
fn date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (year, month, day) = if b[4] == b'-' && b[7] == b'-' {
        (num(0..4)?, num(5..7)?, num(8..10)?)
    } else if b[2] == b'-' && b[5] == b'-' {
        (num(6..10)?, num(3..5)?, num(0..2)?)
    } else {
        return None;
    };
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

/// Hours per week, `18,5` or `18.5`, between 0 and 80.
fn hours(text: &str) -> Option<f64> {
    // A decimal comma becomes a point in a buffer on the stack.
    let mut buffer = [0u8; 24];
    let bytes = text.as_bytes();
    let copy = buffer.get_mut(..bytes.len())?;
    for (to, from) in copy.iter_mut().zip(bytes) {
        *to = if *from == b',' { b'.' } else { *from };
    }
    std::str::from_utf8(copy)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|h| (0.0..=80.0).contains(h))
}

/// Days since 1970-01-01 (Arrow's `Date32`): the date's day number since
/// the start of the common era, less 1970-01-01's (cheaper than
/// subtracting dates, on the checking thread's path for every row).
fn days(d: NaiveDate) -> i32 {
    /// `NaiveDate::from_ymd(1970, 1, 1).num_days_from_ce()`.
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    d.num_days_from_ce() - UNIX_EPOCH_FROM_CE
}

/// Parsed values by their text: a column such as the benefit group holds a
/// handful of distinct values, so each is parsed once.
struct Memo<T> {
    seen: HashMap<Box<str>, T, ahash::RandomState>,
}

impl<T: Copy> Memo<T> {
    fn new() -> Memo<T> {
        Memo {
            seen: HashMap::default(),
        }
    }

    fn get<E>(&mut self, text: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, E> {
        if let Some(value) = self.seen.get(text) {
            return Ok(*value);
        }
        let value = parse(text)?;
        // Bounded: a column of many distinct values is parsed every time.
        if self.seen.len() < 4096 {
            self.seen.insert(text.into(), value);
        }
        Ok(value)
    }
}

/// The `internships` columns being filled for the next batch.
struct Builders {
    period: StringBuilder,
    id: StringBuilder,
    person: StringBuilder,
    municipality: StringBuilder,
    group: StringBuilder,
    kind: StringBuilder,
    start: Date32Builder,
    end: Date32Builder,
    industry: StringBuilder,
    hours: Float64Builder,
    status: [StringBuilder; 3],
    rows: usize,
    /// The provenance columns of the first batch, the same in every row; a
    /// batch takes a slice of them.
    provenance: Option<[ArrayRef; 3]>,
}

impl Builders {
    /// Builders with room for `rows` rows (at most a batch).
    fn new(rows: usize) -> Builders {
        let rows = rows.clamp(1, BATCH_ROWS);
        let text = || StringBuilder::with_capacity(rows, rows * 8);
        Builders {
            period: text(),
            id: text(),
            person: text(),
            municipality: text(),
            group: text(),
            kind: text(),
            start: Date32Builder::with_capacity(rows),
            end: Date32Builder::with_capacity(rows),
            industry: text(),
            hours: Float64Builder::with_capacity(rows),
            status: std::array::from_fn(|_| text()),
            rows: 0,
            provenance: None,
        }
    }

    fn finish(&mut self, extract: &Landed) -> Result<RecordBatch, ValidateError> {
        // The next batch starts with a full batch's room again (a builder
        // is left with none by `finish`, and growing it back by doubling
        // would copy every cell once more) when this one was full.
        let mut full = std::mem::replace(self, Builders::new(self.rows));
        self.provenance = full.provenance.take();
        let rows = full.rows;
        let [s3, s6, s12] = &mut full.status;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(full.period.finish()),
            Arc::new(full.id.finish()),
            Arc::new(full.person.finish()),
            Arc::new(full.municipality.finish()),
            Arc::new(full.group.finish()),
            Arc::new(full.kind.finish()),
            Arc::new(full.start.finish()),
            Arc::new(full.end.finish()),
            Arc::new(full.industry.finish()),
            Arc::new(full.hours.finish()),
            Arc::new(s3.finish()),
            Arc::new(s6.finish()),
            Arc::new(s12.finish()),
        ];
        // Built for the first batch: a full one, or the only one (an
        // extract of a few thousand rows does not build 65,536 copies of
        // its SHA-256). Every later batch is no longer than the first.
        let provenance = self
            .provenance
            .get_or_insert_with(|| super::provenance_columns(extract, rows));
        columns.extend(provenance.iter().map(|c| c.slice(0, rows)));
        RecordBatch::try_new(schema::internships(), columns).map_err(|e| ValidateError::Shape {
            input: extract.input.clone(),
            expected: format!("rows for the internships table ({e})"),
        })
    }
}

/// Checks one row after another and fills the builders.
struct Checker<'a> {
    extract: &'a Landed,
    salt: Option<&'a str>,
    as_of: NaiveDate,
    as_of_days: i32,
    areas: &'static Areas,
    /// A 64-bit hash of every id, in row order; sorted at the end, a
    /// repeated hash is confirmed against the ids themselves. (A hash set
    /// would find repeats at once, but at millions of rows each insert is a
    /// cache miss; appending and one sort are several times cheaper.)
    id_hashes: Vec<u64>,
    municipalities: Memo<&'static Area>,
    groups: Memo<BenefitGroup>,
    kinds: Memo<InternshipType>,
    statuses: Memo<Status>,
    labels: BTreeMap<Period, String>,
    summary: Summary,
    builders: Builders,
}

impl Checker<'_> {
    fn row(&mut self, place: Place, cells: &Cells<'_>) -> Result<(), ValidateError> {
        let input = self.extract.input.as_str();
        let cpr = |i: usize| ValidateError::Cpr {
            input: input.into(),
            place: place.to_string(),
            column: COLUMNS[i].0,
            salt_env: SALT_ENV,
        };
        // The id, the person and the free-text industry may identify a
        // person: an error names their line and column, never their value.
        // A cell that fails its check because it holds a CPR number says so.
        let bad = |i: usize, expected: String| {
            if i != 1 && contains_cpr(cells[i]) {
                return cpr(i);
            }
            ValidateError::Cell {
                input: input.into(),
                place: place.to_string(),
                column: COLUMNS[i].0,
                value: if matches!(i, 0 | 1 | 7) && !cells[i].is_empty() {
                    "(not shown)".into()
                } else {
                    cells[i].to_string()
                },
                expected,
            }
        };
        let id = cells[0];
        if id.is_empty() {
            return Err(bad(0, "every internship needs an id".into()));
        }
        // Only the id and the industry are stored as written. Every other
        // cell becomes a code from a closed list, a date or a number of
        // hours up to 80, so a CPR number there fails its check (and `bad`
        // names it); the person column is screened below.
        for i in [0, 7] {
            if contains_cpr(cells[i]) {
                return Err(cpr(i));
            }
        }
        self.id_hashes.push(ID_HASH.hash_one(id));
        let person = cells[1];
        let pseudonymous;
        let person = if is_cpr(person) || (contains_cpr(person) && !is_pseudonym(person.as_bytes()))
        {
            let salt = self
                .salt
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ValidateError::Cpr {
                    input: input.into(),
                    place: place.to_string(),
                    column: COLUMNS[1].0,
                    salt_env: SALT_ENV,
                })?;
            pseudonymous = pseudonym(salt, person.as_bytes());
            pseudonymous.as_str()
        } else if person.is_empty() {
            return Err(bad(1, "every internship needs a person key".into()));
        } else {
            person
        };
        let areas = self.areas;
        let municipality = self
            .municipalities
            .get(cells[2], |text| {
                areas
                    .find(text)
                    .filter(|a| a.kind == AreaKind::Kommune)
                    .ok_or(())
            })
            .map_err(|()| bad(2, "a municipality code such as 101, or its name".into()))?;
        let group = self
            .groups
            .get(cells[3], str::parse::<BenefitGroup>)
            .map_err(|e| bad(3, e.to_string()))?;
        let kind = self
            .kinds
            .get(cells[4], str::parse::<InternshipType>)
            .map_err(|e| bad(4, e.to_string()))?;
        let start = date(cells[5])
            .ok_or_else(|| bad(5, "a date such as 2024-05-31 or 31-05-2024".into()))?;
        let end = date(cells[6])
            .ok_or_else(|| bad(6, "a date such as 2024-05-31 or 31-05-2024".into()))?;
        if end < start {
            return Err(bad(
                6,
                format!("the internship cannot end before it starts ({start})"),
            ));
        }
        let period = Period::new(end.year() as u16, ((end.month0() / 3) + 1) as u8)
            .ok_or_else(|| bad(6, "a date between 1990 and 2100".into()))?;
        if let Some(asked) = self.extract.period
            && period != asked
        {
            return Err(bad(
                6,
                format!("the extract was pulled for {asked}, and this ended in {period}"),
            ));
        }
        let hours = match cells[8] {
            "" => None,
            text => Some(hours(text).ok_or_else(|| {
                bad(
                    8,
                    "hours per week between 0 and 80, such as 15 or 18,5".into(),
                )
            })?),
        };
        let end_days = days(end);
        let mut status: [Option<&'static str>; 3] = [None; 3];
        for (k, months) in [3u32, 6, 12].into_iter().enumerate() {
            let i = 9 + k;
            if cells[i].is_empty() {
                continue;
            }
            // Adding `months` adds at most 31 days a month: most internships
            // ended long enough ago to skip the calendar.
            let long_ago = end_days + 31 * months as i32 <= self.as_of_days;
            if !long_ago {
                let known_from = end.checked_add_months(Months::new(months)).unwrap_or(end);
                if known_from > self.as_of {
                    return Err(bad(
                        i,
                        format!(
                            "a status {months} months after an internship that ended {end} cannot be known before {known_from}"
                        ),
                    ));
                }
            }
            let value = self
                .statuses
                .get(cells[i], str::parse::<Status>)
                .map_err(|e| bad(i, e.to_string()))?;
            status[k] = Some(value.code());
        }

        *self.summary.rows_by_period.entry(period).or_default() += 1;
        self.summary.rows += 1;
        let label = self
            .labels
            .entry(period)
            .or_insert_with(|| period.to_string());
        let b = &mut self.builders;
        b.period.append_value(label);
        b.id.append_value(id);
        b.person.append_value(person);
        b.municipality.append_value(&municipality.code);
        b.group.append_value(group.code());
        b.kind.append_value(kind.code());
        b.start.append_value(days(start));
        b.end.append_value(end_days);
        b.industry
            .append_option(Some(cells[7]).filter(|s| !s.is_empty()));
        b.hours.append_option(hours);
        for (column, value) in b.status.iter_mut().zip(status) {
            column.append_option(value);
        }
        b.rows += 1;
        Ok(())
    }
}

/// Ids hash alike in every run, so that a rare pair of ids whose hashes meet
/// is reproducible.
const ID_HASH: ahash::RandomState = ahash::RandomState::with_seeds(1, 2, 3, 4);

/// The first id that appears twice, if any: the hashes of all ids are
/// sorted to find repeated hashes, and the rows holding those are read again
/// to compare the ids themselves.
fn check_unique_ids(extract: &Landed, mut hashes: Vec<u64>) -> Result<(), ValidateError> {
    hashes.sort_unstable();
    let mut repeated: HashSet<u64> = hashes
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    drop(hashes);
    if repeated.is_empty() {
        return Ok(());
    }
    let mut first: HashMap<String, Place> = HashMap::new();
    let mut found = None;
    for_each_row(extract, &mut |place, cells| {
        let id = cells[0];
        if !repeated.contains(&ID_HASH.hash_one(id)) {
            return Ok(ControlFlow::Continue(()));
        }
        if let Some(earlier) = first.get(id) {
            found = Some((place, *earlier));
            return Ok(ControlFlow::Break(()));
        }
        first.insert(id.to_string(), place);
        Ok(ControlFlow::Continue(()))
    })?;
    repeated.clear();
    match found {
        Some((place, first_place)) => Err(ValidateError::DuplicateId {
            input: extract.input.clone(),
            place: place.to_string(),
            first_place: first_place.to_string(),
        }),
        // Different ids whose hashes met.
        None => Ok(()),
    }
}

/// About how many rows a body holds (a row of a case system's export is
/// seldom under 100 bytes), so that the id set is sized once.
fn expected_rows(extract: &Landed) -> usize {
    (extract.bytes / 128).min(1 << 26) as usize
}

/// Check a person-level extract as it streams, handing `emit` a batch of
/// checked rows every [`BATCH_ROWS`] rows. The first bad cell rejects the
/// whole extract; `emit` returning `Break` stops the reading early (its
/// caller knows why).
pub fn validate(
    extract: &Landed,
    salt: Option<&str>,
    emit: &mut dyn FnMut(RecordBatch) -> Flow,
) -> Result<Summary, ValidateError> {
    let mut checker = Checker {
        extract,
        salt,
        as_of: extract.pulled_at.date_naive(),
        as_of_days: days(extract.pulled_at.date_naive()),
        areas: Areas::builtin(),
        id_hashes: Vec::with_capacity(expected_rows(extract)),
        municipalities: Memo::new(),
        groups: Memo::new(),
        kinds: Memo::new(),
        statuses: Memo::new(),
        labels: BTreeMap::new(),
        summary: Summary::default(),
        // Room for the rows the body's length suggests, at most a batch: a
        // short extract does not take a whole batch's memory.
        builders: Builders::new(expected_rows(extract)),
    };
    let mut stopped = false;
    for_each_row(extract, &mut |place, cells| {
        checker.row(place, cells)?;
        if checker.builders.rows == BATCH_ROWS {
            let batch = checker.builders.finish(extract)?;
            if emit(batch).is_break() {
                stopped = true;
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if checker.summary.rows == 0 {
        return Err(ValidateError::Empty {
            input: extract.input.clone(),
        });
    }
    if stopped {
        return Ok(checker.summary);
    }
    check_unique_ids(extract, std::mem::take(&mut checker.id_hashes))?;
    if checker.builders.rows > 0 {
        let batch = checker.builders.finish(extract)?;
        let _ = emit(batch);
    }
    Ok(checker.summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpr_number_that_slips_past_the_screen_is_refused_in_every_column() {
        use crate::extract::{Body, Extract, Format};
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("x.csv");
        let header = "Praktik_id;Person;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato;Branche;Timer pr. uge;Status 3 mdr;Status 6 mdr;Status 12 mdr";
        let line = "101-2019Q4-00000;P101-016873;101;kontanthjaelp_jobparat;udviklingspraktik;13-10-2019;15-12-2019;Hotel og restauration;25,0;På ydelse;Fleksjob;Uddannelse";
        std::fs::write(&source, format!("{header}\n{line}\n")).unwrap();
        let extract = Extract::with_body(
            "file",
            "x.csv".into(),
            Format::InternshipsCsv,
            Body::File(source.clone()),
            None,
        );
        let landed = crate::land::land(&dir.path().join("raw"), extract, Some("salt")).unwrap();
        let check = || validate(&landed, Some("salt"), &mut |_| Flow::Continue(()));
        assert_eq!(check().unwrap().rows, 1);
        // The file changes after the screen passed it (the check reads it
        // where it is): the check still refuses a CPR number in any column
        // but the person's, and never shows it.
        for column in (0..12).filter(|c| *c != 1) {
            let mut cells: Vec<&str> = line.split(';').collect();
            cells[column] = "070391-1234";
            std::fs::write(&source, format!("{header}\n{}\n", cells.join(";"))).unwrap();
            let refused = check().unwrap_err();
            assert!(
                matches!(&refused, ValidateError::Cpr { column: c, .. } if *c == COLUMNS[column].0),
                "{column}: {refused}"
            );
            assert!(!refused.to_string().contains("070391"), "{refused}");
        }
    }

    #[test]
    fn days_since_1970_as_arrow_counts_them() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for (y, m, d) in [
            (1970, 1, 1),
            (1969, 12, 31),
            (2000, 2, 29),
            (2024, 5, 31),
            (2100, 12, 31),
        ] {
            let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(i64::from(days(day)), (day - epoch).num_days(), "{day}");
        }
        assert_eq!(days(epoch), 0);
    }

    #[test]
    fn hours_with_a_comma_or_a_point() {
        assert_eq!(hours("18,5"), Some(18.5));
        assert_eq!(hours("18.5"), Some(18.5));
        assert_eq!(hours("37"), Some(37.0));
        assert_eq!(hours("0,1"), "0.1".parse().ok());
        for bad in ["80,5", "-1", "x", "1,2,3", "123456789012345678901234567"] {
            assert_eq!(hours(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_in_both_orders() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 31);
        assert_eq!(date("2024-05-31"), d);
        assert_eq!(date("31-05-2024"), d);
        for bad in ["31-02-2024", "2024/05/31", "2024-5-31", "31.05.2024", ""] {
            assert_eq!(date(bad), None, "{bad}");
        }
    }
}
