//! Subdistricts (街道) with their land: read by anyone, changed by the
//! district administrators whose jurisdiction covers them.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;

use super::{Blocks, NameChanges, Page, Paging, finish};
use crate::domain::codec;
use crate::domain::geometry::area_m2;
use crate::domain::import::SubdistrictBoundary;
use crate::domain::names::PlaceName;
use crate::error::Error;
use crate::events::{self, DivisionChange};
use crate::reach::require_division;
use crate::store;
use crate::store::hierarchy::{SubdistrictRow, SubdistrictValues};
use flatgov_vocabulary::SubdistrictCode;

/// A subdistrict's land as stored: the registry's geometry encoding and its
/// geodesic area.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    /// The geometry in the registry's exact binary encoding.
    pub encoded: Vec<u8>,
    /// Geodesic area on the WGS84 ellipsoid.
    pub area_m2: f64,
}

impl Boundary {
    pub fn of(geometry: &geo::MultiPolygon<f64>) -> Self {
        Self {
            encoded: codec::encode(geometry),
            area_m2: area_m2(geometry),
        }
    }
}

/// A subdistrict as a create gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubdistrict {
    /// Its 9-digit code (the first 6 name its district).
    pub code: SubdistrictCode,
    /// Its name.
    pub display_name: PlaceName,
    /// Its English name, if any.
    pub display_name_en: Option<PlaceName>,
    /// Its land, when known.
    pub boundary: Option<Boundary>,
}

/// What an update changes: only what its mask named.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubdistrictChanges {
    /// Names.
    pub names: NameChanges,
    /// The land (`Some(None)` forgets it).
    pub boundary: Option<Option<Boundary>>,
}

/// An update, or (with `allow_missing`) the subdistrict to create.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateSubdistrict {
    /// The subdistrict updated.
    pub code: SubdistrictCode,
    /// What changes when it exists.
    pub changes: SubdistrictChanges,
    /// With `allow_missing`: the subdistrict to create when it does not
    /// exist, or what is wrong with the request as a create.
    pub create: Option<Result<NewSubdistrict, Vec<FieldViolation>>>,
}

/// A list: the subdistricts under a district code prefix (empty for all).
#[derive(Debug, Clone)]
pub struct ListSubdistricts {
    /// The district code they lie in, or empty.
    pub prefix: String,
    /// Boundaries are large: only when asked for.
    pub include_boundary: bool,
    /// Where the page starts.
    pub paging: Paging,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    /// Every subdistrict of the file, in file order.
    pub codes: Vec<SubdistrictCode>,
}

fn name_of(code: SubdistrictCode) -> String {
    format!("subdistricts/{code}")
}

fn not_found(code: SubdistrictCode) -> Error {
    Error::NotFound(format!("subdistrict {code} does not exist"))
}

/// INVALID_ARGUMENT naming `field` unless the subdistrict's district exists.
async fn require_district_exists(
    connection: &mut sqlx::PgConnection,
    field: &str,
    code: SubdistrictCode,
) -> Result<(), Error> {
    let district = code.district().to_string();
    if store::hierarchy::get_district(connection, &district, false)
        .await?
        .is_some()
    {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!("district {district} of subdistrict {code} does not exist; create it first"),
    ))
}

/// Inserts a subdistrict and records the event; `None` when the code is taken.
async fn insert(
    connection: &mut sqlx::PgConnection,
    subdistrict: &NewSubdistrict,
) -> Result<Option<SubdistrictRow>, Error> {
    let code = subdistrict.code.to_string();
    let district = subdistrict.code.district().to_string();
    let row = store::hierarchy::insert_subdistrict(
        connection,
        SubdistrictValues {
            code: &code,
            district_code: &district,
            display_name: subdistrict.display_name.as_str(),
            display_name_en: subdistrict.display_name_en.as_ref().map(PlaceName::as_str),
            boundary: subdistrict
                .boundary
                .as_ref()
                .map(|boundary| boundary.encoded.as_slice()),
            land_area_m2: subdistrict
                .boundary
                .as_ref()
                .map(|boundary| boundary.area_m2),
        },
    )
    .await?;
    if let Some(row) = &row {
        events::hierarchy_changed(
            connection,
            &name_of(subdistrict.code),
            DivisionChange::Created,
            row.create_time,
        )
        .await?;
    }
    Ok(row)
}

/// Writes new values over a stored subdistrict when they differ; returns
/// the row and whether it changed.
async fn overwrite(
    connection: &mut sqlx::PgConnection,
    existing: SubdistrictRow,
    display_name: &str,
    display_name_en: Option<&str>,
    boundary: Option<&Boundary>,
) -> Result<(SubdistrictRow, bool), Error> {
    let encoded = boundary.map(|boundary| boundary.encoded.as_slice());
    let unchanged = existing.display_name == display_name
        && existing.display_name_en.as_deref() == display_name_en
        && existing.boundary.as_deref() == encoded;
    if unchanged {
        return Ok((existing, false));
    }
    let row = store::hierarchy::update_subdistrict(
        connection,
        SubdistrictValues {
            code: &existing.code,
            district_code: &existing.district_code,
            display_name,
            display_name_en,
            boundary: encoded,
            land_area_m2: boundary.map(|boundary| boundary.area_m2),
        },
    )
    .await?;
    events::hierarchy_changed(
        connection,
        &format!("subdistricts/{}", row.code),
        DivisionChange::Updated,
        row.update_time,
    )
    .await?;
    Ok((row, true))
}

pub async fn create(
    blocks: &Blocks,
    access: &Access,
    subdistrict: NewSubdistrict,
) -> Result<SubdistrictRow, Error> {
    const CONTEXT: &str = "creating a subdistrict";
    let code = subdistrict.code;
    require_division(access, code.as_ref())?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    require_district_exists(&mut transaction, "subdistrict.name", code).await?;
    let row = insert(&mut transaction, &subdistrict)
        .await?
        .ok_or_else(|| Error::AlreadyExists(format!("subdistrict {code} already exists")))?;
    finish(transaction, access, CONTEXT).await?;
    Ok(row)
}

pub async fn get(blocks: &Blocks, code: SubdistrictCode) -> Result<SubdistrictRow, Error> {
    let mut connection = store::connection(&blocks.pool, "reading a subdistrict").await?;
    store::hierarchy::get_subdistrict(&mut connection, code.as_ref(), false)
        .await?
        .ok_or_else(|| not_found(code))
}

pub async fn list(blocks: &Blocks, list: &ListSubdistricts) -> Result<Page<SubdistrictRow>, Error> {
    let mut connection = store::connection(&blocks.pool, "listing subdistricts").await?;
    let rows = store::hierarchy::list_subdistricts(
        &mut connection,
        &list.prefix,
        list.paging.page.after.as_deref(),
        list.paging.page.size.fetch_limit(),
        list.include_boundary,
    )
    .await?;
    Ok(list.paging.page_of(rows, |row| row.code.clone()))
}

pub async fn update(
    blocks: &Blocks,
    access: &Access,
    update: UpdateSubdistrict,
) -> Result<SubdistrictRow, Error> {
    const CONTEXT: &str = "updating a subdistrict";
    let code = update.code;
    require_division(access, code.as_ref())?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let Some(existing) =
        store::hierarchy::get_subdistrict(&mut transaction, code.as_ref(), true).await?
    else {
        let Some(create_with) = update.create else {
            return Err(not_found(code));
        };
        let subdistrict = create_with?;
        require_district_exists(&mut transaction, "subdistrict.name", code).await?;
        let row = match insert(&mut transaction, &subdistrict).await? {
            Some(row) => row,
            None => store::hierarchy::get_subdistrict(&mut transaction, code.as_ref(), false)
                .await?
                .ok_or_else(|| not_found(code))?,
        };
        finish(transaction, access, CONTEXT).await?;
        return Ok(row);
    };
    let (display_name, display_name_en) = update
        .changes
        .names
        .apply(&existing.display_name, existing.display_name_en.as_deref());
    let stored_boundary = existing
        .boundary
        .clone()
        .zip(existing.land_area_m2)
        .map(|(encoded, area_m2)| Boundary { encoded, area_m2 });
    let boundary = match update.changes.boundary {
        Some(boundary) => boundary,
        None => stored_boundary,
    };
    let (row, changed) = overwrite(
        &mut transaction,
        existing,
        &display_name,
        display_name_en.as_deref(),
        boundary.as_ref(),
    )
    .await?;
    if changed {
        finish(transaction, access, CONTEXT).await?;
    }
    Ok(row)
}

pub async fn delete(blocks: &Blocks, access: &Access, code: SubdistrictCode) -> Result<(), Error> {
    const CONTEXT: &str = "deleting a subdistrict";
    let code_text = code.to_string();
    require_division(access, &code_text)?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    store::hierarchy::get_subdistrict(&mut transaction, &code_text, true)
        .await?
        .ok_or_else(|| not_found(code))?;
    let children = store::hierarchy::count_communities_of(&mut transaction, &code_text).await?;
    if children > 0 {
        return Err(Error::FailedPrecondition(format!(
            "subdistrict {code} still has {children} communit(ies); delete them first"
        )));
    }
    store::hierarchy::delete_subdistrict(&mut transaction, &code_text).await?;
    events::hierarchy_changed(
        &mut transaction,
        &name_of(code),
        DivisionChange::Deleted,
        blocks.clock.now(),
    )
    .await?;
    finish(transaction, access, CONTEXT).await
}

/// Creates or updates every subdistrict of a parsed boundary file, all or
/// nothing; unchanged ones are left alone.
pub async fn import(
    blocks: &Blocks,
    access: &Access,
    boundaries: Vec<SubdistrictBoundary>,
) -> Result<Imported, Error> {
    const CONTEXT: &str = "importing subdistricts";
    for boundary in &boundaries {
        require_division(access, boundary.code.as_ref())?;
    }
    for boundary in &boundaries {
        access.audit().resource(name_of(boundary.code));
    }
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let mut violations = Vec::new();
    for (index, boundary) in boundaries.iter().enumerate() {
        let district = boundary.code.district().to_string();
        if store::hierarchy::get_district(&mut transaction, &district, false)
            .await?
            .is_none()
        {
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
    let mut imported = Imported::default();
    for boundary in boundaries {
        let land = Boundary::of(&boundary.geometry);
        let existing =
            store::hierarchy::get_subdistrict(&mut transaction, boundary.code.as_ref(), true)
                .await?;
        match existing {
            None => {
                let subdistrict = NewSubdistrict {
                    code: boundary.code,
                    display_name: boundary.name,
                    display_name_en: boundary.name_en,
                    boundary: Some(land),
                };
                insert(&mut transaction, &subdistrict).await?;
                imported.created += 1;
            }
            Some(existing) => {
                let (_, changed) = overwrite(
                    &mut transaction,
                    existing,
                    boundary.name.as_str(),
                    boundary.name_en.as_ref().map(PlaceName::as_str),
                    Some(&land),
                )
                .await?;
                if changed {
                    imported.updated += 1;
                } else {
                    imported.unchanged += 1;
                }
            }
        }
        imported.codes.push(boundary.code);
    }
    finish(transaction, access, CONTEXT).await?;
    Ok(imported)
}
