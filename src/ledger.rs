//! The run ledger: every `run` and `pull` appends one row to the store's
//! `runs` table, whether it succeeded or not, so that `praktik status` and
//! an analyst (`SELECT * FROM runs`) can see what the schedule did.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};

use crate::Error;
use crate::schema::{self, RUNS};
use crate::store::{Store, WriteMetrics};

/// Append the row of one command; a failure to record it is a warning
/// (the command's own outcome stands).
pub async fn record(
    store: &Store,
    command: &str,
    source: &str,
    started: DateTime<Utc>,
    outcome: Result<&[WriteMetrics], &Error>,
) {
    record_with_note(store, command, source, started, outcome, None).await;
}

/// As [`record`], with a note in the `error` column of a run that otherwise
/// went well (reports whose data checks failed and were not rendered).
pub async fn record_with_note(
    store: &Store,
    command: &str,
    source: &str,
    started: DateTime<Utc>,
    outcome: Result<&[WriteMetrics], &Error>,
    note: Option<String>,
) {
    if let Err(e) = append(store, command, source, started, outcome, note).await {
        tracing::warn!(
            "cannot record the run in the `runs` table: {}",
            crate::describe_error(&e)
        );
    }
}

async fn append(
    store: &Store,
    command: &str,
    source: &str,
    started: DateTime<Utc>,
    outcome: Result<&[WriteMetrics], &Error>,
    note: Option<String>,
) -> Result<(), Error> {
    let text = |value: &str| -> ArrayRef { Arc::new(StringArray::from(vec![value.to_string()])) };
    let optional = |value: Option<String>| -> ArrayRef { Arc::new(StringArray::from(vec![value])) };
    let time = |at: DateTime<Utc>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(vec![at.timestamp_micros()]).with_timezone("UTC"))
    };
    let (ended, versions, error) = match outcome {
        Ok([]) => ("ok", Some("unchanged".to_string()), note),
        Ok(commits) => (
            "ok",
            Some(
                commits
                    .iter()
                    .map(|c| format!("{}={}", c.table, c.version))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            note,
        ),
        Err(e) => ("failed", None, Some(crate::describe_error(e))),
    };
    let batch = RecordBatch::try_new(
        schema::runs(),
        vec![
            text(&format!(
                "{}-{}",
                started.format("%Y%m%dT%H%M%SZ"),
                std::process::id()
            )),
            text(command),
            time(started),
            time(Utc::now()),
            text(&crate::lock::hostname()),
            text(source),
            text(ended),
            optional(versions),
            optional(error),
        ],
    )
    .map_err(|e| Error::Internal(format!("the run ledger's row: {e}")))?;
    store.append(RUNS, batch).await?;
    Ok(())
}
