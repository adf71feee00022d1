//! Staff lists of member organisations.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::federation::v1 as proto;

use super::FederationService;
use super::organisations::parse_name as parse_organisation_name;
use super::parse::{self, Listing, finish};
use super::words;
use crate::application::staff::{
    self as app, ListStaff, NewStaff, StaffName, UpdateStaff, staff_name,
};
use crate::domain::codes::{OrganisationCode, organisation_name, parse_organisation_reference};
use crate::domain::kinds::StaffPermission;
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};
use crate::store::organisations::{StaffChanges, StaffRow};

fn render(row: StaffRow) -> Result<proto::Staff> {
    Ok(proto::Staff {
        name: staff_name(&row.organisation, &row.staff_id),
        organisation: organisation_name(&row.organisation),
        permissions: words::stored(&row.permissions, StaffPermission::from_stored)?,
        staff_id: row.staff_id,
        display_name: row.display_name,
        position: row.position,
        active: row.active,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
    })
}

/// `organisations/{code}/staff/{staff_id}`.
fn parse_staff_name(value: &str) -> std::result::Result<StaffName, Invalid> {
    let shape = || {
        Invalid::new(format!(
            "`{value}` must look like organisations/{{code}}/staff/{{staff_id}}"
        ))
    };
    let rest = value
        .trim()
        .strip_prefix("organisations/")
        .ok_or_else(shape)?;
    let (code, staff_id) = rest.split_once("/staff/").ok_or_else(shape)?;
    Ok(StaffName {
        organisation: OrganisationCode::parse(code)?,
        staff_id: parse_staff_id(staff_id)?,
    })
}

/// A token subject: 1 to 128 characters without spaces or slashes (it is
/// part of a resource name).
fn parse_staff_id(value: &str) -> std::result::Result<String, Invalid> {
    let staff_id = text::required(value, 128)?;
    if staff_id
        .chars()
        .any(|character| character.is_whitespace() || character == '/')
    {
        return Err(Invalid::new("must not contain spaces or slashes"));
    }
    Ok(staff_id)
}

/// Permission words from proto members; empty is allowed (no permission).
fn parse_permissions(values: &[i32]) -> std::result::Result<Vec<String>, Invalid> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let permissions: Vec<StaffPermission> = words::list(values)?;
    Ok(permissions
        .iter()
        .map(|permission| permission.as_str().to_owned())
        .collect())
}

impl TryFrom<proto::CreateStaffRequest> for NewStaff {
    type Error = Error;

    fn try_from(request: proto::CreateStaffRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let organisation = violations.check("parent", parse_organisation_name(&request.parent));
        let staff_id = violations.check("staff_id", parse_staff_id(&request.staff_id));
        let display_name =
            violations.check("display_name", text::required(&request.display_name, 100));
        let position = violations.check("position", text::optional(&request.position, 100));
        let permissions = violations.check("permissions", parse_permissions(&request.permissions));
        finish(violations, || {
            Some(NewStaff {
                organisation: organisation?,
                staff_id: staff_id?,
                display_name: display_name?,
                position: position?,
                permissions: permissions?,
            })
        })
    }
}

impl TryFrom<proto::UpdateStaffRequest> for UpdateStaff {
    type Error = Error;

    fn try_from(request: proto::UpdateStaffRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let staff = violations.check("name", parse_staff_name(&request.name));
        let display_name = request
            .display_name
            .as_deref()
            .and_then(|value| violations.check("display_name", text::required(value, 100)));
        let position = request
            .position
            .as_deref()
            .and_then(|value| violations.check("position", text::optional(value, 100)));
        let permissions = if request.replace_permissions {
            violations.check("permissions", parse_permissions(&request.permissions))
        } else {
            if !request.permissions.is_empty() {
                violations.add(
                    "replace_permissions",
                    "must be true when permissions are given",
                );
            }
            None
        };
        finish(violations, || {
            Some(UpdateStaff {
                staff: staff?,
                changes: StaffChanges {
                    display_name,
                    position,
                    permissions,
                    active: request.active,
                },
            })
        })
    }
}

impl TryFrom<proto::ListStaffRequest> for Listing<ListStaff> {
    type Error = Error;

    fn try_from(mut request: proto::ListStaffRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let organisation =
            violations.check("parent", parse_organisation_reference(&request.parent));
        let paged = parse::page(
            &mut violations,
            ListQuery::of_request("staff", &request),
            page_size,
            &page_token,
        );
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListStaff {
                    organisation: organisation?,
                    include_inactive: request.include_inactive,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn create_staff(
    service: &FederationService,
    access: &Access,
    request: proto::CreateStaffRequest,
) -> Result<proto::Staff> {
    let staff = NewStaff::try_from(request)?;
    render(app::create(&service.app, access, staff).await?)
}

pub async fn update_staff(
    service: &FederationService,
    access: &Access,
    request: proto::UpdateStaffRequest,
) -> Result<proto::Staff> {
    let update = UpdateStaff::try_from(request)?;
    render(app::update(&service.app, access, update).await?)
}

pub async fn get_staff(
    service: &FederationService,
    access: &Access,
    request: proto::GetStaffRequest,
) -> Result<proto::Staff> {
    let mut violations = Violations::new();
    let staff = violations.check("name", parse_staff_name(&request.name));
    let staff = finish(violations, || staff)?;
    render(app::get(&service.app, access, &staff).await?)
}

pub async fn list_staff(
    service: &FederationService,
    access: &Access,
    request: proto::ListStaffRequest,
) -> Result<proto::ListStaffResponse> {
    let listing = Listing::<ListStaff>::try_from(request)?;
    let mut rows = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.staff_id.clone());
    Ok(proto::ListStaffResponse {
        staff: rows.into_iter().map(render).collect::<Result<_>>()?,
        next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_names_split_into_organisation_and_subject() {
        let staff = parse_staff_name("organisations/womens_federation/staff/wf-0042").unwrap();
        assert_eq!(staff.organisation.as_str(), "womens_federation");
        assert_eq!(staff.staff_id, "wf-0042");
        assert!(parse_staff_name("organisations/womens_federation/wf-0042").is_err());
        assert!(parse_staff_name("organisations/womens_federation/staff/a b").is_err());
    }
}
