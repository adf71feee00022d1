//! Cases whose deadlines are due, claimed by one replica at a time.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::values::CaseId;

use super::{CASE_COLUMNS, StoredCase, case_from_row};

/// Cases with a deadline to fire before `now`, earliest first (not locked: the worker
/// locks each in its own transaction, skipping those another replica holds).
pub async fn due_cases(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<CaseId>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select id from cases where next_deadline_at < $1 order by next_deadline_at limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(connection)
    .await?;
    Ok(ids.into_iter().map(CaseId::from_uuid).collect())
}

/// Locks a case whose deadline is due, unless another replica holds it or fired it.
pub async fn lock_due_case(
    connection: &mut PgConnection,
    id: CaseId,
    now: DateTime<Utc>,
) -> Result<Option<StoredCase>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {CASE_COLUMNS} from cases where id = $1 and next_deadline_at < $2 for update skip locked"
    )))
    .bind(id.as_uuid())
    .bind(now)
    .fetch_optional(connection)
    .await?;
    row.as_ref().map(case_from_row).transpose()
}

/// Moves a case's next check later without a transition (a deadline the worker could not
/// act on), so a broken case does not hold the worker.
pub async fn postpone_deadline(
    connection: &mut PgConnection,
    id: CaseId,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("update cases set next_deadline_at = $2 where id = $1")
        .bind(id.as_uuid())
        .bind(until)
        .execute(connection)
        .await?;
    Ok(())
}
