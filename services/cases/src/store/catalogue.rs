//! The local copy of the duty lists' matter catalogue.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Whether the local catalogue lists `code`; `None` before any catalogue arrived.
pub async fn matter_in_catalogue(
    connection: &mut PgConnection,
    code: &str,
) -> Result<Option<bool>, sqlx::Error> {
    let row: Option<(bool, bool)> = sqlx::query_as(
        "select true, exists (select 1 from matter_catalogue where code = $1) from matter_catalogue_state",
    )
    .bind(code)
    .fetch_optional(connection)
    .await?;
    Ok(row.map(|(_, known)| known))
}

/// A matter of the catalogue.
#[derive(Debug, Clone)]
pub struct CatalogueMatter {
    pub code: String,
    pub name: String,
    pub list_item_code: String,
    pub default_tier: Option<String>,
    pub lead_department: Option<String>,
    pub cooperating_departments: Vec<String>,
}

/// Replaces the catalogue unless the stored one took effect later; true when replaced.
pub async fn replace_catalogue(
    connection: &mut PgConnection,
    matters: &[CatalogueMatter],
    effective_from: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let stored: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("select effective_from from matter_catalogue_state for update")
            .fetch_optional(&mut *connection)
            .await?;
    if let (Some(Some(stored)), Some(incoming)) = (stored, effective_from)
        && stored > incoming
    {
        return Ok(false);
    }
    sqlx::query("delete from matter_catalogue")
        .execute(&mut *connection)
        .await?;
    for matter in matters {
        sqlx::query(
            "insert into matter_catalogue (code, name, list_item_code, default_tier, lead_department, cooperating_departments)
             values ($1, $2, $3, $4, $5, $6) on conflict (code) do nothing",
        )
        .bind(&matter.code)
        .bind(&matter.name)
        .bind(&matter.list_item_code)
        .bind(&matter.default_tier)
        .bind(&matter.lead_department)
        .bind(&matter.cooperating_departments)
        .execute(&mut *connection)
        .await?;
    }
    sqlx::query(
        "insert into matter_catalogue_state (singleton, effective_from, received_at, matters) values (true, $1, $2, $3)
         on conflict (singleton) do update set effective_from = $1, received_at = $2, matters = $3",
    )
    .bind(effective_from)
    .bind(received_at)
    .bind(i32::try_from(matters.len()).unwrap_or(i32::MAX))
    .execute(connection)
    .await?;
    Ok(true)
}

/// The catalogue's lead and cooperating departments of a matter, for a whistle when the
/// case has no responsibility from the duty lists.
pub async fn catalogue_departments(
    connection: &mut PgConnection,
    code: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let row: Option<(Option<String>, Vec<String>)> = sqlx::query_as(
        "select lead_department, cooperating_departments from matter_catalogue where code = $1",
    )
    .bind(code)
    .fetch_optional(connection)
    .await?;
    Ok(row
        .map(|(lead, cooperating)| lead.into_iter().chain(cooperating).collect())
        .unwrap_or_default())
}
