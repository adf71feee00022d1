//! Agencies, their units and their officers, managed as data: agencies by
//! district administrators, units and officers by their own agency's
//! officers and district administrators. Agencies and units form a public
//! directory; officers are personal data.

use flatgov_auth::policy::Access;
use flatgov_grpc::paging::{ListQuery, PageSize};
use uuid::Uuid;

use super::{Enforcement, Retry, lost_race, remember};
use crate::access;
use crate::domain::{AgencyCode, OfficerName, SubdistrictCode, Text, UnitName, name_of_agency};
use crate::error::Error;
use crate::store::{self, AgencyRow, OfficerRow, UnitRow};

/// A new agency.
#[derive(Debug, Clone)]
pub struct CreateAgency {
    /// The duty lists' department code.
    pub code: AgencyCode,
    pub display_name: Text,
    pub display_name_en: Text,
    /// Its notes are sensitive unless marked otherwise.
    pub notes_sensitive_by_default: bool,
    /// Its findings and penalty details are restricted to it unless marked
    /// otherwise.
    pub details_restricted_by_default: bool,
}

/// Changes to an agency; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct UpdateAgency {
    pub code: AgencyCode,
    pub display_name: Option<Text>,
    pub display_name_en: Option<Text>,
    pub active: Option<bool>,
    pub notes_sensitive_by_default: Option<bool>,
    pub details_restricted_by_default: Option<bool>,
}

/// A page of something keyed by `K`: its size, where it resumes, and the
/// filters its token is bound to.
#[derive(Debug, Clone)]
pub struct Page<K> {
    pub query: ListQuery,
    pub size: PageSize,
    pub after: Option<K>,
}

/// A page of agencies.
#[derive(Debug, Clone)]
pub struct AgencyListing {
    pub include_inactive: bool,
    pub page: Page<String>,
}

/// A new unit.
#[derive(Debug, Clone)]
pub struct CreateUnit {
    pub agency: AgencyCode,
    /// Makes a retry return the first unit.
    pub retry: Option<Retry>,
    pub display_name: Text,
    pub stationed_subdistrict: Option<SubdistrictCode>,
    pub on_duty: bool,
    /// The agency's district duty desk (at most one active per agency).
    pub duty_desk: bool,
}

/// Changes to a unit; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct UpdateUnit {
    pub unit: UnitName,
    pub display_name: Option<Text>,
    /// `Some(None)` withdraws the unit from its subdistrict.
    pub stationed_subdistrict: Option<Option<SubdistrictCode>>,
    pub on_duty: Option<bool>,
    pub active: Option<bool>,
    pub duty_desk: Option<bool>,
}

/// A page of units.
#[derive(Debug, Clone)]
pub struct UnitListing {
    pub agency: Option<AgencyCode>,
    pub stationed_subdistrict: Option<SubdistrictCode>,
    pub on_duty_only: bool,
    pub include_inactive: bool,
    pub page: Page<Uuid>,
}

/// A new officer.
#[derive(Debug, Clone)]
pub struct CreateOfficer {
    pub agency: AgencyCode,
    /// Makes a retry return the first officer.
    pub retry: Option<Retry>,
    /// A unit of the same agency.
    pub unit: Option<UnitName>,
    pub display_name: Text,
    pub badge_number: String,
    pub phone: String,
}

/// Changes to an officer; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct UpdateOfficer {
    pub officer: OfficerName,
    /// `Some(None)` detaches the officer from any unit.
    pub unit: Option<Option<UnitName>>,
    pub display_name: Option<Text>,
    pub phone: Option<String>,
    pub active: Option<bool>,
}

/// A page of one agency's officers.
#[derive(Debug, Clone)]
pub struct OfficerListing {
    pub agency: AgencyCode,
    pub unit: Option<UnitName>,
    pub include_inactive: bool,
    pub page: Page<Uuid>,
}

/// PERMISSION_DENIED unless the caller manages `agency`'s units and
/// officers (the agency is public, so naming it reveals nothing).
fn require_manager(access: &Access, agency: &AgencyCode) -> Result<(), Error> {
    if access::reaches_agency_staff(access, agency) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "{} is managed by its own officers and district administrators",
        name_of_agency(agency)
    )))
}

/// ALREADY_EXISTS: an agency keeps one district duty desk.
fn second_duty_desk(agency: &AgencyCode) -> Error {
    Error::AlreadyExists(format!(
        "{} already has an active duty desk; withdraw it first",
        name_of_agency(agency)
    ))
}

/// INVALID_ARGUMENT unless `unit` is a unit of `agency` that exists.
async fn require_unit_of(
    connection: &mut sqlx::PgConnection,
    agency: &AgencyCode,
    unit: &UnitName,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    if unit.agency() != agency {
        return Err(Error::invalid(
            "unit",
            format!("unit {unit} belongs to {}, not to {agency}", unit.agency()),
        ));
    }
    if store::get_unit(connection, agency.as_str(), unit.id(), now)
        .await?
        .is_none()
    {
        return Err(Error::invalid(
            "unit",
            format!("unit {unit} does not exist"),
        ));
    }
    Ok(())
}

impl Enforcement {
    pub async fn create_agency(
        &self,
        access: &Access,
        command: CreateAgency,
    ) -> Result<AgencyRow, Error> {
        let code = command.code;
        access.audit().resource(name_of_agency(&code));
        // Agencies are named by the duty lists' department codes. When the
        // duty lists can be asked, a code they do not know is refused; when
        // they are down, registration (an administrator's act) goes ahead.
        match self.duties.department_exists(&code).await {
            Ok(Some(false)) => {
                return Err(Error::invalid(
                    "code",
                    format!(
                        "{code} is not a department in the duty lists; register the department there first"
                    ),
                ));
            }
            Ok(_) => {}
            Err(unavailable) => {
                tracing::warn!(agency = %code, %unavailable, "agency registered without checking the duty lists");
            }
        }
        let mut transaction = store::begin(&self.pool).await?;
        let row = store::insert_agency(
            &mut transaction,
            &store::NewAgency {
                code: code.as_str(),
                display_name: command.display_name.as_str(),
                display_name_en: command.display_name_en.as_str(),
                notes_sensitive_by_default: command.notes_sensitive_by_default,
                details_restricted_by_default: command.details_restricted_by_default,
                now: self.clock.now(),
            },
        )
        .await?
        .ok_or_else(|| Error::AlreadyExists(format!("agency {code} already exists")))?;
        self.commit(transaction, access).await?;
        tracing::info!(agency = %code, "agency registered");
        Ok(row)
    }

    pub async fn update_agency(
        &self,
        access: &Access,
        command: UpdateAgency,
    ) -> Result<AgencyRow, Error> {
        let code = command.code;
        access.audit().resource(name_of_agency(&code));
        let mut transaction = store::begin(&self.pool).await?;
        let row = store::update_agency(
            &mut transaction,
            code.as_str(),
            &store::AgencyChanges {
                display_name: command.display_name.as_ref().map(Text::as_str),
                display_name_en: command.display_name_en.as_ref().map(Text::as_str),
                active: command.active,
                notes_sensitive_by_default: command.notes_sensitive_by_default,
                details_restricted_by_default: command.details_restricted_by_default,
            },
            self.clock.now(),
        )
        .await?
        .ok_or_else(|| Error::not_found(name_of_agency(&code)))?;
        self.commit(transaction, access).await?;
        Ok(row)
    }

    pub async fn agency(&self, code: &AgencyCode) -> Result<AgencyRow, Error> {
        let mut connection = store::connection(&self.pool).await?;
        store::get_agency(&mut connection, code.as_str())
            .await?
            .ok_or_else(|| Error::not_found(name_of_agency(code)))
    }

    pub async fn list_agencies(
        &self,
        listing: AgencyListing,
    ) -> Result<(Vec<AgencyRow>, String), Error> {
        let mut connection = store::connection(&self.pool).await?;
        let mut rows = store::list_agencies(
            &mut connection,
            listing.include_inactive,
            listing.page.after.as_deref(),
            listing.page.size.fetch_limit(),
        )
        .await?;
        let next = listing
            .page
            .size
            .next_page_token(&mut rows, &listing.page.query, |row| row.code.clone());
        Ok((rows, next))
    }

    pub async fn create_unit(
        &self,
        access: &Access,
        command: CreateUnit,
    ) -> Result<UnitRow, Error> {
        let agency = command.agency;
        access.audit().resource(name_of_agency(&agency));
        let mut transaction = store::begin(&self.pool).await?;
        // Agencies are public: a missing one is NOT_FOUND whoever asks.
        store::get_agency(&mut transaction, agency.as_str())
            .await?
            .ok_or_else(|| Error::not_found(name_of_agency(&agency)))?;
        require_manager(access, &agency)?;
        let retry = command.retry.as_ref();
        if let Some(earlier) = self.recall(access, retry).await? {
            return self.unit_named(&earlier).await;
        }
        let id = Uuid::now_v7();
        let name = UnitName::new(agency.clone(), id).to_string();
        if !remember(&mut transaction, access, retry, &name).await? {
            drop(transaction);
            let earlier = self.recall_winner(access, retry).await?;
            return self.unit_named(&earlier).await;
        }
        let row = store::insert_unit(
            &mut transaction,
            &store::NewUnit {
                id,
                agency: agency.as_str(),
                display_name: command.display_name.as_str(),
                stationed_subdistrict_code: command
                    .stationed_subdistrict
                    .as_ref()
                    .map(SubdistrictCode::as_str),
                on_duty: command.on_duty,
                duty_desk: command.duty_desk,
                now: self.clock.now(),
            },
        )
        .await?
        .ok_or_else(|| second_duty_desk(&agency))?;
        access.audit().resource(name);
        self.commit(transaction, access).await?;
        Ok(row)
    }

    /// The unit a remembered resource name names (units are public).
    async fn unit_named(&self, resource: &str) -> Result<UnitRow, Error> {
        let unit = UnitName::parse(resource).map_err(|_| lost_race())?;
        self.unit(&unit).await
    }

    pub async fn update_unit(
        &self,
        access: &Access,
        command: UpdateUnit,
    ) -> Result<UnitRow, Error> {
        let unit = command.unit;
        access.audit().resource(unit.to_string());
        require_manager(access, unit.agency())?;
        let mut transaction = store::begin(&self.pool).await?;
        let updated = store::update_unit(
            &mut transaction,
            unit.agency().as_str(),
            unit.id(),
            &store::UnitChanges {
                display_name: command.display_name.as_ref().map(Text::as_str),
                stationed_subdistrict_code: command
                    .stationed_subdistrict
                    .as_ref()
                    .map(|station| station.as_ref().map(SubdistrictCode::as_str)),
                on_duty: command.on_duty,
                active: command.active,
                duty_desk: command.duty_desk,
            },
            self.clock.now(),
        )
        .await?;
        let row = match updated {
            store::UnitUpdate::Updated(row) => row,
            store::UnitUpdate::Missing => return Err(Error::not_found(&unit)),
            store::UnitUpdate::SecondDutyDesk => return Err(second_duty_desk(unit.agency())),
        };
        self.commit(transaction, access).await?;
        Ok(row)
    }

    pub async fn unit(&self, unit: &UnitName) -> Result<UnitRow, Error> {
        let mut connection = store::connection(&self.pool).await?;
        store::get_unit(
            &mut connection,
            unit.agency().as_str(),
            unit.id(),
            self.clock.now(),
        )
        .await?
        .ok_or_else(|| Error::not_found(unit))
    }

    pub async fn list_units(&self, listing: UnitListing) -> Result<(Vec<UnitRow>, String), Error> {
        let mut connection = store::connection(&self.pool).await?;
        let mut rows = store::list_units(
            &mut connection,
            &store::UnitFilter {
                agency: listing.agency.as_ref().map(AgencyCode::as_str),
                stationed_subdistrict_code: listing
                    .stationed_subdistrict
                    .as_ref()
                    .map(SubdistrictCode::as_str),
                on_duty_only: listing.on_duty_only,
                include_inactive: listing.include_inactive,
                after: listing.page.after,
                limit: listing.page.size.fetch_limit(),
                now: self.clock.now(),
            },
        )
        .await?;
        let next = listing
            .page
            .size
            .next_page_token(&mut rows, &listing.page.query, |row| row.id.to_string());
        Ok((rows, next))
    }

    pub async fn create_officer(
        &self,
        access: &Access,
        command: CreateOfficer,
    ) -> Result<OfficerRow, Error> {
        let agency = command.agency;
        access.audit().resource(name_of_agency(&agency));
        let mut transaction = store::begin(&self.pool).await?;
        store::get_agency(&mut transaction, agency.as_str())
            .await?
            .ok_or_else(|| Error::not_found(name_of_agency(&agency)))?;
        require_manager(access, &agency)?;
        let retry = command.retry.as_ref();
        if let Some(earlier) = self.recall(access, retry).await? {
            return self.officer_named(access, &earlier).await;
        }
        if let Some(unit) = &command.unit {
            require_unit_of(&mut transaction, &agency, unit, self.clock.now()).await?;
        }
        let id = Uuid::now_v7();
        let name = OfficerName::new(agency.clone(), id).to_string();
        if !remember(&mut transaction, access, retry, &name).await? {
            drop(transaction);
            let earlier = self.recall_winner(access, retry).await?;
            return self.officer_named(access, &earlier).await;
        }
        let row = store::insert_officer(
            &mut transaction,
            &store::NewOfficer {
                id,
                agency: agency.as_str(),
                unit_id: command.unit.as_ref().map(UnitName::id),
                display_name: command.display_name.as_str(),
                badge_number: &command.badge_number,
                phone: &command.phone,
                now: self.clock.now(),
            },
        )
        .await?
        .ok_or_else(|| {
            Error::AlreadyExists(format!(
                "agency {agency} already has an officer with badge number {}",
                command.badge_number
            ))
        })?;
        access.audit().resource(name);
        self.commit(transaction, access).await?;
        Ok(row)
    }

    /// The officer a remembered resource name names, as the caller may see
    /// it now.
    async fn officer_named(&self, access: &Access, resource: &str) -> Result<OfficerRow, Error> {
        let officer = OfficerName::parse(resource).map_err(|_| lost_race())?;
        self.officer(access, &officer).await
    }

    /// The officer; NOT_FOUND when it does not exist or the caller may not
    /// see its agency's officers (they are personal data).
    pub async fn officer(
        &self,
        access: &Access,
        officer: &OfficerName,
    ) -> Result<OfficerRow, Error> {
        access.audit().resource(officer.to_string());
        if !access::reaches_agency_staff(access, officer.agency()) {
            return Err(Error::not_found(officer));
        }
        let mut connection = store::connection(&self.pool).await?;
        store::get_officer(&mut connection, officer.agency().as_str(), officer.id())
            .await?
            .ok_or_else(|| Error::not_found(officer))
    }

    pub async fn update_officer(
        &self,
        access: &Access,
        command: UpdateOfficer,
    ) -> Result<OfficerRow, Error> {
        let officer = command.officer;
        access.audit().resource(officer.to_string());
        // Another agency's officers do not exist for the caller.
        if !access::reaches_agency_staff(access, officer.agency()) {
            return Err(Error::not_found(&officer));
        }
        let mut transaction = store::begin(&self.pool).await?;
        if let Some(Some(unit)) = &command.unit {
            require_unit_of(&mut transaction, officer.agency(), unit, self.clock.now()).await?;
        }
        let row = store::update_officer(
            &mut transaction,
            officer.agency().as_str(),
            officer.id(),
            &store::OfficerChanges {
                unit_id: command
                    .unit
                    .as_ref()
                    .map(|unit| unit.as_ref().map(UnitName::id)),
                display_name: command.display_name.as_ref().map(Text::as_str),
                phone: command.phone.as_deref(),
                active: command.active,
            },
            self.clock.now(),
        )
        .await?
        .ok_or_else(|| Error::not_found(&officer))?;
        self.commit(transaction, access).await?;
        Ok(row)
    }

    pub async fn list_officers(
        &self,
        access: &Access,
        listing: OfficerListing,
    ) -> Result<(Vec<OfficerRow>, String), Error> {
        let agency = listing.agency;
        access.audit().resource(name_of_agency(&agency));
        let mut connection = store::connection(&self.pool).await?;
        store::get_agency(&mut connection, agency.as_str())
            .await?
            .ok_or_else(|| Error::not_found(name_of_agency(&agency)))?;
        if !access::reaches_agency_staff(access, &agency) {
            return Err(Error::PermissionDenied(format!(
                "officers of {} are listed for its own officers, subdistrict dispatchers and district administrators",
                name_of_agency(&agency)
            )));
        }
        if let Some(unit) = &listing.unit
            && unit.agency() != &agency
        {
            return Err(Error::invalid(
                "unit",
                format!("unit {unit} belongs to {}, not to {agency}", unit.agency()),
            ));
        }
        let mut rows = store::list_officers(
            &mut connection,
            &store::OfficerFilter {
                agency: agency.as_str(),
                unit_id: listing.unit.as_ref().map(UnitName::id),
                include_inactive: listing.include_inactive,
                after: listing.page.after,
                limit: listing.page.size.fetch_limit(),
            },
        )
        .await?;
        let next = listing
            .page
            .size
            .next_page_token(&mut rows, &listing.page.query, |row| row.id.to_string());
        for row in &rows {
            access
                .audit()
                .resource(OfficerName::new(agency.clone(), row.id).to_string());
        }
        Ok((rows, next))
    }
}
