//! Districts (county level): read by anyone, changed by the district
//! administrators whose jurisdiction covers them.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;

use super::{Blocks, NameChanges, Page, Paging, finish};
use crate::domain::names::PlaceName;
use crate::error::Error;
use crate::events::{self, DivisionChange};
use crate::reach::require_division;
use crate::store;
use crate::store::hierarchy::DistrictRow;
use flatgov_vocabulary::DistrictCode;

/// A district as a create gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDistrict {
    /// Its 6-digit code.
    pub code: DistrictCode,
    /// Its name.
    pub display_name: PlaceName,
    /// Its English name, if any.
    pub display_name_en: Option<PlaceName>,
}

/// An update: the names its mask changes, or (with `allow_missing`) the
/// district to create when there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateDistrict {
    /// The district updated.
    pub code: DistrictCode,
    /// What changes when it exists.
    pub changes: NameChanges,
    /// With `allow_missing`: the district to create when it does not exist,
    /// or what is wrong with the request as a create (reported only then).
    pub create: Option<Result<NewDistrict, Vec<FieldViolation>>>,
}

fn name_of(code: DistrictCode) -> String {
    format!("districts/{code}")
}

fn not_found(code: DistrictCode) -> Error {
    Error::NotFound(format!("district {code} does not exist"))
}

pub async fn create(
    blocks: &Blocks,
    access: &Access,
    district: NewDistrict,
) -> Result<DistrictRow, Error> {
    const CONTEXT: &str = "creating a district";
    let code = district.code;
    require_division(access, code.as_ref())?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let row = store::hierarchy::insert_district(
        &mut transaction,
        code.as_ref(),
        district.display_name.as_str(),
        district.display_name_en.as_ref().map(PlaceName::as_str),
    )
    .await?
    .ok_or_else(|| Error::AlreadyExists(format!("district {code} already exists")))?;
    events::hierarchy_changed(
        &mut transaction,
        &name_of(code),
        DivisionChange::Created,
        row.create_time,
    )
    .await?;
    finish(transaction, access, CONTEXT).await?;
    Ok(row)
}

pub async fn get(blocks: &Blocks, code: DistrictCode) -> Result<DistrictRow, Error> {
    let mut connection = store::connection(&blocks.pool, "reading a district").await?;
    store::hierarchy::get_district(&mut connection, code.as_ref(), false)
        .await?
        .ok_or_else(|| not_found(code))
}

pub async fn list(blocks: &Blocks, paging: &Paging) -> Result<Page<DistrictRow>, Error> {
    let mut connection = store::connection(&blocks.pool, "listing districts").await?;
    let rows = store::hierarchy::list_districts(
        &mut connection,
        paging.page.after.as_deref(),
        paging.page.size.fetch_limit(),
    )
    .await?;
    Ok(paging.page_of(rows, |row| row.code.clone()))
}

pub async fn update(
    blocks: &Blocks,
    access: &Access,
    update: UpdateDistrict,
) -> Result<DistrictRow, Error> {
    const CONTEXT: &str = "updating a district";
    let code = update.code;
    require_division(access, code.as_ref())?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let Some(existing) =
        store::hierarchy::get_district(&mut transaction, code.as_ref(), true).await?
    else {
        drop(transaction);
        let Some(create_with) = update.create else {
            return Err(not_found(code));
        };
        return create_or_read(blocks, access, create_with?).await;
    };
    let (display_name, display_name_en) = update
        .changes
        .apply(&existing.display_name, existing.display_name_en.as_deref());
    if display_name == existing.display_name && display_name_en == existing.display_name_en {
        return Ok(existing);
    }
    let row = store::hierarchy::update_district(
        &mut transaction,
        code.as_ref(),
        &display_name,
        display_name_en.as_deref(),
    )
    .await?;
    events::hierarchy_changed(
        &mut transaction,
        &name_of(code),
        DivisionChange::Updated,
        row.update_time,
    )
    .await?;
    finish(transaction, access, CONTEXT).await?;
    Ok(row)
}

/// An upsert's create: a concurrent creator may win, whose row is returned.
async fn create_or_read(
    blocks: &Blocks,
    access: &Access,
    district: NewDistrict,
) -> Result<DistrictRow, Error> {
    let code = district.code;
    match create(blocks, access, district).await {
        Err(Error::AlreadyExists(_)) => get(blocks, code).await,
        other => other,
    }
}

pub async fn delete(blocks: &Blocks, access: &Access, code: DistrictCode) -> Result<(), Error> {
    const CONTEXT: &str = "deleting a district";
    let code_text = code.to_string();
    require_division(access, &code_text)?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    store::hierarchy::get_district(&mut transaction, &code_text, true)
        .await?
        .ok_or_else(|| not_found(code))?;
    let children = store::hierarchy::count_subdistricts_of(&mut transaction, &code_text).await?;
    if children > 0 {
        return Err(Error::FailedPrecondition(format!(
            "district {code} still has {children} subdistrict(s); delete them first"
        )));
    }
    store::hierarchy::delete_district(&mut transaction, &code_text).await?;
    events::hierarchy_changed(
        &mut transaction,
        &name_of(code),
        DivisionChange::Deleted,
        blocks.clock.now(),
    )
    .await?;
    finish(transaction, access, CONTEXT).await
}
