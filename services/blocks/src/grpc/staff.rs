//! The staff roster: parse, run the use case, render. Personal data: the
//! phone is rendered only where the use case found it visible.

use std::collections::HashMap;

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::blocks::v1 as api;

use super::RegistryService;
use super::parse::{self, checked};
use super::render;
use crate::application::staff::{self, CreateStaff, ListStaff, StaffChanges, UpdateStaff};
use crate::domain::staff::{PersonName, UnitName};
use crate::domain::team::StaffId;
use crate::error::Error;
use crate::resources;
use crate::store::staff::StaffValues;
use flatgov_vocabulary::PhoneNumber;

/// Largest ImportStaff batch.
const MAX_IMPORT: usize = 100_000;

/// The id a staff message names: `id`, or the id in `name`; both must agree.
fn staff_id_of(violations: &mut Violations, field: &str, staff: &api::Staff) -> Option<StaffId> {
    let from_name = if staff.name.is_empty() {
        None
    } else {
        Some(violations.check(format!("{field}.name"), resources::staff(&staff.name))?)
    };
    let from_id = if staff.id.is_empty() {
        None
    } else {
        Some(violations.check(format!("{field}.id"), resources::staff_id(&staff.id))?)
    };
    match (from_name, from_id) {
        (Some(first), Some(second)) if first != second => {
            violations.add(
                format!("{field}.id"),
                format!("id {second} disagrees with name {}", staff.name),
            );
            None
        }
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => None,
    }
}

fn display_name(value: &str) -> Result<String, String> {
    PersonName::parse(value)
        .map(|name| name.as_str().to_owned())
        .map_err(|error| error.to_string())
}

/// Blank is none.
fn phone(value: &str) -> Result<Option<String>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    PhoneNumber::parse(value)
        .map(|phone| Some(phone.as_str().to_owned()))
        .map_err(|error| error.to_string())
}

/// Blank is none.
fn unit(value: &str) -> Result<Option<String>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    UnitName::parse(value)
        .map(|unit| Some(unit.as_str().to_owned()))
        .map_err(|error| error.to_string())
}

/// Empty is none; otherwise any division's name, as its code.
fn division(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    resources::division(value).map(|code| Some(code.as_str().to_owned()))
}

/// Every field of a staff message under `field`, for person `id`.
fn values_of(
    violations: &mut Violations,
    field: &str,
    id: &StaffId,
    staff: &api::Staff,
) -> Option<StaffValues> {
    let display_name = violations.check(
        format!("{field}.display_name"),
        display_name(&staff.display_name),
    );
    let phone = violations.check(format!("{field}.phone"), phone(&staff.phone));
    let unit = violations.check(format!("{field}.unit"), unit(&staff.unit));
    let division_code = violations.check(format!("{field}.division"), division(&staff.division));
    Some(StaffValues {
        id: id.to_string(),
        display_name: display_name?,
        phone: phone?,
        unit: unit?,
        division_code: division_code?,
    })
}

impl TryFrom<api::CreateStaffRequest> for CreateStaff {
    type Error = Error;

    fn try_from(request: api::CreateStaffRequest) -> Result<Self, Error> {
        let fingerprint = Fingerprint::of(&request);
        let staff = request
            .staff
            .as_ref()
            .ok_or_else(|| Error::invalid("staff", "required"))?;
        let mut violations = Violations::new();
        let from_message = staff_id_of(&mut violations, "staff", staff);
        let from_request = if request.staff_id.is_empty() {
            None
        } else {
            violations.check("staff_id", resources::staff_id(&request.staff_id))
        };
        let id = match (from_request, from_message) {
            (Some(first), Some(second)) if first != second => {
                violations.add(
                    "staff_id",
                    format!("{first} disagrees with staff.id {second}"),
                );
                None
            }
            (Some(id), _) | (None, Some(id)) => Some(id),
            (None, None) => Some(
                StaffId::parse(&uuid::Uuid::now_v7().to_string())
                    .map_err(|error| Error::internal("assigning a staff id", error))?,
            ),
        };
        let values = id
            .as_ref()
            .and_then(|id| values_of(&mut violations, "staff", id, staff));
        let request_id = violations
            .check("request_id", RequestId::parse_optional(&request.request_id))
            .flatten();
        let values = checked(violations, values)?;
        Ok(Self {
            values,
            request_id,
            fingerprint,
        })
    }
}

impl TryFrom<api::UpdateStaffRequest> for UpdateStaff {
    type Error = Error;

    fn try_from(request: api::UpdateStaffRequest) -> Result<Self, Error> {
        let staff = request
            .staff
            .ok_or_else(|| Error::invalid("staff", "required"))?;
        let mut violations = Violations::new();
        let id = staff_id_of(&mut violations, "staff", &staff);
        if id.is_none() && violations.is_empty() {
            violations.add("staff.name", "required: staff/{id}");
        }
        let paths = parse::mask_paths(
            &mut violations,
            request.update_mask.as_ref(),
            &["display_name", "phone", "unit", "division"],
        );
        let mut changes = StaffChanges::default();
        for path in paths {
            match path {
                "display_name" => {
                    changes.display_name =
                        violations.check("staff.display_name", display_name(&staff.display_name));
                }
                "phone" => changes.phone = violations.check("staff.phone", phone(&staff.phone)),
                "unit" => changes.unit = violations.check("staff.unit", unit(&staff.unit)),
                _ => {
                    changes.division_code =
                        violations.check("staff.division", division(&staff.division));
                }
            }
        }
        let create = match (&id, request.allow_missing) {
            (Some(id), true) => {
                let mut create_violations = Violations::new();
                Some(
                    match values_of(&mut create_violations, "staff", id, &staff) {
                        Some(values) if create_violations.is_empty() => Ok(values),
                        _ => Err(create_violations.into_vec()),
                    },
                )
            }
            _ => None,
        };
        let id = checked(violations, id)?;
        Ok(Self {
            id,
            changes,
            create,
        })
    }
}

impl TryFrom<api::ListStaffRequest> for ListStaff {
    type Error = Error;

    fn try_from(request: api::ListStaffRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let prefix = violations
            .check("division", division(&request.division))
            .map(Option::unwrap_or_default);
        let paging = prefix.as_ref().and_then(|prefix| {
            parse::paging(
                &mut violations,
                request.page_size,
                &request.page_token,
                ListQuery::new(&format!("staff division={prefix}")),
            )
        });
        let (division_prefix, paging) = checked(violations, prefix.zip(paging))?;
        Ok(Self {
            division_prefix,
            paging,
        })
    }
}

/// Every person of an import batch, each with an id given once.
fn import_values(request: &api::ImportStaffRequest) -> Result<Vec<StaffValues>, Error> {
    if request.staff.len() > MAX_IMPORT {
        return Err(Error::invalid(
            "staff",
            format!(
                "at most {MAX_IMPORT} staff per call, found {}",
                request.staff.len()
            ),
        ));
    }
    let mut violations = Violations::new();
    let mut values = Vec::with_capacity(request.staff.len());
    let mut first_index: HashMap<StaffId, usize> = HashMap::new();
    for (index, staff) in request.staff.iter().enumerate() {
        let field = format!("staff[{index}]");
        let before = violations.len();
        let Some(id) = staff_id_of(&mut violations, &field, staff) else {
            if violations.len() == before {
                violations.add(
                    format!("{field}.id"),
                    "required: the staff id (or name staff/{id})",
                );
            }
            continue;
        };
        if let Some(first) = first_index.get(&id) {
            violations.add(
                format!("{field}.id"),
                format!("staff {id} is also staff[{first}]"),
            );
            continue;
        }
        first_index.insert(id.clone(), index);
        if let Some(person) = values_of(&mut violations, &field, &id, staff) {
            values.push(person);
        }
    }
    checked(violations, Some(values))
}

fn named(name: &str) -> Result<StaffId, Error> {
    let mut violations = Violations::new();
    let id = violations.check("name", resources::staff(name));
    checked(violations, id)
}

pub(super) async fn create_staff(
    service: &RegistryService,
    access: &Access,
    request: api::CreateStaffRequest,
) -> Result<api::Staff, Error> {
    let create = CreateStaff::try_from(request)?;
    let person = staff::create(&service.blocks, access, create).await?;
    Ok(render::staff(person))
}

pub(super) async fn get_staff(
    service: &RegistryService,
    access: &Access,
    request: api::GetStaffRequest,
) -> Result<api::Staff, Error> {
    let id = named(&request.name)?;
    let person = staff::get(&service.blocks, access, id).await?;
    Ok(render::staff(person))
}

pub(super) async fn list_staff(
    service: &RegistryService,
    access: &Access,
    request: api::ListStaffRequest,
) -> Result<api::ListStaffResponse, Error> {
    let list = ListStaff::try_from(request)?;
    let page = staff::list(&service.blocks, access, &list).await?;
    Ok(api::ListStaffResponse {
        staff: page.items.into_iter().map(render::staff).collect(),
        next_page_token: page.next_page_token,
    })
}

pub(super) async fn update_staff(
    service: &RegistryService,
    access: &Access,
    request: api::UpdateStaffRequest,
) -> Result<api::Staff, Error> {
    let update = UpdateStaff::try_from(request)?;
    let person = staff::update(&service.blocks, access, update).await?;
    Ok(render::staff(person))
}

pub(super) async fn delete_staff(
    service: &RegistryService,
    access: &Access,
    request: api::DeleteStaffRequest,
) -> Result<(), Error> {
    let id = named(&request.name)?;
    staff::delete(&service.blocks, access, id).await
}

pub(super) async fn import_staff(
    service: &RegistryService,
    access: &Access,
    request: api::ImportStaffRequest,
) -> Result<api::ImportStaffResponse, Error> {
    let values = import_values(&request)?;
    let imported = staff::import(&service.blocks, access, values).await?;
    let count = |value: usize| u32::try_from(value).unwrap_or(u32::MAX);
    Ok(api::ImportStaffResponse {
        created: count(imported.created),
        updated: count(imported.updated),
        unchanged: count(imported.unchanged),
    })
}
