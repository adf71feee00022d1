//! SQL. Every function takes a connection (or a transaction, through `&mut *tx`)
//! so callers decide what commits together; none of them commits by itself.
//! Each answers with a [`StoreError`] that says what it was doing, so callers
//! pass failures on with `?` and the SQL stays in the logs.
//!
//! Queries are plain `sqlx::query` strings checked by the integration tests
//! against real PostgreSQL (see docs/architecture.md).

pub mod calls;
pub mod generations;
pub mod hierarchy;
pub mod staff;
pub mod state;
pub mod teams;

use sqlx::{PgPool, Postgres, Transaction};

/// How many rows one multi-row statement inserts: keeps each statement's
/// parameters well inside PostgreSQL's limits and memory bounded at 1M blocks.
pub(crate) const INSERT_CHUNK: usize = 5_000;

/// A database failure, with what the store was doing when it happened.
#[derive(Debug, thiserror::Error)]
#[error("database error while {context}: {source}")]
pub struct StoreError {
    /// What the store was doing, e.g. `reading a block`.
    pub context: &'static str,
    /// The driver's error (its SQL is logged, never shown to a caller).
    #[source]
    pub source: sqlx::Error,
}

impl StoreError {
    /// True when a unique constraint refused the row: the race a retried
    /// create loses.
    pub fn is_unique_violation(&self) -> bool {
        flatgov_grpc::error::is_unique_violation(&self.source)
    }
}

/// Names what a database call was doing.
pub(crate) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError { context, source })
    }
}

/// A store function called by another keeps the more precise context.
impl<T> Context<T> for Result<T, StoreError> {
    fn context(self, _context: &'static str) -> Result<T, StoreError> {
        self
    }
}

/// A transaction for one change.
pub async fn begin(
    pool: &PgPool,
    context: &'static str,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    pool.begin().await.context(context)
}

/// A connection for reads.
pub async fn connection(
    pool: &PgPool,
    context: &'static str,
) -> Result<sqlx::pool::PoolConnection<Postgres>, StoreError> {
    pool.acquire().await.context(context)
}

/// Commits a change.
pub async fn commit(
    transaction: Transaction<'static, Postgres>,
    context: &'static str,
) -> Result<(), StoreError> {
    transaction.commit().await.context(context)
}
