//! Checking a person-level extract from a municipality's case system, row
//! by row as it streams in ([`super::person_rows`]), into Arrow batches of
//! the `internships` table. Every cell is checked; a CPR number is never
//! stored (the landing screen replaced it, and a value that still looks like
//! one becomes an HMAC-SHA-256 with the secret salt, or rejects the extract).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{ArrayRef, Date32Builder, Float64Builder, StringBuilder};
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, Months, NaiveDate};

use super::Place;
use super::ValidateError;
use super::csv_parts::{CsvParts, LineStarts, MIN_PART_BYTES, csv_parts};
use super::person_rows::{COLUMNS, Cells, Flow, for_each_row};
use crate::area::{Area, AreaKind, Areas};
use crate::benefit::BenefitGroup;
use crate::extract::Extract;
use crate::internship::{InternshipType, Status};
use crate::land::Landed;
use crate::period::Period;
use crate::privacy::cpr::{contains_cpr, is_cpr, is_pseudonym, pseudonym};
use crate::schema;

/// The secret for pseudonymous person keys.
use crate::privacy::SALT_ENV;

/// The most rows per Arrow batch handed on while an extract streams through.
pub const BATCH_ROWS: usize = 65_536;

/// The fewest rows per batch of a body that holds more (the Parquet writer
/// encodes 8,192 values of a column at a time).
const MIN_BATCH_ROWS: usize = 8_192;

/// How many rows each batch of a body (or part) of `bytes` holds: a quarter
/// of the rows its length suggests, between [`MIN_BATCH_ROWS`] and
/// [`BATCH_ROWS`]. A file of a few MB (a quarter of a small municipality's
/// export) then reaches the writer in several batches, written while the
/// rest of it is checked, rather than in one written after it all was: a
/// folder of 21 such files, 1M rows, took 1.23–1.44 s with one batch a file.
fn batch_rows(bytes: u64) -> usize {
    (expected_rows(bytes) / 4).clamp(MIN_BATCH_ROWS, BATCH_ROWS)
}

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
fn date(b: &[u8]) -> Option<NaiveDate> {
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
fn hours(bytes: &[u8]) -> Option<f64> {
    // A decimal comma becomes a point in a buffer on the stack.
    let mut buffer = [0u8; 24];
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

/// Cell `i` of `cells` parsed by `parse` (a date): from
/// its bytes as read when they parse alone (then they are ASCII without
/// spaces, the same bytes as its text trimmed), else from its text decoded
/// and trimmed.
fn parsed<T>(cells: &Cells<'_>, i: usize, parse: fn(&[u8]) -> Option<T>) -> Option<T> {
    parse(cells.bytes(i)).or_else(|| parse(cells.text(i).as_bytes()))
}

/// The quarter of an internship that ended on `end` (the table's period).
fn quarter_of(end: NaiveDate) -> Option<Period> {
    Period::new(end.year() as u16, ((end.month0() / 3) + 1) as u8)
}

/// How many rows of a person-level extract end in each quarter, read from
/// their end dates alone: for an extract that passes its check, the
/// `rows_by_period` of [`validate`] at a fraction of its cost (no cell but
/// the end date is parsed, and nothing is built). A row whose end date does
/// not read is not counted: the check that writes the extract rejects it.
/// A large CSV body is counted in up to `parts` parts side by side, as its
/// check reads it (a caller that counts several bodies at once asks for 1).
pub fn rows_by_end_quarter(
    extract: &Extract,
    parts: usize,
) -> Result<BTreeMap<Period, usize>, ValidateError> {
    count_by_end_quarter(extract, parts, MIN_PART_BYTES).map(|(rows, _)| rows)
}

/// [`rows_by_end_quarter`], and the cut the body was counted in (if it was
/// cut) as line starts, so that the body's check asking for as many parts
/// cuts it alike without reading it again ([`super::csv_parts::CsvParts::line_starts`]).
pub fn rows_and_cut_by_end_quarter(
    extract: &Extract,
    parts: usize,
) -> Result<(BTreeMap<Period, usize>, Option<LineStarts>), ValidateError> {
    count_by_end_quarter(extract, parts, MIN_PART_BYTES)
}

/// [`rows_and_cut_by_end_quarter`] with parts of at least `min_bytes`.
fn count_by_end_quarter(
    extract: &Extract,
    parts: usize,
    min_bytes: u64,
) -> Result<(BTreeMap<Period, usize>, Option<LineStarts>), ValidateError> {
    // The end date, cell 6 as [`Checker::row`] reads it.
    let count = |counts: &mut BTreeMap<Period, usize>, cells: &Cells<'_>| {
        if let Some(period) = parsed(cells, 6, date).and_then(quarter_of) {
            *counts.entry(period).or_default() += 1;
        }
        Ok(ControlFlow::Continue(()))
    };
    let mut total = BTreeMap::new();
    match csv_parts(extract, parts.min(MAX_PARTS), min_bytes, None)? {
        Some(cut) => {
            let counted = crate::parallel::map_in_order((0..cut.count()).collect(), |k| {
                let mut counts = BTreeMap::new();
                cut.rows(extract, k, &mut |_, cells| count(&mut counts, cells))
                    .map(|()| counts)
            });
            for counts in counted {
                for (period, n) in counts? {
                    *total.entry(period).or_default() += n;
                }
            }
            Ok((total, Some(cut.line_starts())))
        }
        None => {
            for_each_row(extract, &mut |_, cells| count(&mut total, cells))?;
            Ok((total, None))
        }
    }
}

/// Days since 1970-01-01 (Arrow's `Date32`): the date's day number since
/// the start of the common era, less 1970-01-01's (cheaper than
/// subtracting dates, on the checking thread's path for every row).
fn days(d: NaiveDate) -> i32 {
    /// `NaiveDate::from_ymd(1970, 1, 1).num_days_from_ce()`.
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    d.num_days_from_ce() - UNIX_EPOCH_FROM_CE
}

/// Parsed values by their cell's bytes: a column such as the benefit group
/// holds a handful of distinct values, so each is decoded and parsed once.
struct Memo<T> {
    seen: HashMap<Box<[u8]>, T, ahash::RandomState>,
}

impl<T: Copy> Memo<T> {
    fn new() -> Memo<T> {
        Memo {
            seen: HashMap::default(),
        }
    }

    /// The value of cell `i` of `cells`, parsed from its text by `parse`.
    fn get<E>(
        &mut self,
        cells: &Cells<'_>,
        i: usize,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, E> {
        let bytes = cells.bytes(i);
        if let Some(value) = self.seen.get(bytes) {
            return Ok(*value);
        }
        let value = parse(&cells.text(i))?;
        // Bounded: a column of many distinct values is parsed every time.
        if self.seen.len() < MEMO_LIMIT {
            self.seen.insert(bytes.into(), value);
        }
        Ok(value)
    }
}

/// Free text by its cell's bytes: a column such as the industry holds a
/// handful of values, so each is decoded, trimmed and screened for a CPR
/// number once.
struct Texts {
    index: HashMap<Box<[u8]>, usize, ahash::RandomState>,
    texts: Vec<Box<str>>,
}

impl Texts {
    fn new() -> Texts {
        Texts {
            index: HashMap::default(),
            texts: Vec::new(),
        }
    }

    /// Cell `i` of `cells` as text, or `None` if a CPR number stands in it.
    fn get<'s>(&'s mut self, cells: &Cells<'s>, i: usize) -> Option<Cow<'s, str>> {
        let bytes = cells.bytes(i);
        if let Some(&k) = self.index.get(bytes) {
            return self.texts.get(k).map(|text| Cow::Borrowed(&**text));
        }
        let text = cells.text(i);
        if contains_cpr(text.as_bytes()) {
            return None;
        }
        // Bounded, as `Memo` is: many distinct values are decoded each time.
        if self.texts.len() >= MEMO_LIMIT {
            return Some(text);
        }
        self.index.insert(bytes.into(), self.texts.len());
        self.texts.push(text.into());
        self.texts.last().map(|text| Cow::Borrowed(&**text))
    }
}

/// The most values a memo of a column keeps.
const MEMO_LIMIT: usize = 4096;

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
        Builders::with_room(rows, [rows * 8; 10])
    }

    /// Empty builders with the room these took: the next batch starts with
    /// a full batch's room again when this one was full (a builder is left
    /// with none by `finish`, and growing it back by doubling would copy
    /// every cell once more), each text column with the bytes it took here
    /// and a little more (ids and keys are longer than a label).
    fn like(&self) -> Builders {
        let took = self.texts().map(|text| text.values_slice().len());
        Builders::with_room(self.rows, took.map(|bytes| bytes + bytes / 16))
    }

    /// The text columns, in the order [`Builders::with_room`] takes their
    /// bytes.
    fn texts(&self) -> [&StringBuilder; 10] {
        let [s3, s6, s12] = &self.status;
        [
            &self.period,
            &self.id,
            &self.person,
            &self.municipality,
            &self.group,
            &self.kind,
            &self.industry,
            s3,
            s6,
            s12,
        ]
    }

    /// Empty builders for `rows` rows, each text column with room for its
    /// `bytes` (in the order of [`Builders::texts`]).
    fn with_room(rows: usize, bytes: [usize; 10]) -> Builders {
        let [
            period,
            id,
            person,
            municipality,
            group,
            kind,
            industry,
            s3,
            s6,
            s12,
        ] = bytes.map(|bytes| StringBuilder::with_capacity(rows, bytes));
        Builders {
            period,
            id,
            person,
            municipality,
            group,
            kind,
            start: Date32Builder::with_capacity(rows),
            end: Date32Builder::with_capacity(rows),
            industry,
            hours: Float64Builder::with_capacity(rows),
            status: [s3, s6, s12],
            rows: 0,
            provenance: None,
        }
    }

    fn finish(&mut self, extract: &Landed) -> Result<RecordBatch, ValidateError> {
        let next = self.like();
        let mut full = std::mem::replace(self, next);
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

/// The quarters of the rows checked, each with its label and how many
/// rows it got. A case system's export comes sorted by quarter, so a row's
/// quarter is most often the one before's, found without a look-up.
#[derive(Default)]
struct Quarters {
    seen: Vec<(Period, String, usize)>,
    /// Where in `seen` each quarter is (looked up when the quarter changes:
    /// an export in no order may hold a few hundred).
    index: BTreeMap<Period, usize>,
    /// Where in `seen` the last row's quarter is.
    last: usize,
}

impl Quarters {
    /// Count a row of `period`; its label.
    fn count(&mut self, period: Period) -> &str {
        let k = match self.seen.get(self.last) {
            Some((last, ..)) if *last == period => self.last,
            _ => *self.index.entry(period).or_insert_with(|| {
                self.seen.push((period, period.to_string(), 0));
                self.seen.len() - 1
            }),
        };
        self.last = k;
        let (_, label, rows) = &mut self.seen[k];
        *rows += 1;
        label
    }

    /// What the rows counted held.
    fn summary(&self) -> Summary {
        let rows_by_period: BTreeMap<Period, usize> = self
            .seen
            .iter()
            .map(|(period, _, rows)| (*period, *rows))
            .collect();
        Summary {
            rows: rows_by_period.values().sum(),
            rows_by_period,
        }
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
    industries: Texts,
    hours: Memo<f64>,
    quarters: Quarters,
    builders: Builders,
    /// Rows per batch ([`batch_rows`]).
    batch_rows: usize,
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
            let cell = cells.text(i);
            if i != 1 && contains_cpr(cell.as_bytes()) {
                return cpr(i);
            }
            ValidateError::Cell {
                input: input.into(),
                place: place.to_string(),
                column: COLUMNS[i].0,
                value: if matches!(i, 0 | 1 | 7) && !cell.is_empty() {
                    "(not shown)".into()
                } else {
                    cell.into_owned()
                },
                expected,
            }
        };
        let id = cells.text(0);
        if id.is_empty() {
            return Err(bad(0, "every internship needs an id".into()));
        }
        // Only the id and the industry are stored as written. Every other
        // cell becomes a code from a closed list, a date or a number of
        // hours up to 80, so a CPR number there fails its check (and `bad`
        // names it); the person column is screened below.
        if contains_cpr(id.as_bytes()) {
            return Err(cpr(0));
        }
        let industry = self.industries.get(cells, 7).ok_or_else(|| cpr(7))?;
        self.id_hashes.push(ID_HASH.hash_one(&*id));
        let person = cells.text(1);
        let pseudonymous;
        let person = if is_cpr(person.as_bytes())
            || (contains_cpr(person.as_bytes()) && !is_pseudonym(person.as_bytes()))
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
            &person
        };
        let areas = self.areas;
        let municipality = self
            .municipalities
            .get(cells, 2, |text| {
                areas
                    .find(text)
                    .filter(|a| a.kind == AreaKind::Kommune)
                    .ok_or(())
            })
            .map_err(|()| bad(2, "a municipality code such as 101, or its name".into()))?;
        let group = self
            .groups
            .get(cells, 3, str::parse::<BenefitGroup>)
            .map_err(|e| bad(3, e.to_string()))?;
        let kind = self
            .kinds
            .get(cells, 4, str::parse::<InternshipType>)
            .map_err(|e| bad(4, e.to_string()))?;
        let start = parsed(cells, 5, date)
            .ok_or_else(|| bad(5, "a date such as 2024-05-31 or 31-05-2024".into()))?;
        let end = parsed(cells, 6, date)
            .ok_or_else(|| bad(6, "a date such as 2024-05-31 or 31-05-2024".into()))?;
        if end < start {
            return Err(bad(
                6,
                format!("the internship cannot end before it starts ({start})"),
            ));
        }
        let period =
            quarter_of(end).ok_or_else(|| bad(6, "a date between 1990 and 2100".into()))?;
        if let Some(asked) = self.extract.period
            && period != asked
        {
            return Err(bad(
                6,
                format!("the extract was pulled for {asked}, and this ended in {period}"),
            ));
        }
        let hours = if cells.is_empty(8) {
            None
        } else {
            Some(
                self.hours
                    .get(cells, 8, |text| hours(text.as_bytes()).ok_or(()))
                    .map_err(|()| {
                        bad(
                            8,
                            "hours per week between 0 and 80, such as 15 or 18,5".into(),
                        )
                    })?,
            )
        };
        let end_days = days(end);
        let mut status: [Option<&'static str>; 3] = [None; 3];
        for (k, months) in [3u32, 6, 12].into_iter().enumerate() {
            let i = 9 + k;
            if cells.is_empty(i) {
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
                .get(cells, i, str::parse::<Status>)
                .map_err(|e| bad(i, e.to_string()))?;
            status[k] = Some(value.code());
        }

        let label = self.quarters.count(period);
        let b = &mut self.builders;
        b.period.append_value(label);
        b.id.append_value(&*id);
        b.person.append_value(person);
        b.municipality.append_value(&municipality.code);
        b.group.append_value(group.code());
        b.kind.append_value(kind.code());
        b.start.append_value(days(start));
        b.end.append_value(end_days);
        b.industry
            .append_option(Some(&*industry).filter(|s| !s.is_empty()));
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

/// The hashes that stand more than once in `sorted` (each list sorted, as
/// a part's thread leaves its ids' hashes): next to each other within a
/// list, or in two lists, found by walking each pair of lists together.
fn repeated(sorted: &[Vec<u64>]) -> HashSet<u64> {
    let mut repeated = HashSet::new();
    for (i, list) in sorted.iter().enumerate() {
        repeated.extend(
            list.windows(2)
                .filter(|pair| pair[0] == pair[1])
                .map(|pair| pair[0]),
        );
        for other in &sorted[i + 1..] {
            let (mut a, mut b) = (0, 0);
            while let (Some(&x), Some(&y)) = (list.get(a), other.get(b)) {
                if x == y {
                    repeated.insert(x);
                }
                // The smaller steps on; both do when they are equal.
                a += usize::from(x <= y);
                b += usize::from(y <= x);
            }
        }
    }
    repeated
}

/// The first id that appears twice, if any: the hashes of all ids, sorted
/// (see [`repeated`]), show the repeated hashes, and the rows holding those
/// are read again to compare the ids themselves.
fn check_unique_ids(extract: &Landed, sorted: Vec<Vec<u64>>) -> Result<(), ValidateError> {
    let mut repeated = repeated(&sorted);
    drop(sorted);
    if repeated.is_empty() {
        return Ok(());
    }
    let mut first: HashMap<String, Place> = HashMap::new();
    let mut found = None;
    for_each_row(extract, &mut |place, cells| {
        let id = cells.text(0);
        if !repeated.contains(&ID_HASH.hash_one(&*id)) {
            return Ok(ControlFlow::Continue(()));
        }
        if let Some(earlier) = first.get(&*id) {
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

/// About how many rows `bytes` of a body hold (a row of a case system's
/// export is seldom under 100 bytes), so that the id set is sized once.
fn expected_rows(bytes: u64) -> usize {
    (bytes / 128).min(1 << 26) as usize
}

/// The most parts a body is read in at once (each holds a batch being filled
/// and one waiting for the writer).
const MAX_PARTS: usize = 4;

/// Check a person-level extract as it streams, handing `emit` a batch of
/// checked rows every [`BATCH_ROWS`] rows. The first bad cell rejects the
/// whole extract; `emit` returning `Break` stops the reading early (its
/// caller knows why). A large CSV body is checked in parts side by side,
/// a thread per core ([`validate_in_parts`]).
pub fn validate(
    extract: &Landed,
    salt: Option<&str>,
    emit: &mut dyn FnMut(RecordBatch) -> Flow,
) -> Result<Summary, ValidateError> {
    validate_telling_end(extract, salt, emit, &mut || {})
}

/// [`validate`], calling `all_emitted` once the last batch was handed to
/// `emit`, before the ids are compared for a repeat (the check's last
/// ~0.1 s at 10M rows), so that the writer can finish its files meanwhile.
/// A rejected extract may not call it.
pub fn validate_telling_end(
    extract: &Landed,
    salt: Option<&str>,
    emit: &mut dyn FnMut(RecordBatch) -> Flow,
    all_emitted: &mut dyn FnMut(),
) -> Result<Summary, ValidateError> {
    let wanted = crate::parallel::cores().min(MAX_PARTS);
    let noted = extract.line_starts.as_deref();
    match csv_parts(extract, wanted, MIN_PART_BYTES, noted)? {
        Some(parts) => validate_in_parts(extract, salt, &parts, emit, all_emitted),
        None => validate_whole(extract, salt, emit, all_emitted),
    }
}

impl<'a> Checker<'a> {
    /// A checker for `bytes` of `extract`'s body.
    fn new(extract: &'a Landed, salt: Option<&'a str>, bytes: u64) -> Checker<'a> {
        let batch_rows = batch_rows(bytes);
        Checker {
            extract,
            salt,
            as_of: extract.pulled_at.date_naive(),
            as_of_days: days(extract.pulled_at.date_naive()),
            areas: Areas::builtin(),
            id_hashes: Vec::with_capacity(expected_rows(bytes)),
            municipalities: Memo::new(),
            groups: Memo::new(),
            kinds: Memo::new(),
            statuses: Memo::new(),
            industries: Texts::new(),
            hours: Memo::new(),
            quarters: Quarters::default(),
            // Room for the rows the body's length suggests, at most a batch:
            // a short extract does not take a whole batch's memory.
            builders: Builders::new(expected_rows(bytes).min(batch_rows)),
            batch_rows,
        }
    }

    /// Check a row, and the batch it fills, if it fills one.
    fn take(
        &mut self,
        place: Place,
        cells: &Cells<'_>,
    ) -> Result<Option<RecordBatch>, ValidateError> {
        self.row(place, cells)?;
        if self.builders.rows == self.batch_rows {
            return self.builders.finish(self.extract).map(Some);
        }
        Ok(None)
    }

    /// The rows checked but not yet in a batch, as one.
    fn last(&mut self) -> Result<Option<RecordBatch>, ValidateError> {
        if self.builders.rows == 0 {
            return Ok(None);
        }
        self.builders.finish(self.extract).map(Some)
    }
}

/// [`validate`] on the calling thread, from the first row to the last.
fn validate_whole(
    extract: &Landed,
    salt: Option<&str>,
    emit: &mut dyn FnMut(RecordBatch) -> Flow,
    all_emitted: &mut dyn FnMut(),
) -> Result<Summary, ValidateError> {
    let mut checker = Checker::new(extract, salt, extract.bytes);
    let mut stopped = false;
    for_each_row(extract, &mut |place, cells| {
        if let Some(batch) = checker.take(place, cells)?
            && emit(batch).is_break()
        {
            stopped = true;
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    let summary = checker.quarters.summary();
    if summary.rows == 0 {
        return Err(ValidateError::Empty {
            input: extract.input.clone(),
        });
    }
    if stopped {
        return Ok(summary);
    }
    if let Some(batch) = checker.last()? {
        let _ = emit(batch);
    }
    all_emitted();
    let mut hashes = std::mem::take(&mut checker.id_hashes);
    hashes.sort_unstable();
    check_unique_ids(extract, vec![hashes])?;
    Ok(summary)
}

/// What a part's thread hands back: what its rows held and their ids'
/// hashes, sorted.
type PartResult = Result<(Summary, Vec<u64>), ValidateError>;

/// Check part `k` of `parts`, handing its batches to `sender` (let go
/// after the last, before the ids' hashes are sorted); stops when no one
/// reads on or an earlier part failed, and says so in `failed` if it fails
/// itself.
fn check_part(
    extract: &Landed,
    salt: Option<&str>,
    parts: &CsvParts,
    k: usize,
    sender: std::sync::mpsc::SyncSender<RecordBatch>,
    failed: &AtomicUsize,
) -> PartResult {
    let mut checker = Checker::new(extract, salt, parts.bytes(k));
    let checked = parts.rows(extract, k, &mut |place, cells| {
        if let Some(batch) = checker.take(place, cells)?
            && (sender.send(batch).is_err() || failed.load(Ordering::Relaxed) < k)
        {
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    });
    match checked.and_then(|()| checker.last()) {
        Ok(batch) => {
            if let Some(batch) = batch {
                let _ = sender.send(batch);
            }
            drop(sender);
            // Sorted here, side by side with the other parts.
            checker.id_hashes.sort_unstable();
            Ok((checker.quarters.summary(), checker.id_hashes))
        }
        Err(e) => {
            failed.fetch_min(k, Ordering::Relaxed);
            Err(e)
        }
    }
}

/// [`validate`] with each of `parts` checked on a thread of its own. Their
/// batches reach `emit` in turn (a batch of the first part, one of the
/// second, …), so that the writer takes them as fast as the slowest part
/// checks and no part's rows wait in memory. The error is the first in the
/// body: a part that fails stops the parts after it, while those before it
/// read on, since one of them may hold an earlier bad row.
fn validate_in_parts(
    extract: &Landed,
    salt: Option<&str>,
    parts: &CsvParts,
    emit: &mut dyn FnMut(RecordBatch) -> Flow,
    all_emitted: &mut dyn FnMut(),
) -> Result<Summary, ValidateError> {
    // The first part that failed, if any (`usize::MAX` while none has).
    let failed = AtomicUsize::new(usize::MAX);
    let (results, stopped) = std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(parts.count());
        let mut workers = Vec::with_capacity(parts.count());
        for k in 0..parts.count() {
            // A part waits with its next batch until the writer takes it.
            let (sender, receiver) = std::sync::mpsc::sync_channel::<RecordBatch>(0);
            receivers.push(Some(receiver));
            let failed = &failed;
            workers.push(scope.spawn(move || check_part(extract, salt, parts, k, sender, failed)));
        }
        let mut stopped = false;
        'reading: while receivers.iter().any(Option::is_some) {
            for slot in &mut receivers {
                let Some(receiver) = slot else { continue };
                match receiver.recv() {
                    // Once a part failed the extract is rejected: its
                    // batches are no longer written, only read off.
                    Ok(batch) if failed.load(Ordering::Relaxed) == usize::MAX => {
                        if emit(batch).is_break() {
                            stopped = true;
                            break 'reading;
                        }
                    }
                    Ok(_) => {}
                    // The part is done.
                    Err(_) => *slot = None,
                }
            }
        }
        // A part still sending learns that no one reads on.
        drop(receivers);
        if !stopped && failed.load(Ordering::Relaxed) == usize::MAX {
            all_emitted();
        }
        let results: Vec<PartResult> = workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        (results, stopped)
    });
    let mut summary = Summary::default();
    let mut id_hashes = Vec::with_capacity(results.len());
    for result in results {
        let (part, hashes) = result?;
        summary.rows += part.rows;
        for (period, rows) in part.rows_by_period {
            *summary.rows_by_period.entry(period).or_default() += rows;
        }
        id_hashes.push(hashes);
    }
    if summary.rows == 0 {
        return Err(ValidateError::Empty {
            input: extract.input.clone(),
        });
    }
    if stopped {
        return Ok(summary);
    }
    check_unique_ids(extract, id_hashes)?;
    Ok(summary)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::validate::csv_parts::LineStarts;

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

    pub(crate) const HEADER: &str = "Praktik_id;Person;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato;Branche;Timer pr. uge;Status 3 mdr;Status 6 mdr;Status 12 mdr";

    /// Row `n` of a body: an id of its own, one of four quarters, one of
    /// three municipalities.
    pub(crate) fn row(n: usize) -> String {
        let municipality = ["101", "147", "Aarhus"][n % 3];
        let end = ["15-12-2019", "2020-03-31", "30-06-2020", "2020-09-01"][n % 4];
        format!(
            "id-{n};P-{n};{municipality};kontanthjaelp_jobparat;udviklingspraktik;01-10-2019;{end};Hotel og restauration;25,0;På ydelse;Fleksjob;Uddannelse"
        )
    }

    /// A body of `rows` under the header, each line ended.
    pub(crate) fn csv_body(rows: &[String]) -> String {
        format!("{HEADER}\n{}\n", rows.join("\n"))
    }

    pub(crate) fn landed(dir: &std::path::Path, body: Vec<u8>, in_file: bool) -> Landed {
        use crate::extract::{Body, Extract, Format};
        let body = if in_file {
            let (mut file, path) = tempfile::Builder::new()
                .suffix(".csv")
                .tempfile_in(dir)
                .unwrap()
                .keep()
                .unwrap();
            std::io::Write::write_all(&mut file, &body).unwrap();
            Body::File(path)
        } else {
            Body::Bytes(body)
        };
        let extract =
            Extract::with_body("file", "x.csv".into(), Format::InternshipsCsv, body, None);
        crate::land::land(&dir.join("raw"), extract, Some("salt")).unwrap()
    }

    /// Every row of `batches`, each as text, sorted.
    fn rows_of(batches: &[RecordBatch]) -> Vec<String> {
        use arrow::util::display::{ArrayFormatter, FormatOptions};
        let mut rows = Vec::new();
        for batch in batches {
            let options = FormatOptions::default();
            let columns: Vec<ArrayFormatter<'_>> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for r in 0..batch.num_rows() {
                let cells: Vec<String> = columns.iter().map(|c| c.value(r).to_string()).collect();
                rows.push(cells.join("|"));
            }
        }
        rows.sort();
        rows
    }

    /// The summary or error of a check, and the rows it emitted.
    fn outcome(
        checked: Result<Summary, ValidateError>,
        batches: &[RecordBatch],
    ) -> (String, Vec<String>) {
        let said = match checked {
            Ok(summary) => format!("{} rows: {:?}", summary.rows, summary.rows_by_period),
            Err(e) => format!("error: {e}"),
        };
        (said, rows_of(batches))
    }

    /// A check that passed told the end of its batches once; one that
    /// failed, at most once (a repeated id is found after the end).
    fn told_once(checked: &Result<Summary, ValidateError>, told: usize) {
        match checked {
            Ok(_) => assert_eq!(told, 1),
            Err(ValidateError::DuplicateId { .. }) => assert!(told <= 1, "{told}"),
            Err(e) => assert_eq!(told, 0, "{e}"),
        }
    }

    /// A check's function of `validate_whole` or `validate_in_parts`: what
    /// it hands each batch to, and what it tells the end to.
    type Check<'a> = dyn FnOnce(
            &mut dyn FnMut(RecordBatch) -> Flow,
            &mut dyn FnMut(),
        ) -> Result<Summary, ValidateError>
        + 'a;

    /// The outcome of `check`, which must tell the end of its batches
    /// after the last and only when it passes (see [`told_once`]).
    fn told(check: Box<Check<'_>>) -> (String, Vec<String>) {
        let mut batches = Vec::new();
        let ended = std::cell::Cell::new(0);
        let checked = check(
            &mut |b| {
                assert_eq!(ended.get(), 0, "a batch after the end was told");
                batches.push(b);
                Flow::Continue(())
            },
            &mut || ended.set(ended.get() + 1),
        );
        told_once(&checked, ended.get());
        outcome(checked, &batches)
    }

    /// The outcome of checking `landed` in `parts`.
    fn in_parts(landed: &Landed, parts: &CsvParts) -> (String, Vec<String>) {
        assert!(parts.count() >= 2);
        told(Box::new(|emit, end| {
            validate_in_parts(landed, Some("salt"), parts, emit, end)
        }))
    }

    /// Where the lines of `landed`'s body start, noted a line at a time (a
    /// landing notes runs of many lines; a line each lets a short body be
    /// cut anywhere).
    fn noted_by_line(landed: &Landed) -> LineStarts {
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut landed.reader().unwrap(), &mut body).unwrap();
        let mut starts = LineStarts::default();
        for line in body.split_inclusive(|b| *b == b'\n') {
            starts.note(line, usize::from(line.ends_with(b"\n")));
        }
        starts
    }

    /// The outcome of checking `landed` whole and in `parts` parts (each of
    /// at least one byte): the summary or error, and the rows emitted. The
    /// body is cut by reading it, and at its lines noted as a landing notes
    /// them; both cuts give the same outcome.
    fn both_ways(landed: &Landed, parts: usize) -> [(String, Vec<String>); 2] {
        let whole = told(Box::new(|emit, end| {
            validate_whole(landed, Some("salt"), emit, end)
        }));
        let read = csv_parts(landed, parts, 1, None)
            .unwrap()
            .expect("the body is cut");
        let by_reading = in_parts(landed, &read);
        let noted = noted_by_line(landed);
        let at_noted = csv_parts(landed, parts, 1, Some(&noted))
            .unwrap()
            .expect("the body is cut at its noted lines");
        let at_noted = in_parts(landed, &at_noted);
        assert_eq!(by_reading.0, at_noted.0);
        // A rejected body's rows are thrown away, however many each part
        // checked before the bad row was met.
        if !by_reading.0.starts_with("error") {
            assert_eq!(by_reading.1, at_noted.1);
        }
        [whole, by_reading]
    }

    #[test]
    fn a_body_checked_in_parts_gives_what_it_gives_whole() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<String> = (0..2_000).map(row).collect();
        for in_file in [false, true] {
            for crlf in ["\n", "\r\n"] {
                let body = format!("{HEADER}{crlf}{}{crlf}", rows.join(crlf));
                let landed = landed(dir.path(), body.into_bytes(), in_file);
                for parts in [2, 3, 4] {
                    let [whole, split] = both_ways(&landed, parts);
                    assert_eq!(whole.0, split.0);
                    assert!(whole.0.starts_with("2000 rows"), "{}", whole.0);
                    assert_eq!(whole.1.len(), 2_000);
                    assert_eq!(whole.1, split.1);
                }
            }
        }
    }

    /// A label is looked up by its cell's bytes, so the same status in
    /// UTF-8, in Windows-1252 and with spaces around it is learnt three
    /// times, and each time gives the same code; a bad label met after a
    /// good one is still named by its line.
    #[test]
    fn a_label_in_any_spelling_gives_its_code() {
        let dir = tempfile::tempdir().unwrap();
        let line = |n: usize, status: &[u8]| {
            let mut line = format!(
                "{n};P{n};101;dagpenge;jobpraktik;01-10-2019;15-12-2019;Hotel og restauration;25,0;"
            )
            .into_bytes();
            line.extend_from_slice(status);
            line.extend_from_slice(b";;\n");
            line
        };
        let mut body = format!("{HEADER}\n").into_bytes();
        for (n, status) in [
            "På ydelse".as_bytes(),
            b"P\xe5 ydelse",
            " På ydelse\u{a0}".as_bytes(),
            b" P\xe5 ydelse ",
            "På ydelse".as_bytes(),
        ]
        .into_iter()
        .enumerate()
        {
            body.extend(line(n, status));
        }
        let mut batches = Vec::new();
        let good = landed(dir.path(), body.clone(), false);
        let summary = validate_whole(
            &good,
            Some("salt"),
            &mut |b| {
                batches.push(b);
                Flow::Continue(())
            },
            &mut || {},
        )
        .unwrap();
        assert_eq!(summary.rows, 5);
        let statuses: Vec<String> = rows_of(&batches)
            .iter()
            .map(|row| row.split('|').nth(10).unwrap().to_string())
            .collect();
        assert_eq!(statuses, ["on_benefit"; 5]);
        body.extend(line(5, b"P\xe5 ferie"));
        let bad = landed(dir.path(), body, false);
        let error = validate_whole(&bad, Some("salt"), &mut |_| Flow::Continue(()), &mut || {})
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("line 7") && error.contains("På ferie"),
            "{error}"
        );
    }

    #[test]
    fn the_first_bad_row_of_the_body_is_named_whichever_part_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows: Vec<String> = (0..3_000).map(row).collect();
        // Line 2,702 (in the last part) and line 1,602 (in the second).
        rows[2_700] = rows[2_700].replace(";101;", ";999;");
        let late = landed(dir.path(), csv_body(&rows).into_bytes(), true);
        rows[1_600] = rows[1_600].replace(";147;", ";998;");
        let early = landed(dir.path(), csv_body(&rows).into_bytes(), true);
        for (landed, line, value) in [(&late, 2_702, "999"), (&early, 1_602, "998")] {
            let [whole, split] = both_ways(landed, 3);
            assert_eq!(whole.0, split.0);
            assert!(split.0.contains(&format!("line {line}")), "{}", split.0);
            assert!(split.0.contains(value), "{}", split.0);
        }
        // An id that repeats in another part.
        rows[1_600] = row(1_600);
        rows[2_700] = row(5);
        let repeated = landed(dir.path(), csv_body(&rows).into_bytes(), false);
        let [whole, split] = both_ways(&repeated, 4);
        assert_eq!(whole.0, split.0);
        assert!(
            split.0.contains("line 2702") && split.0.contains("line 7"),
            "{}",
            split.0
        );
    }

    #[test]
    fn a_body_with_a_quote_or_a_lone_carriage_return_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<String> = (0..1_000).map(row).collect();
        let plain = csv_body(&rows);
        assert!(
            csv_parts(
                &landed(dir.path(), plain.clone().into_bytes(), false),
                2,
                1,
                None
            )
            .unwrap()
            .is_some()
        );
        let odd = [
            // A quoted field may hold a line feed: the csv crate reads it.
            plain.replace("id-700;", "\"id\n700\";"),
            plain.replace(
                "Hotel og restauration;25,0;På ydelse;Fleksjob;Uddannelse\nid-900",
                "Hotel og restauration;25,0;På ydelse;Fleksjob;Uddannelse\rid-900",
            ),
        ];
        for body in odd {
            let landed = landed(dir.path(), body.into_bytes(), true);
            assert!(csv_parts(&landed, 2, 1, None).unwrap().is_none());
            // Read whole, as before.
            assert!(validate(&landed, Some("salt"), &mut |_| Flow::Continue(())).is_ok());
        }
        // A blank first line (the landing turns such a body away): the
        // header is on the next line, and the body is not cut.
        let blank_first = crate::extract::Extract::new(
            "file",
            "x.csv".into(),
            crate::extract::Format::InternshipsCsv,
            format!("\n{plain}").into_bytes(),
            None,
        );
        assert!(csv_parts(&blank_first, 2, 1, None).unwrap().is_none());
        // Too short for parts of the size asked.
        let landed = landed(dir.path(), plain.into_bytes(), false);
        assert!(csv_parts(&landed, 2, landed.bytes, None).unwrap().is_none());
    }

    /// A file's landing notes where its lines start as its screen reads
    /// them, and a large body is cut there without being read for it: the
    /// same rows as read whole, errors on the same lines.
    #[test]
    fn a_landed_file_is_cut_at_the_lines_its_screen_noted() {
        let dir = tempfile::tempdir().unwrap();
        // About 4 MB: the screen reads it in some thirty runs of lines.
        let mut rows: Vec<String> = (0..30_000).map(row).collect();
        rows[21_000] = rows[21_000].replace(";101;", ";999;");
        let bad = csv_body(&rows).into_bytes();
        rows[21_000] = row(21_000);
        let good = csv_body(&rows).into_bytes();
        for (body, said) in [(good, "30000 rows"), (bad, "line 21002")] {
            let landed = landed(dir.path(), body, true);
            let noted = landed
                .line_starts
                .as_deref()
                .expect("the landing noted lines");
            let parts = csv_parts(&landed, 4, 1, Some(noted)).unwrap().unwrap();
            assert_eq!(parts.count(), 4);
            let whole = told(Box::new(|emit, end| {
                validate_whole(&landed, Some("salt"), emit, end)
            }));
            let split = in_parts(&landed, &parts);
            assert_eq!(whole.0, split.0);
            assert!(split.0.contains(said), "{}", split.0);
            if said.ends_with("rows") {
                assert_eq!(whole.1, split.1);
            }
        }
    }

    /// Lines noted of another body than the one read now (a file that grew
    /// since its landing), or of a body the screen rewrote, are not cut at:
    /// the body is read for its cut, or whole.
    #[test]
    fn lines_noted_of_another_body_are_not_cut_at() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<String> = (0..2_000).map(row).collect();
        let body = csv_body(&rows);
        let whole = landed(dir.path(), body.clone().into_bytes(), true);
        let shorter = landed(
            dir.path(),
            body[..body.len() / 2].to_string().into_bytes(),
            true,
        );
        let noted_short = noted_by_line(&shorter);
        let read = csv_parts(&whole, 3, 1, None).unwrap().unwrap();
        let other = csv_parts(&whole, 3, 1, Some(&noted_short))
            .unwrap()
            .unwrap();
        assert_eq!(format!("{read:?}"), format!("{other:?}"));
        // A CPR number the screen replaced: the body read is the screened
        // text under raw/, whose lines stand elsewhere.
        let with_cpr = body.replacen(";P-5;", ";0101901234;", 1);
        let rewritten = landed(dir.path(), with_cpr.into_bytes(), true);
        assert!(rewritten.line_starts.is_none());
        assert!(whole.line_starts.is_some());
    }

    #[test]
    fn a_writer_that_stops_stops_every_part() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<String> = (0..(BATCH_ROWS * 5)).map(row).collect();
        let landed = landed(dir.path(), csv_body(&rows).into_bytes(), false);
        let parts = csv_parts(&landed, 2, 1, None).unwrap().unwrap();
        let mut emitted = 0;
        let mut told = false;
        let summary = validate_in_parts(
            &landed,
            Some("salt"),
            &parts,
            &mut |_| {
                emitted += 1;
                Flow::Break(())
            },
            &mut || told = true,
        )
        .unwrap();
        assert!(!told, "a stopped check tells no end");
        assert_eq!(emitted, 1);
        // Each part stopped at its next batch, before its end.
        assert!(summary.rows <= BATCH_ROWS * 4, "{}", summary.rows);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn the_repeated_hashes_are_those_that_stand_more_than_once(
            lists in proptest::collection::vec(proptest::collection::vec(0u64..40, 0..30), 0..5),
        ) {
            let sorted: Vec<Vec<u64>> = lists
                .into_iter()
                .map(|mut list| {
                    list.sort_unstable();
                    list
                })
                .collect();
            let mut counts: HashMap<u64, usize> = HashMap::new();
            for value in sorted.iter().flatten() {
                *counts.entry(*value).or_default() += 1;
            }
            let expected: HashSet<u64> = counts
                .into_iter()
                .filter(|(_, n)| *n > 1)
                .map(|(value, _)| value)
                .collect();
            proptest::prop_assert_eq!(repeated(&sorted), expected);
        }

        #[test]
        fn any_plain_body_checked_in_parts_gives_what_it_gives_whole(
            lines in proptest::collection::vec(0u8..8, 8..120),
            parts in 2usize..5,
        ) {
            let body: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(n, kind)| match kind {
                    0 => String::new(),
                    1 => row(n).replace(";101;", ";999;"),
                    2 => row(0),
                    3 => row(n).replace(";Fleksjob", ""),
                    4 => format!("{}\r", row(n)),
                    _ => row(n),
                })
                .collect();
            let mut bytes = format!("{HEADER}\n{}\n", body.join("\n")).into_bytes();
            // A Windows-1252 letter (æ) in one industry.
            if let Some(at) = bytes.windows(5).position(|w| w == b"Hotel") {
                bytes[at] = 0xe6;
            }
            let dir = tempfile::tempdir().unwrap();
            let landed = landed(dir.path(), bytes, lines.len() % 2 == 0);
            let [whole, split] = both_ways(&landed, parts);
            proptest::prop_assert_eq!(&whole.0, &split.0);
            // A rejected body's rows are thrown away, however many were
            // checked before its bad row was met.
            if !whole.0.starts_with("error") {
                proptest::prop_assert_eq!(whole.1, split.1);
            }
            // Counted by their end dates alone, the rows of a body that
            // passes fall in the quarters its check gives them.
            if let Ok(summary) = validate_whole(&landed, Some("salt"), &mut |_| Flow::Continue(()), &mut || {}) {
                proptest::prop_assert_eq!(&rows_by_end_quarter(&landed, 1).unwrap(), &summary.rows_by_period);
                // In parts too, where the body can be cut.
                proptest::prop_assert_eq!(count_by_end_quarter(&landed, parts, 1).unwrap().0, summary.rows_by_period);
            }
        }
    }

    #[test]
    fn a_file_of_a_few_mb_reaches_the_writer_in_several_batches() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<String> = (0..30_000).map(row).collect();
        let bytes = csv_body(&rows).into_bytes();
        assert!(
            bytes.len() < 2 * MIN_PART_BYTES as usize,
            "checked as one part"
        );
        let landed = landed(dir.path(), bytes, true);
        let mut sizes = Vec::new();
        validate(&landed, Some("salt"), &mut |batch| {
            sizes.push(batch.num_rows());
            Flow::Continue(())
        })
        .unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 30_000);
        assert!(sizes.len() >= 3, "{sizes:?}");
        assert!(
            sizes
                .iter()
                .all(|n| *n >= MIN_BATCH_ROWS || *n == sizes[sizes.len() - 1]),
            "{sizes:?}"
        );
        // A large body's batches are whole ones.
        assert_eq!(batch_rows(1 << 30), BATCH_ROWS);
        assert_eq!(batch_rows(1000), MIN_BATCH_ROWS);
    }

    #[test]
    fn rows_are_counted_by_the_quarter_they_end_in_and_an_unreadable_end_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let body = [
            row(0),
            row(1),
            row(5),
            row(2).replace(";30-06-2020;", ";31-06-2020;"),
            row(3).replace(";2020-09-01;", ";;"),
            row(6).replace(";30-06-2020;", ";30-06-1989;"),
            row(7).replace(";kontanthjaelp_jobparat;", ";no such group;"),
        ];
        let bytes = format!("{HEADER}\n{}\n", body.join("\n")).into_bytes();
        let landed = landed(dir.path(), bytes, true);
        let q = |p: &str| p.parse::<Period>().unwrap();
        let expected = BTreeMap::from([(q("2019Q4"), 1), (q("2020Q1"), 2), (q("2020Q3"), 1)]);
        assert_eq!(
            rows_by_end_quarter(&landed, 1).unwrap(),
            expected,
            "a date that is no date, an empty one and one before 1990 are not counted; \
             a row the check rejects for another cell is"
        );
        for parts in [2, 3, 7] {
            let (counted, cut) = count_by_end_quarter(&landed, parts, 1).unwrap();
            assert_eq!(counted, expected, "in {parts} parts");
            assert!(cut.is_some(), "the cut is handed on");
        }
    }

    #[test]
    fn free_text_is_screened_when_learnt_and_each_time_once_the_memo_is_full() {
        let mut texts = Texts::new();
        let mut text_of = |industry: &[u8]| {
            let mut raw: [&[u8]; 12] = [b""; 12];
            raw[7] = industry;
            texts.get(&Cells::of_bytes(raw), 7).map(Cow::into_owned)
        };
        for k in 0..MEMO_LIMIT + 10 {
            let value = format!(" Branche {k} ");
            assert_eq!(text_of(value.as_bytes()).as_deref(), Some(value.trim()));
        }
        assert_eq!(text_of(b" Branche 3 ").as_deref(), Some("Branche 3"));
        assert_eq!(
            text_of(b"Bygge og anl\xe6g").as_deref(),
            Some("Bygge og anl\u{e6}g")
        );
        assert_eq!(text_of(b"Branche 010190-1234"), None);
        assert_eq!(text_of(b"Branche 010190-1234"), None);
    }

    #[test]
    fn hashes_repeated_within_a_part_or_across_parts_are_found() {
        let set = |values: &[u64]| values.iter().copied().collect::<HashSet<u64>>();
        assert_eq!(repeated(&[vec![1, 2, 2, 5]]), set(&[2]));
        assert_eq!(
            repeated(&[vec![1, 4, 9], vec![2, 4], vec![], vec![9, 9, 10]]),
            set(&[4, 9])
        );
        assert_eq!(repeated(&[vec![1, 3], vec![2, 4]]), set(&[]));
        assert_eq!(repeated(&[]), set(&[]));
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
        assert_eq!(hours(b"18,5"), Some(18.5));
        assert_eq!(hours(b"18.5"), Some(18.5));
        assert_eq!(hours(b"37"), Some(37.0));
        assert_eq!(hours(b"0,1"), "0.1".parse().ok());
        for bad in ["80,5", "-1", "x", "1,2,3", "123456789012345678901234567"] {
            assert_eq!(hours(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn dates_in_both_orders() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 31);
        assert_eq!(date(b"2024-05-31"), d);
        assert_eq!(date(b"31-05-2024"), d);
        for bad in ["31-02-2024", "2024/05/31", "2024-5-31", "31.05.2024", ""] {
            assert_eq!(date(bad.as_bytes()), None, "{bad}");
        }
    }
}
