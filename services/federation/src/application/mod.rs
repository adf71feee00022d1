//! The use cases: what each call does, between the transport (which parses
//! requests into the commands declared here and renders what comes back)
//! and the store. Nothing here knows the protos: commands in, rows out,
//! errors as [`crate::error::Error`].
//!
//! Every use case takes the [`Access`] the policy layer granted and checks
//! the data scopes the table cannot (whose activity, whose person), writes
//! in one transaction with its events and its audit record
//! ([`commit`]), and answers a retried create with its first result
//! ([`Retry`], through the chassis' caller-scoped request ids).

pub mod activities;
pub mod applications;
pub mod assessments;
pub mod indicators;
pub mod mentors;
pub mod organisations;
pub mod people;
pub mod privacy;
pub mod programmes;
pub mod proposals;
pub mod referrals;
pub mod registrations;
pub mod rights;
pub mod series;
pub mod sharing;
pub mod staff;
pub mod support_plans;

use std::sync::Arc;

use flatgov_auth::policy::Access;
use flatgov_grpc::clock::Clock;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::request_id::RequestId;
use sqlx::{PgConnection, PgPool};

use crate::domain::identity::IdentityHasher;
use crate::error::{Error, Result};
use crate::policy::POLICY;

/// What every use case works with.
#[derive(Clone)]
pub struct App {
    /// The service's own database.
    pool: PgPool,
    /// Turns ID numbers into identity keys for the register of people.
    identity: Arc<IdentityHasher>,
    /// Where the time of every change comes from.
    clock: Clock,
}

impl App {
    pub fn new(pool: PgPool, identity: Arc<IdentityHasher>, clock: Clock) -> Self {
        Self {
            pool,
            identity,
            clock,
        }
    }

    /// The time now, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    async fn begin(
        &self,
        context: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(Error::database(context))
    }

    async fn connection(
        &self,
        context: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        self.pool.acquire().await.map_err(Error::database(context))
    }
}

/// A create call's request id and what its request said: a retry by the
/// same caller with the same content answers with the first result.
#[derive(Debug, Clone)]
pub struct Retry {
    /// The caller's idempotency key.
    request_id: RequestId,
    /// The request as the caller sent it, reduced to a number.
    fingerprint: Fingerprint,
}

impl Retry {
    /// `None` when the request carries no request id.
    pub fn of(request_id: Option<RequestId>, fingerprint: Fingerprint) -> Option<Self> {
        request_id.map(|request_id| Self {
            request_id,
            fingerprint,
        })
    }
}

/// A page of a list: resume after `after`, fetch at most `limit` rows (one
/// more than the page, so the transport knows whether another follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<K> {
    /// The sort key of the last row of the previous page.
    pub after: Option<K>,
    /// Rows to fetch.
    pub limit: i64,
}

/// A request whose references to other resources (member organisations,
/// series) are checked by its use case against the database: what parsed,
/// or every field violation found, and the references either way, so one
/// reply names every problem.
#[derive(Debug)]
pub struct Checked<F, R> {
    /// The request's own fields, or what was wrong with them.
    pub fields: std::result::Result<F, Violations>,
    /// What it names elsewhere, parsed as far as it could be.
    pub references: R,
}

impl<F, R> Checked<F, R> {
    /// The fields, once `found` (the references' problems) joined the
    /// parse's: INVALID_ARGUMENT naming all of them if any.
    pub fn into_fields(self, found: Violations) -> Result<F> {
        match self.fields {
            Ok(fields) if found.is_empty() => Ok(fields),
            Ok(_) => Err(found.into()),
            Err(mut violations) => {
                violations.extend(found.into_vec());
                Err(violations.into())
            }
        }
    }
}

/// The resource an earlier call of this caller made under the same request
/// id, which the use case reads again through the caller's current access.
/// INVALID_ARGUMENT naming `request_id` when that call said something else.
pub(crate) async fn recall(
    app: &App,
    access: &Access,
    retry: Option<&Retry>,
) -> Result<Option<String>> {
    let Some(retry) = retry else {
        return Ok(None);
    };
    let mut connection = app.connection("reading a retried request").await?;
    Ok(idempotency::recall(
        &mut connection,
        access,
        &retry.request_id,
        retry.fingerprint,
    )
    .await?)
}

/// Claims the request id for `resource` in the transaction that creates
/// it. When a call with the same id committed first, the transaction is
/// spent and the answer is the name of what that call made, for the use
/// case to read again and return.
pub(crate) async fn claim(
    app: &App,
    transaction: &mut PgConnection,
    access: &Access,
    retry: Option<&Retry>,
    resource: &str,
) -> Result<Option<String>> {
    let Some(retry) = retry else {
        return Ok(None);
    };
    let remembered = idempotency::remember(
        transaction,
        access,
        &retry.request_id,
        retry.fingerprint,
        resource,
    )
    .await;
    match remembered {
        Ok(()) => Ok(None),
        Err(error) if flatgov_grpc::error::is_unique_violation(&error) => {
            recall(app, access, Some(retry))
                .await?
                .map(Some)
                .ok_or(Error::ConcurrentRetry)
        }
        Err(error) => Err(Error::database("remembering a request id")(error)),
    }
}

/// Writes the call's audit record inside `transaction` (with the resources
/// the use case noted), then commits, so the record and the change stand
/// or fall together.
pub(crate) async fn commit(
    mut transaction: sqlx::Transaction<'static, sqlx::Postgres>,
    access: &Access,
    context: &'static str,
) -> Result<()> {
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .map_err(Error::database("recording the audit trail"))?;
    transaction.commit().await.map_err(Error::database(context))
}

/// The caller's token subject (empty for an anonymous call).
pub(crate) fn subject(access: &Access) -> String {
    access
        .caller()
        .map(|caller| caller.subject.clone())
        .unwrap_or_default()
}
