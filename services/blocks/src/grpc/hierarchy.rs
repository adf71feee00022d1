//! Districts, subdistricts and communities: create, read, list, update (or
//! upsert with `allow_missing`), delete, and a bulk import of subdistricts.

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::HierarchyChangeKind;

use super::RegistryService;
use super::convert::{community_message, district_message, subdistrict_message};
use crate::domain::codec;
use crate::domain::codes::{CodeError, CommunityCode, DistrictCode, SubdistrictCode};
use crate::domain::geometry::{area_m2, parse_geometry};
use crate::domain::import::{ImportProblem, parse_subdistrict_collection};
use crate::domain::names::PlaceName;
use crate::error::Error;
use crate::events;
use crate::reach::require_division;
use crate::resources::{self, ParentLevels};
use crate::store::hierarchy as store;
use crate::store::hierarchy::SubdistrictValues;

/// Field violations for problems found in an import file.
pub(super) fn import_violations(problems: &[ImportProblem]) -> Vec<FieldViolation> {
    problems
        .iter()
        .map(|problem| {
            let field = if problem.field.is_empty() {
                "geojson".to_owned()
            } else {
                problem.field.clone()
            };
            let description = match &problem.code {
                Some(code) if !problem.message.contains(code.as_str()) => {
                    format!("(feature with code {code:?}) {}", problem.message)
                }
                _ => problem.message.clone(),
            };
            FieldViolation::new(field, description)
        })
        .collect()
}

/// The paths an update touches: all of `allowed` when the mask is empty.
fn mask_paths(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&'static str],
) -> Result<Vec<&'static str>, Error> {
    let Some(mask) = mask.filter(|mask| !mask.paths.is_empty()) else {
        return Ok(allowed.to_vec());
    };
    let mut paths = Vec::with_capacity(mask.paths.len());
    for (index, path) in mask.paths.iter().enumerate() {
        match allowed.iter().find(|allowed| **allowed == path.as_str()) {
            Some(known) => paths.push(*known),
            None => {
                return Err(Error::invalid(
                    format!("update_mask.paths[{index}]"),
                    format!(
                        "{path:?} cannot be updated; updatable: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(paths)
}

/// The code a resource names, from `name` or `code` (which must agree when both are set).
fn resource_code<Code: PartialEq + Copy + std::fmt::Display>(
    field: &str,
    name: &str,
    code: &str,
    from_name: impl Fn(&str, &str) -> Result<Code, Error>,
    from_code: impl Fn(&str) -> Result<Code, CodeError>,
) -> Result<Code, Error> {
    let by_name = if name.is_empty() {
        None
    } else {
        Some(from_name(&format!("{field}.name"), name)?)
    };
    let by_code = if code.is_empty() {
        None
    } else {
        Some(
            from_code(code)
                .map_err(|error| Error::invalid(format!("{field}.code"), error.to_string()))?,
        )
    };
    match (by_name, by_code) {
        (Some(first), Some(second)) if first != second => Err(Error::invalid(
            format!("{field}.code"),
            format!("code {second} disagrees with name {name}"),
        )),
        (Some(code), _) | (None, Some(code)) => Ok(code),
        (None, None) => Err(Error::invalid(
            format!("{field}.name"),
            "required: the resource name (or the code)",
        )),
    }
}

fn required_name(field: String, value: &str) -> Result<PlaceName, FieldViolation> {
    PlaceName::parse(value).map_err(|error| FieldViolation::new(field, error.to_string()))
}

fn optional_name(field: String, value: &str) -> Result<Option<PlaceName>, FieldViolation> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    PlaceName::parse(value)
        .map(Some)
        .map_err(|error| FieldViolation::new(field, error.to_string()))
}

/// A subdistrict boundary from GeoJSON text: its storage encoding and area.
fn boundary(field: &str, text: &str) -> Result<Option<(Vec<u8>, f64)>, Error> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|error| Error::invalid(field, format!("not valid JSON: {error}")))?;
    let geometry = parse_geometry(&value, field).map_err(|errors| {
        Error::InvalidArgument(
            errors
                .0
                .iter()
                .map(|error| FieldViolation::new(error.path.clone(), error.kind.to_string()))
                .collect(),
        )
    })?;
    Ok(Some((codec::encode(&geometry), area_m2(&geometry))))
}

fn not_found(what: &str, code: impl std::fmt::Display) -> Error {
    Error::NotFound(format!("{what} {code} does not exist"))
}

// ----- districts -----

pub(super) async fn create_district(
    service: &RegistryService,
    access: &Access,
    request: api::CreateDistrictRequest,
) -> Result<api::District, Error> {
    let district = request
        .district
        .ok_or_else(|| Error::invalid("district", "required"))?;
    let code = resource_code(
        "district",
        &district.name,
        &district.code,
        resources::district,
        DistrictCode::parse,
    )?;
    require_division(access, &code.to_string())?;
    access.audit().resource(format!("districts/{code}"));
    let (display_name, display_name_en) = district_names(&district)?;
    let mut transaction = service.begin("creating a district").await?;
    let row = store::insert_district(
        &mut transaction,
        &code.to_string(),
        display_name.as_str(),
        display_name_en.as_ref().map(PlaceName::as_str),
    )
    .await
    .map_err(Error::database("creating a district"))?
    .ok_or_else(|| Error::AlreadyExists(format!("district {code} already exists")))?;
    events::hierarchy_changed(
        &mut transaction,
        &format!("districts/{code}"),
        HierarchyChangeKind::Created,
        row.create_time,
    )
    .await
    .map_err(Error::database("creating a district"))?;
    service
        .record(&mut transaction, access, "creating a district")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("creating a district"))?;
    Ok(district_message(row))
}

fn district_names(district: &api::District) -> Result<(PlaceName, Option<PlaceName>), Error> {
    let name = required_name("district.display_name".into(), &district.display_name);
    let name_en = optional_name("district.display_name_en".into(), &district.display_name_en);
    match (name, name_en) {
        (Ok(name), Ok(name_en)) => Ok((name, name_en)),
        (name, name_en) => Err(Error::InvalidArgument(
            [name.err(), name_en.err()].into_iter().flatten().collect(),
        )),
    }
}

pub(super) async fn get_district(
    service: &RegistryService,
    _access: &Access,
    request: api::GetDistrictRequest,
) -> Result<api::District, Error> {
    let code = resources::district("name", &request.name)?;
    let mut connection = service.connection("reading a district").await?;
    let row = store::get_district(&mut connection, &code.to_string(), false)
        .await
        .map_err(Error::database("reading a district"))?
        .ok_or_else(|| not_found("district", code))?;
    Ok(district_message(row))
}

pub(super) async fn list_districts(
    service: &RegistryService,
    _access: &Access,
    request: api::ListDistrictsRequest,
) -> Result<api::ListDistrictsResponse, Error> {
    let query = ListQuery::new("districts");
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let mut connection = service.connection("listing districts").await?;
    let mut rows = store::list_districts(
        &mut connection,
        page.after.as_deref(),
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing districts"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.code.clone());
    Ok(api::ListDistrictsResponse {
        districts: rows.into_iter().map(district_message).collect(),
        next_page_token,
    })
}

pub(super) async fn update_district(
    service: &RegistryService,
    access: &Access,
    request: api::UpdateDistrictRequest,
) -> Result<api::District, Error> {
    let district = request
        .district
        .ok_or_else(|| Error::invalid("district", "required"))?;
    let code = resource_code(
        "district",
        &district.name,
        &district.code,
        resources::district,
        DistrictCode::parse,
    )?;
    require_division(access, &code.to_string())?;
    access.audit().resource(format!("districts/{code}"));
    let paths = mask_paths(
        request.update_mask.as_ref(),
        &["display_name", "display_name_en"],
    )?;
    let mut transaction = service.begin("updating a district").await?;
    let Some(existing) = store::get_district(&mut transaction, &code.to_string(), true)
        .await
        .map_err(Error::database("updating a district"))?
    else {
        if !request.allow_missing {
            return Err(not_found("district", code));
        }
        drop(transaction);
        return create_or_read_district(service, access, district, code).await;
    };
    let mut display_name = existing.display_name.clone();
    let mut display_name_en = existing.display_name_en.clone();
    let mut violations = Vec::new();
    for path in paths {
        match path {
            "display_name" => {
                match required_name("district.display_name".into(), &district.display_name) {
                    Ok(name) => display_name = name.as_str().to_owned(),
                    Err(violation) => violations.push(violation),
                }
            }
            _ => {
                match optional_name("district.display_name_en".into(), &district.display_name_en) {
                    Ok(name) => display_name_en = name.map(|name| name.as_str().to_owned()),
                    Err(violation) => violations.push(violation),
                }
            }
        }
    }
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    if display_name == existing.display_name && display_name_en == existing.display_name_en {
        return Ok(district_message(existing));
    }
    let row = store::update_district(
        &mut transaction,
        &code.to_string(),
        &display_name,
        display_name_en.as_deref(),
    )
    .await
    .map_err(Error::database("updating a district"))?;
    events::hierarchy_changed(
        &mut transaction,
        &format!("districts/{code}"),
        HierarchyChangeKind::Updated,
        row.update_time,
    )
    .await
    .map_err(Error::database("updating a district"))?;
    service
        .record(&mut transaction, access, "updating a district")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("updating a district"))?;
    Ok(district_message(row))
}

/// Upsert's create path: a concurrent creator may win, in which case its row is returned.
async fn create_or_read_district(
    service: &RegistryService,
    access: &Access,
    district: api::District,
    code: DistrictCode,
) -> Result<api::District, Error> {
    match create_district(
        service,
        access,
        api::CreateDistrictRequest {
            district: Some(district),
        },
    )
    .await
    {
        Err(Error::AlreadyExists(_)) => {
            get_district(
                service,
                access,
                api::GetDistrictRequest {
                    name: format!("districts/{code}"),
                },
            )
            .await
        }
        other => other,
    }
}

pub(super) async fn delete_district(
    service: &RegistryService,
    access: &Access,
    request: api::DeleteDistrictRequest,
) -> Result<(), Error> {
    let code = resources::district("name", &request.name)?.to_string();
    require_division(access, &code)?;
    access.audit().resource(format!("districts/{code}"));
    let mut transaction = service.begin("deleting a district").await?;
    store::get_district(&mut transaction, &code, true)
        .await
        .map_err(Error::database("deleting a district"))?
        .ok_or_else(|| not_found("district", &code))?;
    let children = store::count_subdistricts_of(&mut transaction, &code)
        .await
        .map_err(Error::database("deleting a district"))?;
    if children > 0 {
        return Err(Error::FailedPrecondition(format!(
            "district {code} still has {children} subdistrict(s); delete them first"
        )));
    }
    store::delete_district(&mut transaction, &code)
        .await
        .map_err(Error::database("deleting a district"))?;
    events::hierarchy_changed(
        &mut transaction,
        &format!("districts/{code}"),
        HierarchyChangeKind::Deleted,
        Utc::now(),
    )
    .await
    .map_err(Error::database("deleting a district"))?;
    service
        .record(&mut transaction, access, "deleting a district")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("deleting a district"))?;
    Ok(())
}

// ----- subdistricts -----

/// A subdistrict's values from a request, fully checked.
struct SubdistrictInput {
    code: SubdistrictCode,
    display_name: PlaceName,
    display_name_en: Option<PlaceName>,
    boundary: Option<(Vec<u8>, f64)>,
}

fn subdistrict_input(
    subdistrict: &api::Subdistrict,
    code: SubdistrictCode,
) -> Result<SubdistrictInput, Error> {
    let name = required_name("subdistrict.display_name".into(), &subdistrict.display_name);
    let name_en = optional_name(
        "subdistrict.display_name_en".into(),
        &subdistrict.display_name_en,
    );
    let boundary = boundary(
        "subdistrict.boundary_geojson",
        &subdistrict.boundary_geojson,
    );
    let mut violations: Vec<FieldViolation> = Vec::new();
    if let Err(violation) = &name {
        violations.push(violation.clone());
    }
    if let Err(violation) = &name_en {
        violations.push(violation.clone());
    }
    match boundary {
        Err(Error::InvalidArgument(found)) => violations.extend(found),
        Err(other) => return Err(other),
        Ok(_) if !violations.is_empty() => {}
        Ok(boundary) => {
            if let (Ok(display_name), Ok(display_name_en)) = (name, name_en) {
                return Ok(SubdistrictInput {
                    code,
                    display_name,
                    display_name_en,
                    boundary,
                });
            }
        }
    }
    Err(Error::InvalidArgument(violations))
}

async fn require_district_exists(
    connection: &mut sqlx::PgConnection,
    field: &str,
    code: SubdistrictCode,
) -> Result<(), Error> {
    let district = code.district().to_string();
    let exists = store::get_district(connection, &district, false)
        .await
        .map_err(Error::database("checking the district"))?
        .is_some();
    if exists {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("district {district} of subdistrict {code} does not exist; create it first"),
        ))
    }
}

pub(super) async fn create_subdistrict(
    service: &RegistryService,
    access: &Access,
    request: api::CreateSubdistrictRequest,
) -> Result<api::Subdistrict, Error> {
    let subdistrict = request
        .subdistrict
        .ok_or_else(|| Error::invalid("subdistrict", "required"))?;
    let code = resource_code(
        "subdistrict",
        &subdistrict.name,
        &subdistrict.code,
        resources::subdistrict,
        SubdistrictCode::parse,
    )?;
    require_division(access, &code.to_string())?;
    access.audit().resource(format!("subdistricts/{code}"));
    let input = subdistrict_input(&subdistrict, code)?;
    let mut transaction = service.begin("creating a subdistrict").await?;
    require_district_exists(&mut transaction, "subdistrict.name", code).await?;
    let row = insert_subdistrict(&mut transaction, &input)
        .await?
        .ok_or_else(|| Error::AlreadyExists(format!("subdistrict {code} already exists")))?;
    service
        .record(&mut transaction, access, "creating a subdistrict")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("creating a subdistrict"))?;
    subdistrict_message(row)
}

async fn insert_subdistrict(
    connection: &mut sqlx::PgConnection,
    input: &SubdistrictInput,
) -> Result<Option<store::SubdistrictRow>, Error> {
    let code = input.code.to_string();
    let district = input.code.district().to_string();
    let row = store::insert_subdistrict(
        connection,
        SubdistrictValues {
            code: &code,
            district_code: &district,
            display_name: input.display_name.as_str(),
            display_name_en: input.display_name_en.as_ref().map(PlaceName::as_str),
            boundary: input.boundary.as_ref().map(|(bytes, _)| bytes.as_slice()),
            land_area_m2: input.boundary.as_ref().map(|(_, area)| *area),
        },
    )
    .await
    .map_err(Error::database("creating a subdistrict"))?;
    if let Some(row) = &row {
        events::hierarchy_changed(
            connection,
            &format!("subdistricts/{code}"),
            HierarchyChangeKind::Created,
            row.create_time,
        )
        .await
        .map_err(Error::database("creating a subdistrict"))?;
    }
    Ok(row)
}

/// Writes new values over an existing subdistrict when they differ; returns the row and whether it changed.
async fn update_subdistrict_row(
    connection: &mut sqlx::PgConnection,
    existing: store::SubdistrictRow,
    display_name: &str,
    display_name_en: Option<&str>,
    boundary: Option<(&[u8], f64)>,
) -> Result<(store::SubdistrictRow, bool), Error> {
    let unchanged = existing.display_name == display_name
        && existing.display_name_en.as_deref() == display_name_en
        && existing.boundary.as_deref() == boundary.map(|(bytes, _)| bytes);
    if unchanged {
        return Ok((existing, false));
    }
    let row = store::update_subdistrict(
        connection,
        SubdistrictValues {
            code: &existing.code,
            district_code: &existing.district_code,
            display_name,
            display_name_en,
            boundary: boundary.map(|(bytes, _)| bytes),
            land_area_m2: boundary.map(|(_, area)| area),
        },
    )
    .await
    .map_err(Error::database("updating a subdistrict"))?;
    events::hierarchy_changed(
        connection,
        &format!("subdistricts/{}", row.code),
        HierarchyChangeKind::Updated,
        row.update_time,
    )
    .await
    .map_err(Error::database("updating a subdistrict"))?;
    Ok((row, true))
}

pub(super) async fn get_subdistrict(
    service: &RegistryService,
    _access: &Access,
    request: api::GetSubdistrictRequest,
) -> Result<api::Subdistrict, Error> {
    let code = resources::subdistrict("name", &request.name)?;
    let mut connection = service.connection("reading a subdistrict").await?;
    let row = store::get_subdistrict(&mut connection, &code.to_string(), false)
        .await
        .map_err(Error::database("reading a subdistrict"))?
        .ok_or_else(|| not_found("subdistrict", code))?;
    subdistrict_message(row)
}

pub(super) async fn list_subdistricts(
    service: &RegistryService,
    _access: &Access,
    request: api::ListSubdistrictsRequest,
) -> Result<api::ListSubdistrictsResponse, Error> {
    let parent = resources::parent("parent", &request.parent, ParentLevels::District)?;
    let query = ListQuery::new(&format!("subdistricts parent={}", parent.prefix()));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let mut connection = service.connection("listing subdistricts").await?;
    let mut rows = store::list_subdistricts(
        &mut connection,
        &parent.prefix(),
        page.after.as_deref(),
        page.size.fetch_limit(),
        request.include_boundary,
    )
    .await
    .map_err(Error::database("listing subdistricts"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.code.clone());
    Ok(api::ListSubdistrictsResponse {
        subdistricts: rows
            .into_iter()
            .map(subdistrict_message)
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}

pub(super) async fn update_subdistrict(
    service: &RegistryService,
    access: &Access,
    request: api::UpdateSubdistrictRequest,
) -> Result<api::Subdistrict, Error> {
    let subdistrict = request
        .subdistrict
        .ok_or_else(|| Error::invalid("subdistrict", "required"))?;
    let code = resource_code(
        "subdistrict",
        &subdistrict.name,
        &subdistrict.code,
        resources::subdistrict,
        SubdistrictCode::parse,
    )?;
    require_division(access, &code.to_string())?;
    access.audit().resource(format!("subdistricts/{code}"));
    let paths = mask_paths(
        request.update_mask.as_ref(),
        &["display_name", "display_name_en", "boundary_geojson"],
    )?;
    let mut transaction = service.begin("updating a subdistrict").await?;
    let existing = store::get_subdistrict(&mut transaction, &code.to_string(), true)
        .await
        .map_err(Error::database("updating a subdistrict"))?;
    let Some(existing) = existing else {
        if !request.allow_missing {
            return Err(not_found("subdistrict", code));
        }
        let input = subdistrict_input(&subdistrict, code)?;
        require_district_exists(&mut transaction, "subdistrict.name", code).await?;
        let row = match insert_subdistrict(&mut transaction, &input).await? {
            Some(row) => row,
            None => store::get_subdistrict(&mut transaction, &code.to_string(), false)
                .await
                .map_err(Error::database("updating a subdistrict"))?
                .ok_or_else(|| not_found("subdistrict", code))?,
        };
        service
            .record(&mut transaction, access, "updating a subdistrict")
            .await?;
        transaction
            .commit()
            .await
            .map_err(Error::database("updating a subdistrict"))?;
        return subdistrict_message(row);
    };
    let mut display_name = existing.display_name.clone();
    let mut display_name_en = existing.display_name_en.clone();
    let mut boundary_value: Option<(Vec<u8>, f64)> =
        existing.boundary.clone().zip(existing.land_area_m2);
    let mut violations = Vec::new();
    for path in paths {
        match path {
            "display_name" => {
                match required_name("subdistrict.display_name".into(), &subdistrict.display_name) {
                    Ok(name) => display_name = name.as_str().to_owned(),
                    Err(violation) => violations.push(violation),
                }
            }
            "display_name_en" => match optional_name(
                "subdistrict.display_name_en".into(),
                &subdistrict.display_name_en,
            ) {
                Ok(name) => display_name_en = name.map(|name| name.as_str().to_owned()),
                Err(violation) => violations.push(violation),
            },
            _ => match boundary(
                "subdistrict.boundary_geojson",
                &subdistrict.boundary_geojson,
            ) {
                Ok(parsed) => boundary_value = parsed,
                Err(Error::InvalidArgument(found)) => violations.extend(found),
                Err(other) => return Err(other),
            },
        }
    }
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let (row, changed) = update_subdistrict_row(
        &mut transaction,
        existing,
        &display_name,
        display_name_en.as_deref(),
        boundary_value
            .as_ref()
            .map(|(bytes, area)| (bytes.as_slice(), *area)),
    )
    .await?;
    if changed {
        service
            .record(&mut transaction, access, "updating a subdistrict")
            .await?;
        transaction
            .commit()
            .await
            .map_err(Error::database("updating a subdistrict"))?;
    }
    subdistrict_message(row)
}

pub(super) async fn delete_subdistrict(
    service: &RegistryService,
    access: &Access,
    request: api::DeleteSubdistrictRequest,
) -> Result<(), Error> {
    let code = resources::subdistrict("name", &request.name)?.to_string();
    require_division(access, &code)?;
    access.audit().resource(format!("subdistricts/{code}"));
    let mut transaction = service.begin("deleting a subdistrict").await?;
    store::get_subdistrict(&mut transaction, &code, true)
        .await
        .map_err(Error::database("deleting a subdistrict"))?
        .ok_or_else(|| not_found("subdistrict", &code))?;
    let children = store::count_communities_of(&mut transaction, &code)
        .await
        .map_err(Error::database("deleting a subdistrict"))?;
    if children > 0 {
        return Err(Error::FailedPrecondition(format!(
            "subdistrict {code} still has {children} communit(ies); delete them first"
        )));
    }
    store::delete_subdistrict(&mut transaction, &code)
        .await
        .map_err(Error::database("deleting a subdistrict"))?;
    events::hierarchy_changed(
        &mut transaction,
        &format!("subdistricts/{code}"),
        HierarchyChangeKind::Deleted,
        Utc::now(),
    )
    .await
    .map_err(Error::database("deleting a subdistrict"))?;
    service
        .record(&mut transaction, access, "deleting a subdistrict")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("deleting a subdistrict"))?;
    Ok(())
}

pub(super) async fn import_subdistricts(
    service: &RegistryService,
    access: &Access,
    request: api::ImportSubdistrictsRequest,
) -> Result<api::ImportSubdistrictsResponse, Error> {
    let document: serde_json::Value = serde_json::from_str(&request.geojson)
        .map_err(|error| Error::invalid("geojson", format!("not valid JSON: {error}")))?;
    let boundaries = parse_subdistrict_collection(&document)
        .map_err(|errors| Error::InvalidArgument(import_violations(&errors.problems)))?;
    if boundaries.is_empty() {
        return Err(Error::invalid(
            "features",
            "must hold at least one subdistrict",
        ));
    }
    for boundary in &boundaries {
        require_division(access, &boundary.code.to_string())?;
    }
    for boundary in &boundaries {
        access
            .audit()
            .resource(format!("subdistricts/{}", boundary.code));
    }
    let mut transaction = service.begin("importing subdistricts").await?;
    let mut violations = Vec::new();
    for (index, boundary) in boundaries.iter().enumerate() {
        let district = boundary.code.district().to_string();
        let exists = store::get_district(&mut transaction, &district, false)
            .await
            .map_err(Error::database("importing subdistricts"))?
            .is_some();
        if !exists {
            violations.push(FieldViolation::new(
                format!("features[{index}].properties.code"),
                format!(
                    "(feature with code \"{}\") district {district} does not exist; create it first",
                    boundary.code
                ),
            ));
        }
    }
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let mut response = api::ImportSubdistrictsResponse::default();
    for boundary in &boundaries {
        let code = boundary.code.to_string();
        let bytes = codec::encode(&boundary.geometry);
        let area = area_m2(&boundary.geometry);
        let existing = store::get_subdistrict(&mut transaction, &code, true)
            .await
            .map_err(Error::database("importing subdistricts"))?;
        match existing {
            None => {
                let input = SubdistrictInput {
                    code: boundary.code,
                    display_name: boundary.name.clone(),
                    display_name_en: boundary.name_en.clone(),
                    boundary: Some((bytes, area)),
                };
                insert_subdistrict(&mut transaction, &input).await?;
                response.created += 1;
            }
            Some(existing) => {
                let (_, changed) = update_subdistrict_row(
                    &mut transaction,
                    existing,
                    boundary.name.as_str(),
                    boundary.name_en.as_ref().map(PlaceName::as_str),
                    Some((bytes.as_slice(), area)),
                )
                .await?;
                if changed {
                    response.updated += 1;
                } else {
                    response.unchanged += 1;
                }
            }
        }
        response.subdistricts.push(format!("subdistricts/{code}"));
    }
    service
        .record(&mut transaction, access, "importing subdistricts")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("importing subdistricts"))?;
    Ok(response)
}

// ----- communities -----

pub(super) async fn create_community(
    service: &RegistryService,
    access: &Access,
    request: api::CreateCommunityRequest,
) -> Result<api::Community, Error> {
    let community = request
        .community
        .ok_or_else(|| Error::invalid("community", "required"))?;
    let code = resource_code(
        "community",
        &community.name,
        &community.code,
        resources::community,
        CommunityCode::parse,
    )?;
    require_division(access, &code.to_string())?;
    access.audit().resource(format!("communities/{code}"));
    let (display_name, display_name_en) = community_names(&community)?;
    let mut transaction = service.begin("creating a community").await?;
    let row = insert_community(
        &mut transaction,
        code,
        &display_name,
        display_name_en.as_ref(),
    )
    .await?
    .ok_or_else(|| Error::AlreadyExists(format!("community {code} already exists")))?;
    service
        .record(&mut transaction, access, "creating a community")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("creating a community"))?;
    Ok(community_message(row))
}

fn community_names(community: &api::Community) -> Result<(PlaceName, Option<PlaceName>), Error> {
    let name = required_name("community.display_name".into(), &community.display_name);
    let name_en = optional_name(
        "community.display_name_en".into(),
        &community.display_name_en,
    );
    match (name, name_en) {
        (Ok(name), Ok(name_en)) => Ok((name, name_en)),
        (name, name_en) => Err(Error::InvalidArgument(
            [name.err(), name_en.err()].into_iter().flatten().collect(),
        )),
    }
}

/// Inserts a community (checking its subdistrict) and records the event;
/// `None` when the code is taken.
pub(super) async fn insert_community(
    connection: &mut sqlx::PgConnection,
    code: CommunityCode,
    display_name: &PlaceName,
    display_name_en: Option<&PlaceName>,
) -> Result<Option<store::CommunityRow>, Error> {
    let subdistrict = code.subdistrict().to_string();
    let parent_exists = store::get_subdistrict(connection, &subdistrict, false)
        .await
        .map_err(Error::database("creating a community"))?
        .is_some();
    if !parent_exists {
        return Err(Error::invalid(
            "community.name",
            format!(
                "subdistrict {subdistrict} of community {code} does not exist; create it first"
            ),
        ));
    }
    let row = store::insert_community(
        connection,
        &code.to_string(),
        &subdistrict,
        display_name.as_str(),
        display_name_en.map(PlaceName::as_str),
    )
    .await
    .map_err(Error::database("creating a community"))?;
    if let Some(row) = &row {
        events::hierarchy_changed(
            connection,
            &format!("communities/{code}"),
            HierarchyChangeKind::Created,
            row.create_time,
        )
        .await
        .map_err(Error::database("creating a community"))?;
    }
    Ok(row)
}

pub(super) async fn get_community(
    service: &RegistryService,
    _access: &Access,
    request: api::GetCommunityRequest,
) -> Result<api::Community, Error> {
    let code = resources::community("name", &request.name)?;
    let mut connection = service.connection("reading a community").await?;
    let row = store::get_community(&mut connection, &code.to_string(), false)
        .await
        .map_err(Error::database("reading a community"))?
        .ok_or_else(|| not_found("community", code))?;
    Ok(community_message(row))
}

pub(super) async fn list_communities(
    service: &RegistryService,
    _access: &Access,
    request: api::ListCommunitiesRequest,
) -> Result<api::ListCommunitiesResponse, Error> {
    let parent = resources::parent("parent", &request.parent, ParentLevels::UpToSubdistrict)?;
    let query = ListQuery::new(&format!("communities parent={}", parent.prefix()));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let mut connection = service.connection("listing communities").await?;
    let mut rows = store::list_communities(
        &mut connection,
        &parent.prefix(),
        page.after.as_deref(),
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing communities"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.code.clone());
    Ok(api::ListCommunitiesResponse {
        communities: rows.into_iter().map(community_message).collect(),
        next_page_token,
    })
}

pub(super) async fn update_community(
    service: &RegistryService,
    access: &Access,
    request: api::UpdateCommunityRequest,
) -> Result<api::Community, Error> {
    let community = request
        .community
        .ok_or_else(|| Error::invalid("community", "required"))?;
    let code = resource_code(
        "community",
        &community.name,
        &community.code,
        resources::community,
        CommunityCode::parse,
    )?;
    require_division(access, &code.to_string())?;
    access.audit().resource(format!("communities/{code}"));
    let paths = mask_paths(
        request.update_mask.as_ref(),
        &["display_name", "display_name_en"],
    )?;
    let mut transaction = service.begin("updating a community").await?;
    let existing = store::get_community(&mut transaction, &code.to_string(), true)
        .await
        .map_err(Error::database("updating a community"))?;
    let Some(existing) = existing else {
        if !request.allow_missing {
            return Err(not_found("community", code));
        }
        let (display_name, display_name_en) = community_names(&community)?;
        let row = match insert_community(
            &mut transaction,
            code,
            &display_name,
            display_name_en.as_ref(),
        )
        .await?
        {
            Some(row) => row,
            None => store::get_community(&mut transaction, &code.to_string(), false)
                .await
                .map_err(Error::database("updating a community"))?
                .ok_or_else(|| not_found("community", code))?,
        };
        service
            .record(&mut transaction, access, "updating a community")
            .await?;
        transaction
            .commit()
            .await
            .map_err(Error::database("updating a community"))?;
        return Ok(community_message(row));
    };
    let mut display_name = existing.display_name.clone();
    let mut display_name_en = existing.display_name_en.clone();
    let mut violations = Vec::new();
    for path in paths {
        match path {
            "display_name" => {
                match required_name("community.display_name".into(), &community.display_name) {
                    Ok(name) => display_name = name.as_str().to_owned(),
                    Err(violation) => violations.push(violation),
                }
            }
            _ => match optional_name(
                "community.display_name_en".into(),
                &community.display_name_en,
            ) {
                Ok(name) => display_name_en = name.map(|name| name.as_str().to_owned()),
                Err(violation) => violations.push(violation),
            },
        }
    }
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    if display_name == existing.display_name && display_name_en == existing.display_name_en {
        return Ok(community_message(existing));
    }
    let row = store::update_community(
        &mut transaction,
        &code.to_string(),
        &display_name,
        display_name_en.as_deref(),
    )
    .await
    .map_err(Error::database("updating a community"))?;
    events::hierarchy_changed(
        &mut transaction,
        &format!("communities/{code}"),
        HierarchyChangeKind::Updated,
        row.update_time,
    )
    .await
    .map_err(Error::database("updating a community"))?;
    service
        .record(&mut transaction, access, "updating a community")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("updating a community"))?;
    Ok(community_message(row))
}

pub(super) async fn delete_community(
    service: &RegistryService,
    access: &Access,
    request: api::DeleteCommunityRequest,
) -> Result<(), Error> {
    let code = resources::community("name", &request.name)?.to_string();
    require_division(access, &code)?;
    access.audit().resource(format!("communities/{code}"));
    let mut transaction = service.begin("deleting a community").await?;
    store::get_community(&mut transaction, &code, true)
        .await
        .map_err(Error::database("deleting a community"))?
        .ok_or_else(|| not_found("community", &code))?;
    if store::community_in_use(&mut transaction, &code)
        .await
        .map_err(Error::database("deleting a community"))?
    {
        return Err(Error::FailedPrecondition(format!(
            "community {code} has blocks in the active generation or a draft; move or retire them first"
        )));
    }
    store::delete_community(&mut transaction, &code)
        .await
        .map_err(Error::database("deleting a community"))?;
    events::hierarchy_changed(
        &mut transaction,
        &format!("communities/{code}"),
        HierarchyChangeKind::Deleted,
        Utc::now(),
    )
    .await
    .map_err(Error::database("deleting a community"))?;
    service
        .record(&mut transaction, access, "deleting a community")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("deleting a community"))?;
    Ok(())
}
