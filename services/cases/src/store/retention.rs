//! Reporters' contacts over time: which closed cases' contacts ran out of
//! retention, their erasure (through the owner's `erase_case_contacts`),
//! and everything held under one phone for an export.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// SQL true for a case (`c`) closed before `$1` whose contacts are not yet
/// erased. A closed case changes no more, so its last update is when it
/// closed.
const CONTACTS_EXPIRED: &str = "
    c.state = 'closed' and c.updated_at < $1
    and not exists (select 1 from contact_erasures e where e.case_id = c.id)";

/// Up to `limit` closed cases whose contacts' retention ran out at `cutoff`.
pub async fn contacts_expired(
    connection: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select c.id from cases c where {CONTACTS_EXPIRED} order by c.id limit $2"
    )))
    .bind(cutoff)
    .bind(limit)
    .fetch_all(connection)
    .await
}

/// Locks the case if its contacts' retention still ran out at `cutoff` and
/// no other replica holds it.
pub async fn lock_contacts_expired(
    connection: &mut PgConnection,
    case: Uuid,
    cutoff: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let locked: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select c.id from cases c where c.id = $2 and {CONTACTS_EXPIRED} for update skip locked"
    )))
    .bind(cutoff)
    .bind(case)
    .fetch_optional(connection)
    .await?;
    Ok(locked.is_some())
}

/// Erases the case's contacts; false when it was not closed or erased already.
pub async fn erase_case_contacts(
    connection: &mut PgConnection,
    case: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select erase_case_contacts($1, $2)")
        .bind(case)
        .bind(at)
        .fetch_one(connection)
        .await
}

/// One report made with a contact of the phone asked for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportedRow {
    pub case_id: Uuid,
    pub me_too: bool,
    pub contact_name: String,
    pub contact_phone: String,
    pub description: String,
    pub reported_at: DateTime<Utc>,
    pub channel: String,
    pub state: String,
}

/// Every report, opening a case or "me too", whose contact's phone has
/// these digits.
pub async fn reported_with_phone(
    connection: &mut PgConnection,
    digits: &str,
) -> Result<Vec<ReportedRow>, sqlx::Error> {
    sqlx::query_as(
        "select c.id as case_id, false as me_too, k.name as contact_name, k.phone as contact_phone,
                c.description, c.reported_at, c.channel, c.state
           from case_contacts k join cases c on c.id = k.case_id
          where regexp_replace(k.phone, '[^0-9]', '', 'g') = $1
         union all
         select m.case_id, true, coalesce(m.contact_name, ''), m.contact_phone, m.description, m.reported_at,
                m.channel, c.state
           from me_too_reports m join cases c on c.id = m.case_id
          where m.contact_phone is not null
            and regexp_replace(m.contact_phone, '[^0-9]', '', 'g') = $1
         order by reported_at, case_id",
    )
    .bind(digits)
    .fetch_all(connection)
    .await
}
