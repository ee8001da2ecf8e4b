//! CPR numbers never reach the store: a person-level extract is screened
//! before it is landed. In text formats every CPR-like value is replaced by
//! an HMAC-SHA-256 with the secret salt (`PRAKTIK_PERSON_SALT`); without a
//! salt, or in a Parquet file, an extract holding one is rejected unlanded.

use crate::extract::{Extract, Format};
use crate::validate::ValidateError;
use crate::validate::internships::{SALT_ENV, looks_like_cpr, pseudonym};

/// The extract as it may be kept: unchanged, or with CPR numbers replaced.
pub fn screen(extract: Extract, salt: Option<&str>) -> Result<Extract, ValidateError> {
    match extract.format {
        Format::InternshipsCsv | Format::InternshipsJsonl => screen_text(extract, salt),
        Format::InternshipsParquet => screen_parquet(extract),
        _ => Ok(extract),
    }
}

fn rejected(extract: &Extract, place: String) -> ValidateError {
    ValidateError::Cpr {
        input: extract.input.clone(),
        place,
        column: "(any)",
        salt_env: SALT_ENV,
    }
}

/// Runs of digits and dashes that look like CPR numbers, as byte ranges with
/// their line numbers. Digits and dashes are ASCII in UTF-8 and Windows-1252
/// alike, so the body is scanned as it is, without decoding or copying.
fn cpr_runs(body: &[u8]) -> Vec<(std::ops::Range<usize>, usize)> {
    let mut found = Vec::new();
    let mut line = 1;
    let mut start = None;
    for (i, byte) in body.iter().chain(std::iter::once(&b'\n')).enumerate() {
        if byte.is_ascii_digit() || *byte == b'-' {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take()
            && std::str::from_utf8(&body[s..i]).is_ok_and(looks_like_cpr)
        {
            found.push((s..i, line));
        }
        if *byte == b'\n' {
            line += 1;
        }
    }
    found
}

fn screen_text(extract: Extract, salt: Option<&str>) -> Result<Extract, ValidateError> {
    let runs = cpr_runs(&extract.body);
    let Some((_, first_line)) = runs.first() else {
        return Ok(extract);
    };
    let salt = salt
        .filter(|s| !s.is_empty())
        .ok_or_else(|| rejected(&extract, format!("line {first_line}")))?;
    let mut body = Vec::with_capacity(extract.body.len() + runs.len() * 64);
    let mut copied = 0;
    for (range, _) in &runs {
        body.extend_from_slice(&extract.body[copied..range.start]);
        let cpr = String::from_utf8_lossy(&extract.body[range.clone()]);
        body.extend_from_slice(pseudonym(salt, &cpr).as_bytes());
        copied = range.end;
    }
    body.extend_from_slice(&extract.body[copied..]);
    tracing::info!(input = %extract.input, values = runs.len(), "CPR numbers replaced by pseudonymous keys before landing");
    Ok(Extract::new(
        &extract.source,
        extract.input.clone(),
        extract.format,
        body,
        extract.period,
    ))
}

fn screen_parquet(extract: Extract) -> Result<Extract, ValidateError> {
    use datafusion::arrow::array::{Array, StringArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let bad = |detail: String| ValidateError::Shape {
        input: extract.input.clone(),
        expected: format!("a readable Parquet file ({detail})"),
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(extract.body.clone()))
        .map_err(|e| bad(e.to_string()))?
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut row = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        for column in batch.columns().iter().filter(|c| {
            matches!(
                c.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Int64
            )
        }) {
            let text = cast(column, &DataType::Utf8).map_err(|e| bad(e.to_string()))?;
            let Some(text) = text.as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            if let Some(i) =
                (0..text.len()).find(|i| !text.is_null(*i) && looks_like_cpr(text.value(*i)))
            {
                return Err(rejected(
                    &extract,
                    format!(
                        "row {} (a Parquet file is not rewritten: export a pseudonymous key, or CSV)",
                        row + i + 1
                    ),
                ));
            }
        }
        row += batch.num_rows();
    }
    Ok(extract)
}
