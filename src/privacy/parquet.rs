//! A Parquet body is checked, not rewritten: a CPR number in any column of
//! any type (text, binary, integers of every width, floats, decimals, and
//! dictionary-encoded columns of them), in a column name or in the file's
//! metadata rejects it.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::{can_cast_types, cast};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;

use super::cpr::{contains_cpr, find, shown};
use super::{ScreenError, Why};

fn found(place: String, column: &str) -> ScreenError {
    ScreenError::Cpr {
        place,
        column: shown(column),
        why: Why::Parquet,
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

/// Check every value of a Parquet body. A damaged file can make the Parquet
/// reader panic; that is caught and reported as an unreadable file.
pub fn check<R: ChunkReader + 'static>(body: R) -> Result<(), ScreenError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_values(body))).unwrap_or_else(
        |_| {
            Err(ScreenError::Unreadable(
                "not a readable Parquet file (its metadata is damaged)".into(),
            ))
        },
    )
}

fn check_values<R: ChunkReader + 'static>(body: R) -> Result<(), ScreenError> {
    let unreadable =
        |e: String| ScreenError::Unreadable(format!("not a readable Parquet file: {e}"));
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(body).map_err(|e| unreadable(e.to_string()))?;
    if let Some(pairs) = builder.metadata().file_metadata().key_value_metadata() {
        for pair in pairs {
            if contains_cpr(&pair.key) || pair.value.as_deref().is_some_and(contains_cpr) {
                return Err(found("the file's metadata".into(), &pair.key));
            }
        }
    }
    let schema = builder.schema().clone();
    for field in schema.fields() {
        if contains_cpr(field.name()) {
            return Err(found("the header".into(), field.name()));
        }
    }
    let mut row = 0usize;
    for batch in builder.build().map_err(|e| unreadable(e.to_string()))? {
        let batch = batch.map_err(|e| unreadable(e.to_string()))?;
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            let at = first_cpr(column).map_err(|e| {
                ScreenError::Unreadable(format!("column `{}`: {e}", shown(field.name())))
            })?;
            if let Some(i) = at {
                return Err(found(format!("row {}", row + i + 1), field.name()));
            }
        }
        row += batch.num_rows();
    }
    Ok(())
}
