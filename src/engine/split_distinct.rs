//! `COUNT(DISTINCT person_key)` counted where each person's rows are.
//!
//! DataFusion counts distinct values in two steps: each partition collects
//! its distinct values per group, then the final step receives every
//! partition's values and hashes them all into one set per group again. At
//! 10M rows that second pass was 83 of the 285 ms of aggregation in
//! `effect_by_type.sql` (issue 14). When the rows are first split between the partitions by a
//! hash of the counted key, no key is in two partitions, so each partition's
//! count is its share of the answer and the final step adds the counts.
//! [`SplitByDistinctKey`] does that: below a partial aggregation whose
//! distinct aggregates are all `COUNT(DISTINCT k)` of the same `k`, it
//! splits the rows by `k`, and it counts with
//! [`PartitionedDistinctCount`] in both steps. The other aggregates
//! (`COUNT(*)`, `SUM`, …) do not care which partition a row is in.
//!
//! DataFusion's partial step may give up grouping and pass rows on one by
//! one when there are nearly as many groups as rows; a count per row would
//! count a key twice. It never does so for grouping sets, so a plain `GROUP
//! BY` is planned here as the one grouping set it is (and the grouping id
//! that adds is dropped above the final step). The rule applies only under
//! a final step that gathers each group into one partition again.

use std::sync::Arc;

use arrow::datatypes::Schema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::AggregateUDF;
use datafusion::physical_expr::aggregate::{AggregateExprBuilder, AggregateFunctionExpr};
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::{Partitioning, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, PhysicalGroupBy};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, ExecutionPlan, ExecutionPlanProperties, ReplaceChildrenOptions,
};

use super::distinct_count::PartitionedDistinctCount;

/// Splits the rows of a partial aggregation by the key it counts distinct
/// values of (see the module).
#[derive(Debug, Default)]
pub struct SplitByDistinctKey;

impl PhysicalOptimizerRule for SplitByDistinctKey {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(last) = node.downcast_ref::<AggregateExec>() else {
                return Ok(Transformed::no(node));
            };
            match split(last)? {
                Some(rewritten) => Ok(Transformed::yes(rewritten)),
                None => Ok(Transformed::no(node)),
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "split_by_distinct_key"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `last`, a final aggregation, over a partial one whose rows are split by
/// the key it counts distinct values of; none when the rule does not apply.
fn split(last: &AggregateExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if !matches!(
        last.mode(),
        AggregateMode::Final | AggregateMode::FinalPartitioned
    ) || last.limit_options().is_some()
    {
        return Ok(None);
    }
    // Between the two steps: what gathers each group into one partition.
    let mut between = Vec::new();
    let mut below = Arc::clone(last.input());
    let partial = loop {
        if let Some(partial) = below.downcast_ref::<AggregateExec>() {
            break partial.clone();
        }
        let gathers = below.downcast_ref::<CoalescePartitionsExec>().is_some()
            || below
                .downcast_ref::<RepartitionExec>()
                .is_some_and(|r| matches!(r.partitioning(), Partitioning::Hash(..)));
        let [child] = below.children()[..] else {
            return Ok(None);
        };
        if !gathers {
            return Ok(None);
        }
        let child = Arc::clone(child);
        between.push(below);
        below = child;
    };
    if between.is_empty() {
        return Ok(None);
    }
    let Some(key) = counted_key(&partial) else {
        return Ok(None);
    };
    let input = partial.input();
    let partitions = input.output_partitioning().partition_count();
    if partitions < 2 {
        return Ok(None);
    }
    let count = Arc::new(AggregateUDF::new_from_impl(PartitionedDistinctCount::new()));
    let split: Arc<dyn ExecutionPlan> = Arc::new(RepartitionExec::try_new(
        Arc::clone(input),
        Partitioning::Hash(vec![key], partitions),
    )?);
    // A plain GROUP BY, as one grouping set (see the module).
    let plain = partial.group_expr().is_single() && !partial.group_expr().is_empty();
    let group_by = if plain {
        one_grouping_set(partial.group_expr(), &partial.input_schema())?
    } else {
        partial.group_expr().clone()
    };
    let partial = AggregateExec::try_new(
        AggregateMode::Partial,
        group_by,
        counted_in_partition(partial.aggr_expr(), &count, &partial)?,
        partial.filter_expr().to_vec(),
        split,
        partial.input_schema(),
    )?;
    let last_group_by = if plain {
        partial.group_expr().as_final()
    } else {
        last.group_expr().clone()
    };
    let mut above: Arc<dyn ExecutionPlan> = Arc::new(partial);
    for node in between.into_iter().rev() {
        above = node.replace_children(
            vec![above],
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )?;
    }
    let rewritten = AggregateExec::try_new(
        *last.mode(),
        last_group_by,
        counted_in_partition(last.aggr_expr(), &count, last)?,
        last.filter_expr().to_vec(),
        above,
        last.input_schema(),
    )?;
    if !plain {
        return Ok(Some(Arc::new(rewritten)));
    }
    // The output without the grouping id, which follows the keys.
    let id = last.group_expr().expr().len();
    let schema = rewritten.schema();
    let columns = schema.fields().iter().enumerate().filter(|(i, _)| *i != id);
    let output = columns.map(|(i, field)| {
        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(field.name(), i));
        (column, field.name().clone())
    });
    Ok(Some(Arc::new(ProjectionExec::try_new(
        output,
        Arc::new(rewritten),
    )?)))
}

/// `group_by`, a plain grouping, as a grouping set with one set.
fn one_grouping_set(group_by: &PhysicalGroupBy, input: &Schema) -> Result<PhysicalGroupBy> {
    let nulls = group_by
        .expr()
        .iter()
        .map(|(expr, name)| {
            let null = ScalarValue::try_from(expr.data_type(input)?)?;
            Ok((
                Arc::new(Literal::new(null)) as Arc<dyn PhysicalExpr>,
                name.clone(),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let keys = group_by.expr().len();
    Ok(PhysicalGroupBy::new(
        group_by.expr().to_vec(),
        nulls,
        vec![vec![false; keys]],
        true,
    ))
}

/// The key of `partial`'s distinct counts, if it is a partial aggregation
/// in no particular order with at least one `COUNT(DISTINCT k)` of a key
/// the new count handles and no other distinct aggregate.
fn counted_key(partial: &AggregateExec) -> Option<Arc<dyn PhysicalExpr>> {
    if *partial.mode() != AggregateMode::Partial
        || partial.limit_options().is_some()
        || partial
            .aggr_expr()
            .iter()
            .any(|a| !a.order_bys().is_empty())
    {
        return None;
    }
    let mut key: Option<Arc<dyn PhysicalExpr>> = None;
    for aggregate in partial.aggr_expr().iter().filter(|a| a.is_distinct()) {
        let [arg] = &aggregate.expressions()[..] else {
            return None;
        };
        let counts = aggregate.fun().name() == "count"
            && arg
                .data_type(&partial.input_schema())
                .is_ok_and(|t| PartitionedDistinctCount::counts(&t));
        if !counts || key.as_ref().is_some_and(|k| k != arg) {
            return None;
        }
        key = Some(Arc::clone(arg));
    }
    key
}

/// `aggregates` with each `COUNT(DISTINCT k)` counted by `count`, under the
/// same name (so the output is the same), over `aggregation`'s input.
fn counted_in_partition(
    aggregates: &[Arc<AggregateFunctionExpr>],
    count: &Arc<AggregateUDF>,
    aggregation: &AggregateExec,
) -> Result<Vec<Arc<AggregateFunctionExpr>>> {
    aggregates
        .iter()
        .map(|aggregate| {
            if !aggregate.is_distinct() {
                return Ok(Arc::clone(aggregate));
            }
            let counted = AggregateExprBuilder::new(Arc::clone(count), aggregate.expressions())
                .schema(aggregation.input_schema())
                .alias(aggregate.name())
                .build()?;
            Ok(Arc::new(counted))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    use super::*;
    use crate::engine::testing::{physical_plan, plain_and_with, run, write_parquet};

    /// Four files of internships whose people recur across files, types and
    /// groups, with some keys and groups null.
    fn write_table(root: &std::path::Path) {
        for file in 0..4_i64 {
            let rows = 2500 + 300 * file;
            let person: Vec<Option<String>> = (0..rows)
                .map(|i| {
                    ((i + file) % 13 != 0).then(|| format!("p{:05}", (i * 7 + file * 31) % 1900))
                })
                .collect();
            let number: Vec<Option<i64>> = (0..rows)
                .map(|i| ((i + file) % 17 != 0).then_some((i * 11 + file) % 1700))
                .collect();
            let kind: Vec<&str> = (0..rows)
                .map(|i| ["jobpraktik", "udviklingspraktik", "kompetencepraktik"][(i % 3) as usize])
                .collect();
            let group: Vec<Option<&str>> = (0..rows)
                .map(|i| match (i + 2 * file) % 5 {
                    0 => None,
                    1 | 2 => Some("a-dagpenge"),
                    _ => Some("kontanthjaelp"),
                })
                .collect();
            let batch = RecordBatch::try_from_iter(vec![
                ("person_key", Arc::new(StringArray::from(person)) as _),
                ("person_number", Arc::new(Int64Array::from(number)) as _),
                ("internship_type", Arc::new(StringArray::from(kind)) as _),
                ("benefit_group", Arc::new(StringArray::from(group)) as _),
            ])
            .expect("batch");
            write_parquet(&root.join(format!("part-{file}.parquet")), &batch, 700);
        }
    }

    /// The same table read plainly and with the rule, in `partitions`.
    async fn contexts(
        root: &std::path::Path,
        partitions: usize,
    ) -> (SessionContext, SessionContext) {
        let config = || {
            // As the engine, but giving up partial grouping after fewer rows.
            SessionConfig::new()
                .with_target_partitions(partitions)
                .with_batch_size(512)
                .set_usize(
                    "datafusion.execution.skip_partial_aggregation_probe_rows_threshold",
                    1000,
                )
                .set_str(
                    "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold",
                    "0.1",
                )
        };
        let (plain, split) = plain_and_with(config, Arc::new(SplitByDistinctKey));
        for ctx in [&plain, &split] {
            ctx.register_parquet(
                "t",
                root.to_str().expect("path"),
                ParquetReadOptions::default(),
            )
            .await
            .expect("register");
        }
        (plain, split)
    }

    /// (A query whose only aggregate is one `COUNT(DISTINCT)` DataFusion
    /// already plans as a grouping by the key, which this rule leaves.)
    const COUNTED: [&str; 8] = [
        // effect_by_type.sql's shape: grouping sets, other aggregates beside.
        "SELECT internship_type, benefit_group, count(*) AS n, count(DISTINCT person_key) AS people,
                count(benefit_group) AS grouped
         FROM t GROUP BY GROUPING SETS ((internship_type, benefit_group), (internship_type))
         ORDER BY internship_type, benefit_group NULLS FIRST, people",
        // Integer keys, two distinct counts of the same key, a filter.
        "SELECT internship_type, benefit_group, count(DISTINCT person_number) AS a,
                count(DISTINCT person_number) FILTER (WHERE benefit_group = 'a-dagpenge') AS b,
                sum(person_number) AS s
         FROM t GROUP BY ROLLUP (internship_type, benefit_group)
         ORDER BY internship_type NULLS FIRST, benefit_group NULLS FIRST, a",
        // A plain GROUP BY; and one with a group per few rows, where
        // DataFusion's partial step gives up grouping.
        "SELECT internship_type, count(DISTINCT person_key) AS p, count(*) AS n
         FROM t GROUP BY internship_type ORDER BY internship_type",
        "SELECT person_number, benefit_group, count(DISTINCT person_key) AS p, count(*) AS n
         FROM t GROUP BY person_number, benefit_group
         ORDER BY person_number NULLS FIRST, benefit_group NULLS FIRST",
        // No groups.
        "SELECT count(DISTINCT person_key) AS people, count(*) AS n FROM t",
        "SELECT count(DISTINCT person_number) AS people, count(*) AS n
         FROM t WHERE internship_type = 'jobpraktik'",
        // No rows.
        "SELECT count(DISTINCT person_key) AS people, count(*) AS n FROM t WHERE internship_type = 'none'",
        "SELECT internship_type, count(DISTINCT person_key) AS people, count(*) AS n
         FROM t WHERE internship_type = 'none' GROUP BY GROUPING SETS ((internship_type), ())",
    ];

    #[tokio::test]
    async fn counts_as_datafusion_does() {
        let folder = tempfile::tempdir().expect("temp");
        write_table(folder.path());
        for partitions in [2, 3] {
            let (plain, split) = contexts(folder.path(), partitions).await;
            for sql in COUNTED {
                assert!(
                    physical_plan(&split, sql)
                        .await
                        .contains("partitioning=Hash([person_"),
                    "{sql} is not split:\n{}",
                    physical_plan(&split, sql).await
                );
                assert_eq!(run(&plain, sql).await, run(&split, sql).await, "{sql}");
            }
        }
    }

    /// The many-group query above is one where DataFusion's own partial
    /// step gives up grouping, so the comparison covers that case.
    #[tokio::test]
    async fn covers_a_partial_step_that_gives_up() {
        let folder = tempfile::tempdir().expect("temp");
        write_table(folder.path());
        let (plain, _) = contexts(folder.path(), 2).await;
        let analysed = run(&plain, &format!("EXPLAIN ANALYZE {}", COUNTED[3])).await;
        let skipped = analysed
            .split("skipped_aggregation_rows=")
            .skip(1)
            .any(|after| !after.starts_with('0'));
        assert!(skipped, "{analysed}");
    }

    /// The grouping-set query's people, counted here from the rows.
    #[tokio::test]
    async fn counts_each_person_once() {
        let folder = tempfile::tempdir().expect("temp");
        write_table(folder.path());
        let (_, split) = contexts(folder.path(), 2).await;
        let sql = "SELECT count(DISTINCT person_key) AS people FROM t
                   GROUP BY GROUPING SETS ((internship_type), ()) ORDER BY people";
        let all: std::collections::BTreeSet<_> = (0..4_i64)
            .flat_map(|file| {
                (0..2500 + 300 * file)
                    .filter(move |i| (i + file) % 13 != 0)
                    .map(move |i| (i * 7 + file * 31) % 1900)
            })
            .collect();
        let shown = run(&split, sql).await;
        assert!(shown.contains(&format!("| {} ", all.len())), "{shown}");
    }

    /// With other distinct aggregates the plan is DataFusion's.
    #[tokio::test]
    async fn leaves_what_it_cannot_count() {
        let folder = tempfile::tempdir().expect("temp");
        write_table(folder.path());
        let (plain, split) = contexts(folder.path(), 2).await;
        for sql in [
            "SELECT count(DISTINCT person_key), count(DISTINCT person_number) FROM t",
            "SELECT internship_type, sum(DISTINCT person_number) AS s, count(*) AS n FROM t
             GROUP BY GROUPING SETS ((internship_type), ()) ORDER BY internship_type",
        ] {
            assert_eq!(
                physical_plan(&plain, sql).await,
                physical_plan(&split, sql).await,
                "{sql}"
            );
            assert_eq!(run(&plain, sql).await, run(&split, sql).await, "{sql}");
        }
    }
}
