//! Writing query results for people and programs: an aligned table, CSV or JSON.

use std::io::Write;
use std::str::FromStr;

use arrow::csv::WriterBuilder;
use arrow::json::ArrayWriter;
use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;

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
    Arrow(#[from] arrow::error::ArrowError),
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

/// Notes a closed pipe, which Arrow's writers report only as text.
struct Watched<'a> {
    inner: &'a mut dyn Write,
    closed: bool,
}

impl Write for Watched<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| {
            self.closed |= e.kind() == std::io::ErrorKind::BrokenPipe;
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|e| {
            self.closed |= e.kind() == std::io::ErrorKind::BrokenPipe;
        })
    }
}

/// Write `batches` to `out` in `format`. A reader that closed the pipe
/// early (`| head`) gives an [`std::io::ErrorKind::BrokenPipe`] error.
pub fn write(
    batches: &[RecordBatch],
    format: QueryFormat,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let mut watched = Watched {
        inner: out,
        closed: false,
    };
    write_to(batches, format, &mut watched).map_err(|e| {
        if watched.closed {
            OutputError::Io(std::io::ErrorKind::BrokenPipe.into())
        } else {
            e
        }
    })
}

fn write_to(
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
