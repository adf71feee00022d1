//! The one place errors become gRPC statuses.
//!
//! Services map their own error enums onto these helpers (`impl From<Error>
//! for Status`), so callers get consistent codes and never see SQL text.

use std::fmt::Display;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// One problem with one field of a request, e.g.
/// `("features[3].geometry.coordinates[0]", "ring is not closed")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Collects every field violation of a request while it is parsed, so one
/// reply names everything wrong and nothing is written before the request
/// is known good. A service converts it into its error
/// (`impl From<Violations> for Error`, `INVALID_ARGUMENT` with all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is wrong, and why.
    pub fn add(&mut self, field: impl Into<String>, description: impl Display) {
        self.0
            .push(FieldViolation::new(field, description.to_string()));
    }

    /// The parsed value, or `None` after recording why `field` has none.
    pub fn check<T, E: Display>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error);
                None
            }
        }
    }

    /// Records violations found elsewhere (a chassis parser, a nested message).
    pub fn extend(&mut self, violations: impl IntoIterator<Item = FieldViolation>) {
        self.0.extend(violations);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many violations were recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `Ok` when nothing was recorded, every violation otherwise.
    pub fn finish(self) -> Result<(), Vec<FieldViolation>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }

    /// Every violation recorded, in order.
    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.0
    }
}

/// Names the request field a parse failure is about, turning any error that
/// describes itself into a [`FieldViolation`]:
/// `time::instant(&at).for_field("at")?` (with `impl From<FieldViolation>`
/// for the service's error).
pub trait ForField<T> {
    fn for_field(self, field: impl Into<String>) -> Result<T, FieldViolation>;
}

impl<T, E: Display> ForField<T> for Result<T, E> {
    fn for_field(self, field: impl Into<String>) -> Result<T, FieldViolation> {
        self.map_err(|error| FieldViolation::new(field, error.to_string()))
    }
}

/// `INVALID_ARGUMENT` carrying a `google.rpc.BadRequest` with every
/// violation; the message lists them too, for clients that ignore details.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let mut details = ErrorDetails::new();
    for violation in violations {
        details.add_bad_request_violation(violation.field.clone(), violation.description.clone());
    }
    let summary: Vec<String> = violations
        .iter()
        .take(20)
        .map(|violation| format!("{}: {}", violation.field, violation.description))
        .collect();
    let more = violations.len().saturating_sub(summary.len());
    let mut message = summary.join("; ");
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// `INVALID_ARGUMENT` for a single field.
pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Status {
    invalid_argument(&[FieldViolation::new(field, description)])
}

/// Logs an unexpected failure with its detail and returns a generic
/// `INTERNAL`: the detail stays in the logs, never reaches the caller.
pub fn internal(context: &str, error: impl Display) -> Status {
    tracing::error!(context, %error, "internal error");
    Status::internal(format!("internal error while {context}"))
}

/// Maps a database failure: an unreachable database is `UNAVAILABLE`
/// (retryable), anything else `INTERNAL`. SQL text is only logged.
pub fn database(context: &str, error: sqlx::Error) -> Status {
    match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => {
            tracing::warn!(context, %error, "database unavailable");
            Status::unavailable(format!("database unavailable while {context}; retry later"))
        }
        _ => internal(context, error),
    }
}

/// True when the database refused a row for breaking a unique constraint:
/// the race an idempotent create (`request_id`) or a second resource of
/// the same name loses, to be answered with the first result or
/// ALREADY_EXISTS rather than INTERNAL.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|database| database.is_unique_violation())
}

/// `UNAVAILABLE` naming the dependency that is down.
pub fn dependency_unavailable(dependency: &str, error: impl Display) -> Status {
    tracing::warn!(dependency, %error, "dependency unavailable");
    Status::unavailable(format!("{dependency} is unavailable; retry later"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_every_violation_as_bad_request_details() {
        let status = invalid_argument(&[
            FieldViolation::new("features[0].properties.code", "must be 15 digits"),
            FieldViolation::new("features[2].geometry", "ring is not closed"),
        ]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .contains("features[2].geometry: ring is not closed")
        );
        let bad_request = status.get_details_bad_request().unwrap();
        assert_eq!(bad_request.field_violations.len(), 2);
        assert_eq!(
            bad_request.field_violations[0].field,
            "features[0].properties.code"
        );
    }

    #[test]
    fn a_failed_parse_names_its_field_with_the_errors_own_words() {
        let parsed: Result<u8, FieldViolation> = "300".parse::<u8>().for_field("households");
        let violation = parsed.expect_err("out of range");
        assert_eq!(violation.field, "households");
        assert_eq!(
            violation.description,
            "number too large to fit in target type"
        );
        assert_eq!("17".parse::<u8>().for_field("households"), Ok(17));
    }

    #[test]
    fn violations_keep_every_problem_in_order_and_finish_only_when_there_is_none() {
        let mut violations = Violations::new();
        assert_eq!(
            violations.check("households", "350".parse::<u16>()),
            Some(350)
        );
        assert_eq!(violations.check("code", "x".parse::<u16>()), None);
        violations.add("agencies[1]", "water_police is not registered");
        violations.extend([FieldViolation::new("page_token", "is not a token")]);
        assert_eq!(violations.len(), 3);
        let recorded = violations.clone().finish().expect_err("three problems");
        let fields: Vec<&str> = recorded.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["code", "agencies[1]", "page_token"]);
        assert_eq!(recorded[0].description, "invalid digit found in string");
        assert_eq!(violations.into_vec(), recorded);
        assert_eq!(Violations::new().finish(), Ok(()));
        assert!(Violations::default().is_empty());
    }

    #[test]
    fn only_a_database_refusal_is_a_unique_violation() {
        assert!(!is_unique_violation(&sqlx::Error::PoolTimedOut));
        assert!(!is_unique_violation(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn a_database_error_never_shows_sql_to_the_caller() {
        let status = database(
            "saving the case",
            sqlx::Error::Protocol("syntax error at or near select * from cases".into()),
        );
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("select"));
        let status = database("saving the case", sqlx::Error::PoolTimedOut);
        assert_eq!(status.code(), Code::Unavailable);
    }
}
