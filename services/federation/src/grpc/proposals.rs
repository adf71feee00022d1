//! Joint participation in deliberation (the fifth mechanism): proposals
//! drafted by one member organisation, co-signed by others, submitted,
//! answered.

use chrono::Utc;
use flatgov_auth::Role;
use flatgov_auth::policy::Access;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Checks, FederationService, ProtoWord, Retry, claim, commit, optional_word, past_time, recall,
    required_word,
};
use crate::access::{self, Actor};
use crate::domain::codes::{
    Collection, organisation_name, parse_organisation_reference, parse_request_id,
};
use crate::domain::kinds::{Addressee, ProposalState, ResponseKind, require_state};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::events::publish;
use crate::store::proposals::{
    self as store, Answer, NewProposal, ProposalFilter, ProposalRow, SignatureRow,
};

fn to_proto(row: ProposalRow, signatures: &[SignatureRow]) -> Result<proto::Proposal> {
    let response = match (&row.response_kind, row.answered_at) {
        (Some(kind), Some(answered_at)) => Some(proto::ProposalResponse {
            kind: ResponseKind::from_stored(kind)?.to_proto(),
            responder: row.responder.clone(),
            text: row.response_text.clone(),
            answer_time: Some(timestamp(answered_at)),
            recorded_by: row.response_recorded_by.clone().unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(proto::Proposal {
        name: Collection::Proposals.name(row.id),
        title: row.title,
        body: row.body,
        drafting_organisation: organisation_name(&row.drafting_organisation),
        addressee: Addressee::from_stored(&row.addressee)?.to_proto(),
        session: row.session,
        state: ProposalState::from_stored(&row.state)?.to_proto(),
        co_signatures: signatures
            .iter()
            .filter(|signature| signature.proposal == row.id)
            .map(|signature| proto::CoSignature {
                organisation: organisation_name(&signature.organisation),
                signed_by: signature.signed_by.clone(),
                sign_time: Some(timestamp(signature.signed_at)),
            })
            .collect(),
        response,
        drafted_by: row.drafted_by,
        create_time: Some(timestamp(row.created_at)),
        submit_time: optional_timestamp(row.submitted_at),
    })
}

async fn load(connection: &mut PgConnection, id: Uuid) -> Result<proto::Proposal> {
    let row = store::get(connection, id)
        .await
        .map_err(Error::database("reading a proposal"))?
        .ok_or_else(|| not_found(id))?;
    let signatures = store::signatures(connection, &[id])
        .await
        .map_err(Error::database("reading a proposal"))?;
    to_proto(row, &signatures)
}

/// Drafts are working documents of the federation: its staff and district
/// administrators see them; integrators (granted district-wide reading
/// like administrators) are narrowed to what was submitted.
fn sees_drafts(access: &Access) -> bool {
    access
        .caller()
        .is_some_and(|caller| caller.has_any_role(&[Role::FederationStaff, Role::DistrictAdmin]))
}

/// The proposal as the caller may see it: staff ids (who drafted, signed,
/// recorded the answer) are named to staff and administrators only.
fn render(access: &Access, mut proposal: proto::Proposal) -> proto::Proposal {
    if access::shows_staff_ids(access) {
        return proposal;
    }
    proposal.drafted_by.clear();
    for signature in &mut proposal.co_signatures {
        signature.signed_by.clear();
    }
    if let Some(response) = &mut proposal.response {
        response.recorded_by.clear();
    }
    proposal
}

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", Collection::Proposals.name(id)))
}

/// The proposal, NOT_FOUND unless the caller sees it (drafts: the
/// federation's staff and administrators).
async fn visible(
    connection: &mut PgConnection,
    access: &Access,
    id: Uuid,
) -> Result<proto::Proposal> {
    let answer = load(connection, id).await?;
    if answer.state == ProposalState::Draft.to_proto() && !sees_drafts(access) {
        return Err(not_found(id));
    }
    Ok(render(access, answer))
}

async fn replay(
    service: &FederationService,
    access: &Access,
    name: &str,
) -> Result<proto::Proposal> {
    let id = Collection::Proposals
        .parse(name)
        .map_err(|invalid| Error::Corrupt(format!("remembered proposal: {invalid}")))?;
    let mut connection = service.connection("reading a proposal").await?;
    visible(&mut connection, access, id).await
}

pub async fn create_proposal(
    service: &FederationService,
    access: &Access,
    request: proto::CreateProposalRequest,
) -> Result<proto::Proposal> {
    let fingerprint = Fingerprint::of(&request);
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let title = checks.check("title", text::required(&request.title, 200));
    let body = checks.check("body", text::required(&request.body, 20_000));
    let addressee: Option<Addressee> = checks.check("addressee", required_word(request.addressee));
    let session = checks.check("session", text::optional(&request.session, 100));
    checks.finish()?;
    let Some(addressee) = addressee else {
        return Err(Error::invalid("addressee", "must be set"));
    };
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        return replay(service, access, &name).await;
    }
    let mut transaction = service.begin("drafting a proposal").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let id = Uuid::now_v7();
    let name = Collection::Proposals.name(id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay(service, access, &winner).await;
    }
    let row = store::insert(
        &mut transaction,
        &NewProposal {
            id,
            title: &title,
            body: &body,
            drafting_organisation: actor.organisation.as_str(),
            addressee: addressee.as_str(),
            session: &session,
            drafted_by: &actor.subject,
        },
    )
    .await
    .map_err(Error::database("drafting a proposal"))?;
    access.audit().resource(name);
    commit(transaction, access, "drafting a proposal").await?;
    Ok(render(access, to_proto(row, &[])?))
}

/// Locks a proposal the caller's organisation drafted. Every proposal is
/// seen by the federation's staff, so another organisation's is
/// PERMISSION_DENIED.
async fn drafted(
    connection: &mut PgConnection,
    access: &Access,
    actor: &Actor,
    name: &str,
) -> Result<ProposalRow> {
    let id = Collection::Proposals
        .parse(name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let row = store::lock(connection, id)
        .await
        .map_err(Error::database("reading a proposal"))?
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(Collection::Proposals.name(id));
    if row.drafting_organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(format!(
            "only the organisation that drafted {} changes it",
            Collection::Proposals.name(id)
        )));
    }
    Ok(row)
}

pub async fn co_sign_proposal(
    service: &FederationService,
    access: &Access,
    request: proto::CoSignProposalRequest,
) -> Result<proto::Proposal> {
    let mut checks = Checks::new();
    let id = checks.check("name", Collection::Proposals.parse(&request.name).map(Some));
    let named = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    checks.finish()?;
    let Some(id) = id else {
        return Err(Error::invalid("name", "must be set"));
    };
    let mut transaction = service.begin("co-signing a proposal").await?;
    // Only member organisations co-sign: a named outsider is bad input
    // whoever asks.
    if let Some(named) = &named {
        let mut membership = Checks::new();
        for (field, problem) in access::inactive_or_unknown(
            &mut transaction,
            &[("organisation".to_owned(), named.clone())],
        )
        .await?
        {
            membership.fail(
                field,
                format!("{problem}; only member organisations co-sign"),
            );
        }
        membership.finish()?;
    }
    let actor = access::actor(&mut transaction, access).await?;
    let organisation = named.unwrap_or_else(|| actor.organisation.clone());
    if organisation != actor.organisation {
        return Err(Error::PermissionDenied(format!(
            "staff of {} sign only for {}, not for {organisation}",
            actor.organisation, actor.organisation
        )));
    }
    let row = store::lock(&mut transaction, id)
        .await
        .map_err(Error::database("co-signing a proposal"))?
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(Collection::Proposals.name(id));
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
    if !store::sign(&mut transaction, id, organisation.as_str(), &actor.subject)
        .await
        .map_err(Error::database("co-signing a proposal"))?
    {
        return Err(Error::AlreadyExists {
            message: format!(
                "{organisation} has co-signed {} already",
                Collection::Proposals.name(id)
            ),
            resource: Some(Collection::Proposals.name(id)),
        });
    }
    let answer = load(&mut transaction, id).await?;
    commit(transaction, access, "co-signing a proposal").await?;
    tracing::info!(proposal = %id, organisation = %organisation, "proposal co-signed");
    Ok(render(access, answer))
}

pub async fn submit_proposal(
    service: &FederationService,
    access: &Access,
    request: proto::SubmitProposalRequest,
) -> Result<proto::Proposal> {
    let mut transaction = service.begin("submitting a proposal").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = drafted(&mut transaction, access, &actor, &request.name).await?;
    require_state(
        "proposal",
        ProposalState::from_stored(&row.state)?,
        &[ProposalState::Draft],
        "submitted",
    )
    .map_err(Error::FailedPrecondition)?;
    let now = Utc::now();
    store::submit(&mut transaction, row.id, now)
        .await
        .map_err(Error::database("submitting a proposal"))?;
    let signatures = store::signatures(&mut transaction, &[row.id])
        .await
        .map_err(Error::database("submitting a proposal"))?;
    let name = Collection::Proposals.name(row.id);
    publish(
        &mut transaction,
        &name,
        &proto::ProposalSubmitted {
            proposal: name.clone(),
            drafting_organisation: row.drafting_organisation.clone(),
            co_signers: signatures
                .iter()
                .map(|signature| signature.organisation.clone())
                .collect(),
            addressee: row.addressee.clone(),
            submitted_at: Some(timestamp(now)),
        },
    )
    .await?;
    let answer = load(&mut transaction, row.id).await?;
    commit(transaction, access, "submitting a proposal").await?;
    tracing::info!(proposal = %row.id, organisation = %actor.organisation, co_signers = signatures.len(), "proposal submitted");
    Ok(render(access, answer))
}

pub async fn record_proposal_response(
    service: &FederationService,
    access: &Access,
    request: proto::RecordProposalResponseRequest,
) -> Result<proto::Proposal> {
    let now = Utc::now();
    let mut checks = Checks::new();
    let kind: Option<ResponseKind> = checks.check("kind", required_word(request.kind));
    let responder = checks.check("responder", text::required(&request.responder, 200));
    let response_text = checks.check("text", text::required(&request.text, 20_000));
    let answered_at = checks.check("answer_time", past_time(request.answer_time.as_ref(), now));
    checks.finish()?;
    let Some(kind) = kind else {
        return Err(Error::invalid("kind", "must be set"));
    };
    let mut transaction = service.begin("recording a proposal's answer").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = drafted(&mut transaction, access, &actor, &request.name).await?;
    require_state(
        "proposal",
        ProposalState::from_stored(&row.state)?,
        &[ProposalState::Submitted],
        "answered",
    )
    .map_err(Error::FailedPrecondition)?;
    if let Some(submitted_at) = row.submitted_at
        && answered_at < submitted_at
    {
        return Err(Error::invalid(
            "answer_time",
            "lies before the proposal was submitted",
        ));
    }
    store::answer(
        &mut transaction,
        row.id,
        &Answer {
            kind: kind.as_str(),
            responder: &responder,
            text: &response_text,
            answered_at,
            recorded_by: &actor.subject,
        },
    )
    .await
    .map_err(Error::database("recording a proposal's answer"))?;
    let name = Collection::Proposals.name(row.id);
    publish(
        &mut transaction,
        &name,
        &proto::ProposalAnswered {
            proposal: name.clone(),
            drafting_organisation: row.drafting_organisation.clone(),
            response: kind.as_str().to_owned(),
            submitted_at: optional_timestamp(row.submitted_at),
            answered_at: Some(timestamp(answered_at)),
        },
    )
    .await?;
    let answer = load(&mut transaction, row.id).await?;
    commit(transaction, access, "recording a proposal's answer").await?;
    Ok(render(access, answer))
}

pub async fn get_proposal(
    service: &FederationService,
    access: &Access,
    request: proto::GetProposalRequest,
) -> Result<proto::Proposal> {
    let id = Collection::Proposals
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a proposal").await?;
    visible(&mut connection, access, id).await
}

pub async fn list_proposals(
    service: &FederationService,
    access: &Access,
    request: proto::ListProposalsRequest,
) -> Result<proto::ListProposalsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("proposals", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let organisation = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    let state: Option<ProposalState> = checks.check("state", optional_word(request.state));
    let addressee: Option<Addressee> = checks.check("addressee", optional_word(request.addressee));
    checks.finish()?;
    let filter = ProposalFilter {
        organisation: organisation.map(|code| code.as_str().to_owned()),
        state: state.map(|state| state.as_str().to_owned()),
        visible_states: (!sees_drafts(access)).then(|| {
            [ProposalState::Submitted, ProposalState::Answered]
                .iter()
                .map(|state| state.as_str().to_owned())
                .collect()
        }),
        addressee: addressee.map(|addressee| addressee.as_str().to_owned()),
        after,
    };
    let mut connection = service.connection("listing proposals").await?;
    let mut rows = store::list(&mut connection, &filter, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing proposals"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let signatures = store::signatures(&mut connection, &ids)
        .await
        .map_err(Error::database("listing proposals"))?;
    Ok(proto::ListProposalsResponse {
        proposals: rows
            .into_iter()
            .map(|row| to_proto(row, &signatures).map(|proposal| render(access, proposal)))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
