//! The matter catalogue (its current state).

use chrono::{DateTime, Utc};
use flatgov_vocabulary::MatterCode;
use sqlx::PgConnection;

use super::{DatabaseContext as _, StoreError};
use crate::domain::Matter;

/// A `matters` row.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct MatterRow {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub item_code: String,
    pub tier: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub async fn get(
    connection: &mut PgConnection,
    code: &MatterCode,
) -> Result<Option<MatterRow>, StoreError> {
    sqlx::query_as(
        "select code, name, name_en, item_code, tier, create_time, update_time
         from matters where code = $1",
    )
    .bind(code.as_str())
    .fetch_optional(connection)
    .await
    .context("reading a matter")
}

/// Matters in code order after `after`, optionally of one item.
pub async fn list(
    connection: &mut PgConnection,
    item_code: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MatterRow>, StoreError> {
    sqlx::query_as(
        "select code, name, name_en, item_code, tier, create_time, update_time from matters
         where ($1::text is null or item_code = $1) and ($2::text is null or code > $2)
         order by code limit $3",
    )
    .bind(item_code)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing matters")
}

/// Creates or replaces a matter.
pub async fn upsert(connection: &mut PgConnection, matter: &Matter) -> Result<(), StoreError> {
    sqlx::query(
        "insert into matters (code, name, name_en, item_code, tier) values ($1, $2, $3, $4, $5)
         on conflict (code) do update set name = excluded.name, name_en = excluded.name_en,
             item_code = excluded.item_code, tier = excluded.tier, update_time = now()",
    )
    .bind(matter.code().as_str())
    .bind(matter.name())
    .bind(matter.name_en())
    .bind(matter.item().to_string())
    .bind(matter.tier().map(|tier| tier.as_str()))
    .execute(connection)
    .await
    .context("writing a matter")?;
    Ok(())
}

pub async fn delete(connection: &mut PgConnection, code: &MatterCode) -> Result<bool, StoreError> {
    let deleted = sqlx::query("delete from matters where code = $1")
        .bind(code.as_str())
        .execute(connection)
        .await
        .context("deleting a matter")?
        .rows_affected();
    Ok(deleted > 0)
}
