//! Officers of an agency: personal data, managed by their own agency's
//! officers and district administrators; read by them and by subdistrict
//! dispatchers (names, not phones).

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_proto::enforcement::v1 as api;

use super::parse::{agency_name, badge_number, finish, optional, phone, retry, uuid_page};
use super::{EnforcementService, render};
use crate::access;
use crate::application::registry::{CreateOfficer, OfficerListing, UpdateOfficer};
use crate::domain::{OfficerName, Text, UnitName};
use crate::error::Error;

impl TryFrom<api::CreateOfficerRequest> for CreateOfficer {
    type Error = Error;

    fn try_from(request: api::CreateOfficerRequest) -> Result<Self, Error> {
        let fingerprint = Fingerprint::of(&request);
        let mut violations = Violations::new();
        let agency = agency_name(&mut violations, "parent", &request.parent);
        let retry = retry(&mut violations, &request.request_id, fingerprint);
        let unit = optional(&mut violations, "unit", &request.unit, UnitName::parse);
        let display_name = violations.check(
            "display_name",
            Text::required("display name", &request.display_name, 50),
        );
        let badge = violations.check("badge_number", badge_number(&request.badge_number));
        let phone = violations.check("phone", phone(&request.phone));
        finish(violations, || {
            Some(CreateOfficer {
                agency: agency?,
                retry: retry?,
                unit: unit?,
                display_name: display_name?,
                badge_number: badge?,
                phone: phone?,
            })
        })
    }
}

impl TryFrom<api::UpdateOfficerRequest> for UpdateOfficer {
    type Error = Error;

    fn try_from(request: api::UpdateOfficerRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let officer = violations.check("name", OfficerName::parse(&request.name));
        // Absent: unchanged; empty: detached from any unit.
        let unit = match request.unit.as_deref() {
            None => Some(None),
            Some(text) => optional(&mut violations, "unit", text, UnitName::parse).map(Some),
        };
        let display_name = request.display_name.as_deref().and_then(|value| {
            violations.check("display_name", Text::required("display name", value, 50))
        });
        let phone_number = request
            .phone
            .as_deref()
            .and_then(|value| violations.check("phone", phone(value)));
        finish(violations, || {
            Some(UpdateOfficer {
                officer: officer?,
                unit: unit?,
                display_name,
                phone: phone_number,
                active: request.active,
            })
        })
    }
}

impl TryFrom<api::ListOfficersRequest> for OfficerListing {
    type Error = Error;

    fn try_from(request: api::ListOfficersRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let agency = agency_name(&mut violations, "parent", &request.parent);
        let unit = optional(&mut violations, "unit", &request.unit, UnitName::parse);
        let query = ListQuery::new(&format!(
            "officers parent={} unit={} include_inactive={}",
            request.parent, request.unit, request.include_inactive
        ));
        let page = uuid_page(
            &mut violations,
            request.page_size,
            &request.page_token,
            query,
        );
        finish(violations, || {
            Some(OfficerListing {
                agency: agency?,
                unit: unit?,
                include_inactive: request.include_inactive,
                page: page?,
            })
        })
    }
}

pub(super) async fn create_officer(
    service: &EnforcementService,
    access: &Access,
    request: api::CreateOfficerRequest,
) -> Result<api::Officer, Error> {
    let command = CreateOfficer::try_from(request)?;
    let created = service.app.create_officer(access, command).await?;
    Ok(render::officer(&created, &access::viewer(access)))
}

pub(super) async fn update_officer(
    service: &EnforcementService,
    access: &Access,
    request: api::UpdateOfficerRequest,
) -> Result<api::Officer, Error> {
    let command = UpdateOfficer::try_from(request)?;
    let updated = service.app.update_officer(access, command).await?;
    Ok(render::officer(&updated, &access::viewer(access)))
}

pub(super) async fn get_officer(
    service: &EnforcementService,
    access: &Access,
    request: api::GetOfficerRequest,
) -> Result<api::Officer, Error> {
    let mut violations = Violations::new();
    let officer = violations.check("name", OfficerName::parse(&request.name));
    let officer = finish(violations, || officer)?;
    let found = service.app.officer(access, &officer).await?;
    Ok(render::officer(&found, &access::viewer(access)))
}

pub(super) async fn list_officers(
    service: &EnforcementService,
    access: &Access,
    request: api::ListOfficersRequest,
) -> Result<api::ListOfficersResponse, Error> {
    let listing = OfficerListing::try_from(request)?;
    let (officers, next_page_token) = service.app.list_officers(access, listing).await?;
    let viewer = access::viewer(access);
    Ok(api::ListOfficersResponse {
        officers: officers
            .iter()
            .map(|officer| render::officer(officer, &viewer))
            .collect(),
        next_page_token,
    })
}
