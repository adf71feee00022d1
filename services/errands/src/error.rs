//! The service's errors and the one place they become gRPC statuses.

use flatgov_grpc::error::{FieldViolation, Violations};
use tonic::Status;

use crate::clock::ClockError;
use crate::domain::TransitionError;

/// Why a call failed. Bad input is found before anything is written, so
/// every error leaves the database as it was.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: every field found wrong, each with the
    /// reason (`INVALID_ARGUMENT` with `google.rpc.BadRequest`).
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The errand does not exist or the caller does not reach it.
    #[error("{0}")]
    NotFound(String),
    /// The errand's state does not allow the command; the message names
    /// that state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The database failed (SQL is only logged, never shown).
    #[error("database error while {context}: {source}")]
    Database {
        /// What the service was doing.
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stored row breaks a rule it was checked against when written.
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

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl ToString) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description.to_string())])
    }

    /// The same answer for an errand that does not exist and one outside the
    /// caller's reach.
    pub fn no_errand(name: &str) -> Self {
        Error::NotFound(format!("{name} does not exist"))
    }
}

impl From<FieldViolation> for Error {
    fn from(violation: FieldViolation) -> Self {
        Error::InvalidArgument(vec![violation])
    }
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

impl From<TransitionError> for Error {
    fn from(error: TransitionError) -> Self {
        Error::FailedPrecondition(error.to_string())
    }
}

impl From<ClockError> for Error {
    fn from(error: ClockError) -> Self {
        match error {
            ClockError::Disabled => Error::FailedPrecondition(error.to_string()),
            ClockError::Database(source) => Error::Database {
                context: "moving the test clock",
                source,
            },
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

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
                flatgov_grpc::error::invalid_argument(&violations)
            }
            Error::NotFound(message) => Status::not_found(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::Database { context, source } => flatgov_grpc::error::database(context, source),
            Error::Corrupt(detail) => flatgov_grpc::error::internal("reading an errand", detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_shows_no_sql_to_the_caller() {
        let status = Status::from(Error::Database {
            context: "reading an errand",
            source: sqlx::Error::Protocol(
                "select resident_name, resident_phone from errands".into(),
            ),
        });
        assert!(!status.message().contains("select"));
        assert!(!status.message().contains("resident_phone"));
    }
}
