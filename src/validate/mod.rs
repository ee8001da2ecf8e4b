//! Parse an outcomes extract into Arrow with an explicit schema, and reject it
//! whole if any cell is wrong, naming the input, the line or row, the column
//! and what was expected.
//!
//! Every format is first read into [`Record`]s (cells as text, in the order of
//! [`OUTCOME_COLUMNS`]); one set of checks then applies to all of them. The
//! outcomes CSV has a header naming these columns (any order):
//! `period,area_code,area_name,benefit_group,ended,in_work_or_education,share_pct`.
//! An empty cell is a missing value. Shares take a decimal point or comma.

mod csv_lines;
pub mod internships;
pub mod person_rows;

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;

use crate::area::Areas;
use crate::benefit::BenefitGroup;
use crate::land::Landed;
use crate::period::Period;
use crate::privacy::cpr::shown;
use crate::schema;

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
/// where it stands in the input (`line 5`, `row 12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub place: String,
    pub cells: [String; 7],
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

/// The records of an outcomes CSV.
pub fn csv_records(extract: &Landed) -> Result<Vec<Record>, ValidateError> {
    let input = extract.input.as_str();
    let body = extract.bytes().map_err(|cause| ValidateError::Read {
        input: input.into(),
        cause,
    })?;
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
    let mut reader = csv::ReaderBuilder::new().from_reader(body);
    let headers = reader
        .headers()
        .map_err(|cause| ValidateError::Csv {
            input: input.into(),
            line: 1,
            cause,
        })?
        .clone();
    let index = column_index(input, &headers)?;
    reader
        .records()
        .map(|record| {
            let record = record.map_err(|cause| {
                let line = cause.position().map_or(0, |p| p.line());
                ValidateError::Csv {
                    input: input.into(),
                    line,
                    cause,
                }
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let cell = |i: usize| record.get(index[i]).unwrap_or("").trim().to_string();
            Ok(Record {
                place: format!("line {line}"),
                cells: std::array::from_fn(cell),
            })
        })
        .collect()
}

/// Check every record; the first bad cell rejects the whole extract.
pub fn check(extract: &Landed, records: &[Record]) -> Result<Validated, ValidateError> {
    let input = extract.input.as_str();
    let areas = Areas::builtin();
    let mut cols = Columns::default();
    let mut periods = BTreeSet::new();
    let mut seen: ahash::AHashMap<(Period, &str, BenefitGroup), &str> =
        ahash::AHashMap::with_capacity(records.len());
    for record in records {
        let cell = |name: &'static str| {
            let i = OUTCOME_COLUMNS
                .iter()
                .position(|c| *c == name)
                .unwrap_or_default();
            record.cells[i].as_str()
        };
        let bad = |column: &'static str, expected: String| ValidateError::Cell {
            input: input.into(),
            place: record.place.clone(),
            column,
            value: cell(column).to_string(),
            expected,
        };

        let period: Period = cell("period")
            .parse()
            .map_err(|e: crate::period::PeriodError| bad("period", e.to_string()))?;
        if let Some(asked) = extract.period
            && period != asked
        {
            return Err(bad("period", format!("the extract was pulled for {asked}")));
        }
        let area = areas.by_code(cell("area_code")).ok_or_else(|| {
            bad(
                "area_code",
                "a municipality code (101), a jobcentre (561/563) or 000 for the whole country"
                    .into(),
            )
        })?;
        let name = cell("area_name");
        if !name.is_empty() && name != area.name {
            return Err(bad(
                "area_name",
                format!("area {} is named `{}`", area.code, area.name),
            ));
        }
        let group: BenefitGroup =
            cell("benefit_group")
                .parse()
                .map_err(|e: crate::benefit::UnknownBenefitGroup| {
                    bad("benefit_group", e.to_string())
                })?;
        let ended = count(cell("ended")).map_err(|e| bad("ended", e))?;
        let in_work =
            count(cell("in_work_or_education")).map_err(|e| bad("in_work_or_education", e))?;
        if let (Some(e), Some(w)) = (ended, in_work)
            && w > e
        {
            return Err(bad(
                "in_work_or_education",
                format!("it is more than the {e} ended internships on the same line"),
            ));
        }
        let share = share(cell("share_pct")).map_err(|e| bad("share_pct", e))?;
        check_share_agrees(ended, in_work, share).map_err(|e| bad("share_pct", e))?;

        let key = (period, area.code.as_str(), group);
        if let Some(first_place) = seen.get(&key) {
            return Err(ValidateError::DuplicateKey {
                input: input.into(),
                place: record.place.clone(),
                first_place: first_place.to_string(),
                key: format!(
                    "period {period}, area {}, benefit group {}",
                    area.code,
                    group.code()
                ),
            });
        }
        seen.insert(key, &record.place);
        periods.insert(period);

        cols.period.push(period);
        cols.area_code.push(&area.code);
        cols.area_name.push(&area.name);
        cols.area_kind.push(area.kind.as_str());
        cols.benefit_group.push(group.code());
        cols.ended.push(ended);
        cols.in_work.push(in_work);
        cols.share.push(share);
    }
    if cols.period.is_empty() {
        return Err(ValidateError::Empty {
            input: input.into(),
        });
    }
    let batch = to_batch(cols, extract);
    Ok(Validated {
        table: schema::OUTCOMES,
        batch,
        periods,
    })
}

/// Where each of [`OUTCOME_COLUMNS`] is in `headers`, in their order.
fn column_index(input: &str, headers: &csv::StringRecord) -> Result<[usize; 7], ValidateError> {
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
    let value: f64 = text
        .replace(',', ".")
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
        Arc::new(StringArray::from(vec![extract.source.as_str(); rows])),
        Arc::new(StringArray::from(vec![extract.sha256.as_str(); rows])),
        Arc::new(pulled_at),
    ]
}

fn to_batch(cols: Columns, extract: &Landed) -> RecordBatch {
    let rows = cols.period.len();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            cols.period.iter().map(Period::to_string),
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
        let index = column_index("x.csv", &csv::StringRecord::from(shuffled)).unwrap();
        assert_eq!(index, [6, 5, 4, 3, 2, 1, 0]);
        let short = csv::StringRecord::from(OUTCOME_COLUMNS[..6].to_vec());
        let error = column_index("x.csv", &short).unwrap_err();
        assert!(error.to_string().contains("`share_pct`"), "{error}");
    }
}
