//! Referrals from the cases service.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, Result};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferralRow {
    pub id: Uuid,
    pub case_name: String,
    pub case_kind: String,
    pub matter_code: String,
    pub block_code: String,
    pub subdistrict_code: String,
    pub referred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub state: String,
    pub organisation: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decline_reason: String,
    pub note: String,
    pub support_plan: Option<Uuid>,
}

const REFERRAL_SELECT: &str = "
    select f.id, f.case_name, f.case_kind, f.matter_code, f.block_code, f.subdistrict_code, f.referred_at,
           f.received_at, f.state, f.organisation, f.decided_by, f.decided_at, f.decline_reason, f.note,
           (select s.id from support_plans s where s.referral = f.id) as support_plan
    from referrals f";

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<ReferralRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REFERRAL_SELECT} where f.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a referral")
}

/// Locks the referral for the rest of the transaction; false when absent.
pub async fn lock(connection: &mut PgConnection, id: Uuid) -> Result<bool> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("select id from referrals where id = $1 for update")
            .bind(id)
            .fetch_optional(connection)
            .await
            .context("locking a referral")?;
    Ok(locked.is_some())
}

pub async fn accept(
    connection: &mut PgConnection,
    id: Uuid,
    organisation: &str,
    decided_by: &str,
    at: DateTime<Utc>,
    note: &str,
) -> Result<()> {
    sqlx::query(
        "update referrals set state = 'accepted', organisation = $2, decided_by = $3, decided_at = $4, note = $5
         where id = $1 and state = 'pending'",
    )
    .bind(id)
    .bind(organisation)
    .bind(decided_by)
    .bind(at)
    .bind(note)
    .execute(connection)
    .await.context("accepting a referral")?;
    Ok(())
}

pub async fn decline(
    connection: &mut PgConnection,
    id: Uuid,
    organisation: &str,
    decided_by: &str,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<()> {
    sqlx::query(
        "update referrals set state = 'declined', organisation = $2, decided_by = $3, decided_at = $4,
                              decline_reason = $5
         where id = $1 and state = 'pending'",
    )
    .bind(id)
    .bind(organisation)
    .bind(decided_by)
    .bind(at)
    .bind(reason)
    .execute(connection)
    .await.context("declining a referral")?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct ReferralFilter {
    pub state: Option<String>,
    pub organisation: Option<String>,
    pub subdistrict_code: Option<String>,
    pub case_name: Option<String>,
    /// Only referrals whose block or subdistrict lies under one of these
    /// division codes (a caller limited by jurisdiction); `None` for all.
    pub division_prefixes: Option<Vec<String>>,
    pub after: Option<Uuid>,
}

/// Newest first.
pub async fn list(
    connection: &mut PgConnection,
    filter: &ReferralFilter,
    limit: i64,
) -> Result<Vec<ReferralRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REFERRAL_SELECT}
         where ($1::text is null or f.state = $1)
           and ($2::text is null or f.organisation = $2)
           and ($3::text is null or f.subdistrict_code = $3)
           and ($4::text is null or f.case_name = $4)
           and ($5::uuid is null or f.id < $5)
           and ($7::text[] is null
                or exists (select 1 from unnest($7::text[]) as prefix
                            where (f.block_code <> '' and f.block_code like prefix || '%')
                               or (f.subdistrict_code <> '' and f.subdistrict_code like prefix || '%')))
         order by f.id desc limit $6"
    )))
    .bind(&filter.state)
    .bind(&filter.organisation)
    .bind(&filter.subdistrict_code)
    .bind(&filter.case_name)
    .bind(filter.after)
    .bind(limit)
    .bind(&filter.division_prefixes)
    .fetch_all(connection)
    .await
    .context("listing referrals")
}
