//! Member organisations and staff lists.

use flatgov_auth::policy::{Access, Scope};
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::federation::v1 as proto;

use super::{Checks, FederationService, ProtoWord, commit, word_list};
use crate::access;
use crate::domain::codes::{Code, organisation_name, parse_organisation_reference};
use crate::domain::kinds::StaffPermission;
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};
use crate::store::organisations::{
    self as store, NewOrganisation, NewStaff, OrganisationChanges, OrganisationRow, StaffChanges,
    StaffRow,
};

fn to_proto(row: OrganisationRow) -> proto::Organisation {
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

fn staff_to_proto(row: StaffRow) -> Result<proto::Staff> {
    let permissions = row
        .permissions
        .iter()
        .map(|word| StaffPermission::from_stored(word).map(ProtoWord::to_proto))
        .collect::<std::result::Result<Vec<i32>, _>>()?;
    Ok(proto::Staff {
        name: staff_name(&row.organisation, &row.staff_id),
        organisation: organisation_name(&row.organisation),
        staff_id: row.staff_id,
        display_name: row.display_name,
        position: row.position,
        permissions,
        active: row.active,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
    })
}

fn staff_name(organisation: &str, staff_id: &str) -> String {
    format!("organisations/{organisation}/staff/{staff_id}")
}

/// `organisations/{code}` (not the bare code: names are names).
fn parse_organisation_name(value: &str) -> std::result::Result<Code, Invalid> {
    let code = value.trim().strip_prefix("organisations/").ok_or_else(|| {
        Invalid::new(format!(
            "`{value}` must look like organisations/womens_federation"
        ))
    })?;
    Code::parse(code)
}

/// `organisations/{code}/staff/{staff_id}`.
fn parse_staff_name(value: &str) -> std::result::Result<(Code, String), Invalid> {
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
    Ok((Code::parse(code)?, parse_staff_id(staff_id)?))
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
    let permissions: Vec<StaffPermission> = word_list(values)?;
    Ok(permissions
        .iter()
        .map(|permission| permission.as_str().to_owned())
        .collect())
}

pub async fn get_organisation(
    service: &FederationService,
    _access: &Access,
    request: proto::GetOrganisationRequest,
) -> Result<proto::Organisation> {
    let code = parse_organisation_name(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading an organisation").await?;
    let row = store::get(&mut connection, code.as_str())
        .await
        .map_err(Error::database("reading an organisation"))?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} is not a member organisation",
                request.name.trim()
            ))
        })?;
    Ok(to_proto(row))
}

pub async fn list_organisations(
    service: &FederationService,
    _access: &Access,
    request: proto::ListOrganisationsRequest,
) -> Result<proto::ListOrganisationsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("organisations", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    checks.finish()?;
    let mut connection = service.connection("listing organisations").await?;
    let mut rows = store::list(
        &mut connection,
        page.after.as_deref(),
        request.include_inactive,
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing organisations"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.code.clone());
    Ok(proto::ListOrganisationsResponse {
        organisations: rows.into_iter().map(to_proto).collect(),
        next_page_token,
    })
}

pub async fn create_organisation(
    service: &FederationService,
    access: &Access,
    request: proto::CreateOrganisationRequest,
) -> Result<proto::Organisation> {
    let mut checks = Checks::new();
    let code = checks.check("code", Code::parse(&request.code).map(Some));
    let display_name = checks.check("display_name", text::required(&request.display_name, 100));
    let display_name_en = checks.check(
        "display_name_en",
        text::required(&request.display_name_en, 200),
    );
    let short_name = checks.check("short_name", text::required(&request.short_name, 20));
    let description = checks.check("description", text::optional(&request.description, 2000));
    checks.finish()?;
    let Some(code) = code else {
        return Err(Error::invalid("code", "must be set"));
    };
    let mut transaction = service.begin("admitting an organisation").await?;
    let row = store::insert(
        &mut transaction,
        &NewOrganisation {
            code: code.as_str(),
            display_name: &display_name,
            display_name_en: &display_name_en,
            short_name: &short_name,
            description: &description,
        },
    )
    .await
    .map_err(Error::database("admitting an organisation"))?
    .ok_or_else(|| Error::AlreadyExists {
        message: format!("organisation {code} is already a member"),
        resource: Some(organisation_name(code.as_str())),
    })?;
    access.audit().resource(organisation_name(code.as_str()));
    commit(transaction, access, "admitting an organisation").await?;
    tracing::info!(organisation = %code, "organisation admitted");
    Ok(to_proto(row))
}

pub async fn update_organisation(
    service: &FederationService,
    access: &Access,
    request: proto::UpdateOrganisationRequest,
) -> Result<proto::Organisation> {
    let mut checks = Checks::new();
    let code = checks.check("name", parse_organisation_name(&request.name).map(Some));
    let mut changes = OrganisationChanges {
        active: request.active,
        ..Default::default()
    };
    if let Some(value) = &request.display_name {
        changes.display_name = Some(checks.check("display_name", text::required(value, 100)));
    }
    if let Some(value) = &request.display_name_en {
        changes.display_name_en = Some(checks.check("display_name_en", text::required(value, 200)));
    }
    if let Some(value) = &request.short_name {
        changes.short_name = Some(checks.check("short_name", text::required(value, 20)));
    }
    if let Some(value) = &request.description {
        changes.description = Some(checks.check("description", text::optional(value, 2000)));
    }
    checks.finish()?;
    let Some(code) = code else {
        return Err(Error::invalid("name", "must be set"));
    };
    let mut transaction = service.begin("updating an organisation").await?;
    let row = store::update(&mut transaction, code.as_str(), &changes)
        .await
        .map_err(Error::database("updating an organisation"))?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} is not a member organisation",
                organisation_name(code.as_str())
            ))
        })?;
    access.audit().resource(organisation_name(code.as_str()));
    commit(transaction, access, "updating an organisation").await?;
    Ok(to_proto(row))
}

pub async fn create_staff(
    service: &FederationService,
    access: &Access,
    request: proto::CreateStaffRequest,
) -> Result<proto::Staff> {
    let mut checks = Checks::new();
    let organisation = checks.check("parent", parse_organisation_name(&request.parent).map(Some));
    let staff_id = checks.check("staff_id", parse_staff_id(&request.staff_id));
    let display_name = checks.check("display_name", text::required(&request.display_name, 100));
    let position = checks.check("position", text::optional(&request.position, 100));
    let permissions = checks.check("permissions", parse_permissions(&request.permissions));
    checks.finish()?;
    let Some(organisation) = organisation else {
        return Err(Error::invalid("parent", "must be set"));
    };
    let mut transaction = service.begin("adding a staff member").await?;
    if access::membership(&mut transaction, organisation.as_str())
        .await?
        .is_none()
    {
        return Err(Error::NotFound(format!(
            "{} is not a member organisation",
            organisation_name(organisation.as_str())
        )));
    }
    access::require_staff_manager(&mut transaction, access, &organisation).await?;
    let row = store::insert_staff(
        &mut transaction,
        &NewStaff {
            organisation: organisation.as_str(),
            staff_id: &staff_id,
            display_name: &display_name,
            position: &position,
            permissions: &permissions,
        },
    )
    .await
    .map_err(Error::database("adding a staff member"))?
    .ok_or_else(|| Error::AlreadyExists {
        message: format!("{staff_id} is already on the staff list of {organisation}"),
        resource: Some(staff_name(organisation.as_str(), &staff_id)),
    })?;
    access
        .audit()
        .resource(staff_name(organisation.as_str(), &staff_id));
    commit(transaction, access, "adding a staff member").await?;
    tracing::info!(organisation = %organisation, staff = %staff_id, "staff member added");
    staff_to_proto(row)
}

pub async fn update_staff(
    service: &FederationService,
    access: &Access,
    request: proto::UpdateStaffRequest,
) -> Result<proto::Staff> {
    let mut checks = Checks::new();
    let name = checks.check("name", parse_staff_name(&request.name).map(Some));
    let mut changes = StaffChanges {
        active: request.active,
        ..Default::default()
    };
    if let Some(value) = &request.display_name {
        changes.display_name = Some(checks.check("display_name", text::required(value, 100)));
    }
    if let Some(value) = &request.position {
        changes.position = Some(checks.check("position", text::optional(value, 100)));
    }
    if request.replace_permissions {
        changes.permissions =
            Some(checks.check("permissions", parse_permissions(&request.permissions)));
    } else if !request.permissions.is_empty() {
        checks.fail(
            "replace_permissions",
            "must be true when permissions are given",
        );
    }
    checks.finish()?;
    let Some((organisation, staff_id)) = name else {
        return Err(Error::invalid("name", "must be set"));
    };
    let name = staff_name(organisation.as_str(), &staff_id);
    // Another organisation's staff list is out of sight: its members are
    // answered as if they did not exist.
    if !sees_staff_list(access, &organisation) {
        return Err(staff_not_found(&name));
    }
    let mut transaction = service.begin("updating a staff member").await?;
    access::require_staff_manager(&mut transaction, access, &organisation).await?;
    let row = store::update_staff(&mut transaction, organisation.as_str(), &staff_id, &changes)
        .await
        .map_err(Error::database("updating a staff member"))?
        .ok_or_else(|| staff_not_found(&name))?;
    access.audit().resource(name);
    commit(transaction, access, "updating a staff member").await?;
    tracing::info!(organisation = %organisation, staff = %staff_id, "staff member updated");
    staff_to_proto(row)
}

/// A staff list is seen by its own organisation's staff and by
/// administrators (district-wide).
fn sees_staff_list(access: &Access, organisation: &Code) -> bool {
    access.has_scope(Scope::DistrictWide)
        || access::reaches_organisations(access, &[organisation.as_str()])
}

/// The one answer for a staff member who is not on a list the caller sees.
fn staff_not_found(name: &str) -> Error {
    Error::NotFound(format!("{name} is not on the staff list"))
}

pub async fn get_staff(
    service: &FederationService,
    access: &Access,
    request: proto::GetStaffRequest,
) -> Result<proto::Staff> {
    let (organisation, staff_id) =
        parse_staff_name(&request.name).map_err(|invalid| Error::invalid("name", invalid.0))?;
    let name = staff_name(organisation.as_str(), &staff_id);
    if !sees_staff_list(access, &organisation) {
        return Err(staff_not_found(&name));
    }
    let mut connection = service.connection("reading a staff member").await?;
    let row = store::get_staff(&mut connection, organisation.as_str(), &staff_id)
        .await
        .map_err(Error::database("reading a staff member"))?
        .ok_or_else(|| staff_not_found(&name))?;
    access.audit().resource(name);
    staff_to_proto(row)
}

pub async fn list_staff(
    service: &FederationService,
    access: &Access,
    request: proto::ListStaffRequest,
) -> Result<proto::ListStaffResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("staff", &request);
    let mut checks = Checks::new();
    let organisation = checks.check(
        "parent",
        parse_organisation_reference(&request.parent).map(Some),
    );
    let page = checks.page(&query, page_size, &page_token);
    checks.finish()?;
    let Some(organisation) = organisation else {
        return Err(Error::invalid("parent", "must be set"));
    };
    if !sees_staff_list(access, &organisation) {
        return Err(Error::PermissionDenied(
            "a staff list is seen by its own organisation and district administrators".into(),
        ));
    }
    let mut connection = service.connection("listing staff").await?;
    let mut rows = store::list_staff(
        &mut connection,
        organisation.as_str(),
        page.after.as_deref(),
        request.include_inactive,
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing staff"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.staff_id.clone());
    for row in &rows {
        access
            .audit()
            .resource(staff_name(&row.organisation, &row.staff_id));
    }
    Ok(proto::ListStaffResponse {
        staff: rows
            .into_iter()
            .map(staff_to_proto)
            .collect::<Result<_>>()?,
        next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_names_split_into_organisation_and_subject() {
        let (organisation, staff_id) =
            parse_staff_name("organisations/womens_federation/staff/wf-0042").unwrap();
        assert_eq!(organisation.as_str(), "womens_federation");
        assert_eq!(staff_id, "wf-0042");
        assert!(parse_staff_name("organisations/womens_federation/wf-0042").is_err());
        assert!(parse_staff_name("organisations/womens_federation/staff/a b").is_err());
    }

    #[test]
    fn organisation_names_must_be_names_not_bare_codes() {
        assert!(parse_organisation_name("organisations/red_cross").is_ok());
        assert!(parse_organisation_name("red_cross").is_err());
    }
}
