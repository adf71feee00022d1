//! The staff roster.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, StoreError};
use uuid::Uuid;

/// A staff member as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StaffRow {
    pub id: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub unit: Option<String>,
    pub division_code: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// The values a write sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffValues {
    pub id: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub unit: Option<String>,
    pub division_code: Option<String>,
}

impl StaffRow {
    /// The row's values, to compare with a requested change.
    pub fn values(&self) -> StaffValues {
        StaffValues {
            id: self.id.clone(),
            display_name: self.display_name.clone(),
            phone: self.phone.clone(),
            unit: self.unit.clone(),
            division_code: self.division_code.clone(),
        }
    }
}

pub async fn get_staff(
    connection: &mut PgConnection,
    id: &str,
    for_update: bool,
) -> Result<Option<StaffRow>, StoreError> {
    let query = if for_update {
        "select id, display_name, phone, unit, division_code, create_time, update_time from staff where id = $1 for update"
    } else {
        "select id, display_name, phone, unit, division_code, create_time, update_time from staff where id = $1"
    };
    sqlx::query_as(query)
        .bind(id)
        .fetch_optional(connection)
        .await
        .context("reading a staff member")
}

/// The staff among `ids`, keyed by id.
pub async fn staff_by_ids(
    connection: &mut PgConnection,
    ids: &[String],
) -> Result<HashMap<String, StaffRow>, StoreError> {
    let rows: Vec<StaffRow> = sqlx::query_as(
        "select id, display_name, phone, unit, division_code, create_time, update_time from staff where id = any($1)",
    )
    .bind(ids)
    .fetch_all(connection)
    .await.context("reading staff")?;
    Ok(rows.into_iter().map(|row| (row.id.clone(), row)).collect())
}

/// Which of `ids` are on the roster.
pub async fn existing_staff(
    connection: &mut PgConnection,
    ids: &[String],
) -> Result<HashSet<String>, StoreError> {
    let found: Vec<String> = sqlx::query_scalar("select id from staff where id = any($1)")
        .bind(ids)
        .fetch_all(connection)
        .await
        .context("checking the roster")?;
    Ok(found.into_iter().collect())
}

/// Who a roster list is narrowed to: everyone, or the staff a place-limited
/// caller reaches.
#[derive(Debug, Clone, Default)]
pub struct RosterReach {
    /// `LIKE` patterns (`430302001%`) of the places reached; `None` when the
    /// caller's reach is not limited by place.
    pub place_patterns: Option<Vec<String>>,
    /// The caller's own staff id, when their own record is reached.
    pub own_id: Option<String>,
    /// Staff without a place (no division, on no team) are reached too.
    pub placeless: bool,
}

/// Staff whose division lies under `division_prefix` (all when empty) and
/// whom `reach` reaches (by their division, a block they serve on in the
/// active generation or a draft, as the caller themself, or having no place
/// at all), in id order.
pub async fn list_staff(
    connection: &mut PgConnection,
    division_prefix: &str,
    reach: &RosterReach,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<StaffRow>, StoreError> {
    sqlx::query_as(
        "with served as (
             select t.governor as staff_id, t.block_code from block_teams t
             join generations g on g.id = t.generation_id where g.state in ('active', 'draft')
             union all
             select t.supervisor, t.block_code from block_teams t
             join generations g on g.id = t.generation_id where g.state in ('active', 'draft')
             union all
             select a.staff_id, a.block_code from block_team_assistants a
             join generations g on g.id = a.generation_id where g.state in ('active', 'draft'))
         select s.id, s.display_name, s.phone, s.unit, s.division_code, s.create_time, s.update_time
         from staff s
         where ($1 = '' or s.division_code like $1 || '%') and ($2::text is null or s.id > $2)
           and ($4::text[] is null
                or s.id = $5
                or s.division_code like any($4)
                or exists (select 1 from served where served.staff_id = s.id
                                                  and served.block_code like any($4))
                or ($6 and s.division_code is null
                       and not exists (select 1 from served where served.staff_id = s.id)))
         order by s.id limit $3",
    )
    .bind(division_prefix)
    .bind(after)
    .bind(limit)
    .bind(&reach.place_patterns)
    .bind(&reach.own_id)
    .bind(reach.placeless)
    .fetch_all(connection)
    .await
    .context("listing staff")
}

/// Where each of `ids` works: the division they work for, then the blocks
/// they serve on in the active generation or a draft (the places that decide
/// who reaches them and who sees their phone).
pub async fn places_of(
    connection: &mut PgConnection,
    rows: &[&StaffRow],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut places: HashMap<String, Vec<String>> = rows
        .iter()
        .map(|row| (row.id.clone(), row.division_code.iter().cloned().collect()))
        .collect();
    if rows.is_empty() {
        return Ok(places);
    }
    let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    for (id, _, block) in serving_blocks(connection, &ids)
        .await
        .context("reading where staff serve")?
    {
        let entry = places.entry(id).or_default();
        if !entry.contains(&block) {
            entry.push(block);
        }
    }
    Ok(places)
}

/// Inserts a staff member; `None` when the id is taken.
pub async fn insert_staff(
    connection: &mut PgConnection,
    values: &StaffValues,
) -> Result<Option<StaffRow>, StoreError> {
    sqlx::query_as(
        "insert into staff (id, display_name, phone, unit, division_code)
         values ($1, $2, $3, $4, $5)
         on conflict do nothing
         returning id, display_name, phone, unit, division_code, create_time, update_time",
    )
    .bind(&values.id)
    .bind(&values.display_name)
    .bind(&values.phone)
    .bind(&values.unit)
    .bind(&values.division_code)
    .fetch_optional(connection)
    .await
    .context("creating a staff member")
}

pub async fn update_staff(
    connection: &mut PgConnection,
    values: &StaffValues,
) -> Result<StaffRow, StoreError> {
    sqlx::query_as(
        "update staff set display_name = $2, phone = $3, unit = $4, division_code = $5, update_time = now()
         where id = $1
         returning id, display_name, phone, unit, division_code, create_time, update_time",
    )
    .bind(&values.id)
    .bind(&values.display_name)
    .bind(&values.phone)
    .bind(&values.unit)
    .bind(&values.division_code)
    .fetch_one(connection)
    .await
        .context("updating a staff member")
}

/// What an upsert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// Ids of the staff created.
    pub created: Vec<String>,
    /// Ids of the staff whose values changed.
    pub updated: Vec<String>,
    /// How many were already as given.
    pub unchanged: usize,
}

/// Inserts and updates many staff members in two statements; rows equal to
/// what is stored are left alone.
pub async fn upsert_staff(
    connection: &mut PgConnection,
    staff: &[StaffValues],
) -> Result<UpsertOutcome, StoreError> {
    let ids: Vec<String> = staff.iter().map(|member| member.id.clone()).collect();
    let existing: Vec<StaffRow> = sqlx::query_as(
        "select id, display_name, phone, unit, division_code, create_time, update_time from staff
         where id = any($1) order by id for update",
    )
    .bind(&ids)
    .fetch_all(&mut *connection)
    .await
    .context("importing staff")?;
    let existing: HashMap<String, StaffValues> = existing
        .into_iter()
        .map(|row| (row.id.clone(), row.values()))
        .collect();
    let mut created = Vec::new();
    let mut updated = Vec::new();
    let mut unchanged = 0;
    for member in staff {
        match existing.get(&member.id) {
            None => created.push(member),
            Some(stored) if stored == member => unchanged += 1,
            Some(_) => updated.push(member),
        }
    }
    for chunk in created.chunks(super::INSERT_CHUNK) {
        let columns = Columns::of(chunk);
        sqlx::query(
            "insert into staff (id, display_name, phone, unit, division_code)
             select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])",
        )
        .bind(&columns.ids)
        .bind(&columns.names)
        .bind(&columns.phones)
        .bind(&columns.units)
        .bind(&columns.divisions)
        .execute(&mut *connection)
        .await
        .context("importing staff")?;
    }
    for chunk in updated.chunks(super::INSERT_CHUNK) {
        let columns = Columns::of(chunk);
        sqlx::query(
            "update staff set display_name = u.display_name, phone = u.phone, unit = u.unit,
                    division_code = u.division_code, update_time = now()
             from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                  as u(id, display_name, phone, unit, division_code)
             where staff.id = u.id",
        )
        .bind(&columns.ids)
        .bind(&columns.names)
        .bind(&columns.phones)
        .bind(&columns.units)
        .bind(&columns.divisions)
        .execute(&mut *connection)
        .await
        .context("importing staff")?;
    }
    Ok(UpsertOutcome {
        created: created.iter().map(|member| member.id.clone()).collect(),
        updated: updated.iter().map(|member| member.id.clone()).collect(),
        unchanged,
    })
}

/// Staff values as parallel arrays for `unnest`.
struct Columns {
    ids: Vec<String>,
    names: Vec<String>,
    phones: Vec<Option<String>>,
    units: Vec<Option<String>>,
    divisions: Vec<Option<String>>,
}

impl Columns {
    fn of(staff: &[&StaffValues]) -> Self {
        Self {
            ids: staff.iter().map(|member| member.id.clone()).collect(),
            names: staff
                .iter()
                .map(|member| member.display_name.clone())
                .collect(),
            phones: staff.iter().map(|member| member.phone.clone()).collect(),
            units: staff.iter().map(|member| member.unit.clone()).collect(),
            divisions: staff
                .iter()
                .map(|member| member.division_code.clone())
                .collect(),
        }
    }
}

pub async fn delete_staff(connection: &mut PgConnection, id: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query("delete from staff where id = $1")
        .bind(id)
        .execute(connection)
        .await
        .context("deleting a staff member")?
        .rows_affected())
}

/// For each of `ids`, the blocks whose team in the active generation or a
/// draft includes the person: (staff id, generation, block code).
pub async fn serving_blocks(
    connection: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<(String, Uuid, String)>, StoreError> {
    sqlx::query_as(
        "select s.id, t.generation_id, t.block_code
         from block_teams t join generations g on g.id = t.generation_id
              join unnest($1::text[]) as s(id) on s.id in (t.governor, t.supervisor)
         where g.state in ('active', 'draft')
         union
         select a.staff_id, a.generation_id, a.block_code
         from block_team_assistants a join generations g on g.id = a.generation_id
         where g.state in ('active', 'draft') and a.staff_id = any($1)
         order by 1, 2, 3",
    )
    .bind(ids)
    .fetch_all(connection)
    .await
    .context("reading the teams staff serve on")
}
