//! The service's errors and the one place they become gRPC statuses.

use flatgov_grpc::error::{FieldViolation, Violations};
use flatgov_grpc::idempotency::IdempotencyError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::domain::kinds::UnknownWord;
use crate::store::StoreError;

/// What went wrong with a call, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: every field that is wrong, with why.
    #[error("invalid request")]
    InvalidArgument(Vec<FieldViolation>),
    /// The resource does not exist, or the caller does not reach it (the
    /// same words for both).
    #[error("{0}")]
    NotFound(String),
    /// The thing exists already; `resource` names it when the caller may
    /// know it.
    #[error("{message}")]
    AlreadyExists {
        message: String,
        resource: Option<String>,
    },
    /// The resource is in a state that does not allow the call; the message
    /// names the state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The state forbids the call for a reason a client can act on, named
    /// by `kind` (a `google.rpc.PreconditionFailure` violation type).
    #[error("{message}")]
    Precondition {
        kind: &'static str,
        subject: &'static str,
        message: String,
    },
    /// The caller sees the resource but may not do this to it.
    #[error("{0}")]
    PermissionDenied(String),
    /// The database failed; the detail is logged, never shown.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored data this version cannot read (a word it does not know).
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
    /// Another call of the same caller with the same request id committed
    /// first; the handler answers with that call's result instead.
    #[error("a request with this request_id is being handled; retry")]
    ConcurrentRetry,
}

impl Error {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// Wraps a database error (outside the store: opening a transaction,
    /// committing it) with what was being done.
    pub fn database(context: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |source| Error::Store(StoreError { context, source })
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

impl From<IdempotencyError> for Error {
    fn from(error: IdempotencyError) -> Self {
        match error.violation() {
            Some(violation) => Error::InvalidArgument(vec![violation]),
            None => match error {
                IdempotencyError::Database(source) => Error::Store(StoreError {
                    context: "reading a retried request",
                    source,
                }),
                IdempotencyError::Reused(request_id) => {
                    Error::invalid("request_id", format!("{request_id} was already used"))
                }
            },
        }
    }
}

impl From<UnknownWord> for Error {
    fn from(error: UnknownWord) -> Self {
        Error::Corrupt(error.to_string())
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
                flatgov_grpc::error::invalid_argument(&violations)
            }
            Error::NotFound(message) => Status::not_found(message),
            Error::AlreadyExists { message, resource } => match resource {
                Some(resource) => {
                    let resource_type = resource.split('/').next().unwrap_or_default().to_owned();
                    let details = ErrorDetails::with_resource_info(
                        resource_type,
                        resource,
                        "",
                        message.clone(),
                    );
                    Status::with_error_details(Code::AlreadyExists, message, details)
                }
                None => Status::already_exists(message),
            },
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::Precondition {
                kind,
                subject,
                message,
            } => Status::with_error_details(
                Code::FailedPrecondition,
                message.clone(),
                ErrorDetails::with_precondition_failure_violation(kind, subject, message),
            ),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Store(StoreError { context, source }) => {
                flatgov_grpc::error::database(context, source)
            }
            Error::Corrupt(detail) => flatgov_grpc::error::internal("reading stored data", detail),
            Error::ConcurrentRetry => Status::aborted(
                "a request with this request_id is being handled; retry to get its result",
            ),
        }
    }
}

/// The result of every use case and handler.
pub type Result<T, E = Error> = std::result::Result<T, E>;
