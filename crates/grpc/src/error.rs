//! The one place errors become gRPC statuses.
//!
//! [`Error`] is the core error: every kind of failure a caller can see, mapped
//! to a `tonic::Code` in one place ([`Error::code`]). A service's own error
//! extends it — its variants for what only it knows (a lifecycle refusal with
//! details), everything else through these helpers, which build a core error
//! and convert it — so callers get the same code for the same failure from
//! every service and never see SQL text.
//!
//! A database that is going away or cannot be reached is `UNAVAILABLE`, not
//! `INTERNAL`: PostgreSQL shutting down (SQLSTATE 57P01/57P02/57P03), a lost
//! connection (class 08), no free connection (53300, a pool timeout) or a
//! socket error. A client following gRPC's rules retries those, with the same
//! `request_id`, and the retry lands once the database is back.

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

    /// The parsed value, or `None` after recording every violation a parser
    /// found (a page request, a nested message).
    pub fn absorb<T>(&mut self, result: Result<T, Vec<FieldViolation>>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(found) => {
                self.0.extend(found);
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

/// Every kind of failure a caller can be told about. The message of each
/// variant is what the caller reads; details meant for operators (SQL, a
/// dependency's own words) are logged when the status is made, never sent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, every violation named; nothing was changed.
    #[error("invalid request: {} violation(s)", .0.len())]
    InvalidArgument(Vec<FieldViolation>),
    /// A resource that does not exist or that the caller does not reach (the
    /// two answered alike).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// The state does not allow the call; the message names the state.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// A concurrent call won a race (the same `request_id` in flight): retry.
    #[error("{0}")]
    Aborted(String),
    /// Another service or the message bus is down; retry later.
    #[error("{dependency} is unavailable; retry later")]
    DependencyUnavailable {
        dependency: String,
        /// The dependency's own words, for the logs.
        detail: String,
    },
    /// The database failed; whether the caller may retry depends on how.
    #[error("database error while {context}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    /// A bug or corrupt data; the detail is logged only.
    #[error("internal error while {context}")]
    Internal { context: String, detail: String },
}

impl Error {
    /// The one mapping from a failure to a gRPC code.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound(_) => Code::NotFound,
            Error::AlreadyExists(_) => Code::AlreadyExists,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::Aborted(_) => Code::Aborted,
            Error::DependencyUnavailable { .. } => Code::Unavailable,
            Error::Database { source, .. } if is_connection_loss(source) => Code::Unavailable,
            Error::Database { .. } | Error::Internal { .. } => Code::Internal,
        }
    }
}

impl Error {
    /// One invalid field (`INVALID_ARGUMENT` naming it).
    pub fn invalid(field: impl Into<String>, description: impl Display) -> Self {
        Error::InvalidArgument(vec![FieldViolation::new(field, description.to_string())])
    }

    /// The same answer for a resource that does not exist and one outside the
    /// caller's reach, so a caller learns nothing of what it may not see.
    pub fn not_found(name: &str) -> Self {
        Error::NotFound(format!("{name} does not exist"))
    }

    /// A stored value that breaks a rule it was checked against when written
    /// (a bug or a manual edit): `INTERNAL`, the detail logged only.
    pub fn corrupt(detail: impl Display) -> Self {
        Error::Internal {
            context: "reading stored data".to_owned(),
            detail: detail.to_string(),
        }
    }

    /// A database failure while doing `context`.
    pub fn database(context: &str, source: sqlx::Error) -> Self {
        Error::Database {
            context: context.to_owned(),
            source,
        }
    }
}

/// A store's failure keeps what the store was doing.
impl From<flatgov_db::StoreError> for Error {
    fn from(error: flatgov_db::StoreError) -> Self {
        match error {
            flatgov_db::StoreError::Database { context, source } => {
                Error::database(context, source)
            }
            flatgov_db::StoreError::Corrupt(detail) => Error::corrupt(detail),
        }
    }
}

/// A reused `request_id` names the field; a database failure says what was
/// being done.
impl From<crate::idempotency::IdempotencyError> for Error {
    fn from(error: crate::idempotency::IdempotencyError) -> Self {
        match error.violation() {
            Some(violation) => Error::from(violation),
            None => match error {
                crate::idempotency::IdempotencyError::Database(source) => {
                    Error::database("remembering a request id", source)
                }
                other => Error::corrupt(other),
            },
        }
    }
}

/// `AdvanceTestClock` on a deployment whose clock cannot move names why.
impl From<flatgov_db::clock::ClockError> for Error {
    fn from(error: flatgov_db::clock::ClockError) -> Self {
        match error {
            flatgov_db::clock::ClockError::Disabled => Error::FailedPrecondition(error.to_string()),
            flatgov_db::clock::ClockError::Database(source) => {
                Error::database("moving the test clock", source)
            }
        }
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

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let code = error.code();
        match error {
            Error::InvalidArgument(violations) => bad_request(&violations),
            Error::NotFound(message)
            | Error::AlreadyExists(message)
            | Error::FailedPrecondition(message)
            | Error::PermissionDenied(message)
            | Error::Aborted(message) => Status::new(code, message),
            Error::DependencyUnavailable { dependency, detail } => {
                tracing::warn!(%dependency, %detail, "dependency unavailable");
                Status::unavailable(format!("{dependency} is unavailable; retry later"))
            }
            Error::Database { context, source } if code == Code::Unavailable => {
                tracing::warn!(%context, error = %source, "database unavailable");
                Status::unavailable(format!("database unavailable while {context}; retry later"))
            }
            Error::Database { context, source } => {
                tracing::error!(%context, error = %source, "internal error");
                Status::internal(format!("internal error while {context}"))
            }
            Error::Internal { context, detail } => {
                tracing::error!(%context, error = %detail, "internal error");
                Status::internal(format!("internal error while {context}"))
            }
        }
    }
}

/// `INVALID_ARGUMENT` carrying a `google.rpc.BadRequest` with every
/// violation; the message lists them too, for clients that ignore details.
pub fn invalid_argument(violations: &[FieldViolation]) -> Status {
    Status::from(Error::InvalidArgument(violations.to_vec()))
}

fn bad_request(violations: &[FieldViolation]) -> Status {
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
    Status::from(Error::Internal {
        context: context.to_owned(),
        detail: error.to_string(),
    })
}

/// Maps a database failure: a database going away or out of reach is
/// `UNAVAILABLE` (retryable), anything else `INTERNAL`. SQL text is only logged.
pub fn database(context: &str, error: sqlx::Error) -> Status {
    Status::from(Error::Database {
        context: context.to_owned(),
        source: error,
    })
}

/// True when `error` says the database is (for now) out of reach, so a
/// retry can succeed (see [`flatgov_db::is_connection_loss`]).
pub fn is_connection_loss(error: &sqlx::Error) -> bool {
    flatgov_db::is_connection_loss(error)
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
    Status::from(Error::DependencyUnavailable {
        dependency: dependency.to_owned(),
        detail: error.to_string(),
    })
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

    /// A server-side error with a given SQLSTATE, as the driver reports it.
    #[derive(Debug)]
    struct ServerError {
        code: &'static str,
        message: &'static str,
    }

    impl std::fmt::Display for ServerError {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str(self.message)
        }
    }

    impl std::error::Error for ServerError {}

    impl sqlx::error::DatabaseError for ServerError {
        fn message(&self) -> &str {
            self.message
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.code.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn server_error(code: &'static str, message: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(ServerError { code, message }))
    }

    /// Seen in a chaos run: a report written while PostgreSQL restarted was
    /// answered INTERNAL, and a client following gRPC's rules dropped it.
    #[test]
    fn a_database_shutting_down_or_out_of_reach_is_unavailable_so_clients_retry() {
        for (code, message) in [
            (
                "57P01",
                "terminating connection due to administrator command",
            ),
            (
                "57P02",
                "terminating connection due to crash of another server process",
            ),
            ("57P03", "the database system is starting up"),
            ("08006", "connection failure"),
            ("08003", "connection does not exist"),
            ("53300", "sorry, too many clients already"),
        ] {
            let status = database("saving the case", server_error(code, message));
            assert_eq!(status.code(), Code::Unavailable, "SQLSTATE {code}");
            assert!(!status.message().contains(message), "SQLSTATE {code}");
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(
            database("saving the case", sqlx::Error::Io(reset)).code(),
            Code::Unavailable
        );
        assert_eq!(
            database("saving the case", sqlx::Error::PoolClosed).code(),
            Code::Unavailable
        );
    }

    #[test]
    fn a_statement_the_database_refuses_stays_internal_without_its_sql() {
        let status = database(
            "saving the case",
            server_error("42P01", "relation \"cases_secret\" does not exist"),
        );
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("cases_secret"));
        let status = database(
            "saving the case",
            server_error("23505", "duplicate key value violates unique constraint"),
        );
        assert_eq!(status.code(), Code::Internal);
    }

    #[test]
    fn the_core_error_maps_each_kind_to_one_code() {
        let cases = [
            (Error::NotFound("cases/1 not found".into()), Code::NotFound),
            (Error::AlreadyExists("exists".into()), Code::AlreadyExists),
            (
                Error::FailedPrecondition("the case is closed".into()),
                Code::FailedPrecondition,
            ),
            (Error::PermissionDenied("no".into()), Code::PermissionDenied),
            (Error::Aborted("retry".into()), Code::Aborted),
            (
                Error::DependencyUnavailable {
                    dependency: "the block registry".into(),
                    detail: "connection refused at 10.0.0.7".into(),
                },
                Code::Unavailable,
            ),
            (
                Error::Internal {
                    context: "reading a case".into(),
                    detail: "bad json".into(),
                },
                Code::Internal,
            ),
            (
                Error::from(FieldViolation::new("page_size", "must be positive")),
                Code::InvalidArgument,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
            let status = Status::from(error);
            assert_eq!(status.code(), code);
            assert!(!status.message().contains("10.0.0.7"));
            assert!(!status.message().contains("bad json"));
        }
    }
}
