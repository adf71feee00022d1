//! Units of an agency (squads, stations), possibly stationed in a
//! subdistrict: managed by the agency's officers and district
//! administrators, read by anyone (a public directory).

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_proto::enforcement::v1 as api;

use super::parse::{agency_name, finish, optional, retry, uuid_page};
use super::{EnforcementService, render};
use crate::application::registry::{CreateUnit, UnitListing, UpdateUnit};
use crate::domain::{AgencyCode, SubdistrictCode, Text, UnitName};
use crate::error::Error;

impl TryFrom<api::CreateUnitRequest> for CreateUnit {
    type Error = Error;

    fn try_from(request: api::CreateUnitRequest) -> Result<Self, Error> {
        let fingerprint = Fingerprint::of(&request);
        let mut violations = Violations::new();
        let agency = agency_name(&mut violations, "parent", &request.parent);
        let retry = retry(&mut violations, &request.request_id, fingerprint);
        let display_name = violations.check(
            "display_name",
            Text::required("display name", &request.display_name, 100),
        );
        let stationed_subdistrict = optional(
            &mut violations,
            "stationed_subdistrict_code",
            &request.stationed_subdistrict_code,
            SubdistrictCode::parse,
        );
        finish(violations, || {
            Some(CreateUnit {
                agency: agency?,
                retry: retry?,
                display_name: display_name?,
                stationed_subdistrict: stationed_subdistrict?,
                on_duty: request.on_duty,
                duty_desk: request.duty_desk,
            })
        })
    }
}

impl TryFrom<api::UpdateUnitRequest> for UpdateUnit {
    type Error = Error;

    fn try_from(request: api::UpdateUnitRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let unit = violations.check("name", UnitName::parse(&request.name));
        let display_name = request.display_name.as_deref().and_then(|value| {
            violations.check("display_name", Text::required("display name", value, 100))
        });
        // Absent: unchanged; empty: withdrawn from its subdistrict.
        let stationed_subdistrict = match request.stationed_subdistrict_code.as_deref() {
            None => Some(None),
            Some(code) => optional(
                &mut violations,
                "stationed_subdistrict_code",
                code,
                SubdistrictCode::parse,
            )
            .map(Some),
        };
        finish(violations, || {
            Some(UpdateUnit {
                unit: unit?,
                display_name,
                stationed_subdistrict: stationed_subdistrict?,
                on_duty: request.on_duty,
                active: request.active,
                duty_desk: request.duty_desk,
            })
        })
    }
}

impl TryFrom<api::ListUnitsRequest> for UnitListing {
    type Error = Error;

    fn try_from(request: api::ListUnitsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let agency = optional(
            &mut violations,
            "parent",
            request
                .parent
                .strip_prefix("agencies/")
                .unwrap_or(&request.parent),
            AgencyCode::parse,
        );
        let stationed_subdistrict = optional(
            &mut violations,
            "stationed_subdistrict_code",
            &request.stationed_subdistrict_code,
            SubdistrictCode::parse,
        );
        let agency_code = agency.clone().flatten();
        let station_code = stationed_subdistrict.flatten();
        let query = ListQuery::new(&format!(
            "units agency={} stationed_subdistrict_code={} on_duty_only={} include_inactive={}",
            agency_code
                .as_ref()
                .map(AgencyCode::as_str)
                .unwrap_or_default(),
            station_code
                .as_ref()
                .map(SubdistrictCode::as_str)
                .unwrap_or_default(),
            request.on_duty_only,
            request.include_inactive
        ));
        let page = uuid_page(
            &mut violations,
            request.page_size,
            &request.page_token,
            query,
        );
        finish(violations, || {
            Some(UnitListing {
                agency: agency?,
                stationed_subdistrict: stationed_subdistrict?,
                on_duty_only: request.on_duty_only,
                include_inactive: request.include_inactive,
                page: page?,
            })
        })
    }
}

pub(super) async fn create_unit(
    service: &EnforcementService,
    access: &Access,
    request: api::CreateUnitRequest,
) -> Result<api::EnforcementUnit, Error> {
    let command = CreateUnit::try_from(request)?;
    let created = service.app.create_unit(access, command).await?;
    Ok(render::unit(&created))
}

pub(super) async fn update_unit(
    service: &EnforcementService,
    access: &Access,
    request: api::UpdateUnitRequest,
) -> Result<api::EnforcementUnit, Error> {
    let command = UpdateUnit::try_from(request)?;
    let updated = service.app.update_unit(access, command).await?;
    Ok(render::unit(&updated))
}

pub(super) async fn get_unit(
    service: &EnforcementService,
    _access: &Access,
    request: api::GetUnitRequest,
) -> Result<api::EnforcementUnit, Error> {
    let mut violations = Violations::new();
    let unit = violations.check("name", UnitName::parse(&request.name));
    let unit = finish(violations, || unit)?;
    let found = service.app.unit(&unit).await?;
    Ok(render::unit(&found))
}

pub(super) async fn list_units(
    service: &EnforcementService,
    _access: &Access,
    request: api::ListUnitsRequest,
) -> Result<api::ListUnitsResponse, Error> {
    let listing = UnitListing::try_from(request)?;
    let (units, next_page_token) = service.app.list_units(listing).await?;
    Ok(api::ListUnitsResponse {
        units: units.iter().map(render::unit).collect(),
        next_page_token,
    })
}
