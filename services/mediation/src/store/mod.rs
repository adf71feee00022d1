//! SQL. Functions take the caller's connection (usually a transaction), so
//! a change, its events and its audit record commit together, and answer
//! with [`StoreError`], which says what the store was doing.

mod advisers;
mod disputes;
mod indicators;

pub use advisers::*;
pub use disputes::*;
pub use indicators::*;

/// Why the store failed, with what it was doing. SQL is only logged by the
/// service error it becomes, never shown to a caller.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error while {context}: {source}")]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stored row breaks a rule it was checked against when written.
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
