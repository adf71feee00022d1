//! Subdistricts' opinions on departments' decisions, plans and projects:
//! appended, never changed.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::assessments::{AssessmentFilter, SUBDISTRICT_RECORD_REACH};
use super::{DatabaseContext as _, StoreError};
use flatgov_auth::policy::Reach;

/// An opinion to record, or as recorded.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct OpinionRow {
    pub id: uuid::Uuid,
    pub subdistrict_code: String,
    pub department: String,
    pub subject: String,
    pub title: String,
    pub reference: String,
    pub stance: String,
    pub body: String,
    pub give_time: DateTime<Utc>,
    pub recorded_by: String,
    pub create_time: DateTime<Utc>,
}

const OPINION_COLUMNS: &str = "id, subdistrict_code, department, subject, title, reference, stance,
     body, give_time, recorded_by, create_time";

/// Records an opinion.
pub async fn insert(
    connection: &mut PgConnection,
    opinion: &OpinionRow,
) -> Result<OpinionRow, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into opinions (id, subdistrict_code, department, subject, title,
             reference, stance, body, give_time, recorded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning {OPINION_COLUMNS}"
    )))
    .bind(opinion.id)
    .bind(&opinion.subdistrict_code)
    .bind(&opinion.department)
    .bind(&opinion.subject)
    .bind(&opinion.title)
    .bind(&opinion.reference)
    .bind(&opinion.stance)
    .bind(&opinion.body)
    .bind(opinion.give_time)
    .bind(&opinion.recorded_by)
    .fetch_one(connection)
    .await
    .context("recording an opinion")
}

pub async fn get(
    connection: &mut PgConnection,
    id: uuid::Uuid,
) -> Result<Option<OpinionRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {OPINION_COLUMNS} from opinions where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading an opinion")
}

pub async fn list(
    connection: &mut PgConnection,
    filter: &AssessmentFilter,
    reach: Option<&Reach>,
    after: Option<(DateTime<Utc>, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<OpinionRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {OPINION_COLUMNS} from opinions
         where {SUBDISTRICT_RECORD_REACH}
           and ($3::text is null or department = $3)
           and ($4::text is null or starts_with(subdistrict_code, $4))
           and ($5::timestamptz is null or give_time >= $5)
           and ($6::timestamptz is null or give_time < $6)
           and ($7::timestamptz is null or (give_time, id) < ($7, $8))
         order by give_time desc, id desc limit $9"
    )))
    .bind(reach.map(|reach| reach.division_prefixes.clone()))
    .bind(reach.and_then(|reach| reach.organisation.clone()))
    .bind(&filter.department)
    .bind(&filter.subdistrict_code)
    .bind(filter.period_start)
    .bind(filter.period_end)
    .bind(after.map(|(time, _)| time))
    .bind(after.map(|(_, id)| id).unwrap_or_default())
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing opinions")
}
