//! People's data over time: consent withdrawals, erasure (through the
//! owner's `erase_person` function, since the history tables are
//! append-only for the application), the records retention has run out
//! for, and everything held about one person for an export.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::people::{ASSESSMENT_COLUMNS, AssessmentRow, PERSON_COLUMNS, PersonRow};
use super::plans::{PLAN_SELECT, PlanRow, VISIT_COLUMNS, VisitRow};
use super::{Context as _, Result};

/// Whether the person's record may still change: `None` when there is no
/// such person; `Some(true)` once consent was withdrawn or the record
/// erased. Locks the person for the rest of the transaction.
pub async fn lock_stopped(connection: &mut PgConnection, person: Uuid) -> Result<Option<bool>> {
    sqlx::query_scalar(
        "select consent_withdrawn_at is not null or erased_at is not null
           from people where id = $1 for update",
    )
    .bind(person)
    .fetch_optional(connection)
    .await
    .context("locking a person")
}

pub struct Withdrawal<'a> {
    pub person: Uuid,
    pub organisation: &'a str,
    pub recorded_by: &'a str,
    pub method: &'a str,
    pub withdrawn_at: DateTime<Utc>,
    pub document_reference: &'a str,
    pub recorded_at: DateTime<Utc>,
}

/// Records the withdrawal and marks the person.
pub async fn record_withdrawal(
    connection: &mut PgConnection,
    withdrawal: &Withdrawal<'_>,
) -> Result<()> {
    sqlx::query(
        "insert into consent_withdrawals
             (person, organisation, recorded_by, method, withdrawn_at, document_reference, recorded_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(withdrawal.person)
    .bind(withdrawal.organisation)
    .bind(withdrawal.recorded_by)
    .bind(withdrawal.method)
    .bind(withdrawal.withdrawn_at)
    .bind(withdrawal.document_reference)
    .bind(withdrawal.recorded_at)
    .execute(&mut *connection)
    .await
    .context("recording a consent withdrawal")?;
    sqlx::query("update people set consent_withdrawn_at = $2 where id = $1")
        .bind(withdrawal.person)
        .bind(withdrawal.withdrawn_at)
        .execute(connection)
        .await
        .context("marking a consent withdrawal")?;
    Ok(())
}

/// The person's active support plans.
pub async fn active_plans(connection: &mut PgConnection, person: Uuid) -> Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select id from support_plans where person = $1 and state = 'active' order by id",
    )
    .bind(person)
    .fetch_all(connection)
    .await
    .context("reading a person's active support plans")
}

/// Why a record is anonymised, as `erase_person` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasureReason {
    ConsentWithdrawn,
    RetentionExpired,
}

impl ErasureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureReason::ConsentWithdrawn => "consent_withdrawn",
            ErasureReason::RetentionExpired => "retention_expired",
        }
    }
}

/// Anonymises the person's record (see migration `0004_personal_data`);
/// false when it was erased already.
pub async fn erase_person(
    connection: &mut PgConnection,
    person: Uuid,
    reason: ErasureReason,
    at: DateTime<Utc>,
) -> Result<bool> {
    sqlx::query_scalar("select erase_person($1, $2, $3)")
        .bind(person)
        .bind(reason.as_str())
        .bind(at)
        .fetch_one(connection)
        .await
        .context("erasing a person's record")
}

/// SQL true for a person (`p`) whose support ended (no active plan) and
/// whose record last changed — registered, supported, corrected — before
/// `$1`.
const RETENTION_EXPIRED: &str = "
    p.erased_at is null
    and not exists (select 1 from support_plans s where s.person = p.id and s.state = 'active')
    and greatest(
            p.updated_at,
            (select max(r.registered_at) from person_registrations r where r.person = p.id),
            (select max(s.closed_at) from support_plans s where s.person = p.id)
        ) < $1";

/// Up to `limit` people whose retention ran out at `cutoff`.
pub async fn retention_expired(
    connection: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select p.id from people p where {RETENTION_EXPIRED} order by p.id limit $2"
    )))
    .bind(cutoff)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("finding records whose retention ran out")
}

/// Locks the person if their retention still ran out at `cutoff` and no
/// other replica holds them.
pub async fn lock_retention_expired(
    connection: &mut PgConnection,
    person: Uuid,
    cutoff: DateTime<Utc>,
) -> Result<bool> {
    let locked: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select p.id from people p where p.id = $2 and {RETENTION_EXPIRED}
         for update skip locked"
    )))
    .bind(cutoff)
    .bind(person)
    .fetch_optional(connection)
    .await
    .context("locking a record whose retention ran out")?;
    Ok(locked.is_some())
}

/// The people with this identity key or this phone number (compared by
/// its digits, however it was typed).
pub async fn people_found(
    connection: &mut PgConnection,
    identity_key: Option<&[u8]>,
    phone: Option<&str>,
) -> Result<Vec<PersonRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PERSON_COLUMNS} from people p
         where p.identity_key = $1
            or (p.phone <> '' and regexp_replace(p.phone, '[^0-9]', '', 'g') = $2)
         order by p.id"
    )))
    .bind(identity_key)
    .bind(phone)
    .fetch_all(connection)
    .await
    .context("finding a person's records")
}

pub async fn assessments_of(
    connection: &mut PgConnection,
    people: &[Uuid],
) -> Result<Vec<AssessmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ASSESSMENT_COLUMNS} from assessments where person = any($1) order by person, id"
    )))
    .bind(people)
    .fetch_all(connection)
    .await
    .context("reading a person's assessments")
}

pub async fn plans_of(connection: &mut PgConnection, people: &[Uuid]) -> Result<Vec<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PLAN_SELECT} where s.person = any($1) order by s.person, s.id"
    )))
    .bind(people)
    .fetch_all(connection)
    .await
    .context("reading a person's support plans")
}

pub async fn visits_of(connection: &mut PgConnection, plans: &[Uuid]) -> Result<Vec<VisitRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {VISIT_COLUMNS} from visits where plan = any($1) order by plan, id"
    )))
    .bind(plans)
    .fetch_all(connection)
    .await
    .context("reading a person's visits")
}
