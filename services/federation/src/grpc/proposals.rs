//! Joint participation in deliberation (the fifth mechanism): proposals
//! drafted by one member organisation, co-signed by others, submitted,
//! answered.

use chrono::Utc;
use flatgov_auth::{Caller, Role};
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use sqlx::PgConnection;
use tonic::Request;
use uuid::Uuid;

use super::{Checks, FederationService, ProtoWord, optional_word, past_time, required_word, split};
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

const READERS: &[Role] = &[
    Role::FederationStaff,
    Role::DistrictAdmin,
    Role::Integrator,
    Role::Service,
];

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
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", Collection::Proposals.name(id)))
        })?;
    let signatures = store::signatures(connection, &[id])
        .await
        .map_err(Error::database("reading a proposal"))?;
    to_proto(row, &signatures)
}

/// Drafts are working documents of the federation: its staff and district
/// administrators see them; integrators see what was submitted.
fn sees_drafts(caller: &Caller) -> bool {
    caller.has_any_role(&[Role::FederationStaff, Role::DistrictAdmin, Role::Service])
}

pub async fn create_proposal(
    service: &FederationService,
    request: Request<proto::CreateProposalRequest>,
) -> Result<proto::Proposal> {
    let (caller, request) = split(request)?;
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
    let mut transaction = service.begin("drafting a proposal").await?;
    let actor = access::actor(&mut transaction, &caller).await?;
    if let Some(request_id) = &request_id
        && let Some(existing) = store::by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("drafting a proposal"))?
    {
        return load(&mut transaction, existing.id).await;
    }
    let row = store::insert(
        &mut transaction,
        &NewProposal {
            id: Uuid::now_v7(),
            request_id,
            title: &title,
            body: &body,
            drafting_organisation: actor.organisation.as_str(),
            addressee: addressee.as_str(),
            session: &session,
            drafted_by: &actor.subject,
        },
    )
    .await
    .map_err(Error::database("drafting a proposal"))?
    .ok_or_else(|| {
        Error::FailedPrecondition("a proposal with this request id is being drafted; retry".into())
    })?;
    transaction
        .commit()
        .await
        .map_err(Error::database("drafting a proposal"))?;
    to_proto(row, &[])
}

/// Locks a proposal the caller's organisation drafted.
async fn drafted(connection: &mut PgConnection, actor: &Actor, name: &str) -> Result<ProposalRow> {
    let id = Collection::Proposals
        .parse(name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let row = store::lock(connection, id)
        .await
        .map_err(Error::database("reading a proposal"))?
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", Collection::Proposals.name(id)))
        })?;
    if row.drafting_organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(format!(
            "{} was drafted by {}; staff of {} cannot change it",
            Collection::Proposals.name(id),
            row.drafting_organisation,
            actor.organisation
        )));
    }
    Ok(row)
}

pub async fn co_sign_proposal(
    service: &FederationService,
    request: Request<proto::CoSignProposalRequest>,
) -> Result<proto::Proposal> {
    let (caller, request) = split(request)?;
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
    let actor = access::actor(&mut transaction, &caller).await?;
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
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", Collection::Proposals.name(id)))
        })?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("co-signing a proposal"))?;
    tracing::info!(proposal = %id, organisation = %organisation, "proposal co-signed");
    Ok(answer)
}

pub async fn submit_proposal(
    service: &FederationService,
    request: Request<proto::SubmitProposalRequest>,
) -> Result<proto::Proposal> {
    let (caller, request) = split(request)?;
    let mut transaction = service.begin("submitting a proposal").await?;
    let actor = access::actor(&mut transaction, &caller).await?;
    let row = drafted(&mut transaction, &actor, &request.name).await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("submitting a proposal"))?;
    tracing::info!(proposal = %row.id, organisation = %actor.organisation, co_signers = signatures.len(), "proposal submitted");
    Ok(answer)
}

pub async fn record_proposal_response(
    service: &FederationService,
    request: Request<proto::RecordProposalResponseRequest>,
) -> Result<proto::Proposal> {
    let (caller, request) = split(request)?;
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
    let actor = access::actor(&mut transaction, &caller).await?;
    let row = drafted(&mut transaction, &actor, &request.name).await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("recording a proposal's answer"))?;
    Ok(answer)
}

pub async fn get_proposal(
    service: &FederationService,
    request: Request<proto::GetProposalRequest>,
) -> Result<proto::Proposal> {
    let (caller, request) = split(request)?;
    caller.require_any_role(READERS)?;
    let id = Collection::Proposals
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a proposal").await?;
    let answer = load(&mut connection, id).await?;
    if answer.state == ProposalState::Draft.to_proto() && !sees_drafts(&caller) {
        return Err(Error::PermissionDenied(format!(
            "{} is a draft of the federation",
            answer.name
        )));
    }
    Ok(answer)
}

pub async fn list_proposals(
    service: &FederationService,
    request: Request<proto::ListProposalsRequest>,
) -> Result<proto::ListProposalsResponse> {
    let (caller, mut request) = split(request)?;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("proposals", &request);
    caller.require_any_role(READERS)?;
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
        visible_states: (!sees_drafts(&caller)).then(|| {
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
            .map(|row| to_proto(row, &signatures))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
