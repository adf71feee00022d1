//! Requests to share a person's record with another member organisation.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, Result};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SharingRequestRow {
    pub id: Uuid,
    pub person: Uuid,
    pub requesting_organisation: String,
    pub requested_by: String,
    pub reason: String,
    pub consent_method: String,
    pub consent_given_at: DateTime<Utc>,
    pub consent_document_reference: String,
    pub consent_guardian_name: String,
    pub state: String,
    pub decided_by_organisation: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decline_reason: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, person, requesting_organisation, requested_by, reason, consent_method,
    consent_given_at, consent_document_reference, consent_guardian_name, state,
    decided_by_organisation, decided_by, decided_at, decline_reason, created_at";

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<SharingRequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from sharing_requests where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a sharing request")
}

/// The request, locked for the rest of the transaction.
pub async fn lock(connection: &mut PgConnection, id: Uuid) -> Result<Option<SharingRequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from sharing_requests where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("locking a sharing request")
}

/// The pending request of `organisation` for `person`, if any.
pub async fn pending_for(
    connection: &mut PgConnection,
    person: Uuid,
    organisation: &str,
) -> Result<Option<Uuid>> {
    sqlx::query_scalar(
        "select id from sharing_requests
          where person = $1 and requesting_organisation = $2 and state = 'pending'",
    )
    .bind(person)
    .bind(organisation)
    .fetch_optional(connection)
    .await
    .context("reading pending sharing requests")
}

pub struct NewSharingRequest<'a> {
    pub id: Uuid,
    pub person: Uuid,
    pub requesting_organisation: &'a str,
    pub requested_by: &'a str,
    pub reason: &'a str,
    pub consent_method: &'a str,
    pub consent_given_at: DateTime<Utc>,
    pub consent_document_reference: &'a str,
    pub consent_guardian_name: &'a str,
}

pub async fn insert(
    connection: &mut PgConnection,
    request: &NewSharingRequest<'_>,
) -> Result<SharingRequestRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into sharing_requests (id, person, requesting_organisation, requested_by, reason,
                                       consent_method, consent_given_at, consent_document_reference,
                                       consent_guardian_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning {COLUMNS}"
    )))
    .bind(request.id)
    .bind(request.person)
    .bind(request.requesting_organisation)
    .bind(request.requested_by)
    .bind(request.reason)
    .bind(request.consent_method)
    .bind(request.consent_given_at)
    .bind(request.consent_document_reference)
    .bind(request.consent_guardian_name)
    .fetch_one(connection)
    .await
    .context("recording a sharing request")
}

/// Who decided a pending request, and how.
pub struct Decision<'a> {
    pub state: &'a str,
    pub organisation: &'a str,
    pub decided_by: &'a str,
    pub at: DateTime<Utc>,
    pub decline_reason: &'a str,
}

pub async fn decide(
    connection: &mut PgConnection,
    id: Uuid,
    decision: &Decision<'_>,
) -> Result<SharingRequestRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update sharing_requests
            set state = $2, decided_by_organisation = $3, decided_by = $4, decided_at = $5,
                decline_reason = $6
          where id = $1
         returning {COLUMNS}"
    )))
    .bind(id)
    .bind(decision.state)
    .bind(decision.organisation)
    .bind(decision.decided_by)
    .bind(decision.at)
    .bind(decision.decline_reason)
    .fetch_one(connection)
    .await
    .context("deciding a sharing request")
}

/// A request in a list, with whether the listing organisation holds the
/// person's record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedSharingRequest {
    #[sqlx(flatten)]
    pub request: SharingRequestRow,
    pub caller_holds_record: bool,
}

/// Requests `organisation` made, or concerning people it registered.
pub async fn list(
    connection: &mut PgConnection,
    organisation: &str,
    state: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ListedSharingRequest>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS},
                exists (select 1 from person_registrations r
                         where r.person = s.person and r.organisation = $1) as caller_holds_record
           from sharing_requests s
          where (s.requesting_organisation = $1
                 or exists (select 1 from person_registrations r
                             where r.person = s.person and r.organisation = $1))
            and ($2::text is null or s.state = $2)
            and ($3::uuid is null or s.id > $3)
          order by s.id limit $4"
    )))
    .bind(organisation)
    .bind(state)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing sharing requests")
}
