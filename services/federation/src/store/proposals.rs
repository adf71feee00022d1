//! Joint proposals and their co-signatures.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, Result};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProposalRow {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub drafting_organisation: String,
    pub addressee: String,
    pub session: String,
    pub state: String,
    pub drafted_by: String,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub response_kind: Option<String>,
    pub responder: String,
    pub response_text: String,
    pub answered_at: Option<DateTime<Utc>>,
    pub response_recorded_by: Option<String>,
}

const COLUMNS: &str =
    "id, title, body, drafting_organisation, addressee, session, state, drafted_by, created_at,
    submitted_at, response_kind, responder, response_text, answered_at, response_recorded_by";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignatureRow {
    pub proposal: Uuid,
    pub organisation: String,
    pub signed_by: String,
    pub signed_at: DateTime<Utc>,
}

pub async fn get(connection: &mut PgConnection, id: Uuid) -> Result<Option<ProposalRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from proposals where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a proposal")
}

pub async fn lock(connection: &mut PgConnection, id: Uuid) -> Result<Option<ProposalRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from proposals where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("locking a proposal")
}

pub async fn signatures(
    connection: &mut PgConnection,
    proposals: &[Uuid],
) -> Result<Vec<SignatureRow>> {
    sqlx::query_as(
        "select proposal, organisation, signed_by, signed_at from proposal_signatures
         where proposal = any($1) order by signed_at, organisation",
    )
    .bind(proposals)
    .fetch_all(connection)
    .await
    .context("reading co-signatures")
}

pub struct NewProposal<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub body: &'a str,
    pub drafting_organisation: &'a str,
    pub addressee: &'a str,
    pub session: &'a str,
    pub drafted_by: &'a str,
}

pub async fn insert(
    connection: &mut PgConnection,
    proposal: &NewProposal<'_>,
) -> Result<ProposalRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into proposals (id, title, body, drafting_organisation, addressee, session, drafted_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning {COLUMNS}"
    )))
    .bind(proposal.id)
    .bind(proposal.title)
    .bind(proposal.body)
    .bind(proposal.drafting_organisation)
    .bind(proposal.addressee)
    .bind(proposal.session)
    .bind(proposal.drafted_by)
    .fetch_one(connection)
    .await
    .context("drafting a proposal")
}

/// `false` when the organisation signed already.
pub async fn sign(
    connection: &mut PgConnection,
    proposal: Uuid,
    organisation: &str,
    signed_by: &str,
) -> Result<bool> {
    let inserted = sqlx::query(
        "insert into proposal_signatures (proposal, organisation, signed_by) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(proposal)
    .bind(organisation)
    .bind(signed_by)
    .execute(connection)
    .await
    .context("co-signing a proposal")?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn submit(connection: &mut PgConnection, id: Uuid, at: DateTime<Utc>) -> Result<()> {
    sqlx::query("update proposals set state = 'submitted', submitted_at = $2 where id = $1")
        .bind(id)
        .bind(at)
        .execute(connection)
        .await
        .context("submitting a proposal")?;
    Ok(())
}

pub struct Answer<'a> {
    pub kind: &'a str,
    pub responder: &'a str,
    pub text: &'a str,
    pub answered_at: DateTime<Utc>,
    pub recorded_by: &'a str,
}

pub async fn answer(connection: &mut PgConnection, id: Uuid, answer: &Answer<'_>) -> Result<()> {
    sqlx::query(
        "update proposals set state = 'answered', response_kind = $2, responder = $3, response_text = $4,
                              answered_at = $5, response_recorded_by = $6
         where id = $1",
    )
    .bind(id)
    .bind(answer.kind)
    .bind(answer.responder)
    .bind(answer.text)
    .bind(answer.answered_at)
    .bind(answer.recorded_by)
    .execute(connection)
    .await.context("recording a proposal's answer")?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct ProposalFilter {
    pub organisation: Option<String>,
    pub state: Option<String>,
    pub visible_states: Option<Vec<String>>,
    pub addressee: Option<String>,
    pub after: Option<Uuid>,
}

/// Newest first.
pub async fn list(
    connection: &mut PgConnection,
    filter: &ProposalFilter,
    limit: i64,
) -> Result<Vec<ProposalRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from proposals p
         where ($1::text is null or p.drafting_organisation = $1
                or exists (select 1 from proposal_signatures s where s.proposal = p.id and s.organisation = $1))
           and ($2::text is null or p.state = $2)
           and ($3::text[] is null or p.state = any($3))
           and ($4::text is null or p.addressee = $4)
           and ($5::uuid is null or p.id < $5)
         order by p.id desc limit $6"
    )))
    .bind(&filter.organisation)
    .bind(&filter.state)
    .bind(&filter.visible_states)
    .bind(&filter.addressee)
    .bind(filter.after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing proposals")
}
