//! The store: Delta Lake tables (Parquet files plus a transaction log) under
//! one folder, partitioned by period, and the landed raw bodies beside them.
//!
//! Writing replaces whole periods in one atomic commit; every commit is a
//! version that can be read again (`--as-of`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, StructType};
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::TryStreamExt;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use url::Url;

use crate::period::Period;
use crate::schema::{self, PERIOD};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the store folder {path}; check the path and its permissions")]
    CreateFolder {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("cannot open the table `{table}` in {path}")]
    Open {
        table: String,
        path: PathBuf,
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
    #[error("the table `{table}` does not exist yet in {path}; run `praktik pull` first")]
    NoTable { table: String, path: PathBuf },
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
    #[error("cannot read the history of the table `{table}`")]
    History {
        table: String,
        #[source]
        cause: Box<deltalake::DeltaTableError>,
    },
}

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
}

/// The store folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open (and create, if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
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
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where pulled bodies are kept.
    pub fn raw_dir(&self) -> PathBuf {
        self.root.join("raw")
    }

    pub fn table_path(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    fn url(&self, table: &str) -> Result<Url, StoreError> {
        let path = self.table_path(table);
        std::fs::create_dir_all(&path).map_err(|cause| StoreError::CreateFolder {
            path: path.clone(),
            cause,
        })?;
        Url::from_directory_path(&path).map_err(|()| StoreError::CreateFolder {
            path: path.clone(),
            cause: std::io::Error::other("not an absolute path"),
        })
    }

    /// The table at its newest version, or at `version`; `None` if it has
    /// never been written.
    pub async fn table(
        &self,
        table: &str,
        version: Option<u64>,
    ) -> Result<Option<DeltaTable>, StoreError> {
        let open_err = |cause| StoreError::Open {
            table: table.into(),
            path: self.table_path(table),
            cause: Box::new(cause),
        };
        if !self.table_path(table).join("_delta_log").is_dir() {
            return Ok(None);
        }
        let mut delta = DeltaTable::try_from_url(self.url(table)?)
            .await
            .map_err(open_err)?;
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
            delta.load_version(version).await.map_err(open_err)?;
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
                path: self.table_path(table),
            })
    }

    /// Start replacing whole periods of `table`: rows stream in through
    /// [`TableWrite::write`] and become visible only with
    /// [`TableWrite::commit`]. A write that is dropped before it commits
    /// removes what it wrote, so the table stays as it was.
    pub async fn begin_write(&self, table: &'static str) -> Result<TableWrite, StoreError> {
        let write_err = |cause| stage_error(table, cause);
        let url = self.url(table)?;
        let path = self.table_path(table);
        let before = data_files(&path);
        let delta = self.table(table, None).await?;
        let writer = RecordBatchWriter::try_new(
            url.as_str(),
            schema::of(table),
            Some(vec![PERIOD.to_string()]),
            None,
        )
        .map_err(write_err)?
        .with_writer_properties(writer_properties());
        Ok(TableWrite {
            table,
            url,
            path,
            delta,
            writer: Some(writer),
            before,
            rows: 0,
            committed: false,
        })
    }

    /// Append `batch` to the unpartitioned `table` (the run ledger), in one
    /// commit that creates the table the first time; its new version.
    pub async fn append(&self, table: &str, batch: RecordBatch) -> Result<u64, StoreError> {
        let open_err = |cause| StoreError::Open {
            table: table.into(),
            path: self.table_path(table),
            cause: Box::new(cause),
        };
        let delta = DeltaTable::try_from_url(self.url(table)?)
            .await
            .map_err(open_err)?;
        let written = delta
            .write(vec![batch])
            .with_save_mode(SaveMode::Append)
            .with_table_name(table)
            .with_commit_properties(
                CommitProperties::default().with_cleanup_expired_logs(Some(false)),
            )
            .await
            .map_err(|e| stage_error(table, e))?;
        Ok(written.version().unwrap_or_default() as u64)
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
            })
            .collect())
    }
}

/// Parquet settings: Snappy, and no dictionary for the columns whose values
/// are (nearly) all different, where building one is wasted work.
fn writer_properties() -> WriterProperties {
    let mut builder = WriterProperties::builder().set_compression(Compression::SNAPPY);
    for column in ["internship_id", "person_key"] {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    builder.build()
}

/// Every file under a table's folder except its log, so that a write that
/// does not commit can take away exactly what it added.
fn data_files(root: &Path) -> HashSet<PathBuf> {
    let log = root.join("_delta_log");
    crate::upkeep::files_below(root)
        .into_iter()
        .filter(|p| !p.starts_with(&log))
        .collect()
}

fn stage_error(table: &str, cause: deltalake::DeltaTableError) -> StoreError {
    StoreError::Stage {
        table: table.into(),
        cause: Box::new(cause),
    }
}

/// Rows on their way into one table; see [`Store::begin_write`].
pub struct TableWrite {
    table: &'static str,
    url: Url,
    path: PathBuf,
    /// The table as it was, or `None` if this write creates it.
    delta: Option<DeltaTable>,
    writer: Option<RecordBatchWriter>,
    /// The table's files before this write.
    before: HashSet<PathBuf>,
    rows: usize,
    committed: bool,
}

impl TableWrite {
    /// Stream rows into the table's Parquet files (not yet visible).
    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), StoreError> {
        fail::fail_point!("store-write", |how| Err(stage_error(
            self.table,
            crate::durable::injected(how).into()
        )));
        let rows = batch.num_rows();
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let written = writer.write(batch).await;
        written.map_err(|e| stage_error(self.table, e))?;
        self.rows += rows;
        Ok(())
    }

    /// Commit what was written as the new content of `periods`, in one
    /// version, taking away what the table held for `removed` (which holds
    /// `periods`, and may hold quarters that are emptied); rows of other
    /// periods are untouched.
    pub async fn commit(
        mut self,
        periods: &[Period],
        removed: &[Period],
        metadata: Vec<(String, serde_json::Value)>,
    ) -> Result<WriteMetrics, StoreError> {
        let listed = removed.iter().map(Period::to_string).collect::<Vec<_>>();
        let write_err = |cause| StoreError::Write {
            table: self.table.into(),
            periods: listed.join(","),
            cause: Box::new(cause),
        };
        let mut actions: Vec<Action> = match self.writer.as_mut() {
            Some(writer) => writer.flush().await.map_err(write_err)?,
            None => Vec::new(),
        }
        .into_iter()
        .map(Action::Add)
        .collect();
        // Every version stays readable (`--as-of`): no log file is ever
        // cleaned up after a commit.
        let properties = CommitProperties::default()
            .with_metadata(metadata)
            .with_cleanup_expired_logs(Some(false));
        let version = match &self.delta {
            Some(delta) => {
                let replaced: Vec<_> = delta
                    .get_active_add_actions_by_partitions(&[])
                    .try_collect()
                    .await
                    .map_err(write_err)?;
                actions.extend(
                    replaced
                        .iter()
                        .filter(|file| {
                            file.partition_values_map()
                                .get(PERIOD)
                                .and_then(|p| p.as_deref())
                                .is_some_and(|p| listed.iter().any(|l| l == p))
                        })
                        .map(|file| Action::Remove(file.remove_action(true))),
                );
                // The predicate is a record for readers of the log, not a query.
                let quoted: Vec<String> = listed.iter().map(|p| format!("'{p}'")).collect();
                let operation = DeltaOperation::Write {
                    mode: SaveMode::Overwrite,
                    partition_by: Some(vec![PERIOD.to_string()]),
                    predicate: Some(format!("{PERIOD} IN ({})", quoted.join(", "))),
                };
                let snapshot = delta.snapshot().map_err(write_err)?;
                let prepared = CommitBuilder::from(properties)
                    .with_actions(actions)
                    .build(Some(snapshot), delta.log_store(), operation)
                    .into_prepared_commit_future()
                    .await
                    .map_err(write_err)?;
                // Once the log entry exists the commit stands: nothing this
                // write made may be taken away after this point.
                let post_commit = prepared.await.map_err(write_err)?;
                self.committed = true;
                let version = post_commit.version;
                fail::fail_point!("store-after-log-entry", |_| Err(StoreError::AfterCommit {
                    table: self.table.into(),
                    version: version as u64,
                    detail: "failpoint".into(),
                }));
                // Reloading the snapshot and writing a checkpoint are
                // conveniences: their failure is a warning, not a failed commit.
                if let Err(e) = post_commit.await {
                    tracing::warn!(
                        table = self.table,
                        version,
                        "a step after the commit failed; the commit stands: {e}"
                    );
                }
                version
            }
            None => {
                let columns: StructType = schema::of(self.table)
                    .as_ref()
                    .try_into_kernel()
                    .map_err(|e| write_err(e.into()))?;
                let log_store = DeltaTableBuilder::from_url(self.url.clone())
                    .and_then(|b| b.build())
                    .map_err(write_err)?
                    .log_store();
                let first_entry = self.path.join("_delta_log").join(format!("{:020}.json", 0));
                let created = CreateBuilder::new()
                    .with_log_store(log_store)
                    .with_table_name(self.table)
                    .with_columns(columns.fields().cloned())
                    .with_partition_columns([PERIOD])
                    .with_commit_properties(properties)
                    .with_actions(actions)
                    .await;
                match created {
                    Ok(created) => created.version().unwrap_or_default(),
                    // The first log entry exists: the table was created, and
                    // only a step after it failed.
                    Err(e) if first_entry.exists() => {
                        tracing::warn!(
                            table = self.table,
                            "a step after creating the table failed; the table stands: {e}"
                        );
                        0
                    }
                    Err(e) => return Err(write_err(e)),
                }
            }
        };
        self.committed = true;
        Ok(WriteMetrics {
            table: self.table.into(),
            version: version as u64,
            rows: self.rows,
            periods: periods.to_vec(),
        })
    }
}

impl Drop for TableWrite {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Close the writer first, so that no upload is left half-open.
        drop(self.writer.take());
        // Only files this write made: new since it began, and named by no
        // version (the lock keeps other writers out; this keeps a commit
        // made meanwhile safe even so).
        let named: HashSet<PathBuf> = crate::upkeep::read_log(&self.path)
            .map(|log| log.added.into_iter().map(|(path, _)| path).collect())
            .unwrap_or_default();
        for file in data_files(&self.path).difference(&self.before) {
            if !named.contains(file) {
                let _ = std::fs::remove_file(file);
            }
        }
        let _ = remove_empty_folders(&self.path);
    }
}

/// Remove the folders under `root` (not `root`) that hold nothing.
fn remove_empty_folders(root: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root)?.flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("_delta_log") {
            remove_empty_folders(&path)?;
            if std::fs::read_dir(&path)?.next().is_none() {
                std::fs::remove_dir(&path)?;
            }
        }
    }
    Ok(())
}
