//! The use cases: what each call does, from a parsed command to the records
//! it answers with, knowing nothing of the wire. The authorization layer has
//! already decided the caller's role; the use cases check the place of what
//! they load, note the resources they touch for the audit trail and record
//! writes' audit in their own transaction.

pub mod feedback;
pub mod gateways;
pub mod indicators;
pub mod notices;
pub mod templates;

use std::sync::Arc;

use flatgov_auth::policy::Access;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;

use crate::blocks::BlocksClient;
use crate::policy::POLICY;
use crate::store::{DatabaseContext as _, StoreError};

/// What every use case works with.
#[derive(Clone)]
pub struct Notices {
    /// The service's own database.
    pub pool: PgPool,
    /// Wakes the notice delivery workers after a notice was created.
    pub notice_wake: Arc<Notify>,
    /// The block registry, which counts a notice's audience.
    pub blocks: BlocksClient,
    /// How soon after its case event a message counts as on time.
    pub feedback_on_time: std::time::Duration,
}

/// Appends the call's audit record inside the transaction that makes its
/// change, so the two commit together.
pub(crate) async fn record_audit(
    connection: &mut PgConnection,
    access: &Access,
    context: &'static str,
) -> Result<(), StoreError> {
    flatgov_grpc::authz::record_in_transaction(connection, access, POLICY.service)
        .await
        .context(context)
}
