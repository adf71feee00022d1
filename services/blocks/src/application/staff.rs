//! The staff roster: personal data that never leaves the registry in events.
//!
//! A caller reaches a person through the division they work for, the blocks
//! they serve on, or as that person ([`crate::reach::StaffReach`]); anyone
//! else is answered as if the person were not on the roster. What of a
//! reached person a caller sees is [`crate::privacy::Viewer`]'s rule.

use std::collections::HashMap;

use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::request_id::RequestId;

use super::{Blocks, Page, Paging, finish};
use crate::domain::team::StaffId;
use crate::error::Error;
use crate::privacy::Viewer;
use crate::reach::{StaffReach, outside_jurisdiction};
use crate::resources::{self, division_name};
use crate::store;
use crate::store::staff::{RosterReach, StaffRow, StaffValues};

/// A roster entry as one caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenStaff {
    /// The entry as stored.
    pub row: StaffRow,
    /// The caller may see the phone number (see [`Viewer::sees_phone`]).
    pub phone_visible: bool,
}

/// A create: the person's values, and the caller's request id when given.
#[derive(Debug, Clone)]
pub struct CreateStaff {
    /// Every field, checked.
    pub values: StaffValues,
    /// A retry with this id returns the first result.
    pub request_id: Option<RequestId>,
    /// The request's content, to tell a retry from another request.
    pub fingerprint: Fingerprint,
}

/// The fields an update changes: only those its mask named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffChanges {
    pub display_name: Option<String>,
    /// `Some(None)` clears the phone number.
    pub phone: Option<Option<String>>,
    /// `Some(None)` clears the unit.
    pub unit: Option<Option<String>>,
    /// `Some(None)` clears the division (a division code otherwise).
    pub division_code: Option<Option<String>>,
}

impl StaffChanges {
    /// The values after the change.
    pub fn apply(&self, mut values: StaffValues) -> StaffValues {
        if let Some(display_name) = &self.display_name {
            values.display_name = display_name.clone();
        }
        if let Some(phone) = &self.phone {
            values.phone = phone.clone();
        }
        if let Some(unit) = &self.unit {
            values.unit = unit.clone();
        }
        if let Some(division_code) = &self.division_code {
            values.division_code = division_code.clone();
        }
        values
    }
}

/// An update, or (with `allow_missing`) the person to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStaff {
    /// Who is updated.
    pub id: StaffId,
    /// What changes when they are on the roster.
    pub changes: StaffChanges,
    /// With `allow_missing`: the person to create when absent, or what is
    /// wrong with the request as a create.
    pub create: Option<Result<StaffValues, Vec<FieldViolation>>>,
}

/// A list: the roster under a division (empty for all), as far as the
/// caller reaches.
#[derive(Debug, Clone)]
pub struct ListStaff {
    /// The division code the staff's division lies in, or empty.
    pub division_prefix: String,
    /// Where the page starts.
    pub paging: Paging,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// NOT_FOUND for a person the caller does not reach or who is not on the
/// roster: the same words either way.
fn not_on_roster(id: &str) -> Error {
    Error::NotFound(format!("staff {id} does not exist"))
}

/// ALREADY_EXISTS for an id that is taken: staff ids are one namespace, so a
/// create names the id it was given and nothing about its holder.
fn id_taken(id: &str) -> Error {
    Error::AlreadyExists(format!("staff {id} already exists"))
}

/// The places of one stored person.
async fn places_of_one(
    connection: &mut sqlx::PgConnection,
    row: &StaffRow,
) -> Result<Vec<String>, Error> {
    Ok(store::staff::places_of(connection, &[row])
        .await?
        .remove(&row.id)
        .unwrap_or_default())
}

/// True when the caller's grant reaches where the person works once
/// `values` are stored: their division, or (without one) district-wide.
fn reaches_values(reach: &StaffReach, values: &StaffValues) -> bool {
    match &values.division_code {
        Some(code) => reach.reaches(code),
        None => reach.district_wide(),
    }
}

/// PERMISSION_DENIED for values that would put a person outside the
/// caller's reach; names only the division the caller asked for.
fn outside_reach(values: &StaffValues) -> Error {
    let division = values
        .division_code
        .as_deref()
        .map(division_name)
        .unwrap_or_else(|| "staff without a division".to_owned());
    outside_jurisdiction(&division)
}

/// The person as `viewer` sees them, or NOT_FOUND when out of reach.
async fn seen(
    connection: &mut sqlx::PgConnection,
    viewer: &Viewer,
    row: StaffRow,
) -> Result<SeenStaff, Error> {
    let places = places_of_one(connection, &row).await?;
    if !viewer
        .reach()
        .reaches_staff(&row.id, places.iter().map(String::as_str))
    {
        return Err(not_on_roster(&row.id));
    }
    let phone_visible = viewer.sees_phone(&row.id, places.iter().map(String::as_str));
    Ok(SeenStaff { row, phone_visible })
}

/// The person a replayed create made, re-read through the same visibility
/// checks as a first read.
async fn replayed(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    resource: &str,
) -> Result<SeenStaff, Error> {
    let id = resources::staff(resource)
        .map_err(|error| Error::internal("replaying a staff creation", error))?;
    let row = store::staff::get_staff(connection, id.as_str(), false)
        .await?
        .ok_or_else(|| not_on_roster(id.as_str()))?;
    access.audit().resource(format!("staff/{id}"));
    seen(connection, &Viewer::of(access), row).await
}

pub async fn create(
    blocks: &Blocks,
    access: &Access,
    create: CreateStaff,
) -> Result<SeenStaff, Error> {
    const CONTEXT: &str = "creating a staff member";
    let id = create.values.id.clone();
    if let Some(request_id) = &create.request_id {
        let mut connection = store::connection(&blocks.pool, CONTEXT).await?;
        if let Some(resource) =
            store::calls::recall(&mut connection, access, request_id, create.fingerprint).await?
        {
            return replayed(&mut connection, access, &resource).await;
        }
    }
    let viewer = Viewer::of(access);
    if !reaches_values(viewer.reach(), &create.values) {
        return Err(outside_reach(&create.values));
    }
    access.audit().resource(format!("staff/{id}"));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let inserted = store::staff::insert_staff(&mut transaction, &create.values).await?;
    let remembered = match (&inserted, &create.request_id) {
        (Some(_), Some(request_id)) => {
            store::calls::remember(
                &mut transaction,
                access,
                request_id,
                create.fingerprint,
                &format!("staff/{id}"),
            )
            .await
        }
        _ => Ok(()),
    };
    let lost_race = match remembered {
        Ok(()) => inserted.is_none(),
        Err(error) if error.is_unique_violation() => true,
        Err(error) => return Err(error.into()),
    };
    let Some(row) = inserted.filter(|_| !lost_race) else {
        drop(transaction);
        // The same caller's retry may have created it a moment ago: answer as it did.
        if let Some(request_id) = &create.request_id {
            let mut connection = store::connection(&blocks.pool, CONTEXT).await?;
            if let Some(resource) =
                store::calls::recall(&mut connection, access, request_id, create.fingerprint)
                    .await?
            {
                return replayed(&mut connection, access, &resource).await;
            }
        }
        return Err(id_taken(&id));
    };
    let created = seen(&mut transaction, &viewer, row).await?;
    finish(transaction, access, CONTEXT).await?;
    Ok(created)
}

pub async fn get(blocks: &Blocks, access: &Access, id: StaffId) -> Result<SeenStaff, Error> {
    let mut connection = store::connection(&blocks.pool, "reading a staff member").await?;
    let row = store::staff::get_staff(&mut connection, id.as_str(), false)
        .await?
        .ok_or_else(|| not_on_roster(id.as_str()))?;
    let person = seen(&mut connection, &Viewer::of(access), row).await?;
    access.audit().resource(format!("staff/{id}"));
    Ok(person)
}

pub async fn list(
    blocks: &Blocks,
    access: &Access,
    list: &ListStaff,
) -> Result<Page<SeenStaff>, Error> {
    let viewer = Viewer::of(access);
    let reach = RosterReach {
        place_patterns: viewer.reach().places().like_patterns(),
        own_id: viewer.reach().own_subject().map(str::to_owned),
        placeless: viewer.reach().district_wide(),
    };
    let mut connection = store::connection(&blocks.pool, "listing staff").await?;
    let rows = store::staff::list_staff(
        &mut connection,
        &list.division_prefix,
        &reach,
        list.paging.page.after.as_deref(),
        list.paging.page.size.fetch_limit(),
    )
    .await?;
    let page = list.paging.page_of(rows, |row| row.id.clone());
    let mut places =
        store::staff::places_of(&mut connection, &page.items.iter().collect::<Vec<_>>()).await?;
    let items = page
        .items
        .into_iter()
        .map(|row| {
            access.audit().resource(format!("staff/{}", row.id));
            let row_places = places.remove(&row.id).unwrap_or_default();
            let phone_visible = viewer.sees_phone(&row.id, row_places.iter().map(String::as_str));
            SeenStaff { row, phone_visible }
        })
        .collect();
    Ok(Page {
        items,
        next_page_token: page.next_page_token,
    })
}

pub async fn update(
    blocks: &Blocks,
    access: &Access,
    update: UpdateStaff,
) -> Result<SeenStaff, Error> {
    const CONTEXT: &str = "updating a staff member";
    let id = update.id.as_str();
    let viewer = Viewer::of(access);
    access.audit().resource(format!("staff/{id}"));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let Some(existing) = store::staff::get_staff(&mut transaction, id, true).await? else {
        let Some(create_with) = update.create else {
            return Err(not_on_roster(id));
        };
        let values = create_with?;
        if !reaches_values(viewer.reach(), &values) {
            return Err(outside_reach(&values));
        }
        let Some(row) = store::staff::insert_staff(&mut transaction, &values).await? else {
            // Created by someone else a moment ago: the id is taken.
            return Err(id_taken(id));
        };
        let created = seen(&mut transaction, &viewer, row).await?;
        finish(transaction, access, CONTEXT).await?;
        return Ok(created);
    };
    let places = places_of_one(&mut transaction, &existing).await?;
    if !viewer
        .reach()
        .reaches_staff(&existing.id, places.iter().map(String::as_str))
    {
        // An upsert of a person the caller cannot see is a create of a taken id.
        return Err(if update.create.is_some() {
            id_taken(id)
        } else {
            not_on_roster(id)
        });
    }
    let values = update.changes.apply(existing.values());
    if !reaches_values(viewer.reach(), &values) {
        return Err(outside_reach(&values));
    }
    if values == existing.values() {
        let phone_visible = viewer.sees_phone(id, places.iter().map(String::as_str));
        return Ok(SeenStaff {
            row: existing,
            phone_visible,
        });
    }
    let row = store::staff::update_staff(&mut transaction, &values).await?;
    let updated = seen(&mut transaction, &viewer, row).await?;
    finish(transaction, access, CONTEXT).await?;
    Ok(updated)
}

pub async fn delete(blocks: &Blocks, access: &Access, id: StaffId) -> Result<(), Error> {
    const CONTEXT: &str = "deleting a staff member";
    access.audit().resource(format!("staff/{id}"));
    let reach = StaffReach::of(access);
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let row = store::staff::get_staff(&mut transaction, id.as_str(), true)
        .await?
        .ok_or_else(|| not_on_roster(id.as_str()))?;
    let places = places_of_one(&mut transaction, &row).await?;
    if !reach.reaches_staff(&row.id, places.iter().map(String::as_str)) {
        return Err(not_on_roster(id.as_str()));
    }
    let serving = store::staff::serving_blocks(&mut transaction, &[id.to_string()]).await?;
    if !serving.is_empty() {
        // Name only the teams the caller reaches; count the others.
        let reached: Vec<String> = serving
            .iter()
            .filter(|(_, _, block)| reach.reaches(block))
            .take(5)
            .map(|(_, generation, block)| format!("blocks/{block} (generations/{generation})"))
            .collect();
        let example = if reached.is_empty() {
            String::new()
        } else {
            format!(", e.g. {}", reached.join(", "))
        };
        return Err(Error::FailedPrecondition(format!(
            "staff {id} serves on {} team(s){example}; take them off first",
            serving.len(),
        )));
    }
    store::staff::delete_staff(&mut transaction, id.as_str()).await?;
    finish(transaction, access, CONTEXT).await
}

/// Creates or updates every person of a parsed batch, all or nothing.
pub async fn import(
    blocks: &Blocks,
    access: &Access,
    values: Vec<StaffValues>,
) -> Result<Imported, Error> {
    const CONTEXT: &str = "importing staff";
    let reach = StaffReach::of(access);
    if let Some(outside) = values.iter().find(|value| !reaches_values(&reach, value)) {
        return Err(outside_reach(outside));
    }
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let ids: Vec<String> = values.iter().map(|value| value.id.clone()).collect();
    let existing = store::staff::staff_by_ids(&mut transaction, &ids).await?;
    let existing_rows: Vec<&StaffRow> = existing.values().collect();
    let places: HashMap<String, Vec<String>> =
        store::staff::places_of(&mut transaction, &existing_rows).await?;
    for value in &values {
        let Some(row) = existing.get(&value.id) else {
            continue;
        };
        let row_places = places.get(&row.id).map(Vec::as_slice).unwrap_or_default();
        if !reach.reaches_staff(&row.id, row_places.iter().map(String::as_str)) {
            // Someone the caller cannot see holds the id: as for a create.
            return Err(id_taken(&value.id));
        }
    }
    let outcome = store::staff::upsert_staff(&mut transaction, &values).await?;
    for id in outcome.created.iter().chain(&outcome.updated) {
        access.audit().resource(format!("staff/{id}"));
    }
    finish(transaction, access, CONTEXT).await?;
    Ok(Imported {
        created: outcome.created.len(),
        updated: outcome.updated.len(),
        unchanged: outcome.unchanged,
    })
}
