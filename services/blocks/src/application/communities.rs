//! Communities (社区): read by anyone, changed by the district administrators
//! whose jurisdiction covers them (and created by an import that names them).

use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;

use super::{Blocks, NameChanges, Page, Paging, finish};
use crate::domain::names::PlaceName;
use crate::error::Error;
use crate::events::{self, DivisionChange};
use crate::reach::require_division;
use crate::store;
use crate::store::hierarchy::CommunityRow;
use flatgov_vocabulary::CommunityCode;

/// A community as a create gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommunity {
    /// Its 12-digit code (the first 9 name its subdistrict).
    pub code: CommunityCode,
    /// Its name.
    pub display_name: PlaceName,
    /// Its English name, if any.
    pub display_name_en: Option<PlaceName>,
}

/// An update, or (with `allow_missing`) the community to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCommunity {
    /// The community updated.
    pub code: CommunityCode,
    /// What changes when it exists.
    pub changes: NameChanges,
    /// With `allow_missing`: the community to create when it does not
    /// exist, or what is wrong with the request as a create.
    pub create: Option<Result<NewCommunity, Vec<FieldViolation>>>,
}

/// A list: the communities under a district or subdistrict code prefix.
#[derive(Debug, Clone)]
pub struct ListCommunities {
    /// The code they lie under, or empty for all.
    pub prefix: String,
    /// Where the page starts.
    pub paging: Paging,
}

fn name_of(code: CommunityCode) -> String {
    format!("communities/{code}")
}

fn not_found(code: CommunityCode) -> Error {
    Error::NotFound(format!("community {code} does not exist"))
}

/// Inserts a community (its subdistrict must exist) and records the event;
/// `None` when the code is taken.
pub(crate) async fn insert(
    connection: &mut sqlx::PgConnection,
    community: &NewCommunity,
) -> Result<Option<CommunityRow>, Error> {
    let code = community.code;
    let subdistrict = code.subdistrict().to_string();
    if store::hierarchy::get_subdistrict(connection, &subdistrict, false)
        .await?
        .is_none()
    {
        return Err(Error::invalid(
            "community.name",
            format!(
                "subdistrict {subdistrict} of community {code} does not exist; create it first"
            ),
        ));
    }
    let row = store::hierarchy::insert_community(
        connection,
        code.as_ref(),
        &subdistrict,
        community.display_name.as_str(),
        community.display_name_en.as_ref().map(PlaceName::as_str),
    )
    .await?;
    if let Some(row) = &row {
        events::hierarchy_changed(
            connection,
            &name_of(code),
            DivisionChange::Created,
            row.create_time,
        )
        .await?;
    }
    Ok(row)
}

pub async fn create(
    blocks: &Blocks,
    access: &Access,
    community: NewCommunity,
) -> Result<CommunityRow, Error> {
    const CONTEXT: &str = "creating a community";
    let code = community.code;
    require_division(access, code.as_ref())?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let row = insert(&mut transaction, &community)
        .await?
        .ok_or_else(|| Error::AlreadyExists(format!("community {code} already exists")))?;
    finish(transaction, access, CONTEXT).await?;
    Ok(row)
}

pub async fn get(blocks: &Blocks, code: CommunityCode) -> Result<CommunityRow, Error> {
    let mut connection = store::connection(&blocks.pool, "reading a community").await?;
    store::hierarchy::get_community(&mut connection, code.as_ref(), false)
        .await?
        .ok_or_else(|| not_found(code))
}

pub async fn list(blocks: &Blocks, list: &ListCommunities) -> Result<Page<CommunityRow>, Error> {
    let mut connection = store::connection(&blocks.pool, "listing communities").await?;
    let rows = store::hierarchy::list_communities(
        &mut connection,
        &list.prefix,
        list.paging.page.after.as_deref(),
        list.paging.page.size.fetch_limit(),
    )
    .await?;
    Ok(list.paging.page_of(rows, |row| row.code.clone()))
}

pub async fn update(
    blocks: &Blocks,
    access: &Access,
    update: UpdateCommunity,
) -> Result<CommunityRow, Error> {
    const CONTEXT: &str = "updating a community";
    let code = update.code;
    require_division(access, code.as_ref())?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let Some(existing) =
        store::hierarchy::get_community(&mut transaction, code.as_ref(), true).await?
    else {
        let Some(create_with) = update.create else {
            return Err(not_found(code));
        };
        let community = create_with?;
        let row = match insert(&mut transaction, &community).await? {
            Some(row) => row,
            None => store::hierarchy::get_community(&mut transaction, code.as_ref(), false)
                .await?
                .ok_or_else(|| not_found(code))?,
        };
        finish(transaction, access, CONTEXT).await?;
        return Ok(row);
    };
    let (display_name, display_name_en) = update
        .changes
        .apply(&existing.display_name, existing.display_name_en.as_deref());
    if display_name == existing.display_name && display_name_en == existing.display_name_en {
        return Ok(existing);
    }
    let row = store::hierarchy::update_community(
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

pub async fn delete(blocks: &Blocks, access: &Access, code: CommunityCode) -> Result<(), Error> {
    const CONTEXT: &str = "deleting a community";
    let code_text = code.to_string();
    require_division(access, &code_text)?;
    access.audit().resource(name_of(code));
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    store::hierarchy::get_community(&mut transaction, &code_text, true)
        .await?
        .ok_or_else(|| not_found(code))?;
    if store::hierarchy::community_in_use(&mut transaction, &code_text).await? {
        return Err(Error::FailedPrecondition(format!(
            "community {code} has blocks in the active generation or a draft; move or retire them first"
        )));
    }
    store::hierarchy::delete_community(&mut transaction, &code_text).await?;
    events::hierarchy_changed(
        &mut transaction,
        &name_of(code),
        DivisionChange::Deleted,
        blocks.clock.now(),
    )
    .await?;
    finish(transaction, access, CONTEXT).await
}
