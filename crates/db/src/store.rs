//! The one error a service's store (its SQL layer) answers with.
//!
//! Store functions take the caller's connection, so a change, its events and
//! its audit record commit together; when one fails it says what it was
//! doing ([`DatabaseContext::context`]), and the service's error turns that
//! into a status (`flatgov_grpc::error::Error` implements `From<StoreError>`)
//! that shows the context and logs the SQL error, never sends it.

/// Why the store failed, with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the store was doing, e.g. "reading a refusal".
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stored row breaks a rule it was checked against when written: a bug
    /// or a manual edit.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A stored value that breaks its rule, described for the logs.
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}

/// Attaches what the store was doing to a database error:
/// `query.fetch_one(&mut *tx).await.context("reading an errand")?`.
pub trait DatabaseContext<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> DatabaseContext<T> for Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database { context, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_query_says_what_the_store_was_doing() {
        let failed: Result<(), sqlx::Error> = Err(sqlx::Error::RowNotFound);
        let error = failed.context("reading an errand").unwrap_err();
        assert!(matches!(
            error,
            StoreError::Database {
                context: "reading an errand",
                source: sqlx::Error::RowNotFound
            }
        ));
    }
}
