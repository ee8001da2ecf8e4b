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
