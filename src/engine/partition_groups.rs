//! A GROUP BY on the quarter groups by a value that is the same on every row
//! of a file.
//!
//! The store's tables are partitioned by `period`, and the scan gives each
//! file's partition value as a column repeated on every row. DataFusion's
//! partial aggregation hashes and compares that string row by row, which was
//! half the time of `SELECT period, count(*), avg(…) FROM internships GROUP
//! BY period` (issue 14). When every grouping key is computed from
//! partition columns only, [`PartitionGroupsExec`] takes the partial
//! aggregation's place: for each batch whose partition columns hold one
//! value, it computes the keys from the first row, aggregates the whole
//! batch as an aggregate without groups does (a column summed or counted at
//! once) and merges that partial state into the group's; any other batch
//! (one merged from several files) is grouped row by row as before. The
//! accumulators and the output are DataFusion's own, so the final
//! aggregation above it is unchanged. (A float sum taken a batch at a time
//! may differ from one taken row by row in its last bits, as DataFusion's
//! own sums do between runs with other partitionings.)
//!
//! The keys are functions of the partition values, so there are at most as
//! many groups as distinct partition values: the state is small, and is kept
//! in memory without spilling.
//!
//! When only some keys are computed from partition columns (`GROUP BY
//! municipality_code, substr(period, 1, 4)`), DataFusion's aggregation stays,
//! and [`PartitionExprsExec`] below it computes those keys once per batch
//! instead of once per row.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, RecordBatch, Scalar};
use arrow::compute::kernels::cmp::eq;
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_expr_common::physical_expr::is_volatile;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use datafusion::physical_plan::aggregates::{
    AggregateExec, AggregateMode, PhysicalGroupBy, aggregate_expressions,
};
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::filter::{FilterExec, batch_filter};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
    PlanProperties, ReplaceChildrenOptions,
};
use futures::StreamExt;

/// Puts a [`PartitionGroupsExec`] in the place of each partial aggregation
/// whose grouping keys are computed from partition columns only.
#[derive(Debug, Default)]
pub struct GroupByPartitionValues;

impl PhysicalOptimizerRule for GroupByPartitionValues {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            let constant = per_file_constant(aggregate.input());
            if groups_by_partition_values(aggregate, &constant) {
                return Ok(Transformed::yes(grouped_by_partition_values(aggregate)?));
            }
            match keys_once_per_batch(aggregate, &constant)? {
                Some(rewritten) => Ok(Transformed::yes(rewritten)),
                None => Ok(Transformed::no(node)),
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "group_by_partition_values"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `aggregate` is a plain partial or single-step aggregation (no
/// grouping sets, limit or ordered aggregate) whose every key is a
/// deterministic function of partition columns (`constant`: which input
/// columns are).
fn groups_by_partition_values(aggregate: &AggregateExec, constant: &[bool]) -> bool {
    let group_by = aggregate.group_expr();
    if !first_step(aggregate.mode())
        || !group_by.is_single()
        || group_by.expr().is_empty()
        || aggregate.limit_options().is_some()
    {
        return false;
    }
    let plain = aggregate
        .aggr_expr()
        .iter()
        .all(|a| a.groups_accumulator_supported() && a.order_bys().is_empty());
    plain
        && group_by
            .expr()
            .iter()
            .all(|(expr, _)| constant_per_file(expr, constant))
}

/// Whether an aggregation in `mode` reads its input's rows (not partial
/// states): a partial one, or one in a single step, as DataFusion plans it
/// over one partition. (A single step over input already split by its keys,
/// `SinglePartitioned`, is left as it is.)
fn first_step(mode: &AggregateMode) -> bool {
    matches!(mode, AggregateMode::Partial | AggregateMode::Single)
}

/// `aggregate` with a [`PartitionGroupsExec`] as its partial step: in its
/// place when it is a partial aggregation; under a final aggregation of the
/// same keys and aggregates when it is a single step.
fn grouped_by_partition_values(aggregate: &AggregateExec) -> Result<Arc<dyn ExecutionPlan>> {
    if *aggregate.mode() == AggregateMode::Partial {
        return Ok(Arc::new(PartitionGroupsExec::new(aggregate)));
    }
    let partial = AggregateExec::try_new(
        AggregateMode::Partial,
        aggregate.group_expr().clone(),
        aggregate.aggr_expr().to_vec(),
        aggregate.filter_expr().to_vec(),
        Arc::clone(aggregate.input()),
        aggregate.input_schema(),
    )?;
    let groups: Arc<dyn ExecutionPlan> = Arc::new(PartitionGroupsExec::new(&partial));
    let last = AggregateExec::try_new(
        AggregateMode::Final,
        partial.group_expr().as_final(),
        aggregate.aggr_expr().to_vec(),
        aggregate.filter_expr().to_vec(),
        groups,
        aggregate.input_schema(),
    )?;
    Ok(Arc::new(last))
}

/// `aggregate` reading the keys that are computed from partition columns
/// (and are more than a column) from a [`PartitionExprsExec`] below it, if
/// it is a plain partial or single-step aggregation with such keys
/// (`constant`: which input columns are computed from partition columns).
fn keys_once_per_batch(
    aggregate: &AggregateExec,
    constant: &[bool],
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let group_by = aggregate.group_expr();
    if !first_step(aggregate.mode()) || !group_by.is_single() {
        return Ok(None);
    }
    let input = aggregate.input();
    let width = input.schema().fields().len();
    let mut computed = Vec::new();
    let mut keys = Vec::new();
    for (expr, name) in group_by.expr() {
        let worth_it = !expr.is::<Column>() && !collect_columns(expr).is_empty();
        if worth_it && constant_per_file(expr, constant) {
            let column = Column::new(name, width + computed.len());
            keys.push((Arc::new(column) as Arc<dyn PhysicalExpr>, name.clone()));
            computed.push((Arc::clone(expr), name.clone()));
        } else {
            keys.push((Arc::clone(expr), name.clone()));
        }
    }
    if computed.is_empty() {
        return Ok(None);
    }
    let input: Arc<dyn ExecutionPlan> =
        Arc::new(PartitionExprsExec::try_new(Arc::clone(input), computed)?);
    let rewritten = AggregateExec::try_new(
        *aggregate.mode(),
        PhysicalGroupBy::new_single(keys),
        aggregate.aggr_expr().to_vec(),
        aggregate.filter_expr().to_vec(),
        Arc::clone(&input),
        input.schema(),
    )?;
    Ok(Some(Arc::new(rewritten)))
}

/// Whether `expr` gives one value for all rows that share their
/// partition values: deterministic, and reading only such columns.
fn constant_per_file(expr: &Arc<dyn PhysicalExpr>, constant: &[bool]) -> bool {
    !is_volatile(expr)
        && collect_columns(expr)
            .iter()
            .all(|c| constant.get(c.index()).copied().unwrap_or(false))
}

/// For each output column of `plan`, whether it is computed from the
/// partition columns of a file scan alone. Only nodes that pass columns
/// through or compute them row by row are looked through; anything else
/// counts as not constant.
fn per_file_constant(plan: &Arc<dyn ExecutionPlan>) -> Vec<bool> {
    let width = plan.schema().fields().len();
    if let Some(scan) = plan.downcast_ref::<DataSourceExec>() {
        let Some(files) = scan.data_source().downcast_ref::<FileScanConfig>() else {
            return vec![false; width];
        };
        let partitions = files.table_partition_cols();
        return plan
            .schema()
            .fields()
            .iter()
            .map(|f| partitions.iter().any(|p| p.name() == f.name()))
            .collect();
    }
    if let Some(projection) = plan.downcast_ref::<ProjectionExec>() {
        let input = per_file_constant(projection.input());
        return projection
            .expr()
            .iter()
            .map(|p| constant_per_file(&p.expr, &input))
            .collect();
    }
    if let Some(filter) = plan.downcast_ref::<FilterExec>() {
        let input = per_file_constant(filter.input());
        return match filter.projection() {
            Some(kept) => kept
                .iter()
                .map(|&i| input.get(i).copied().unwrap_or(false))
                .collect(),
            None => input,
        };
    }
    let passes_through = plan.is::<RepartitionExec>() || plan.is::<CooperativeExec>();
    match plan.children().as_slice() {
        [child] if passes_through => per_file_constant(child),
        _ => vec![false; width],
    }
}

/// A partial aggregation that groups a batch whose partition values are
/// constant by its first row (see the module's documentation).
#[derive(Debug)]
pub struct PartitionGroupsExec {
    /// The partial aggregation replaced: its input, expressions, schema and
    /// properties are this node's.
    aggregate: AggregateExec,
    /// The input columns the keys read (partition columns, or computed from
    /// them only): a batch in which each holds one value is one group.
    checked: Vec<usize>,
    metrics: ExecutionPlanMetricsSet,
}

impl PartitionGroupsExec {
    fn new(aggregate: &AggregateExec) -> PartitionGroupsExec {
        PartitionGroupsExec {
            aggregate: aggregate.clone(),
            checked: columns_read(aggregate.group_expr().expr().iter().map(|(e, _)| e)),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for PartitionGroupsExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "PartitionGroupsExec: one group per batch of one partition, "
        )?;
        self.aggregate.fmt_as(t, f)
    }
}

impl ExecutionPlan for PartitionGroupsExec {
    fn name(&self) -> &str {
        "PartitionGroupsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.aggregate.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let replaced = Arc::new(self.aggregate.clone()).replace_children(children, options)?;
        match replaced.downcast_ref::<AggregateExec>() {
            Some(aggregate) => Ok(Arc::new(PartitionGroupsExec::new(aggregate))),
            None => Err(DataFusionError::Internal(
                "PartitionGroupsExec lost its aggregation".into(),
            )),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.aggregate.input().execute(partition, context)?;
        let mut grouping = Grouping::new(&self.aggregate, self.checked.clone())?;
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let schema = self.schema();
        let out_schema = Arc::clone(&schema);
        let output = futures::stream::once(async move {
            let mut input = input;
            while let Some(batch) = input.next().await {
                let batch = batch?;
                let _timer = metrics.elapsed_compute().timer();
                grouping.add(&batch)?;
            }
            let _timer = metrics.elapsed_compute().timer();
            let batch = grouping.emit(&out_schema)?;
            metrics.record_output(batch.num_rows());
            Ok(batch)
        })
        .filter(|batch| {
            // A partition that saw no rows has no groups to pass on.
            futures::future::ready(!matches!(batch, Ok(b) if b.num_rows() == 0))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, output)))
    }
}

/// Its input's columns, then expressions of partition columns, computed once
/// for a batch whose partition columns hold one value and given on every row.
#[derive(Debug)]
pub struct PartitionExprsExec {
    input: Arc<dyn ExecutionPlan>,
    exprs: Vec<(Arc<dyn PhysicalExpr>, String)>,
    /// The input columns the expressions read.
    checked: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl PartitionExprsExec {
    fn try_new(
        input: Arc<dyn ExecutionPlan>,
        exprs: Vec<(Arc<dyn PhysicalExpr>, String)>,
    ) -> Result<PartitionExprsExec> {
        let input_schema = input.schema();
        let mut fields: Vec<Field> = input_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (expr, name) in &exprs {
            fields.push(Field::new(
                name,
                expr.data_type(&input_schema)?,
                expr.nullable(&input_schema)?,
            ));
        }
        let schema = Arc::new(Schema::new(fields));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Ok(PartitionExprsExec {
            checked: columns_read(exprs.iter().map(|(e, _)| e)),
            input,
            exprs,
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for PartitionExprsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let shown: Vec<String> = self
            .exprs
            .iter()
            .map(|(e, name)| format!("{e} as {name}"))
            .collect();
        write!(
            f,
            "PartitionExprsExec: once per batch of one partition: [{}]",
            shown.join(", ")
        )
    }
}

impl ExecutionPlan for PartitionExprsExec {
    fn name(&self) -> &str {
        "PartitionExprsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        for (expr, _) in &self.exprs {
            if f(expr)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(PartitionExprsExec::try_new(
                input,
                self.exprs.clone(),
            )?)),
            _ => Err(DataFusionError::Internal(
                "PartitionExprsExec has one child".into(),
            )),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let exprs: Vec<Arc<dyn PhysicalExpr>> =
            self.exprs.iter().map(|(e, _)| Arc::clone(e)).collect();
        let checked = self.checked.clone();
        let schema = Arc::clone(&self.schema);
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let out_schema = Arc::clone(&schema);
        let output = input.map(move |batch| {
            let batch = batch?;
            let _timer = metrics.elapsed_compute().timer();
            let rows = batch.num_rows();
            let mut columns = batch.columns().to_vec();
            if rows > 0 && one_partition(&batch, &checked) {
                for value in evaluate(&exprs, &batch.slice(0, 1))? {
                    columns.push(ScalarValue::try_from_array(&value, 0)?.to_array_of_size(rows)?);
                }
            } else {
                columns.extend(evaluate(&exprs, &batch)?);
            }
            let batch = RecordBatch::try_new(Arc::clone(&out_schema), columns)?;
            metrics.record_output(rows);
            Ok(batch)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, output)))
    }
}

/// The input columns `exprs` read, each once, in order.
fn columns_read<'a>(exprs: impl Iterator<Item = &'a Arc<dyn PhysicalExpr>>) -> Vec<usize> {
    let mut read: Vec<usize> = exprs.flat_map(collect_columns).map(|c| c.index()).collect();
    read.sort_unstable();
    read.dedup();
    read
}

/// One partition's groups and accumulators.
struct Grouping {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    checked: Vec<usize>,
    groups: Box<dyn GroupValues>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    /// The group of each row of the current batch.
    indices: Vec<usize>,
}

impl Grouping {
    fn new(aggregate: &AggregateExec, checked: Vec<usize>) -> Result<Grouping> {
        let group_by = aggregate.group_expr();
        let group_schema = group_by.group_schema(&aggregate.input_schema())?;
        Ok(Grouping {
            keys: group_by.expr().iter().map(|(e, _)| Arc::clone(e)).collect(),
            aggregates: aggregate.aggr_expr().to_vec(),
            arguments: aggregate_expressions(aggregate.aggr_expr(), aggregate.mode(), 0)?,
            filters: aggregate.filter_expr().to_vec(),
            checked,
            groups: new_group_values(group_schema, &GroupOrdering::None)?,
            accumulators: aggregate
                .aggr_expr()
                .iter()
                .map(|a| a.create_groups_accumulator())
                .collect::<Result<_>>()?,
            indices: Vec::new(),
        })
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        if one_partition(batch, &self.checked) {
            let first = batch.slice(0, 1);
            let keys = evaluate(&self.keys, &first)?;
            self.groups.intern(&keys, &mut self.indices)?;
            let group = self.indices.first().copied().unwrap_or_default();
            return self.add_as_one_group(batch, group);
        }
        let keys = evaluate(&self.keys, batch)?;
        self.groups.intern(&keys, &mut self.indices)?;
        let total = self.groups.len();
        for ((accumulator, arguments), filter) in self
            .accumulators
            .iter_mut()
            .zip(&self.arguments)
            .zip(&self.filters)
        {
            let values = evaluate(arguments, batch)?;
            let filter = match filter {
                Some(f) => Some(f.evaluate(batch)?.into_array(rows)?),
                None => None,
            };
            let filter: Option<&BooleanArray> = filter.as_ref().map(|f| f.as_boolean());
            accumulator.update_batch(&values, &self.indices, filter, total)?;
        }
        Ok(())
    }

    /// Add a batch whose rows all belong to `group`: each aggregate takes
    /// the whole batch as an aggregate without groups does (a sum or a count
    /// over a column at once, not row by row into a group's slot), and its
    /// partial state is merged into the group's, as a final aggregation
    /// merges partial states.
    fn add_as_one_group(&mut self, batch: &RecordBatch, group: usize) -> Result<()> {
        let total = self.groups.len();
        for (((aggregate, accumulator), arguments), filter) in self
            .aggregates
            .iter()
            .zip(self.accumulators.iter_mut())
            .zip(&self.arguments)
            .zip(&self.filters)
        {
            let rows = match filter {
                Some(filter) => std::borrow::Cow::Owned(batch_filter(batch, filter)?),
                None => std::borrow::Cow::Borrowed(batch),
            };
            let mut whole = aggregate.create_accumulator()?;
            whole.update_batch(&evaluate(arguments, &rows)?)?;
            let state = whole
                .state()?
                .iter()
                .map(ScalarValue::to_array)
                .collect::<Result<Vec<_>>>()?;
            accumulator.merge_batch(&state, &[group], total)?;
        }
        Ok(())
    }

    /// Every group's keys and partial state, in the partial aggregation's
    /// schema.
    fn emit(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let mut columns = self.groups.emit(EmitTo::All)?;
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

fn evaluate(exprs: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    exprs
        .iter()
        .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
        .collect()
}

/// Whether each of the `checked` columns of `batch` holds one value: the
/// batch comes from files of one partition.
fn one_partition(batch: &RecordBatch, checked: &[usize]) -> bool {
    checked.iter().all(|&i| one_value(batch.column(i)))
}

/// Whether every row of `array` holds the same value (all null counts).
fn one_value(array: &ArrayRef) -> bool {
    let rows = array.len();
    if rows <= 1 {
        return true;
    }
    match array.null_count() {
        0 => {}
        nulls if nulls == rows => return true,
        _ => return false,
    }
    // A partition column of text is the same string repeated: its bytes
    // are compared in one piece rather than value by value.
    if let Some(text) = array.as_string_opt::<i32>() {
        return repeats_one_value(text.value_offsets(), text.values());
    }
    if let Some(text) = array.as_string_opt::<i64>() {
        return repeats_one_value(text.value_offsets(), text.values());
    }
    let first = Scalar::new(array.slice(0, 1));
    eq(array, &first).is_ok_and(|same| same.true_count() == rows)
}

/// Whether the strings at `offsets` in `values` are one string repeated:
/// every one as long as the first, and the bytes they span equal to
/// themselves moved on by that length (so every string equals the one
/// before it).
fn repeats_one_value<O: arrow::array::OffsetSizeTrait>(offsets: &[O], values: &[u8]) -> bool {
    let (Some(first), Some(last)) = (offsets.first(), offsets.last()) else {
        return true;
    };
    let length = offsets.get(1).map_or(O::zero(), |second| *second - *first);
    if !offsets.windows(2).all(|pair| pair[1] - pair[0] == length) {
        return false;
    }
    let (Some(start), Some(end), Some(step)) =
        (first.to_usize(), last.to_usize(), length.to_usize())
    else {
        return false;
    };
    match values.get(start..end) {
        Some(bytes) if step < bytes.len() => bytes[step..] == bytes[..bytes.len() - step],
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int32Array, StringArray};
    use arrow::datatypes::DataType;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    use super::*;
    use crate::engine::testing::{physical_plan, plain_and_with, run, write_parquet};

    /// Five quarters, two files each, as the store lays them out:
    /// `period=…/part-N.parquet`, with hours that are sometimes null.
    fn write_table(root: &std::path::Path) {
        for (q, period) in ["2023Q4", "2024Q1", "2024Q2", "2024Q3", "2024Q4"]
            .iter()
            .enumerate()
        {
            let folder = root.join(format!("period={period}"));
            std::fs::create_dir_all(&folder).expect("folder");
            for part in 0..2 {
                let rows = 3000 + 700 * q + 100 * part;
                let seed = (q * 2 + part) as i32;
                let municipality: Vec<i32> = (0..rows as i32)
                    .map(|i| 101 + (i * 7 + seed) % 11)
                    .collect();
                let hours: Vec<Option<f64>> = (0..rows as i32)
                    .map(|i| ((i + seed) % 9 != 0).then_some(f64::from(10 + (i * 13 + seed) % 27)))
                    .collect();
                let status: Vec<Option<&str>> = (0..rows as i32)
                    .map(|i| match (i * 5 + seed) % 4 {
                        0 => Some("ordinary_job"),
                        1 => Some("education"),
                        2 => Some("benefit"),
                        _ => None,
                    })
                    .collect();
                let batch = RecordBatch::try_from_iter(vec![
                    (
                        "municipality_code",
                        Arc::new(Int32Array::from(municipality)) as _,
                    ),
                    ("hours_per_week", Arc::new(Float64Array::from(hours)) as _),
                    ("status_3m", Arc::new(StringArray::from(status)) as _),
                ])
                .expect("batch");
                write_parquet(&folder.join(format!("part-{part}.parquet")), &batch, 1000);
            }
        }
    }

    /// The same table read plainly and with the rule, each in `partitions`
    /// partitions.
    async fn contexts(
        root: &std::path::Path,
        partitions: usize,
    ) -> (SessionContext, SessionContext) {
        let config = || {
            SessionConfig::new()
                .with_target_partitions(partitions)
                .with_batch_size(1024)
        };
        let (plain, grouping) = plain_and_with(config, Arc::new(GroupByPartitionValues));
        for ctx in [&plain, &grouping] {
            let options = ParquetReadOptions::default()
                .table_partition_cols(vec![("period".to_string(), DataType::Utf8)]);
            ctx.register_parquet("t", root.to_str().expect("path"), options)
                .await
                .expect("register");
        }
        (plain, grouping)
    }

    /// Groupings by what is computed from the quarter and by another column.
    const BY_YEAR_AND_PLACE: [&str; 2] = [
        "SELECT municipality_code, substr(period, 1, 4) AS year, count(*) AS n,
                sum(hours_per_week) AS h
         FROM t GROUP BY municipality_code, substr(period, 1, 4) ORDER BY year, municipality_code",
        // Batches a filter has merged from several files.
        "SELECT substr(period, 1, 4) AS year, municipality_code, count(*) AS n
         FROM t WHERE hours_per_week > 35
         GROUP BY substr(period, 1, 4), municipality_code ORDER BY year, municipality_code",
    ];

    /// Groupings by the quarter or what is computed from it, over whole
    /// files and over batches that a filter has merged from several files.
    const BY_QUARTER: [&str; 7] = [
        "SELECT period, count(*) AS n, round(avg(hours_per_week), 6) AS h FROM t GROUP BY period ORDER BY period",
        "SELECT period, count(*) AS n,
                sum(CASE WHEN status_3m = 'ordinary_job' THEN 1 ELSE 0 END) AS job,
                sum(CASE WHEN status_3m IS NULL THEN 1 ELSE 0 END) AS unknown,
                count(status_3m) AS known, min(hours_per_week) AS lo, max(hours_per_week) AS hi
         FROM t GROUP BY period ORDER BY period",
        "SELECT substr(period, 1, 4) AS year, count(*) AS n, sum(hours_per_week) AS h
         FROM t GROUP BY substr(period, 1, 4) ORDER BY year",
        "SELECT period, count(*) FILTER (WHERE status_3m = 'education') AS e,
                count(DISTINCT municipality_code) AS places
         FROM t GROUP BY period ORDER BY period",
        // Few rows per file pass the filter: its output batches mix quarters.
        "SELECT period, count(*) AS n, sum(hours_per_week) AS h
         FROM t WHERE hours_per_week > 35 GROUP BY period ORDER BY period",
        "SELECT period, count(*) AS n FROM t WHERE period >= '2024Q2' GROUP BY period ORDER BY period",
        // A quarter with no rows at all.
        "SELECT period, count(*) AS n FROM t WHERE hours_per_week > 1000 GROUP BY period ORDER BY period",
    ];

    #[tokio::test]
    async fn grouping_by_the_quarter_gives_the_same_rows() {
        let root = tempfile::tempdir().expect("tempdir");
        write_table(root.path());
        let (plain, grouping) = contexts(root.path(), 2).await;
        for sql in BY_QUARTER.iter().chain(&BY_YEAR_AND_PLACE) {
            let expected = run(&plain, sql).await;
            assert!(
                expected.lines().count() > 3 || sql.contains("> 1000"),
                "{expected}"
            );
            assert_eq!(expected, run(&grouping, sql).await, "{sql}");
        }
    }

    #[tokio::test]
    async fn only_a_grouping_by_partition_values_is_replaced() {
        let root = tempfile::tempdir().expect("tempdir");
        write_table(root.path());
        let (_, grouping) = contexts(root.path(), 2).await;
        for sql in &BY_QUARTER[..3] {
            let shown = physical_plan(&grouping, sql).await;
            assert_eq!(shown.matches("PartitionGroupsExec").count(), 1, "{shown}");
            assert!(
                shown.contains("AggregateExec: mode=FinalPartitioned"),
                "{shown}"
            );
        }
        for sql in BY_YEAR_AND_PLACE {
            let shown = physical_plan(&grouping, sql).await;
            assert!(!shown.contains("PartitionGroupsExec"), "{shown}");
            assert!(
                shown.contains(
                    "PartitionExprsExec: once per batch of one partition: [substr(period@"
                ),
                "{shown}"
            );
            // The partial aggregation reads the computed key as a column.
            let partial = shown
                .lines()
                .find(|l| l.contains("AggregateExec: mode=Partial"))
                .expect("a partial aggregation");
            assert!(
                partial.contains("substr(t.period,Int64(1),Int64(4))@")
                    && !partial.contains("substr(period@"),
                "{shown}"
            );
        }
        for sql in [
            "SELECT municipality_code, count(*) FROM t GROUP BY municipality_code",
            "SELECT period, municipality_code, count(*) FROM t GROUP BY period, municipality_code",
            "SELECT period, random() > 0.5 AS r, count(*) FROM t GROUP BY period, random() > 0.5",
            "SELECT count(*) FROM t",
        ] {
            let shown = physical_plan(&grouping, sql).await;
            assert!(
                !shown.contains("PartitionGroupsExec") && !shown.contains("PartitionExprsExec"),
                "{sql}\n{shown}"
            );
        }
    }

    /// In one partition DataFusion aggregates in a single step; the rule
    /// splits it into the partial grouping a file at a time and a final
    /// merge, and the keys computed from the quarter are still computed
    /// once a batch.
    #[tokio::test]
    async fn in_one_partition_a_single_step_grouping_is_split_around_it() {
        let root = tempfile::tempdir().expect("tempdir");
        write_table(root.path());
        let (plain, grouping) = contexts(root.path(), 1).await;
        for sql in BY_QUARTER.iter().chain(&BY_YEAR_AND_PLACE) {
            assert_eq!(run(&plain, sql).await, run(&grouping, sql).await, "{sql}");
        }
        for sql in &BY_QUARTER[..3] {
            let plain_plan = physical_plan(&plain, sql).await;
            assert!(
                plain_plan.contains("AggregateExec: mode=Single"),
                "{plain_plan}"
            );
            let shown = physical_plan(&grouping, sql).await;
            let lines: Vec<&str> = shown.lines().collect();
            let groups = lines
                .iter()
                .position(|l| l.contains("PartitionGroupsExec"))
                .unwrap_or_else(|| panic!("no PartitionGroupsExec in\n{shown}"));
            assert!(
                groups > 0 && lines[groups - 1].contains("AggregateExec: mode=Final,"),
                "{shown}"
            );
            assert!(!shown.contains("mode=Single"), "{shown}");
        }
        for sql in BY_YEAR_AND_PLACE {
            let shown = physical_plan(&grouping, sql).await;
            assert!(shown.contains("AggregateExec: mode=Single"), "{shown}");
            assert!(shown.contains("PartitionExprsExec"), "{shown}");
        }
    }

    #[test]
    fn one_value_means_every_row_equal_or_every_row_null() {
        let text = |v: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        assert!(one_value(&text(vec![Some("2024Q1"); 3])));
        assert!(one_value(&text(vec![None, None])));
        assert!(one_value(&text(vec![])));
        assert!(!one_value(&text(vec![Some("2024Q1"), Some("2024Q2")])));
        assert!(!one_value(&text(vec![Some("2024Q1"), None])));
        assert!(!one_value(&text(vec![None, Some("2024Q1")])));
        // Text is compared as bytes in one piece: lengths, a value in the
        // middle, a slice that starts past the first value, empty strings.
        assert!(!one_value(&text(vec![Some("ab"), Some("abab")])));
        assert!(!one_value(&text(vec![
            Some("abab"),
            Some("ab"),
            Some("ab")
        ])));
        assert!(!one_value(&text(vec![Some("ab"), Some("ab"), Some("ba")])));
        assert!(!one_value(&text(vec![
            Some("2024Q1"),
            Some("2024Q2"),
            Some("2024Q1")
        ])));
        assert!(one_value(&text(vec![Some(""), Some("")])));
        assert!(!one_value(&text(vec![Some(""), Some("a")])));
        let mixed = text(vec![Some("2024Q2"), Some("2024Q1"), Some("2024Q1")]);
        assert!(!one_value(&mixed));
        assert!(one_value(&mixed.slice(1, 2)));
        assert!(!one_value(&mixed.slice(0, 2)));
        let large: ArrayRef = Arc::new(arrow::array::LargeStringArray::from(vec!["q", "q", "r"]));
        assert!(!one_value(&large));
        assert!(one_value(&large.slice(0, 2)));
    }
}
