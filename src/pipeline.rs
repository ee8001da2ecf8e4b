//! The only place that chains the stages: pull → land → validate → store,
//! and store → engine → report. Holds the store's lock while it writes.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use tracing::info;

use crate::Error;
use crate::config::{Config, Secret};
use crate::engine::{Engine, Params};
use crate::extract::Format;
use crate::guard::{DEMO, Incoming, Stored};
use crate::land::{Landed, land};
use crate::ledger;
use crate::lock::Lock;
use crate::period::Period;
use crate::report::{self, Output, OutputFormat, definition};
use crate::schema::{INTERNSHIPS, OUTCOMES};
use crate::source::{Source, Wanted, jobindsats};
use crate::store::{Store, TableWrite, WriteMetrics};
use crate::validate;
use crate::validate::internships;
use crate::validate::person_rows::Flow;

/// What a pull did.
#[derive(Debug, Clone)]
pub struct PullReport {
    pub source: String,
    /// Bodies received, and how many of them were new under `raw/`.
    pub extracts: usize,
    pub landed_new: usize,
    pub bytes: u64,
    /// Quarters received that were already stored from the same bytes.
    pub unchanged: Vec<Period>,
    /// One commit per table whose quarters changed.
    pub commits: Vec<WriteMetrics>,
}

/// What the scheduled job did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub pull: PullReport,
    pub rendered: Vec<report::render::Rendered>,
}

/// Options of `praktik report`.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub name: String,
    pub period: Option<Period>,
    pub formats: Vec<OutputFormat>,
    pub as_of: Option<u64>,
}

/// Options of `praktik query`.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// A label for errors (`sql/trend.sql`, `the query`).
    pub label: String,
    pub sql: String,
    pub params: Params,
    pub as_of: Option<u64>,
}

/// How a pull may write: how long to wait for another writer, and whether
/// a stored quarter may shrink to less than half or lose a benefit group.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub lock_wait: Duration,
    pub allow_shrink: bool,
}

/// A table's write under way: the quarters it replaces and what it brings.
struct Pending {
    write: TableWrite,
    incoming: Incoming,
    /// Quarters written, once per extract that held them.
    received: Vec<Period>,
}

fn failpoint(name: &str) -> Error {
    Error::Internal(format!("failpoint {name}"))
}

/// Pull the wanted quarters from `source`, land every body, check them all
/// while their rows stream into the tables, and commit the quarters that
/// changed, one commit per table. A rejected extract commits nothing, and
/// what was written for it is taken away again. Every table of the pull is
/// checked (and guarded, see [`crate::guard`]) before any is committed.
pub async fn pull(
    config: &Config,
    source: &Source,
    wanted: &Wanted,
    options: &WriteOptions,
) -> Result<PullReport, Error> {
    let started = chrono::Utc::now();
    let result = pull_unrecorded(config, source, wanted, options).await;
    if let Ok(store) = Store::open(&config.store) {
        let commits = result.as_ref().map(|r| r.commits.as_slice());
        ledger::record(&store, "pull", &source.to_string(), started, commits).await;
    }
    result
}

async fn pull_unrecorded(
    config: &Config,
    source: &Source,
    wanted: &Wanted,
    options: &WriteOptions,
) -> Result<PullReport, Error> {
    let store = Store::open(&config.store)?;
    let _lock = Lock::take(store.root(), options.lock_wait)?;
    let stored = Stored::read(&store).await?;
    let demo = *source == Source::Demo;
    let real = stored.real_sources();
    if demo && !real.is_empty() {
        return Err(Error::DemoOnRealStore {
            sources: real.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    // A real source fetches the quarters only the demo holds, too.
    let held: BTreeSet<Period> = stored
        .periods
        .get(OUTCOMES)
        .into_iter()
        .flatten()
        .filter(|(_, p)| demo || p.source != DEMO)
        .map(|(period, _)| *period)
        .collect();
    let extracts = source.pull(wanted, &held, &config.jobindsats).await?;
    let context = Context {
        jobindsats: &config.jobindsats,
        person_salt: config.person_salt.as_ref().map(Secret::expose),
    };
    let count = extracts.len();
    let mut landed = Vec::with_capacity(count);
    for extract in extracts {
        let kept = land(&store.raw_dir(), extract, context.person_salt)?;
        info!(input = %kept.input, sha256 = %kept.sha256, bytes = kept.bytes, "landed");
        landed.push(kept);
    }
    fail::fail_point!("pull-after-landing", |_| Err(failpoint(
        "pull-after-landing"
    )));
    let landed_new = landed.iter().filter(|l| l.new).count();
    let bytes = landed.iter().map(|l| l.bytes).sum();

    let owned = match source {
        Source::File(_) => authority(&landed, context)?,
        _ => vec![None; landed.len()],
    };
    let mut pending: BTreeMap<&'static str, Pending> = BTreeMap::new();
    let mut unchanged = Vec::new();
    let mut stored_again = Vec::new();
    for (extract, only) in landed.iter().zip(&owned) {
        let table = extract.format.table();
        let held = stored.hashes(table);
        if only.as_ref().is_some_and(BTreeSet::is_empty) {
            continue;
        }
        // An extract stored before is checked without writing; its quarters
        // are unchanged if every one of them still comes from it.
        if held.values().any(|sha| *sha == extract.sha256) {
            let periods = match only {
                Some(only) => only.iter().copied().collect(),
                None => check_only(extract, context)?,
            };
            if periods
                .iter()
                .all(|p| held.get(p) == Some(&extract.sha256.as_str()))
            {
                unchanged.extend(periods);
                continue;
            }
        }
        let table_write = match pending.entry(table) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(Pending {
                write: store.begin_write(table).await?,
                incoming: Incoming::default(),
                received: Vec::new(),
            }),
        };
        let written = write_extract(extract, context, table_write, only.as_ref()).await?;
        info!(input = %extract.input, table, rows = written, "checked and written");
        if !extract.new {
            stored_again.push(extract);
        }
    }
    // Every body is kept under raw/ before a table refers to it.
    for kept in &landed {
        kept.finish()?;
    }
    unchanged.sort();
    unchanged.dedup();
    // Guards, for every table before any commit.
    for (table, table_write) in &mut pending {
        let received = table_write.received.len();
        table_write.received.sort();
        table_write.received.dedup();
        if table_write.received.len() != received {
            return Err(Error::OverlappingExtracts);
        }
        stored.check(table, &table_write.incoming, options.allow_shrink)?;
    }
    // A store never mixes demo and real rows: a real pull takes the demo
    // quarters of both tables away in the same commits.
    let mut replaced: BTreeMap<&'static str, Vec<Period>> = BTreeMap::new();
    if !demo && !pending.is_empty() {
        for table in [OUTCOMES, INTERNSHIPS] {
            let demo_periods = stored.demo_periods(table);
            if demo_periods.is_empty() {
                continue;
            }
            tracing::warn!(
                table,
                quarters = demo_periods.len(),
                "the demo quarters are removed: a store never mixes demo and real figures"
            );
            if let Entry::Vacant(entry) = pending.entry(table) {
                entry.insert(Pending {
                    write: store.begin_write(table).await?,
                    incoming: Incoming::default(),
                    received: Vec::new(),
                });
            }
            replaced.insert(table, demo_periods);
        }
    }
    fail::fail_point!("store-before-commit", |_| Err(failpoint(
        "store-before-commit"
    )));
    let mut commits = Vec::new();
    for (table, table_write) in pending {
        let periods = table_write.received;
        let mut removed = periods.clone();
        removed.extend(replaced.remove(table).unwrap_or_default());
        removed.sort();
        removed.dedup();
        let listed = periods
            .iter()
            .map(Period::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let metadata = vec![
            ("praktik.run_id".to_string(), serde_json::json!(run_id())),
            (
                "praktik.source".to_string(),
                serde_json::json!(source.to_string()),
            ),
            ("praktik.periods".to_string(), serde_json::json!(listed)),
        ];
        let metrics = table_write
            .write
            .commit(&periods, &removed, metadata)
            .await?;
        info!(
            table,
            version = metrics.version,
            rows = metrics.rows,
            "committed"
        );
        commits.push(metrics);
    }
    fail::fail_point!("pull-before-index-line", |_| Err(failpoint(
        "pull-before-index-line"
    )));
    // A body landed before and stored again gets a line of its own, so that
    // the index gives the order in which bodies were stored.
    for extract in stored_again {
        extract.record_stored_again(&store.raw_dir())?;
    }
    Ok(PullReport {
        source: source.to_string(),
        extracts: count,
        landed_new,
        bytes,
        unchanged,
        commits,
    })
}

/// What checking an extract needs beyond the extract.
#[derive(Debug, Clone, Copy)]
struct Context<'a> {
    jobindsats: &'a jobindsats::Settings,
    /// The secret that turns CPR numbers into pseudonymous keys.
    person_salt: Option<&'a str>,
}

/// Read an outcomes extract, whatever its source's format, and check it.
fn outcomes(extract: &Landed, context: Context<'_>) -> Result<validate::Validated, Error> {
    let records = match extract.format {
        Format::JobindsatsV3 | Format::JobindsatsV2 => {
            jobindsats::parse::records(extract, context.jobindsats)?
        }
        _ => validate::csv_records(extract)?,
    };
    Ok(validate::check(extract, &records)?)
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
fn authority(
    landed: &[Landed],
    context: Context<'_>,
) -> Result<Vec<Option<BTreeSet<Period>>>, Error> {
    let mut per_table: BTreeMap<&str, usize> = BTreeMap::new();
    for extract in landed {
        *per_table.entry(extract.format.table()).or_default() += 1;
    }
    let mut counts = Vec::with_capacity(landed.len());
    for extract in landed {
        counts.push(if per_table[extract.format.table()] > 1 {
            Some(rows_by_period(extract, context)?)
        } else {
            None
        });
    }
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

/// How many rows an extract holds in each quarter (it is checked whole).
fn rows_by_period(
    extract: &Landed,
    context: Context<'_>,
) -> Result<BTreeMap<Period, usize>, Error> {
    if extract.format.table() == INTERNSHIPS {
        return Ok(
            internships::validate(extract, context.person_salt, &mut |_| Flow::Continue(()))?
                .rows_by_period,
        );
    }
    let mut incoming = Incoming::default();
    count_outcomes(&outcomes(extract, context)?.batch, &mut incoming)?;
    Ok(incoming.rows)
}

/// Check an extract without writing it; the quarters it holds.
fn check_only(extract: &Landed, context: Context<'_>) -> Result<Vec<Period>, Error> {
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
/// while the previous batch is encoded.
async fn write_extract(
    extract: &Landed,
    context: Context<'_>,
    pending: &mut Pending,
    only: Option<&BTreeSet<Period>>,
) -> Result<usize, Error> {
    if extract.format.table() != INTERNSHIPS {
        let valid = outcomes(extract, context)?;
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
        return Ok(rows);
    }
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<RecordBatch>(2);
    let checked = extract.clone();
    let salt = context.person_salt.map(str::to_string);
    let checking = tokio::task::spawn_blocking(move || {
        internships::validate(&checked, salt.as_deref(), &mut |batch| {
            match sender.blocking_send(batch) {
                Ok(()) => Flow::Continue(()),
                // The writer failed and says why below.
                Err(_) => Flow::Break(()),
            }
        })
    });
    let mut failed = None;
    let mut batches = 0usize;
    while let Some(batch) = receiver.recv().await {
        batches += 1;
        if batches == 2 {
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
    drop(receiver);
    let summary = checking
        .await
        .map_err(|e| Error::Internal(format!("the check of {} stopped: {e}", extract.input)))??;
    if let Some(e) = failed {
        return Err(e);
    }
    for (period, rows) in summary.rows_by_period {
        if only.is_none_or(|o| o.contains(&period)) {
            pending.received.push(period);
            *pending.incoming.rows.entry(period).or_default() += rows;
        }
    }
    Ok(summary.rows)
}

/// The rows of `batch` in the quarters `only` names (all rows without it).
fn only_periods(batch: RecordBatch, only: Option<&BTreeSet<Period>>) -> Result<RecordBatch, Error> {
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
fn count_outcomes(batch: &RecordBatch, incoming: &mut Incoming) -> Result<(), Error> {
    use arrow::array::AsArray;
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).ok())
            .ok_or_else(|| Error::Internal(format!("a checked outcomes batch lacks `{name}`")))
    };
    let (periods, groups) = (column(crate::schema::PERIOD)?, column("benefit_group")?);
    for (period, group) in periods
        .as_string::<i32>()
        .iter()
        .zip(groups.as_string::<i32>().iter())
    {
        if let (Some(Ok(period)), Some(group)) = (period.map(str::parse::<Period>), group) {
            *incoming.rows.entry(period).or_default() += 1;
            incoming
                .groups
                .entry(period)
                .or_default()
                .insert(group.to_string());
        }
    }
    Ok(())
}

/// What `praktik store rebuild` did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// Index lines read, and of those the bodies rejected again and left out.
    pub bodies: usize,
    pub rejected: usize,
    pub commits: Vec<WriteMetrics>,
    /// Where the tables it replaced were moved.
    pub replaced: PathBuf,
}

/// Recreate the tables from `raw/` and its index alone: every indexed body
/// is opened and checked again in the order it was stored, the last body to
/// hold a quarter gives that quarter, and new tables written beside the old
/// ones take their place; the old ones are kept under `.replaced-TIME/`.
pub async fn rebuild(config: &Config, options: &WriteOptions) -> Result<RebuildReport, Error> {
    let store = Store::open(&config.store)?;
    let _lock = Lock::take(store.root(), options.lock_wait)?;
    let raw = store.raw_dir();
    let context = Context {
        jobindsats: &config.jobindsats,
        person_salt: config.person_salt.as_ref().map(Secret::expose),
    };
    let unreadable = |cause| {
        Error::Land(crate::land::LandError::Read {
            input: raw.join(crate::land::INDEX).display().to_string(),
            cause,
        })
    };
    let lines = crate::upkeep::read_index(&raw).map_err(unreadable)?;
    let mut bodies = Vec::new();
    let mut rejected = 0;
    for line in &lines {
        let Ok(line) = line else {
            tracing::warn!("an incomplete line of the index is left out");
            continue;
        };
        let path = raw.join(&line.file);
        let Some(format) = line.format.as_deref().and_then(Format::from_code) else {
            tracing::warn!(file = %line.file, "the index does not say the body's format; left out");
            continue;
        };
        let mut extract = crate::extract::Extract::with_body(
            &line.source,
            line.input.clone(),
            format,
            crate::extract::Body::File(path),
            line.period.as_deref().and_then(|p| p.parse().ok()),
        );
        extract.pulled_at = chrono::DateTime::parse_from_rfc3339(&line.pulled_at)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| Error::Internal(format!("index line of {}: {e}", line.file)))?;
        let landed = land(&raw, extract, context.person_salt)?;
        match check_only(&landed, context) {
            Ok(periods) => bodies.push((landed, periods)),
            Err(e) => {
                tracing::warn!(input = %landed.input, "rejected again, left out: {e}");
                rejected += 1;
            }
        }
    }
    // The last body to hold a quarter gives it; as in a pull, a body from a
    // real source takes the demo quarters away.
    let mut owner: BTreeMap<(&str, Period), usize> = BTreeMap::new();
    for (i, (body, periods)) in bodies.iter().enumerate() {
        if body.source != DEMO {
            owner.retain(|_, owner| bodies[*owner].0.source != DEMO);
        }
        for period in periods {
            owner.insert((body.format.table(), *period), i);
        }
    }
    let fresh_root = store.root().join(".rebuild");
    if fresh_root.exists() {
        std::fs::remove_dir_all(&fresh_root).map_err(|cause| Error::StoreFiles {
            path: fresh_root.clone(),
            cause,
        })?;
    }
    let fresh = Store::open(&fresh_root)?;
    let mut commits = Vec::new();
    for table in [OUTCOMES, INTERNSHIPS] {
        let mut pending = Pending {
            write: fresh.begin_write(table).await?,
            incoming: Incoming::default(),
            received: Vec::new(),
        };
        let mut all = Vec::new();
        for (i, (body, _)) in bodies.iter().enumerate() {
            let owned: BTreeSet<Period> = owner
                .iter()
                .filter(|((t, _), owner)| *t == table && **owner == i)
                .map(|((_, p), _)| *p)
                .collect();
            if owned.is_empty() {
                continue;
            }
            write_extract(body, context, &mut pending, Some(&owned)).await?;
            all.extend(owned);
        }
        // A table the store had stays, if empty.
        if all.is_empty() && !store.table_path(table).join("_delta_log").is_dir() {
            continue;
        }
        all.sort();
        let metadata = vec![
            ("praktik.run_id".to_string(), serde_json::json!(run_id())),
            (
                "praktik.source".to_string(),
                serde_json::json!("rebuild from raw/"),
            ),
        ];
        commits.push(pending.write.commit(&all, &all, metadata).await?);
    }
    // Swap: the old tables aside, the new ones in their place.
    let replaced = store.root().join(format!(
        ".replaced-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    let moved = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|cause| Error::StoreFiles {
            path: from.to_path_buf(),
            cause,
        })
    };
    std::fs::create_dir_all(&replaced).map_err(|cause| Error::StoreFiles {
        path: replaced.clone(),
        cause,
    })?;
    for table in [OUTCOMES, INTERNSHIPS] {
        if store.table_path(table).exists() && fresh.table_path(table).join("_delta_log").is_dir() {
            moved(&store.table_path(table), &replaced.join(table))?;
        }
        if fresh.table_path(table).join("_delta_log").is_dir() {
            moved(&fresh.table_path(table), &store.table_path(table))?;
        }
    }
    let _ = crate::durable::sync_folder(store.root());
    let _ = std::fs::remove_dir_all(&fresh_root);
    Ok(RebuildReport {
        bodies: lines.len(),
        rejected,
        commits,
        replaced,
    })
}

fn run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    )
}

/// The scheduled job: pull whatever the configured source has that the store
/// lacks, then render every report definition.
pub async fn run(config: &Config, options: &WriteOptions) -> Result<RunReport, Error> {
    let started = chrono::Utc::now();
    let result = run_unrecorded(config, options).await;
    if let Ok(store) = Store::open(&config.store) {
        let commits = result.as_ref().map(|r| r.pull.commits.as_slice());
        ledger::record(&store, "run", &config.source.to_string(), started, commits).await;
    }
    result
}

async fn run_unrecorded(config: &Config, options: &WriteOptions) -> Result<RunReport, Error> {
    let pulled = pull_unrecorded(config, &config.source, &Wanted::All, options).await?;
    let store = Store::open(&config.store)?;
    let engine = Engine::open(&store, None).await?;
    let output = Output {
        formats: config.formats.clone(),
        dir: config.out.clone(),
        chromium: config.chromium.clone(),
    };
    let mut rendered = Vec::new();
    for definition in definition::load_all(&config.reports)? {
        match report::render(&engine, &definition, None, &output).await {
            Ok(done) => rendered.push(done),
            // A source without person-level data (Jobindsats) has nothing for the type report.
            Err(report::ReportError::NoPersonData { period }) => {
                tracing::warn!(report = %definition.name, %period, "skipped: the store has no person-level internships for it");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(RunReport {
        pull: pulled,
        rendered,
    })
}

/// Render one report definition.
pub async fn report(
    config: &Config,
    options: &ReportOptions,
) -> Result<report::render::Rendered, Error> {
    let definition = definition::load(&config.reports, &options.name)?;
    let store = Store::open(&config.store)?;
    let engine = Engine::open(&store, options.as_of).await?;
    let output = Output {
        formats: options.formats.clone(),
        dir: config.out.clone(),
        chromium: config.chromium.clone(),
    };
    Ok(report::render(&engine, &definition, options.period, &output).await?)
}

/// `praktik store vacuum`: remove what no version and no index line needs,
/// under the store's lock (a running write's staging files are its own).
/// With `older_than` days, also the data files only versions older than
/// that need (those versions can then no longer be read).
pub async fn vacuum(
    config: &Config,
    options: &WriteOptions,
    older_than: Option<u64>,
    dry_run: bool,
) -> Result<Vacuumed, Error> {
    let store = Store::open(&config.store)?;
    let _lock = Lock::take(store.root(), options.lock_wait)?;
    let leftovers =
        crate::upkeep::vacuum(store.root(), dry_run).map_err(|cause| Error::StoreFiles {
            path: store.root().to_path_buf(),
            cause,
        })?;
    let mut old_files = Vec::new();
    if let Some(days) = older_than {
        for table in [OUTCOMES, INTERNSHIPS, crate::schema::RUNS] {
            for file in store.vacuum_older_than(table, days, dry_run).await? {
                old_files.push(format!("{table}/{file}"));
            }
        }
    }
    Ok(Vacuumed {
        leftovers,
        old_files,
    })
}

/// What `praktik store vacuum` removed (or, in a dry run, would remove).
#[derive(Debug, Clone)]
pub struct Vacuumed {
    pub leftovers: Vec<crate::upkeep::Problem>,
    /// Data files of versions older than `--older-than`.
    pub old_files: Vec<String>,
}

/// Run an analyst's SQL (or a named query's) over the store.
pub async fn query(config: &Config, options: &QueryOptions) -> Result<Vec<RecordBatch>, Error> {
    let store = Store::open(&config.store)?;
    let engine = Engine::open(&store, options.as_of).await?;
    Ok(engine
        .sql(&options.label, &options.sql, &options.params)
        .await?)
}
