//! The only place that chains the stages: pull → land → validate → store,
//! and store → engine → report. Holds the store's lock while it writes.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::record_batch::RecordBatch;
use tracing::info;

use crate::Error;
use crate::config::{Config, Secret};
use crate::engine::{Engine, Params};
use crate::extract::Format;
use crate::land::{Landed, land};
use crate::period::Period;
use crate::report::{self, Output, OutputFormat, definition};
use crate::schema::{INTERNSHIPS, OUTCOMES};
use crate::source::{Source, Wanted, jobindsats};
use crate::store::{Store, TableWrite, WriteMetrics};
use crate::validate;
use crate::validate::internships::{self, Summary};
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

/// One writer at a time: an operating-system lock (`flock`) on a file in
/// the store, held while the process lives and released by the kernel when
/// it ends, however it ends. The file is never removed; it names the holder.
struct Lock {
    _file: std::fs::File,
}

impl Lock {
    fn take(store: &Store) -> Result<Lock, Error> {
        use std::io::{Read, Seek, Write};
        let path = store.root().join(".praktik.lock");
        let failed = |cause| Error::Lock {
            path: path.clone(),
            cause,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path,
                    holder: if holder.is_empty() {
                        "a process that has not yet said who it is".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(cause)) => return Err(failed(cause)),
        }
        let holder = format!(
            "process {} on {} since {}",
            std::process::id(),
            hostname(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(holder.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(failed)?;
        Ok(Lock { _file: file })
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this machine".into())
}

/// Per table, the extract each stored quarter came from.
async fn stored_hashes(
    store: &Store,
) -> Result<BTreeMap<&'static str, BTreeMap<String, String>>, Error> {
    let engine = Engine::open(store, None).await?;
    let mut all = BTreeMap::new();
    for table in [OUTCOMES, INTERNSHIPS] {
        let stored = report::provenance::stored_periods(&engine, table).await?;
        all.insert(
            table,
            stored
                .into_iter()
                .map(|p| (p.period, p.extract_sha256))
                .collect(),
        );
    }
    Ok(all)
}

/// Pull the wanted quarters from `source`, land every body, check them all
/// while their rows stream into the tables, and commit the quarters that
/// changed, one commit per table. A rejected extract commits nothing, and
/// what was written for it is taken away again.
pub async fn pull(config: &Config, source: &Source, wanted: &Wanted) -> Result<PullReport, Error> {
    let store = Store::open(&config.store)?;
    let _lock = Lock::take(&store)?;
    let stored = stored_hashes(&store).await?;
    let held: BTreeSet<Period> = stored[OUTCOMES]
        .keys()
        .filter_map(|p| p.parse().ok())
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
    let landed_new = landed.iter().filter(|l| l.new).count();
    let bytes = landed.iter().map(|l| l.bytes).sum();

    // Per table: the write under way and the quarters it replaces.
    let mut writes: BTreeMap<&'static str, (TableWrite, Vec<Period>)> = BTreeMap::new();
    let mut unchanged = Vec::new();
    for extract in &landed {
        let table = extract.format.table();
        let held = &stored[table];
        // An extract stored before is checked without writing; its quarters
        // are unchanged if every one of them still comes from it.
        if held.values().any(|sha| *sha == extract.sha256) {
            let periods = check_only(extract, context)?;
            if periods
                .iter()
                .all(|p| held.get(&p.to_string()) == Some(&extract.sha256))
            {
                unchanged.extend(periods);
                continue;
            }
        }
        let (write, periods) = match writes.entry(table) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert((store.begin_write(table).await?, Vec::new())),
        };
        let written = write_extract(extract, context, write).await?;
        info!(input = %extract.input, table, rows = written.rows, "checked and written");
        periods.extend(written.periods);
    }
    // Every body is kept under raw/ before a table refers to it.
    for kept in &landed {
        kept.finish()?;
    }
    unchanged.sort();
    unchanged.dedup();
    let mut commits = Vec::new();
    for (table, (write, mut periods)) in writes {
        let received = periods.len();
        periods.sort();
        periods.dedup();
        if periods.len() != received {
            return Err(Error::OverlappingExtracts);
        }
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
        let metrics = write.commit(&periods, metadata).await?;
        info!(
            table,
            version = metrics.version,
            rows = metrics.rows,
            "committed"
        );
        commits.push(metrics);
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

/// Check an extract without writing it; the quarters it holds.
fn check_only(extract: &Landed, context: Context<'_>) -> Result<Vec<Period>, Error> {
    let periods = if extract.format.table() == INTERNSHIPS {
        internships::validate(extract, context.person_salt, &mut |_| Flow::Continue(()))?.periods
    } else {
        outcomes(extract, context)?.periods
    };
    Ok(periods.into_iter().collect())
}

/// Check an extract and stream its rows into `write`. Person-level rows are
/// checked on a thread of their own while the previous batch is encoded.
async fn write_extract(
    extract: &Landed,
    context: Context<'_>,
    write: &mut TableWrite,
) -> Result<Summary, Error> {
    if extract.format.table() != INTERNSHIPS {
        let valid = outcomes(extract, context)?;
        let rows = valid.batch.num_rows();
        write.write(valid.batch).await?;
        return Ok(Summary {
            rows,
            periods: valid.periods,
        });
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
    while let Some(batch) = receiver.recv().await {
        if let Err(e) = write.write(batch).await {
            failed = Some(e);
            break;
        }
    }
    drop(receiver);
    let summary = checking
        .await
        .map_err(|e| Error::Internal(format!("the check of {} stopped: {e}", extract.input)))??;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(summary),
    }
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
pub async fn run(config: &Config) -> Result<RunReport, Error> {
    let pulled = pull(config, &config.source, &Wanted::All).await?;
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

/// Run an analyst's SQL (or a named query's) over the store.
pub async fn query(config: &Config, options: &QueryOptions) -> Result<Vec<RecordBatch>, Error> {
    let store = Store::open(&config.store)?;
    let engine = Engine::open(&store, options.as_of).await?;
    Ok(engine
        .sql(&options.label, &options.sql, &options.params)
        .await?)
}
