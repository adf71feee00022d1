//! The recorded facts the indicators are computed from.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Context as _, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummonsFactRow {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub subdistrict_code: String,
    pub block_code: Option<String>,
    pub blown_at: DateTime<Utc>,
    pub summoned_at: DateTime<Utc>,
    pub report_in_due: DateTime<Utc>,
    pub reported_at: Option<DateTime<Utc>>,
    pub state: String,
    pub first_concluded_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub rating: Option<i16>,
    pub summoned_unit_id: Option<Uuid>,
    pub duty_gap: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActionCountRow {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WhistleFactRow {
    pub subdistrict_code: String,
    pub source: String,
    pub urgent: bool,
    pub blown_at: DateTime<Utc>,
    pub state: String,
    pub first_concluded_at: Option<DateTime<Utc>>,
}

/// Summonses issued in `[start, end)`, optionally of one agency and one
/// subdistrict.
pub async fn summons_facts(
    connection: &mut PgConnection,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    agency: Option<&str>,
    subdistrict: Option<&str>,
) -> Result<(Vec<SummonsFactRow>, Vec<ActionCountRow>), StoreError> {
    const CONTEXT: &str = "reading the summonses of the period";
    let summonses: Vec<SummonsFactRow> = sqlx::query_as(
        "select s.operation_id, s.agency_code, o.subdistrict_code, o.block_code, o.blown_at, s.summoned_at, s.report_in_due,
                s.reported_at, o.state, o.first_concluded_at, o.cancelled_at, r.score as rating,
                s.summoned_unit_id, s.duty_gap
         from summonses s
         join operations o on o.id = s.operation_id
         left join ratings r on r.operation_id = s.operation_id and r.agency_code = s.agency_code
         where s.summoned_at >= $1 and s.summoned_at < $2
           and ($3::text is null or s.agency_code = $3)
           and ($4::text is null or o.subdistrict_code = $4)",
    )
    .bind(start)
    .bind(end)
    .bind(agency)
    .bind(subdistrict)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    let operations: Vec<Uuid> = summonses.iter().map(|row| row.operation_id).collect();
    let actions: Vec<ActionCountRow> = sqlx::query_as(
        "select operation_id, agency_code, kind, count(*) as count
         from actions where operation_id = any($1)
         group by operation_id, agency_code, kind",
    )
    .bind(&operations)
    .fetch_all(connection)
    .await
    .context(CONTEXT)?;
    Ok((summonses, actions))
}

/// Whistles blown in `[start, end)`.
pub async fn whistle_facts(
    connection: &mut PgConnection,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<WhistleFactRow>, StoreError> {
    sqlx::query_as(
        "select subdistrict_code, source, urgent, blown_at, state, first_concluded_at
         from operations where blown_at >= $1 and blown_at < $2",
    )
    .bind(start)
    .bind(end)
    .fetch_all(connection)
    .await
    .context("reading the whistles of the period")
}
