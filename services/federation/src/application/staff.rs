//! Staff lists: who of a member organisation holds which permission. A
//! list is seen by its own organisation's staff and by administrators;
//! kept by administrators and the organisation's staff managers.

use flatgov_auth::policy::{Access, Scope};

use super::{App, Page, commit};
use crate::access;
use crate::domain::codes::{OrganisationCode, organisation_name};
use crate::error::{Error, Result};
use crate::store::organisations::{self as store, StaffChanges, StaffRow};

/// A staff member put on a list.
#[derive(Debug)]
pub struct NewStaff {
    pub organisation: OrganisationCode,
    pub staff_id: String,
    pub display_name: String,
    pub position: String,
    pub permissions: Vec<String>,
}

/// A staff member, by organisation and token subject.
#[derive(Debug, Clone)]
pub struct StaffName {
    pub organisation: OrganisationCode,
    pub staff_id: String,
}

impl StaffName {
    /// `organisations/{code}/staff/{staff_id}`.
    pub fn name(&self) -> String {
        staff_name(self.organisation.as_str(), &self.staff_id)
    }
}

/// Changes to a staff member.
#[derive(Debug)]
pub struct UpdateStaff {
    pub staff: StaffName,
    pub changes: StaffChanges,
}

/// A page of one organisation's list.
#[derive(Debug)]
pub struct ListStaff {
    pub organisation: OrganisationCode,
    pub include_inactive: bool,
    pub page: Page<String>,
}

pub fn staff_name(organisation: &str, staff_id: &str) -> String {
    format!("organisations/{organisation}/staff/{staff_id}")
}

/// A staff list is seen by its own organisation's staff and by
/// administrators (district-wide).
fn sees_staff_list(access: &Access, organisation: &OrganisationCode) -> bool {
    access.has_scope(Scope::DistrictWide)
        || access::reaches_organisations(access, &[organisation.as_str()])
}

/// The one answer for a staff member who is not on a list the caller sees.
fn not_on_the_list(name: &str) -> Error {
    Error::NotFound(format!("{name} is not on the staff list"))
}

pub async fn create(app: &App, access: &Access, staff: NewStaff) -> Result<StaffRow> {
    let name = staff_name(staff.organisation.as_str(), &staff.staff_id);
    let mut transaction = app.begin("adding a staff member").await?;
    if access::membership(&mut transaction, staff.organisation.as_str())
        .await?
        .is_none()
    {
        return Err(Error::NotFound(format!(
            "{} is not a member organisation",
            organisation_name(staff.organisation.as_str())
        )));
    }
    access::require_staff_manager(&mut transaction, access, &staff.organisation).await?;
    let row = store::insert_staff(
        &mut transaction,
        &store::NewStaff {
            organisation: staff.organisation.as_str(),
            staff_id: &staff.staff_id,
            display_name: &staff.display_name,
            position: &staff.position,
            permissions: &staff.permissions,
        },
    )
    .await?
    .ok_or_else(|| Error::AlreadyExists {
        message: format!(
            "{} is already on the staff list of {}",
            staff.staff_id, staff.organisation
        ),
        resource: Some(name.clone()),
    })?;
    access.audit().resource(name);
    commit(transaction, access, "adding a staff member").await?;
    tracing::info!(organisation = %staff.organisation, staff = %staff.staff_id, "staff member added");
    Ok(row)
}

pub async fn update(app: &App, access: &Access, update: UpdateStaff) -> Result<StaffRow> {
    let name = update.staff.name();
    // Another organisation's staff list is out of sight: its members are
    // answered as if they did not exist.
    if !sees_staff_list(access, &update.staff.organisation) {
        return Err(not_on_the_list(&name));
    }
    let mut transaction = app.begin("updating a staff member").await?;
    access::require_staff_manager(&mut transaction, access, &update.staff.organisation).await?;
    let row = store::update_staff(
        &mut transaction,
        update.staff.organisation.as_str(),
        &update.staff.staff_id,
        &update.changes,
    )
    .await?
    .ok_or_else(|| not_on_the_list(&name))?;
    access.audit().resource(name);
    commit(transaction, access, "updating a staff member").await?;
    tracing::info!(organisation = %update.staff.organisation, staff = %update.staff.staff_id, "staff member updated");
    Ok(row)
}

pub async fn get(app: &App, access: &Access, staff: &StaffName) -> Result<StaffRow> {
    let name = staff.name();
    if !sees_staff_list(access, &staff.organisation) {
        return Err(not_on_the_list(&name));
    }
    let mut connection = app.connection("reading a staff member").await?;
    let row = store::get_staff(
        &mut connection,
        staff.organisation.as_str(),
        &staff.staff_id,
    )
    .await?
    .ok_or_else(|| not_on_the_list(&name))?;
    access.audit().resource(name);
    Ok(row)
}

pub async fn list(app: &App, access: &Access, query: &ListStaff) -> Result<Vec<StaffRow>> {
    if !sees_staff_list(access, &query.organisation) {
        return Err(Error::PermissionDenied(
            "a staff list is seen by its own organisation and district administrators".into(),
        ));
    }
    let mut connection = app.connection("listing staff").await?;
    let rows = store::list_staff(
        &mut connection,
        query.organisation.as_str(),
        query.page.after.as_deref(),
        query.include_inactive,
        query.page.limit,
    )
    .await?;
    for row in &rows {
        access
            .audit()
            .resource(staff_name(&row.organisation, &row.staff_id));
    }
    Ok(rows)
}
