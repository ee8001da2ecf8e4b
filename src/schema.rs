//! The columns of the store's tables. One place, so that validation, the store
//! and the tests agree.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The provenance columns every table ends with: where the row came from.
fn provenance_fields() -> [Field; 3] {
    [
        Field::new("source", DataType::Utf8, false),
        Field::new("extract_sha256", DataType::Utf8, false),
        Field::new(
            "pulled_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]
}

/// Name of the aggregate outcomes table.
pub const OUTCOMES: &str = "outcomes";

/// The partition column of every table.
pub const PERIOD: &str = "period";

/// `outcomes`: one row per period × area × benefit group.
///
/// Counts are null where the source does not give them (or suppresses them);
/// then only the share is known. Never zero for "unknown".
/// The schema of the table named `table` (`outcomes` or `internships`).
pub fn of(table: &str) -> SchemaRef {
    match table {
        INTERNSHIPS => internships(),
        RUNS => runs(),
        _ => outcomes(),
    }
}

/// Name of the run ledger.
pub const RUNS: &str = "runs";

/// `runs`: one row per `run` and `pull`, written even when it fails: when,
/// where, from which source, how it ended, the table versions it wrote, and
/// its error (which never holds a value the CPR screen flags).
pub fn runs() -> SchemaRef {
    let time = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("command", DataType::Utf8, false),
        Field::new("started_at", time(), false),
        Field::new("ended_at", time(), false),
        Field::new("host", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("versions", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
    ]))
}

pub fn outcomes() -> SchemaRef {
    Arc::new(Schema::new(
        vec![
            Field::new(PERIOD, DataType::Utf8, false),
            Field::new("area_code", DataType::Utf8, false),
            Field::new("area_name", DataType::Utf8, false),
            Field::new("area_kind", DataType::Utf8, false),
            Field::new("benefit_group", DataType::Utf8, false),
            Field::new("ended", DataType::Int64, true),
            Field::new("in_work_or_education", DataType::Int64, true),
            Field::new("share_pct", DataType::Float64, true),
        ]
        .into_iter()
        .chain(provenance_fields())
        .collect::<Vec<_>>(),
    ))
}

/// Name of the person-level internships table.
pub const INTERNSHIPS: &str = "internships";

/// `internships`: one row per ended internship, partitioned by the quarter it
/// ended in. `person_key` is pseudonymous (an HMAC of a CPR number, or the
/// case system's own key), never a CPR number.
pub fn internships() -> SchemaRef {
    Arc::new(Schema::new(
        vec![
            Field::new(PERIOD, DataType::Utf8, false),
            Field::new("internship_id", DataType::Utf8, false),
            Field::new("person_key", DataType::Utf8, false),
            Field::new("municipality_code", DataType::Utf8, false),
            Field::new("benefit_group", DataType::Utf8, false),
            Field::new("internship_type", DataType::Utf8, false),
            Field::new("start_date", DataType::Date32, false),
            Field::new("end_date", DataType::Date32, false),
            Field::new("industry", DataType::Utf8, true),
            Field::new("hours_per_week", DataType::Float64, true),
            Field::new("status_3m", DataType::Utf8, true),
            Field::new("status_6m", DataType::Utf8, true),
            Field::new("status_12m", DataType::Utf8, true),
        ]
        .into_iter()
        .chain(provenance_fields())
        .collect::<Vec<_>>(),
    ))
}
