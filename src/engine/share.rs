//! A CTE that a statement reads more than once is computed once.
//!
//! DataFusion 55 plans a CTE anew at every reference (apache/datafusion#8777),
//! so `WITH per_area AS (… GROUP BY …) SELECT … FROM per_area JOIN (SELECT
//! avg(…) FROM per_area) …` scans and groups the table twice. An analyzer
//! rule marks each such repeated subplan, and at execution the first reader
//! computes it while the others wait for and share its batches.
//!
//! Only subplans that reduce their input (an aggregate, a window or a
//! DISTINCT) are shared: their results are small, so holding them in memory
//! costs little, while a plain scan read twice is better streamed twice.
//! Correlated subplans (those with outer references) are never shared.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{DFSchemaRef, DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, SubqueryAlias, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning,
    PlanProperties, ReplaceChildrenOptions,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

/// One repeated subplan's result, shared by every place that reads it.
#[derive(Debug)]
pub struct Shared {
    id: usize,
    /// The batches, once the first reader has computed them.
    batches: OnceCell<Vec<RecordBatch>>,
    /// The physical plan that computes them (the optimised one of the
    /// reader that shows it in the plan).
    plan: Mutex<Option<Arc<dyn ExecutionPlan>>>,
    /// Whether a reader already shows the plan as its child.
    shown: AtomicBool,
}

impl Shared {
    fn new() -> Arc<Shared> {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        Arc::new(Shared {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            batches: OnceCell::new(),
            plan: Mutex::new(None),
            shown: AtomicBool::new(false),
        })
    }

    fn set_plan(&self, plan: Arc<dyn ExecutionPlan>) {
        if let Ok(mut slot) = self.plan.lock() {
            *slot = Some(plan);
        }
    }

    /// The batches: computed by the first caller, awaited by the others.
    async fn batches(&self, context: Arc<TaskContext>) -> Result<Vec<RecordBatch>> {
        let batches = self
            .batches
            .get_or_try_init(|| async {
                let plan = self
                    .plan
                    .lock()
                    .map_err(|_| DataFusionError::Internal("a shared subplan's lock".into()))?
                    .clone()
                    .ok_or_else(|| {
                        DataFusionError::Internal("a shared subplan without a plan".into())
                    })?;
                datafusion::physical_plan::collect(plan, context).await
            })
            .await?;
        Ok(batches.clone())
    }
}

/// The logical mark: `input` is read more than once in the statement.
#[derive(Debug, Clone)]
pub struct SharedNode {
    input: LogicalPlan,
    shared: Arc<Shared>,
}

impl PartialEq for SharedNode {
    fn eq(&self, other: &Self) -> bool {
        self.shared.id == other.shared.id && self.input == other.input
    }
}

impl Eq for SharedNode {}

impl PartialOrd for SharedNode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match self.shared.id.cmp(&other.shared.id) {
            std::cmp::Ordering::Equal => self.input.partial_cmp(&other.input),
            order => Some(order),
        }
    }
}

impl Hash for SharedNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.shared.id.hash(state);
        self.input.hash(state);
    }
}

impl UserDefinedLogicalNodeCore for SharedNode {
    fn name(&self) -> &str {
        "SharedSubplan"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedSubplan: id={}", self.shared.id)
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let input = inputs
            .pop()
            .ok_or_else(|| DataFusionError::Internal("SharedSubplan needs its input".into()))?;
        Ok(SharedNode {
            input,
            shared: Arc::clone(&self.shared),
        })
    }
}

/// The analyzer rule that marks repeated subplans.
#[derive(Debug, Default)]
pub struct ShareRepeatedSubplans;

/// Whether `plan` is worth computing once: it reduces its input, reads a
/// table, and does not depend on an outer row.
fn worth_sharing(plan: &LogicalPlan) -> bool {
    let mut reduces = false;
    let mut reads = false;
    let walked = plan.apply_with_subqueries(|node| {
        match node {
            LogicalPlan::Aggregate(_) | LogicalPlan::Window(_) | LogicalPlan::Distinct(_) => {
                reduces = true
            }
            LogicalPlan::TableScan(_) => reads = true,
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    });
    walked.is_ok() && reduces && reads && !plan.contains_outer_reference()
}

impl AnalyzerRule for ShareRepeatedSubplans {
    fn name(&self) -> &str {
        "share_repeated_subplans"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        // Every reference of a CTE (or a subquery in FROM) is a SubqueryAlias
        // over the same plan: count them.
        let mut seen: HashMap<LogicalPlan, usize> = HashMap::new();
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::SubqueryAlias(alias) = node
                && worth_sharing(&alias.input)
            {
                *seen.entry(alias.input.as_ref().clone()).or_default() += 1;
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let shared: HashMap<LogicalPlan, Arc<Shared>> = seen
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|(plan, _)| (plan, Shared::new()))
            .collect();
        if shared.is_empty() {
            return Ok(plan);
        }
        plan.transform_down_with_subqueries(|node| {
            let LogicalPlan::SubqueryAlias(alias) = &node else {
                return Ok(Transformed::no(node));
            };
            let Some(share) = shared.get(alias.input.as_ref()) else {
                return Ok(Transformed::no(node));
            };
            let marked = LogicalPlan::Extension(Extension {
                node: Arc::new(SharedNode {
                    input: alias.input.as_ref().clone(),
                    shared: Arc::clone(share),
                }),
            });
            let replaced = SubqueryAlias::try_new(Arc::new(marked), alias.alias.clone())?;
            // Inside a shared subplan nothing more needs sharing: it runs once.
            Ok(Transformed::new(
                LogicalPlan::SubqueryAlias(replaced),
                true,
                TreeNodeRecursion::Jump,
            ))
        })
        .map(|t| t.data)
    }
}

/// Reads a shared subplan's batches, computing them if it is the first.
/// The first reader planned shows the subplan as its child (so EXPLAIN
/// shows it once); the others are leaves.
#[derive(Debug)]
pub struct SharedExec {
    shared: Arc<Shared>,
    child: Option<Arc<dyn ExecutionPlan>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl SharedExec {
    fn new(shared: Arc<Shared>, input: Arc<dyn ExecutionPlan>) -> SharedExec {
        let schema = input.schema();
        let shows = !shared.shown.swap(true, Ordering::SeqCst);
        shared.set_plan(Arc::clone(&input));
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        SharedExec {
            shared,
            child: shows.then_some(input),
            schema,
            properties,
        }
    }
}

impl DisplayAs for SharedExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let role = if self.child.is_some() {
            "computes"
        } else {
            "reads"
        };
        write!(f, "SharedSubplanExec: id={}, {role}", self.shared.id)
    }
}

impl ExecutionPlan for SharedExec {
    fn name(&self) -> &str {
        "SharedSubplanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.child.iter().collect()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), &self.child) {
            // The optimiser's newer version of the subplan is the one to run.
            (Some(child), Some(_)) => {
                self.shared.set_plan(Arc::clone(&child));
                Ok(Arc::new(SharedExec {
                    shared: Arc::clone(&self.shared),
                    child: Some(child),
                    schema: Arc::clone(&self.schema),
                    properties: Arc::clone(&self.properties),
                }))
            }
            (None, None) => Ok(self),
            _ => Err(DataFusionError::Internal(
                "SharedSubplanExec given the wrong number of children".into(),
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

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "SharedSubplanExec has one partition, not {partition}"
            )));
        }
        let shared = Arc::clone(&self.shared);
        let batches = futures::stream::once(async move { shared.batches(context).await })
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches.boxed(),
        )))
    }
}

/// Plans [`SharedNode`]s as [`SharedExec`]s.
#[derive(Debug, Default)]
struct SharedPlanner;

#[async_trait]
impl ExtensionPlanner for SharedPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<SharedNode>() else {
            return Ok(None);
        };
        let input = physical_inputs
            .first()
            .ok_or_else(|| DataFusionError::Internal("SharedSubplan without input".into()))?;
        Ok(Some(Arc::new(SharedExec::new(
            Arc::clone(&node.shared),
            Arc::clone(input),
        ))))
    }
}

/// DataFusion's planner, with [`SharedNode`]s planned as [`SharedExec`]s.
#[derive(Debug, Default)]
pub struct SharingQueryPlanner;

#[async_trait]
impl QueryPlanner for SharingQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(SharedPlanner)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}

/// `state` made to compute each repeated subplan once.
pub fn sharing(state: SessionStateBuilder) -> SessionStateBuilder {
    state
        .with_query_planner(Arc::new(SharingQueryPlanner))
        .with_analyzer_rule(Arc::new(ShareRepeatedSubplans))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;
    use crate::engine::testing::{physical_plan, run};

    /// A session on `config` whose statements compute each repeated subplan once.
    fn context(config: SessionConfig) -> SessionContext {
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features();
        SessionContext::new_with_state(sharing(state).build())
    }

    /// Internships per area and year over four batches (two partitions).
    fn table() -> Arc<MemTable> {
        let batch = |seed: i64| {
            let rows = 500;
            let area: Vec<String> = (0..rows)
                .map(|i| format!("{}", 100 + (i * 7 + seed) % 13))
                .collect();
            let year: Vec<i64> = (0..rows).map(|i| 2019 + (i + seed) % 5).collect();
            let worked: Vec<i64> = (0..rows)
                .map(|i| ((i * 31 + seed * 17) % 100 < 37) as i64)
                .collect();
            RecordBatch::try_from_iter(vec![
                ("area", Arc::new(StringArray::from(area)) as _),
                ("year", Arc::new(Int64Array::from(year)) as _),
                ("worked", Arc::new(Int64Array::from(worked)) as _),
            ])
            .expect("batch")
        };
        let (a, b, c, d) = (batch(1), batch(2), batch(3), batch(4));
        Arc::new(MemTable::try_new(a.schema(), vec![vec![a, b], vec![c, d]]).expect("table"))
    }

    fn contexts() -> (SessionContext, SessionContext) {
        let config = || SessionConfig::new().with_target_partitions(2);
        let plain = SessionContext::new_with_config(config());
        let sharing = context(config());
        for ctx in [&plain, &sharing] {
            ctx.register_table("t", table()).expect("register");
        }
        (plain, sharing)
    }

    /// The analyst's query of issue 14: per-area rates by year, the national
    /// rate, and a rank, with the CTE read twice.
    const RATES: &str = "WITH per_area AS (
            SELECT area, year, count(*) AS n, sum(worked) AS worked, avg(worked) AS rate
            FROM t GROUP BY area, year)
        SELECT p.area, p.year, p.rate, national.rate AS national_rate,
               rank() OVER (PARTITION BY p.year ORDER BY p.rate DESC, p.area) AS place
        FROM per_area p
        JOIN (SELECT year, sum(worked) * 1.0 / sum(n) AS rate FROM per_area GROUP BY year) national
          ON p.year = national.year
        ORDER BY p.year, place";

    #[tokio::test]
    async fn shared_and_repeated_plans_give_the_same_rows() {
        let (plain, sharing) = contexts();
        for sql in [
            RATES,
            // A scalar subquery over the CTE as well as the CTE in FROM.
            "WITH y AS (SELECT year, avg(worked) AS rate FROM t GROUP BY year)
             SELECT year, rate FROM y WHERE rate >= (SELECT avg(rate) FROM y) ORDER BY year",
            // The same CTE on both sides of a UNION.
            "WITH a AS (SELECT DISTINCT area FROM t)
             SELECT area FROM a UNION ALL SELECT area FROM a ORDER BY area",
            // A correlated subquery: never shared, still right.
            "WITH y AS (SELECT area, year, sum(worked) AS w FROM t GROUP BY area, year)
             SELECT area, year, w FROM y o
             WHERE w = (SELECT max(w) FROM y i WHERE i.year = o.year) ORDER BY year, area",
            // Read once: nothing to share.
            "WITH y AS (SELECT year, count(*) AS n FROM t GROUP BY year) SELECT * FROM y ORDER BY year",
        ] {
            assert_eq!(run(&plain, sql).await, run(&sharing, sql).await, "{sql}");
        }
    }

    #[tokio::test]
    async fn a_cte_read_twice_is_scanned_once() {
        let (plain, sharing) = contexts();
        let before = physical_plan(&plain, RATES).await;
        let after = physical_plan(&sharing, RATES).await;
        assert_eq!(before.matches("DataSourceExec").count(), 2, "{before}");
        assert_eq!(after.matches("DataSourceExec").count(), 1, "{after}");
        assert_eq!(after.matches("SharedSubplanExec").count(), 2, "{after}");
        assert!(
            after.contains(", computes") && after.contains(", reads"),
            "{after}"
        );
    }

    #[tokio::test]
    async fn a_plain_scan_read_twice_is_not_held_in_memory() {
        let (_, sharing) = contexts();
        let sql = "WITH a AS (SELECT area, worked FROM t)
                   SELECT count(*) FROM a x JOIN a y ON x.area = y.area";
        let plan = physical_plan(&sharing, sql).await;
        assert!(!plan.contains("SharedSubplanExec"), "{plan}");
    }
}
