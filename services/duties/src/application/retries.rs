//! Retried creates (`request_id`) through the chassis' caller-scoped
//! idempotency: an id answers only the caller (token subject) and method
//! that sent it, and the same id with other content is refused naming
//! `request_id`. A replay names the resource the first call created; the
//! use case re-reads it through the same visibility checks as any read.

use flatgov_auth::policy::Access;
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::request_id::RequestId;
use sqlx::{PgConnection, PgPool};

use crate::error::Error;
use crate::store::DatabaseContext as _;

/// A create's request id, with the fingerprint of the request it came in.
#[derive(Debug, Clone)]
pub struct Retry {
    request_id: RequestId,
    fingerprint: Fingerprint,
}

impl Retry {
    /// `None` when the caller sent no request id: every call creates.
    pub fn of(request_id: Option<RequestId>, request: &impl prost::Message) -> Option<Self> {
        request_id.map(|request_id| Self {
            request_id,
            fingerprint: Fingerprint::of(request),
        })
    }
}

/// The resource an earlier call of this caller created with `retry`'s
/// request id; INVALID_ARGUMENT naming `request_id` when that call's
/// content differed.
pub async fn recall(
    pool: &PgPool,
    access: &Access,
    retry: Option<&Retry>,
) -> Result<Option<String>, Error> {
    let Some(retry) = retry else {
        return Ok(None);
    };
    let mut connection = pool.acquire().await.context("recalling a request id")?;
    recall_in(&mut connection, access, Some(retry)).await
}

/// [`recall`] through the caller's connection: inside a transaction that
/// holds a lock serialising the creates, so no retry can race it.
pub async fn recall_in(
    connection: &mut PgConnection,
    access: &Access,
    retry: Option<&Retry>,
) -> Result<Option<String>, Error> {
    let Some(retry) = retry else {
        return Ok(None);
    };
    idempotency::recall(connection, access, &retry.request_id, retry.fingerprint)
        .await
        .map_err(Error::from)
}

/// Whether this call is the first with its request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    /// It is (or sent no id): go on creating.
    First,
    /// A concurrent call with the same id committed first: roll back and
    /// [`recall`] what it created.
    LostRace,
}

/// Remembers, in the transaction that creates `resource`, that this
/// caller's request id made it. Done before the create's own writes, so a
/// concurrent retry waits here for the first call and then loses.
pub async fn remember(
    connection: &mut PgConnection,
    access: &Access,
    retry: Option<&Retry>,
    resource: &str,
) -> Result<Remembered, Error> {
    let Some(retry) = retry else {
        return Ok(Remembered::First);
    };
    match idempotency::remember(
        connection,
        access,
        &retry.request_id,
        retry.fingerprint,
        resource,
    )
    .await
    {
        Ok(()) => Ok(Remembered::First),
        Err(error) if flatgov_grpc::error::is_unique_violation(&error) => Ok(Remembered::LostRace),
        Err(source) => Err(Error::database("remembering a request id", source)),
    }
}
