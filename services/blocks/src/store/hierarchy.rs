//! Districts, subdistricts and communities.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, StoreError};

/// A district as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DistrictRow {
    pub code: String,
    pub display_name: String,
    pub display_name_en: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// A subdistrict as stored; `boundary` is in the registry's geometry encoding.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SubdistrictRow {
    pub code: String,
    pub district_code: String,
    pub display_name: String,
    pub display_name_en: Option<String>,
    pub boundary: Option<Vec<u8>>,
    pub land_area_m2: Option<f64>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// A community as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CommunityRow {
    pub code: String,
    pub subdistrict_code: String,
    pub display_name: String,
    pub display_name_en: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub async fn get_district(
    connection: &mut PgConnection,
    code: &str,
    for_update: bool,
) -> Result<Option<DistrictRow>, StoreError> {
    let query = if for_update {
        "select code, display_name, display_name_en, create_time, update_time from districts where code = $1 for update"
    } else {
        "select code, display_name, display_name_en, create_time, update_time from districts where code = $1"
    };
    sqlx::query_as(query)
        .bind(code)
        .fetch_optional(connection)
        .await
        .context("reading a district")
}

pub async fn list_districts(
    connection: &mut PgConnection,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<DistrictRow>, StoreError> {
    sqlx::query_as(
        "select code, display_name, display_name_en, create_time, update_time from districts
         where ($1::text is null or code > $1) order by code limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing districts")
}

/// Inserts a district; `None` when the code is taken.
pub async fn insert_district(
    connection: &mut PgConnection,
    code: &str,
    display_name: &str,
    display_name_en: Option<&str>,
) -> Result<Option<DistrictRow>, StoreError> {
    sqlx::query_as(
        "insert into districts (code, display_name, display_name_en) values ($1, $2, $3)
         on conflict (code) do nothing
         returning code, display_name, display_name_en, create_time, update_time",
    )
    .bind(code)
    .bind(display_name)
    .bind(display_name_en)
    .fetch_optional(connection)
    .await
    .context("creating a district")
}

pub async fn update_district(
    connection: &mut PgConnection,
    code: &str,
    display_name: &str,
    display_name_en: Option<&str>,
) -> Result<DistrictRow, StoreError> {
    sqlx::query_as(
        "update districts set display_name = $2, display_name_en = $3, update_time = now() where code = $1
         returning code, display_name, display_name_en, create_time, update_time",
    )
    .bind(code)
    .bind(display_name)
    .bind(display_name_en)
    .fetch_one(connection)
    .await
        .context("updating a district")
}

pub async fn delete_district(connection: &mut PgConnection, code: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query("delete from districts where code = $1")
        .bind(code)
        .execute(connection)
        .await
        .context("deleting a district")?
        .rows_affected())
}

pub async fn count_subdistricts_of(
    connection: &mut PgConnection,
    district_code: &str,
) -> Result<i64, StoreError> {
    sqlx::query_scalar("select count(*) from subdistricts where district_code = $1")
        .bind(district_code)
        .fetch_one(connection)
        .await
        .context("counting a district's subdistricts")
}

pub async fn get_subdistrict(
    connection: &mut PgConnection,
    code: &str,
    for_update: bool,
) -> Result<Option<SubdistrictRow>, StoreError> {
    let query = if for_update {
        "select code, district_code, display_name, display_name_en, boundary, land_area_m2, create_time, update_time
         from subdistricts where code = $1 for update"
    } else {
        "select code, district_code, display_name, display_name_en, boundary, land_area_m2, create_time, update_time
         from subdistricts where code = $1"
    };
    sqlx::query_as(query)
        .bind(code)
        .fetch_optional(connection)
        .await
        .context("reading a subdistrict")
}

/// Subdistricts under `prefix` (a district code or empty) after `after`, with
/// boundaries only when asked for.
pub async fn list_subdistricts(
    connection: &mut PgConnection,
    prefix: &str,
    after: Option<&str>,
    limit: i64,
    with_boundary: bool,
) -> Result<Vec<SubdistrictRow>, StoreError> {
    sqlx::query_as(
        "select code, district_code, display_name, display_name_en,
                case when $4 then boundary end as boundary, land_area_m2, create_time, update_time
         from subdistricts
         where code like $1 || '%' and ($2::text is null or code > $2)
         order by code limit $3",
    )
    .bind(prefix)
    .bind(after)
    .bind(limit)
    .bind(with_boundary)
    .fetch_all(connection)
    .await
    .context("listing subdistricts")
}

/// Every subdistrict with a boundary (what validation measures blocks against).
pub async fn subdistricts_with_boundary(
    connection: &mut PgConnection,
) -> Result<Vec<SubdistrictRow>, StoreError> {
    sqlx::query_as(
        "select code, district_code, display_name, display_name_en, boundary, land_area_m2, create_time, update_time
         from subdistricts where boundary is not null order by code",
    )
    .fetch_all(connection)
    .await
        .context("reading subdistrict boundaries")
}

/// A subdistrict's new values.
#[derive(Debug, Clone, Copy)]
pub struct SubdistrictValues<'a> {
    pub code: &'a str,
    pub district_code: &'a str,
    pub display_name: &'a str,
    pub display_name_en: Option<&'a str>,
    pub boundary: Option<&'a [u8]>,
    pub land_area_m2: Option<f64>,
}

/// Inserts a subdistrict; `None` when the code is taken.
pub async fn insert_subdistrict(
    connection: &mut PgConnection,
    values: SubdistrictValues<'_>,
) -> Result<Option<SubdistrictRow>, StoreError> {
    sqlx::query_as(
        "insert into subdistricts (code, district_code, display_name, display_name_en, boundary, land_area_m2)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (code) do nothing
         returning code, district_code, display_name, display_name_en, boundary, land_area_m2, create_time, update_time",
    )
    .bind(values.code)
    .bind(values.district_code)
    .bind(values.display_name)
    .bind(values.display_name_en)
    .bind(values.boundary)
    .bind(values.land_area_m2)
    .fetch_optional(connection)
    .await
        .context("creating a subdistrict")
}

pub async fn update_subdistrict(
    connection: &mut PgConnection,
    values: SubdistrictValues<'_>,
) -> Result<SubdistrictRow, StoreError> {
    sqlx::query_as(
        "update subdistricts set display_name = $2, display_name_en = $3, boundary = $4, land_area_m2 = $5,
                update_time = now()
         where code = $1
         returning code, district_code, display_name, display_name_en, boundary, land_area_m2, create_time, update_time",
    )
    .bind(values.code)
    .bind(values.display_name)
    .bind(values.display_name_en)
    .bind(values.boundary)
    .bind(values.land_area_m2)
    .fetch_one(connection)
    .await
        .context("updating a subdistrict")
}

pub async fn delete_subdistrict(
    connection: &mut PgConnection,
    code: &str,
) -> Result<u64, StoreError> {
    Ok(sqlx::query("delete from subdistricts where code = $1")
        .bind(code)
        .execute(connection)
        .await
        .context("deleting a subdistrict")?
        .rows_affected())
}

pub async fn count_communities_of(
    connection: &mut PgConnection,
    subdistrict_code: &str,
) -> Result<i64, StoreError> {
    sqlx::query_scalar("select count(*) from communities where subdistrict_code = $1")
        .bind(subdistrict_code)
        .fetch_one(connection)
        .await
        .context("counting a subdistrict's communities")
}

/// Which of `codes` are existing subdistricts.
pub async fn existing_subdistricts(
    connection: &mut PgConnection,
    codes: &[String],
) -> Result<HashSet<String>, StoreError> {
    let found: Vec<String> =
        sqlx::query_scalar("select code from subdistricts where code = any($1)")
            .bind(codes)
            .fetch_all(connection)
            .await
            .context("checking subdistricts")?;
    Ok(found.into_iter().collect())
}

pub async fn get_community(
    connection: &mut PgConnection,
    code: &str,
    for_update: bool,
) -> Result<Option<CommunityRow>, StoreError> {
    let query = if for_update {
        "select code, subdistrict_code, display_name, display_name_en, create_time, update_time
         from communities where code = $1 for update"
    } else {
        "select code, subdistrict_code, display_name, display_name_en, create_time, update_time
         from communities where code = $1"
    };
    sqlx::query_as(query)
        .bind(code)
        .fetch_optional(connection)
        .await
        .context("reading a community")
}

pub async fn list_communities(
    connection: &mut PgConnection,
    prefix: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<CommunityRow>, StoreError> {
    sqlx::query_as(
        "select code, subdistrict_code, display_name, display_name_en, create_time, update_time
         from communities
         where code like $1 || '%' and ($2::text is null or code > $2)
         order by code limit $3",
    )
    .bind(prefix)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing communities")
}

/// Inserts a community; `None` when the code is taken.
pub async fn insert_community(
    connection: &mut PgConnection,
    code: &str,
    subdistrict_code: &str,
    display_name: &str,
    display_name_en: Option<&str>,
) -> Result<Option<CommunityRow>, StoreError> {
    sqlx::query_as(
        "insert into communities (code, subdistrict_code, display_name, display_name_en) values ($1, $2, $3, $4)
         on conflict (code) do nothing
         returning code, subdistrict_code, display_name, display_name_en, create_time, update_time",
    )
    .bind(code)
    .bind(subdistrict_code)
    .bind(display_name)
    .bind(display_name_en)
    .fetch_optional(connection)
    .await
        .context("creating a community")
}

pub async fn update_community(
    connection: &mut PgConnection,
    code: &str,
    display_name: &str,
    display_name_en: Option<&str>,
) -> Result<CommunityRow, StoreError> {
    sqlx::query_as(
        "update communities set display_name = $2, display_name_en = $3, update_time = now() where code = $1
         returning code, subdistrict_code, display_name, display_name_en, create_time, update_time",
    )
    .bind(code)
    .bind(display_name)
    .bind(display_name_en)
    .fetch_one(connection)
    .await
        .context("updating a community")
}

pub async fn delete_community(
    connection: &mut PgConnection,
    code: &str,
) -> Result<u64, StoreError> {
    Ok(sqlx::query("delete from communities where code = $1")
        .bind(code)
        .execute(connection)
        .await
        .context("deleting a community")?
        .rows_affected())
}

/// True when the active generation or a draft has blocks in the community.
pub async fn community_in_use(
    connection: &mut PgConnection,
    code: &str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar(
        "select exists (select 1 from generation_blocks b join generations g on g.id = b.generation_id
                        where b.community_code = $1 and g.state in ('active', 'draft'))",
    )
    .bind(code)
    .fetch_one(connection)
    .await
        .context("checking a community's blocks")
}

/// Names of the communities among `codes`.
pub async fn community_names(
    connection: &mut PgConnection,
    codes: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select code, display_name from communities where code = any($1)")
            .bind(codes)
            .fetch_all(connection)
            .await
            .context("reading community names")?;
    Ok(rows.into_iter().collect())
}
