//! The columns of the store's tables. One place, so that validation, the store
//! and the tests agree.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The provenance columns every table ends with: where the row came from.
fn provenance_fields() -> [Field; 3] {
    let [source, extract_sha256] = PROVENANCE_TEXT;
    [
        Field::new(source, DataType::Utf8, false),
        Field::new(extract_sha256, DataType::Utf8, false),
        Field::new(
            "pulled_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]
}

/// Text columns whose values are (nearly) all different: ids and keys. The
/// store writes them without a Parquet dictionary (building one is wasted
/// work), and the engine reads them as plain strings, not views (a view of a
/// long value is 16 bytes more and is compared out of place anyway).
pub const DISTINCT_TEXT: [&str; 2] = ["internship_id", PERSON_KEY];

/// Text columns whose values come from a short list of labels (a benefit
/// group, an internship type, an industry, a status), nearly all of which
/// every row group holds: a group's minimum and maximum of them seldom
/// exclude what a filter asks for, so the store writes them without (see
/// `store::writer_properties`).
pub const LABEL_TEXT: [&str; 6] = [
    "benefit_group",
    "internship_type",
    "industry",
    "status_3m",
    "status_6m",
    "status_12m",
];

/// The provenance columns of text: the source and the SHA-256 of the body a
/// row came from, one value in all the rows of a data file. Each row of
/// them still costs the Parquet writer a look-up in the column's
/// dictionary, and two comparisons more if the column has statistics:
/// without them a 10M-row pull took 0.1 s less of the processor and
/// 0.14–0.20 s less time. The store writes them without (see
/// `store::writer_properties`): no query of ours filters on them, and an
/// analyst's filter on them reads a column of one value a file.
pub const PROVENANCE_TEXT: [&str; 2] = ["source", "extract_sha256"];

/// The pseudonymous key of a person in `internships`.
pub const PERSON_KEY: &str = "person_key";

/// Name of the aggregate outcomes table.
pub const OUTCOMES: &str = "outcomes";

/// The partition column of every table.
pub const PERIOD: &str = "period";

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

/// `outcomes`: one row per period × area × benefit group.
///
/// Counts are null where the source does not give them (or suppresses them);
/// then only the share is known. Never zero for "unknown".
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

/// What each column of the tables an analyst queries means: shown by
/// `praktik schema` and the shell's `\\d TABLE`. (table, column, meaning)
pub const DESCRIPTIONS: &[(&str, &str, &str)] = &[
    (
        "*",
        "period",
        "the quarter, e.g. 2019Q3 (for internships: the quarter it ended)",
    ),
    (
        "*",
        "source",
        "where the row came from: demo, jobindsats or file:NAME",
    ),
    (
        "*",
        "extract_sha256",
        "the SHA-256 of the pulled body the row was read from (kept under store/raw/)",
    ),
    ("*", "pulled_at", "when that body was pulled (UTC)"),
    (
        "*",
        "benefit_group",
        "the benefit group (ydelsesgruppe), e.g. dagpenge, kontanthjaelp_jobparat",
    ),
    (
        "*",
        "area_code",
        "municipality code (101 København), a joint jobcentre (561/563) or 000 for the whole country",
    ),
    ("*", "area_name", "the area's name"),
    ("*", "area_kind", "kommune, jobcenter or land"),
    (
        "outcomes",
        "ended",
        "company internships ended in the quarter; null where the source does not give it",
    ),
    (
        "outcomes",
        "in_work_or_education",
        "of those, in ordinary work or education 3 months after",
    ),
    (
        "outcomes",
        "share_pct",
        "in_work_or_education / ended, in per cent; a share from fewer than 5 ended is never shown in reports",
    ),
    (
        "internships",
        "internship_id",
        "the internship's key in the case system",
    ),
    (
        "internships",
        "person_key",
        "a pseudonymous key of the person (HMAC of the CPR number with the store's salt), never a CPR number",
    ),
    (
        "internships",
        "municipality_code",
        "the municipality of the jobcentre",
    ),
    (
        "internships",
        "internship_type",
        "jobpraktik, udviklingspraktik or kompetencepraktik",
    ),
    (
        "internships",
        "start_date",
        "the first day of the internship",
    ),
    ("internships", "end_date", "the last day of the internship"),
    (
        "internships",
        "industry",
        "the employer's industry, if known",
    ),
    ("internships", "hours_per_week", "agreed hours per week"),
    (
        "internships",
        "status_3m",
        "status 3 months after: ordinary_job, education, fleksjob, foertidspension, on_benefit or other; null if not yet known",
    ),
    ("internships", "status_6m", "the same 6 months after"),
    ("internships", "status_12m", "the same 12 months after"),
    (
        "runs",
        "run_id",
        "the run's key, also in the commits it made",
    ),
    ("runs", "command", "run or pull"),
    ("runs", "started_at", "when it began (UTC)"),
    ("runs", "ended_at", "when it ended (UTC)"),
    ("runs", "host", "the machine it ran on"),
    ("runs", "outcome", "ok or failed"),
    ("runs", "versions", "the table versions it wrote"),
    ("runs", "error", "why it failed"),
    ("areas", "region", "the municipality's region"),
    (
        "areas",
        "members",
        "the municipality codes an area is made of, separated by spaces",
    ),
    (
        "benefit_groups",
        "benefit",
        "the benefit, in Danish (a table's upper header)",
    ),
    (
        "benefit_groups",
        "sub_group",
        "the sub-group, if any (jobparat, aktivitetsparat)",
    ),
    (
        "benefit_groups",
        "recipients",
        "the recipients as a Danish sentence names them",
    ),
];

/// What each table holds, one line each (the shell's `\d`).
pub const TABLES: &[(&str, &str)] = &[
    (
        OUTCOMES,
        "share in work or education after a company internship, per quarter, area, benefit group",
    ),
    (
        INTERNSHIPS,
        "person-level internships (persons as keys, never CPR numbers), per quarter ended",
    ),
    (
        RUNS,
        "every run and pull: when, where, outcome, versions written",
    ),
    (
        "areas",
        "municipalities, jobcentres, regions and the country, with codes",
    ),
    (
        "benefit_groups",
        "the benefit groups and their Danish names",
    ),
];

/// What `table` holds; empty for a table not described.
pub fn table_description(table: &str) -> &'static str {
    TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map_or("", |(_, about)| about)
}

/// What `column` of `table` means; empty if no description is kept.
pub fn description(table: &str, column: &str) -> &'static str {
    DESCRIPTIONS
        .iter()
        .find(|(t, c, _)| *t == table && *c == column)
        .or_else(|| {
            DESCRIPTIONS
                .iter()
                .find(|(t, c, _)| *t == "*" && *c == column)
        })
        .map_or("", |(_, _, meaning)| meaning)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_described() {
        for table in [OUTCOMES, INTERNSHIPS, RUNS, "areas", "benefit_groups"] {
            assert!(!table_description(table).is_empty(), "{table}");
        }
    }

    #[test]
    fn every_stored_column_is_described() {
        for table in [OUTCOMES, INTERNSHIPS, RUNS] {
            for field in of(table).fields() {
                assert!(
                    !description(table, field.name()).is_empty(),
                    "{table}.{} has no description",
                    field.name()
                );
            }
        }
    }
}
