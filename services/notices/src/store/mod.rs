//! SQL. Functions take the caller's connection (usually a transaction), so
//! a change, its audit record and its events commit together, and answer
//! with [`StoreError`], which says what the store was doing.

use sqlx::PgPool;

pub mod feedback;
pub mod gateways;
pub mod indicators;
pub mod notices;
pub mod return_visits;
pub mod templates;

pub use flatgov_grpc::store::{DatabaseContext, StoreError};

/// A transaction on the service's database.
pub type Transaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// Begins a transaction for `context` (what it will do).
pub async fn begin(pool: &PgPool, context: &'static str) -> Result<Transaction, StoreError> {
    pool.begin().await.context(context)
}

/// Commits what `transaction` did for `context`.
pub async fn commit(transaction: Transaction, context: &'static str) -> Result<(), StoreError> {
    transaction.commit().await.context(context)
}
