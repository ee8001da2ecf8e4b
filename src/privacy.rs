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

fn screen_text(extract: Extract, salt: Option<&str>) -> Result<Extract, ValidateError> {
    let text = crate::validate::internships::decode(&extract.body);
    let mut out = String::with_capacity(text.len());
    let mut replaced = 0usize;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let mut run = String::new();
        for c in line.chars().chain(std::iter::once('\u{0}')) {
            if c.is_ascii_digit() || c == '-' {
                run.push(c);
                continue;
            }
            if !run.is_empty() {
                if looks_like_cpr(&run) {
                    let salt = salt
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| rejected(&extract, format!("line {}", number + 1)))?;
                    out.push_str(&pseudonym(salt, &run));
                    replaced += 1;
                } else {
                    out.push_str(&run);
                }
                run.clear();
            }
            if c != '\u{0}' {
                out.push(c);
            }
        }
    }
    if replaced == 0 {
        return Ok(extract);
    }
    tracing::info!(input = %extract.input, values = replaced, "CPR numbers replaced by pseudonymous keys before landing");
    Ok(Extract::new(
        &extract.source,
        extract.input.clone(),
        extract.format,
        out.into_bytes(),
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
