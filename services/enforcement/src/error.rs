//! The service's errors and the one place they become gRPC statuses.

use std::fmt::Display;

use flatgov_grpc::error::{FieldViolation, Violations};
use flatgov_grpc::idempotency::IdempotencyError;
use tonic::Status;

use crate::domain::Refusal;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: INVALID_ARGUMENT with every violation.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// A resource that does not exist, or that the caller does not reach:
    /// the two are answered alike, so ids cannot be probed.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// An illegal step for the operation's state: FAILED_PRECONDITION.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller sees the resource (or the place) but may not do this to
    /// it.
    #[error("{0}")]
    PermissionDenied(String),
    /// Another call with the same request id was being made at the same
    /// time: ABORTED, retry.
    #[error("{0}")]
    Aborted(String),
    /// A bug: INTERNAL, the detail only logged.
    #[error("{0}")]
    Internal(String),
    #[error("database failure while {context}")]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::Database {
            context: error.context,
            source: error.source,
        }
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, description: impl Display) -> Self {
        Error::Invalid(vec![FieldViolation::new(field, description.to_string())])
    }

    /// NOT_FOUND for `name`, said the same way whether it is missing or
    /// out of the caller's reach.
    pub fn not_found(name: impl Display) -> Self {
        Error::NotFound(format!("{name} does not exist"))
    }
}

/// A field the chassis' parsers (time, paging) found wrong.
impl From<FieldViolation> for Error {
    fn from(violation: FieldViolation) -> Self {
        Error::Invalid(vec![violation])
    }
}

impl From<Vec<FieldViolation>> for Error {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Error::Invalid(violations)
    }
}

impl From<Violations> for Error {
    fn from(violations: Violations) -> Self {
        Error::Invalid(violations.into_vec())
    }
}

/// A reused request id is bad input naming `request_id`.
impl From<IdempotencyError> for Error {
    fn from(error: IdempotencyError) -> Self {
        if let Some(violation) = error.violation() {
            return Error::Invalid(vec![violation]);
        }
        match error {
            IdempotencyError::Database(source) => Error::Database {
                context: "recalling a request id",
                source,
            },
            IdempotencyError::Reused(request_id) => Error::invalid(
                "request_id",
                format!("{request_id} was already used for a different request"),
            ),
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(violations) => flatgov_grpc::error::invalid_argument(&violations),
            Error::NotFound(message) => Status::not_found(message),
            Error::AlreadyExists(message) => Status::already_exists(message),
            Error::Refused(refusal @ Refusal::NotLead { .. }) => {
                Status::permission_denied(refusal.to_string())
            }
            // Who reports is the request's to fix: name the field.
            Error::Refused(refusal @ Refusal::NotOfSummonedUnit { .. }) => {
                Status::from(Error::invalid("officers", refusal))
            }
            Error::Refused(refusal) => Status::failed_precondition(refusal.to_string()),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::Aborted(message) => Status::aborted(message),
            Error::Internal(message) => flatgov_grpc::error::internal("answering", message),
            Error::Database { context, source } => flatgov_grpc::error::database(context, source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgencyCode, OperationState};
    use tonic_types::StatusExt as _;

    #[test]
    fn every_violation_reaches_the_caller_as_bad_request_details() {
        let mut violations = Violations::default();
        assert_eq!(violations.check("a", Ok::<_, String>(1)), Some(1));
        violations.check::<(), _>("subdistrict_code", Err("must be 9 digits"));
        violations.add("agencies[1]", "agency x is not registered");
        let status = Status::from(Error::from(violations.finish().unwrap_err()));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let details = status.get_details_bad_request().unwrap();
        assert_eq!(details.field_violations.len(), 2);
        assert_eq!(details.field_violations[1].field, "agencies[1]");
    }

    #[test]
    fn refusals_are_failed_preconditions_except_a_non_lead_concluding() {
        let state = Status::from(Error::Refused(Refusal::WrongState {
            state: OperationState::Concluded,
            step: "recording an action",
            needed: "open",
        }));
        assert_eq!(state.code(), tonic::Code::FailedPrecondition);
        assert!(state.message().contains("concluded"));
        let not_lead = Status::from(Error::Refused(Refusal::NotLead {
            step: "conclude",
            caller: AgencyCode::parse("market_supervision").unwrap(),
        }));
        assert_eq!(not_lead.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            not_lead.message(),
            "only the lead agency may conclude; agency market_supervision does not lead this operation"
        );
    }
}
