//! A Delta table read as what it is underneath: the Parquet files its
//! snapshot names, each with its partition values, scanned by DataFusion's
//! own Parquet scan. The partition value is one constant per file (deltalake's
//! scan builds that column value by value), and DataFusion Distributed can
//! send the scan to its workers (deltalake's scan node has no codec for it).
//!
//! Only tables that need nothing more than that are read so: one with
//! deletion vectors or column mapping is left to deltalake's scan, or
//! refused on workers, never misread.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow;
use deltalake::logstore::object_store::path::Path;
use futures::TryStreamExt;

/// A snapshot's files as a plain Parquet table.
#[derive(Debug)]
pub struct SnapshotFiles {
    /// The table's columns, in the table's order.
    schema: SchemaRef,
    /// The columns in the files (the table's, less the partition columns).
    file_schema: SchemaRef,
    partition_columns: Vec<FieldRef>,
    store: ObjectStoreUrl,
    files: Vec<PartitionedFile>,
}

/// What of `delta` plain Parquet files cannot express (deletion vectors,
/// column mapping), if anything: such a table needs deltalake's own scan.
pub fn beyond_plain_files(delta: &DeltaTable) -> Result<Option<&'static str>> {
    let snapshot = delta
        .snapshot()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let protocol = serde_json::to_value(snapshot.protocol())
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    for feature in ["deletionVectors", "columnMapping"] {
        let listed = |key: &str| {
            protocol[key]
                .as_array()
                .is_some_and(|f| f.iter().any(|v| v == feature))
        };
        if listed("readerFeatures") || listed("writerFeatures") {
            return Ok(Some(feature));
        }
    }
    let mapped = snapshot
        .metadata()
        .configuration()
        .get("delta.columnMapping.mode")
        .is_some_and(|mode| mode != "none");
    Ok(mapped.then_some("column mapping"))
}

/// Why a table cannot be read as plain files.
pub fn refuse(table: &str, what: &str) -> DataFusionError {
    DataFusionError::NotImplemented(format!(
        "the table `{table}` uses {what}, which the distributed scan cannot read; query it without workers"
    ))
}

impl SnapshotFiles {
    /// The files of `delta` at its loaded version, which
    /// [`beyond_plain_files`] found plain; its object store is registered
    /// with `runtime` so that the scan (and every worker given the same
    /// store) can read them.
    pub async fn of(
        table: &str,
        delta: &DeltaTable,
        runtime: &datafusion::execution::runtime_env::RuntimeEnv,
    ) -> Result<SnapshotFiles> {
        let failed = |e: deltalake::DeltaTableError| DataFusionError::External(Box::new(e));
        let snapshot = delta.snapshot().map_err(failed)?;
        let schema: Schema = snapshot
            .schema()
            .as_ref()
            .try_into_arrow()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let partitioned: Vec<String> = snapshot.metadata().partition_columns().to_vec();
        // Text in the files is read as string views, as DataFusion reads
        // Parquet by default: a short value (a code, a status) is compared
        // and hashed in place, and one from a dictionary page is not copied.
        // Ids and keys stay plain strings: long and all different, a view
        // gains them nothing and costs 16 bytes a value (COUNT(DISTINCT
        // person_key) was 10 % slower with views).
        let viewed = |name: &String| {
            !partitioned.contains(name) && !crate::schema::DISTINCT_TEXT.contains(&name.as_str())
        };
        let schema = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 if viewed(f.name()) => {
                        Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View))
                    }
                    _ => Arc::clone(f),
                })
                .collect::<Vec<_>>(),
        ));
        let file_schema = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .filter(|f| !partitioned.contains(f.name()))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let partition_columns: Vec<FieldRef> = partitioned
            .iter()
            .map(|name| schema.field_with_name(name).map(|f| Arc::new(f.clone())))
            .collect::<std::result::Result<_, _>>()?;

        let url = delta.table_url().clone();
        let root =
            Path::from_url_path(url.path()).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let store = ObjectStoreUrl::parse(&url[..url::Position::BeforePath])?;
        runtime.register_object_store(store.as_ref(), delta.log_store().root_object_store(None));

        let views: Vec<_> = delta
            .get_active_add_actions_by_partitions(&[])
            .try_collect()
            .await
            .map_err(failed)?;
        let mut files = Vec::with_capacity(views.len());
        for view in views {
            if view.deletion_vector_descriptor().is_some() {
                return Err(refuse(table, "deletion vectors"));
            }
            let values = view.partition_values_map();
            let partition_values = partition_columns
                .iter()
                .map(|field| {
                    let text = values.get(field.name()).cloned().flatten();
                    ScalarValue::try_from_string(text.unwrap_or_default(), field.data_type())
                })
                .collect::<Result<Vec<_>>>()?;
            let path = view
                .object_store_path()
                .parts()
                .fold(root.clone(), |path, part| path.join(part));
            files.push(
                PartitionedFile::new(path.to_string(), view.size().max(0) as u64)
                    .with_partition_values(partition_values),
            );
        }
        Ok(SnapshotFiles {
            schema,
            file_schema,
            partition_columns,
            store,
            files,
        })
    }

    /// The size of the snapshot's files together.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.object_meta.size).sum()
    }

    /// The scan's columns: the file columns, then the partition columns.
    fn scan_schema(&self) -> SchemaRef {
        let mut fields: Vec<FieldRef> = self.file_schema.fields().iter().cloned().collect();
        fields.extend(self.partition_columns.iter().cloned());
        Arc::new(Schema::new(fields))
    }

    /// The files whose partition values can meet `filters`. The filters
    /// that read only partition columns (`period = '2024Q4'`, `period >=
    /// $from`) are evaluated once, over one row per file, so that a scan of
    /// one quarter neither opens nor plans the other quarters' files. Those
    /// filters are not applied to the rows again, so one that cannot be
    /// evaluated here is an error.
    fn files_meeting(&self, state: &dyn Session, filters: &[Expr]) -> Result<Vec<PartitionedFile>> {
        let names = self.partition_names();
        let on_partitions = filters
            .iter()
            .filter(|f| on_partitions_only(&names, f))
            .cloned();
        let predicate = match conjunction(on_partitions) {
            Some(predicate) if !self.files.is_empty() => predicate,
            _ => return Ok(self.files.clone()),
        };
        let keep = self.partitions_meeting(state, predicate)?;
        Ok(self
            .files
            .iter()
            .zip(keep.iter())
            .filter(|(_, keep)| *keep == Some(true))
            .map(|(file, _)| file.clone())
            .collect())
    }

    fn partition_names(&self) -> Vec<&str> {
        self.partition_columns
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// `predicate` over the files' partition values, one row per file.
    fn partitions_meeting(
        &self,
        state: &dyn Session,
        predicate: Expr,
    ) -> Result<arrow::array::BooleanArray> {
        let schema = Arc::new(Schema::new(self.partition_columns.clone()));
        let columns = (0..self.partition_columns.len())
            .map(|i| {
                ScalarValue::iter_to_array(self.files.iter().map(|f| f.partition_values[i].clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let result = state
            .create_physical_expr(predicate, &df_schema)?
            .evaluate(&batch)?
            .into_array(batch.num_rows())?;
        result
            .as_boolean_opt()
            .filter(|keep| keep.len() == batch.num_rows())
            .cloned()
            .ok_or_else(|| DataFusionError::Internal("a filter that is not true or false".into()))
    }
}

#[async_trait]
impl TableProvider for SnapshotFiles {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// A filter on the partition columns alone is exact: it keeps or skips
    /// whole files (a file holds one value of each), so no row needs it
    /// again above the scan. Any other is used to skip row groups, and the
    /// rows are filtered again above the scan.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let names = self.partition_names();
        Ok(filters
            .iter()
            .map(|filter| {
                if on_partitions_only(&names, filter) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scan_schema = self.scan_schema();
        // The table's column order, in the scan's numbering.
        let wanted: Vec<usize> = match projection {
            Some(projection) => projection.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let indices = wanted
            .iter()
            .map(|&i| scan_schema.index_of(self.schema.field(i).name()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let table_schema = TableSchema::builder(self.file_schema.clone())
            .with_table_partition_cols(self.partition_columns.clone())
            .build();
        // Each file's footer is read and decoded once per session, kept in
        // the runtime's metadata cache (as DataFusion's own listing tables
        // do): a run's reports read the same files many times over.
        let reader = CachedParquetFileReaderFactory::new(
            state.runtime_env().object_store(&self.store)?,
            state.runtime_env().cache_manager.get_file_metadata_cache(),
        );
        let mut source =
            ParquetSource::new(table_schema).with_parquet_file_reader_factory(Arc::new(reader));
        // The filters go to the Parquet reader to skip row groups by their
        // statistics; it turns them into a pruning predicate for each file
        // it opens. A table of less than `SMALL_STORE_BYTES` has nothing
        // worth skipping (see `Engine::for_size`): its files are read whole,
        // and the filters (all inexact but the quarter's) apply above.
        if let Some(predicate) = conjunction(filters.iter().cloned())
            && self.bytes() >= super::SMALL_STORE_BYTES
        {
            let df_schema = DFSchema::try_from(scan_schema.as_ref().clone())?;
            source = source.with_predicate(state.create_physical_expr(predicate, &df_schema)?);
        }
        let files = self.files_meeting(state, filters)?;
        let groups = split(&files, state.config().target_partitions());
        let config = FileScanConfigBuilder::new(self.store.clone(), Arc::new(source))
            .with_file_groups(groups)
            .with_limit(limit)
            .with_projection_indices(Some(indices))?
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Whether `filter` reads no column but the partition columns (and no
/// volatile function), so that it holds for all of a file's rows or none.
fn on_partitions_only(partition_names: &[&str], filter: &Expr) -> bool {
    !partition_names.is_empty() && expr_applicable_for_cols(partition_names, filter)
}

/// `files` in up to `parts` groups of about equal size, largest first.
fn split(files: &[PartitionedFile], parts: usize) -> Vec<FileGroup> {
    let mut sorted: Vec<&PartitionedFile> = files.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.object_meta.size));
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); parts.max(1)];
    for file in sorted {
        if let Some(smallest) = groups.iter_mut().min_by_key(|(size, _)| *size) {
            smallest.0 += file.object_meta.size;
            smallest.1.push(file.clone());
        }
    }
    groups
        .into_iter()
        .filter(|(_, files)| !files.is_empty())
        .map(|(_, files)| FileGroup::new(files))
        .collect()
}
