//! Legal advisers and their consultations on disputes.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{DatabaseContext as _, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsultationRow {
    pub stage_number: i32,
    pub adviser_id: Uuid,
    pub consultation_time: DateTime<Utc>,
    pub notes: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdviserRow {
    pub id: Uuid,
    pub display_name: String,
    pub phone: String,
    pub community_code: Option<String>,
    pub unit: Option<String>,
    pub create_time: DateTime<Utc>,
}

pub async fn insert_consultation(
    connection: &mut PgConnection,
    dispute_id: Uuid,
    consultation: &ConsultationRow,
    recorded_by: &str,
    record_time: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into consultations (dispute_id, stage_number, adviser_id, consultation_time,
             notes, recorded_by, record_time)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(dispute_id)
    .bind(consultation.stage_number)
    .bind(consultation.adviser_id)
    .bind(consultation.consultation_time)
    .bind(&consultation.notes)
    .bind(recorded_by)
    .bind(record_time)
    .execute(connection)
    .await
    .context("recording a consultation")?;
    Ok(())
}

pub async fn insert_adviser(
    connection: &mut PgConnection,
    adviser: &AdviserRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into advisers (id, display_name, phone, community_code, unit, create_time)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(adviser.id)
    .bind(&adviser.display_name)
    .bind(&adviser.phone)
    .bind(&adviser.community_code)
    .bind(&adviser.unit)
    .bind(adviser.create_time)
    .execute(connection)
    .await
    .context("registering an adviser")?;
    Ok(())
}

pub async fn get_adviser(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<AdviserRow>, StoreError> {
    sqlx::query_as(
        "select id, display_name, phone, community_code, unit, create_time
           from advisers where id = $1",
    )
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading an adviser")
}

/// Advisers after `after` (by id, which is time-ordered): units' advisers
/// and those of communities starting with `prefix` and, for a limited
/// caller, with one of `reach`'s prefixes.
pub async fn list_advisers(
    connection: &mut PgConnection,
    prefix: Option<&str>,
    reach: Option<&[String]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AdviserRow>, StoreError> {
    sqlx::query_as(
        "select id, display_name, phone, community_code, unit, create_time from advisers a
          where (a.community_code is null
                 or (($1::text is null or a.community_code like $1 || '%')
                     and ($2::text[] is null
                          or exists (select 1 from unnest($2::text[]) p
                                      where a.community_code like p || '%'))))
            and ($1::text is null or a.community_code is not null)
            and ($3::uuid is null or a.id > $3)
          order by a.id limit $4",
    )
    .bind(prefix)
    .bind(reach)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing advisers")
}
