//! Catalogue announcements due when a published version takes effect
//! later: rows a worker claims with `FOR UPDATE SKIP LOCKED`, so each
//! fires once across replicas and survives restarts.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{DatabaseContext as _, StoreError};

/// Schedules a MatterCataloguePublished for when a version takes effect.
pub async fn schedule(
    connection: &mut PgConnection,
    due_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("insert into catalogue_announcements (due_at) values ($1)")
        .bind(due_at)
        .execute(connection)
        .await
        .context("scheduling a catalogue announcement")?;
    Ok(())
}

/// Claims the announcements due now (locked until the transaction ends;
/// other replicas skip them), with their ids and due instants.
pub async fn claim_due(
    connection: &mut PgConnection,
) -> Result<Vec<(i64, DateTime<Utc>)>, StoreError> {
    sqlx::query_as(
        "select id, due_at from catalogue_announcements
         where announced_at is null and due_at <= now()
         order by due_at for update skip locked",
    )
    .fetch_all(connection)
    .await
    .context("claiming due announcements")
}

/// Marks claimed announcements made.
pub async fn mark_made(connection: &mut PgConnection, ids: &[i64]) -> Result<(), StoreError> {
    sqlx::query("update catalogue_announcements set announced_at = now() where id = any($1)")
        .bind(ids)
        .execute(connection)
        .await
        .context("marking announcements made")?;
    Ok(())
}

/// When the next announcement is due, if one is scheduled.
pub async fn next_due(connection: &mut PgConnection) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar(
        "select min(due_at) from catalogue_announcements where announced_at is null and due_at > now()",
    )
    .fetch_one(connection)
    .await
    .context("reading the announcement schedule")
}
