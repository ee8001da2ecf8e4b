//! The store: Delta Lake tables (Parquet files plus a transaction log) under
//! one folder, partitioned by period, and the landed raw bodies beside them.
//!
//! Writing replaces whole periods in one atomic commit; every commit is a
//! version that can be read again (`--as-of`).

use std::path::{Path, PathBuf};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{Expr, col, lit};
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::TryStreamExt;
use url::Url;

use crate::period::Period;
use crate::schema::PERIOD;

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
        "the table `{table}` has no version {version}; its newest is {newest} (see `praktik status`)"
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

    /// Replace `periods` of `table` with `batch` in one commit. Other periods
    /// are untouched; if anything fails, the table stays at its old version.
    pub async fn replace_periods(
        &self,
        table: &str,
        batch: RecordBatch,
        periods: &[Period],
        metadata: Vec<(String, serde_json::Value)>,
    ) -> Result<WriteMetrics, StoreError> {
        let listed = periods
            .iter()
            .map(Period::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let write_err = |cause| StoreError::Write {
            table: table.into(),
            periods: listed.clone(),
            cause: Box::new(cause),
        };
        let rows = batch.num_rows();
        let open_err = |cause| StoreError::Open {
            table: table.into(),
            path: self.table_path(table),
            cause: Box::new(cause),
        };
        let delta = match self.table(table, None).await? {
            Some(delta) => delta,
            // A new table: build it without loading a log that is not there.
            None => DeltaTableBuilder::from_url(self.url(table)?)
                .and_then(|b| b.build())
                .map_err(open_err)?,
        };
        let exists = delta.version().is_some();
        let mut write = delta
            .write(vec![batch])
            .with_partition_columns([PERIOD])
            .with_table_name(table)
            .with_commit_properties(CommitProperties::default().with_metadata(metadata));
        write = if exists {
            let these: Vec<Expr> = periods.iter().map(|p| lit(p.to_string())).collect();
            write
                .with_save_mode(SaveMode::Overwrite)
                .with_replace_where(col(PERIOD).in_list(these, false))
        } else {
            write.with_save_mode(SaveMode::ErrorIfExists)
        };
        let written = write.await.map_err(write_err)?;
        Ok(WriteMetrics {
            table: table.into(),
            version: written.version().unwrap_or_default(),
            rows,
            periods: periods.to_vec(),
        })
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
