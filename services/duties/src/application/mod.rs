//! The use cases: what each call does, from a parsed command to the
//! records it answers with, knowing nothing of the wire. The transport
//! ([`crate::grpc`]) parses requests into commands and renders the results;
//! the authorization layer has already decided the caller's role, and the
//! use cases check the scope of what they load with `Access::reaches`,
//! narrow lists with [`flatgov_auth::policy::Reach`], note the resources they
//! touch for the audit trail and record it in their own transaction.

pub mod assessments;
pub mod assignments;
pub mod departments;
pub mod drafts;
pub mod exceptions;
pub mod lists;
pub mod matters;
pub mod opinions;
pub mod refusals;
pub mod responsibility;
pub mod retries;

use std::sync::Arc;

use flatgov_auth::policy::Access;
use flatgov_grpc::clock::Clock;
use flatgov_grpc::paging::{ListQuery, PageSize};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;

use crate::domain::ImportError;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::policy::POLICY;
use crate::rules::RulesCache;
use crate::store::{DatabaseContext as _, StoreError};

/// What every use case works with.
pub struct Duties {
    /// The service's own database.
    pub pool: PgPool,
    /// The rules as last read, shared by every call.
    pub rules: Arc<RulesCache>,
    /// The service's own Prometheus series.
    pub metrics: Metrics,
    /// Wakes the catalogue announcer after a commit scheduled an announcement.
    pub announcer: Arc<Notify>,
    /// Where the time of every read and change comes from.
    pub clock: Clock,
}

/// Which page of a list to read: rows after `after`, `size` of them (the
/// use case fetches one more, so the transport knows whether another page
/// follows), with the query its page tokens are bound to.
#[derive(Debug, Clone)]
pub struct Page<K> {
    /// Resume after the row with this key (`None`: from the start).
    pub after: Option<K>,
    pub size: PageSize,
    /// The list and its filters, which the next page's token is bound to.
    pub query: ListQuery,
}

impl<K> Page<K> {
    /// Rows to fetch: a page and one more.
    pub fn fetch_limit(&self) -> i64 {
        self.size.fetch_limit()
    }
}

pub use flatgov_grpc::paging::TimeKey;

/// A file's format, for the imports and exports of lists, departments and
/// the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    Csv,
    Json,
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

/// An import's problems as violations of the request's `content`, each
/// naming the row and column (or JSON path) it was found at.
pub(crate) fn import_violations(error: ImportError) -> Error {
    let mut violations = flatgov_grpc::error::Violations::new();
    for problem in error.problems {
        violations.add("content", problem);
    }
    Error::from(violations)
}
