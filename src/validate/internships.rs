//! Person-level extracts from a municipality's case system: CSV (`;` or `,`,
//! decimal comma or point, UTF-8 with or without BOM, or Windows-1252),
//! Parquet or JSON lines, with Danish or English headers. Every cell is
//! checked; a CPR number is never stored (it becomes an HMAC-SHA-256 with a
//! secret salt, or the extract is rejected).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, Date32Array, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ValidateError, Validated};
use crate::area::{AreaKind, Areas};
use crate::benefit::BenefitGroup;
use crate::extract::{Extract, Format};
use crate::internship::{InternshipType, Status};
use crate::period::Period;
use crate::schema;

/// The columns of a person-level extract: our name, the names case systems
/// use (compared in lower case, with spaces and dots as underscores), and
/// whether the column must be there.
const COLUMNS: [(&str, &[&str], bool); 12] = [
    (
        "internship_id",
        &[
            "internship_id",
            "praktik_id",
            "praktikid",
            "forløb_id",
            "forloeb_id",
        ],
        true,
    ),
    (
        "person",
        &[
            "person_key",
            "person",
            "cpr",
            "cpr_nr",
            "cprnr",
            "borger",
            "personnummer",
        ],
        true,
    ),
    (
        "municipality_code",
        &[
            "municipality_code",
            "municipality",
            "kommune",
            "kommunekode",
            "kommune_kode",
        ],
        true,
    ),
    ("benefit_group", &["benefit_group", "ydelsesgruppe"], true),
    ("internship_type", &["internship_type", "praktiktype"], true),
    ("start_date", &["start_date", "startdato"], true),
    ("end_date", &["end_date", "slutdato"], true),
    ("industry", &["industry", "branche"], false),
    (
        "hours_per_week",
        &["hours_per_week", "timer_pr_uge", "ugentlige_timer"],
        false,
    ),
    (
        "status_3m",
        &[
            "status_3m",
            "status_3_mdr",
            "status_3_mdr_",
            "status_3_måneder",
        ],
        false,
    ),
    (
        "status_6m",
        &[
            "status_6m",
            "status_6_mdr",
            "status_6_mdr_",
            "status_6_måneder",
        ],
        false,
    ),
    (
        "status_12m",
        &[
            "status_12m",
            "status_12_mdr",
            "status_12_mdr_",
            "status_12_måneder",
        ],
        false,
    ),
];

/// The secret for pseudonymous person keys.
pub const SALT_ENV: &str = "PRAKTIK_PERSON_SALT";

/// One row as text in the order of [`COLUMNS`], with its place in the input.
struct Row {
    place: String,
    cells: [String; 12],
}

fn normalise(header: &str) -> String {
    let lower = header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace([' ', '.', '-'], "_");
    lower
        .split('_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// Which of [`COLUMNS`] each header is; unknown or missing columns are errors.
fn map_headers(input: &str, headers: &[String]) -> Result<Vec<Option<usize>>, ValidateError> {
    let mut index = vec![None; COLUMNS.len()];
    for (position, header) in headers.iter().enumerate() {
        let wanted = normalise(header);
        let column = COLUMNS
            .iter()
            .position(|(_, aliases, _)| aliases.iter().any(|a| normalise(a) == wanted))
            .ok_or_else(|| ValidateError::UnknownPersonColumn {
                input: input.into(),
                column: header.clone(),
            })?;
        index[column] = Some(position);
    }
    for (i, (name, _, required)) in COLUMNS.iter().enumerate() {
        if *required && index[i].is_none() {
            return Err(ValidateError::MissingPersonColumn {
                input: input.into(),
                column: name,
            });
        }
    }
    Ok(index)
}

/// The body as text: UTF-8 (a BOM is dropped), else Windows-1252.
pub(crate) fn decode(body: &[u8]) -> String {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match std::str::from_utf8(body) {
        Ok(text) => text.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(body)
            .0
            .into_owned(),
    }
}

fn rows_of(
    headers: Vec<String>,
    input: &str,
    lines: Vec<(String, Vec<String>)>,
) -> Result<Vec<Row>, ValidateError> {
    let index = map_headers(input, &headers)?;
    Ok(lines
        .into_iter()
        .map(|(place, values)| Row {
            place,
            cells: std::array::from_fn(|i| {
                index[i]
                    .and_then(|p| values.get(p))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            }),
        })
        .collect())
}

fn csv_rows(extract: &Extract) -> Result<Vec<Row>, ValidateError> {
    let input = extract.input.as_str();
    let text = decode(&extract.body);
    let first = text.lines().next().unwrap_or_default();
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|cause| ValidateError::Csv {
            input: input.into(),
            line: 1,
            cause,
        })?
        .iter()
        .map(str::to_string)
        .collect();
    let index = map_headers(input, &headers)?;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(cause) => {
                let line = cause.position().map_or(0, |p| p.line());
                return Err(ValidateError::Csv {
                    input: input.into(),
                    line,
                    cause,
                });
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        rows.push(Row {
            place: format!("line {line}"),
            cells: std::array::from_fn(|i| {
                index[i]
                    .and_then(|p| record.get(p))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            }),
        });
    }
    Ok(rows)
}

fn jsonl_rows(extract: &Extract) -> Result<Vec<Row>, ValidateError> {
    let input = extract.input.as_str();
    let text = decode(&extract.body);
    let mut headers: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
            .map_err(|cause| ValidateError::Json {
                input: format!("{input}: line {}", i + 1),
                bytes: line.len(),
                cause,
            })?;
        for key in object.keys() {
            if !headers.contains(key) {
                headers.push(key.clone());
            }
        }
        objects.push((format!("line {}", i + 1), object));
    }
    let lines = objects
        .into_iter()
        .map(|(place, object)| {
            let values = headers
                .iter()
                .map(|h| match object.get(h) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                })
                .collect();
            (place, values)
        })
        .collect();
    rows_of(headers, input, lines)
}

fn parquet_rows(extract: &Extract) -> Result<Vec<Row>, ValidateError> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let input = extract.input.as_str();
    let bad = |detail: String| ValidateError::Shape {
        input: input.into(),
        expected: format!("a readable Parquet file ({detail})"),
    };
    let bytes = bytes::Bytes::from(extract.body.clone());
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| bad(e.to_string()))?
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut headers = Vec::new();
    let mut lines = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        headers = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let texts: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        for row in 0..batch.num_rows() {
            let values = texts
                .iter()
                .map(|c| {
                    let c = c.as_any().downcast_ref::<StringArray>();
                    c.filter(|c| !c.is_null(row))
                        .map(|c| c.value(row).to_string())
                        .unwrap_or_default()
                })
                .collect();
            lines.push((format!("row {}", lines.len() + 1), values));
        }
    }
    rows_of(headers, input, lines)
}

/// Ten digits, with or without a dash after the sixth, whose first six are a date.
pub fn looks_like_cpr(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits: [u8; 10] = match bytes.len() {
        10 => match bytes.try_into() {
            Ok(d) => d,
            Err(_) => return false,
        },
        11 if bytes[6] == b'-' => {
            std::array::from_fn(|i| if i < 6 { bytes[i] } else { bytes[i + 1] })
        }
        _ => return false,
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |a: usize| u32::from(digits[a] - b'0') * 10 + u32::from(digits[a + 1] - b'0');
    (1..=31).contains(&number(0)) && (1..=12).contains(&number(2))
}

pub(crate) fn pseudonym(salt: &str, cpr: &str) -> String {
    let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(salt.as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(digits.as_bytes());
    hex::encode(mac.finalize().into_bytes())
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

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

#[derive(Default)]
struct Columns {
    period: Vec<String>,
    id: Vec<String>,
    person: Vec<String>,
    municipality: Vec<String>,
    group: Vec<&'static str>,
    kind: Vec<&'static str>,
    start: Vec<i32>,
    end: Vec<i32>,
    industry: Vec<Option<String>>,
    hours: Vec<Option<f64>>,
    status: [Vec<Option<&'static str>>; 3],
}

/// Validate a person-level extract; `salt` turns CPR numbers into keys.
pub fn validate(extract: &Extract, salt: Option<&str>) -> Result<Validated, ValidateError> {
    let rows = match extract.format {
        Format::InternshipsParquet => parquet_rows(extract)?,
        Format::InternshipsJsonl => jsonl_rows(extract)?,
        _ => csv_rows(extract)?,
    };
    let input = extract.input.as_str();
    let as_of = extract.pulled_at.date_naive();
    let areas = Areas::builtin();
    let mut cols = Columns::default();
    let mut periods = BTreeSet::new();
    // Internship id → where it was first seen; ids borrow from the rows.
    let mut seen: HashMap<&str, &str, ahash::RandomState> = HashMap::default();
    for row in &rows {
        let bad = |i: usize, expected: String| ValidateError::Cell {
            input: input.into(),
            place: row.place.clone(),
            column: COLUMNS[i].0,
            value: row.cells[i].clone(),
            expected,
        };
        let cell = |i: usize| row.cells[i].as_str();

        let id = cell(0);
        if id.is_empty() {
            return Err(bad(0, "every internship needs an id".into()));
        }
        for i in [0, 7] {
            if looks_like_cpr(cell(i)) {
                return Err(ValidateError::Cpr {
                    input: input.into(),
                    place: row.place.clone(),
                    column: COLUMNS[i].0,
                    salt_env: SALT_ENV,
                });
            }
        }
        if let Some(first) = seen.insert(id, &row.place) {
            return Err(ValidateError::DuplicateId {
                input: input.into(),
                place: row.place.clone(),
                first_place: first.to_string(),
                id: id.into(),
            });
        }
        let person = cell(1);
        let person = if looks_like_cpr(person) {
            let salt = salt
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ValidateError::Cpr {
                    input: input.into(),
                    place: row.place.clone(),
                    column: COLUMNS[1].0,
                    salt_env: SALT_ENV,
                })?;
            pseudonym(salt, person)
        } else if person.is_empty() {
            return Err(ValidateError::Cell {
                input: input.into(),
                place: row.place.clone(),
                column: "person",
                value: String::new(),
                expected: "every internship needs a person key".into(),
            });
        } else {
            person.to_string()
        };
        let municipality = areas
            .find(cell(2))
            .filter(|a| a.kind == AreaKind::Kommune)
            .ok_or_else(|| bad(2, "a municipality code such as 101, or its name".into()))?;
        let group: BenefitGroup = cell(3)
            .parse()
            .map_err(|e: crate::benefit::UnknownBenefitGroup| bad(3, e.to_string()))?;
        let kind: InternshipType = cell(4)
            .parse()
            .map_err(|e: crate::internship::NotOneOf| bad(4, e.to_string()))?;
        let start = date(cell(5))
            .ok_or_else(|| bad(5, "a date such as 2024-05-31 or 31-05-2024".into()))?;
        let end = date(cell(6))
            .ok_or_else(|| bad(6, "a date such as 2024-05-31 or 31-05-2024".into()))?;
        if end < start {
            return Err(bad(
                6,
                format!("the internship cannot end before it starts ({start})"),
            ));
        }
        let period = Period::new(end.year() as u16, ((end.month0() / 3) + 1) as u8)
            .ok_or_else(|| bad(6, "a date between 1990 and 2100".into()))?;
        if let Some(asked) = extract.period
            && period != asked
        {
            return Err(bad(
                6,
                format!("the extract was pulled for {asked}, and this ended in {period}"),
            ));
        }
        let hours = match cell(8) {
            "" => None,
            text => Some(
                text.replace(',', ".")
                    .parse::<f64>()
                    .ok()
                    .filter(|h| (0.0..=80.0).contains(h))
                    .ok_or_else(|| {
                        bad(
                            8,
                            "hours per week between 0 and 80, such as 15 or 18,5".into(),
                        )
                    })?,
            ),
        };
        let mut status: [Option<&'static str>; 3] = [None; 3];
        for (k, months) in [3u32, 6, 12].into_iter().enumerate() {
            let i = 9 + k;
            if cell(i).is_empty() {
                continue;
            }
            let known_from = end.checked_add_months(Months::new(months)).unwrap_or(end);
            if known_from > as_of {
                return Err(bad(
                    i,
                    format!(
                        "a status {months} months after an internship that ended {end} cannot be known before {known_from}"
                    ),
                ));
            }
            let value: Status = cell(i)
                .parse()
                .map_err(|e: crate::internship::NotOneOf| bad(i, e.to_string()))?;
            status[k] = Some(value.code());
        }

        periods.insert(period);
        cols.period.push(period.to_string());
        cols.id.push(id.to_string());
        cols.person.push(person);
        cols.municipality.push(municipality.code.clone());
        cols.group.push(group.code());
        cols.kind.push(kind.code());
        cols.start.push(days(start));
        cols.end.push(days(end));
        cols.industry
            .push(Some(cell(7).to_string()).filter(|s| !s.is_empty()));
        cols.hours.push(hours);
        for (column, value) in cols.status.iter_mut().zip(status) {
            column.push(value);
        }
    }
    if cols.id.is_empty() {
        return Err(ValidateError::Empty {
            input: input.into(),
        });
    }
    let rows = cols.id.len();
    let [s3, s6, s12] = cols.status;
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(cols.period)),
        Arc::new(StringArray::from(cols.id)),
        Arc::new(StringArray::from(cols.person)),
        Arc::new(StringArray::from(cols.municipality)),
        Arc::new(StringArray::from(cols.group)),
        Arc::new(StringArray::from(cols.kind)),
        Arc::new(Date32Array::from(cols.start)),
        Arc::new(Date32Array::from(cols.end)),
        Arc::new(StringArray::from(cols.industry)),
        Arc::new(Float64Array::from(cols.hours)),
        Arc::new(StringArray::from(s3)),
        Arc::new(StringArray::from(s6)),
        Arc::new(StringArray::from(s12)),
    ];
    columns.extend(super::provenance_columns(extract, rows));
    let batch =
        RecordBatch::try_new(schema::internships(), columns).map_err(|e| ValidateError::Shape {
            input: input.into(),
            expected: format!("rows for the internships table ({e})"),
        })?;
    Ok(Validated {
        table: schema::INTERNSHIPS,
        batch,
        periods,
    })
}

/// Whether a CSV header line is a person-level extract's.
pub fn is_internship_header(first_line: &str) -> bool {
    first_line
        .split([';', ','])
        .map(normalise)
        .any(|h| COLUMNS[0].1.iter().any(|a| normalise(a) == h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpr_numbers_are_recognised() {
        for cpr in ["0101901234", "010190-1234", "311299-0001"] {
            assert!(looks_like_cpr(cpr), "{cpr}");
        }
        for not in [
            "P-000123",
            "12345",
            "9999999999",
            "0101901234x",
            "01019-01234",
            "4400001234",
        ] {
            assert!(!looks_like_cpr(not), "{not}");
        }
        assert_eq!(
            pseudonym("salt", "010190-1234"),
            pseudonym("salt", "0101901234")
        );
        assert_ne!(
            pseudonym("salt", "0101901234"),
            pseudonym("other", "0101901234")
        );
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

    #[test]
    fn windows_1252_is_read_as_such() {
        let latin: Vec<u8> = b"Kommune;Branche\n101;R\xe5stof og \xf8l\n".to_vec();
        assert_eq!(decode(&latin), "Kommune;Branche\n101;Råstof og øl\n");
        assert_eq!(decode("\u{feff}æøå".as_bytes()), "æøå");
    }
}
