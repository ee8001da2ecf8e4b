//! Checking extracts and streaming their rows into table writes: what a
//! pull and a rebuild share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::record_batch::RecordBatch;

use crate::Error;
use crate::extract::{Body, Format};
use crate::guard::Incoming;
use crate::land::{Landed, land};
use crate::period::Period;
use crate::schema::INTERNSHIPS;
use crate::source::jobindsats;
use crate::store::TableWrite;
use crate::validate;
use crate::validate::internships;
use crate::validate::person_rows::Flow;

use super::stream::{Stream, Streams};

/// A table's write under way: the quarters it replaces and what it brings.
pub(super) struct Pending {
    pub(super) write: TableWrite,
    pub(super) incoming: Incoming,
    /// Quarters written, once per extract that held them.
    pub(super) received: Vec<Period>,
    /// Per body written in full, its quarters (for the commit's metadata).
    pub(super) bodies: BTreeMap<String, String>,
}

impl Pending {
    pub(super) fn new(write: TableWrite) -> Pending {
        Pending {
            write,
            incoming: Incoming::default(),
            received: Vec::new(),
            bodies: BTreeMap::new(),
        }
    }
}

/// The error an injected fault returns (tests build with `--features failpoints`).
#[cfg(feature = "failpoints")]
pub(super) fn failpoint(name: &str) -> Error {
    Error::Internal(format!("failpoint {name}"))
}

/// What checking an extract needs beyond the extract.
#[derive(Debug, Clone, Copy)]
pub(super) struct Context<'a> {
    pub(super) jobindsats: &'a jobindsats::Settings,
    /// The secret that turns CPR numbers into pseudonymous keys.
    pub(super) person_salt: Option<&'a str>,
}

/// Read an outcomes extract, whatever its source's format, and check it.
pub(super) fn outcomes(
    extract: &Landed,
    context: Context<'_>,
) -> Result<validate::Validated, Error> {
    Ok(match extract.format {
        Format::JobindsatsV3 | Format::JobindsatsV2 => {
            let records = jobindsats::parse::records(extract, context.jobindsats)?;
            validate::check(extract, &records)?
        }
        _ => validate::check_csv(extract)?,
    })
}

/// Land `extract` under `raw_dir` and check it whole without writing any
/// table; the quarters it holds. What the front door does to every body,
/// for the property tests and for checking a body again.
pub fn check_body(
    raw_dir: &Path,
    extract: crate::extract::Extract,
    jobindsats: &jobindsats::Settings,
    person_salt: Option<&str>,
) -> Result<Vec<Period>, Error> {
    let landed = land(raw_dir, extract, person_salt)?;
    landed.finish()?;
    check_only(
        &landed,
        Context {
            jobindsats,
            person_salt,
        },
    )
}

/// For a folder of extracts, which quarters each file gives: a quarter
/// comes from the file that holds the most rows of it (on a tie, the last
/// by name), so a stray late row in one file never replaces a quarter
/// another file holds; the rows left out are named in a warning. `None`
/// where a table has only one extract.
pub(super) fn authority(
    landed: &[Landed],
    context: Context<'_>,
) -> Result<Vec<Option<BTreeSet<Period>>>, Error> {
    let mut per_table: BTreeMap<&str, usize> = BTreeMap::new();
    for extract in landed {
        *per_table.entry(extract.format.table()).or_default() += 1;
    }
    // Counted a file per core; the first error in their order is the one
    // returned, as one by one.
    let counts = crate::parallel::map_in_order(landed.iter().collect(), |extract: &Landed| {
        (per_table[extract.format.table()] > 1)
            .then(|| rows_by_period(extract, context))
            .transpose()
    })
    .into_iter()
    .collect::<Result<Vec<_>, Error>>()?;
    let mut owner: BTreeMap<(&str, Period), (usize, usize)> = BTreeMap::new();
    for (i, (extract, rows)) in landed.iter().zip(&counts).enumerate() {
        for (period, n) in rows.iter().flatten() {
            let best = owner
                .entry((extract.format.table(), *period))
                .or_insert((i, *n));
            if *n >= best.1 {
                *best = (i, *n);
            }
        }
    }
    Ok(landed
        .iter()
        .zip(&counts)
        .enumerate()
        .map(|(i, (extract, rows))| {
            let rows = rows.as_ref()?;
            let mut mine = BTreeSet::new();
            for (period, n) in rows {
                let (by, _) = owner[&(extract.format.table(), *period)];
                if by == i {
                    mine.insert(*period);
                } else {
                    tracing::warn!(
                        input = %extract.input,
                        %period,
                        rows = n,
                        authoritative = %landed[by].input,
                        "rows of a quarter another file holds more of are left out"
                    );
                }
            }
            Some(mine)
        })
        .collect())
}

/// How many rows an extract holds in each quarter. A person-level extract's
/// rows are counted by their end dates alone
/// ([`internships::rows_by_end_quarter`], in one part: the files are
/// counted side by side): it is checked whole when it is written, or, if
/// it gives no quarter, by [`check_only`]. An outcomes extract (small) is
/// checked whole here.
pub(super) fn rows_by_period(
    extract: &Landed,
    context: Context<'_>,
) -> Result<BTreeMap<Period, usize>, Error> {
    if extract.format.table() == INTERNSHIPS {
        return Ok(internships::rows_by_end_quarter(extract, 1)?);
    }
    let mut incoming = Incoming::default();
    count_outcomes(&outcomes(extract, context)?.batch, &mut incoming)?;
    Ok(incoming.rows)
}

/// Check an extract without writing it; the quarters it holds.
pub(super) fn check_only(extract: &Landed, context: Context<'_>) -> Result<Vec<Period>, Error> {
    fail::fail_point!("check-only", |_| Err(failpoint("check-only")));
    let periods = if extract.format.table() == INTERNSHIPS {
        internships::validate(extract, context.person_salt, &mut |_| Flow::Continue(()))?
            .periods()
            .collect()
    } else {
        outcomes(extract, context)?.periods
    };
    Ok(periods.into_iter().collect())
}

/// Check an extract and stream its rows into the pending write; how many
/// rows it wrote. Person-level rows are checked on a thread of their own
/// while the previous batch is encoded: `stream` if its check was started
/// with others' ([`Streams`]), otherwise alone. If the extract is the last
/// the write takes (`last`), its files are finished and flushed to the
/// disk while the check compares the ids for a repeat, its last step (at
/// 10M rows, ~0.1 s of sorting against ~0.05 s of waiting on the disk).
pub(super) async fn write_extract(
    extract: &Landed,
    context: Context<'_>,
    pending: &mut Pending,
    only: Option<&BTreeSet<Period>>,
    stream: Option<Stream>,
    last: bool,
) -> Result<usize, Error> {
    if extract.format.table() != INTERNSHIPS {
        return write_outcomes(outcomes(extract, context)?, pending, only).await;
    }
    let stopped = || Error::Internal(format!("the check of {} stopped", extract.input));
    let Stream {
        mut batches,
        summary,
    } = stream
        .or_else(|| Streams::one(extract, context.person_salt))
        .ok_or_else(stopped)?;
    let mut failed = None;
    let mut count = 0usize;
    while let Some(batch) = batches.recv().await {
        count += 1;
        if count == 2 {
            fail::fail_point!("pull-mid-batch", |_| Err(failpoint("pull-mid-batch")));
        }
        let written = match only_periods(batch, only) {
            Ok(batch) => pending.write.write(batch).await.map_err(Error::from),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            failed = Some(e);
            break;
        }
    }
    drop(batches);
    let (summary, finished) = if last && failed.is_none() {
        let (summary, finished) = tokio::join!(summary, pending.write.finish_files());
        (summary, Some(finished))
    } else {
        (summary.await, None)
    };
    let summary = summary.map_err(|_| stopped())??;
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(finished) = finished {
        finished?;
    }
    Ok(received(summary, pending, only))
}

/// Note the quarters a person-level extract gave (those in `only`) in the
/// pending write; how many rows it held.
fn received(
    summary: internships::Summary,
    pending: &mut Pending,
    only: Option<&BTreeSet<Period>>,
) -> usize {
    for (period, rows) in summary.rows_by_period {
        if only.is_none_or(|o| o.contains(&period)) {
            pending.received.push(period);
            *pending.incoming.rows.entry(period).or_default() += rows;
        }
    }
    summary.rows
}

/// An extract checked whole before its turn to be written.
pub(super) enum Checked {
    Outcomes(validate::Validated),
    /// A person-level body: its checked batches, and what they hold.
    Internships(Vec<RecordBatch>, internships::Summary),
}

/// Whether `extract` streams through its check as it is written
/// ([`write_extract`], [`Streams`]): a person-level file. Every other
/// extract may be held whole ([`check_ahead`]).
pub(super) fn streamed(extract: &Landed) -> bool {
    extract.format.table() == INTERNSHIPS && matches!(extract.body, Body::File(_))
}

/// Check `extract` whole ahead of writing it, where it may be held whole:
/// every outcomes extract, and a person-level body already in memory. `None`
/// for a person-level file ([`streamed`]).
pub(super) fn check_ahead(
    extract: &Landed,
    context: Context<'_>,
) -> Option<Result<Checked, Error>> {
    if extract.format.table() != INTERNSHIPS {
        return Some(outcomes(extract, context).map(Checked::Outcomes));
    }
    if streamed(extract) {
        return None;
    }
    let mut batches = Vec::new();
    let checked = internships::validate(extract, context.person_salt, &mut |batch| {
        batches.push(batch);
        Flow::Continue(())
    });
    Some(
        checked
            .map(|summary| Checked::Internships(batches, summary))
            .map_err(Error::from),
    )
}

/// Write an extract checked ahead ([`check_ahead`]) into the pending write;
/// how many rows it wrote.
pub(super) async fn write_checked(
    checked: Checked,
    pending: &mut Pending,
    only: Option<&BTreeSet<Period>>,
) -> Result<usize, Error> {
    match checked {
        Checked::Outcomes(valid) => write_outcomes(valid, pending, only).await,
        Checked::Internships(batches, summary) => {
            for batch in batches {
                pending.write.write(only_periods(batch, only)?).await?;
            }
            Ok(received(summary, pending, only))
        }
    }
}

/// Stream a checked outcomes extract into the pending write; how many rows
/// it wrote.
async fn write_outcomes(
    valid: validate::Validated,
    pending: &mut Pending,
    only: Option<&BTreeSet<Period>>,
) -> Result<usize, Error> {
    let batch = only_periods(valid.batch, only)?;
    let rows = batch.num_rows();
    count_outcomes(&batch, &mut pending.incoming)?;
    pending.received.extend(
        valid
            .periods
            .into_iter()
            .filter(|p| only.is_none_or(|o| o.contains(p))),
    );
    pending.write.write(batch).await?;
    Ok(rows)
}

/// The rows of `batch` in the quarters `only` names (all rows without it).
pub(super) fn only_periods(
    batch: RecordBatch,
    only: Option<&BTreeSet<Period>>,
) -> Result<RecordBatch, Error> {
    use arrow::array::{AsArray, BooleanArray};
    let Some(only) = only else {
        return Ok(batch);
    };
    let failed =
        |e: arrow::error::ArrowError| Error::Internal(format!("cannot select quarters: {e}"));
    let periods = batch
        .column_by_name(crate::schema::PERIOD)
        .ok_or_else(|| Error::Internal("a checked batch lacks its period".into()))?;
    let periods =
        arrow::compute::cast(periods, &arrow::datatypes::DataType::Utf8).map_err(failed)?;
    let keep: BooleanArray = periods
        .as_string::<i32>()
        .iter()
        .map(|p| {
            Some(
                p.and_then(|p| p.parse().ok())
                    .is_some_and(|p| only.contains(&p)),
            )
        })
        .collect();
    arrow::compute::filter_record_batch(&batch, &keep).map_err(failed)
}

/// Add an outcomes batch's rows and benefit groups per quarter to `incoming`.
/// A quarter's text is parsed once per run of rows that repeat it, and a
/// group is copied once per quarter, not once per row.
pub(super) fn count_outcomes(batch: &RecordBatch, incoming: &mut Incoming) -> Result<(), Error> {
    use arrow::array::AsArray;
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).ok())
            .ok_or_else(|| Error::Internal(format!("a checked outcomes batch lacks `{name}`")))
    };
    let (periods, groups) = (column(crate::schema::PERIOD)?, column("benefit_group")?);
    let mut seen: BTreeMap<Period, (usize, BTreeSet<&str>)> = BTreeMap::new();
    let mut last: Option<(&str, Period)> = None;
    for (text, group) in periods
        .as_string::<i32>()
        .iter()
        .zip(groups.as_string::<i32>().iter())
    {
        let (Some(text), Some(group)) = (text, group) else {
            continue;
        };
        let period = match last {
            Some((same, period)) if same == text => period,
            _ => match text.parse::<Period>() {
                Ok(period) => {
                    last = Some((text, period));
                    period
                }
                Err(_) => continue,
            },
        };
        let (rows, in_quarter) = seen.entry(period).or_default();
        *rows += 1;
        in_quarter.insert(group);
    }
    for (period, (rows, in_quarter)) in seen {
        *incoming.rows.entry(period).or_default() += rows;
        let known = incoming.groups.entry(period).or_default();
        known.extend(in_quarter.into_iter().map(str::to_string));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn outcomes_are_counted_per_quarter_with_their_groups() {
        let column = |values: Vec<Option<&str>>| Arc::new(StringArray::from(values)) as _;
        let schema = Schema::new(vec![
            Field::new(crate::schema::PERIOD, DataType::Utf8, true),
            Field::new("benefit_group", DataType::Utf8, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                column(vec![
                    Some("2024Q1"),
                    Some("2024Q1"),
                    Some("2024Q2"),
                    Some("2024Q1"),
                    None,
                    Some("not a quarter"),
                    Some("2024Q2"),
                ]),
                column(vec![
                    Some("dagpenge"),
                    Some("sygedagpenge"),
                    Some("dagpenge"),
                    Some("dagpenge"),
                    Some("dagpenge"),
                    Some("dagpenge"),
                    None,
                ]),
            ],
        )
        .unwrap();
        let mut incoming = Incoming::default();
        incoming
            .groups
            .entry("2024Q2".parse().unwrap())
            .or_default()
            .insert("ressourceforloeb".to_string());
        count_outcomes(&batch, &mut incoming).unwrap();
        count_outcomes(&batch, &mut incoming).unwrap();
        let q = |p: &str| p.parse::<Period>().unwrap();
        assert_eq!(
            incoming.rows,
            BTreeMap::from([(q("2024Q1"), 6), (q("2024Q2"), 2)])
        );
        let groups = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            incoming.groups,
            BTreeMap::from([
                (q("2024Q1"), groups(&["dagpenge", "sygedagpenge"])),
                (q("2024Q2"), groups(&["dagpenge", "ressourceforloeb"])),
            ])
        );
    }
}
