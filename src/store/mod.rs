//! The store: Delta Lake tables (Parquet files plus a transaction log) and
//! the landed raw bodies beside them, in a local folder or under a prefix
//! of an S3 bucket ([`location`]).
//!
//! Writing replaces whole periods in one atomic commit; every commit is a
//! version that can be read again (`--as-of`).

pub mod bucket;
pub mod lease;
pub mod location;
mod recording;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::TryStreamExt;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use url::Url;

use crate::period::Period;

use bucket::Objects;
use location::Location;
pub use write::TableWrite;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store folder {path}; check the path and its permissions")]
    CreateFolder {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("cannot open the table `{table}` in {store}")]
    Open {
        table: String,
        store: String,
        #[source]
        cause: Box<deltalake::DeltaTableError>,
    },
    #[error(
        "the table `{table}` has no version {version}; its newest is {newest} (see `praktik status`). To read one table of several at a version, name it: --as-of {table}=N"
    )]
    NoSuchVersion {
        table: String,
        version: u64,
        newest: u64,
    },
    #[error("the table `{table}` does not exist yet in {store}; run `praktik pull` first")]
    NoTable { table: String, store: String },
    #[error(
        "the table `{table}` is missing from {store}: a `praktik store rebuild` stopped before it moved the new table in; run `praktik store rebuild` again"
    )]
    RebuildCut { table: String, store: String },
    #[error(
        "cannot reach the store {store}: {cause}. Check the [s3] endpoint and region in praktik.toml, that the bucket exists, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment"
    )]
    Reach { store: String, cause: String },
    #[error("cannot write periods {periods} to the table `{table}`; the table is as it was")]
    Write {
        table: String,
        periods: String,
        #[source]
        cause: Box<deltalake::DeltaTableError>,
    },
    #[error("cannot write rows to the table `{table}`; the table is as it was")]
    Stage {
        table: String,
        #[source]
        cause: Box<deltalake::DeltaTableError>,
    },
    #[error(
        "the table `{table}` committed version {version}, but what followed failed: {detail}; the commit stands (see `praktik status`)"
    )]
    AfterCommit {
        table: String,
        version: u64,
        detail: String,
    },
    #[error("cannot read or change {path} in the store: {cause}")]
    Upkeep { path: String, cause: String },
    #[error("cannot read the history of the table `{table}`")]
    History {
        table: String,
        #[source]
        cause: Box<deltalake::DeltaTableError>,
    },
}

/// The folder below a store's root where `store rebuild` writes the new
/// tables before they take the old ones' place.
pub const REBUILD_FOLDER: &str = ".rebuild";

/// The commit metadata that names, per body written in full, the quarters
/// it held: a body pulled again unchanged needs no second check.
pub const BODIES: &str = "praktik.bodies";

/// What a write committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteMetrics {
    pub table: String,
    pub version: u64,
    pub rows: usize,
    pub periods: Vec<Period>,
}

/// One commit in a table's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Commit {
    pub version: u64,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub operation: Option<String>,
    pub run_id: Option<String>,
    pub source: Option<String>,
    pub periods: Option<String>,
    /// Per body written in full (by its SHA-256), the quarters it held,
    /// comma-separated; see `pipeline::recorded_periods`.
    #[serde(skip)]
    pub bodies: BTreeMap<String, String>,
}

/// Whether `name` (in a table's `_delta_log`) is a log entry: a version's
/// commit (`00000000000000000003.json`) or a checkpoint of one.
fn is_log_entry(name: &str) -> bool {
    let version = name.split('.').next().unwrap_or_default();
    let committed = name == format!("{version}.json") || name.contains(".checkpoint.");
    version.len() == 20 && version.bytes().all(|b| b.is_ascii_digit()) && committed
}

/// The store, in a folder or a bucket.
#[derive(Debug, Clone)]
pub struct Store {
    place: Place,
    /// How queries over the store run (in this process, or on workers).
    engine: crate::engine::workers::EngineSettings,
}

#[derive(Debug, Clone)]
enum Place {
    Folder(PathBuf),
    Bucket(Arc<Objects>),
}

/// The store's write lock: an operating-system lock on a file in a folder,
/// a lease object in a bucket. Held until dropped.
pub enum StoreLock {
    Folder(crate::lock::Lock),
    Bucket(lease::Lease),
}

impl Store {
    /// Open the store at `location`; a folder is created if needed.
    pub fn open(location: &Location) -> Result<Store, StoreError> {
        match location {
            Location::Folder(root) => Store::open_folder(root),
            Location::Bucket(bucket) => Ok(Store {
                place: Place::Bucket(Arc::new(Objects::open(bucket)?)),
                engine: Default::default(),
            }),
        }
    }

    /// Open (and create, if needed) the store in the folder `root`.
    pub fn open_folder(root: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(root).map_err(|cause| StoreError::CreateFolder {
            path: root.to_path_buf(),
            cause,
        })?;
        let root = root
            .canonicalize()
            .map_err(|cause| StoreError::CreateFolder {
                path: root.to_path_buf(),
                cause,
            })?;
        Ok(Store {
            place: Place::Folder(root),
            engine: Default::default(),
        })
    }

    /// The configured store, with its queries run as the configuration says.
    pub fn open_for(config: &crate::config::Config) -> Result<Store, StoreError> {
        let mut store = Store::open(&config.store)?;
        store.engine = config.engine.clone();
        Ok(store)
    }

    /// How queries over the store run.
    pub fn engine(&self) -> &crate::engine::workers::EngineSettings {
        &self.engine
    }

    /// The folder of a store in a folder; `None` in a bucket.
    pub fn folder(&self) -> Option<&Path> {
        match &self.place {
            Place::Folder(root) => Some(root),
            Place::Bucket(_) => None,
        }
    }

    /// Where pulled bodies are landed: `raw/` in a folder; in a bucket a
    /// local folder that [`Store::publish_raw`] empties into the bucket.
    pub fn raw_dir(&self) -> PathBuf {
        match &self.place {
            Place::Folder(root) => root.join("raw"),
            Place::Bucket(objects) => objects.landing.path().join("raw"),
        }
    }

    /// Move what was landed into the bucket's `raw/` (nothing to do in a
    /// folder: it is landed in place).
    pub async fn publish_raw(&self) -> Result<(), StoreError> {
        match &self.place {
            Place::Folder(_) => Ok(()),
            Place::Bucket(objects) => objects.publish_raw().await,
        }
    }

    /// Take the store's write lock, waiting up to `wait` for its holder.
    pub async fn lock(&self, wait: Duration) -> Result<StoreLock, crate::Error> {
        match &self.place {
            Place::Folder(root) => Ok(StoreLock::Folder(crate::lock::Lock::take(root, wait)?)),
            Place::Bucket(objects) => Ok(StoreLock::Bucket(
                lease::Lease::take(objects.clone(), wait).await?,
            )),
        }
    }

    /// A store of its own in `name` below this one's root (where `store
    /// rebuild` writes new tables before they take the old ones' place).
    pub fn beside(&self, name: &str) -> Result<Store, StoreError> {
        match &self.place {
            Place::Folder(root) => Store::open_folder(&root.join(name)),
            Place::Bucket(objects) => Ok(Store {
                place: Place::Bucket(Arc::new(objects.nested(name)?)),
                engine: self.engine.clone(),
            }),
        }
    }

    /// The store's files, for `store check`, `vacuum` and `rebuild`.
    pub fn tree(&self) -> crate::upkeep::Tree {
        match &self.place {
            Place::Folder(root) => crate::upkeep::Tree::Folder(root.clone()),
            Place::Bucket(objects) => crate::upkeep::Tree::Bucket {
                store: objects.store.clone(),
                url: objects.url.clone(),
            },
        }
    }

    /// Where `table` is, for messages.
    fn place_of(&self, table: &str) -> String {
        match &self.place {
            Place::Folder(root) => root.join(table).display().to_string(),
            Place::Bucket(objects) => format!("{}{table}", objects.url),
        }
    }

    /// The table's URL (a folder is created for it, as deltalake expects).
    fn url(&self, table: &str) -> Result<Url, StoreError> {
        match &self.place {
            Place::Folder(root) => {
                let path = root.join(table);
                std::fs::create_dir_all(&path).map_err(|cause| StoreError::CreateFolder {
                    path: path.clone(),
                    cause,
                })?;
                Url::from_directory_path(&path).map_err(|()| StoreError::CreateFolder {
                    path: path.clone(),
                    cause: std::io::Error::other("not an absolute path"),
                })
            }
            Place::Bucket(objects) => objects
                .url
                .join(&format!("{table}/"))
                .map_err(|e| bucket::reach(&objects.url, e.to_string())),
        }
    }

    /// How deltalake reaches the store (empty for a folder).
    fn options(&self) -> HashMap<String, String> {
        match &self.place {
            Place::Folder(_) => HashMap::new(),
            Place::Bucket(objects) => objects.options.clone(),
        }
    }

    /// Whether `table` has a log entry, that is, has been written. A first
    /// write killed before its entry was named (deltalake writes it under a
    /// temporary name first) leaves a log folder without one, or an empty
    /// one once `store vacuum` removed the unfinished entry: the table was
    /// never written, and the next pull creates it.
    pub(crate) async fn exists(&self, table: &str) -> Result<bool, StoreError> {
        let log = format!("{table}/_delta_log");
        let names: Vec<String> = match &self.place {
            Place::Folder(root) => match std::fs::read_dir(root.join(&log)) {
                Ok(entries) => entries
                    .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect::<std::io::Result<_>>(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(e),
            }
            .map_err(|cause| StoreError::Upkeep {
                path: root.join(&log).display().to_string(),
                cause: cause.to_string(),
            })?,
            Place::Bucket(objects) => objects
                .below(&format!("{log}/"))
                .await?
                .iter()
                .filter_map(|key| key.filename().map(str::to_string))
                .collect(),
        };
        Ok(names.iter().any(|name| is_log_entry(name)))
    }

    /// The table (not loaded), reaching the store with its options.
    fn builder(&self, table: &str) -> Result<DeltaTableBuilder, StoreError> {
        DeltaTableBuilder::from_url(self.url(table)?)
            .map(|b| b.with_storage_options(self.options()))
            .map_err(|cause| self.open_error(table, cause))
    }

    fn open_error(&self, table: &str, cause: deltalake::DeltaTableError) -> StoreError {
        StoreError::Open {
            table: table.into(),
            store: self.place_of(table),
            cause: Box::new(cause),
        }
    }

    /// The table at its newest version, or at `version`; `None` if it has
    /// never been written.
    pub async fn table(
        &self,
        table: &str,
        version: Option<u64>,
    ) -> Result<Option<DeltaTable>, StoreError> {
        if !self.exists(table).await? {
            // Not a new store's missing table, but one a rebuild took away.
            if self.exists(&format!("{REBUILD_FOLDER}/{table}")).await? {
                return Err(StoreError::RebuildCut {
                    table: table.into(),
                    store: self.to_string(),
                });
            }
            return Ok(None);
        }
        let mut delta = self
            .builder(table)?
            .load()
            .await
            .map_err(|cause| self.open_error(table, cause))?;
        let Some(newest) = delta.version() else {
            return Ok(None);
        };
        if let Some(version) = version {
            if version > newest {
                return Err(StoreError::NoSuchVersion {
                    table: table.into(),
                    version,
                    newest,
                });
            }
            delta
                .load_version(version)
                .await
                .map_err(|cause| self.open_error(table, cause))?;
        }
        Ok(Some(delta))
    }

    /// The table, which must exist.
    pub async fn existing_table(
        &self,
        table: &str,
        version: Option<u64>,
    ) -> Result<DeltaTable, StoreError> {
        self.table(table, version)
            .await?
            .ok_or_else(|| StoreError::NoTable {
                table: table.into(),
                store: self.place_of(table),
            })
    }

    /// Start replacing whole periods of `table`: rows stream in through
    /// [`TableWrite::write`] and become visible only with
    /// [`TableWrite::commit`]. A write that is dropped before it commits
    /// removes what it wrote, so the table stays as it was.
    pub async fn begin_write(&self, table: &'static str) -> Result<TableWrite, StoreError> {
        let url = self.url(table)?;
        match (&self.place, self.table(table, None).await?) {
            (_, Some(delta)) => TableWrite::recorded(table, url, self.options(), delta).await,
            (Place::Folder(root), None) => {
                TableWrite::creating_in_folder(table, url, root.join(table))
            }
            (Place::Bucket(objects), None) => {
                TableWrite::creating_in_bucket(table, url, self.options(), objects.clone()).await
            }
        }
    }

    /// Append `batch` to the unpartitioned `table` (the run ledger), in one
    /// commit that creates the table the first time; its new version.
    pub async fn append(&self, table: &str, batch: RecordBatch) -> Result<u64, StoreError> {
        let delta = match self.table(table, None).await? {
            Some(delta) => delta,
            None => self
                .builder(table)?
                .build()
                .map_err(|cause| self.open_error(table, cause))?,
        };
        let written = delta
            .write(vec![batch])
            .with_save_mode(SaveMode::Append)
            .with_table_name(table)
            .with_commit_properties(
                CommitProperties::default().with_cleanup_expired_logs(Some(false)),
            )
            .await
            .map_err(|e| stage_error(table, e))?;
        let version = written.version().unwrap_or_default() as u64;
        self.sync_version(table, version)
            .await
            .map_err(|e| StoreError::AfterCommit {
                table: table.into(),
                version,
                detail: format!("its files were not flushed to the disk: {e}"),
            })?;
        Ok(version)
    }

    /// For a commit deltalake made by itself (an append to the run ledger),
    /// flush the data files its log entry adds, then the entry, to the
    /// disk, with their folders, when the store is a folder (a bucket has
    /// stored an object once its put returns).
    async fn sync_version(&self, table: &str, version: u64) -> std::io::Result<()> {
        let Some(root) = self.folder().map(Path::to_path_buf) else {
            return Ok(());
        };
        let folder = root.join(table);
        let entry = folder.join(format!("_delta_log/{version:020}.json"));
        write::in_thread(move || {
            let mut files = Vec::new();
            for line in std::fs::read_to_string(&entry)?.lines() {
                let action: serde_json::Value = serde_json::from_str(line)?;
                if let Some(path) = action["add"]["path"].as_str() {
                    files.push(write::file_in(&folder, path)?);
                }
            }
            crate::durable::sync_in_place(&files, &root)?;
            crate::durable::sync_in_place(&[entry], &root)
        })
        .await
    }

    /// Remove the data files of `table` that no version newer than `days`
    /// days needs: the versions before become unreadable (`--as-of`). The
    /// files removed, or with `dry_run` to be removed.
    pub async fn vacuum_older_than(
        &self,
        table: &str,
        days: u64,
        dry_run: bool,
    ) -> Result<Vec<String>, StoreError> {
        let Some(delta) = self.table(table, None).await? else {
            return Ok(Vec::new());
        };
        let (_, metrics) = delta
            .vacuum()
            .with_retention_period(chrono::Duration::days(days as i64))
            .with_enforce_retention_duration(false)
            .with_dry_run(dry_run)
            .with_commit_properties(
                CommitProperties::default().with_cleanup_expired_logs(Some(false)),
            )
            .await
            .map_err(|cause| stage_error(table, cause))?;
        Ok(metrics.files_deleted)
    }

    /// The table's commits, newest first; empty if the table does not exist.
    pub async fn history(
        &self,
        table: &str,
        limit: Option<usize>,
    ) -> Result<Vec<Commit>, StoreError> {
        let Some(delta) = self.table(table, None).await? else {
            return Ok(Vec::new());
        };
        let newest = delta.version().unwrap_or_default();
        let infos: Vec<_> =
            delta
                .history(limit)
                .try_collect()
                .await
                .map_err(|cause| StoreError::History {
                    table: table.into(),
                    cause: Box::new(cause),
                })?;
        let text = |info: &deltalake::kernel::CommitInfo, key: &str| {
            info.info
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        Ok(infos
            .iter()
            .enumerate()
            .map(|(i, info)| Commit {
                version: newest.saturating_sub(i as u64),
                timestamp: info.timestamp,
                operation: info.operation.clone(),
                run_id: text(info, "praktik.run_id"),
                source: text(info, "praktik.source"),
                periods: text(info, "praktik.periods"),
                bodies: info
                    .info
                    .get(BODIES)
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default(),
            })
            .collect())
    }
}

impl std::fmt::Display for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Place::Folder(root) => write!(f, "{}", root.display()),
            Place::Bucket(objects) => write!(f, "{}", objects.url),
        }
    }
}

/// The most rows in one Parquet row group. A query reads a file's row
/// groups side by side (one partition per core), so a quarter in one row
/// group is read by one core alone: Parquet's default of 1 Mi rows put a
/// whole quarter of a 10M-row store in one group, and the per-type effect
/// took 0.33–0.36 s where 128 Ki-row groups take 0.24–0.28 s (DuckDB
/// writes 120 Ki-row groups). The files grow ~4 % (a dictionary per group).
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// How many values of a column the Parquet writer encodes at a time
/// (Parquet's default: 1,024). Its work per run (size and page checks, a
/// call per column) is spread over eight times more values: with the
/// release build a 10M-row pull took 0.27–0.37 s less CPU (16 alternating
/// runs: 9.62–9.77 s against 9.99–10.09 s), with files 0.04 % smaller and
/// the same query times; with the `dist` build (thin LTO) 18 alternating
/// runs showed no difference (9.17 s of CPU either way). A
/// data page ends after the run that takes it to 20,000 rows: 24,576, not
/// 20,480.
const WRITE_BATCH_ROWS: usize = 8192;

/// Parquet settings: Snappy, row groups of at most [`ROW_GROUP_ROWS`],
/// [`WRITE_BATCH_ROWS`] values encoded at a time, and
/// no dictionary for the columns whose values are (nearly) all different,
/// where building one is wasted work. The pseudonymous person key, the
/// label columns ([`crate::schema::LABEL_TEXT`]) and the provenance text
/// ([`crate::schema::PROVENANCE_TEXT`]) get no statistics: the person keys
/// are spread at random, every row group holds every label, and a data
/// file's rows come from one body, so a group's minimum and maximum of them
/// skip nothing a query of ours asks for, while comparing every value with
/// both costs the write (six label columns were 6 % of a 1M-row pull's
/// CPU, the two provenance columns ~1 % of a 10M-row pull's). They lose
/// their null counts with them, so a filter on a status that is not yet
/// known (`status_12m IS NULL`) reads the column rather than skipping a
/// group by its count.
fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_write_batch_size(WRITE_BATCH_ROWS);
    for column in crate::schema::DISTINCT_TEXT {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    let without_statistics = std::iter::once(crate::schema::PERSON_KEY)
        .chain(crate::schema::LABEL_TEXT)
        .chain(crate::schema::PROVENANCE_TEXT);
    for column in without_statistics {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    builder.build()
}

fn stage_error(table: &str, cause: deltalake::DeltaTableError) -> StoreError {
    StoreError::Stage {
        table: table.into(),
        cause: Box::new(cause),
    }
}
