//! Retries of create calls: the one way every service keeps `request_id`s.
//!
//! A create handler that received a [`RequestId`] first asks [`recall`]:
//! a retry of the same request by the same caller gets back the name of
//! the resource the first call created (the handler re-reads it, checking
//! the caller may still see it, and answers as the first time). The same
//! id with different content is refused naming `request_id`. A first call
//! creates its resource and, in the same transaction, [`remember`]s the id;
//! when two first calls race, the primary key lets one win and the loser's
//! transaction fails with a unique violation, after which the loser
//! recalls the winner's resource.
//!
//! Ids are scoped to the caller (token subject) and the method: one
//! caller's id never answers for another caller, so no caller can learn of
//! another's resource by guessing its request id.

use flatgov_auth::policy::Access;
use sqlx::PgConnection;

use crate::error::FieldViolation;
use crate::paging::fnv1a;
use crate::request_id::RequestId;

/// The chassis' idempotency table, with its own migration history.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name("_flatgov_grpc_migrations");
    migrator
}

/// A request's content, reduced to a number: equal for a retry, different
/// (with overwhelming likelihood) for another request under the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(i64);

impl Fingerprint {
    /// The fingerprint of a request message as the caller sent it.
    pub fn of(request: &impl prost::Message) -> Self {
        Self(i64::from_ne_bytes(
            fnv1a(&request.encode_to_vec()).to_ne_bytes(),
        ))
    }
}

/// Why a remembered id cannot answer this request.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The caller sent this id before with other content.
    #[error("request_id {0} was already used for a different request")]
    Reused(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl IdempotencyError {
    /// The field violation a service reports for [`IdempotencyError::Reused`].
    pub fn violation(&self) -> Option<FieldViolation> {
        match self {
            IdempotencyError::Reused(_) => Some(FieldViolation::new(
                "request_id",
                "was already used by this caller for a different request; \
                 use a new request_id for a new request",
            )),
            IdempotencyError::Database(_) => None,
        }
    }
}

fn subject(access: &Access) -> &str {
    access
        .caller()
        .map(|caller| caller.subject.as_str())
        .unwrap_or("")
}

/// The resource an earlier call of this caller created under `request_id`,
/// if any; [`IdempotencyError::Reused`] when that call's content differed.
pub async fn recall(
    connection: &mut PgConnection,
    access: &Access,
    request_id: &RequestId,
    fingerprint: Fingerprint,
) -> Result<Option<String>, IdempotencyError> {
    let found: Option<(i64, String)> = sqlx::query_as(
        "select fingerprint, resource from flatgov_idempotency
          where subject = $1 and method = $2 and request_id = $3",
    )
    .bind(subject(access))
    .bind(access.method())
    .bind(request_id.as_str())
    .fetch_optional(connection)
    .await?;
    match found {
        None => Ok(None),
        Some((stored, resource)) if stored == fingerprint.0 => Ok(Some(resource)),
        Some(_) => Err(IdempotencyError::Reused(request_id.to_string())),
    }
}

/// Remembers, inside the transaction that created `resource`, that this
/// caller's `request_id` made it. A unique violation means another call
/// with the same id won the race: roll back and [`recall`].
pub async fn remember(
    connection: &mut PgConnection,
    access: &Access,
    request_id: &RequestId,
    fingerprint: Fingerprint,
    resource: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into flatgov_idempotency (subject, method, request_id, fingerprint, resource)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(subject(access))
    .bind(access.method())
    .bind(request_id.as_str())
    .bind(fingerprint.0)
    .bind(resource)
    .execute(connection)
    .await?;
    Ok(())
}

/// Forgets ids older than `days`: a retry comes within minutes; a week
/// covers any client's retry budget many times over.
pub async fn forget_older_than(pool: &sqlx::PgPool, days: u32) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "delete from flatgov_idempotency where created_at < now() - make_interval(days => $1)",
    )
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_has_the_same_fingerprint_and_other_content_another() {
        let first = prost_types::Duration {
            seconds: 3,
            nanos: 0,
        };
        let retry = first;
        let other = prost_types::Duration {
            seconds: 4,
            nanos: 0,
        };
        assert_eq!(Fingerprint::of(&first), Fingerprint::of(&retry));
        assert_ne!(Fingerprint::of(&first), Fingerprint::of(&other));
    }
}
