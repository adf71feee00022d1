//! Rights-protection requests, their routing table and their actions.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, Result};
use uuid::Uuid;

/// The organisation that protects `category`, from table `rights_routes`.
pub async fn route(connection: &mut PgConnection, category: &str) -> Result<Option<String>> {
    sqlx::query_scalar("select organisation from rights_routes where category = $1")
        .bind(category)
        .fetch_optional(connection)
        .await
        .context("routing a rights request")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RightsRequestRow {
    pub id: Uuid,
    pub category: String,
    pub channel: String,
    pub organisation: String,
    pub recorded_by_organisation: String,
    pub recorded_by: String,
    pub description: String,
    pub requester_name: String,
    pub requester_phone: String,
    pub block_code: Option<String>,
    pub case_name: Option<String>,
    pub state: String,
    pub outcome: Option<String>,
    pub outcome_note: String,
    pub received_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, category, channel, organisation, recorded_by_organisation, recorded_by, description,
    requester_name, requester_phone, block_code, case_name, state, outcome, outcome_note, received_at,
    resolved_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RightsActionRow {
    pub rights_request: Uuid,
    pub kind: String,
    pub organisation: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub note: String,
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<RightsRequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from rights_requests where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a rights request")
}

pub async fn lock(connection: &mut PgConnection, id: Uuid) -> Result<Option<RightsRequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from rights_requests where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("locking a rights request")
}

pub async fn actions(
    connection: &mut PgConnection,
    requests: &[Uuid],
) -> Result<Vec<RightsActionRow>> {
    sqlx::query_as(
        "select rights_request, kind, organisation, recorded_by, recorded_at, note
         from rights_actions where rights_request = any($1) order by recorded_at, id",
    )
    .bind(requests)
    .fetch_all(connection)
    .await
    .context("reading rights actions")
}

pub struct NewRightsRequest<'a> {
    pub id: Uuid,
    pub category: &'a str,
    pub channel: &'a str,
    pub organisation: &'a str,
    pub recorded_by_organisation: &'a str,
    pub recorded_by: &'a str,
    pub description: &'a str,
    pub requester_name: &'a str,
    pub requester_phone: &'a str,
    pub block_code: Option<&'a str>,
    pub case_name: Option<&'a str>,
}

pub async fn insert(
    connection: &mut PgConnection,
    request: &NewRightsRequest<'_>,
) -> Result<RightsRequestRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into rights_requests (id, category, channel, organisation, recorded_by_organisation, recorded_by, description, requester_name, requester_phone, block_code, case_name)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         returning {COLUMNS}"
    )))
    .bind(request.id)
    .bind(request.category)
    .bind(request.channel)
    .bind(request.organisation)
    .bind(request.recorded_by_organisation)
    .bind(request.recorded_by)
    .bind(request.description)
    .bind(request.requester_name)
    .bind(request.requester_phone)
    .bind(request.block_code)
    .bind(request.case_name)
    .fetch_one(connection)
    .await
    .context("recording a rights request")
}

pub async fn insert_action(
    connection: &mut PgConnection,
    request: Uuid,
    kind: &str,
    organisation: &str,
    recorded_by: &str,
    note: &str,
) -> Result<()> {
    sqlx::query(
        "insert into rights_actions (id, rights_request, kind, organisation, recorded_by, note)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(request)
    .bind(kind)
    .bind(organisation)
    .bind(recorded_by)
    .bind(note)
    .execute(connection)
    .await
    .context("recording a rights action")?;
    Ok(())
}

/// Applies a change to the request's row.
pub enum Change<'a> {
    /// A step was recorded: received becomes in progress.
    Progress,
    Transfer {
        organisation: &'a str,
    },
    LinkCase {
        case_name: &'a str,
    },
    Resolve {
        outcome: &'a str,
        note: &'a str,
        at: DateTime<Utc>,
    },
}

pub async fn apply(connection: &mut PgConnection, id: Uuid, change: Change<'_>) -> Result<()> {
    let query = match change {
        Change::Progress => sqlx::query(
            "update rights_requests set state = 'in_progress', updated_at = now()
             where id = $1 and state = 'received'",
        )
        .bind(id),
        Change::Transfer { organisation } => {
            sqlx::query("update rights_requests set organisation = $2, updated_at = now() where id = $1")
                .bind(id)
                .bind(organisation)
        }
        Change::LinkCase { case_name } => {
            sqlx::query("update rights_requests set case_name = $2, updated_at = now() where id = $1")
                .bind(id)
                .bind(case_name)
        }
        Change::Resolve { outcome, note, at } => sqlx::query(
            "update rights_requests set state = 'resolved', outcome = $2, outcome_note = $3, resolved_at = $4,
                                        updated_at = now()
             where id = $1",
        )
        .bind(id)
        .bind(outcome)
        .bind(note)
        .bind(at),
    };
    query
        .execute(connection)
        .await
        .context("changing a rights request")?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct RightsFilter {
    /// The caller's organisation: requests it handles or recorded.
    pub involving: String,
    pub organisation: Option<String>,
    pub category: Option<String>,
    pub state: Option<String>,
    pub case_name: Option<String>,
    pub after: Option<Uuid>,
}

/// Newest first.
pub async fn list(
    connection: &mut PgConnection,
    filter: &RightsFilter,
    limit: i64,
) -> Result<Vec<RightsRequestRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from rights_requests
         where (organisation = $1 or recorded_by_organisation = $1)
           and ($2::text is null or organisation = $2)
           and ($3::text is null or category = $3)
           and ($4::text is null or state = $4)
           and ($5::text is null or case_name = $5)
           and ($6::uuid is null or id < $6)
         order by id desc limit $7"
    )))
    .bind(&filter.involving)
    .bind(&filter.organisation)
    .bind(&filter.category)
    .bind(&filter.state)
    .bind(&filter.case_name)
    .bind(filter.after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing rights requests")
}
