//! Joint participation in deliberation (the fifth mechanism): proposals
//! drafted by one member organisation, co-signed by others, submitted,
//! answered.
//!
//! Drafts are the federation's working documents: its staff and district
//! administrators see them, integrators (granted district-wide reading
//! like administrators) only what was submitted. Only the drafter submits
//! and records the answer.

use chrono::{DateTime, Utc};
use flatgov_auth::Role;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{App, Page, Retry, claim, commit, recall};
use crate::access::{self, Actor};
use crate::domain::codes::{Collection, OrganisationCode};
use crate::domain::kinds::{Addressee, ProposalState, ResponseKind, require_state};
use crate::error::{Error, Result};
use crate::events;
use crate::store::proposals::{self as store, ProposalFilter, ProposalRow, SignatureRow};

/// A proposal drafted for the caller's organisation.
#[derive(Debug)]
pub struct NewProposal {
    pub title: String,
    pub body: String,
    pub addressee: Addressee,
    pub session: String,
    pub retry: Option<Retry>,
}

/// The answer a proposal received.
#[derive(Debug)]
pub struct Answer {
    pub kind: ResponseKind,
    pub responder: String,
    pub text: String,
    pub answered_at: DateTime<Utc>,
}

/// A page of proposals, filtered.
#[derive(Debug)]
pub struct ListProposals {
    pub organisation: Option<OrganisationCode>,
    pub state: Option<ProposalState>,
    pub addressee: Option<Addressee>,
    pub page: Page<Uuid>,
}

/// Proposals with their co-signatures.
#[derive(Debug)]
pub struct Proposals {
    pub rows: Vec<ProposalRow>,
    pub signatures: Vec<SignatureRow>,
}

fn name(id: Uuid) -> String {
    Collection::Proposals.name(id)
}

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", name(id)))
}

/// Whether the caller sees drafts: the federation's staff and district
/// administrators.
fn sees_drafts(access: &Access) -> bool {
    access
        .caller()
        .is_some_and(|caller| caller.has_any_role(&[Role::FederationStaff, Role::DistrictAdmin]))
}

async fn with_signatures(
    connection: &mut PgConnection,
    rows: Vec<ProposalRow>,
) -> Result<Proposals> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let signatures = store::signatures(connection, &ids).await?;
    Ok(Proposals { rows, signatures })
}

async fn load(connection: &mut PgConnection, id: Uuid) -> Result<Proposals> {
    let row = store::get(connection, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    with_signatures(connection, vec![row]).await
}

/// The proposal, NOT_FOUND unless the caller sees it.
async fn visible(connection: &mut PgConnection, access: &Access, id: Uuid) -> Result<Proposals> {
    let row = store::get(connection, id)
        .await?
        .filter(|row| row.state != ProposalState::Draft.as_str() || sees_drafts(access))
        .ok_or_else(|| not_found(id))?;
    with_signatures(connection, vec![row]).await
}

async fn replay(app: &App, access: &Access, remembered: &str) -> Result<Proposals> {
    let id = Collection::Proposals
        .parse(remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered proposal: {invalid}")))?;
    let mut connection = app.connection("reading a proposal").await?;
    visible(&mut connection, access, id).await
}

pub async fn create(app: &App, access: &Access, proposal: NewProposal) -> Result<Proposals> {
    if let Some(remembered) = recall(app, access, proposal.retry.as_ref()).await? {
        return replay(app, access, &remembered).await;
    }
    let mut transaction = app.begin("drafting a proposal").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let id = Uuid::now_v7();
    if let Some(winner) = claim(
        app,
        &mut transaction,
        access,
        proposal.retry.as_ref(),
        &name(id),
    )
    .await?
    {
        drop(transaction);
        return replay(app, access, &winner).await;
    }
    let row = store::insert(
        &mut transaction,
        &store::NewProposal {
            id,
            title: &proposal.title,
            body: &proposal.body,
            drafting_organisation: actor.organisation.as_str(),
            addressee: proposal.addressee.as_str(),
            session: &proposal.session,
            drafted_by: &actor.subject,
        },
    )
    .await?;
    access.audit().resource(name(id));
    commit(transaction, access, "drafting a proposal").await?;
    Ok(Proposals {
        rows: vec![row],
        signatures: Vec::new(),
    })
}

/// Co-signs a draft for `organisation` (default: the caller's own, and it
/// must be). Only member organisations co-sign, and not the drafter.
pub async fn co_sign(
    app: &App,
    access: &Access,
    id: Uuid,
    organisation: Option<OrganisationCode>,
) -> Result<Proposals> {
    let mut transaction = app.begin("co-signing a proposal").await?;
    // Only member organisations co-sign: a named outsider is bad input
    // whoever asks.
    if let Some(named) = &organisation {
        let mut membership = Violations::new();
        for (field, problem) in access::inactive_or_unknown(
            &mut transaction,
            &[("organisation".to_owned(), named.clone())],
        )
        .await?
        {
            membership.add(
                field,
                format!("{problem}; only member organisations co-sign"),
            );
        }
        membership.finish()?;
    }
    let actor = access::actor(&mut transaction, access).await?;
    let organisation = organisation.unwrap_or_else(|| actor.organisation.clone());
    if organisation != actor.organisation {
        return Err(Error::PermissionDenied(format!(
            "staff of {} sign only for {}, not for {organisation}",
            actor.organisation, actor.organisation
        )));
    }
    let row = store::lock(&mut transaction, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(name(id));
    require_state(
        "proposal",
        ProposalState::from_stored(&row.state)?,
        &[ProposalState::Draft],
        "co-signed",
    )
    .map_err(Error::FailedPrecondition)?;
    if row.drafting_organisation == organisation.as_str() {
        return Err(Error::invalid(
            "organisation",
            format!(
                "{organisation} drafted the proposal; the drafter does not co-sign its own proposal"
            ),
        ));
    }
    if !store::sign(&mut transaction, id, organisation.as_str(), &actor.subject).await? {
        return Err(Error::AlreadyExists {
            message: format!("{organisation} has co-signed {} already", name(id)),
            resource: Some(name(id)),
        });
    }
    let answer = load(&mut transaction, id).await?;
    commit(transaction, access, "co-signing a proposal").await?;
    tracing::info!(proposal = %id, organisation = %organisation, "proposal co-signed");
    Ok(answer)
}

/// Locks a proposal the caller's organisation drafted. Every proposal is
/// seen by the federation's staff, so another organisation's is
/// PERMISSION_DENIED.
async fn drafted(
    connection: &mut PgConnection,
    access: &Access,
    actor: &Actor,
    id: Uuid,
) -> Result<ProposalRow> {
    let row = store::lock(connection, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(name(id));
    if row.drafting_organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(format!(
            "only the organisation that drafted {} changes it",
            name(id)
        )));
    }
    Ok(row)
}

pub async fn submit(app: &App, access: &Access, id: Uuid) -> Result<Proposals> {
    let mut transaction = app.begin("submitting a proposal").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = drafted(&mut transaction, access, &actor, id).await?;
    require_state(
        "proposal",
        ProposalState::from_stored(&row.state)?,
        &[ProposalState::Draft],
        "submitted",
    )
    .map_err(Error::FailedPrecondition)?;
    let now = app.clock.now();
    store::submit(&mut transaction, id, now).await?;
    let co_signers: Vec<String> = store::signatures(&mut transaction, &[id])
        .await?
        .into_iter()
        .map(|signature| signature.organisation)
        .collect();
    let count = co_signers.len();
    events::proposal_submitted(&mut transaction, &row, co_signers, now).await?;
    let answer = load(&mut transaction, id).await?;
    commit(transaction, access, "submitting a proposal").await?;
    tracing::info!(proposal = %id, organisation = %actor.organisation, co_signers = count, "proposal submitted");
    Ok(answer)
}

pub async fn record_answer(
    app: &App,
    access: &Access,
    id: Uuid,
    answer: Answer,
) -> Result<Proposals> {
    let mut transaction = app.begin("recording a proposal's answer").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = drafted(&mut transaction, access, &actor, id).await?;
    require_state(
        "proposal",
        ProposalState::from_stored(&row.state)?,
        &[ProposalState::Submitted],
        "answered",
    )
    .map_err(Error::FailedPrecondition)?;
    if let Some(submitted_at) = row.submitted_at
        && answer.answered_at < submitted_at
    {
        return Err(Error::invalid(
            "answer_time",
            "lies before the proposal was submitted",
        ));
    }
    store::answer(
        &mut transaction,
        id,
        &store::Answer {
            kind: answer.kind.as_str(),
            responder: &answer.responder,
            text: &answer.text,
            answered_at: answer.answered_at,
            recorded_by: &actor.subject,
        },
    )
    .await?;
    events::proposal_answered(
        &mut transaction,
        &row,
        answer.kind.as_str(),
        answer.answered_at,
    )
    .await?;
    let answered = load(&mut transaction, id).await?;
    commit(transaction, access, "recording a proposal's answer").await?;
    Ok(answered)
}

pub async fn get(app: &App, access: &Access, id: Uuid) -> Result<Proposals> {
    let mut connection = app.connection("reading a proposal").await?;
    visible(&mut connection, access, id).await
}

pub async fn list(app: &App, access: &Access, query: &ListProposals) -> Result<Proposals> {
    let filter = ProposalFilter {
        organisation: query
            .organisation
            .as_ref()
            .map(|code| code.as_str().to_owned()),
        state: query.state.map(|state| state.as_str().to_owned()),
        visible_states: (!sees_drafts(access)).then(|| {
            [ProposalState::Submitted, ProposalState::Answered]
                .iter()
                .map(|state| state.as_str().to_owned())
                .collect()
        }),
        addressee: query
            .addressee
            .map(|addressee| addressee.as_str().to_owned()),
        after: query.page.after,
    };
    let mut connection = app.connection("listing proposals").await?;
    let rows = store::list(&mut connection, &filter, query.page.limit).await?;
    with_signatures(&mut connection, rows).await
}
