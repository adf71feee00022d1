//! Requests to share a person's record with another member organisation.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, finish};
use super::people::{parse_consent, parse_id_number, render_consent};
use super::words::{self, ProtoWord};
use crate::application::sharing::{
    self as app, Decide, ListSharingRequests, NewSharingRequest, Shared, name,
};
use crate::domain::codes::{Collection, organisation_name};
use crate::domain::kinds::SharingRequestState;
use crate::domain::text;
use crate::error::{Error, Result};
use flatgov_grpc::clock::Received;

/// The request as the caller's organisation may see it: the person it
/// concerns is named only to organisations that hold the record.
fn render(shared: Shared) -> Result<proto::SharingRequest> {
    let row = shared.request;
    Ok(proto::SharingRequest {
        name: name(row.id),
        requesting_organisation: organisation_name(&row.requesting_organisation),
        requested_by: row.requested_by,
        reason: row.reason,
        consent: Some(render_consent(
            &row.consent_method,
            row.consent_given_at,
            &row.consent_document_reference,
            &row.consent_guardian_name,
        )?),
        state: SharingRequestState::from_stored(&row.state)?.to_proto(),
        person: if shared.holds_record {
            Collection::People.name(row.person)
        } else {
            String::new()
        },
        decided_by_organisation: row
            .decided_by_organisation
            .as_deref()
            .map(organisation_name)
            .unwrap_or_default(),
        decided_by: row.decided_by.unwrap_or_default(),
        decide_time: optional_timestamp(row.decided_at),
        decline_reason: row.decline_reason,
        create_time: Some(timestamp(row.created_at)),
    })
}

fn named(value: &str) -> Result<Uuid> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::SharingRequests.parse(value));
    finish(violations, || id)
}

impl TryFrom<Received<proto::CreateSharingRequestRequest>> for NewSharingRequest {
    type Error = Error;

    fn try_from(received: Received<proto::CreateSharingRequestRequest>) -> Result<Self> {
        let Received { request, at: now } = received;
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let id_number = violations.check("id_number", parse_id_number(&request.id_number, now));
        let consent = parse_consent(&mut violations, "consent", request.consent.as_ref(), now);
        let reason = violations.check("reason", text::required(&request.reason, 2000));
        finish(violations, || {
            Some(NewSharingRequest {
                id_number: id_number?,
                consent: consent?,
                reason: reason?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::ListSharingRequestsRequest> for Listing<ListSharingRequests> {
    type Error = Error;

    fn try_from(mut request: proto::ListSharingRequestsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("sharing_requests", &request),
            page_size,
            &page_token,
        );
        let state = violations.check("state", words::optional(request.state));
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListSharingRequests {
                    state: state?,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn create_sharing_request(
    service: &FederationService,
    access: &Access,
    request: proto::CreateSharingRequestRequest,
) -> Result<proto::SharingRequest> {
    let request = NewSharingRequest::try_from(Received::at(request, service.app.now()))?;
    render(app::create(&service.app, access, request).await?)
}

pub async fn get_sharing_request(
    service: &FederationService,
    access: &Access,
    request: proto::GetSharingRequestRequest,
) -> Result<proto::SharingRequest> {
    let id = named(&request.name)?;
    render(app::get(&service.app, access, id).await?)
}

pub async fn list_sharing_requests(
    service: &FederationService,
    access: &Access,
    request: proto::ListSharingRequestsRequest,
) -> Result<proto::ListSharingRequestsResponse> {
    let listing = Listing::<ListSharingRequests>::try_from(request)?;
    let mut listed = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut listed, |shared| shared.request.id.to_string());
    Ok(proto::ListSharingRequestsResponse {
        sharing_requests: listed.into_iter().map(render).collect::<Result<_>>()?,
        next_page_token,
    })
}

pub async fn approve_sharing_request(
    service: &FederationService,
    access: &Access,
    request: proto::ApproveSharingRequestRequest,
) -> Result<proto::SharingRequest> {
    let id = named(&request.name)?;
    render(app::decide(&service.app, access, id, Decide::Approve).await?)
}

pub async fn decline_sharing_request(
    service: &FederationService,
    access: &Access,
    request: proto::DeclineSharingRequestRequest,
) -> Result<proto::SharingRequest> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::SharingRequests.parse(&request.name));
    let reason = violations.check("reason", text::required(&request.reason, 2000));
    let (id, reason) = finish(violations, || Some((id?, reason?)))?;
    render(app::decide(&service.app, access, id, Decide::Decline { reason }).await?)
}
