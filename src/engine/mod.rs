//! One DataFusion session over the store, used by every front end: reports,
//! `praktik query` and the tests run the same named queries from `sql/`, so
//! report numbers and analyst numbers cannot diverge.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::functions_aggregate::expr_fn::{count, count_distinct, max, min};
use datafusion::prelude::{SessionConfig, SessionContext, col, lit};
use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;

mod distinct_count;
mod files;
mod partition_groups;
mod share;
mod split_distinct;
#[cfg(test)]
mod testing;
pub mod workers;

use crate::area::Areas;
pub use crate::as_of::AsOf;
use crate::benefit::BenefitGroup;
use crate::schema::{INTERNSHIPS, OUTCOMES, RUNS};
use crate::store::{Store, StoreError};

/// The named queries, embedded from `sql/`.
pub const NAMED_QUERIES: [(&str, &str); 12] = [
    (
        "effect_by_area",
        include_str!("../../sql/effect_by_area.sql"),
    ),
    ("trend", include_str!("../../sql/trend.sql")),
    (
        "stored_extracts",
        include_str!("../../sql/stored_extracts.sql"),
    ),
    (
        "stored_internship_extracts",
        include_str!("../../sql/stored_internship_extracts.sql"),
    ),
    (
        "effect_by_type",
        include_str!("../../sql/effect_by_type.sql"),
    ),
    (
        "outcomes_by_type",
        include_str!("../../sql/outcomes_by_type.sql"),
    ),
    (
        "effect_by_municipality",
        include_str!("../../sql/effect_by_municipality.sql"),
    ),
    (
        "persons_by_year",
        include_str!("../../sql/persons_by_year.sql"),
    ),
    ("stored_groups", include_str!("../../sql/stored_groups.sql")),
    ("last_runs", include_str!("../../sql/last_runs.sql")),
    (
        "briefing_trend",
        include_str!("../../sql/briefing_trend.sql"),
    ),
    (
        "quarter_checks",
        include_str!("../../sql/quarter_checks.sql"),
    ),
];

/// The store's tables that the engine registers when they exist.
const STORE_TABLES: [&str; 2] = [OUTCOMES, INTERNSHIPS];

/// The tables built into the binary.
const REFERENCE_TABLES: [&str; 2] = ["areas", "benefit_groups"];

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no query is named `{0}`; the named queries are {list}", list = NAMED_QUERIES.map(|q| q.0).join(", "))]
    UnknownQuery(String),
    #[error("the query {query} needs the parameter `{name}`: add --param {name}=VALUE")]
    MissingParam { query: String, name: String },
    #[error("the query {query} has no parameter `{name}`; it takes: {takes}")]
    UnknownParam {
        query: String,
        name: String,
        takes: String,
    },
    #[error("the parameter `{name}` = `{value}` of {query} is not a valid {expected}")]
    BadParam {
        query: String,
        name: String,
        value: String,
        expected: String,
    },
    #[error("{query} failed{pointer}{hint}")]
    Sql {
        query: String,
        /// Where in the statement, when the parser or planner says: the line
        /// with a caret under the place.
        pointer: String,
        /// The nearest name to one that does not exist.
        hint: String,
        #[source]
        cause: Box<datafusion::error::DataFusionError>,
    },
    #[error("cannot register the table `{table}` with the query engine")]
    Register {
        table: String,
        #[source]
        cause: Box<datafusion::error::DataFusionError>,
    },
}

/// Named parameters (`period=2019Q3`) for a query's `$period` placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    pub fn with(mut self, name: &str, value: impl ToString) -> Params {
        self.0.insert(name.to_string(), value.to_string());
        self
    }

    pub fn insert(&mut self, name: &str, value: impl ToString) {
        self.0.insert(name.to_string(), value.to_string());
    }
}

/// The query engine over one version of the store. A clone shares the
/// session and its tables.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    versions: BTreeMap<String, u64>,
    /// The workers plans are spread over; none: this process.
    workers: Vec<url::Url>,
    /// Rows of the named queries run once for each set of parameters (see
    /// [`Engine::named_once`]).
    once: Arc<std::sync::Mutex<BTreeMap<(String, Params), Once>>>,
}

/// Below this many bytes of Parquet files, a store is read in one partition
/// and its filters are left above the scans (see [`Engine::for_size`]).
pub const SMALL_STORE_BYTES: u64 = 8 << 20;

/// The rows of one query, computed by the first to ask.
type Once = Arc<tokio::sync::OnceCell<Vec<RecordBatch>>>;

impl Engine {
    /// Register the store's tables (at `as_of`, or their newest versions) and
    /// the reference tables `areas` and `benefit_groups`.
    pub async fn open(store: &Store, as_of: Option<u64>) -> Result<Engine, QueryError> {
        Engine::open_as_of(store, &AsOf::from_version(as_of)).await
    }

    /// Register the store's tables at the versions `as_of` names.
    pub async fn open_as_of(store: &Store, as_of: &AsOf) -> Result<Engine, QueryError> {
        Engine::open_reading(store, as_of, None).await
    }

    /// As [`Engine::open_as_of`], registering only the store tables in
    /// `only` (all when `None`): opening a Delta table reads its log, which
    /// a statement over another table need not wait for.
    pub async fn open_reading(
        store: &Store,
        as_of: &AsOf,
        only: Option<&[&str]>,
    ) -> Result<Engine, QueryError> {
        let wanted = |table: &str| only.is_none_or(|only| only.contains(&table));
        let engine = Engine::for_store(store)?;
        let mut versions = BTreeMap::new();
        let mut bytes: u64 = 0;
        for table in STORE_TABLES.into_iter().filter(|t| wanted(t)) {
            let version = match as_of {
                AsOf::Newest => None,
                AsOf::Version(v) => Some(*v),
                AsOf::Tables(named) => named.get(table).copied(),
                AsOf::At(moment) => {
                    // The newest commit made by then; none: the table did not exist yet.
                    let millis = moment.timestamp_millis();
                    let history = store.history(table, None).await?;
                    let Some(version) = history
                        .iter()
                        .filter(|c| c.timestamp.is_some_and(|t| t <= millis))
                        .map(|c| c.version)
                        .max()
                    else {
                        continue;
                    };
                    Some(version)
                }
            };
            let Some(delta) = store.table(table, version).await? else {
                continue;
            };
            versions.insert(table.to_string(), delta.version().unwrap_or_default());
            bytes = bytes.saturating_add(engine.register_delta(table, delta).await?);
        }
        // The run ledger, always at its newest: it is no report's data.
        if wanted(RUNS)
            && let Some(delta) = store.table(RUNS, None).await?
        {
            engine.register_delta(RUNS, delta).await?;
        }
        Ok(Engine {
            versions,
            ..engine.for_size(bytes)
        })
    }

    /// Only `table`, at `version`: a report looking back in a table's history.
    pub async fn open_table_at(
        store: &Store,
        table: &str,
        version: u64,
    ) -> Result<Engine, QueryError> {
        let engine = Engine::for_store(store)?;
        let mut versions = BTreeMap::new();
        if let Some(delta) = store.table(table, Some(version)).await? {
            versions.insert(table.to_string(), version);
            engine.register_delta(table, delta).await?;
        }
        Ok(Engine { versions, ..engine })
    }

    /// Over tables that hold fewer than [`SMALL_STORE_BYTES`] of files (and
    /// no workers sharing the work), plan every query in one partition and
    /// leave its filters above the scans. Over so little, splitting a scan
    /// in one partition per core costs more to plan and run than the second
    /// core gives back (and a run's reports run their queries side by side
    /// anyway), and a filter pushed into a Parquet scan has the reader build
    /// a pruning predicate for each file it opens, to skip row groups that
    /// such small files do not have: callgrind of the council briefing's
    /// trend query on the demo store counted over a third of its
    /// instructions there. (A table's own scan gives the reader no filter either when
    /// the table is small: `files::SnapshotFiles`.)
    fn for_size(self, bytes: u64) -> Engine {
        if !self.workers.is_empty() || bytes >= SMALL_STORE_BYTES {
            return self;
        }
        let mut state = self.ctx.state();
        state.config_mut().options_mut().execution.target_partitions = 1;
        let rules: Vec<_> = state
            .physical_optimizers()
            .iter()
            .filter(|rule| !rule.name().starts_with("FilterPushdown"))
            .cloned()
            .collect();
        let state = SessionStateBuilder::new_from_existing(state)
            .with_physical_optimizer_rules(rules)
            .build();
        Engine {
            ctx: SessionContext::new_with_state(state),
            ..self
        }
    }

    /// Register `table` and give the bytes of its files (`u64::MAX`, not
    /// known, when deltalake's own scan reads it: never a small store).
    async fn register_delta(
        &self,
        table: &str,
        delta: deltalake::DeltaTable,
    ) -> Result<u64, QueryError> {
        let register = |cause| QueryError::Register {
            table: table.into(),
            cause: Box::new(cause),
        };
        // Plain Parquet files with their partition values, scanned by
        // DataFusion: the quarter is a constant per file (deltalake's scan
        // builds it row by row), and workers can run the scan. A table only
        // deltalake can read (deletion vectors, column mapping) is read by
        // deltalake's scan in one process; with workers it is refused.
        let (provider, bytes): (Arc<dyn datafusion::catalog::TableProvider>, u64) =
            match files::beyond_plain_files(&delta).map_err(register)? {
                None => {
                    let runtime = self.ctx.runtime_env();
                    let files = files::SnapshotFiles::of(table, &delta, &runtime)
                        .await
                        .map_err(register)?;
                    let bytes = files.bytes();
                    (Arc::new(files), bytes)
                }
                Some(_) if self.workers.is_empty() => {
                    (delta.table_provider().await.map_err(register)?, u64::MAX)
                }
                Some(feature) => return Err(register(files::refuse(table, feature))),
            };
        self.ctx.register_table(table, provider).map_err(register)?;
        Ok(bytes)
    }

    /// An engine as the store's settings say: in this process, or spread
    /// over workers.
    fn for_store(store: &Store) -> Result<Engine, QueryError> {
        let settings = store.engine();
        if settings.workers.is_empty() {
            return Engine::empty();
        }
        #[cfg(feature = "distributed")]
        {
            let ctx = workers::context(session_config(), settings).map_err(|cause| {
                QueryError::Register {
                    table: "(the workers' session)".into(),
                    cause: Box::new(cause),
                }
            })?;
            register_reference_tables(&ctx)?;
            Ok(Engine {
                ctx,
                versions: BTreeMap::new(),
                workers: settings.workers.clone(),
                once: Arc::default(),
            })
        }
        #[cfg(not(feature = "distributed"))]
        Engine::empty()
    }

    /// An engine with only the reference tables, for tests that create their own.
    pub fn empty() -> Result<Engine, QueryError> {
        let ctx = local_context(session_config());
        register_reference_tables(&ctx)?;
        Ok(Engine {
            ctx,
            versions: BTreeMap::new(),
            workers: Vec::new(),
            once: Arc::default(),
        })
    }

    /// For a table the query names that does not exist, the nearest name
    /// that does (DataFusion itself suggests columns).
    fn suggestion(&self, cause: &DataFusionError) -> String {
        let text = cause.to_string();
        let Some(missing) = text
            .split("table '")
            .nth(1)
            .and_then(|rest| rest.split("' not found").next())
        else {
            return String::new();
        };
        let wanted = missing.rsplit('.').next().unwrap_or(missing).to_lowercase();
        let known = self.table_names();
        let nearest = known
            .iter()
            .min_by_key(|name| crate::spelling::edit_distance(&wanted, name))
            .filter(|name| crate::spelling::edit_distance(&wanted, name) <= 3);
        match nearest {
            Some(name) => format!(
                "\n  there is no table `{wanted}`; did you mean `{name}`? (the tables are {})",
                known.join(", ")
            ),
            None => format!(
                "\n  there is no table `{wanted}`; the tables are {}",
                known.join(", ")
            ),
        }
    }

    /// The tables an analyst can query, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names = self
            .ctx
            .catalog("praktik")
            .and_then(|c| c.schema("public"))
            .map(|s| s.table_names())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The columns of `table`: name, type, whether it may be null, and what
    /// it means (`praktik schema`, the shell's `\\d TABLE`).
    pub async fn describe(&self, table: &str) -> Result<RecordBatch, QueryError> {
        let frame = self
            .ctx
            .table(table)
            .await
            .map_err(|cause| QueryError::Sql {
                query: format!("\\d {table}"),
                pointer: String::new(),
                hint: format!("\n  the tables are {}", self.table_names().join(", ")),
                cause: Box::new(cause),
            })?;
        let fields = frame.schema().fields().clone();
        let text = |values: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(values)) };
        RecordBatch::try_from_iter(vec![
            (
                "column",
                text(fields.iter().map(|f| f.name().clone()).collect()),
            ),
            (
                "type",
                // Text is text, however the scan holds it in memory (views).
                text(
                    fields
                        .iter()
                        .map(|f| match f.data_type() {
                            DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8.to_string(),
                            other => other.to_string(),
                        })
                        .collect(),
                ),
            ),
            (
                "nullable",
                text(
                    fields
                        .iter()
                        .map(|f| if f.is_nullable() { "yes" } else { "no" }.to_string())
                        .collect(),
                ),
            ),
            (
                "meaning",
                text(
                    fields
                        .iter()
                        .map(|f| crate::schema::description(table, f.name()).to_string())
                        .collect(),
                ),
            ),
        ])
        .map_err(|cause| QueryError::Sql {
            query: format!("\\d {table}"),
            pointer: String::new(),
            hint: String::new(),
            cause: Box::new(cause.into()),
        })
    }

    /// The session, for tests that create fixture tables.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The version each registered store table was read at.
    pub fn versions(&self) -> &BTreeMap<String, u64> {
        &self.versions
    }

    /// Run a named query from `sql/` with its parameters bound.
    pub async fn named(&self, name: &str, params: &Params) -> Result<Vec<RecordBatch>, QueryError> {
        let sql = named_query(name).ok_or_else(|| QueryError::UnknownQuery(name.into()))?;
        self.sql(&format!("sql/{name}.sql"), sql, params).await
    }

    /// As [`Engine::named`], run once for the engine and its clones for
    /// each set of parameters: they read one snapshot, so its rows cannot
    /// change. Reports side by side asking for the same rows (the briefing
    /// and the type report both show the quarter's per-type effect) wait for
    /// the first; if that one fails or is stopped, the next to ask runs it
    /// again.
    pub async fn named_once(
        &self,
        name: &str,
        params: &Params,
    ) -> Result<Vec<RecordBatch>, QueryError> {
        let cell = self
            .once
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry((name.to_string(), params.clone()))
            .or_default()
            .clone();
        cell.get_or_try_init(|| self.named(name, params))
            .await
            .cloned()
    }

    /// Run read-only SQL (no DDL, no DML) with `$name` placeholders bound from
    /// `params`. `label` names the query in errors.
    pub async fn sql(
        &self,
        label: &str,
        sql: &str,
        params: &Params,
    ) -> Result<Vec<RecordBatch>, QueryError> {
        Ok(self.query(label, sql, params).await?.1)
    }

    /// As [`Engine::sql`], with the result's schema, which names the columns
    /// also when there are no rows.
    pub async fn query(
        &self,
        label: &str,
        sql: &str,
        params: &Params,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let failed = |cause: DataFusionError| QueryError::Sql {
            query: label.into(),
            pointer: pointer(sql, &cause),
            hint: self.suggestion(&cause),
            cause: Box::new(cause),
        };
        let began = std::time::Instant::now();
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false);
        let frame = self
            .ctx
            .sql_with_options(sql, options)
            .await
            .map_err(failed)?;
        let wanted = frame.logical_plan().get_parameter_types().map_err(failed)?;
        let takes = || {
            let mut names: Vec<_> = wanted.keys().map(|k| k.trim_start_matches('$')).collect();
            names.sort_unstable();
            if names.is_empty() {
                "no parameters".to_string()
            } else {
                names.join(", ")
            }
        };
        for name in params.0.keys() {
            if !wanted.contains_key(&format!("${name}")) {
                return Err(QueryError::UnknownParam {
                    query: label.into(),
                    name: name.clone(),
                    takes: takes(),
                });
            }
        }
        let mut values = Vec::new();
        for (placeholder, data_type) in &wanted {
            let name = placeholder.trim_start_matches('$');
            let value = params.0.get(name).ok_or_else(|| QueryError::MissingParam {
                query: label.into(),
                name: name.into(),
            })?;
            values.push((
                name.to_string(),
                bind(label, name, value, data_type.as_ref())?,
            ));
        }
        let frame = if values.is_empty() {
            frame
        } else {
            frame.with_param_values(values).map_err(failed)?
        };
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|cause| {
            let text = cause.to_string();
            let mut error = failed(cause);
            if let QueryError::Sql { hint, .. } = &mut error {
                hint.push_str(&workers::silent_hint(&self.workers, &text));
            }
            error
        })?;
        tracing::debug!(
            query = label,
            rows = batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            ms = began.elapsed().as_secs_f64() * 1000.0,
            "query"
        );
        Ok((schema, batches))
    }

    /// Every table with its rows, and for those with a `period` the number
    /// of quarters and the first and last; the version read (the shell's `\d`).
    pub async fn overview(&self) -> Result<RecordBatch, QueryError> {
        let failed = |cause: DataFusionError| QueryError::Sql {
            query: "\\d".into(),
            pointer: String::new(),
            hint: String::new(),
            cause: Box::new(cause),
        };
        let names = self.table_names();
        let (mut rows, mut quarters) = (Vec::new(), Vec::new());
        let (mut first, mut last) = (Vec::new(), Vec::new());
        for name in &names {
            let frame = self.ctx.table(name.as_str()).await.map_err(failed)?;
            let dated = frame.schema().has_column_with_unqualified_name("period");
            let mut measures = vec![count(lit(1)).alias("rows")];
            if dated {
                measures.extend([
                    count_distinct(col("period")).alias("quarters"),
                    min(col("period")).alias("first"),
                    max(col("period")).alias("last"),
                ]);
            }
            let frame = frame.aggregate(vec![], measures).map_err(failed)?;
            let batches = frame.collect().await.map_err(failed)?;
            let number = |i: usize| {
                batches
                    .first()
                    .filter(|b| b.num_columns() > i)
                    .and_then(|b| b.column(i).as_any().downcast_ref::<Int64Array>())
                    .map(|a| a.value(0))
            };
            let text = |i: usize| -> Result<Option<String>, QueryError> {
                let Some(batch) = batches.first().filter(|b| b.num_columns() > i) else {
                    return Ok(None);
                };
                let options = FormatOptions::default();
                let formatter = ArrayFormatter::try_new(batch.column(i).as_ref(), &options)
                    .map_err(|e| failed(e.into()))?;
                Ok(batch
                    .column(i)
                    .is_valid(0)
                    .then(|| formatter.value(0).to_string()))
            };
            rows.push(number(0).unwrap_or(0));
            quarters.push(number(1));
            first.push(text(2)?);
            last.push(text(3)?);
        }
        let text =
            |values: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(values)) };
        let versions: Vec<Option<i64>> = names
            .iter()
            .map(|n| self.versions.get(n).and_then(|v| i64::try_from(*v).ok()))
            .collect();
        let about = names
            .iter()
            .map(|n| Some(crate::schema::table_description(n).to_string()));
        RecordBatch::try_from_iter(vec![
            ("table", text(names.iter().cloned().map(Some).collect())),
            ("rows", Arc::new(Int64Array::from(rows)) as ArrayRef),
            ("quarters", Arc::new(Int64Array::from(quarters)) as ArrayRef),
            ("first", text(first)),
            ("last", text(last)),
            ("version", Arc::new(Int64Array::from(versions)) as ArrayRef),
            ("about", text(about.collect())),
        ])
        .map_err(|e| failed(e.into()))
    }
}

/// The store tables `sql` reads, when that is certain: it parses as one
/// statement that names only tables praktik has (store or reference tables).
/// `None` otherwise (a syntax error, `information_schema`, a name that does
/// not exist): then every table is opened and the engine says what is wrong.
pub fn store_tables_read(sql: &str) -> Option<Vec<&'static str>> {
    let mut statements = DFParser::parse_sql(sql).ok()?;
    let statement = statements.pop_front()?;
    if !statements.is_empty() {
        return None;
    }
    let (tables, _ctes) = resolve_table_references(&statement, true).ok()?;
    let mut read = Vec::new();
    for table in tables {
        if table.schema().is_some_and(|s| s != "public") {
            return None;
        }
        let name = table.table();
        if let Some(known) = STORE_TABLES.into_iter().chain([RUNS]).find(|t| *t == name) {
            read.push(known);
        } else if !REFERENCE_TABLES.contains(&name) {
            return None;
        }
    }
    Some(read)
}

/// ` at line 1, column 8:` and the line with a caret under the place the
/// error's diagnostic names; empty when it names none.
fn pointer(sql: &str, cause: &DataFusionError) -> String {
    let (line_no, column, end) = match cause.diagnostic().and_then(|d| d.span) {
        Some(span) => (
            span.start.line as usize,
            span.start.column as usize,
            (span.end.line == span.start.line).then_some(span.end.column as usize),
        ),
        // The parser says it only in words: `… at Line: 1, Column: 8`.
        None => match parser_place(&cause.to_string()) {
            Some((line, column)) => (line, column, None),
            None => return String::new(),
        },
    };
    let Some(line) = line_no.checked_sub(1).and_then(|i| sql.lines().nth(i)) else {
        return String::new();
    };
    let width = end.map_or(1, |end| end.saturating_sub(column).max(1));
    format!(
        " at line {line_no}, column {column}:\n    {line}\n    {}{}",
        " ".repeat(column.saturating_sub(1)),
        "^".repeat(width)
    )
}

/// The line and column in a parser error's words.
fn parser_place(text: &str) -> Option<(usize, usize)> {
    let rest = text.split("Line: ").nth(1)?;
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

/// The SQL text of a named query.
pub fn named_query(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches(".sql");
    let name = name.rsplit('/').next().unwrap_or(name);
    NAMED_QUERIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, sql)| *sql)
}

fn bind(
    query: &str,
    name: &str,
    value: &str,
    data_type: Option<&DataType>,
) -> Result<ScalarValue, QueryError> {
    match data_type {
        None | Some(DataType::Utf8) => Ok(ScalarValue::Utf8(Some(value.to_string()))),
        Some(data_type) => {
            ScalarValue::try_from_string(value.to_string(), data_type).map_err(|_| {
                QueryError::BadParam {
                    query: query.into(),
                    name: name.into(),
                    value: value.into(),
                    expected: data_type.to_string(),
                }
            })
        }
    }
}

/// A session in this process: a CTE read more than once is computed once,
/// a grouping by the quarter groups each file's batches at once, and
/// distinct keys are counted where each key's rows are.
fn local_context(config: SessionConfig) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features();
    let state = share::sharing(state)
        .with_physical_optimizer_rule(Arc::new(partition_groups::GroupByPartitionValues))
        .with_physical_optimizer_rule(Arc::new(split_distinct::SplitByDistinctKey))
        .build();
    SessionContext::new_with_state(state)
}

/// The session settings every engine shares.
fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("praktik", "public");
    // A grouping with nearly one group per few rows (person keys) gains
    // nothing from a first, partial aggregation per partition, and holds
    // every group twice: go straight to the final one sooner than the
    // default (0.8 groups per row).
    config
        .options_mut()
        .execution
        .skip_partial_aggregation_probe_ratio_threshold = 0.1;
    // Errors name the place in the statement, for the caret under it.
    config.options_mut().sql_parser.collect_spans = true;
    config
}

fn register_reference_tables(ctx: &SessionContext) -> Result<(), QueryError> {
    let areas: Vec<_> = Areas::builtin().iter().collect();
    let text = |values: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(values)) };
    register(
        ctx,
        "areas",
        vec![
            (
                "area_code",
                text(areas.iter().map(|a| Some(a.code.clone())).collect()),
            ),
            (
                "area_name",
                text(areas.iter().map(|a| Some(a.name.clone())).collect()),
            ),
            (
                "area_kind",
                text(areas.iter().map(|a| Some(a.kind.as_str().into())).collect()),
            ),
            (
                "region",
                text(areas.iter().map(|a| a.region.clone()).collect()),
            ),
            (
                "members",
                text(areas.iter().map(|a| Some(a.members.join(" "))).collect()),
            ),
        ],
    )?;
    let groups = BenefitGroup::ALL;
    register(
        ctx,
        "benefit_groups",
        vec![
            (
                "benefit_group",
                text(groups.iter().map(|g| Some(g.code().into())).collect()),
            ),
            (
                "benefit",
                text(
                    groups
                        .iter()
                        .map(|g| Some(g.danish().benefit.into()))
                        .collect(),
                ),
            ),
            (
                "sub_group",
                text(
                    groups
                        .iter()
                        .map(|g| g.danish().sub.map(Into::into))
                        .collect(),
                ),
            ),
            (
                "recipients",
                text(
                    groups
                        .iter()
                        .map(|g| Some(g.danish().recipients.into()))
                        .collect(),
                ),
            ),
        ],
    )
}

fn register(
    ctx: &SessionContext,
    table: &str,
    columns: Vec<(&str, ArrayRef)>,
) -> Result<(), QueryError> {
    let failed = |cause| QueryError::Register {
        table: table.into(),
        cause: Box::new(cause),
    };
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|c| c.1).collect())
        .map_err(|e| failed(datafusion::error::DataFusionError::from(e)))?;
    let table_provider = MemTable::try_new(schema, vec![vec![batch]]).map_err(failed)?;
    ctx.register_table(table, Arc::new(table_provider))
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A named query runs once per engine (and its clones, side by side)
    /// and set of parameters: after the table under it changes, the engine
    /// still gives the first rows, while the query itself sees the change;
    /// a refusal is not kept.
    #[tokio::test]
    async fn a_named_query_runs_once_per_engine_and_parameters() {
        async fn create(ctx: &SessionContext, sha: &str) {
            let sql = format!(
                "CREATE TABLE outcomes AS SELECT '2019Q3' AS period, 'demo' AS source, \
                 '{sha}' AS extract_sha256, 1 AS pulled_at"
            );
            ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        }
        let engine = Engine::empty().unwrap();
        let ctx = engine.context();
        create(ctx, "first").await;
        let shown = |batches: &[RecordBatch]| {
            arrow::util::pretty::pretty_format_batches(batches)
                .unwrap()
                .to_string()
        };
        let clones = [engine.clone(), engine.clone(), engine.clone()];
        let none = Params::new();
        // Other parameters are other rows: here a refusal, which is not kept.
        let wrong = Params::new().with("period", "2019Q3");
        for _ in 0..2 {
            let refused = engine.named_once("stored_extracts", &wrong).await;
            assert!(
                matches!(refused, Err(QueryError::UnknownParam { .. })),
                "{refused:?}"
            );
        }
        let side_by_side = futures::future::try_join_all(
            clones
                .iter()
                .map(|e| e.named_once("stored_extracts", &none)),
        )
        .await
        .unwrap();
        let first = shown(&side_by_side[0]);
        assert!(first.contains("first"), "{first}");
        assert!(side_by_side.iter().all(|rows| shown(rows) == first));

        ctx.sql("DROP TABLE outcomes").await.unwrap();
        create(ctx, "second").await;
        let again = engine.named_once("stored_extracts", &none).await.unwrap();
        assert_eq!(shown(&again), first);
        let fresh = engine
            .named("stored_extracts", &Params::new())
            .await
            .unwrap();
        assert!(shown(&fresh).contains("second"));
    }

    #[test]
    fn a_statement_opens_only_the_tables_it_reads() {
        assert_eq!(
            store_tables_read("SELECT count(*) FROM outcomes"),
            Some(vec![OUTCOMES])
        );
        assert_eq!(
            store_tables_read(
                "WITH x AS (SELECT * FROM internships i JOIN areas a ON a.area_code = i.municipality_code) SELECT * FROM x"
            ),
            Some(vec![INTERNSHIPS])
        );
        assert_eq!(store_tables_read("SELECT 1"), Some(vec![]));
        assert_eq!(
            store_tables_read("EXPLAIN SELECT * FROM runs"),
            Some(vec![RUNS])
        );
        // Unsure: open everything, and let the engine name what is wrong.
        for unsure in [
            "SELECT * FROM outcome",
            "SELECT * FROM information_schema.tables",
            "SHOW TABLES",
            "SELEC 1",
            "SELECT 1; SELECT 2",
        ] {
            assert_eq!(store_tables_read(unsure), None, "{unsure}");
        }
    }
}
