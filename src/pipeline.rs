//! The only place that chains the stages: pull → land → validate → store,
//! and store → engine → report. Holds the store's lock while it writes.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use datafusion::arrow::record_batch::RecordBatch;
use tracing::info;

use crate::Error;
use crate::config::Config;
use crate::engine::{Engine, Params};
use crate::land::{Landed, land};
use crate::period::Period;
use crate::report::{self, Output, OutputFormat, definition};
use crate::schema::{INTERNSHIPS, OUTCOMES};
use crate::source::{Source, Wanted};
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

/// A lock file in the store: one writer at a time.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn take(store: &Store) -> Result<Lock, Error> {
        let path = store.root().join(".praktik.lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => {
                    std::fs::write(&path, std::process::id().to_string()).map_err(|cause| {
                        Error::Lock {
                            path: path.clone(),
                            cause,
                        }
                    })?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let alive = !holder.trim().is_empty()
                        && Path::new("/proc").join(holder.trim()).exists();
                    if alive {
                        return Err(Error::Locked {
                            path,
                            pid: holder.trim().to_string(),
                        });
                    }
                    // The holder died: take the lock over.
                    let _ = std::fs::remove_file(&path);
                }
                Err(cause) => return Err(Error::Lock { path, cause }),
            }
        }
        Err(Error::Locked {
            path,
            pid: "unknown".into(),
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
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
    let context = validate::Context {
        jobindsats: &config.jobindsats,
        person_salt: config.person_salt.as_deref(),
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

/// Check an extract without writing it; the quarters it holds.
fn check_only(extract: &Landed, context: validate::Context<'_>) -> Result<Vec<Period>, Error> {
    let periods = if extract.format.table() == INTERNSHIPS {
        internships::validate(extract, context.person_salt, &mut |_| Flow::Continue(()))?.periods
    } else {
        validate::validate(extract, context)?.periods
    };
    Ok(periods.into_iter().collect())
}

/// Check an extract and stream its rows into `write`. Person-level rows are
/// checked on a thread of their own while the previous batch is encoded.
async fn write_extract(
    extract: &Landed,
    context: validate::Context<'_>,
    write: &mut TableWrite,
) -> Result<Summary, Error> {
    if extract.format.table() != INTERNSHIPS {
        let valid = validate::validate(extract, context)?;
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
