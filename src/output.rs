//! Writing query results for people and programs: an aligned table, CSV,
//! JSON, JSON lines, a Markdown table, or Parquet (to a file only); to stdout
//! or, whole or not at all, to a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arrow::csv::WriterBuilder;
use arrow::json::{ArrayWriter, LineDelimitedWriter};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use arrow::util::pretty::pretty_format_batches;
use parquet::arrow::ArrowWriter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryFormat {
    #[default]
    Table,
    Csv,
    Json,
    /// One JSON object per line.
    Jsonl,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    /// Binary: only with `--out FILE`.
    Parquet,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("`{0}` is not an output format: use table, csv, json, jsonl, markdown or parquet")]
    UnknownFormat(String),
    #[error("parquet is a binary format and is not written to a terminal or pipe: add --out FILE")]
    BinaryToStdout,
    #[error("cannot write to {path}; check that its folder exists and may be written")]
    OutFile {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("cannot write the result as Parquet")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("cannot format the result")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot write the result")]
    Io(#[from] std::io::Error),
}

impl QueryFormat {
    pub const ALL: [QueryFormat; 6] = [
        QueryFormat::Table,
        QueryFormat::Csv,
        QueryFormat::Json,
        QueryFormat::Jsonl,
        QueryFormat::Markdown,
        QueryFormat::Parquet,
    ];

    /// The name `--format` and `\format` take.
    pub fn name(self) -> &'static str {
        match self {
            QueryFormat::Table => "table",
            QueryFormat::Csv => "csv",
            QueryFormat::Json => "json",
            QueryFormat::Jsonl => "jsonl",
            QueryFormat::Markdown => "markdown",
            QueryFormat::Parquet => "parquet",
        }
    }
}

impl FromStr for QueryFormat {
    type Err = OutputError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ndjson" => Ok(QueryFormat::Jsonl),
            "md" => Ok(QueryFormat::Markdown),
            other => QueryFormat::ALL
                .into_iter()
                .find(|f| f.name() == other)
                .ok_or_else(|| OutputError::UnknownFormat(other.into())),
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
        QueryFormat::Jsonl => {
            let mut writer = LineDelimitedWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        QueryFormat::Markdown => markdown(batches, out)?,
        QueryFormat::Parquet => return Err(OutputError::BinaryToStdout),
    }
    Ok(())
}

/// A Markdown table: a header row, an alignment row (numbers right), the rows.
fn markdown(batches: &[RecordBatch], out: &mut dyn Write) -> Result<(), OutputError> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let schema = first.schema();
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let names: Vec<String> = schema.fields().iter().map(|f| cell(f.name())).collect();
    writeln!(out, "| {} |", names.join(" | "))?;
    let aligns: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type().is_numeric() {
                "---:"
            } else {
                "---"
            }
        })
        .collect();
    writeln!(out, "|{}|", aligns.join("|"))?;
    let options = FormatOptions::default().with_null("");
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| cell(&f.value(row).to_string()))
                .collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
    }
    Ok(())
}

/// A file being written: a staging file next to `path`, made before the
/// query runs (so that an unwritable path fails first), and moved into place
/// only when complete. Dropped unfinished, it leaves nothing behind.
pub struct OutFile {
    path: PathBuf,
    staged: tempfile::NamedTempFile,
}

impl OutFile {
    pub fn create(path: &Path) -> Result<OutFile, OutputError> {
        let staged = crate::durable::staging(crate::durable::folder_of(path)).map_err(|cause| {
            OutputError::OutFile {
                path: path.to_path_buf(),
                cause,
            }
        })?;
        Ok(OutFile {
            path: path.to_path_buf(),
            staged,
        })
    }

    /// Write `batches` in `format` and move the file into place.
    pub fn finish(self, batches: &[RecordBatch], format: QueryFormat) -> Result<(), OutputError> {
        let failed = |cause| OutputError::OutFile {
            path: self.path.clone(),
            cause,
        };
        {
            let mut file = std::io::BufWriter::new(self.staged.as_file());
            if format == QueryFormat::Parquet {
                let schema = match batches.first() {
                    Some(b) => b.schema(),
                    None => std::sync::Arc::new(arrow::datatypes::Schema::empty()),
                };
                let mut writer = ArrowWriter::try_new(&mut file, schema, None)?;
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.close()?;
            } else {
                write(batches, format, &mut file)?;
            }
            file.flush().map_err(failed)?;
        }
        crate::durable::persist(self.staged, &self.path).map_err(|cause| OutputError::OutFile {
            path: self.path.clone(),
            cause,
        })
    }
}
