//! The staff roster. Personal data: no events, phones shown per `crate::privacy`.

use std::collections::{HashMap, HashSet};

use flatgov_auth::{Caller, Role};
use flatgov_grpc::error::FieldViolation;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::blocks::v1 as api;

use super::{RegistryService, require_admin, require_admin_of, require_staff_role};
use crate::domain::staff::{PersonName, PhoneNumber, UnitName};
use crate::domain::team::StaffId;
use crate::error::Error;
use crate::privacy::{may_see_names, may_see_phone};
use crate::resources::{self, division_name};
use crate::store::staff as store;
use crate::store::staff::{StaffRow, StaffValues};

/// Largest ImportStaff batch.
const MAX_IMPORT: usize = 100_000;

/// Where each person works: their division and the blocks they serve on, for the phone rule.
pub(super) async fn places_of(
    connection: &mut sqlx::PgConnection,
    caller: &Caller,
    rows: &[&StaffRow],
) -> Result<HashMap<String, Vec<String>>, Error> {
    let mut places: HashMap<String, Vec<String>> = rows
        .iter()
        .map(|row| (row.id.clone(), row.division_code.iter().cloned().collect()))
        .collect();
    // Only a dispatcher's answer depends on the blocks served; skip the query otherwise.
    let needs_blocks = caller.has_role(Role::SubdistrictDispatcher)
        && !caller.has_any_role(&[Role::DistrictAdmin, Role::Service]);
    if needs_blocks && !rows.is_empty() {
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        for (id, _, block) in store::serving_blocks(connection, &ids)
            .await
            .map_err(Error::database("reading where staff serve"))?
        {
            places.entry(id).or_default().push(block);
        }
    }
    Ok(places)
}

/// The roster entry as this caller may see it.
pub(super) fn staff_message(row: StaffRow, caller: &Caller, places: &[String]) -> api::Staff {
    let names_visible = may_see_names(caller);
    let phone_visible = may_see_phone(caller, &row.id, places.iter().map(String::as_str));
    let has_phone = row.phone.is_some();
    api::Staff {
        name: format!("staff/{}", row.id),
        display_name: if names_visible {
            row.display_name
        } else {
            String::new()
        },
        phone: if phone_visible {
            row.phone.unwrap_or_default()
        } else {
            String::new()
        },
        phone_withheld: has_phone && !phone_visible,
        unit: if names_visible {
            row.unit.unwrap_or_default()
        } else {
            String::new()
        },
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

fn require_admin_for(caller: &Caller, values: &StaffValues) -> Result<(), Error> {
    match &values.division_code {
        Some(code) => require_admin_of(caller, code),
        None => require_admin(caller),
    }
}

pub(super) async fn create_staff(
    service: &RegistryService,
    caller: &Caller,
    request: api::CreateStaffRequest,
) -> Result<api::Staff, Error> {
    require_admin(caller)?;
    let staff = request
        .staff
        .ok_or_else(|| Error::invalid("staff", "required"))?;
    let from_message = staff_id_of("staff", &staff)?;
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
        &staff,
        ALL_FIELDS,
        empty_values(&id),
        &mut violations,
    );
    let request_id = match RequestId::parse_optional(&request.request_id) {
        Ok(request_id) => request_id.map(RequestId::into_string),
        Err(error) => {
            violations.push(FieldViolation::new("request_id", error.to_string()));
            None
        }
    };
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    require_admin_for(caller, &values)?;
    let mut transaction = service.begin("creating a staff member").await?;
    if let Some(request_id) = &request_id
        && let Some(first) = store::staff_by_request_id(&mut transaction, request_id)
            .await
            .map_err(Error::database("creating a staff member"))?
    {
        return Ok(staff_message(first, caller, &[]));
    }
    let inserted = store::insert_staff(&mut transaction, &values, request_id.as_deref())
        .await
        .map_err(Error::database("creating a staff member"))?;
    let Some(row) = inserted else {
        drop(transaction);
        let mut connection = service.connection("creating a staff member").await?;
        if let Some(request_id) = &request_id
            && let Some(first) = store::staff_by_request_id(&mut connection, request_id)
                .await
                .map_err(Error::database("creating a staff member"))?
        {
            return Ok(staff_message(first, caller, &[]));
        }
        return Err(Error::AlreadyExists(format!("staff {id} already exists")));
    };
    transaction
        .commit()
        .await
        .map_err(Error::database("creating a staff member"))?;
    Ok(staff_message(row, caller, &[]))
}

pub(super) async fn get_staff(
    service: &RegistryService,
    caller: &Caller,
    request: api::GetStaffRequest,
) -> Result<api::Staff, Error> {
    require_staff_role(caller)?;
    let id = resources::staff("name", &request.name)?;
    let mut connection = service.connection("reading a staff member").await?;
    let row = store::get_staff(&mut connection, id.as_str(), false)
        .await
        .map_err(Error::database("reading a staff member"))?
        .ok_or_else(|| Error::NotFound(format!("staff {id} does not exist")))?;
    let places = places_of(&mut connection, caller, &[&row]).await?;
    let row_places = places.get(&row.id).cloned().unwrap_or_default();
    Ok(staff_message(row, caller, &row_places))
}

pub(super) async fn list_staff(
    service: &RegistryService,
    caller: &Caller,
    request: api::ListStaffRequest,
) -> Result<api::ListStaffResponse, Error> {
    require_staff_role(caller)?;
    let prefix = if request.division.is_empty() {
        String::new()
    } else {
        resources::division("division", &request.division)?
    };
    let query = ListQuery::new(&format!("staff division={prefix}"));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let mut connection = service.connection("listing staff").await?;
    let mut rows = store::list_staff(
        &mut connection,
        &prefix,
        page.after.as_deref(),
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing staff"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.clone());
    let places = places_of(&mut connection, caller, &rows.iter().collect::<Vec<_>>()).await?;
    Ok(api::ListStaffResponse {
        staff: rows
            .into_iter()
            .map(|row| {
                let row_places = places.get(&row.id).cloned().unwrap_or_default();
                staff_message(row, caller, &row_places)
            })
            .collect(),
        next_page_token,
    })
}

pub(super) async fn update_staff(
    service: &RegistryService,
    caller: &Caller,
    request: api::UpdateStaffRequest,
) -> Result<api::Staff, Error> {
    require_admin(caller)?;
    let staff = request
        .staff
        .ok_or_else(|| Error::invalid("staff", "required"))?;
    let id = staff_id_of("staff", &staff)?
        .ok_or_else(|| Error::invalid("staff.name", "required: staff/{id}"))?;
    let fields = match request
        .update_mask
        .as_ref()
        .filter(|mask| !mask.paths.is_empty())
    {
        None => ALL_FIELDS,
        Some(mask) => {
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
            fields
        }
    };
    let mut transaction = service.begin("updating a staff member").await?;
    let existing = store::get_staff(&mut transaction, id.as_str(), true)
        .await
        .map_err(Error::database("updating a staff member"))?;
    let mut violations = Vec::new();
    let Some(existing) = existing else {
        if !request.allow_missing {
            return Err(Error::NotFound(format!("staff {id} does not exist")));
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
        require_admin_for(caller, &values)?;
        let row = match store::insert_staff(&mut transaction, &values, None)
            .await
            .map_err(Error::database("updating a staff member"))?
        {
            Some(row) => row,
            None => store::get_staff(&mut transaction, id.as_str(), false)
                .await
                .map_err(Error::database("updating a staff member"))?
                .ok_or_else(|| Error::NotFound(format!("staff {id} does not exist")))?,
        };
        transaction
            .commit()
            .await
            .map_err(Error::database("updating a staff member"))?;
        return Ok(staff_message(row, caller, &[]));
    };
    let values = apply_fields("staff", &staff, fields, existing.values(), &mut violations);
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    require_admin_for(caller, &values)?;
    if values == existing.values() {
        return Ok(staff_message(existing, caller, &[]));
    }
    let row = store::update_staff(&mut transaction, &values)
        .await
        .map_err(Error::database("updating a staff member"))?;
    transaction
        .commit()
        .await
        .map_err(Error::database("updating a staff member"))?;
    Ok(staff_message(row, caller, &[]))
}

pub(super) async fn delete_staff(
    service: &RegistryService,
    caller: &Caller,
    request: api::DeleteStaffRequest,
) -> Result<(), Error> {
    require_admin(caller)?;
    let id = resources::staff("name", &request.name)?;
    let mut transaction = service.begin("deleting a staff member").await?;
    store::get_staff(&mut transaction, id.as_str(), true)
        .await
        .map_err(Error::database("deleting a staff member"))?
        .ok_or_else(|| Error::NotFound(format!("staff {id} does not exist")))?;
    let serving = store::serving_blocks(&mut transaction, &[id.to_string()])
        .await
        .map_err(Error::database("deleting a staff member"))?;
    if !serving.is_empty() {
        let blocks: Vec<String> = serving
            .iter()
            .take(5)
            .map(|(_, generation, block)| format!("blocks/{block} (generations/{generation})"))
            .collect();
        return Err(Error::FailedPrecondition(format!(
            "staff {id} serves on {} team(s), e.g. {}; take them off first",
            serving.len(),
            blocks.join(", ")
        )));
    }
    store::delete_staff(&mut transaction, id.as_str())
        .await
        .map_err(Error::database("deleting a staff member"))?;
    transaction
        .commit()
        .await
        .map_err(Error::database("deleting a staff member"))?;
    Ok(())
}

pub(super) async fn import_staff(
    service: &RegistryService,
    caller: &Caller,
    request: api::ImportStaffRequest,
) -> Result<api::ImportStaffResponse, Error> {
    require_admin(caller)?;
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
    let divisions: HashSet<&String> = values
        .iter()
        .filter_map(|value| value.division_code.as_ref())
        .collect();
    for division in divisions {
        require_admin_of(caller, division)?;
    }
    let mut transaction = service.begin("importing staff").await?;
    let (created, updated, unchanged) = store::upsert_staff(&mut transaction, &values)
        .await
        .map_err(Error::database("importing staff"))?;
    transaction
        .commit()
        .await
        .map_err(Error::database("importing staff"))?;
    let count = |value: usize| u32::try_from(value).unwrap_or(u32::MAX);
    Ok(api::ImportStaffResponse {
        created: count(created),
        updated: count(updated),
        unchanged: count(unchanged),
    })
}
