//! Rights-protection requests.

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
use crate::application::rights::{
    self as app, ListRightsRequests, NewRightsRequest, RightsRequests, Step,
};
use crate::domain::codes::{CaseName, Collection, organisation_name, parse_organisation_reference};
use crate::domain::kinds::{
    RightsActionKind, RightsCategory, RightsChannel, RightsOutcome, RightsRequestState,
};
use crate::domain::text;
use crate::error::{Error, Result};

fn render(requests: RightsRequests) -> Result<Vec<proto::RightsRequest>> {
    requests
        .rows
        .into_iter()
        .map(|row| {
            let actions = requests
                .actions
                .iter()
                .filter(|action| action.rights_request == row.id)
                .map(|action| {
                    Ok(proto::RightsAction {
                        kind: RightsActionKind::from_stored(&action.kind)?.to_proto(),
                        organisation: organisation_name(&action.organisation),
                        recorded_by: action.recorded_by.clone(),
                        record_time: Some(timestamp(action.recorded_at)),
                        note: action.note.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(proto::RightsRequest {
                name: Collection::RightsRequests.name(row.id),
                category: RightsCategory::from_stored(&row.category)?.to_proto(),
                channel: RightsChannel::from_stored(&row.channel)?.to_proto(),
                organisation: organisation_name(&row.organisation),
                recorded_by_organisation: organisation_name(&row.recorded_by_organisation),
                recorded_by: row.recorded_by,
                description: row.description,
                requester_name: row.requester_name,
                requester_phone: row.requester_phone,
                block_code: row.block_code.unwrap_or_default(),
                case: row.case_name.unwrap_or_default(),
                state: RightsRequestState::from_stored(&row.state)?.to_proto(),
                outcome: row
                    .outcome
                    .as_deref()
                    .map(RightsOutcome::from_stored)
                    .transpose()?
                    .map_or(0, ProtoWord::to_proto),
                outcome_note: row.outcome_note,
                actions,
                receive_time: Some(timestamp(row.received_at)),
                resolve_time: optional_timestamp(row.resolved_at),
                update_time: Some(timestamp(row.updated_at)),
            })
        })
        .collect()
}

fn render_one(requests: RightsRequests) -> Result<proto::RightsRequest> {
    render(requests)?
        .pop()
        .ok_or_else(|| Error::Corrupt("a rights request read went missing".into()))
}

impl TryFrom<proto::SubmitRightsRequestRequest> for NewRightsRequest {
    type Error = Error;

    fn try_from(request: proto::SubmitRightsRequestRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let category: Option<RightsCategory> =
            violations.check("category", words::required(request.category));
        let channel = violations.check("channel", words::required(request.channel));
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        if category == Some(RightsCategory::Other) && request.organisation.trim().is_empty() {
            violations.add(
                "organisation",
                "must name the handling organisation for RIGHTS_CATEGORY_OTHER",
            );
        }
        let description =
            violations.check("description", text::required(&request.description, 4000));
        let requester_name = violations.check(
            "requester_name",
            text::optional(&request.requester_name, 100),
        );
        let requester_phone =
            violations.check("requester_phone", text::phone(&request.requester_phone));
        let block_code = violations.check("block_code", parse::optional_block(&request.block_code));
        let case = violations.check("case", parse::optional(&request.case, CaseName::parse));
        finish(violations, || {
            Some(NewRightsRequest {
                category: category?,
                channel: channel?,
                organisation: organisation?,
                description: description?,
                requester_name: requester_name?,
                requester_phone: requester_phone?,
                block_code: block_code?,
                case: case?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::ListRightsRequestsRequest> for Listing<ListRightsRequests> {
    type Error = Error;

    fn try_from(mut request: proto::ListRightsRequestsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("rights_requests", &request),
            page_size,
            &page_token,
        );
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        let category = violations.check("category", words::optional(request.category));
        let state = violations.check("state", words::optional(request.state));
        let case = violations.check("case", parse::optional(&request.case, CaseName::parse));
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListRightsRequests {
                    organisation: organisation?,
                    category: category?,
                    state: state?,
                    case: case?,
                    page,
                },
                paging,
            })
        })
    }
}

/// A step on the request named `name`, parsed with its own fields.
fn step(
    mut violations: Violations,
    name: &str,
    build: impl FnOnce(&mut Violations) -> Option<Step>,
) -> Result<(Uuid, Step)> {
    let step = build(&mut violations);
    let id = violations.check("name", Collection::RightsRequests.parse(name));
    finish(violations, || Some((id?, step?)))
}

pub async fn submit_rights_request(
    service: &FederationService,
    access: &Access,
    request: proto::SubmitRightsRequestRequest,
) -> Result<proto::RightsRequest> {
    let request = NewRightsRequest::try_from(request)?;
    render_one(app::submit(&service.app, access, request).await?)
}

pub async fn record_rights_action(
    service: &FederationService,
    access: &Access,
    request: proto::RecordRightsActionRequest,
) -> Result<proto::RightsRequest> {
    let (id, step) = step(Violations::new(), &request.name, |violations| {
        let kind: Option<RightsActionKind> =
            violations.check("kind", words::required(request.kind));
        if kind.is_some_and(|kind| !kind.is_recordable()) {
            violations.add(
                "kind",
                "must be NOTE, CONTACT, MEDIATION or LEGAL_CONSULTATION; transfers, case links and resolutions have their own calls",
            );
        }
        let note = violations.check("note", text::required(&request.note, 2000));
        Some(Step::Action {
            kind: kind?,
            note: note?,
        })
    })?;
    render_one(app::work(&service.app, access, id, step).await?)
}

pub async fn transfer_rights_request(
    service: &FederationService,
    access: &Access,
    request: proto::TransferRightsRequestRequest,
) -> Result<proto::RightsRequest> {
    let (id, step) = step(Violations::new(), &request.name, |violations| {
        let organisation = violations.check(
            "organisation",
            parse_organisation_reference(&request.organisation),
        );
        let reason = violations.check("reason", text::required(&request.reason, 2000));
        Some(Step::Transfer {
            organisation: organisation?,
            reason: reason?,
        })
    })?;
    render_one(app::work(&service.app, access, id, step).await?)
}

pub async fn link_rights_request_case(
    service: &FederationService,
    access: &Access,
    request: proto::LinkRightsRequestCaseRequest,
) -> Result<proto::RightsRequest> {
    let (id, step) = step(Violations::new(), &request.name, |violations| {
        let case = violations.check("case", CaseName::parse(&request.case));
        Some(Step::LinkCase { case: case? })
    })?;
    render_one(app::work(&service.app, access, id, step).await?)
}

pub async fn resolve_rights_request(
    service: &FederationService,
    access: &Access,
    request: proto::ResolveRightsRequestRequest,
) -> Result<proto::RightsRequest> {
    let (id, step) = step(Violations::new(), &request.name, |violations| {
        let outcome = violations.check("outcome", words::required(request.outcome));
        let note = violations.check("note", text::required(&request.note, 2000));
        Some(Step::Resolve {
            outcome: outcome?,
            note: note?,
        })
    })?;
    render_one(app::work(&service.app, access, id, step).await?)
}

pub async fn get_rights_request(
    service: &FederationService,
    access: &Access,
    request: proto::GetRightsRequestRequest,
) -> Result<proto::RightsRequest> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::RightsRequests.parse(&request.name));
    let id = finish(violations, || id)?;
    render_one(app::get(&service.app, access, id).await?)
}

pub async fn list_rights_requests(
    service: &FederationService,
    access: &Access,
    request: proto::ListRightsRequestsRequest,
) -> Result<proto::ListRightsRequestsResponse> {
    let listing = Listing::<ListRightsRequests>::try_from(request)?;
    let mut requests = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut requests.rows, |row| row.id.to_string());
    Ok(proto::ListRightsRequestsResponse {
        rights_requests: render(requests)?,
        next_page_token,
    })
}
