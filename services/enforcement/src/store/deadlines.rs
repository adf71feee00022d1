//! What the deadline worker claims: report-in deadlines, rectification
//! orders past their deadline, and whistles whose agencies are due to be
//! resolved again. Claims skip rows another replica holds, so several
//! replicas fire each deadline once.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::operations::{OPERATION_COLUMNS, OperationRow, aggregate};
use super::{Context as _, StoreError};
use crate::domain::Operation;

/// A summons whose report-in deadline passed without a report, claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LateSummons {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub report_in_due: DateTime<Utc>,
    pub case_name: Option<String>,
    pub subdistrict_code: String,
    pub block_code: Option<String>,
    pub urgent: bool,
}

/// Claims (locks, skipping rows another replica holds) summonses of open
/// operations past their deadline and not yet marked late, and marks them.
pub async fn mark_late_summonses(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<LateSummons>, StoreError> {
    const CONTEXT: &str = "marking late summonses";
    let due: Vec<LateSummons> = sqlx::query_as(
        "select s.operation_id, s.agency_code, s.report_in_due, o.case_name, o.subdistrict_code, o.block_code, o.urgent
         from summonses s join operations o on o.id = s.operation_id
         where s.reported_at is null and s.marked_late_at is null and s.report_in_due <= $1 and o.state = 'open'
         order by s.report_in_due
         limit $2
         for update of s skip locked",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    for summons in &due {
        sqlx::query(
            "update summonses set marked_late_at = $3 where operation_id = $1 and agency_code = $2",
        )
        .bind(summons.operation_id)
        .bind(&summons.agency_code)
        .bind(now)
        .execute(&mut *connection)
        .await
        .context(CONTEXT)?;
    }
    Ok(due)
}

/// Operations (not cancelled) with a rectification order past its
/// deadline, unchecked and not yet marked, earliest deadline first. Not
/// locked: the worker locks each operation before its orders, in the
/// order every other change takes.
pub async fn operations_with_overdue_orders(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    sqlx::query_scalar(
        "select c.operation_id
         from rectification_clocks c join operations o on o.id = c.operation_id
         where c.overdue_at is null and c.checked_at is null and c.due <= $1 and o.state <> 'cancelled'
         group by c.operation_id
         order by min(c.due)
         limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("looking for overdue rectification orders")
}

/// The operation, locked, unless another replica holds it.
pub async fn try_lock_operation(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Operation>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where o.id = ");
    query.push_bind(id);
    query.push(" for update skip locked");
    let row: Option<OperationRow> = query
        .build_query_as()
        .fetch_optional(&mut *connection)
        .await
        .context("locking the operation")?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some(aggregate(connection, &row).await?)),
    }
}

/// Claims one operation whose agencies are due to be resolved again.
pub async fn claim_resolving_operation(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Option<OperationRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where o.state = 'resolving_agencies' and o.resolve_next_at <= ");
    query.push_bind(now);
    query.push(" order by o.resolve_next_at limit 1 for update skip locked");
    query
        .build_query_as()
        .fetch_optional(connection)
        .await
        .context("claiming a whistle to resolve")
}

/// Records a failed attempt to resolve the agencies and when to try again.
pub async fn postpone_resolution(
    connection: &mut PgConnection,
    operation: Uuid,
    next_at: DateTime<Utc>,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "update operations set resolve_attempts = resolve_attempts + 1, resolve_next_at = $2, resolve_last_error = $3
         where id = $1",
    )
    .bind(operation)
    .bind(next_at)
    .bind(error)
    .execute(connection)
    .await
    .context("postponing the resolution")?;
    Ok(())
}

/// The earliest pending deadline of any kind, to plan the worker's sleep.
pub async fn next_deadline(
    connection: &mut PgConnection,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar(
        "select min(due) from (
             select min(s.report_in_due) as due from summonses s join operations o on o.id = s.operation_id
              where s.reported_at is null and s.marked_late_at is null and o.state = 'open'
             union all
             select min(c.due) from rectification_clocks c join operations o on o.id = c.operation_id
              where c.overdue_at is null and c.checked_at is null and o.state <> 'cancelled'
             union all
             select min(resolve_next_at) from operations where state = 'resolving_agencies'
         ) deadlines",
    )
    .fetch_one(connection)
    .await
    .context("planning the next deadline")
}
