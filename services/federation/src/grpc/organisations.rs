//! Member organisations: the public directory.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::federation::v1 as proto;

use super::FederationService;
use super::parse::{self, Listing, finish};
use crate::application::organisations::{
    self as app, ListOrganisations, NewOrganisation, UpdateOrganisation,
};
use crate::domain::codes::{OrganisationCode, organisation_name};
use crate::domain::{Invalid, text};
use crate::error::Result;
use crate::store::organisations::{OrganisationChanges, OrganisationRow};

pub fn render(row: OrganisationRow) -> proto::Organisation {
    proto::Organisation {
        name: organisation_name(&row.code),
        code: row.code,
        display_name: row.display_name,
        display_name_en: row.display_name_en,
        short_name: row.short_name,
        description: row.description,
        active: row.active,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
    }
}

/// `organisations/{code}` (not the bare code: names are names).
pub fn parse_name(value: &str) -> std::result::Result<OrganisationCode, Invalid> {
    let code = value.trim().strip_prefix("organisations/").ok_or_else(|| {
        Invalid::new(format!(
            "`{value}` must look like organisations/womens_federation"
        ))
    })?;
    Ok(OrganisationCode::parse(code)?)
}

fn named(name: &str) -> Result<OrganisationCode> {
    let mut violations = Violations::new();
    let code = violations.check("name", parse_name(name));
    finish(violations, || code)
}

impl TryFrom<proto::ListOrganisationsRequest> for Listing<ListOrganisations> {
    type Error = crate::error::Error;

    fn try_from(mut request: proto::ListOrganisationsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page(
            &mut violations,
            ListQuery::of_request("organisations", &request),
            page_size,
            &page_token,
        );
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListOrganisations {
                    include_inactive: request.include_inactive,
                    page,
                },
                paging,
            })
        })
    }
}

impl TryFrom<proto::CreateOrganisationRequest> for NewOrganisation {
    type Error = crate::error::Error;

    fn try_from(request: proto::CreateOrganisationRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let code = violations.check("code", OrganisationCode::parse(request.code.trim()));
        let display_name =
            violations.check("display_name", text::required(&request.display_name, 100));
        let display_name_en = violations.check(
            "display_name_en",
            text::required(&request.display_name_en, 200),
        );
        let short_name = violations.check("short_name", text::required(&request.short_name, 20));
        let description =
            violations.check("description", text::optional(&request.description, 2000));
        finish(violations, || {
            Some(NewOrganisation {
                code: code?,
                display_name: display_name?,
                display_name_en: display_name_en?,
                short_name: short_name?,
                description: description?,
            })
        })
    }
}

impl TryFrom<proto::UpdateOrganisationRequest> for UpdateOrganisation {
    type Error = crate::error::Error;

    fn try_from(request: proto::UpdateOrganisationRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let code = violations.check("name", parse_name(&request.name));
        let mut field =
            |name: &str,
             value: &Option<String>,
             check: fn(&str) -> std::result::Result<String, Invalid>| {
                value
                    .as_deref()
                    .and_then(|value| violations.check(name, check(value)))
            };
        let changes = OrganisationChanges {
            display_name: field("display_name", &request.display_name, |value| {
                text::required(value, 100)
            }),
            display_name_en: field("display_name_en", &request.display_name_en, |value| {
                text::required(value, 200)
            }),
            short_name: field("short_name", &request.short_name, |value| {
                text::required(value, 20)
            }),
            description: field("description", &request.description, |value| {
                text::optional(value, 2000)
            }),
            active: request.active,
        };
        finish(violations, || {
            Some(UpdateOrganisation {
                code: code?,
                changes,
            })
        })
    }
}

pub async fn get_organisation(
    service: &FederationService,
    _access: &Access,
    request: proto::GetOrganisationRequest,
) -> Result<proto::Organisation> {
    let code = named(&request.name)?;
    Ok(render(app::get(&service.app, &code).await?))
}

pub async fn list_organisations(
    service: &FederationService,
    _access: &Access,
    request: proto::ListOrganisationsRequest,
) -> Result<proto::ListOrganisationsResponse> {
    let listing = Listing::<ListOrganisations>::try_from(request)?;
    let mut rows = app::list(&service.app, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.code.clone());
    Ok(proto::ListOrganisationsResponse {
        organisations: rows.into_iter().map(render).collect(),
        next_page_token,
    })
}

pub async fn create_organisation(
    service: &FederationService,
    access: &Access,
    request: proto::CreateOrganisationRequest,
) -> Result<proto::Organisation> {
    let organisation = NewOrganisation::try_from(request)?;
    Ok(render(
        app::create(&service.app, access, organisation).await?,
    ))
}

pub async fn update_organisation(
    service: &FederationService,
    access: &Access,
    request: proto::UpdateOrganisationRequest,
) -> Result<proto::Organisation> {
    let update = UpdateOrganisation::try_from(request)?;
    Ok(render(app::update(&service.app, access, update).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_names_must_be_names_not_bare_codes() {
        assert!(parse_name("organisations/red_cross").is_ok());
        assert!(parse_name("red_cross").is_err());
    }
}
