//! Writing query results for people and programs: an aligned table, CSV or JSON.

use std::io::Write;
use std::str::FromStr;

use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::json::ArrayWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryFormat {
    #[default]
    Table,
    Csv,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("`{0}` is not an output format: use table, csv or json")]
    UnknownFormat(String),
    #[error("cannot format the result")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("cannot write the result")]
    Io(#[from] std::io::Error),
}

impl FromStr for QueryFormat {
    type Err = OutputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(QueryFormat::Table),
            "csv" => Ok(QueryFormat::Csv),
            "json" => Ok(QueryFormat::Json),
            other => Err(OutputError::UnknownFormat(other.into())),
        }
    }
}

/// Write `batches` to `out` in `format`.
pub fn write(
    batches: &[RecordBatch],
    format: QueryFormat,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    match format {
        QueryFormat::Table => writeln!(out, "{}", pretty_format_batches(batches)?)?,
        QueryFormat::Csv => {
            let mut writer = WriterBuilder::new().with_header(true).build(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        QueryFormat::Json => {
            let mut writer = ArrayWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            writeln!(out)?;
        }
    }
    Ok(())
}
