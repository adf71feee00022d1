//! The return_visits table: per case, its latest verification and where the
//! follow-up stands.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use super::{DatabaseContext as _, StoreError};

/// A case's latest verification, as its event said.
#[derive(Debug, Clone)]
pub struct Verified {
    pub case_id: Uuid,
    pub sequence: i32,
    pub block_code: String,
    pub subdistrict_code: String,
    pub verified_time: DateTime<Utc>,
    pub visit_due_time: DateTime<Utc>,
}

/// A follow-up claimed by the worker.
#[derive(Debug, Clone)]
pub struct ClaimedVisit {
    pub case_id: Uuid,
    pub verified_sequence: i32,
    pub block_code: String,
    pub subdistrict_code: String,
    pub verified_time: DateTime<Utc>,
    pub visited_time: Option<DateTime<Utc>>,
}

fn claimed(row: &sqlx::postgres::PgRow) -> Result<ClaimedVisit, StoreError> {
    let context = "reading a return visit";
    Ok(ClaimedVisit {
        case_id: row.try_get("case_id").context(context)?,
        verified_sequence: row.try_get("verified_sequence").context(context)?,
        block_code: row.try_get("block_code").context(context)?,
        subdistrict_code: row.try_get("subdistrict_code").context(context)?,
        verified_time: row.try_get("verified_time").context(context)?,
        visited_time: row.try_get("visited_time").context(context)?,
    })
}

/// Starts (or restarts, for a later verification) the wait for a rating.
/// An older or repeated verification, or one the case has already moved
/// past (its rating arrived first), changes nothing.
pub async fn record_verified(
    connection: &mut PgConnection,
    verified: &Verified,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into return_visits (case_id, verified_sequence, block_code, subdistrict_code,
             verified_time, visit_due_time)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (case_id) do update set verified_sequence = excluded.verified_sequence,
             block_code = excluded.block_code, subdistrict_code = excluded.subdistrict_code,
             verified_time = excluded.verified_time, visit_due_time = excluded.visit_due_time,
             state = 'waiting', visited_time = null, expire_time = null, update_time = now()
         where return_visits.verified_sequence < excluded.verified_sequence
             and return_visits.settled_sequence < excluded.verified_sequence",
    )
    .bind(verified.case_id)
    .bind(verified.sequence)
    .bind(&verified.block_code)
    .bind(&verified.subdistrict_code)
    .bind(verified.verified_time)
    .bind(verified.visit_due_time)
    .execute(connection)
    .await
    .context("recording a verification")?;
    Ok(())
}

/// The case moved on (rated, reopened, closed) at record `sequence`: a
/// follow-up of an earlier verification ends, and a verification event
/// arriving late starts none.
pub async fn settle(
    connection: &mut PgConnection,
    case_id: Uuid,
    sequence: i32,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into return_visits (case_id, verified_sequence, verified_time, visit_due_time,
             state, settled_sequence)
         values ($1, 0, now(), now(), 'settled', $2)
         on conflict (case_id) do update set
             settled_sequence = greatest(return_visits.settled_sequence, excluded.settled_sequence),
             state = case
                 when return_visits.state in ('waiting', 'visited')
                     and return_visits.verified_sequence < excluded.settled_sequence
                 then 'settled' else return_visits.state end,
             update_time = now()",
    )
    .bind(case_id)
    .bind(sequence)
    .execute(connection)
    .await
    .context("settling a return visit")?;
    Ok(())
}

const CLAIMED_COLUMNS: &str =
    "case_id, verified_sequence, block_code, subdistrict_code, verified_time, visited_time";

/// Claims follow-ups whose visit is due, locked for the caller's transaction.
pub async fn claim_due_visits(
    connection: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ClaimedVisit>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {CLAIMED_COLUMNS} from return_visits
         where state = 'waiting' and visit_due_time <= now()
         order by visit_due_time limit $1 for update skip locked"
    )))
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("claiming return visits due")?;
    rows.iter().map(claimed).collect()
}

/// Claims visited follow-ups whose wait for a rating has run out.
pub async fn claim_expired(
    connection: &mut PgConnection,
    limit: i64,
) -> Result<Vec<ClaimedVisit>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {CLAIMED_COLUMNS} from return_visits
         where state = 'visited' and expire_time <= now()
         order by expire_time limit $1 for update skip locked"
    )))
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("claiming expired return visits")?;
    rows.iter().map(claimed).collect()
}

/// Records that the visit was made at `visited_time` and when it expires.
pub async fn mark_visited(
    connection: &mut PgConnection,
    case_id: Uuid,
    visited_time: DateTime<Utc>,
    expire_time: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "update return_visits set state = 'visited', visited_time = $2, expire_time = $3,
             update_time = now()
         where case_id = $1",
    )
    .bind(case_id)
    .bind(visited_time)
    .bind(expire_time)
    .execute(connection)
    .await
    .context("recording a return visit")?;
    Ok(())
}

/// Records that the follow-up expired.
pub async fn mark_expired(connection: &mut PgConnection, case_id: Uuid) -> Result<(), StoreError> {
    sqlx::query(
        "update return_visits set state = 'expired', update_time = now() where case_id = $1",
    )
    .bind(case_id)
    .execute(connection)
    .await
    .context("recording an expired return visit")?;
    Ok(())
}

/// When the next visit or expiry falls due, if any.
pub async fn next_due(connection: &mut PgConnection) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar(
        "select min(at) from (
             select min(visit_due_time) as at from return_visits where state = 'waiting'
             union all
             select min(expire_time) from return_visits where state = 'visited'
         ) due",
    )
    .fetch_one(connection)
    .await
    .context("reading when return visits fall due")
}
