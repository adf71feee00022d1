//! The registry revision: what every replica's in-memory snapshot compares with.

use sqlx::PgConnection;

use super::{Context as _, StoreError};
use uuid::Uuid;

/// The notification channel a revision bump is announced on (delivered at commit).
pub const CHANNEL: &str = "flatgov_blocks_registry";

/// The revision and the generation in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct RegistryState {
    /// Bumped by every change to what lookups serve.
    pub revision: i64,
    /// The generation in force, if any.
    pub active_generation: Option<Uuid>,
}

/// Reads the state without locking (the snapshot refresher's cheap poll).
pub async fn read(connection: &mut PgConnection) -> Result<RegistryState, StoreError> {
    sqlx::query_as("select revision, active_generation from registry_state")
        .fetch_one(connection)
        .await
        .context("reading the registry revision")
}

/// Reads the state and locks it until the transaction ends: activation and
/// changes to teams in force go through here one at a time.
pub async fn lock(connection: &mut PgConnection) -> Result<RegistryState, StoreError> {
    sqlx::query_as("select revision, active_generation from registry_state for update")
        .fetch_one(connection)
        .await
        .context("locking the registry revision")
}

/// Bumps the revision (the state must be locked), records the generation in
/// force, and notifies every replica at commit. Returns the new revision.
pub async fn bump(
    connection: &mut PgConnection,
    active_generation: Option<Uuid>,
) -> Result<i64, StoreError> {
    let revision: i64 = sqlx::query_scalar(
        "update registry_state set revision = revision + 1, active_generation = $1 returning revision",
    )
    .bind(active_generation)
    .fetch_one(&mut *connection)
    .await.context("bumping the registry revision")?;
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(revision.to_string())
        .execute(connection)
        .await
        .context("bumping the registry revision")?;
    Ok(revision)
}
