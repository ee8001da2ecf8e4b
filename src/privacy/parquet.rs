//! A Parquet body is screened like a text body: a CPR number in the person
//! column becomes its pseudonymous key (the file is written anew), one in
//! any other column of any type (text, binary, integers of every width,
//! floats, decimals, and dictionary-encoded columns of them), in a column
//! name or in the file's metadata rejects it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::{can_cast_types, cast};
use arrow::datatypes::DataType;
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;

use super::cpr::{contains_cpr, find, is_pseudonym, pseudonym, shown};
use super::{ScreenError, Why};

fn found(place: String, column: &str, why: Why) -> ScreenError {
    ScreenError::Cpr {
        place,
        column: shown(column),
        why,
    }
}

/// The first value of `array` in which a CPR number stands.
fn first_cpr(array: &ArrayRef) -> Result<Option<usize>, String> {
    let data_type = array.data_type();
    match data_type {
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            let bytes = cast(array, &DataType::BinaryView).map_err(|e| e.to_string())?;
            let bytes = bytes.as_binary_view();
            Ok((0..bytes.len()).find(|i| !bytes.is_null(*i) && !find(bytes.value(*i)).is_empty()))
        }
        DataType::Boolean
        | DataType::Null
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(..)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_)
        | DataType::Interval(_) => Ok(None),
        DataType::Dictionary(_, values)
            if matches!(values.as_ref(), DataType::Binary | DataType::LargeBinary) =>
        {
            let plain = cast(array, values).map_err(|e| e.to_string())?;
            first_cpr(&plain)
        }
        _ if can_cast_types(data_type, &DataType::Utf8View) => {
            let text = cast(array, &DataType::Utf8View).map_err(|e| e.to_string())?;
            let text = text.as_string_view();
            Ok((0..text.len()).find(|i| !text.is_null(*i) && contains_cpr(text.value(*i))))
        }
        other => Err(format!(
            "a column of type {other} cannot be checked for CPR numbers; a person-level extract has only flat columns of text, numbers and dates"
        )),
    }
}

/// Screen a Parquet body: a CPR number in the person column is replaced by
/// its pseudonymous key, one anywhere else (any column of any type, a
/// column name, the file's metadata) rejects it. Returns how many values
/// were replaced; with `out`, the body is written there with the person
/// column as text holding the keys. A damaged file can make the Parquet
/// reader panic; that is caught and reported as an unreadable file.
pub fn screen<R: ChunkReader + 'static>(
    body: R,
    is_person: &dyn Fn(&str) -> bool,
    salt: Option<&str>,
    out: Option<std::fs::File>,
) -> Result<usize, ScreenError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        screen_values(body, is_person, salt, out)
    }))
    .unwrap_or_else(|_| {
        Err(ScreenError::Unreadable(
            "not a readable Parquet file (its metadata is damaged)".into(),
        ))
    })
}

fn screen_values<R: ChunkReader + 'static>(
    body: R,
    is_person: &dyn Fn(&str) -> bool,
    salt: Option<&str>,
    out: Option<std::fs::File>,
) -> Result<usize, ScreenError> {
    let unreadable =
        |e: String| ScreenError::Unreadable(format!("not a readable Parquet file: {e}"));
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(body).map_err(|e| unreadable(e.to_string()))?;
    if let Some(pairs) = builder.metadata().file_metadata().key_value_metadata() {
        for pair in pairs {
            if contains_cpr(&pair.key) || pair.value.as_deref().is_some_and(contains_cpr) {
                return Err(found(
                    "the file's metadata".into(),
                    &pair.key,
                    Why::NotPerson,
                ));
            }
        }
    }
    let schema = builder.schema().clone();
    for field in schema.fields() {
        if contains_cpr(field.name()) {
            return Err(found("the header".into(), field.name(), Why::NotPerson));
        }
    }
    // What is written: the person column as text.
    let written = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match is_person(f.name()) {
                true => Field::new(f.name(), DataType::Utf8, f.is_nullable()),
                false => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    let mut writer = match out {
        Some(file) => Some(
            ArrowWriter::try_new(file, written.clone(), None)
                .map_err(|e| ScreenError::Write(std::io::Error::other(e)))?,
        ),
        None => None,
    };
    let mut row = 0usize;
    let mut replaced = 0usize;
    for batch in builder.build().map_err(|e| unreadable(e.to_string()))? {
        let batch = batch.map_err(|e| unreadable(e.to_string()))?;
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            let failed = |e: String| {
                ScreenError::Unreadable(format!("column `{}`: {e}", shown(field.name())))
            };
            if is_person(field.name()) {
                let text = cast(column, &DataType::Utf8).map_err(|e| failed(e.to_string()))?;
                let text = text.as_string::<i32>();
                let mut keys = Vec::with_capacity(text.len());
                for (i, value) in text.iter().enumerate() {
                    let runs = value.map(|v| find(v.as_bytes())).unwrap_or_default();
                    match value {
                        Some(v) if !runs.is_empty() && !is_pseudonym(v.trim().as_bytes()) => {
                            let salt = salt.filter(|s| !s.is_empty()).ok_or_else(|| {
                                found(format!("row {}", row + i + 1), field.name(), Why::NoSalt)
                            })?;
                            replaced += 1;
                            keys.push(Some(pseudonym(salt, &v.as_bytes()[runs[0].clone()])));
                        }
                        other => keys.push(other.map(str::to_string)),
                    }
                }
                columns.push(Arc::new(StringArray::from(keys)) as ArrayRef);
            } else {
                if let Some(i) = first_cpr(column).map_err(failed)? {
                    return Err(found(
                        format!("row {}", row + i + 1),
                        field.name(),
                        Why::NotPerson,
                    ));
                }
                columns.push(column.clone());
            }
        }
        if let Some(writer) = writer.as_mut() {
            let batch = RecordBatch::try_new(written.clone(), columns)
                .map_err(|e| ScreenError::Write(std::io::Error::other(e)))?;
            writer
                .write(&batch)
                .map_err(|e| ScreenError::Write(std::io::Error::other(e)))?;
        }
        row += batch.num_rows();
    }
    if let Some(writer) = writer {
        writer
            .close()
            .map_err(|e| ScreenError::Write(std::io::Error::other(e)))?;
    }
    Ok(replaced)
}
