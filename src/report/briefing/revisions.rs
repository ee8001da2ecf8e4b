//! Quarters whose figures changed since the previous briefing, from the
//! table's history: the previous briefing was rendered from the version just
//! before the commit that first brought this briefing's quarter.

use crate::engine::QueryError;
use crate::period::Period;
use crate::schema::OUTCOMES;
use crate::store::Store;

/// The `outcomes` version the previous briefing saw; `None` when the quarter
/// came with the table's first commit (there was no previous briefing).
pub async fn previous_version(store: &Store, period: Period) -> Result<Option<u64>, QueryError> {
    let wanted = period.to_string();
    let history = store.history(OUTCOMES, None).await?;
    let first = history
        .iter()
        .filter(|c| {
            c.periods
                .as_deref()
                .is_some_and(|p| p.split(',').any(|q| q.trim() == wanted))
        })
        .map(|c| c.version)
        .min();
    Ok(first.and_then(|v| v.checked_sub(1)))
}
