//! What the engine's unit tests ask of a session.

use arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

/// The rows of `sql`, as a table.
pub async fn run(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.expect(sql).collect().await.expect(sql);
    pretty_format_batches(&batches).expect("format").to_string()
}

/// The physical plan of `sql`, indented.
pub async fn physical_plan(ctx: &SessionContext, sql: &str) -> String {
    let plan = ctx
        .sql(sql)
        .await
        .expect(sql)
        .create_physical_plan()
        .await
        .expect(sql);
    datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string()
}

/// Writes `batch` to a Parquet file at `path` in row groups of at most
/// `group_rows` rows (so a scan gives several batches per file, as a large
/// file does).
pub fn write_parquet(path: &std::path::Path, batch: &arrow::array::RecordBatch, group_rows: usize) {
    let file = std::fs::File::create(path).expect("file");
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
}

/// Two sessions with the settings `config` gives: DataFusion's plain, and
/// with `rule` added to its physical optimizer.
pub fn plain_and_with(
    config: impl Fn() -> datafusion::prelude::SessionConfig,
    rule: std::sync::Arc<dyn datafusion::physical_optimizer::PhysicalOptimizerRule + Send + Sync>,
) -> (SessionContext, SessionContext) {
    let plain = SessionContext::new_with_config(config());
    let state = datafusion::execution::session_state::SessionStateBuilder::new()
        .with_config(config())
        .with_default_features()
        .with_physical_optimizer_rule(rule)
        .build();
    (plain, SessionContext::new_with_state(state))
}
