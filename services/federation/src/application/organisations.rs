//! Member organisations: the public directory, admitted and changed by
//! district administrators.

use flatgov_auth::policy::Access;

use super::{App, Page, commit};
use crate::domain::codes::{OrganisationCode, organisation_name};
use crate::error::{Error, Result};
use crate::store::organisations::{self as store, OrganisationChanges, OrganisationRow};

/// A new member organisation.
#[derive(Debug)]
pub struct NewOrganisation {
    pub code: OrganisationCode,
    pub display_name: String,
    pub display_name_en: String,
    pub short_name: String,
    pub description: String,
}

/// Changes to a member organisation.
#[derive(Debug)]
pub struct UpdateOrganisation {
    pub code: OrganisationCode,
    pub changes: OrganisationChanges,
}

/// A page of the directory.
#[derive(Debug)]
pub struct ListOrganisations {
    pub include_inactive: bool,
    pub page: Page<String>,
}

fn not_a_member(code: &OrganisationCode) -> Error {
    Error::NotFound(format!(
        "{} is not a member organisation",
        organisation_name(code.as_str())
    ))
}

pub async fn get(app: &App, code: &OrganisationCode) -> Result<OrganisationRow> {
    let mut connection = app.connection("reading an organisation").await?;
    store::get(&mut connection, code.as_str())
        .await?
        .ok_or_else(|| not_a_member(code))
}

pub async fn list(app: &App, query: &ListOrganisations) -> Result<Vec<OrganisationRow>> {
    let mut connection = app.connection("listing organisations").await?;
    Ok(store::list(
        &mut connection,
        query.page.after.as_deref(),
        query.include_inactive,
        query.page.limit,
    )
    .await?)
}

pub async fn create(
    app: &App,
    access: &Access,
    organisation: NewOrganisation,
) -> Result<OrganisationRow> {
    let name = organisation_name(organisation.code.as_str());
    let mut transaction = app.begin("admitting an organisation").await?;
    let row = store::insert(
        &mut transaction,
        &store::NewOrganisation {
            code: organisation.code.as_str(),
            display_name: &organisation.display_name,
            display_name_en: &organisation.display_name_en,
            short_name: &organisation.short_name,
            description: &organisation.description,
        },
    )
    .await?
    .ok_or_else(|| Error::AlreadyExists {
        message: format!("organisation {} is already a member", organisation.code),
        resource: Some(name.clone()),
    })?;
    access.audit().resource(name);
    commit(transaction, access, "admitting an organisation").await?;
    tracing::info!(organisation = %organisation.code, "organisation admitted");
    Ok(row)
}

pub async fn update(
    app: &App,
    access: &Access,
    update: UpdateOrganisation,
) -> Result<OrganisationRow> {
    let mut transaction = app.begin("updating an organisation").await?;
    let row = store::update(&mut transaction, update.code.as_str(), &update.changes)
        .await?
        .ok_or_else(|| not_a_member(&update.code))?;
    access
        .audit()
        .resource(organisation_name(update.code.as_str()));
    commit(transaction, access, "updating an organisation").await?;
    Ok(row)
}
