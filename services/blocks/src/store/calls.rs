//! What the chassis keeps for the registry in the registry's own database:
//! the audit record of a call and the request ids of creates.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;
use flatgov_grpc::idempotency::{self, Fingerprint, IdempotencyError};
use flatgov_grpc::request_id::RequestId;
use sqlx::PgConnection;

use super::{Context as _, StoreError};
use crate::policy::POLICY;

/// Writes the call's audit record in the transaction of its change, so the
/// record and the change commit together.
pub async fn record(connection: &mut PgConnection, access: &Access) -> Result<(), StoreError> {
    flatgov_grpc::authz::record_in_transaction(connection, access, POLICY.service)
        .await
        .context("recording the call on the audit trail")
}

/// Why a request id cannot be looked up.
#[derive(Debug, thiserror::Error)]
pub enum RecallError {
    /// The caller sent this id before with other content.
    #[error("{}: {}", .0.field, .0.description)]
    Reused(FieldViolation),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The resource this caller's earlier request with `request_id` created,
/// if any (see `flatgov_grpc::idempotency`).
pub async fn recall(
    connection: &mut PgConnection,
    access: &Access,
    request_id: &RequestId,
    fingerprint: Fingerprint,
) -> Result<Option<String>, RecallError> {
    idempotency::recall(connection, access, request_id, fingerprint)
        .await
        .map_err(|error| match error.violation() {
            Some(violation) => RecallError::Reused(violation),
            None => match error {
                IdempotencyError::Database(source) => RecallError::Store(StoreError {
                    context: "reading a request id",
                    source,
                }),
                IdempotencyError::Reused(_) => RecallError::Reused(FieldViolation::new(
                    "request_id",
                    "was already used by this caller for a different request",
                )),
            },
        })
}

/// Remembers, in the transaction that created `resource`, that this
/// caller's `request_id` made it; a unique violation means the same
/// caller's other call with that id won the race.
pub async fn remember(
    connection: &mut PgConnection,
    access: &Access,
    request_id: &RequestId,
    fingerprint: Fingerprint,
    resource: &str,
) -> Result<(), StoreError> {
    idempotency::remember(connection, access, request_id, fingerprint, resource)
        .await
        .context("remembering a request id")
}
