//! SQL. Functions take a connection (or a transaction's connection) and
//! return rows, or a [`StoreError`] saying what they were doing; the use
//! cases (`crate::application`) decide what the rows mean.

pub mod activities;
pub mod indicators;
pub mod innovation;
pub mod organisations;
pub mod people;
pub mod plans;
pub mod privacy;
pub mod proposals;
pub mod referrals;
pub mod rights;
pub mod sharing;

/// A database failure, with what the store was doing. The detail is
/// logged, never shown: callers see "internal error while {context}" or,
/// when the database is unreachable, UNAVAILABLE.
#[derive(Debug, thiserror::Error)]
#[error("database failure while {context}: {source}")]
pub struct StoreError {
    /// What the store was doing, e.g. `reading an activity`.
    pub context: &'static str,
    /// What the database said.
    #[source]
    pub source: sqlx::Error,
}

impl StoreError {
    /// True when the database refused a row for breaking a unique
    /// constraint (a race two creators of the same thing run).
    pub fn is_unique_violation(&self) -> bool {
        flatgov_grpc::error::is_unique_violation(&self.source)
    }
}

/// The result of every store function.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Names what a statement was doing when it failed.
pub(crate) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T>;
}

impl<T> Context<T> for sqlx::Result<T> {
    fn context(self, context: &'static str) -> Result<T> {
        self.map_err(|source| StoreError { context, source })
    }
}
