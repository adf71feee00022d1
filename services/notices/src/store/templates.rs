//! The feedback_templates table: a district's switch and own text per
//! milestone. No row means the built-in text, switched on.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};

use super::{DatabaseContext as _, StoreError};
use crate::domain::Milestone;

/// A district's setting for one milestone, as stored.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub district_code: String,
    pub milestone: Milestone,
    pub enabled: bool,
    /// The district's own text; empty for the built-in one.
    pub text: String,
    pub updated_by: String,
    pub update_time: DateTime<Utc>,
}

const COLUMNS: &str = "district_code, milestone, enabled, text, updated_by, update_time";

fn from_row(row: &sqlx::postgres::PgRow) -> Result<TemplateRow, StoreError> {
    let context = "reading a feedback template";
    let milestone: String = row.try_get("milestone").context(context)?;
    Ok(TemplateRow {
        district_code: row.try_get("district_code").context(context)?,
        milestone: Milestone::parse(&milestone)
            .ok_or_else(|| StoreError::Corrupt(format!("template milestone {milestone:?}")))?,
        enabled: row.try_get("enabled").context(context)?,
        text: row.try_get("text").context(context)?,
        updated_by: row.try_get("updated_by").context(context)?,
        update_time: row.try_get("update_time").context(context)?,
    })
}

/// Sets (or replaces) a district's template of a milestone.
pub async fn upsert(
    connection: &mut PgConnection,
    district_code: &str,
    milestone: Milestone,
    enabled: bool,
    text: &str,
    updated_by: &str,
) -> Result<TemplateRow, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into feedback_templates (district_code, milestone, enabled, text, updated_by, update_time)
         values ($1, $2, $3, $4, $5, now())
         on conflict (district_code, milestone) do update set enabled = excluded.enabled,
             text = excluded.text, updated_by = excluded.updated_by, update_time = now()
         returning {COLUMNS}"
    )))
    .bind(district_code)
    .bind(milestone.as_str())
    .bind(enabled)
    .bind(text)
    .bind(updated_by)
    .fetch_one(connection)
    .await
    .context("saving a feedback template")?;
    from_row(&row)
}

/// A district's templates that differ from the built-in ones.
pub async fn for_district(
    connection: &mut PgConnection,
    district_code: &str,
) -> Result<Vec<TemplateRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from feedback_templates where district_code = $1"
    )))
    .bind(district_code)
    .fetch_all(connection)
    .await
    .context("reading a district's feedback templates")?;
    rows.iter().map(from_row).collect()
}

/// A district's template of one milestone, if it set one.
pub async fn get(
    connection: &mut PgConnection,
    district_code: &str,
    milestone: Milestone,
) -> Result<Option<TemplateRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from feedback_templates where district_code = $1 and milestone = $2"
    )))
    .bind(district_code)
    .bind(milestone.as_str())
    .fetch_optional(connection)
    .await
    .context("reading a feedback template")?;
    row.as_ref().map(from_row).transpose()
}

/// The templates set in any of `district_codes`.
pub async fn for_districts(
    connection: &mut PgConnection,
    district_codes: &[String],
) -> Result<Vec<TemplateRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from feedback_templates where district_code = any($1)"
    )))
    .bind(district_codes)
    .fetch_all(connection)
    .await
    .context("reading feedback templates")?;
    rows.iter().map(from_row).collect()
}
