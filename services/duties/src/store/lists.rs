//! List versions and their items: drafts, publication, numbering.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::{DatabaseContext as _, StoreError};
use crate::domain::{ListContent, ListKind, VersionNumber};

fn number_to_sql(number: VersionNumber) -> i32 {
    i32::try_from(number.get()).unwrap_or(i32::MAX)
}

/// Hands out the next version number of a list (drafts included).
pub async fn allocate_version_number(
    connection: &mut PgConnection,
    kind: ListKind,
) -> Result<VersionNumber, StoreError> {
    let number: i32 = sqlx::query_scalar(
        "update lists set next_number = next_number + 1 where kind = $1 returning next_number - 1",
    )
    .bind(kind.as_str())
    .fetch_one(connection)
    .await
    .context("numbering a list version")?;
    u32::try_from(number)
        .ok()
        .and_then(VersionNumber::new)
        .ok_or_else(|| StoreError::Corrupt(format!("next version number {number} of {kind}")))
}

pub async fn insert_draft(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
) -> Result<(), StoreError> {
    sqlx::query("insert into list_versions (list_kind, number, state) values ($1, $2, 'draft')")
        .bind(kind.as_str())
        .bind(number_to_sql(number))
        .execute(connection)
        .await
        .context("opening a draft")?;
    Ok(())
}

/// Replaces the items of a version with `content`.
pub async fn replace_items(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
    content: &ListContent,
) -> Result<(), StoreError> {
    sqlx::query("delete from list_items where list_kind = $1 and version_number = $2")
        .bind(kind.as_str())
        .bind(number_to_sql(number))
        .execute(&mut *connection)
        .await
        .context("writing list items")?;
    if content.is_empty() {
        return Ok(());
    }
    let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(
        "insert into list_items (list_kind, version_number, code, category, category_en, name,
         name_en, description, legal_basis, handling_level, lead_department,
         cooperating_departments, default_tier, response_limit, resolution_limit) ",
    );
    insert.push_values(content.items(), |mut row, item| {
        let fields = item.fields();
        let cooperating: Vec<String> = fields
            .cooperating_departments
            .iter()
            .map(ToString::to_string)
            .collect();
        row.push_bind(kind.as_str())
            .push_bind(number_to_sql(number))
            .push_bind(fields.code.to_string())
            .push_bind(fields.category.clone())
            .push_bind(fields.category_en.clone())
            .push_bind(fields.name.clone())
            .push_bind(fields.name_en.clone())
            .push_bind(fields.description.clone())
            .push_bind(fields.legal_basis.clone())
            .push_bind(fields.handling_level.as_str())
            .push_bind(fields.lead_department.as_ref().map(ToString::to_string))
            .push_bind(cooperating)
            .push_bind(fields.default_tier.as_str())
            .push_bind(fields.response_limit.to_string())
            .push_bind(fields.resolution_limit.to_string());
    });
    insert
        .build()
        .execute(&mut *connection)
        .await
        .context("writing list items")?;
    touch_version(connection, kind, number).await
}

pub async fn touch_version(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
) -> Result<(), StoreError> {
    sqlx::query(
        "update list_versions set update_time = now() where list_kind = $1 and number = $2",
    )
    .bind(kind.as_str())
    .bind(number_to_sql(number))
    .execute(connection)
    .await
    .context("writing a list version")?;
    Ok(())
}

pub async fn delete_draft(connection: &mut PgConnection, kind: ListKind) -> Result<(), StoreError> {
    sqlx::query("delete from list_versions where list_kind = $1 and state = 'draft'")
        .bind(kind.as_str())
        .execute(connection)
        .await
        .context("discarding a draft")?;
    Ok(())
}

/// Turns the draft `number` into a published version.
pub async fn publish_version(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
    effective_from: DateTime<Utc>,
    publish_time: DateTime<Utc>,
    published_by: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "update list_versions set state = 'published', effective_from = $3, publish_time = $4,
             published_by = $5, update_time = now()
         where list_kind = $1 and number = $2 and state = 'draft'",
    )
    .bind(kind.as_str())
    .bind(number_to_sql(number))
    .bind(effective_from)
    .bind(publish_time)
    .bind(published_by)
    .execute(connection)
    .await
    .context("publishing a list version")?;
    Ok(())
}
