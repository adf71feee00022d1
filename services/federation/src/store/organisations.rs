//! Member organisations and their staff lists.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, Result};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganisationRow {
    pub code: String,
    pub display_name: String,
    pub display_name_en: String,
    pub short_name: String,
    pub description: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ORGANISATION_COLUMNS: &str =
    "code, display_name, display_name_en, short_name, description, active, created_at, updated_at";

pub async fn get(connection: &mut PgConnection, code: &str) -> Result<Option<OrganisationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ORGANISATION_COLUMNS} from organisations where code = $1"
    )))
    .bind(code)
    .fetch_optional(connection)
    .await
    .context("reading an organisation")
}

pub async fn list(
    connection: &mut PgConnection,
    after: Option<&str>,
    include_inactive: bool,
    limit: i64,
) -> Result<Vec<OrganisationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ORGANISATION_COLUMNS} from organisations
         where ($1::text is null or code > $1) and ($2 or active)
         order by code limit $3"
    )))
    .bind(after)
    .bind(include_inactive)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing organisations")
}

pub struct NewOrganisation<'a> {
    pub code: &'a str,
    pub display_name: &'a str,
    pub display_name_en: &'a str,
    pub short_name: &'a str,
    pub description: &'a str,
}

/// `None` when the code is taken.
pub async fn insert(
    connection: &mut PgConnection,
    organisation: &NewOrganisation<'_>,
) -> Result<Option<OrganisationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into organisations (code, display_name, display_name_en, short_name, description)
         values ($1, $2, $3, $4, $5)
         on conflict (code) do nothing
         returning {ORGANISATION_COLUMNS}"
    )))
    .bind(organisation.code)
    .bind(organisation.display_name)
    .bind(organisation.display_name_en)
    .bind(organisation.short_name)
    .bind(organisation.description)
    .fetch_optional(connection)
    .await
    .context("admitting an organisation")
}

#[derive(Debug, Default)]
pub struct OrganisationChanges {
    pub display_name: Option<String>,
    pub display_name_en: Option<String>,
    pub short_name: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

pub async fn update(
    connection: &mut PgConnection,
    code: &str,
    changes: &OrganisationChanges,
) -> Result<Option<OrganisationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update organisations set
            display_name = coalesce($2, display_name),
            display_name_en = coalesce($3, display_name_en),
            short_name = coalesce($4, short_name),
            description = coalesce($5, description),
            active = coalesce($6, active),
            updated_at = now()
         where code = $1
         returning {ORGANISATION_COLUMNS}"
    )))
    .bind(code)
    .bind(&changes.display_name)
    .bind(&changes.display_name_en)
    .bind(&changes.short_name)
    .bind(&changes.description)
    .bind(changes.active)
    .fetch_optional(connection)
    .await
    .context("updating an organisation")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    pub organisation: String,
    pub staff_id: String,
    pub display_name: String,
    pub position: String,
    pub permissions: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const STAFF_COLUMNS: &str =
    "organisation, staff_id, display_name, position, permissions, active, created_at, updated_at";

pub async fn get_staff(
    connection: &mut PgConnection,
    organisation: &str,
    staff_id: &str,
) -> Result<Option<StaffRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {STAFF_COLUMNS} from staff where organisation = $1 and staff_id = $2"
    )))
    .bind(organisation)
    .bind(staff_id)
    .fetch_optional(connection)
    .await
    .context("reading a staff member")
}

pub async fn list_staff(
    connection: &mut PgConnection,
    organisation: &str,
    after: Option<&str>,
    include_inactive: bool,
    limit: i64,
) -> Result<Vec<StaffRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {STAFF_COLUMNS} from staff
         where organisation = $1 and ($2::text is null or staff_id > $2) and ($3 or active)
         order by staff_id limit $4"
    )))
    .bind(organisation)
    .bind(after)
    .bind(include_inactive)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing staff")
}

pub struct NewStaff<'a> {
    pub organisation: &'a str,
    pub staff_id: &'a str,
    pub display_name: &'a str,
    pub position: &'a str,
    pub permissions: &'a [String],
}

/// `None` when the staff member is on the list already.
pub async fn insert_staff(
    connection: &mut PgConnection,
    staff: &NewStaff<'_>,
) -> Result<Option<StaffRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into staff (organisation, staff_id, display_name, position, permissions)
         values ($1, $2, $3, $4, $5)
         on conflict (organisation, staff_id) do nothing
         returning {STAFF_COLUMNS}"
    )))
    .bind(staff.organisation)
    .bind(staff.staff_id)
    .bind(staff.display_name)
    .bind(staff.position)
    .bind(staff.permissions)
    .fetch_optional(connection)
    .await
    .context("adding a staff member")
}

#[derive(Debug, Default)]
pub struct StaffChanges {
    pub display_name: Option<String>,
    pub position: Option<String>,
    pub permissions: Option<Vec<String>>,
    pub active: Option<bool>,
}

pub async fn update_staff(
    connection: &mut PgConnection,
    organisation: &str,
    staff_id: &str,
    changes: &StaffChanges,
) -> Result<Option<StaffRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update staff set
            display_name = coalesce($3, display_name),
            position = coalesce($4, position),
            permissions = coalesce($5, permissions),
            active = coalesce($6, active),
            updated_at = now()
         where organisation = $1 and staff_id = $2
         returning {STAFF_COLUMNS}"
    )))
    .bind(organisation)
    .bind(staff_id)
    .bind(&changes.display_name)
    .bind(&changes.position)
    .bind(&changes.permissions)
    .bind(changes.active)
    .fetch_optional(connection)
    .await
    .context("updating a staff member")
}

/// Whether `code` is an active member organisation; `None` when it is not a
/// member at all.
pub async fn membership(connection: &mut PgConnection, code: &str) -> Result<Option<bool>> {
    sqlx::query_scalar("select active from organisations where code = $1")
        .bind(code)
        .fetch_optional(connection)
        .await
        .context("checking membership")
}

/// The permission words of an active staff member; `None` when they are
/// not on the list or inactive.
pub async fn permissions(
    connection: &mut PgConnection,
    organisation: &str,
    staff_id: &str,
) -> Result<Option<Vec<String>>> {
    sqlx::query_scalar(
        "select permissions from staff where organisation = $1 and staff_id = $2 and active",
    )
    .bind(organisation)
    .bind(staff_id)
    .fetch_optional(connection)
    .await
    .context("reading staff permissions")
}
