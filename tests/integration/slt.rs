//! sqllogictest files for the named queries in `sql/`, over small fixture
//! tables. A record whose SQL is `@NAME k=v …` runs the named query NAME with
//! those parameters, exactly as `praktik query --file` and the reports do.
//!
//! PRAKTIK_SLT_UPDATE=1 rewrites the expected output (review the diff).

use std::path::Path;

use arrow::array::Array;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use praktik::engine::{Engine, Params};
use sqllogictest::{DBOutput, DefaultColumnType};

struct PraktikDb {
    engine: Engine,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SltError(String);

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => {
            DefaultColumnType::FloatingPoint
        }
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Dictionary(_, _) => {
            DefaultColumnType::Text
        }
        _ => DefaultColumnType::Any,
    }
}

fn to_output(batches: &[RecordBatch]) -> Result<DBOutput<DefaultColumnType>, SltError> {
    let Some(first) = batches.first() else {
        return Ok(DBOutput::Rows {
            types: vec![],
            rows: vec![],
        });
    };
    let types = first
        .schema()
        .fields()
        .iter()
        .map(|f| column_type(f.data_type()))
        .collect();
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<_, _>>()
            .map_err(|e| SltError(e.to_string()))?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .zip(batch.columns())
                    .map(|(f, c)| {
                        let text = f.value(row).to_string();
                        if text.is_empty() && !c.is_null(row) {
                            "(empty)".to_string()
                        } else {
                            text
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(DBOutput::Rows { types, rows })
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for PraktikDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let sql = sql.trim();
        if let Some(call) = sql.strip_prefix('@') {
            let mut words = call.split_whitespace();
            let name = words.next().unwrap_or_default();
            let mut params = Params::new();
            for word in words {
                let (k, v) = word
                    .split_once('=')
                    .ok_or_else(|| SltError(format!("`{word}` is not k=v")))?;
                params.insert(k, v);
            }
            let batches = self
                .engine
                .named(name, &params)
                .await
                .map_err(|e| SltError(format!("{e}: {:?}", std::error::Error::source(&e))))?;
            return to_output(&batches);
        }
        // Fixture statements (CREATE TABLE, INSERT) run on the session directly.
        let frame = self
            .engine
            .context()
            .sql(sql)
            .await
            .map_err(|e| SltError(e.to_string()))?;
        let batches = frame.collect().await.map_err(|e| SltError(e.to_string()))?;
        if sql.to_uppercase().starts_with("SELECT") || sql.to_uppercase().starts_with("WITH") {
            to_output(&batches)
        } else {
            Ok(DBOutput::StatementComplete(0))
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "praktik"
    }
}

async fn run_file(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/slt")
        .join(name);
    let mut runner = sqllogictest::Runner::new(|| async {
        Ok(PraktikDb {
            engine: Engine::empty().map_err(|e| SltError(e.to_string()))?,
        })
    });
    if std::env::var_os("PRAKTIK_SLT_UPDATE").is_some() {
        runner
            .update_test_file(
                &path,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            )
            .await
            .unwrap();
    } else if let Err(e) = runner.run_file_async(&path).await {
        panic!("{}", e.display(true));
    }
}

#[tokio::test]
async fn effect_by_area() {
    run_file("effect_by_area.slt").await;
}

#[tokio::test]
async fn trend() {
    run_file("trend.slt").await;
}

#[tokio::test]
async fn stored_extracts() {
    run_file("stored_extracts.slt").await;
}

#[test]
fn every_named_query_has_an_slt_file() {
    for (name, _) in praktik::engine::NAMED_QUERIES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/slt/{name}.slt"));
        assert!(path.exists(), "sql/{name}.sql has no {}", path.display());
    }
}

#[tokio::test]
async fn stored_internship_extracts() {
    run_file("stored_internship_extracts.slt").await;
}

#[tokio::test]
async fn effect_by_type() {
    run_file("effect_by_type.slt").await;
}

#[tokio::test]
async fn outcomes_by_type() {
    run_file("outcomes_by_type.slt").await;
}

#[tokio::test]
async fn effect_by_municipality() {
    run_file("effect_by_municipality.slt").await;
}

#[tokio::test]
async fn persons_by_year() {
    run_file("persons_by_year.slt").await;
}

#[tokio::test]
async fn stored_groups() {
    run_file("stored_groups.slt").await;
}

#[tokio::test]
async fn last_runs() {
    run_file("last_runs.slt").await;
}

#[tokio::test]
async fn briefing_trend() {
    run_file("briefing_trend.slt").await;
}

#[tokio::test]
async fn quarter_checks() {
    run_file("quarter_checks.slt").await;
}
