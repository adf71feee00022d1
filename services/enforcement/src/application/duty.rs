//! Duty rosters (值班表): the shifts of a unit and the officers on duty in
//! them, kept by the unit's own agency and district administrators, read by
//! them and by the subdistricts' dispatchers. Which unit a summons goes to
//! is decided from them when an agency is summoned (`domain::duty`).

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::{ListQuery, PageSize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Enforcement, Retry, lost_race, remember};
use crate::access;
use crate::domain::duty::{Assignment, Candidate};
use crate::domain::{AgencyCode, OfficerName, ShiftName, Text, UnitName};
use crate::error::Error;
use crate::store::{self, ShiftRow, StoreError};

/// A shift to add to a unit's roster.
#[derive(Debug, Clone)]
pub struct CreateShift {
    pub unit: UnitName,
    /// Makes a retry return the first shift.
    pub retry: Option<Retry>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Officers of the unit's agency (checked by name already), at least one.
    pub officers: Vec<OfficerName>,
    pub note: Text,
}

/// A page of a unit's shifts.
#[derive(Debug, Clone)]
pub struct ShiftListing {
    pub unit: UnitName,
    /// Only shifts ending after this; `None`: now.
    pub end_after: Option<DateTime<Utc>>,
    pub query: ListQuery,
    pub size: PageSize,
    pub after: Option<Uuid>,
}

/// Where each of `agencies` is summoned to an operation in `subdistrict`
/// at `at`: its on-duty unit stationed there, else its duty desk with the
/// gap flagged.
pub async fn assignments(
    connection: &mut PgConnection,
    agencies: &[AgencyCode],
    subdistrict: &str,
    at: DateTime<Utc>,
) -> Result<Vec<(AgencyCode, Assignment)>, StoreError> {
    let codes: Vec<String> = agencies.iter().map(ToString::to_string).collect();
    let candidates = store::summons_candidates(connection, &codes, subdistrict, at).await?;
    Ok(agencies
        .iter()
        .map(|agency| {
            let of_agency: Vec<Candidate> = candidates
                .iter()
                .filter(|row| row.agency_code == agency.as_str())
                .map(|row| Candidate {
                    unit: row.id,
                    stationed_here: row.stationed_here,
                    on_duty: row.on_duty,
                    duty_desk: row.duty_desk,
                })
                .collect();
            (agency.clone(), Assignment::choose(&of_agency))
        })
        .collect())
}

/// PERMISSION_DENIED unless the caller keeps `agency`'s rosters (its own
/// officers and district administrators).
fn require_keeper(access: &Access, agency: &AgencyCode) -> Result<(), Error> {
    if access::reaches_agency_staff(access, agency) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "the duty rosters of agencies/{agency} are kept by its own officers and district administrators"
    )))
}

impl Enforcement {
    pub async fn create_shift(
        &self,
        access: &Access,
        command: CreateShift,
    ) -> Result<ShiftRow, Error> {
        let unit = command.unit;
        access.audit().resource(unit.to_string());
        // Units are public: a missing one is NOT_FOUND whoever asks.
        let mut transaction = store::begin(&self.pool).await?;
        let active = store::lock_roster(&mut transaction, unit.agency().as_str(), unit.id())
            .await?
            .ok_or_else(|| Error::not_found(&unit))?;
        require_keeper(access, unit.agency())?;
        let retry = command.retry.as_ref();
        if let Some(earlier) = self.recall(access, retry).await? {
            return self.shift_named(&earlier).await;
        }
        if !active {
            return Err(Error::FailedPrecondition(format!(
                "{unit} is inactive; activate it before rostering its duty"
            )));
        }
        let officer_ids: Vec<Uuid> = command.officers.iter().map(OfficerName::id).collect();
        let rows = store::officers_by_id(&mut transaction, &officer_ids).await?;
        let mut unusable = Violations::new();
        for (index, officer) in command.officers.iter().enumerate() {
            match rows
                .iter()
                .find(|row| row.id == officer.id() && row.agency_code == unit.agency().as_str())
            {
                None => unusable.add(
                    format!("officers[{index}]"),
                    format!("officer {officer} does not exist"),
                ),
                Some(row) if !row.active => unusable.add(
                    format!("officers[{index}]"),
                    format!("officer {officer} is inactive"),
                ),
                Some(_) => {}
            }
        }
        unusable.finish()?;
        if let Some(overlapping) = store::overlapping_shift(
            &mut transaction,
            unit.id(),
            command.starts_at,
            command.ends_at,
        )
        .await?
        {
            return Err(Error::FailedPrecondition(format!(
                "the shift overlaps {}; one unit's shifts do not overlap",
                ShiftName {
                    unit: unit.clone(),
                    id: overlapping
                }
            )));
        }
        let id = Uuid::now_v7();
        let name = ShiftName {
            unit: unit.clone(),
            id,
        };
        if !remember(&mut transaction, access, retry, &name.to_string()).await? {
            drop(transaction);
            let earlier = self.recall_winner(access, retry).await?;
            return self.shift_named(&earlier).await;
        }
        let mut officers = officer_ids;
        officers.sort();
        officers.dedup();
        store::insert_shift(
            &mut transaction,
            &store::NewShift {
                id,
                unit_id: unit.id(),
                agency: unit.agency().as_str(),
                starts_at: command.starts_at,
                ends_at: command.ends_at,
                officers: &officers,
                note: command.note.as_str(),
                created_by: access::subject(access),
                now: self.clock.now(),
            },
        )
        .await?;
        access.audit().resource(name.to_string());
        self.commit(transaction, access).await?;
        tracing::info!(shift = %name, "shift rostered");
        self.shift_named(&name.to_string()).await
    }

    /// The shift a resource name names.
    async fn shift_named(&self, resource: &str) -> Result<ShiftRow, Error> {
        let name = ShiftName::parse(resource).map_err(|_| lost_race())?;
        let mut connection = store::connection(&self.pool).await?;
        store::get_shift(&mut connection, name.unit.id(), name.id)
            .await?
            .filter(|row| row.agency_code == name.unit.agency().as_str())
            .ok_or_else(|| Error::not_found(&name))
    }

    pub async fn list_shifts(
        &self,
        access: &Access,
        listing: ShiftListing,
    ) -> Result<(Vec<ShiftRow>, String), Error> {
        let unit = listing.unit;
        access.audit().resource(unit.to_string());
        let mut connection = store::connection(&self.pool).await?;
        store::get_unit(
            &mut connection,
            unit.agency().as_str(),
            unit.id(),
            self.clock.now(),
        )
        .await?
        .ok_or_else(|| Error::not_found(&unit))?;
        if !access::reaches_agency_staff(access, unit.agency()) {
            return Err(Error::PermissionDenied(format!(
                "the duty rosters of agencies/{} are read by its own officers, subdistrict dispatchers and district administrators",
                unit.agency()
            )));
        }
        let mut rows = store::list_shifts(
            &mut connection,
            unit.id(),
            listing.end_after.unwrap_or_else(|| self.clock.now()),
            listing.after,
            listing.size.fetch_limit(),
        )
        .await?;
        let next = listing
            .size
            .next_page_token(&mut rows, &listing.query, |row| row.id.to_string());
        Ok((rows, next))
    }

    pub async fn delete_shift(&self, access: &Access, name: ShiftName) -> Result<(), Error> {
        access.audit().resource(name.to_string());
        let mut transaction = store::begin(&self.pool).await?;
        // Another agency's roster does not exist for an officer (the only
        // callers the table grants this besides district administrators).
        if !access::reaches_agency_staff(access, name.unit.agency()) {
            return Err(Error::not_found(&name));
        }
        store::lock_roster(
            &mut transaction,
            name.unit.agency().as_str(),
            name.unit.id(),
        )
        .await?
        .ok_or_else(|| Error::not_found(&name))?;
        let shift = store::get_shift(&mut transaction, name.unit.id(), name.id)
            .await?
            .filter(|row| row.agency_code == name.unit.agency().as_str())
            .ok_or_else(|| Error::not_found(&name))?;
        let now = self.clock.now();
        if shift.ends_at <= now {
            return Err(Error::FailedPrecondition(format!(
                "{name} has ended; past duty stays on the roster as it was"
            )));
        }
        store::delete_shift(&mut transaction, shift.id).await?;
        self.commit(transaction, access).await?;
        tracing::info!(shift = %name, "shift taken off the roster");
        Ok(())
    }
}
