//! The registry's errors and the one place they become gRPC statuses.

use flatgov_grpc::error::FieldViolation;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// One reason activation was refused: a validation error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The finding kind, e.g. `gap`.
    pub kind: String,
    /// What it concerns, e.g. `subdistricts/430302001` or `blocks/430302001001001`.
    pub subject: String,
    /// What is wrong.
    pub description: String,
}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; nothing was changed.
    #[error("invalid request: {}", summary(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A resource with that name already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The resource is not in a state that allows the call; the message names the state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Activation refused because validation found errors.
    #[error("generation {generation} cannot be activated: validation found {} error(s)", refusals.len())]
    ActivationRefused {
        /// The generation's resource name.
        generation: String,
        /// The errors, in report order.
        refusals: Vec<Refusal>,
    },
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// A database failure; the SQL stays in the logs.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the registry was doing.
        context: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Something that should not happen (corrupt stored data, a task that panicked).
    #[error("internal error while {context}: {detail}")]
    Internal {
        /// What the registry was doing.
        context: &'static str,
        /// What went wrong, for the logs.
        detail: String,
    },
}

fn summary(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .take(3)
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// INVALID_ARGUMENT for one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// An internal failure while `context`.
    pub fn internal(context: &'static str, detail: impl std::fmt::Display) -> Self {
        Error::Internal {
            context,
            detail: detail.to_string(),
        }
    }
}

/// A database failure the store described.
impl From<crate::store::StoreError> for Error {
    fn from(error: crate::store::StoreError) -> Self {
        Error::Database {
            context: error.context,
            source: error.source,
        }
    }
}

/// A request id that cannot answer: reused with other content, or unreadable.
impl From<crate::store::calls::RecallError> for Error {
    fn from(error: crate::store::calls::RecallError) -> Self {
        match error {
            crate::store::calls::RecallError::Reused(violation) => {
                Error::InvalidArgument(vec![violation])
            }
            crate::store::calls::RecallError::Store(error) => error.into(),
        }
    }
}

/// Every violation a request's parse collected.
impl From<flatgov_grpc::error::Violations> for Error {
    fn from(violations: flatgov_grpc::error::Violations) -> Self {
        Error::InvalidArgument(violations.into_vec())
    }
}

/// A field the chassis' parsers (time, paging) found wrong.
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

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument(violations) => {
                flatgov_grpc::error::invalid_argument(&violations)
            }
            Error::NotFound(message) => Status::not_found(message),
            Error::AlreadyExists(message) => Status::already_exists(message),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::PermissionDenied(message) => Status::permission_denied(message),
            Error::ActivationRefused {
                generation,
                refusals,
            } => {
                let mut details = ErrorDetails::new();
                for refusal in &refusals {
                    details.add_precondition_failure_violation(
                        refusal.kind.clone(),
                        refusal.subject.clone(),
                        refusal.description.clone(),
                    );
                }
                let shown: Vec<String> = refusals
                    .iter()
                    .take(10)
                    .map(|refusal| {
                        format!(
                            "{} ({}): {}",
                            refusal.kind, refusal.subject, refusal.description
                        )
                    })
                    .collect();
                let more = refusals.len().saturating_sub(shown.len());
                let mut message = format!(
                    "generation {generation} cannot be activated while validation finds errors ({} error(s)): {}",
                    refusals.len(),
                    shown.join("; ")
                );
                if more > 0 {
                    message.push_str(&format!("; and {more} more (see ValidateGeneration)"));
                }
                Status::with_error_details(Code::FailedPrecondition, message, details)
            }
            Error::Database { context, source } => flatgov_grpc::error::database(context, source),
            Error::Internal { context, detail } => flatgov_grpc::error::internal(context, detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_activation_is_failed_precondition_listing_each_error_as_a_violation() {
        let status = Status::from(Error::ActivationRefused {
            generation: "generations/g1".into(),
            refusals: vec![
                Refusal {
                    kind: "gap".into(),
                    subject: "subdistricts/430302001".into(),
                    description: "12.5 m² of land is in no block".into(),
                },
                Refusal {
                    kind: "overlap".into(),
                    subject: "blocks/430302001001001".into(),
                    description: "blocks overlap".into(),
                },
            ],
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("gap (subdistricts/430302001)"));
        let failure = status.get_details_precondition_failure().expect("details");
        assert_eq!(failure.violations.len(), 2);
        assert_eq!(failure.violations[1].r#type, "overlap");
    }

    #[test]
    fn a_database_error_becomes_a_status_without_its_sql() {
        let status = Status::from(Error::Database {
            context: "loading blocks",
            source: sqlx::Error::Protocol("select secret from table".into()),
        });
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("select"));
    }
}
