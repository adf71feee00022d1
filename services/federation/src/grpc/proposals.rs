//! Joint proposals.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, finish};
use super::words::{self, ProtoWord};
use crate::access;
use crate::application::proposals::{self as app, Answer, ListProposals, NewProposal, Proposals};
use crate::domain::codes::{Collection, organisation_name};
use crate::domain::kinds::{Addressee, ProposalState, ResponseKind};
use crate::domain::text;
use crate::error::{Error, Result};
use flatgov_grpc::clock::Received;

/// Proposals as the caller may see them: staff ids (who drafted, signed,
/// recorded the answer) are named to staff and administrators only.
fn render(access: &Access, proposals: Proposals) -> Result<Vec<proto::Proposal>> {
    let shows_staff = access::shows_staff_ids(access);
    let staff_id = |id: String| if shows_staff { id } else { String::new() };
    proposals
        .rows
        .into_iter()
        .map(|row| {
            let response = match (&row.response_kind, row.answered_at) {
                (Some(kind), Some(answered_at)) => Some(proto::ProposalResponse {
                    kind: ResponseKind::from_stored(kind)?.to_proto(),
                    responder: row.responder.clone(),
                    text: row.response_text.clone(),
                    answer_time: Some(timestamp(answered_at)),
                    recorded_by: staff_id(row.response_recorded_by.clone().unwrap_or_default()),
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
                co_signatures: proposals
                    .signatures
                    .iter()
                    .filter(|signature| signature.proposal == row.id)
                    .map(|signature| proto::CoSignature {
                        organisation: organisation_name(&signature.organisation),
                        signed_by: staff_id(signature.signed_by.clone()),
                        sign_time: Some(timestamp(signature.signed_at)),
                    })
                    .collect(),
                response,
                drafted_by: staff_id(row.drafted_by),
                create_time: Some(timestamp(row.created_at)),
                submit_time: optional_timestamp(row.submitted_at),
            })
        })
        .collect()
}

fn render_one(access: &Access, proposals: Proposals) -> Result<proto::Proposal> {
    render(access, proposals)?
        .pop()
        .ok_or_else(|| Error::Corrupt("a proposal read went missing".into()))
}

fn named(value: &str) -> Result<Uuid> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::Proposals.parse(value));
    finish(violations, || id)
}

impl TryFrom<proto::CreateProposalRequest> for NewProposal {
    type Error = Error;

    fn try_from(request: proto::CreateProposalRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let title = violations.check("title", text::required(&request.title, 200));
        let body = violations.check("body", text::required(&request.body, 20_000));
        let addressee = violations.check("addressee", words::required(request.addressee));
        let session = violations.check("session", text::optional(&request.session, 100));
        finish(violations, || {
            Some(NewProposal {
                title: title?,
                body: body?,
                addressee: addressee?,
                session: session?,
                retry,
            })
        })
    }
}

/// The answer a proposal received, for the proposal it names.
struct AnswerReceived {
    proposal: Uuid,
    answer: Answer,
}

impl TryFrom<Received<proto::RecordProposalResponseRequest>> for AnswerReceived {
    type Error = Error;

    fn try_from(received: Received<proto::RecordProposalResponseRequest>) -> Result<Self> {
        let Received { request, at: now } = received;
        let mut violations = Violations::new();
        let id = violations.check("name", Collection::Proposals.parse(&request.name));
        let kind = violations.check("kind", words::required(request.kind));
        let responder = violations.check("responder", text::required(&request.responder, 200));
        let response_text = violations.check("text", text::required(&request.text, 20_000));
        let answered_at = violations.check(
            "answer_time",
            parse::past_time(request.answer_time.as_ref(), now),
        );
        finish(violations, || {
            Some(AnswerReceived {
                proposal: id?,
                answer: Answer {
                    kind: kind?,
                    responder: responder?,
                    text: response_text?,
                    answered_at: answered_at?,
                },
            })
        })
    }
}

impl TryFrom<proto::ListProposalsRequest> for Listing<ListProposals> {
    type Error = Error;

    fn try_from(mut request: proto::ListProposalsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("proposals", &request),
            page_size,
            &page_token,
        );
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        let state = violations.check("state", words::optional(request.state));
        let addressee = violations.check("addressee", words::optional(request.addressee));
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListProposals {
                    organisation: organisation?,
                    state: state?,
                    addressee: addressee?,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn create_proposal(
    service: &FederationService,
    access: &Access,
    request: proto::CreateProposalRequest,
) -> Result<proto::Proposal> {
    let proposal = NewProposal::try_from(request)?;
    render_one(access, app::create(&service.app, access, proposal).await?)
}

pub async fn co_sign_proposal(
    service: &FederationService,
    access: &Access,
    request: proto::CoSignProposalRequest,
) -> Result<proto::Proposal> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::Proposals.parse(&request.name));
    let organisation = violations.check(
        "organisation",
        parse::optional_organisation(&request.organisation),
    );
    let (id, organisation) = finish(violations, || Some((id?, organisation?)))?;
    render_one(
        access,
        app::co_sign(&service.app, access, id, organisation).await?,
    )
}

pub async fn submit_proposal(
    service: &FederationService,
    access: &Access,
    request: proto::SubmitProposalRequest,
) -> Result<proto::Proposal> {
    let id = named(&request.name)?;
    render_one(access, app::submit(&service.app, access, id).await?)
}

pub async fn record_proposal_response(
    service: &FederationService,
    access: &Access,
    request: proto::RecordProposalResponseRequest,
) -> Result<proto::Proposal> {
    let received = AnswerReceived::try_from(Received::at(request, service.app.now()))?;
    render_one(
        access,
        app::record_answer(&service.app, access, received.proposal, received.answer).await?,
    )
}

pub async fn get_proposal(
    service: &FederationService,
    access: &Access,
    request: proto::GetProposalRequest,
) -> Result<proto::Proposal> {
    let id = named(&request.name)?;
    render_one(access, app::get(&service.app, access, id).await?)
}

pub async fn list_proposals(
    service: &FederationService,
    access: &Access,
    request: proto::ListProposalsRequest,
) -> Result<proto::ListProposalsResponse> {
    let listing = Listing::<ListProposals>::try_from(request)?;
    let mut proposals = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut proposals.rows, |row| row.id.to_string());
    Ok(proto::ListProposalsResponse {
        proposals: render(access, proposals)?,
        next_page_token,
    })
}
