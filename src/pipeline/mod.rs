//! The only place that chains the stages: pull → land → validate → store,
//! and store → engine → report. Holds the store's lock while it writes.

mod maintain;
mod stream;
mod write;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use tracing::info;

use crate::Error;
use crate::config::{Config, Secret};
use crate::engine::{Engine, Params};
use crate::guard::{DEMO, Stored};
use crate::land::{Landed, land_all};
use crate::ledger;
use crate::period::Period;
use crate::report::{self, Output, OutputFormat, definition};
use crate::schema::{INTERNSHIPS, OUTCOMES};
use crate::source::{Source, Wanted};
use crate::store::{Store, WriteMetrics};

pub use maintain::{RebuildReport, Vacuumed, rebuild, vacuum};
use stream::Streams;
pub use write::check_body;
#[cfg(feature = "failpoints")]
use write::failpoint;
use write::{Context, Pending, authority, check_only, write_checked, write_extract};

/// Waits, when dropped, for every body of a pull to be kept under `raw/`
/// (see [`Landed::finish`]); declared after the store's lock, it is dropped
/// before it, however the pull ends.
struct KeptBeforeUnlock(Arc<Vec<Landed>>);

impl Drop for KeptBeforeUnlock {
    fn drop(&mut self) {
        for body in self.0.iter() {
            // The pull has waited for every body already, or returns an
            // earlier error.
            let _ = body.finish();
        }
    }
}

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
#[derive(Debug)]
pub struct RunReport {
    pub pull: PullReport,
    pub rendered: Vec<report::render::Rendered>,
    /// Reports whose data checks failed: not rendered, the last good ones kept.
    pub blocked: Vec<report::ReportError>,
}

/// Options of `praktik report`.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub name: String,
    pub period: Option<Period>,
    pub formats: Vec<OutputFormat>,
    pub as_of: crate::as_of::AsOf,
    /// An area code or name instead of the definition's.
    pub area: Option<String>,
    /// A language instead of the definition's.
    pub lang: Option<String>,
}

/// Options of `praktik query`.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// A label for errors (`sql/trend.sql`, `the query`).
    pub label: String,
    pub sql: String,
    pub params: Params,
    pub as_of: crate::as_of::AsOf,
}

/// How a pull may write: how long to wait for another writer, and whether
/// a stored quarter may shrink to less than half or lose a benefit group.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub lock_wait: Duration,
    pub allow_shrink: bool,
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
    if let Ok(store) = Store::open_for(config) {
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
    let store = Store::open_for(config)?;
    let _lock = store.lock(options.lock_wait).await?;
    let demo = *source == Source::Demo;
    let context = Context {
        jobindsats: &config.jobindsats,
        person_salt: config.person_salt.as_ref().map(Secret::expose),
    };
    let (stored, count, landed) = match source {
        // A folder's files do not depend on what the store holds: they are
        // landed (hashed, screened, kept) while the store is read, so that
        // pulling an unchanged file again costs little more than its hash.
        Source::File(_) => {
            let extracts = source
                .pull(wanted, &BTreeSet::new(), &config.jobindsats)
                .await?;
            let count = extracts.len();
            let (raw_dir, salt) = (store.raw_dir(), context.person_salt.map(str::to_string));
            let landing =
                tokio::task::spawn_blocking(move || land_all(&raw_dir, extracts, salt.as_deref()));
            let stored = Stored::read(&store).await;
            let landed = landing
                .await
                .map_err(|e| Error::Internal(format!("landing the files stopped: {e}")))?;
            (stored?, count, landed?)
        }
        _ => {
            let stored = Stored::read(&store).await?;
            let extracts = pull_wanted(config, source, wanted, &stored).await?;
            let count = extracts.len();
            let landed = land_all(&store.raw_dir(), extracts, context.person_salt)?;
            (stored, count, landed)
        }
    };
    for kept in landed.iter() {
        info!(input = %kept.input, sha256 = %kept.sha256, bytes = kept.bytes, "landed");
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
    // The extracts that will be written and may be held whole are checked
    // ahead, on a thread per core (see `write::check_ahead`), while the
    // first ones are already written below, in order; a failed check is
    // returned when its extract's turn comes, so the same error comes
    // first as one by one.
    let landed = Arc::new(landed);
    // Bodies are kept under raw/ on threads of their own (see `land_all`),
    // and a checking thread may hold them past an error: the store's lock
    // is let go only after they are kept.
    let _kept_first = KeptBeforeUnlock(Arc::clone(&landed));
    let stored_before: Vec<bool> = landed
        .iter()
        .map(|extract| {
            stored
                .hashes(extract.format.table())
                .values()
                .any(|sha| *sha == extract.sha256)
        })
        .collect();
    let to_write: Vec<bool> = stored_before
        .iter()
        .zip(&owned)
        .map(|(before, only)| !before && !only.as_ref().is_some_and(BTreeSet::is_empty))
        .collect();
    // The person-level files that will be written are checked one after
    // another on a thread of their own, each as its write takes it.
    let streamed: Vec<bool> = landed
        .iter()
        .zip(&to_write)
        .map(|(extract, to_write)| *to_write && write::streamed(extract))
        .collect();
    let mut streams = Streams::start(Arc::clone(&landed), &streamed, context.person_salt);
    // The last extract each table may take (its files are finished while
    // its check ends).
    let last_of_table: BTreeMap<&str, usize> = to_write
        .iter()
        .enumerate()
        .filter(|(_, to_write)| **to_write)
        .map(|(i, _)| (landed[i].format.table(), i))
        .collect();
    let ahead = {
        let (landed, jobindsats) = (Arc::clone(&landed), config.jobindsats.clone());
        let salt = context.person_salt.map(str::to_string);
        crate::parallel::spawn_in_order(landed.len(), move |i| {
            let context = Context {
                jobindsats: &jobindsats,
                person_salt: salt.as_deref(),
            };
            to_write[i]
                .then(|| write::check_ahead(&landed[i], context))
                .flatten()
        })
    };
    let mut pending: BTreeMap<&'static str, Pending> = BTreeMap::new();
    let mut unchanged = Vec::new();
    let mut stored_again = Vec::new();
    for (i, ((extract, only), checked)) in landed.iter().zip(&owned).zip(ahead).enumerate() {
        // Dropped untaken if the extract is not written after all.
        let stream = streams.take(i);
        let table = extract.format.table();
        let held = stored.hashes(table);
        let stored_before = stored_before[i];
        if only.as_ref().is_some_and(BTreeSet::is_empty) {
            // A person-level file that gives no quarter was only counted
            // (see `write::rows_by_period`): it is still checked whole, so
            // that a bad file in a folder rejects the pull, as one alone would.
            if table == INTERNSHIPS && !stored_before {
                check_only(extract, context)?;
            }
            continue;
        }
        // An extract stored before is checked without writing; its quarters
        // are unchanged if every one of them still comes from it.
        if stored_before {
            let periods = match (only, extract.extract.period) {
                (Some(only), _) => only.iter().copied().collect(),
                // An extract asked for one quarter holds only that quarter
                // (validation refuses any other), so the same bytes as that
                // quarter's stored extract need no second check: the hash is all.
                (None, Some(asked)) if held.get(&asked) == Some(&extract.sha256.as_str()) => {
                    vec![asked]
                }
                // A body written in full before names its quarters in the
                // commit that wrote it: the hash is all, as above.
                (None, _) => match recorded_periods(&store, table, &extract.sha256).await? {
                    Some(periods) => periods,
                    None => check_only(extract, context)?,
                },
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
            Entry::Vacant(entry) => entry.insert(Pending::new(store.begin_write(table).await?)),
        };
        let before = table_write.received.len();
        let checked = checked
            .await
            .map_err(|_| Error::Internal(format!("the check of {} stopped", extract.input)))?;
        let written = match checked {
            Some(checked) => write_checked(checked?, table_write, only.as_ref()).await?,
            None => {
                let last = last_of_table.get(table) == Some(&i);
                write_extract(extract, context, table_write, only.as_ref(), stream, last).await?
            }
        };
        if only.is_none() {
            let held = &table_write.received[before..];
            let listed: Vec<String> = held.iter().map(Period::to_string).collect();
            table_write
                .bodies
                .insert(extract.sha256.clone(), listed.join(","));
        }
        info!(input = %extract.input, table, rows = written, "checked and written");
        if !extract.new {
            stored_again.push(extract);
        }
    }
    // Every body is kept under raw/ before a table refers to it.
    for kept in landed.iter() {
        kept.finish()?;
    }
    store.publish_raw().await?;
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
                entry.insert(Pending::new(store.begin_write(table).await?));
            }
            replaced.insert(table, demo_periods);
        }
    }
    fail::fail_point!("store-before-commit", |_| Err(failpoint(
        "store-before-commit"
    )));
    let pending = finish_files(pending).await?;
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
            (
                crate::store::BODIES.to_string(),
                serde_json::json!(table_write.bodies),
            ),
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
    store.publish_raw().await?;
    Ok(PullReport {
        source: source.to_string(),
        extracts: count,
        landed_new,
        bytes,
        unchanged,
        commits,
    })
}

/// What `source` offers of the `wanted` quarters that the store lacks; the
/// demo is refused on a store that holds real figures.
async fn pull_wanted(
    config: &Config,
    source: &Source,
    wanted: &Wanted,
    stored: &Stored,
) -> Result<Vec<crate::extract::Extract>, Error> {
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
    Ok(source.pull(wanted, &held, &config.jobindsats).await?)
}

/// Finish the Parquet files of every table's write, each table on a task
/// of its own; the commits then follow one after the other. At a failure
/// every task is awaited, and the writes are dropped (taking their files
/// away).
async fn finish_files(
    pending: BTreeMap<&'static str, Pending>,
) -> Result<BTreeMap<&'static str, Pending>, Error> {
    let tasks: Vec<_> = pending
        .into_iter()
        .map(|(table, mut write)| {
            tokio::spawn(async move {
                let finished = write.write.finish_files().await;
                (table, write, finished)
            })
        })
        .collect();
    let mut finished = BTreeMap::new();
    let mut failed = None;
    for task in tasks {
        match task.await {
            Ok((table, write, done)) => {
                if let Err(e) = done {
                    failed.get_or_insert(Error::from(e));
                }
                finished.insert(table, write);
            }
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            Err(stopped) => {
                failed.get_or_insert(Error::Internal(format!(
                    "finishing a table's files was cancelled: {stopped}"
                )));
            }
        }
    }
    failed.map_or(Ok(finished), Err)
}

/// The quarters the body `sha256` held when a pull wrote it in full into
/// `table`, from the newest commit that says; `None` if none does (a store
/// written before commits said, or a body only part of which was written).
async fn recorded_periods(
    store: &Store,
    table: &str,
    sha256: &str,
) -> Result<Option<Vec<Period>>, Error> {
    for commit in store.history(table, None).await? {
        if let Some(listed) = commit.bodies.get(sha256) {
            let periods: Result<Vec<Period>, _> = listed
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::parse)
                .collect();
            return Ok(periods.ok().filter(|p| !p.is_empty()));
        }
    }
    Ok(None)
}

pub(super) fn run_id() -> String {
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
    if let Ok(store) = Store::open_for(config) {
        let commits = result.as_ref().map(|r| r.pull.commits.as_slice());
        // The pull went well, but a report is missing: say so in the ledger.
        let note = result
            .as_ref()
            .ok()
            .filter(|r| !r.blocked.is_empty())
            .map(|r| {
                let each: Vec<String> = r.blocked.iter().map(|e| e.to_string()).collect();
                format!("not rendered: {}", each.join("; "))
            });
        ledger::record_with_note(
            &store,
            "run",
            &config.source.to_string(),
            started,
            commits,
            note,
        )
        .await;
    }
    result
}

async fn run_unrecorded(config: &Config, options: &WriteOptions) -> Result<RunReport, Error> {
    let pulled = pull_unrecorded(config, &config.source, &Wanted::All, options).await?;
    let store = Store::open_for(config)?;
    let engine = Engine::open(&store, None).await?;
    let output = Output {
        formats: config.formats.clone(),
        dir: config.out.clone(),
        chromium: config.chromium.clone(),
    };
    // The reports read the same snapshot and write their own files: each
    // is rendered as a task of its own, so that one's planning and
    // rendering run beside another's on the other core. Their results are
    // taken in the definitions' order.
    let mut tasks = Vec::new();
    for definition in definition::load_all(&config.reports)? {
        let (engine, store, output) = (engine.clone(), store.clone(), output.clone());
        tasks.push(tokio::spawn(async move {
            let choices = report::render::Choices::default();
            let result = report::render(&engine, &store, &definition, &choices, &output).await;
            (definition.name, result)
        }));
    }
    // Every task is finished before a failure is returned: none is left
    // writing.
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await);
    }
    let mut rendered = Vec::new();
    let mut blocked = Vec::new();
    for result in results {
        let (name, result) = match result {
            Ok(done) => done,
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            Err(failed) => {
                return Err(Error::Internal(format!("a report was cancelled: {failed}")));
            }
        };
        match result {
            Ok(done) => rendered.push(done),
            Err(e @ report::ReportError::ChecksFailed { .. }) => blocked.push(e),
            // A source without person-level data (Jobindsats) has nothing for the type report.
            Err(report::ReportError::NoPersonData { period }) => {
                tracing::warn!(report = %name, %period, "skipped: the store has no person-level internships for it");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(RunReport {
        pull: pulled,
        rendered,
        blocked,
    })
}

/// Render one report definition.
pub async fn report(
    config: &Config,
    options: &ReportOptions,
) -> Result<report::render::Rendered, Error> {
    let definition = definition::load(&config.reports, &options.name)?;
    let store = Store::open_for(config)?;
    let engine = Engine::open_as_of(&store, &options.as_of).await?;
    let output = Output {
        formats: options.formats.clone(),
        dir: config.out.clone(),
        chromium: config.chromium.clone(),
    };
    let choices = report::render::Choices {
        period: options.period,
        area: options.area.clone(),
        lang: options.lang.clone(),
    };
    Ok(report::render(&engine, &store, &definition, &choices, &output).await?)
}

/// Copy one table's snapshot out of the store as plain hive-partitioned files.
pub async fn export(
    config: &Config,
    table: &str,
    to: &std::path::Path,
    format: crate::export::ExportFormat,
    as_of: &crate::as_of::AsOf,
    force: bool,
) -> Result<crate::export::Exported, Error> {
    let store = Store::open_for(config)?;
    let engine = Engine::open_as_of(&store, as_of).await?;
    Ok(crate::export::export(&engine, table, to, format, force).await?)
}

/// Run an analyst's SQL (or a named query's) over the store.
pub async fn query(config: &Config, options: &QueryOptions) -> Result<Vec<RecordBatch>, Error> {
    let store = Store::open_for(config)?;
    // Only the tables the statement reads are opened.
    let reads = crate::engine::store_tables_read(&options.sql);
    let engine = Engine::open_reading(&store, &options.as_of, reads.as_deref()).await?;
    Ok(engine
        .sql(&options.label, &options.sql, &options.params)
        .await?)
}
