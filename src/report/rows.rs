//! Reading query results by column name, whatever physical type the engine
//! chose (the store gives `Utf8View` strings and dictionary-encoded periods).

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;

use super::ReportError;

/// One column of every batch, cast to `to`.
fn column(
    batches: &[RecordBatch],
    query: &str,
    name: &str,
    to: &DataType,
) -> Result<Vec<std::sync::Arc<dyn Array>>, ReportError> {
    batches
        .iter()
        .map(|batch| {
            let array = batch
                .column_by_name(name)
                .ok_or_else(|| ReportError::MissingColumn {
                    query: query.into(),
                    column: name.into(),
                })?;
            cast(array, to).map_err(|cause| ReportError::ColumnType {
                query: query.into(),
                column: name.into(),
                cause,
            })
        })
        .collect()
}

pub fn strings(
    batches: &[RecordBatch],
    query: &str,
    name: &str,
) -> Result<Vec<Option<String>>, ReportError> {
    Ok(column(batches, query, name, &DataType::Utf8)?
        .iter()
        .flat_map(|a| {
            a.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect())
}

pub fn ints(
    batches: &[RecordBatch],
    query: &str,
    name: &str,
) -> Result<Vec<Option<i64>>, ReportError> {
    Ok(column(batches, query, name, &DataType::Int64)?
        .iter()
        .flat_map(|a| a.as_primitive::<Int64Type>().iter().collect::<Vec<_>>())
        .collect())
}

pub fn floats(
    batches: &[RecordBatch],
    query: &str,
    name: &str,
) -> Result<Vec<Option<f64>>, ReportError> {
    Ok(column(batches, query, name, &DataType::Float64)?
        .iter()
        .flat_map(|a| a.as_primitive::<Float64Type>().iter().collect::<Vec<_>>())
        .collect())
}
