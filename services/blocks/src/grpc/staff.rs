//! The staff roster. Personal data: no events, phones shown per `crate::privacy`.
//!
//! A caller reaches a person through the division they work for, the blocks
//! they serve on, or as that person ([`crate::reach::StaffReach`]); anyone
//! else is answered as if the person were not on the roster.

use std::collections::HashMap;

use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::blocks::v1 as api;

use super::RegistryService;
use crate::domain::staff::{PersonName, PhoneNumber, UnitName};
use crate::domain::team::StaffId;
use crate::error::Error;
use crate::privacy::Viewer;
use crate::reach::StaffReach;
use crate::resources::{self, division_name};
use crate::store::staff as store;
use crate::store::staff::{RosterReach, StaffRow, StaffValues};

/// Largest ImportStaff batch.
const MAX_IMPORT: usize = 100_000;

/// The roster entry as this caller may see it; `places` are the person's
/// division and the blocks they serve on. Callers reach a roster entry only
/// through a staff grant, so names and units are shown; the phone per
/// [`Viewer::sees_phone`].
pub(super) fn staff_message(row: StaffRow, viewer: &Viewer, places: &[String]) -> api::Staff {
    let phone_visible = viewer.sees_phone(&row.id, places.iter().map(String::as_str));
    let has_phone = row.phone.is_some();
    api::Staff {
        name: format!("staff/{}", row.id),
        display_name: row.display_name,
        phone: if phone_visible {
            row.phone.unwrap_or_default()
        } else {
            String::new()
        },
        phone_withheld: has_phone && !phone_visible,
        unit: row.unit.unwrap_or_default(),
        division: row
            .division_code
            .as_deref()
            .map(division_name)
            .unwrap_or_default(),
        id: row.id,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}

/// NOT_FOUND for a person the caller does not reach or who is not on the
/// roster: the same words either way.
fn not_on_roster(id: &StaffId) -> Error {
    Error::NotFound(format!("staff {id} does not exist"))
}

/// ALREADY_EXISTS for an id that is taken: staff ids are one namespace, so a
/// create names the id it was given and nothing about its holder.
fn id_taken(id: &StaffId) -> Error {
    Error::AlreadyExists(format!("staff {id} already exists"))
}

/// The places of one stored person.
async fn places_of_one(
    connection: &mut sqlx::PgConnection,
    row: &StaffRow,
) -> Result<Vec<String>, Error> {
    Ok(store::places_of(connection, &[row])
        .await
        .map_err(Error::database("reading where staff serve"))?
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
    crate::reach::outside_jurisdiction(&division)
}

/// The id a staff message names: `id`, or the id in `name`; both must agree.
fn staff_id_of(field: &str, staff: &api::Staff) -> Result<Option<StaffId>, Error> {
    let from_name = if staff.name.is_empty() {
        None
    } else {
        Some(resources::staff(&format!("{field}.name"), &staff.name)?)
    };
    let from_id = if staff.id.is_empty() {
        None
    } else {
        Some(resources::staff_id(&format!("{field}.id"), &staff.id)?)
    };
    match (from_name, from_id) {
        (Some(first), Some(second)) if first != second => Err(Error::invalid(
            format!("{field}.id"),
            format!("id {second} disagrees with name {}", staff.name),
        )),
        (Some(id), _) | (None, Some(id)) => Ok(Some(id)),
        (None, None) => Ok(None),
    }
}

/// Which fields of a staff message to take.
#[derive(Debug, Clone, Copy)]
struct Fields {
    display_name: bool,
    phone: bool,
    unit: bool,
    division: bool,
}

const ALL_FIELDS: Fields = Fields {
    display_name: true,
    phone: true,
    unit: true,
    division: true,
};

/// Checks the fields of a staff message onto `base`; every problem is collected.
fn apply_fields(
    field: &str,
    staff: &api::Staff,
    fields: Fields,
    mut base: StaffValues,
    violations: &mut Vec<FieldViolation>,
) -> StaffValues {
    if fields.display_name {
        match PersonName::parse(&staff.display_name) {
            Ok(name) => base.display_name = name.as_str().to_owned(),
            Err(error) => violations.push(FieldViolation::new(
                format!("{field}.display_name"),
                error.to_string(),
            )),
        }
    }
    if fields.phone {
        if staff.phone.trim().is_empty() {
            base.phone = None;
        } else {
            match PhoneNumber::parse(&staff.phone) {
                Ok(phone) => base.phone = Some(phone.as_str().to_owned()),
                Err(error) => violations.push(FieldViolation::new(
                    format!("{field}.phone"),
                    error.to_string(),
                )),
            }
        }
    }
    if fields.unit {
        if staff.unit.trim().is_empty() {
            base.unit = None;
        } else {
            match UnitName::parse(&staff.unit) {
                Ok(unit) => base.unit = Some(unit.as_str().to_owned()),
                Err(error) => violations.push(FieldViolation::new(
                    format!("{field}.unit"),
                    error.to_string(),
                )),
            }
        }
    }
    if fields.division {
        if staff.division.is_empty() {
            base.division_code = None;
        } else {
            match resources::division(&format!("{field}.division"), &staff.division) {
                Ok(code) => base.division_code = Some(code),
                Err(Error::InvalidArgument(found)) => violations.extend(found),
                Err(_) => {}
            }
        }
    }
    base
}

fn empty_values(id: &StaffId) -> StaffValues {
    StaffValues {
        id: id.to_string(),
        display_name: String::new(),
        phone: None,
        unit: None,
        division_code: None,
    }
}

/// The person a replayed create made, re-read through the same visibility
/// checks as a first read.
async fn replayed_staff(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    viewer: &Viewer,
    resource: &str,
) -> Result<api::Staff, Error> {
    let id = resources::staff("request_id", resource)
        .map_err(|error| Error::internal("replaying a staff creation", error))?;
    let row = store::get_staff(connection, id.as_str(), false)
        .await
        .map_err(Error::database("replaying a staff creation"))?
        .ok_or_else(|| not_on_roster(&id))?;
    let places = places_of_one(connection, &row).await?;
    if !viewer
        .reach()
        .reaches_staff(&row.id, places.iter().map(String::as_str))
    {
        return Err(not_on_roster(&id));
    }
    access.audit().resource(format!("staff/{id}"));
    Ok(staff_message(row, viewer, &places))
}

pub(super) async fn create_staff(
    service: &RegistryService,
    access: &Access,
    request: api::CreateStaffRequest,
) -> Result<api::Staff, Error> {
    const CONTEXT: &str = "creating a staff member";
    let fingerprint = Fingerprint::of(&request);
    let staff = request
        .staff
        .as_ref()
        .ok_or_else(|| Error::invalid("staff", "required"))?;
    let from_message = staff_id_of("staff", staff)?;
    let from_request = if request.staff_id.is_empty() {
        None
    } else {
        Some(resources::staff_id("staff_id", &request.staff_id)?)
    };
    let id = match (from_request, from_message) {
        (Some(first), Some(second)) if first != second => {
            return Err(Error::invalid(
                "staff_id",
                format!("{first} disagrees with staff.id {second}"),
            ));
        }
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => StaffId::parse(&uuid::Uuid::now_v7().to_string())
            .map_err(|error| Error::internal("assigning a staff id", error))?,
    };
    let mut violations = Vec::new();
    let values = apply_fields(
        "staff",
        staff,
        ALL_FIELDS,
        empty_values(&id),
        &mut violations,
    );
    let request_id = match RequestId::parse_optional(&request.request_id) {
        Ok(request_id) => request_id,
        Err(error) => {
            violations.push(FieldViolation::new("request_id", error.to_string()));
            None
        }
    };
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let viewer = Viewer::of(access);
    if let Some(request_id) = &request_id {
        let mut connection = service.connection(CONTEXT).await?;
        if let Some(resource) =
            idempotency::recall(&mut connection, access, request_id, fingerprint)
                .await
                .map_err(super::idempotency_error(CONTEXT))?
        {
            return replayed_staff(&mut connection, access, &viewer, &resource).await;
        }
    }
    if !reaches_values(viewer.reach(), &values) {
        return Err(outside_reach(&values));
    }
    access.audit().resource(format!("staff/{id}"));
    let mut transaction = service.begin(CONTEXT).await?;
    let inserted = store::insert_staff(&mut transaction, &values)
        .await
        .map_err(Error::database(CONTEXT))?;
    let remembered = match (&inserted, &request_id) {
        (Some(_), Some(request_id)) => {
            idempotency::remember(
                &mut transaction,
                access,
                request_id,
                fingerprint,
                &format!("staff/{id}"),
            )
            .await
        }
        _ => Ok(()),
    };
    let lost_race = match remembered {
        Ok(()) => inserted.is_none(),
        Err(error) if flatgov_grpc::error::is_unique_violation(&error) => true,
        Err(error) => return Err(Error::database(CONTEXT)(error)),
    };
    if lost_race {
        drop(transaction);
        // The same caller's retry may have created it a moment ago: answer as it did.
        if let Some(request_id) = &request_id {
            let mut connection = service.connection(CONTEXT).await?;
            if let Some(resource) =
                idempotency::recall(&mut connection, access, request_id, fingerprint)
                    .await
                    .map_err(super::idempotency_error(CONTEXT))?
            {
                return replayed_staff(&mut connection, access, &viewer, &resource).await;
            }
        }
        return Err(id_taken(&id));
    }
    let Some(row) = inserted else {
        return Err(id_taken(&id));
    };
    let places = places_of_one(&mut transaction, &row).await?;
    service.record(&mut transaction, access, CONTEXT).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database(CONTEXT))?;
    Ok(staff_message(row, &viewer, &places))
}

pub(super) async fn get_staff(
    service: &RegistryService,
    access: &Access,
    request: api::GetStaffRequest,
) -> Result<api::Staff, Error> {
    let id = resources::staff("name", &request.name)?;
    let mut connection = service.connection("reading a staff member").await?;
    let row = store::get_staff(&mut connection, id.as_str(), false)
        .await
        .map_err(Error::database("reading a staff member"))?
        .ok_or_else(|| not_on_roster(&id))?;
    let places = places_of_one(&mut connection, &row).await?;
    let viewer = Viewer::of(access);
    if !viewer
        .reach()
        .reaches_staff(&row.id, places.iter().map(String::as_str))
    {
        return Err(not_on_roster(&id));
    }
    access.audit().resource(format!("staff/{id}"));
    Ok(staff_message(row, &viewer, &places))
}

pub(super) async fn list_staff(
    service: &RegistryService,
    access: &Access,
    request: api::ListStaffRequest,
) -> Result<api::ListStaffResponse, Error> {
    let prefix = if request.division.is_empty() {
        String::new()
    } else {
        resources::division("division", &request.division)?
    };
    let query = ListQuery::new(&format!("staff division={prefix}"));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let viewer = Viewer::of(access);
    let reach = RosterReach {
        place_patterns: viewer.reach().places().like_patterns(),
        own_id: viewer.reach().own_subject().map(str::to_owned),
        placeless: viewer.reach().district_wide(),
    };
    let mut connection = service.connection("listing staff").await?;
    let mut rows = store::list_staff(
        &mut connection,
        &prefix,
        &reach,
        page.after.as_deref(),
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing staff"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.clone());
    let mut places = store::places_of(&mut connection, &rows.iter().collect::<Vec<_>>())
        .await
        .map_err(Error::database("reading where staff serve"))?;
    for row in &rows {
        access.audit().resource(format!("staff/{}", row.id));
    }
    Ok(api::ListStaffResponse {
        staff: rows
            .into_iter()
            .map(|row| {
                let row_places = places.remove(&row.id).unwrap_or_default();
                staff_message(row, &viewer, &row_places)
            })
            .collect(),
        next_page_token,
    })
}

/// Which fields an update touches: all four when the mask is empty.
fn update_fields(mask: Option<&prost_types::FieldMask>) -> Result<Fields, Error> {
    let Some(mask) = mask.filter(|mask| !mask.paths.is_empty()) else {
        return Ok(ALL_FIELDS);
    };
    let mut fields = Fields {
        display_name: false,
        phone: false,
        unit: false,
        division: false,
    };
    for (index, path) in mask.paths.iter().enumerate() {
        match path.as_str() {
            "display_name" => fields.display_name = true,
            "phone" => fields.phone = true,
            "unit" => fields.unit = true,
            "division" => fields.division = true,
            other => {
                return Err(Error::invalid(
                    format!("update_mask.paths[{index}]"),
                    format!(
                        "{other:?} cannot be updated; updatable: display_name, phone, unit, division"
                    ),
                ));
            }
        }
    }
    Ok(fields)
}

pub(super) async fn update_staff(
    service: &RegistryService,
    access: &Access,
    request: api::UpdateStaffRequest,
) -> Result<api::Staff, Error> {
    const CONTEXT: &str = "updating a staff member";
    let staff = request
        .staff
        .ok_or_else(|| Error::invalid("staff", "required"))?;
    let id = staff_id_of("staff", &staff)?
        .ok_or_else(|| Error::invalid("staff.name", "required: staff/{id}"))?;
    let fields = update_fields(request.update_mask.as_ref())?;
    let viewer = Viewer::of(access);
    access.audit().resource(format!("staff/{id}"));
    let mut transaction = service.begin(CONTEXT).await?;
    let existing = store::get_staff(&mut transaction, id.as_str(), true)
        .await
        .map_err(Error::database(CONTEXT))?;
    let mut violations = Vec::new();
    let Some(existing) = existing else {
        if !request.allow_missing {
            return Err(not_on_roster(&id));
        }
        let values = apply_fields(
            "staff",
            &staff,
            ALL_FIELDS,
            empty_values(&id),
            &mut violations,
        );
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations));
        }
        if !reaches_values(viewer.reach(), &values) {
            return Err(outside_reach(&values));
        }
        let Some(row) = store::insert_staff(&mut transaction, &values)
            .await
            .map_err(Error::database(CONTEXT))?
        else {
            // Created by someone else a moment ago: the id is taken.
            return Err(id_taken(&id));
        };
        let places = places_of_one(&mut transaction, &row).await?;
        service.record(&mut transaction, access, CONTEXT).await?;
        transaction
            .commit()
            .await
            .map_err(Error::database(CONTEXT))?;
        return Ok(staff_message(row, &viewer, &places));
    };
    let places = places_of_one(&mut transaction, &existing).await?;
    if !viewer
        .reach()
        .reaches_staff(&existing.id, places.iter().map(String::as_str))
    {
        // An upsert of a person the caller cannot see is a create of a taken id.
        return Err(if request.allow_missing {
            id_taken(&id)
        } else {
            not_on_roster(&id)
        });
    }
    let values = apply_fields("staff", &staff, fields, existing.values(), &mut violations);
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    if !reaches_values(viewer.reach(), &values) {
        return Err(outside_reach(&values));
    }
    if values == existing.values() {
        return Ok(staff_message(existing, &viewer, &places));
    }
    let row = store::update_staff(&mut transaction, &values)
        .await
        .map_err(Error::database(CONTEXT))?;
    let places = places_of_one(&mut transaction, &row).await?;
    service.record(&mut transaction, access, CONTEXT).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database(CONTEXT))?;
    Ok(staff_message(row, &viewer, &places))
}

pub(super) async fn delete_staff(
    service: &RegistryService,
    access: &Access,
    request: api::DeleteStaffRequest,
) -> Result<(), Error> {
    const CONTEXT: &str = "deleting a staff member";
    let id = resources::staff("name", &request.name)?;
    access.audit().resource(format!("staff/{id}"));
    let reach = StaffReach::of(access);
    let mut transaction = service.begin(CONTEXT).await?;
    let row = store::get_staff(&mut transaction, id.as_str(), true)
        .await
        .map_err(Error::database(CONTEXT))?
        .ok_or_else(|| not_on_roster(&id))?;
    let places = places_of_one(&mut transaction, &row).await?;
    if !reach.reaches_staff(&row.id, places.iter().map(String::as_str)) {
        return Err(not_on_roster(&id));
    }
    let serving = store::serving_blocks(&mut transaction, &[id.to_string()])
        .await
        .map_err(Error::database(CONTEXT))?;
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
    store::delete_staff(&mut transaction, id.as_str())
        .await
        .map_err(Error::database(CONTEXT))?;
    service.record(&mut transaction, access, CONTEXT).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database(CONTEXT))?;
    Ok(())
}

pub(super) async fn import_staff(
    service: &RegistryService,
    access: &Access,
    request: api::ImportStaffRequest,
) -> Result<api::ImportStaffResponse, Error> {
    const CONTEXT: &str = "importing staff";
    if request.staff.len() > MAX_IMPORT {
        return Err(Error::invalid(
            "staff",
            format!(
                "at most {MAX_IMPORT} staff per call, found {}",
                request.staff.len()
            ),
        ));
    }
    let mut violations = Vec::new();
    let mut values = Vec::with_capacity(request.staff.len());
    let mut first_index: HashMap<StaffId, usize> = HashMap::new();
    for (index, staff) in request.staff.iter().enumerate() {
        let field = format!("staff[{index}]");
        let id = match staff_id_of(&field, staff) {
            Ok(Some(id)) => id,
            Ok(None) => {
                violations.push(FieldViolation::new(
                    format!("{field}.id"),
                    "required: the staff id (or name staff/{id})",
                ));
                continue;
            }
            Err(Error::InvalidArgument(found)) => {
                violations.extend(found);
                continue;
            }
            Err(other) => return Err(other),
        };
        if let Some(first) = first_index.get(&id) {
            violations.push(FieldViolation::new(
                format!("{field}.id"),
                format!("staff {id} is also staff[{first}]"),
            ));
            continue;
        }
        first_index.insert(id.clone(), index);
        values.push(apply_fields(
            &field,
            staff,
            ALL_FIELDS,
            empty_values(&id),
            &mut violations,
        ));
    }
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let reach = StaffReach::of(access);
    if let Some(outside) = values.iter().find(|value| !reaches_values(&reach, value)) {
        return Err(outside_reach(outside));
    }
    let mut transaction = service.begin(CONTEXT).await?;
    let ids: Vec<String> = values.iter().map(|value| value.id.clone()).collect();
    let existing = store::staff_by_ids(&mut transaction, &ids)
        .await
        .map_err(Error::database(CONTEXT))?;
    let existing_rows: Vec<&StaffRow> = existing.values().collect();
    let places = store::places_of(&mut transaction, &existing_rows)
        .await
        .map_err(Error::database(CONTEXT))?;
    for value in &values {
        let Some(row) = existing.get(&value.id) else {
            continue;
        };
        let row_places = places.get(&row.id).map(Vec::as_slice).unwrap_or_default();
        if !reach.reaches_staff(&row.id, row_places.iter().map(String::as_str)) {
            // Someone the caller cannot see holds the id: as for a create.
            return Err(Error::AlreadyExists(format!(
                "staff {} already exists",
                value.id
            )));
        }
    }
    let outcome = store::upsert_staff(&mut transaction, &values)
        .await
        .map_err(Error::database(CONTEXT))?;
    for id in outcome.created.iter().chain(&outcome.updated) {
        access.audit().resource(format!("staff/{id}"));
    }
    service.record(&mut transaction, access, CONTEXT).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database(CONTEXT))?;
    let count = |value: usize| u32::try_from(value).unwrap_or(u32::MAX);
    Ok(api::ImportStaffResponse {
        created: count(outcome.created.len()),
        updated: count(outcome.updated.len()),
        unchanged: count(outcome.unchanged),
    })
}
