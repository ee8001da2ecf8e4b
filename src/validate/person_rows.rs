//! Reading a person-level extract row by row, whatever it is written in:
//! CSV (`;` or `,`, UTF-8 with or without BOM, or Windows-1252), JSON lines
//! or Parquet, with Danish or English headers. Rows stream from the body;
//! no format is held whole in memory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatchReader;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::csv_lines::Records;
use super::{Place, ValidateError};
use crate::extract::{Body, Extract};

/// The columns of a person-level extract: our name, the names case systems
/// use (as [`normalise`] writes them: in lower case, with spaces, dots and
/// dashes as single underscores), and whether the column must be there.
pub const COLUMNS: [(&str, &[&str], bool); 12] = [
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
        &["status_3m", "status_3_mdr", "status_3_måneder"],
        false,
    ),
    (
        "status_6m",
        &["status_6m", "status_6_mdr", "status_6_måneder"],
        false,
    ),
    (
        "status_12m",
        &["status_12m", "status_12_mdr", "status_12_måneder"],
        false,
    ),
];

/// One row's cells in the order of [`COLUMNS`]; a missing cell is empty.
/// A CSV row's cells are its bytes as read, decoded only when asked for as
/// text: most of a row's bytes are labels (a status, a benefit group) that
/// the check looks up by their bytes and never needs to decode, so the
/// labels' Danish letters are not checked for UTF-8 on every row.
pub struct Cells<'a> {
    /// Each cell's bytes: as read from a CSV line (untrimmed, UTF-8 or
    /// Windows-1252), or the trimmed text of a Parquet or JSON value.
    raw: [&'a [u8]; 12],
}

impl<'a> Cells<'a> {
    /// Cells read as bytes from a CSV line.
    pub(super) fn of_bytes(raw: [&'a [u8]; 12]) -> Cells<'a> {
        Cells { raw }
    }

    /// Cells that are text already (each trimmed here).
    pub(super) fn of_text(text: [&'a str; 12]) -> Cells<'a> {
        Cells {
            raw: text.map(|cell| trimmed(cell).as_bytes()),
        }
    }

    /// Cell `i`'s bytes as read: the same bytes are always the same text,
    /// so they key what was learnt from that text.
    pub fn bytes(&self, i: usize) -> &'a [u8] {
        self.raw.get(i).copied().unwrap_or_default()
    }

    /// Cell `i` as text, trimmed as `str::trim` trims it: UTF-8, or else
    /// Windows-1252 (what Danish Excel writes).
    pub fn text(&self, i: usize) -> Cow<'a, str> {
        match text(self.bytes(i)) {
            Cow::Borrowed(cell) => Cow::Borrowed(trimmed(cell)),
            Cow::Owned(cell) => Cow::Owned(trimmed(&cell).to_string()),
        }
    }

    /// Whether cell `i` is empty once trimmed.
    pub fn is_empty(&self, i: usize) -> bool {
        match self.bytes(i) {
            [] => true,
            [first, .., last] | [first @ last]
                if first.is_ascii_graphic() && last.is_ascii_graphic() =>
            {
                false
            }
            _ => self.text(i).is_empty(),
        }
    }
}

/// What to do after a row: read on, or stop.
pub type Flow = std::ops::ControlFlow<()>;

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

/// Which of [`COLUMNS`] `header` names, if any. Only the header is
/// normalised: the names in [`COLUMNS`] are written normalised (a test
/// holds them to it), so that a header costs one normalising, not one per
/// name it is compared with.
pub fn column_of(header: &str) -> Option<usize> {
    let wanted = normalise(header);
    COLUMNS
        .iter()
        .position(|(_, aliases, _)| aliases.contains(&wanted.as_str()))
}

/// Which of [`COLUMNS`] each header is; unknown or missing columns are errors.
fn map_headers<S: AsRef<str>>(
    input: &str,
    headers: &[S],
) -> Result<[Option<usize>; 12], ValidateError> {
    let mut index = [None; 12];
    for (position, header) in headers.iter().enumerate() {
        let column =
            column_of(header.as_ref()).ok_or_else(|| ValidateError::UnknownPersonColumn {
                input: input.into(),
                column: header.as_ref().to_string(),
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

/// A cell without the whitespace around it, as `str::trim` takes it away
/// (a no-break space from a spreadsheet too). Most cells start and end in
/// a visible ASCII character and are returned as they are, without
/// decoding characters from each end.
pub(super) fn trimmed(cell: &str) -> &str {
    let bytes = cell.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => cell,
        _ => cell.trim(),
    }
}

/// Text as UTF-8, or else as Windows-1252 (what Danish Excel writes).
pub(crate) fn text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

pub(super) fn read_error(extract: &Extract, cause: std::io::Error) -> ValidateError {
    ValidateError::Read {
        input: extract.input.clone(),
        cause,
    }
}

/// The error for a Parquet body that cannot be read.
fn unreadable_parquet(extract: &Extract, detail: String) -> ValidateError {
    ValidateError::Shape {
        input: extract.input.clone(),
        expected: format!("a readable Parquet file ({detail})"),
    }
}

/// A Parquet reader over the body, in memory or in a file.
fn parquet_reader(extract: &Extract) -> Result<ParquetRecordBatchReader, String> {
    let built = match &extract.body {
        Body::Bytes(bytes) => {
            ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes.clone()))
                .and_then(|b| b.build())
        }
        Body::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
            ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| b.build())
        }
    };
    built.map_err(|e| e.to_string())
}

/// Call `each` with every row of a person-level extract until it says stop.
pub fn for_each_row(
    extract: &Extract,
    each: &mut dyn FnMut(Place, &Cells<'_>) -> Result<Flow, ValidateError>,
) -> Result<(), ValidateError> {
    match extract.format {
        crate::extract::Format::InternshipsParquet => parquet_rows(extract, each),
        crate::extract::Format::InternshipsJsonl => jsonl_rows(extract, each),
        _ => csv_rows(extract, each),
    }
}

fn csv_rows(
    extract: &Extract,
    each: &mut dyn FnMut(Place, &Cells<'_>) -> Result<Flow, ValidateError>,
) -> Result<(), ValidateError> {
    let input = extract.input.as_str();
    let mut body = extract.reader().map_err(|e| read_error(extract, e))?;
    let first = body.fill_buf().map_err(|e| read_error(extract, e))?;
    let delimiter = delimiter_of(first.split(|b| *b == b'\n').next().unwrap_or_default());
    let mut records = Records::new(body, delimiter, extract.length());
    let (width, index) = csv_columns(&mut records, input)?;
    csv_records(&mut records, input, width, &index, each)
}

/// The header of a CSV body, read from `records`: how many fields it has
/// and where each of [`COLUMNS`] stands.
pub(super) fn csv_columns(
    records: &mut Records<'_>,
    input: &str,
) -> Result<(usize, [Option<usize>; 12]), ValidateError> {
    let headers = super::csv_header(records, input)?;
    Ok((headers.len(), map_headers(input, &headers)?))
}

/// `;` or `,`, whichever the header line holds more of.
pub(super) fn delimiter_of(header: &[u8]) -> u8 {
    let count = |d: u8| header.iter().filter(|b| **b == d).count();
    if count(b';') > count(b',') {
        b';'
    } else {
        b','
    }
}

/// Call `each` with the rows of `records` (after the header), which are
/// `width` fields wide and hold [`COLUMNS`] at `index`.
pub(super) fn csv_records(
    records: &mut Records<'_>,
    input: &str,
    width: usize,
    index: &[Option<usize>; 12],
    each: &mut dyn FnMut(Place, &Cells<'_>) -> Result<Flow, ValidateError>,
) -> Result<(), ValidateError> {
    while let Some(record) = super::next_csv_record(records, input, width)? {
        let place = Place::Line(record.line);
        let cells = Cells::of_bytes(std::array::from_fn(|i| {
            index[i].and_then(|p| record.field(p)).unwrap_or_default()
        }));
        let flow = each(place, &cells)?;
        if flow.is_break() {
            break;
        }
    }
    Ok(())
}

fn jsonl_rows(
    extract: &Extract,
    each: &mut dyn FnMut(Place, &Cells<'_>) -> Result<Flow, ValidateError>,
) -> Result<(), ValidateError> {
    use serde_json::{Map, Value};
    let input = extract.input.as_str();
    let mut body = extract.reader().map_err(|e| read_error(extract, e))?;
    // Key → column, learned from the keys met so far.
    let mut known: HashMap<String, usize> = HashMap::new();
    let mut bytes = Vec::new();
    let mut number = 0u64;
    loop {
        bytes.clear();
        if body
            .read_until(b'\n', &mut bytes)
            .map_err(|e| read_error(extract, e))?
            == 0
        {
            break;
        }
        number += 1;
        let line = text(&bytes);
        if line.trim().is_empty() {
            continue;
        }
        let object: Map<String, Value> =
            serde_json::from_str(&line).map_err(|cause| ValidateError::Json {
                input: format!("{input}: line {number}"),
                bytes: line.len(),
                cause,
            })?;
        if known.is_empty() {
            let keys: Vec<&String> = object.keys().collect();
            let index = map_headers(input, &keys)?;
            for (column, position) in index.iter().enumerate() {
                if let Some(p) = position {
                    known.insert(keys[*p].clone(), column);
                }
            }
        }
        let mut cells: [Cow<'_, str>; 12] = Default::default();
        for (key, value) in &object {
            let column = match known.get(key) {
                Some(c) => *c,
                None => {
                    let c = column_of(key).ok_or_else(|| ValidateError::UnknownPersonColumn {
                        input: input.into(),
                        column: key.clone(),
                    })?;
                    known.insert(key.clone(), c);
                    c
                }
            };
            cells[column] = match value {
                Value::Null => Cow::Borrowed(""),
                Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            };
        }
        if each(
            Place::Line(number),
            &Cells::of_text(cells.each_ref().map(|c| &**c)),
        )?
        .is_break()
        {
            break;
        }
    }
    Ok(())
}

fn parquet_rows(
    extract: &Extract,
    each: &mut dyn FnMut(Place, &Cells<'_>) -> Result<Flow, ValidateError>,
) -> Result<(), ValidateError> {
    let input = extract.input.as_str();
    let bad = |detail: String| unreadable_parquet(extract, detail);
    let reader = parquet_reader(extract).map_err(bad)?;
    let headers: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let index = map_headers(input, &headers)?;
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let texts: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let texts: Vec<&StringArray> = texts
            .iter()
            .filter_map(|c| c.as_any().downcast_ref::<StringArray>())
            .collect();
        for i in 0..batch.num_rows() {
            row += 1;
            let cells = Cells::of_text(std::array::from_fn(|k| {
                index[k]
                    .and_then(|p| texts.get(p))
                    .filter(|c| !c.is_null(i))
                    .map_or("", |c| c.value(i))
            }));
            if each(Place::Row(row), &cells)?.is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_is_read_as_such() {
        assert_eq!(text(b"R\xe5stof og \xf8l"), "Råstof og øl");
        assert_eq!(text("æøå".as_bytes()), "æøå");
    }

    /// A CSV cell is decoded only when asked for as text, as UTF-8 or else
    /// Windows-1252, and trimmed as `str::trim` trims (a no-break space
    /// too); its bytes stay as read.
    #[test]
    fn cells_are_decoded_and_trimmed_when_asked_for() {
        let mut raw: [&[u8]; 12] = [b""; 12];
        raw[0] = b" P\xe5 ydelse\xa0";
        raw[1] = " På ydelse\u{a0}".as_bytes();
        raw[2] = b"\xa0";
        raw[3] = b" \t";
        raw[4] = b"x";
        raw[5] = b"Fleksjob";
        let cells = Cells::of_bytes(raw);
        assert_eq!(cells.text(0), "På ydelse");
        assert_eq!(cells.text(1), "På ydelse");
        assert_eq!(cells.bytes(0), b" P\xe5 ydelse\xa0");
        let empty: Vec<bool> = (0..7).map(|i| cells.is_empty(i)).collect();
        assert_eq!(empty, [false, false, true, true, false, false, true]);
        assert_eq!(cells.bytes(12), b"");
        let mut text = [""; 12];
        text[0] = " Fleksjob ";
        let cells = Cells::of_text(text);
        assert_eq!(cells.bytes(0), b"Fleksjob");
        assert_eq!(cells.text(0), "Fleksjob");
    }

    #[test]
    fn a_short_line_is_named_whether_or_not_quotes_came_before_it() {
        let header = "Praktik_id;Person;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato";
        let good = "K1;P1;101;dagpenge;jobpraktik;2024-01-01;2024-02-01";
        for (before, line) in [
            ("", 3),
            (
                "\"K0\";P0;101;dagpenge;jobpraktik;2024-01-01;2024-02-01\n",
                4,
            ),
        ] {
            let body = format!("{header}\n{before}{good}\nK2;P2;101\n");
            let extract = Extract::new(
                "file",
                "x.csv".into(),
                crate::extract::Format::InternshipsCsv,
                body.into_bytes(),
                None,
            );
            let mut lines = Vec::new();
            let error = for_each_row(&extract, &mut |place, cells| {
                lines.push((place, cells.text(0).to_string()));
                Ok(Flow::Continue(()))
            })
            .unwrap_err();
            assert!(
                matches!(error, ValidateError::Ragged { line: l, found: 3, expected: 7, .. } if l == line),
                "{error}"
            );
            assert_eq!(
                lines.last(),
                Some(&(Place::Line(line - 1), "K1".to_string()))
            );
        }
    }

    #[test]
    fn cells_are_trimmed_as_str_trim_does() {
        for cell in [
            "",
            " ",
            "K1",
            " K1",
            "K1 ",
            "\tK1\r",
            "\u{a0}K1\u{a0}",
            "K 1",
            "\u{b}K1",
            "K1\u{b}",
            "æ",
            " ø ",
            "Å\u{2003}",
            "\u{3000}x",
        ] {
            assert_eq!(trimmed(cell), cell.trim(), "{cell:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_cell_is_trimmed_as_str_trim_does(cell in "[ \t\u{a0}\u{b}\u{2003}]{0,2}\\PC{0,4}[ \t\u{a0}\u{b}\u{2003}]{0,2}") {
            proptest::prop_assert_eq!(trimmed(&cell), cell.trim());
        }
    }

    #[test]
    fn headers_in_danish_or_english() {
        assert_eq!(column_of("\u{feff}Praktik ID"), Some(0));
        assert_eq!(column_of("CPR-nr"), Some(1));
        assert_eq!(column_of("share"), None);
        assert_eq!(column_of("Status 12 mdr."), Some(11));
        assert_eq!(column_of(" Timer  pr. uge"), Some(8));
        for (name, aliases, _) in COLUMNS {
            for alias in aliases {
                assert_eq!(
                    normalise(alias),
                    *alias,
                    "{name}: {alias} is compared as written"
                );
            }
        }
    }
}
