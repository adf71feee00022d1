//! The service's errors and the one place they become gRPC statuses.

use flatgov_grpc::error::{FieldViolation, Violations};
use tonic::Status;

/// Why a call failed. Bad input is found before anything is written, so every
/// error leaves the database as it was.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: every field found wrong, each with the
    /// reason (`INVALID_ARGUMENT` with `google.rpc.BadRequest`).
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is well formed but the current state does not allow it;
    /// the message names that state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller may see the resource but not do this to it.
    #[error("{0}")]
    PermissionDenied(String),
    /// A service this call needs cannot be asked now; nothing changed.
    #[error("{0}")]
    Unavailable(String),
    /// The database failed (SQL is only logged, never shown).
    #[error("database error while {context}: {source}")]
    Database {
        /// What the service was doing.
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// Data read back from the database breaks a rule it was checked against
    /// when written: a bug or a manual edit.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<Vec<FieldViolation>> for Error {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Error::InvalidArgument(violations)
    }
}

impl From<Violations> for Error {
    fn from(violations: Violations) -> Self {
        Error::InvalidArgument(violations.into_vec())
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
                flatgov_grpc::error::invalid_argument(&violations)
            }
            Error::NotFound(message) => Status::not_found(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Unavailable(message) => Status::unavailable(message),
            Error::Database { context, source } => flatgov_grpc::error::database(context, source),
            Error::Corrupt(detail) => {
                flatgov_grpc::error::internal("reading stored feedback", detail)
            }
        }
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(error: crate::store::StoreError) -> Self {
        match error {
            crate::store::StoreError::Database { context, source } => {
                Error::Database { context, source }
            }
            crate::store::StoreError::Corrupt(detail) => Error::Corrupt(detail),
        }
    }
}
