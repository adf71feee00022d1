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

/// Why the store failed, with what it was doing. SQL is only logged by the
/// service error it becomes, never shown to a caller.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the store was doing, e.g. "reading a case's feedback".
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stored row breaks a rule it was checked against when written: a
    /// bug or a manual edit.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// Attaches what the store was doing to a database error.
pub(crate) trait DatabaseContext<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> DatabaseContext<T> for Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database { context, source })
    }
}

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
