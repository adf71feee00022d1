//! Registrations for activities.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, count, finish};
use super::words::{self, ProtoWord};
use crate::access;
use crate::application::registrations::{self as app, ListRegistrations, Register, RegistrationId};
use crate::domain::codes::Collection;
use crate::domain::kinds::RegistrationStatus;
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::activities::RegistrationRow;

/// The registration as the caller may see it: who registered it (a staff
/// member at the desk) is named to staff and administrators only.
fn render(access: &Access, row: RegistrationRow) -> Result<proto::Registration> {
    Ok(proto::Registration {
        name: Collection::Activities.child_name(row.activity, Collection::Registrations, row.id),
        activity: Collection::Activities.name(row.activity),
        participant: row.participant,
        participant_display_name: row.participant_display_name,
        status: RegistrationStatus::from_stored(&row.status)?.to_proto(),
        waitlist_position: count(row.waitlist_position),
        registered_by: if access::shows_staff_ids(access) {
            row.registered_by
        } else {
            String::new()
        },
        register_time: Some(timestamp(row.registered_at)),
        promote_time: optional_timestamp(row.promoted_at),
        check_in_time: optional_timestamp(row.checked_in_at),
        cancel_time: optional_timestamp(row.cancelled_at),
        cancel_reason: row.cancel_reason,
    })
}

fn parse_registration(value: &str) -> std::result::Result<RegistrationId, crate::domain::Invalid> {
    let (activity, id) = Collection::Activities.parse_child(Collection::Registrations, value)?;
    Ok(RegistrationId { activity, id })
}

impl TryFrom<proto::RegisterForActivityRequest> for Register {
    type Error = Error;

    fn try_from(request: proto::RegisterForActivityRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let activity =
            violations.check("activity", Collection::Activities.parse(&request.activity));
        let participant = violations.check(
            "participant",
            parse::optional(&request.participant, text::participant),
        );
        let display_name = violations.check(
            "participant_display_name",
            text::optional(&request.participant_display_name, 100),
        );
        finish(violations, || {
            Some(Register {
                activity: activity?,
                participant: participant?,
                display_name: display_name?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::ListRegistrationsRequest> for Listing<ListRegistrations> {
    type Error = Error;

    fn try_from(mut request: proto::ListRegistrationsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let activity = violations.check("parent", Collection::Activities.parse(&request.parent));
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("registrations", &request),
            page_size,
            &page_token,
        );
        let status = violations.check("status", words::optional(request.status));
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListRegistrations {
                    activity: activity?,
                    status: status?,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn register_for_activity(
    service: &FederationService,
    access: &Access,
    request: proto::RegisterForActivityRequest,
) -> Result<proto::Registration> {
    let registration = Register::try_from(request)?;
    render(
        access,
        app::register(&service.app, access, registration).await?,
    )
}

pub async fn cancel_registration(
    service: &FederationService,
    access: &Access,
    request: proto::CancelRegistrationRequest,
) -> Result<proto::Registration> {
    let mut violations = Violations::new();
    let registration = violations.check("name", parse_registration(&request.name));
    let reason = violations.check("reason", text::optional(&request.reason, 1000));
    let (registration, reason) = finish(violations, || Some((registration?, reason?)))?;
    render(
        access,
        app::cancel(&service.app, access, registration, &reason).await?,
    )
}

pub async fn check_in(
    service: &FederationService,
    access: &Access,
    request: proto::CheckInRequest,
) -> Result<proto::Registration> {
    let mut violations = Violations::new();
    let activity = violations.check("activity", Collection::Activities.parse(&request.activity));
    let participant = violations.check("participant", text::required(&request.participant, 128));
    let (activity, participant) = finish(violations, || Some((activity?, participant?)))?;
    render(
        access,
        app::check_in(&service.app, access, activity, &participant).await?,
    )
}

pub async fn get_registration(
    service: &FederationService,
    access: &Access,
    request: proto::GetRegistrationRequest,
) -> Result<proto::Registration> {
    let mut violations = Violations::new();
    let registration = violations.check("name", parse_registration(&request.name));
    let registration = finish(violations, || registration)?;
    render(access, app::get(&service.app, access, registration).await?)
}

pub async fn list_registrations(
    service: &FederationService,
    access: &Access,
    request: proto::ListRegistrationsRequest,
) -> Result<proto::ListRegistrationsResponse> {
    let listing = Listing::<ListRegistrations>::try_from(request)?;
    let mut rows = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.id.to_string());
    Ok(proto::ListRegistrationsResponse {
        registrations: rows
            .into_iter()
            .map(|row| render(access, row))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
