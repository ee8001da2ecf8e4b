//! Parse an outcomes extract into Arrow with an explicit schema, and reject it
//! whole if any cell is wrong, naming the input, the line or row, the column
//! and what was expected.
//!
//! Every format is first read into [`Record`]s (cells as text, in the order of
//! [`OUTCOME_COLUMNS`]); one set of checks then applies to all of them. The
//! outcomes CSV has a header naming these columns (any order):
//! `period,area_code,area_name,benefit_group,ended,in_work_or_education,share_pct`.
//! An empty cell is a missing value. Shares take a decimal point or comma.
//! The text is UTF-8 (with or without a BOM) or Windows-1252, split into
//! lines and cells as a person-level CSV is (`csv_lines`).

mod csv_lines;
pub mod csv_parts;
pub mod internships;
pub mod person_rows;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;

use crate::area::Areas;
use crate::benefit::BenefitGroup;
use crate::land::Landed;
use crate::period::Period;
use crate::privacy::cpr::shown;
use crate::schema;
use csv_lines::Records;

/// The columns an outcomes extract has, in the order the demo writes them.
pub const OUTCOME_COLUMNS: [&str; 7] = [
    "period",
    "area_code",
    "area_name",
    "benefit_group",
    "ended",
    "in_work_or_education",
    "share_pct",
];

/// How far a share may lie from the one its counts give (it is rounded to one decimal).
const SHARE_TOLERANCE: f64 = 0.05 + 1e-9;

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("cannot read {input}")]
    Read {
        input: String,
        #[source]
        cause: std::io::Error,
    },
    #[error("{input}: line {line}: the file is not readable CSV")]
    Csv {
        input: String,
        line: u64,
        #[source]
        cause: csv::Error,
    },
    #[error(
        "{input}: line {line}: the file is not readable CSV: the line has {found} fields where the header has {expected}; check its delimiters and quotes"
    )]
    Ragged {
        input: String,
        line: u64,
        found: usize,
        expected: usize,
    },
    #[error("{input}: the header lacks the column `{column}` (an outcomes extract has the columns {expected})", expected = OUTCOME_COLUMNS.join(","))]
    MissingColumn { input: String, column: &'static str },
    #[error("{input}: the header has the column `{}`, which an outcomes extract does not have (expected {expected})", shown(.column), expected = OUTCOME_COLUMNS.join(","))]
    UnknownColumn { input: String, column: String },
    #[error("{input}: {place}, column `{column}`: `{}` is not valid: {expected}", shown(.value))]
    Cell {
        input: String,
        place: String,
        column: &'static str,
        value: String,
        expected: String,
    },
    #[error("{input}: {place} repeats the key ({}) of {first_place}; each key may appear once", shown(.key))]
    DuplicateKey {
        input: String,
        place: String,
        first_place: String,
        /// `period 2019Q3, area 101, benefit group dagpenge`
        key: String,
    },
    #[error("{input}: the extract has no data rows")]
    Empty { input: String },
    #[error(
        "{input}: the body is not JSON ({bytes} bytes received; truncated or not from the API?)"
    )]
    Json {
        input: String,
        bytes: usize,
        #[source]
        cause: serde_json::Error,
    },
    #[error("{input}: the body is JSON but not {expected}")]
    Shape { input: String, expected: String },
    #[error(
        "{input}: the response has no column for {wanted}; its columns are: {have}. Set the column in [jobindsats] in praktik.toml"
    )]
    SourceColumn {
        input: String,
        wanted: String,
        have: String,
    },
    #[error(
        "{input}: {place}, column `{column}`: a CPR number may not be stored; set the secret {salt_env} to store it as a pseudonymous key (HMAC-SHA-256), or export a pseudonymous person key instead. The value is not shown here"
    )]
    Cpr {
        input: String,
        place: String,
        column: &'static str,
        salt_env: &'static str,
    },
    #[error(
        "{input}: {place} has the same internship id as {first_place} (not shown); each internship may appear once"
    )]
    DuplicateId {
        input: String,
        place: String,
        first_place: String,
    },
    #[error(
        "{input}: the header has the column `{}`, which a person-level extract does not have (known: internship_id, person_key, municipality_code, benefit_group, internship_type, start_date, end_date, industry, hours_per_week, status_3m, status_6m, status_12m, or their Danish names such as Praktiktype and Slutdato)", shown(.column)
    )]
    UnknownPersonColumn { input: String, column: String },
    #[error("{input}: the header lacks the column `{column}`, which a person-level extract needs")]
    MissingPersonColumn { input: String, column: &'static str },
    #[error(
        "{input}: {place}: the area `{}` is not a known municipality, jobcentre or the whole country; map it under [jobindsats.areas] in praktik.toml, or set unknown_areas = \"skip\"", shown(.name)
    )]
    UnknownArea {
        input: String,
        place: String,
        name: String,
    },
}

/// A validated extract: rows in its table's schema, and the quarters they cover.
#[derive(Debug)]
pub struct Validated {
    /// The table the rows belong in.
    pub table: &'static str,
    pub batch: RecordBatch,
    pub periods: BTreeSet<Period>,
}

/// One row of an extract as text, in the order of [`OUTCOME_COLUMNS`], with
/// where it stands in the input (`row 12`): what a source that is not a CSV
/// file (the Jobindsats API) makes of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub place: Place,
    pub cells: [String; 7],
}

/// Where a row is in its input, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Line(u64),
    Row(u64),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Row(n) => write!(f, "row {n}"),
        }
    }
}

#[derive(Default)]
struct Columns {
    period: Vec<Period>,
    area_code: Vec<&'static str>,
    area_name: Vec<&'static str>,
    area_kind: Vec<&'static str>,
    benefit_group: Vec<&'static str>,
    ended: Vec<Option<i64>>,
    in_work: Vec<Option<i64>>,
    share: Vec<Option<f64>>,
}

/// Read an outcomes CSV and check every row; the first bad cell rejects the
/// whole extract. The rows are checked as they are read, each cell a slice
/// of the line it stands on (no copy of the cells is made).
pub fn check_csv(extract: &Landed) -> Result<Validated, ValidateError> {
    let input = extract.input.as_str();
    let body = extract.reader().map_err(|cause| ValidateError::Read {
        input: input.into(),
        cause,
    })?;
    let mut records = Records::new(body, b',', extract.length());
    let headers = csv_header(&mut records, input)?;
    let index = column_index(input, &headers)?;
    let mut check = Check::new(extract);
    while let Some(record) = next_csv_record(&mut records, input, headers.len())? {
        let place = Place::Line(record.line);
        // One UTF-8 check for the whole line (its fields lie end to end,
        // split at ASCII commas); Windows-1252 cell by cell only when it fails.
        match std::str::from_utf8(record.bytes) {
            Ok(line) => {
                let cells = index.map(|i| {
                    record
                        .fields
                        .get(i)
                        .and_then(|at| line.get(at.clone()))
                        .map_or("", person_rows::trimmed)
                });
                check.row(place, &cells)?;
            }
            Err(_) => {
                let cells =
                    index.map(|i| record.field(i).map_or(Cow::Borrowed(""), person_rows::text));
                check.row(place, &cells.each_ref().map(|c| person_rows::trimmed(c)))?;
            }
        }
    }
    check.finish()
}

/// The header of a CSV body (its names as text, a BOM taken off); none if
/// the body is empty.
fn csv_header(records: &mut Records<'_>, input: &str) -> Result<Vec<String>, ValidateError> {
    Ok(match records.next().map_err(|e| csv_error(input, e))? {
        Some(header) => header
            .values()
            .map(|h| {
                person_rows::text(h)
                    .trim_start_matches('\u{feff}')
                    .to_string()
            })
            .collect(),
        None => Vec::new(),
    })
}

/// The next record of a CSV body, which must have as many fields as its
/// header (`width`): a line with more or fewer is named with both counts.
fn next_csv_record<'r>(
    records: &'r mut Records<'_>,
    input: &str,
    width: usize,
) -> Result<Option<csv_lines::Record<'r>>, ValidateError> {
    let record = records.next().map_err(|e| csv_error(input, e))?;
    match record {
        Some(record) if record.fields.len() != width => Err(ValidateError::Ragged {
            input: input.into(),
            line: record.line,
            found: record.fields.len(),
            expected: width,
        }),
        record => Ok(record),
    }
}

fn csv_error(input: &str, cause: csv::Error) -> ValidateError {
    ValidateError::Csv {
        input: input.into(),
        line: cause.position().map_or(1, |p| p.line()),
        cause,
    }
}

/// Check every record; the first bad cell rejects the whole extract.
pub fn check(extract: &Landed, records: &[Record]) -> Result<Validated, ValidateError> {
    let mut check = Check::new(extract);
    for record in records {
        check.row(record.place, &record.cells.each_ref().map(|c| c.trim()))?;
    }
    check.finish()
}

/// The checks of an outcomes extract, a row at a time, and the columns of
/// the rows that passed.
struct Check<'e> {
    extract: &'e Landed,
    areas: &'static Areas,
    cols: Columns,
    periods: BTreeSet<Period>,
    /// Each key's place, for a row that repeats it.
    seen: ahash::AHashMap<(Period, &'static str, BenefitGroup), Place>,
    /// The text of the last period read: most rows repeat it.
    last_period: Option<(String, Period)>,
}

impl<'e> Check<'e> {
    fn new(extract: &'e Landed) -> Check<'e> {
        Check {
            extract,
            areas: Areas::builtin(),
            cols: Columns::default(),
            periods: BTreeSet::new(),
            seen: ahash::AHashMap::new(),
            last_period: None,
        }
    }

    /// Check one row's cells (trimmed, in the order of [`OUTCOME_COLUMNS`]).
    fn row(&mut self, place: Place, cells: &[&str; 7]) -> Result<(), ValidateError> {
        let [
            period,
            area_code,
            area_name,
            benefit_group,
            ended,
            in_work,
            share_pct,
        ] = *cells;
        let extract = self.extract;
        let bad = |column: &'static str, value: &str, expected: String| ValidateError::Cell {
            input: extract.input.clone(),
            place: place.to_string(),
            column,
            value: value.to_string(),
            expected,
        };

        let period_text = period;
        let period = match &self.last_period {
            Some((text, parsed)) if text == period_text => *parsed,
            _ => {
                let parsed: Period =
                    period_text
                        .parse()
                        .map_err(|e: crate::period::PeriodError| {
                            bad("period", period_text, e.to_string())
                        })?;
                self.last_period = Some((period_text.to_string(), parsed));
                parsed
            }
        };
        if let Some(asked) = extract.period
            && period != asked
        {
            return Err(bad(
                "period",
                period_text,
                format!("the extract was pulled for {asked}"),
            ));
        }
        let area = self.areas.by_code(area_code).ok_or_else(|| {
            bad(
                "area_code",
                area_code,
                "a municipality code (101), a jobcentre (561/563) or 000 for the whole country"
                    .into(),
            )
        })?;
        if !area_name.is_empty() && area_name != area.name {
            return Err(bad(
                "area_name",
                area_name,
                format!("area {} is named `{}`", area.code, area.name),
            ));
        }
        let group: BenefitGroup =
            benefit_group
                .parse()
                .map_err(|e: crate::benefit::UnknownBenefitGroup| {
                    bad("benefit_group", benefit_group, e.to_string())
                })?;
        let ended_count = count(ended).map_err(|e| bad("ended", ended, e))?;
        let in_work_count = count(in_work).map_err(|e| bad("in_work_or_education", in_work, e))?;
        if let (Some(e), Some(w)) = (ended_count, in_work_count)
            && w > e
        {
            return Err(bad(
                "in_work_or_education",
                in_work,
                format!("it is more than the {e} ended internships on the same line"),
            ));
        }
        let share_value = share(share_pct).map_err(|e| bad("share_pct", share_pct, e))?;
        check_share_agrees(ended_count, in_work_count, share_value)
            .map_err(|e| bad("share_pct", share_pct, e))?;

        let key = (period, area.code.as_str(), group);
        if let Some(first_place) = self.seen.insert(key, place) {
            return Err(ValidateError::DuplicateKey {
                input: extract.input.clone(),
                place: place.to_string(),
                first_place: first_place.to_string(),
                key: format!(
                    "period {period}, area {}, benefit group {}",
                    area.code,
                    group.code()
                ),
            });
        }
        self.periods.insert(period);

        let cols = &mut self.cols;
        cols.period.push(period);
        cols.area_code.push(&area.code);
        cols.area_name.push(&area.name);
        cols.area_kind.push(area.kind.as_str());
        cols.benefit_group.push(group.code());
        cols.ended.push(ended_count);
        cols.in_work.push(in_work_count);
        cols.share.push(share_value);
        Ok(())
    }

    fn finish(self) -> Result<Validated, ValidateError> {
        if self.cols.period.is_empty() {
            return Err(ValidateError::Empty {
                input: self.extract.input.clone(),
            });
        }
        Ok(Validated {
            table: schema::OUTCOMES,
            batch: to_batch(self.cols, &self.periods, self.extract),
            periods: self.periods,
        })
    }
}

/// Where each of [`OUTCOME_COLUMNS`] is in `headers`, in their order.
fn column_index(input: &str, headers: &[String]) -> Result<[usize; 7], ValidateError> {
    for h in headers {
        if !OUTCOME_COLUMNS.contains(&h.trim()) {
            return Err(ValidateError::UnknownColumn {
                input: input.into(),
                column: h.into(),
            });
        }
    }
    let mut index = [0; 7];
    for (at, column) in index.iter_mut().zip(OUTCOME_COLUMNS) {
        *at = headers.iter().position(|h| h.trim() == column).ok_or(
            ValidateError::MissingColumn {
                input: input.into(),
                column,
            },
        )?;
    }
    Ok(index)
}

fn count(text: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        Ok(_) => Err("a count cannot be below zero".into()),
        Err(_) => Err("expected a whole number, or an empty cell for a missing count".into()),
    }
}

fn share(text: &str) -> Result<Option<f64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    // A decimal comma is read as a point (most shares have a point: no copy).
    let point: Cow<'_, str> = if text.contains(',') {
        Cow::Owned(text.replace(',', "."))
    } else {
        Cow::Borrowed(text)
    };
    let value: f64 = point
        .parse()
        .map_err(|_| "expected a percentage such as 14.8, or an empty cell".to_string())?;
    if !(0.0..=100.0).contains(&value) {
        return Err("a share in percent lies between 0 and 100".into());
    }
    Ok(Some(value))
}

fn check_share_agrees(
    ended: Option<i64>,
    in_work: Option<i64>,
    share: Option<f64>,
) -> Result<(), String> {
    match (ended, in_work, share) {
        (Some(0), _, Some(_)) => Err("there is no share of zero ended internships".into()),
        (Some(e), Some(w), Some(s)) if e > 0 => {
            let exact = 100.0 * w as f64 / e as f64;
            if (s - exact).abs() > SHARE_TOLERANCE {
                Err(format!(
                    "{w} of {e} is {exact:.2} pct., which does not round to {s}"
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// The provenance columns every table ends with: source, extract SHA-256, pulled at.
pub(crate) fn provenance_columns(extract: &Landed, rows: usize) -> [ArrayRef; 3] {
    let pulled_at =
        TimestampMicrosecondArray::from(vec![extract.pulled_at.timestamp_micros(); rows])
            .with_timezone("UTC");
    [
        Arc::new(StringArray::new_repeated(&extract.source, rows)),
        Arc::new(StringArray::new_repeated(&extract.sha256, rows)),
        Arc::new(pulled_at),
    ]
}

fn to_batch(cols: Columns, periods: &BTreeSet<Period>, extract: &Landed) -> RecordBatch {
    let rows = cols.period.len();
    // Each quarter's text once, not once a row.
    let texts: BTreeMap<Period, String> = periods.iter().map(|p| (*p, p.to_string())).collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            cols.period
                .iter()
                .map(|p| texts.get(p).map_or("", String::as_str)),
        )),
        Arc::new(StringArray::from(cols.area_code)),
        Arc::new(StringArray::from(cols.area_name)),
        Arc::new(StringArray::from(cols.area_kind)),
        Arc::new(StringArray::from(cols.benefit_group)),
        Arc::new(Int64Array::from(cols.ended)),
        Arc::new(Int64Array::from(cols.in_work)),
        Arc::new(Float64Array::from(cols.share)),
    ];
    columns.extend(provenance_columns(extract, rows));
    RecordBatch::try_new(schema::outcomes(), columns)
        .expect("the columns are built in the order and types of schema::outcomes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_in_any_order_and_a_missing_one_is_named() {
        let mut shuffled: Vec<&str> = OUTCOME_COLUMNS.to_vec();
        shuffled.reverse();
        shuffled[0] = " share_pct ";
        let shuffled: Vec<String> = shuffled.into_iter().map(String::from).collect();
        let index = column_index("x.csv", &shuffled).unwrap();
        assert_eq!(index, [6, 5, 4, 3, 2, 1, 0]);
        let short: Vec<String> = OUTCOME_COLUMNS[..6].iter().map(|c| c.to_string()).collect();
        let error = column_index("x.csv", &short).unwrap_err();
        assert!(error.to_string().contains("`share_pct`"), "{error}");
    }

    fn landed(dir: &tempfile::TempDir, body: Vec<u8>) -> Landed {
        use crate::extract::{Extract, Format};
        let extract = Extract::new("file", "x.csv".into(), Format::OutcomesCsv, body, None);
        crate::land::land(&dir.path().join("raw"), extract, None).unwrap()
    }

    const AREAS: [&str; 6] = ["000", "101", "147", "561", "751", "851"];

    proptest::proptest! {
        /// However a CSV is laid out (columns in any order, a BOM, `\r\n`,
        /// quotes, spaces around cells, blank lines, Windows-1252), reading
        /// it gives the rows it was written from, each on its line.
        #[test]
        fn a_csv_is_read_as_the_rows_it_was_written_from(
            rows in proptest::collection::btree_map(
                (0..AREAS.len(), 0..BenefitGroup::ALL.len()),
                (0..500i64, 0..500i64, proptest::prelude::any::<bool>()),
                1..12,
            ),
            order in proptest::strategy::Strategy::prop_shuffle(proptest::strategy::Just((0..7).collect::<Vec<usize>>())),
            styles in proptest::collection::vec(0..5u8, 100),
            bom in proptest::prelude::any::<bool>(),
            crlf in proptest::prelude::any::<bool>(),
            windows_1252 in proptest::prelude::any::<bool>(),
        ) {
            let areas = Areas::builtin();
            let end = if crlf { "\r\n" } else { "\n" };
            let mut text = String::new();
            if bom && !windows_1252 {
                text.push('\u{feff}');
            }
            let header: Vec<&str> = order.iter().map(|i| OUTCOME_COLUMNS[*i]).collect();
            text.push_str(&header.join(","));
            text.push_str(end);
            let mut line = 1;
            let mut records = Vec::new();
            let mut style = styles.iter().cycle();
            for ((area, group), (ended, in_work, comma)) in rows {
                let area = areas.by_code(AREAS[area]).unwrap();
                let in_work = in_work % (ended + 1);
                let share = if ended == 0 {
                    String::new()
                } else {
                    let share = format!("{:.1}", 100.0 * in_work as f64 / ended as f64);
                    if comma { share.replace('.', ",") } else { share }
                };
                let cells = [
                    "2019Q3".to_string(),
                    area.code.clone(),
                    area.name.clone(),
                    BenefitGroup::ALL[group].code().to_string(),
                    ended.to_string(),
                    in_work.to_string(),
                    share,
                ];
                if style.next() == Some(&4) {
                    text.push_str(end);
                    line += 1;
                }
                line += 1;
                let written: Vec<String> = order
                    .iter()
                    .map(|i| match style.next() {
                        Some(1) => format!("\"{}\"", cells[*i]),
                        Some(2) if !cells[*i].contains(',') => format!(" {} ", cells[*i]),
                        _ if cells[*i].contains(',') => format!("\"{}\"", cells[*i]),
                        _ => cells[*i].clone(),
                    })
                    .collect();
                text.push_str(&written.join(","));
                text.push_str(end);
                records.push(Record { place: Place::Line(line), cells });
            }
            let body = if windows_1252 {
                encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
            } else {
                text.into_bytes()
            };
            let dir = tempfile::tempdir().unwrap();
            let landed = landed(&dir, body);
            let read = check_csv(&landed).unwrap();
            let written = check(&landed, &records).unwrap();
            proptest::prop_assert_eq!(read.batch, written.batch);
            proptest::prop_assert_eq!(read.periods, written.periods);
        }
    }

    #[test]
    fn a_bad_cell_is_named_by_its_line_and_a_ragged_line_by_its_fields() {
        let dir = tempfile::tempdir().unwrap();
        let header = OUTCOME_COLUMNS.join(",");
        let good = "2019Q3,101,København,dagpenge,10,5,50.0";
        let bad = "2019Q3,101,København,dagpenge,10,5,60.0";
        let body = format!("{header}\n{good}\n\n2019Q3,147,,dagpenge,10,5,50.0\n{bad}\n");
        let error = check_csv(&landed(&dir, body.into_bytes())).unwrap_err();
        assert_eq!(
            error.to_string(),
            "x.csv: line 5, column `share_pct`: `60.0` is not valid: 5 of 10 is 50.00 pct., which does not round to 60"
        );
        let body = format!("{header}\n{good}\n2019Q3,147,dagpenge,10,5,50.0\n");
        let error = check_csv(&landed(&dir, body.into_bytes())).unwrap_err();
        assert!(
            matches!(
                error,
                ValidateError::Ragged {
                    line: 3,
                    found: 6,
                    expected: 7,
                    ..
                }
            ),
            "{error}"
        );
        let body = format!("{header}\n{good}\n2019Q3,101,,dagpenge,1,1,100.0\n");
        let error = check_csv(&landed(&dir, body.into_bytes())).unwrap_err();
        assert!(
            error.to_string().contains(
                "line 3 repeats the key (period 2019Q3, area 101, benefit group dagpenge) of line 2"
            ),
            "{error}"
        );
    }
}
