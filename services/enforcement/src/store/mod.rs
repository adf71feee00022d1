//! SQL. Functions take a connection (usually a transaction); callers decide
//! where transactions begin and end, so a state change, its events and its
//! audit record commit together. Every function says what it was doing
//! when the database failed ([`StoreError`]); callers never see SQL.

mod deadlines;
mod duty;
mod indicators;
mod operations;
mod registry;
mod views;

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

pub use deadlines::*;
pub use duty::*;
pub use indicators::*;
pub use operations::*;
pub use registry::*;
pub use views::*;

/// A database failure, with what the store was doing.
#[derive(Debug, thiserror::Error)]
#[error("database failure while {context}")]
pub struct StoreError {
    /// What the store was doing, e.g. "reading the operation".
    pub context: &'static str,
    #[source]
    pub source: sqlx::Error,
}

/// Names what a database call was doing when it failed.
pub(crate) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError { context, source })
    }
}

/// A transaction of the service's database.
pub type Tx = Transaction<'static, Postgres>;

pub async fn begin(pool: &PgPool) -> Result<Tx, StoreError> {
    pool.begin().await.context("beginning a transaction")
}

pub async fn commit(transaction: Tx) -> Result<(), StoreError> {
    transaction.commit().await.context("committing")
}

pub async fn connection(pool: &PgPool) -> Result<sqlx::pool::PoolConnection<Postgres>, StoreError> {
    pool.acquire().await.context("connecting to the database")
}

/// The channel the deadline worker listens on; notified (at commit) when a
/// deadline is written, so the worker re-plans its sleep.
pub const DEADLINE_CHANNEL: &str = "flatgov_enforcement_deadlines";

/// Wakes the deadline workers of every replica when the transaction commits.
pub async fn notify_deadline_workers(connection: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("select pg_notify($1, '')")
        .bind(DEADLINE_CHANNEL)
        .execute(connection)
        .await
        .context("waking the deadline workers")?;
    Ok(())
}
