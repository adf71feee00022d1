//! Agencies: registered and changed by district administrators, read by
//! anyone (a public directory).

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_proto::enforcement::v1 as api;

use super::parse::{agency_name, finish, page};
use super::{EnforcementService, render};
use crate::application::registry::{AgencyListing, CreateAgency, UpdateAgency};
use crate::domain::{AgencyCode, Text};
use crate::error::Error;

impl TryFrom<api::CreateAgencyRequest> for CreateAgency {
    type Error = Error;

    fn try_from(request: api::CreateAgencyRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let code = violations.check("code", AgencyCode::parse(&request.code));
        let display_name = violations.check(
            "display_name",
            Text::required("display name", &request.display_name, 100),
        );
        let display_name_en = violations.check(
            "display_name_en",
            Text::optional("English name", &request.display_name_en, 200),
        );
        finish(violations, || {
            Some(CreateAgency {
                code: code?,
                display_name: display_name?,
                display_name_en: display_name_en?,
                notes_sensitive_by_default: request.notes_sensitive_by_default,
                details_restricted_by_default: request.details_restricted_by_default,
            })
        })
    }
}

impl TryFrom<api::UpdateAgencyRequest> for UpdateAgency {
    type Error = Error;

    fn try_from(request: api::UpdateAgencyRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let code = agency_name(&mut violations, "name", &request.name);
        let display_name = request.display_name.as_deref().and_then(|value| {
            violations.check("display_name", Text::required("display name", value, 100))
        });
        let display_name_en = request.display_name_en.as_deref().and_then(|value| {
            violations.check(
                "display_name_en",
                Text::optional("English name", value, 200),
            )
        });
        finish(violations, || {
            Some(UpdateAgency {
                code: code?,
                display_name,
                display_name_en,
                active: request.active,
                notes_sensitive_by_default: request.notes_sensitive_by_default,
                details_restricted_by_default: request.details_restricted_by_default,
            })
        })
    }
}

impl TryFrom<api::ListAgenciesRequest> for AgencyListing {
    type Error = Error;

    fn try_from(request: api::ListAgenciesRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let query = ListQuery::new(&format!(
            "agencies include_inactive={}",
            request.include_inactive
        ));
        let page = page(
            &mut violations,
            request.page_size,
            &request.page_token,
            query,
            |page| Ok(page.after.clone()),
        );
        finish(violations, || {
            Some(AgencyListing {
                include_inactive: request.include_inactive,
                page: page?,
            })
        })
    }
}

pub(super) async fn create_agency(
    service: &EnforcementService,
    access: &Access,
    request: api::CreateAgencyRequest,
) -> Result<api::Agency, Error> {
    let command = CreateAgency::try_from(request)?;
    let created = service.app.create_agency(access, command).await?;
    Ok(render::agency(&created))
}

pub(super) async fn update_agency(
    service: &EnforcementService,
    access: &Access,
    request: api::UpdateAgencyRequest,
) -> Result<api::Agency, Error> {
    let command = UpdateAgency::try_from(request)?;
    let updated = service.app.update_agency(access, command).await?;
    Ok(render::agency(&updated))
}

pub(super) async fn get_agency(
    service: &EnforcementService,
    _access: &Access,
    request: api::GetAgencyRequest,
) -> Result<api::Agency, Error> {
    let mut violations = Violations::new();
    let code = agency_name(&mut violations, "name", &request.name);
    let code = finish(violations, || code)?;
    let agency = service.app.agency(&code).await?;
    Ok(render::agency(&agency))
}

pub(super) async fn list_agencies(
    service: &EnforcementService,
    _access: &Access,
    request: api::ListAgenciesRequest,
) -> Result<api::ListAgenciesResponse, Error> {
    let listing = AgencyListing::try_from(request)?;
    let (agencies, next_page_token) = service.app.list_agencies(listing).await?;
    Ok(api::ListAgenciesResponse {
        agencies: agencies.iter().map(render::agency).collect(),
        next_page_token,
    })
}
