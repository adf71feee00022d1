//! The service's errors and the one place they become gRPC statuses.

use flatgov_grpc::error::{self as grpc_error, FieldViolation};
use tonic::Status;

use crate::application::ops::OpError;
use crate::clock::ClockError;
use crate::directory::CallError;
use crate::domain::lifecycle::{Refusal, TransitionError};

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: every problem found, each naming its field. Nothing changed.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// The lifecycle refused: the message names the case's state.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Another rule refused (the gate, a meeting's state…).
    #[error("{0}")]
    Precondition(String),
    /// The block registry or the duty lists did not answer a call that needs them now.
    #[error("{service} unavailable: {detail}")]
    Dependency {
        service: &'static str,
        detail: String,
    },
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Error {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldViolation::new(field, description)])
    }
}

impl From<Vec<FieldViolation>> for Error {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Error::Invalid(violations)
    }
}

impl From<grpc_error::Violations> for Error {
    fn from(violations: grpc_error::Violations) -> Self {
        Error::Invalid(violations.into_vec())
    }
}

/// A lifecycle refusal about *who* acts (not the state) is PERMISSION_DENIED, said
/// without naming the assignee or anyone else; one about the state is
/// FAILED_PRECONDITION naming the state.
fn transition_status(error: &TransitionError) -> Status {
    let who = match &error.refusal {
        Refusal::NotTheAssignee { .. } => Some("only the case's current assignee may do this"),
        Refusal::StaffOnly { .. } => Some("only a staff member may do this"),
        Refusal::OwnWork { .. } => {
            Some("whoever resolved or handles a case cannot verify or judge their own work")
        }
        Refusal::OwnExtension { .. } => Some("whoever asked for an extension cannot decide on it"),
        Refusal::NotARater { .. } => {
            Some("only the resident, or staff recording the resident's rating, may rate")
        }
        _ => None,
    };
    match who {
        Some(message) => {
            Status::permission_denied(format!("cannot {} this case: {message}", error.attempted))
        }
        None => Status::failed_precondition(error.to_string()),
    }
}

impl From<OpError> for Error {
    fn from(error: OpError) -> Self {
        match error {
            OpError::Transition(error) => Error::Transition(error),
            OpError::Calendar(error) => Error::Internal(error.to_string()),
            OpError::Precondition(message) => Error::Precondition(message),
            OpError::Database(error) => Error::Database(error),
        }
    }
}

impl From<ClockError> for Error {
    fn from(error: ClockError) -> Self {
        match error {
            ClockError::Disabled => Error::Precondition(error.to_string()),
            ClockError::Database(error) => Error::Database(error),
        }
    }
}

impl Error {
    /// A call to another service failed while a caller waits.
    pub fn from_call(service: &'static str, error: CallError) -> Self {
        match error {
            CallError::NotFound(detail) => Error::Precondition(detail),
            CallError::Rejected(detail) => Error::Precondition(detail),
            CallError::Unavailable(detail) => Error::Dependency { service, detail },
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(violations) => grpc_error::invalid_argument(&violations),
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Transition(error) => transition_status(&error),
            Error::Precondition(message) => Status::failed_precondition(message),
            Error::Dependency { service, detail } => {
                grpc_error::dependency_unavailable(service, detail)
            }
            Error::Internal(message) => grpc_error::internal("handling the request", message),
            Error::Database(error) => grpc_error::database("handling the request", error),
        }
    }
}
