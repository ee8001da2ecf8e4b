//! A write of whole periods into one table: rows stream into Parquet files,
//! one commit makes them visible, and a write that does not commit takes
//! away the files it made (and nothing else).

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::array::ArrayRef;
use arrow::record_batch::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::scalars::ScalarExt;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, StructType};
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::logstore::object_store::path::Path as ObjectPath;
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::TryStreamExt;
use url::Url;

use super::bucket::{Objects, block_on, delete_all};
use super::recording::Recording;
use super::{StoreError, WriteMetrics, stage_error, writer_properties};
use crate::period::Period;
use crate::schema::{self, PERIOD};

/// Rows on their way into one table; see [`Store::begin_write`].
pub struct TableWrite {
    table: &'static str,
    url: Url,
    /// How deltalake reaches the table.
    options: std::collections::HashMap<String, String>,
    /// The table as it was, or `None` if this write creates it.
    delta: Option<DeltaTable>,
    writer: Option<RecordBatchWriter>,
    /// Files finished by [`TableWrite::finish_files`], for the commit.
    finished: Vec<deltalake::kernel::Add>,
    /// What to take away if the write does not commit.
    own: Own,
    rows: usize,
    committed: bool,
}

/// The files a write made, known in time to take them away.
enum Own {
    /// In a folder, the write that creates the table: the files new since
    /// the write began and named by no version (the lock keeps other
    /// writers out).
    Folder {
        path: PathBuf,
        before: HashSet<PathBuf>,
    },
    /// The files the write's own store put, as they were put (paths from
    /// the root of the file system or the bucket).
    Recorded {
        root: Arc<dyn deltalake::ObjectStore>,
        created: Arc<Mutex<Vec<ObjectPath>>>,
    },
    /// In a bucket, the write that creates the table: the objects new under
    /// its prefix since the write began.
    Since {
        objects: Arc<Objects>,
        prefix: String,
        before: HashSet<ObjectPath>,
    },
}

impl TableWrite {
    /// The write that creates `table` in a folder; see [`Own::Folder`].
    pub(super) fn creating_in_folder(
        table: &'static str,
        url: Url,
        path: PathBuf,
    ) -> Result<TableWrite, StoreError> {
        let before = data_files(&path);
        let options = std::collections::HashMap::new();
        Ok(TableWrite {
            writer: Some(new_table_writer(table, &url, &options)?),
            table,
            url,
            options,
            delta: None,
            own: Own::Folder { path, before },
            rows: 0,
            finished: Vec::new(),
            committed: false,
        })
    }

    /// A write into an existing table, in a folder or a bucket alike: the
    /// table's own writer, over a store that notes every file it puts.
    pub(super) async fn recorded(
        table: &'static str,
        url: Url,
        options: std::collections::HashMap<String, String>,
        delta: DeltaTable,
    ) -> Result<TableWrite, StoreError> {
        let write_err = |cause| stage_error(table, cause);
        let mut root_url = url.clone();
        root_url.set_path("/");
        let root = deltalake::logstore::store_for(&root_url, options.clone()).map_err(write_err)?;
        let recording = Arc::new(Recording::new(root.clone()));
        let created = recording.created();
        let mut recorded = DeltaTableBuilder::from_url(url.clone())
            .map_err(write_err)?
            .with_storage_options(options.clone())
            .with_storage_backend(recording, url.clone())
            .build()
            .map_err(write_err)?;
        recorded.load().await.map_err(write_err)?;
        let writer = RecordBatchWriter::for_table(&recorded).map_err(write_err)?;
        Ok(TableWrite {
            table,
            url,
            options,
            delta: Some(delta),
            writer: Some(writer.with_writer_properties(writer_properties())),
            own: Own::Recorded { root, created },
            rows: 0,
            finished: Vec::new(),
            committed: false,
        })
    }

    /// The write that creates `table` in a bucket; it takes away, if it
    /// does not commit, what appeared under the table's prefix since it
    /// began and no version names.
    pub(super) async fn creating_in_bucket(
        table: &'static str,
        url: Url,
        options: std::collections::HashMap<String, String>,
        objects: Arc<Objects>,
    ) -> Result<TableWrite, StoreError> {
        let prefix = format!("{table}/");
        let before = objects.below(&prefix).await?.into_iter().collect();
        Ok(TableWrite {
            writer: Some(new_table_writer(table, &url, &options)?),
            table,
            url,
            options,
            delta: None,
            own: Own::Since {
                objects,
                prefix,
                before,
            },
            rows: 0,
            finished: Vec::new(),
            committed: false,
        })
    }

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
        match quarter_runs(&batch) {
            // Each run goes to its quarter's file as a slice of the batch.
            Some((periods, runs)) => {
                for run in runs {
                    // The quarter as deltalake names a partition value (the
                    // map's type is the one `write_partition` takes).
                    let quarter = ScalarExt::from_array(&periods, run.start)
                        .map(|value| std::iter::once((PERIOD.to_string(), value)).collect())
                        .ok_or_else(|| {
                            stage_error(
                                self.table,
                                deltalake::DeltaTableError::generic("a quarter that is not text"),
                            )
                        })?;
                    writer
                        .write_partition(
                            batch.slice(run.start, run.len()),
                            &quarter,
                            WriteMode::Default,
                        )
                        .await
                        .map_err(|e| stage_error(self.table, e))?;
                }
            }
            None => writer
                .write(batch)
                .await
                .map_err(|e| stage_error(self.table, e))?,
        }
        self.rows += rows;
        Ok(())
    }

    /// Finish the Parquet files written so far (still not visible), so that
    /// the writes of several tables finish theirs side by side before their
    /// commits; [`TableWrite::commit`] finishes what is left.
    pub async fn finish_files(&mut self) -> Result<(), StoreError> {
        fail::fail_point!("store-finish-files", |how| Err(stage_error(
            self.table,
            crate::durable::injected(how).into()
        )));
        if let Some(writer) = self.writer.as_mut() {
            let added = writer
                .flush()
                .await
                .map_err(|e| stage_error(self.table, e))?;
            sync_files(self.local_folder(), &added)
                .await
                .map_err(|e| stage_error(self.table, e.into()))?;
            self.finished.extend(added);
        }
        Ok(())
    }

    /// The table's folder when it lies in a local folder, whose files
    /// deltalake's object store writes without fsync; `None` in a bucket,
    /// where an object is stored once its put returns.
    fn local_folder(&self) -> Option<PathBuf> {
        if self.url.scheme() != "file" {
            return None;
        }
        self.url.to_file_path().ok()
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
        let mut added = std::mem::take(&mut self.finished);
        if let Some(writer) = self.writer.as_mut() {
            let late = writer.flush().await.map_err(write_err)?;
            sync_files(self.local_folder(), &late)
                .await
                .map_err(|e| write_err(e.into()))?;
            added.extend(late);
        }
        let mut actions: Vec<Action> = added.into_iter().map(Action::Add).collect();
        // The files are whole and in place, and no version names them yet.
        fail::fail_point!("store-after-flush", |how| Err(write_err(
            crate::durable::injected(how).into()
        )));
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
                log_entry_synced(self.table, self.local_folder(), version).await?;
                version
            }
            None => {
                let columns: StructType = schema::of(self.table)
                    .as_ref()
                    .try_into_kernel()
                    .map_err(|e| write_err(e.into()))?;
                let log_store = DeltaTableBuilder::from_url(self.url.clone())
                    .map(|b| b.with_storage_options(self.options.clone()))
                    .and_then(|b| b.build())
                    .map_err(write_err)?
                    .log_store();
                let first_entry = ObjectPath::from(format!("_delta_log/{:020}.json", 0));
                let table_store = log_store.object_store(None);
                let created = CreateBuilder::new()
                    .with_log_store(log_store)
                    .with_table_name(self.table)
                    .with_columns(columns.fields().cloned())
                    .with_partition_columns([PERIOD])
                    .with_commit_properties(properties)
                    .with_actions(actions)
                    .await;
                let version = match created {
                    Ok(created) => created.version().unwrap_or_default(),
                    // The first log entry exists: the table was created, and
                    // only a step after it failed.
                    Err(e) if table_store.head(&first_entry).await.is_ok() => {
                        tracing::warn!(
                            table = self.table,
                            "a step after creating the table failed; the table stands: {e}"
                        );
                        0
                    }
                    Err(e) => return Err(write_err(e)),
                };
                self.committed = true;
                log_entry_synced(self.table, self.local_folder(), version).await?;
                version
            }
        };
        Ok(WriteMetrics {
            table: self.table.into(),
            version: version as u64,
            rows: self.rows,
            periods: periods.to_vec(),
        })
    }
}

/// Flush the data files `added` (and the folders that hold them) in the
/// table's local `folder` to the disk, so that a commit never names a file
/// a power cut could leave empty; nothing to do in a bucket (`None`).
async fn sync_files(
    folder: Option<PathBuf>,
    added: &[deltalake::kernel::Add],
) -> std::io::Result<()> {
    let Some(folder) = folder else {
        return Ok(());
    };
    fail::fail_point!("store-sync-files", |how| Err(crate::durable::injected(how)));
    let files = added
        .iter()
        .map(|add| file_in(&folder, &add.path))
        .collect::<std::io::Result<Vec<_>>>()?;
    in_thread(move || crate::durable::sync_in_place(&files, &folder)).await
}

/// Flush the log entry of `version` in the table's local `folder` to the
/// disk, with what deltalake wrote after it (a checkpoint of that
/// version), and the folders up to the store's own, so that a commit said
/// to be made survives a power cut. A failure is told as one after the
/// commit, which stands (`store check` would name the entry if a power cut
/// then emptied it).
async fn log_entry_synced(
    table: &str,
    folder: Option<PathBuf>,
    version: u64,
) -> Result<(), StoreError> {
    let Some(folder) = folder else {
        return Ok(());
    };
    let synced = async {
        fail::fail_point!("store-sync-log-entry", |how| Err(crate::durable::injected(
            how
        )));
        let log = folder.join("_delta_log");
        let mut files = vec![log.join(format!("{version:020}.json"))];
        let checkpoint = log.join(format!("{version:020}.checkpoint.parquet"));
        if checkpoint.exists() {
            files.extend([checkpoint, log.join("_last_checkpoint")]);
        }
        let top = folder.parent().unwrap_or(&folder).to_path_buf();
        in_thread(move || crate::durable::sync_in_place(&files, &top)).await
    };
    synced.await.map_err(|e| StoreError::AfterCommit {
        table: table.into(),
        version,
        detail: format!("the log entry was not flushed to the disk: {e}"),
    })
}

/// `path`, a data file's path as the Delta log gives it (relative to the
/// table, percent-encoded), in the table's `folder`.
pub(super) fn file_in(folder: &Path, path: &str) -> std::io::Result<PathBuf> {
    let not_in = || {
        std::io::Error::other(format!(
            "the data file {path} is not a path in {}",
            folder.display()
        ))
    };
    Url::from_directory_path(folder)
        .ok()
        .and_then(|table| table.join(path).ok())
        .and_then(|url| url.to_file_path().ok())
        .filter(|file| file.starts_with(folder))
        .ok_or_else(not_in)
}

/// `f` on a thread that may block, awaited.
pub(super) async fn in_thread(
    f: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

impl Drop for TableWrite {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Close the writer first, so that no upload is left half-open.
        drop(self.writer.take());
        match &self.own {
            Own::Folder { path, before } => {
                // Only files this write made: new since it began, and named
                // by no version (the lock keeps other writers out; this
                // keeps a commit made meanwhile safe even so).
                let mut named: HashSet<PathBuf> = HashSet::new();
                let tree = crate::upkeep::Tree::Folder(path.clone());
                block_on(async {
                    if let Ok(Some(log)) = crate::upkeep::read_log(&tree, "").await {
                        named = log
                            .added
                            .into_iter()
                            .map(|(key, _)| path.join(key))
                            .collect();
                    }
                });
                for file in data_files(path).difference(before) {
                    if !named.contains(file) {
                        let _ = std::fs::remove_file(file);
                    }
                }
                let _ = remove_empty_folders(path);
            }
            Own::Recorded { root, created } => {
                let created = created.lock().map(|c| c.clone()).unwrap_or_default();
                let root = root.clone();
                block_on(async move { delete_all(root.as_ref(), created).await });
            }
            Own::Since {
                objects,
                prefix,
                before,
            } => {
                let (objects, prefix, before) = (objects.clone(), prefix.clone(), before.clone());
                block_on(async move {
                    let Ok(now) = objects.below(&prefix).await else {
                        return;
                    };
                    let log = format!("{prefix}_delta_log/");
                    let new = now
                        .into_iter()
                        .filter(|p| !before.contains(p) && !p.as_ref().starts_with(&log))
                        .collect();
                    objects.delete(new).await;
                });
            }
        }
    }
}

/// Where the rows of each quarter lie in `batch`, if they lie in few runs
/// (an extract is mostly in order of quarter or of municipality and
/// quarter): each run is then written as it stands, instead of deltalake
/// grouping every row by its quarter and copying the batch into one batch
/// per quarter. The quarter column and the runs; `None` if the quarters
/// are mixed.
fn quarter_runs(batch: &RecordBatch) -> Option<(ArrayRef, Vec<Range<usize>>)> {
    use arrow::array::{Array, AsArray};
    let column = batch.column_by_name(PERIOD)?;
    let periods = column.as_string_opt::<i32>()?;
    if periods.null_count() > 0 {
        return None;
    }
    let most = periods.len() / 1024 + 1;
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..periods.len() {
        if periods.value(i) != periods.value(i - 1) {
            runs.push(start..i);
            start = i;
            if runs.len() > most {
                return None;
            }
        }
    }
    if !periods.is_empty() {
        runs.push(start..periods.len());
    }
    Some((Arc::clone(column), runs))
}

/// The writer of the write that creates `table` at `url`.
fn new_table_writer(
    table: &'static str,
    url: &Url,
    options: &std::collections::HashMap<String, String>,
) -> Result<RecordBatchWriter, StoreError> {
    let writer = RecordBatchWriter::try_new(
        url.as_str(),
        schema::of(table),
        Some(vec![PERIOD.to_string()]),
        Some(options.clone()),
    )
    .map_err(|cause| stage_error(table, cause))?;
    Ok(writer.with_writer_properties(writer_properties()))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::{DataType, TimeUnit};
    use arrow::record_batch::RecordBatch;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use crate::period::Period;
    use crate::schema;
    use crate::store::{ROW_GROUP_ROWS, Store};

    /// `rows` rows of `outcomes`, all in one quarter.
    fn one_quarter(rows: usize) -> RecordBatch {
        let schema = schema::outcomes();
        let columns = schema
            .fields()
            .iter()
            .map(|field| -> ArrayRef {
                match field.data_type() {
                    DataType::Utf8 if field.name() == schema::PERIOD => {
                        Arc::new(StringArray::from(vec!["2022Q3"; rows]))
                    }
                    DataType::Utf8 => Arc::new(StringArray::from_iter_values(
                        (0..rows).map(|i| format!("{}-{i}", field.name())),
                    )),
                    DataType::Int64 => Arc::new(Int64Array::from_iter_values(0..rows as i64)),
                    DataType::Float64 => Arc::new(Float64Array::from(vec![1.5; rows])),
                    DataType::Timestamp(TimeUnit::Microsecond, zone) => Arc::new(
                        TimestampMicrosecondArray::from(vec![0; rows])
                            .with_timezone_opt(zone.clone()),
                    ),
                    other => panic!("no test values for {other}"),
                }
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// A quarter larger than a row group is written in several, none over
    /// the limit, so that a query reads it on every core.
    #[tokio::test]
    async fn a_large_quarter_is_written_in_row_groups_of_at_most_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_folder(dir.path()).unwrap();
        let rows = 2 * ROW_GROUP_ROWS + 1000;
        let mut write = store.begin_write(schema::OUTCOMES).await.unwrap();
        write.write(one_quarter(rows)).await.unwrap();
        let quarter: Period = "2022Q3".parse().unwrap();
        write
            .commit(&[quarter], &[quarter], Vec::new())
            .await
            .unwrap();

        let folder = dir.path().join(schema::OUTCOMES).join("period=2022Q3");
        let files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let reader = SerializedFileReader::new(std::fs::File::open(&files[0]).unwrap()).unwrap();
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|group| group.num_rows())
            .collect();
        assert_eq!(groups, [ROW_GROUP_ROWS as i64, ROW_GROUP_ROWS as i64, 1000]);
    }
}
