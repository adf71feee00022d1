//! Agencies, their units and their officers.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Context as _, StoreError};

// ---------------------------------------------------------------- agencies

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgencyRow {
    pub code: String,
    pub display_name: String,
    pub display_name_en: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its actions' notes are sensitive unless marked otherwise.
    pub notes_sensitive_by_default: bool,
    /// Its actions' findings and penalty details are restricted to it
    /// unless marked otherwise.
    pub details_restricted_by_default: bool,
}

const AGENCY_COLUMNS: &str = "code, display_name, display_name_en, active, created_at, updated_at,
     notes_sensitive_by_default, details_restricted_by_default";

/// An agency to register.
pub struct NewAgency<'a> {
    pub code: &'a str,
    pub display_name: &'a str,
    pub display_name_en: &'a str,
    pub notes_sensitive_by_default: bool,
    pub details_restricted_by_default: bool,
    pub now: DateTime<Utc>,
}

/// Registers an agency; `None` when the code is taken.
pub async fn insert_agency(
    connection: &mut PgConnection,
    agency: &NewAgency<'_>,
) -> Result<Option<AgencyRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into agencies (code, display_name, display_name_en, active, created_at, updated_at,
             notes_sensitive_by_default, details_restricted_by_default)
         values ($1, $2, $3, true, $4, $4, $5, $6)
         on conflict (code) do nothing
         returning {AGENCY_COLUMNS}"
    )))
    .bind(agency.code)
    .bind(agency.display_name)
    .bind(agency.display_name_en)
    .bind(agency.now)
    .bind(agency.notes_sensitive_by_default)
    .bind(agency.details_restricted_by_default)
    .fetch_optional(connection)
    .await
    .context("registering an agency")
}

/// What an agency update changes; `None` leaves a field as it is.
pub struct AgencyChanges<'a> {
    pub display_name: Option<&'a str>,
    pub display_name_en: Option<&'a str>,
    pub active: Option<bool>,
    pub notes_sensitive_by_default: Option<bool>,
    pub details_restricted_by_default: Option<bool>,
}

pub async fn update_agency(
    connection: &mut PgConnection,
    code: &str,
    changes: &AgencyChanges<'_>,
    now: DateTime<Utc>,
) -> Result<Option<AgencyRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update agencies set
             display_name = coalesce($2, display_name),
             display_name_en = coalesce($3, display_name_en),
             active = coalesce($4, active),
             updated_at = $5,
             notes_sensitive_by_default = coalesce($6, notes_sensitive_by_default),
             details_restricted_by_default = coalesce($7, details_restricted_by_default)
         where code = $1
         returning {AGENCY_COLUMNS}"
    )))
    .bind(code)
    .bind(changes.display_name)
    .bind(changes.display_name_en)
    .bind(changes.active)
    .bind(now)
    .bind(changes.notes_sensitive_by_default)
    .bind(changes.details_restricted_by_default)
    .fetch_optional(connection)
    .await
    .context("updating an agency")
}

pub async fn get_agency(
    connection: &mut PgConnection,
    code: &str,
) -> Result<Option<AgencyRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(AGENCY_COLUMNS);
    query.push(" from agencies where code = ");
    query.push_bind(code);
    query
        .build_query_as()
        .fetch_optional(connection)
        .await
        .context("reading an agency")
}

pub async fn list_agencies(
    connection: &mut PgConnection,
    include_inactive: bool,
    after_code: Option<&str>,
    limit: i64,
) -> Result<Vec<AgencyRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(AGENCY_COLUMNS);
    query.push(" from agencies where true");
    if !include_inactive {
        query.push(" and active");
    }
    if let Some(after) = after_code {
        query.push(" and code > ");
        query.push_bind(after);
    }
    query.push(" order by code limit ");
    query.push_bind(limit);
    query
        .build_query_as()
        .fetch_all(connection)
        .await
        .context("listing agencies")
}

/// Active agencies, oldest first (the founding three first).
pub async fn active_agency_codes(connection: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar("select code from agencies where active order by created_at, code")
        .fetch_all(connection)
        .await
        .context("reading the active agencies")
}

/// Of `codes`, those registered, with whether each is active.
pub async fn agencies_status(
    connection: &mut PgConnection,
    codes: &[String],
) -> Result<Vec<(String, bool)>, StoreError> {
    sqlx::query_as("select code, active from agencies where code = any($1)")
        .bind(codes)
        .fetch_all(connection)
        .await
        .context("reading agencies")
}

// ------------------------------------------------------------------- units

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitRow {
    pub id: Uuid,
    pub agency_code: String,
    pub display_name: String,
    pub stationed_subdistrict_code: Option<String>,
    pub on_duty: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The agency's district duty desk.
    pub duty_desk: bool,
    /// On duty when read: marked on duty, or a shift of its roster runs.
    pub on_duty_now: bool,
}

/// Selects a unit's columns (`u`) and whether it is on duty at `now`:
/// marked so, or a shift of its roster runs then.
fn push_unit_columns(query: &mut QueryBuilder<Postgres>, now: DateTime<Utc>) {
    query.push(
        "select u.id, u.agency_code, u.display_name, u.stationed_subdistrict_code, u.on_duty, u.active,
             u.created_at, u.updated_at, u.duty_desk,
             (u.on_duty or exists (select 1 from duty_shifts s where s.unit_id = u.id
                                    and s.starts_at <= ",
    );
    query.push_bind(now);
    query.push(" and s.ends_at > ");
    query.push_bind(now);
    query.push(")) as on_duty_now");
}

/// What changing a unit came to.
pub enum UnitUpdate {
    Updated(UnitRow),
    /// No such unit.
    Missing,
    /// It would be a second active duty desk of its agency.
    SecondDutyDesk,
}

pub struct NewUnit<'a> {
    pub id: Uuid,
    pub agency: &'a str,
    pub display_name: &'a str,
    pub stationed_subdistrict_code: Option<&'a str>,
    pub on_duty: bool,
    pub duty_desk: bool,
    pub now: DateTime<Utc>,
}

/// Creates a unit; `None` when it would be a second active duty desk of
/// its agency.
pub async fn insert_unit(
    connection: &mut PgConnection,
    unit: &NewUnit<'_>,
) -> Result<Option<UnitRow>, StoreError> {
    let inserted = sqlx::query(
        "insert into units (id, agency_code, display_name, stationed_subdistrict_code, on_duty, active,
             created_at, updated_at, duty_desk)
         values ($1, $2, $3, $4, $5, true, $6, $6, $7)
         on conflict do nothing",
    )
    .bind(unit.id)
    .bind(unit.agency)
    .bind(unit.display_name)
    .bind(unit.stationed_subdistrict_code)
    .bind(unit.on_duty)
    .bind(unit.now)
    .bind(unit.duty_desk)
    .execute(&mut *connection)
    .await
    .context("creating a unit")?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    get_unit(connection, unit.agency, unit.id, unit.now).await
}

pub struct UnitChanges<'a> {
    pub display_name: Option<&'a str>,
    /// `Some(None)` withdraws the unit from its subdistrict.
    pub stationed_subdistrict_code: Option<Option<&'a str>>,
    pub on_duty: Option<bool>,
    pub active: Option<bool>,
    pub duty_desk: Option<bool>,
}

/// Changes a unit. The unique index `units_one_duty_desk_per_agency`
/// decides a race for the desk.
pub async fn update_unit(
    connection: &mut PgConnection,
    agency: &str,
    id: Uuid,
    changes: &UnitChanges<'_>,
    now: DateTime<Utc>,
) -> Result<UnitUpdate, StoreError> {
    let updated = sqlx::query(
        "update units set
             display_name = coalesce($3, display_name),
             stationed_subdistrict_code = case when $4 then $5 else stationed_subdistrict_code end,
             on_duty = coalesce($6, on_duty),
             active = coalesce($7, active),
             updated_at = $8,
             duty_desk = coalesce($9, duty_desk)
         where agency_code = $1 and id = $2",
    )
    .bind(agency)
    .bind(id)
    .bind(changes.display_name)
    .bind(changes.stationed_subdistrict_code.is_some())
    .bind(changes.stationed_subdistrict_code.flatten())
    .bind(changes.on_duty)
    .bind(changes.active)
    .bind(now)
    .bind(changes.duty_desk)
    .execute(&mut *connection)
    .await;
    let updated = match updated {
        Err(error) if flatgov_grpc::error::is_unique_violation(&error) => {
            return Ok(UnitUpdate::SecondDutyDesk);
        }
        other => other.context("updating a unit")?,
    };
    if updated.rows_affected() == 0 {
        return Ok(UnitUpdate::Missing);
    }
    Ok(match get_unit(connection, agency, id, now).await? {
        Some(row) => UnitUpdate::Updated(row),
        None => UnitUpdate::Missing,
    })
}

/// The unit, as it stands at `now`.
pub async fn get_unit(
    connection: &mut PgConnection,
    agency: &str,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<UnitRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("");
    push_unit_columns(&mut query, now);
    query.push(" from units u where u.agency_code = ");
    query.push_bind(agency);
    query.push(" and u.id = ");
    query.push_bind(id);
    query
        .build_query_as()
        .fetch_optional(connection)
        .await
        .context("reading a unit")
}

pub struct UnitFilter<'a> {
    pub agency: Option<&'a str>,
    pub stationed_subdistrict_code: Option<&'a str>,
    pub on_duty_only: bool,
    pub include_inactive: bool,
    pub after: Option<Uuid>,
    pub limit: i64,
    /// The moment "on duty" refers to.
    pub now: DateTime<Utc>,
}

pub async fn list_units(
    connection: &mut PgConnection,
    filter: &UnitFilter<'_>,
) -> Result<Vec<UnitRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("");
    push_unit_columns(&mut query, filter.now);
    query.push(" from units u where true");
    if let Some(agency) = filter.agency {
        query.push(" and u.agency_code = ");
        query.push_bind(agency);
    }
    if let Some(subdistrict) = filter.stationed_subdistrict_code {
        query.push(" and u.stationed_subdistrict_code = ");
        query.push_bind(subdistrict);
    }
    if filter.on_duty_only {
        // On duty now: marked so, or a shift of its roster runs.
        query.push(
            " and (u.on_duty or exists (select 1 from duty_shifts s where s.unit_id = u.id
                   and s.starts_at <= ",
        );
        query.push_bind(filter.now);
        query.push(" and s.ends_at > ");
        query.push_bind(filter.now);
        query.push("))");
    }
    if !filter.include_inactive {
        query.push(" and u.active");
    }
    if let Some(after) = filter.after {
        query.push(" and u.id > ");
        query.push_bind(after);
    }
    query.push(" order by u.id limit ");
    query.push_bind(filter.limit);
    query
        .build_query_as()
        .fetch_all(connection)
        .await
        .context("listing units")
}

/// Subdistricts where an active unit is stationed.
pub async fn stationed_subdistricts(
    connection: &mut PgConnection,
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "select distinct stationed_subdistrict_code from units
         where active and stationed_subdistrict_code is not null
         order by 1",
    )
    .fetch_all(connection)
    .await
    .context("reading where units are stationed")
}

// ---------------------------------------------------------------- officers

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfficerRow {
    pub id: Uuid,
    pub agency_code: String,
    pub unit_id: Option<Uuid>,
    pub display_name: String,
    pub badge_number: String,
    pub phone: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const OFFICER_COLUMNS: &str =
    "id, agency_code, unit_id, display_name, badge_number, phone, active, created_at, updated_at";

pub struct NewOfficer<'a> {
    pub id: Uuid,
    pub agency: &'a str,
    pub unit_id: Option<Uuid>,
    pub display_name: &'a str,
    pub badge_number: &'a str,
    pub phone: &'a str,
    pub now: DateTime<Utc>,
}

/// Adds an officer; `None` when the agency already has the badge number.
pub async fn insert_officer(
    connection: &mut PgConnection,
    officer: &NewOfficer<'_>,
) -> Result<Option<OfficerRow>, StoreError> {
    sqlx::query_as(
        "insert into officers (id, agency_code, unit_id, display_name, badge_number, phone, active, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, true, $7, $7)
         on conflict (agency_code, badge_number) do nothing
         returning id, agency_code, unit_id, display_name, badge_number, phone, active, created_at, updated_at",
    )
    .bind(officer.id)
    .bind(officer.agency)
    .bind(officer.unit_id)
    .bind(officer.display_name)
    .bind(officer.badge_number)
    .bind(officer.phone)
    .bind(officer.now)
    .fetch_optional(connection)
    .await
    .context("adding an officer")
}

pub struct OfficerChanges<'a> {
    /// `Some(None)` detaches the officer from its unit.
    pub unit_id: Option<Option<Uuid>>,
    pub display_name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub active: Option<bool>,
}

pub async fn update_officer(
    connection: &mut PgConnection,
    agency: &str,
    id: Uuid,
    changes: &OfficerChanges<'_>,
    now: DateTime<Utc>,
) -> Result<Option<OfficerRow>, StoreError> {
    sqlx::query_as(
        "update officers set
             unit_id = case when $3 then $4 else unit_id end,
             display_name = coalesce($5, display_name),
             phone = coalesce($6, phone),
             active = coalesce($7, active),
             updated_at = $8
         where agency_code = $1 and id = $2
         returning id, agency_code, unit_id, display_name, badge_number, phone, active, created_at, updated_at",
    )
    .bind(agency)
    .bind(id)
    .bind(changes.unit_id.is_some())
    .bind(changes.unit_id.flatten())
    .bind(changes.display_name)
    .bind(changes.phone)
    .bind(changes.active)
    .bind(now)
    .fetch_optional(connection)
    .await
    .context("updating an officer")
}

pub async fn get_officer(
    connection: &mut PgConnection,
    agency: &str,
    id: Uuid,
) -> Result<Option<OfficerRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OFFICER_COLUMNS);
    query.push(" from officers where agency_code = ");
    query.push_bind(agency);
    query.push(" and id = ");
    query.push_bind(id);
    query
        .build_query_as()
        .fetch_optional(connection)
        .await
        .context("reading an officer")
}

pub async fn officers_by_id(
    connection: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<OfficerRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OFFICER_COLUMNS);
    query.push(" from officers where id = any(");
    query.push_bind(ids);
    query.push(")");
    query
        .build_query_as()
        .fetch_all(connection)
        .await
        .context("reading officers")
}

pub struct OfficerFilter<'a> {
    pub agency: &'a str,
    pub unit_id: Option<Uuid>,
    pub include_inactive: bool,
    pub after: Option<Uuid>,
    pub limit: i64,
}

pub async fn list_officers(
    connection: &mut PgConnection,
    filter: &OfficerFilter<'_>,
) -> Result<Vec<OfficerRow>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OFFICER_COLUMNS);
    query.push(" from officers where agency_code = ");
    query.push_bind(filter.agency);
    if let Some(unit) = filter.unit_id {
        query.push(" and unit_id = ");
        query.push_bind(unit);
    }
    if !filter.include_inactive {
        query.push(" and active");
    }
    if let Some(after) = filter.after {
        query.push(" and id > ");
        query.push_bind(after);
    }
    query.push(" order by id limit ");
    query.push_bind(filter.limit);
    query
        .build_query_as()
        .fetch_all(connection)
        .await
        .context("listing officers")
}
