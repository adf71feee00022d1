//! The use cases: what each call does once its request is parsed, in
//! terms of the domain and the store. Nothing here knows the API's
//! messages; handlers in `crate::grpc` parse requests into the commands
//! declared here and render what the use cases return.
//!
//! Every use case that reaches a resource checks the caller's scope once
//! the resource is loaded (`crate::access`) and answers one out of reach
//! exactly as one that does not exist. Every write appends its audit
//! record in its own transaction, so the record commits with the change.

pub mod actions;
pub mod duty;
pub mod indicators;
pub mod operations;
pub mod registry;
pub mod whistle;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::clock::Clock;
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::request_id::RequestId;
use sqlx::PgPool;
use uuid::Uuid;

use crate::access;
use crate::config::Settings;
use crate::domain::{Command, Operation, OperationName};
use crate::duties::DutiesClient;
use crate::error::Error;
use crate::events;
use crate::policy::POLICY;
use crate::store::{self, OperationRecord, Tx};

/// The enforcement service's use cases and what they need.
pub struct Enforcement {
    /// The service's database (as the application role).
    pub pool: PgPool,
    /// Report-in limits, default agencies, patience with the duty lists.
    pub settings: Arc<Settings>,
    /// Whom a matter belongs to, and which departments exist.
    pub duties: DutiesClient,
    /// Where the time of every change comes from.
    pub clock: Clock,
}

/// What makes a create safe to retry: the caller's request id and the
/// fingerprint of what it asked.
#[derive(Debug, Clone)]
pub struct Retry {
    /// The caller's id for the request.
    pub request_id: RequestId,
    /// The request's content, reduced to a number.
    pub fingerprint: Fingerprint,
}

/// What a call that lost a race on its request id tells the caller.
fn lost_race() -> Error {
    Error::Aborted(
        "another call with the same request_id was being made at the same time; retry".into(),
    )
}

/// Remembers, in the transaction that created `resource`, that this
/// caller's request id made it; false when a concurrent call with the
/// same id won (the transaction is then spoiled: drop it and recall).
async fn remember(
    transaction: &mut Tx,
    access: &Access,
    retry: Option<&Retry>,
    resource: &str,
) -> Result<bool, Error> {
    let Some(retry) = retry else {
        return Ok(true);
    };
    match idempotency::remember(
        transaction,
        access,
        &retry.request_id,
        retry.fingerprint,
        resource,
    )
    .await
    {
        Ok(()) => Ok(true),
        Err(error) if flatgov_grpc::error::is_unique_violation(&error) => Ok(false),
        Err(source) => Err(Error::Database {
            context: "remembering the request id",
            source,
        }),
    }
}

/// An operation locked for a change the caller reaches.
struct Locked {
    transaction: Tx,
    operation: Operation,
}

impl Enforcement {
    /// The resource this caller's earlier call created under the same
    /// request id, if any; INVALID_ARGUMENT naming `request_id` when that
    /// call's content differed.
    async fn recall(
        &self,
        access: &Access,
        retry: Option<&Retry>,
    ) -> Result<Option<String>, Error> {
        let Some(retry) = retry else {
            return Ok(None);
        };
        let mut connection = store::connection(&self.pool).await?;
        Ok(idempotency::recall(
            &mut connection,
            access,
            &retry.request_id,
            retry.fingerprint,
        )
        .await?)
    }

    /// After losing a race on the request id: what the winner created.
    async fn recall_winner(&self, access: &Access, retry: Option<&Retry>) -> Result<String, Error> {
        self.recall(access, retry).await?.ok_or_else(lost_race)
    }

    /// Appends the call's audit record and commits: the record and the
    /// change commit together.
    async fn commit(&self, mut transaction: Tx, access: &Access) -> Result<(), Error> {
        flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
            .await
            .map_err(|source| Error::Database {
                context: "recording the audit trail",
                source,
            })?;
        Ok(store::commit(transaction).await?)
    }

    /// The operation as the caller may see it; NOT_FOUND when it does not
    /// exist or the caller does not reach it.
    pub async fn operation(&self, access: &Access, id: Uuid) -> Result<OperationRecord, Error> {
        let mut connection = store::connection(&self.pool).await?;
        store::load_operation(&mut connection, id)
            .await?
            .filter(|record| access::reaches_operation(access, record.place(), &record.summoned()))
            .ok_or_else(|| Error::not_found(format!("operations/{id}")))
    }

    /// The operation a remembered resource name names, as the caller may
    /// see it now.
    async fn operation_named(
        &self,
        access: &Access,
        resource: &str,
    ) -> Result<OperationRecord, Error> {
        let name = OperationName::parse(resource).map_err(|_| lost_race())?;
        self.operation(access, name.0).await
    }

    /// Locks the operation for a change; NOT_FOUND when it does not exist
    /// or the caller does not reach it.
    async fn lock(&self, access: &Access, name: &OperationName) -> Result<Locked, Error> {
        access.audit().resource(name.to_string());
        let mut transaction = store::begin(&self.pool).await?;
        let operation = store::lock_operation(&mut transaction, name.0)
            .await?
            .filter(|operation| {
                let summoned: Vec<&str> =
                    operation.summoned().map(|agency| agency.as_str()).collect();
                access::reaches_operation(access, operation.facts().place(), &summoned)
            })
            .ok_or_else(|| Error::not_found(name))?;
        Ok(Locked {
            transaction,
            operation,
        })
    }

    /// Applies `command` as the caller, saves and publishes what it
    /// records with the audit record, commits, and reads the operation
    /// back as the caller may see it.
    async fn change(
        &self,
        access: &Access,
        locked: Locked,
        command: Command,
        at: DateTime<Utc>,
    ) -> Result<OperationRecord, Error> {
        let Locked {
            mut transaction,
            mut operation,
        } = locked;
        let records = operation.apply(access::subject(access), command, at)?;
        store::save(&mut transaction, operation.facts(), at, &records).await?;
        events::publish(&mut transaction, operation.facts(), at, &records).await?;
        self.commit(transaction, access).await?;
        self.operation(access, operation.facts().id).await
    }
}
