//! Boundary generations and their blocks.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, StoreError};
use uuid::Uuid;

/// A generation as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GenerationRow {
    pub id: Uuid,
    pub state: String,
    pub description: String,
    pub block_count: i32,
    pub total_households: i64,
    pub create_time: DateTime<Utc>,
    pub created_by: String,
    pub activate_time: Option<DateTime<Utc>>,
    pub retire_time: Option<DateTime<Utc>>,
    pub previous_generation: Option<Uuid>,
    pub base_generation: Option<Uuid>,
    pub scope_subdistricts: Vec<String>,
    /// The subdistricts its blocks lie in (kept when a draft is discarded).
    pub subdistricts_covered: Vec<String>,
}

/// A block as stored; `geometry` only when it was asked for.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BlockRow {
    pub generation_id: Uuid,
    pub code: String,
    pub display_name: String,
    pub households: i64,
    pub community_code: String,
    pub subdistrict_code: String,
    pub area_m2: f64,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub geometry: Option<Vec<u8>>,
}

/// A block to insert into a draft.
#[derive(Debug, Clone)]
pub struct NewBlock {
    pub code: String,
    pub display_name: String,
    pub households: i64,
    pub community_code: String,
    pub subdistrict_code: String,
    pub geometry: Vec<u8>,
    pub area_m2: f64,
}

/// A draft's header.
#[derive(Debug, Clone)]
pub struct NewGeneration {
    pub id: Uuid,
    pub description: String,
    pub created_by: String,
    pub base_generation: Option<Uuid>,
    pub scope_subdistricts: Vec<String>,
}

pub async fn get_generation(
    connection: &mut PgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Option<GenerationRow>, StoreError> {
    let query = if for_update {
        "select id, state, description, block_count, total_households, create_time, created_by,
                activate_time, retire_time, previous_generation, base_generation, scope_subdistricts,
                subdistricts_covered
         from generations where id = $1 for update"
    } else {
        "select id, state, description, block_count, total_households, create_time, created_by,
                activate_time, retire_time, previous_generation, base_generation, scope_subdistricts,
                subdistricts_covered
         from generations where id = $1"
    };
    sqlx::query_as(query)
        .bind(id)
        .fetch_optional(connection)
        .await
        .context("reading a generation")
}

/// Which generations a list shows a caller.
#[derive(Debug, Clone, Default)]
pub struct GenerationFilter {
    /// Only this state.
    pub state: Option<&'static str>,
    /// `LIKE` patterns of the places the caller reaches (`None`: everywhere):
    /// a generation shows when one of the subdistricts it concerns matches.
    pub reached: Option<Vec<String>>,
    /// Drafts (and discarded drafts) show too: the caller is an administrator.
    pub drafts: bool,
}

/// Generations newest first (ids are UUIDv7, so id order is creation
/// order). A generation that was in force concerns every subdistrict it
/// covers; a draft those its import supplied (its scope, or all it covers).
pub async fn list_generations(
    connection: &mut PgConnection,
    filter: &GenerationFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GenerationRow>, StoreError> {
    sqlx::query_as(
        "select id, state, description, block_count, total_households, create_time, created_by,
                activate_time, retire_time, previous_generation, base_generation, scope_subdistricts,
                subdistricts_covered
         from generations
         where ($1::text is null or state = $1) and ($2::uuid is null or id < $2)
           and (state in ('active', 'retired') or $5)
           and ($4::text[] is null or exists (
                 select 1 from unnest(case when state in ('draft', 'discarded')
                                                and cardinality(scope_subdistricts) > 0
                                           then scope_subdistricts
                                           else subdistricts_covered end) as concerned(code)
                 where concerned.code like any($4)))
         order by id desc limit $3",
    )
    .bind(filter.state)
    .bind(before)
    .bind(limit)
    .bind(&filter.reached)
    .bind(filter.drafts)
    .fetch_all(connection)
    .await
        .context("listing generations")
}

/// The generation in force at `at` (activated at or before it, not retired by then).
pub async fn generation_at(
    connection: &mut PgConnection,
    at: DateTime<Utc>,
) -> Result<Option<GenerationRow>, StoreError> {
    sqlx::query_as(
        "select id, state, description, block_count, total_households, create_time, created_by,
                activate_time, retire_time, previous_generation, base_generation, scope_subdistricts,
                subdistricts_covered
         from generations
         where activate_time <= $1 and (retire_time is null or retire_time > $1)
         order by activate_time desc limit 1",
    )
    .bind(at)
    .fetch_optional(connection)
    .await
        .context("finding the generation in force then")
}

/// Every generation that was ever in force: (id, activated, retired), oldest first.
pub async fn timeline(
    connection: &mut PgConnection,
) -> Result<Vec<(Uuid, DateTime<Utc>, Option<DateTime<Utc>>)>, StoreError> {
    sqlx::query_as(
        "select id, activate_time, retire_time from generations
         where activate_time is not null order by activate_time",
    )
    .fetch_all(connection)
    .await
    .context("reading the generation timeline")
}

pub async fn insert_generation(
    connection: &mut PgConnection,
    generation: &NewGeneration,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into generations (id, state, description, block_count, total_households, created_by,
                                  base_generation, scope_subdistricts)
         values ($1, 'draft', $2, 0, 0, $3, $4, $5)",
    )
    .bind(generation.id)
    .bind(&generation.description)
    .bind(&generation.created_by)
    .bind(generation.base_generation)
    .bind(&generation.scope_subdistricts)
    .execute(connection)
    .await.context("recording a new generation")?;
    Ok(())
}

pub async fn insert_blocks(
    connection: &mut PgConnection,
    generation_id: Uuid,
    blocks: &[NewBlock],
) -> Result<(), StoreError> {
    for chunk in blocks.chunks(super::INSERT_CHUNK) {
        let codes: Vec<&str> = chunk.iter().map(|block| block.code.as_str()).collect();
        let names: Vec<&str> = chunk
            .iter()
            .map(|block| block.display_name.as_str())
            .collect();
        let households: Vec<i64> = chunk.iter().map(|block| block.households).collect();
        let communities: Vec<&str> = chunk
            .iter()
            .map(|block| block.community_code.as_str())
            .collect();
        let subdistricts: Vec<&str> = chunk
            .iter()
            .map(|block| block.subdistrict_code.as_str())
            .collect();
        let geometries: Vec<&[u8]> = chunk
            .iter()
            .map(|block| block.geometry.as_slice())
            .collect();
        let areas: Vec<f64> = chunk.iter().map(|block| block.area_m2).collect();
        sqlx::query(
            "insert into generation_blocks (generation_id, code, display_name, households, community_code,
                                            subdistrict_code, geometry, area_m2)
             select $1, * from unnest($2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::bytea[], $8::float8[])",
        )
        .bind(generation_id)
        .bind(&codes)
        .bind(&names)
        .bind(&households)
        .bind(&communities)
        .bind(&subdistricts)
        .bind(&geometries)
        .bind(&areas)
        .execute(&mut *connection)
        .await.context("writing blocks")?;
    }
    Ok(())
}

/// Copies the blocks of `from` that lie outside the `scope` subdistricts into `to`.
pub async fn copy_blocks_outside(
    connection: &mut PgConnection,
    from: Uuid,
    to: Uuid,
    scope: &[String],
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "insert into generation_blocks (generation_id, code, display_name, households, community_code,
                                        subdistrict_code, geometry, area_m2)
         select $2, code, display_name, households, community_code, subdistrict_code, geometry, area_m2
         from generation_blocks where generation_id = $1 and not (subdistrict_code = any($3))",
    )
    .bind(from)
    .bind(to)
    .bind(scope)
    .execute(connection)
    .await.context("copying blocks from the active generation")?
    .rows_affected())
}

/// Recounts a generation's blocks, households and subdistricts after its
/// blocks were written.
pub async fn update_counts(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<GenerationRow, StoreError> {
    sqlx::query(
        "update generations g set block_count = c.blocks, total_households = c.households,
                subdistricts_covered = c.subdistricts
         from (select count(*)::int4 as blocks, coalesce(sum(households), 0)::int8 as households,
                      coalesce(array_agg(distinct subdistrict_code order by subdistrict_code)
                               filter (where subdistrict_code is not null), '{}') as subdistricts
               from generation_blocks where generation_id = $1) c
         where g.id = $1",
    )
    .bind(id)
    .execute(&mut *connection)
    .await
    .context("counting a generation's blocks")?;
    get_generation(connection, id, false)
        .await
        .context("counting a generation's blocks")?
        .ok_or(StoreError {
            context: "counting a generation's blocks",
            source: sqlx::Error::RowNotFound,
        })
}

/// Which blocks of a generation a read wants.
#[derive(Debug, Clone, Copy)]
pub struct BlockFilter<'a> {
    /// Only codes starting with this (a district, subdistrict or community
    /// code); empty for all.
    pub prefix: &'a str,
    /// Only codes matching one of these `LIKE` patterns (the places the
    /// caller reaches); `None` for everywhere.
    pub reached: Option<&'a [String]>,
}

impl<'a> BlockFilter<'a> {
    /// Every block under `prefix`.
    pub fn under(prefix: &'a str) -> Self {
        Self {
            prefix,
            reached: None,
        }
    }
}

/// Blocks of a generation the filter keeps, in code order after `after`.
pub async fn list_blocks(
    connection: &mut PgConnection,
    generation_id: Uuid,
    filter: BlockFilter<'_>,
    after: Option<&str>,
    limit: i64,
    with_geometry: bool,
) -> Result<Vec<BlockRow>, StoreError> {
    sqlx::query_as(
        "select generation_id, code, display_name, households, community_code, subdistrict_code, area_m2,
                valid_from, valid_to, case when $5 then geometry end as geometry
         from generation_blocks
         where generation_id = $1 and code like $2 || '%' and ($3::text is null or code > $3)
           and ($6::text[] is null or code like any($6))
         order by code limit $4",
    )
    .bind(generation_id)
    .bind(filter.prefix)
    .bind(after)
    .bind(limit)
    .bind(with_geometry)
    .bind(filter.reached)
    .fetch_all(connection)
    .await
        .context("listing blocks")
}

pub async fn count_blocks(
    connection: &mut PgConnection,
    generation_id: Uuid,
    filter: BlockFilter<'_>,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "select count(*) from generation_blocks
         where generation_id = $1 and code like $2 || '%' and ($3::text[] is null or code like any($3))",
    )
    .bind(generation_id)
    .bind(filter.prefix)
    .bind(filter.reached)
    .fetch_one(connection)
    .await
        .context("counting blocks")
}

/// Every block of a generation with its geometry, in code order.
pub async fn all_blocks(
    connection: &mut PgConnection,
    generation_id: Uuid,
) -> Result<Vec<BlockRow>, StoreError> {
    list_blocks(
        connection,
        generation_id,
        BlockFilter::under(""),
        None,
        i64::MAX,
        true,
    )
    .await
    .context("reading a generation's blocks")
}

pub async fn get_block(
    connection: &mut PgConnection,
    generation_id: Uuid,
    code: &str,
    with_geometry: bool,
) -> Result<Option<BlockRow>, StoreError> {
    sqlx::query_as(
        "select generation_id, code, display_name, households, community_code, subdistrict_code, area_m2,
                valid_from, valid_to, case when $3 then geometry end as geometry
         from generation_blocks where generation_id = $1 and code = $2",
    )
    .bind(generation_id)
    .bind(code)
    .bind(with_geometry)
    .fetch_optional(connection)
    .await
        .context("reading a block")
}

/// The latest generation that was in force and held `code`: (generation, its block's valid_to).
pub async fn last_generation_with_block(
    connection: &mut PgConnection,
    code: &str,
) -> Result<Option<(Uuid, Option<DateTime<Utc>>)>, StoreError> {
    sqlx::query_as(
        "select b.generation_id, b.valid_to from generation_blocks b join generations g on g.id = b.generation_id
         where b.code = $1 and g.activate_time is not null
         order by g.activate_time desc limit 1",
    )
    .bind(code)
    .fetch_optional(connection)
    .await
        .context("finding where a block was last")
}

/// Puts a generation in force.
pub async fn mark_active(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    previous: Option<Uuid>,
) -> Result<(), StoreError> {
    sqlx::query(
        "update generations set state = 'active', activate_time = $2, previous_generation = $3 where id = $1",
    )
    .bind(id)
    .bind(at)
    .bind(previous)
    .execute(connection)
    .await.context("putting a generation in force")?;
    Ok(())
}

pub async fn mark_retired(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("update generations set state = 'retired', retire_time = $2 where id = $1")
        .bind(id)
        .bind(at)
        .execute(connection)
        .await
        .context("retiring a generation")?;
    Ok(())
}

/// Marks a draft discarded and drops its blocks and teams (the header stays,
/// so a retried import with its request id still finds it, and it stays
/// visible to the administrators it concerned).
pub async fn discard(connection: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("delete from generation_blocks where generation_id = $1")
        .bind(id)
        .execute(&mut *connection)
        .await
        .context("discarding a draft")?;
    sqlx::query("update generations set state = 'discarded' where id = $1")
        .bind(id)
        .execute(connection)
        .await
        .context("discarding a draft")?;
    Ok(())
}

/// Sets when each block of a newly active generation took its shape.
pub async fn set_valid_from(
    connection: &mut PgConnection,
    generation_id: Uuid,
    codes: &[String],
    valid_from: &[DateTime<Utc>],
) -> Result<(), StoreError> {
    for (code_chunk, time_chunk) in codes
        .chunks(super::INSERT_CHUNK)
        .zip(valid_from.chunks(super::INSERT_CHUNK))
    {
        sqlx::query(
            "update generation_blocks b set valid_from = u.valid_from
             from unnest($2::text[], $3::timestamptz[]) as u(code, valid_from)
             where b.generation_id = $1 and b.code = u.code",
        )
        .bind(generation_id)
        .bind(code_chunk)
        .bind(time_chunk)
        .execute(&mut *connection)
        .await
        .context("dating blocks")?;
    }
    Ok(())
}

/// Ends the validity of `codes` in every earlier generation where it is still open.
pub async fn close_validity(
    connection: &mut PgConnection,
    new_generation: Uuid,
    codes: &[String],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "update generation_blocks set valid_to = $3
         where code = any($2) and valid_to is null and valid_from is not null and generation_id <> $1",
    )
    .bind(new_generation)
    .bind(codes)
    .bind(at)
    .execute(connection)
    .await.context("ending blocks' validity")?;
    Ok(())
}

/// The stored geometry of `codes` in a generation, keyed by code.
pub async fn geometries(
    connection: &mut PgConnection,
    generation_id: Uuid,
    codes: &[String],
) -> Result<std::collections::HashMap<String, Vec<u8>>, StoreError> {
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "select code, geometry from generation_blocks where generation_id = $1 and code = any($2)",
    )
    .bind(generation_id)
    .bind(codes)
    .fetch_all(connection)
    .await
    .context("reading block geometry")?;
    Ok(rows.into_iter().collect())
}
