//! Teams of blocks per generation, and the history of teams in force.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, StoreError};
use uuid::Uuid;

use crate::domain::team::{Assistant, AssistantRole, StaffId, Team, TeamInput};

/// A team as stored, keyed by its block code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTeam {
    pub block_code: String,
    pub governor: String,
    pub supervisor: String,
    /// (staff id, role name) in position order.
    pub assistants: Vec<(String, String)>,
}

impl StoredTeam {
    /// The domain team; an error means the stored data broke the rules it was written under.
    pub fn to_team(&self) -> Result<Team, String> {
        let parse_id = |id: &str| StaffId::parse(id).map_err(|error| error.to_string());
        let mut assistants = Vec::with_capacity(self.assistants.len());
        for (staff, role) in &self.assistants {
            assistants.push(Assistant {
                staff: parse_id(staff)?,
                role: AssistantRole::parse(role)?,
            });
        }
        Team::parse(TeamInput {
            governors: vec![parse_id(&self.governor)?],
            assistants,
            supervisors: vec![parse_id(&self.supervisor)?],
        })
        .map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

#[derive(sqlx::FromRow)]
struct TeamRow {
    block_code: String,
    governor: String,
    supervisor: String,
}

#[derive(sqlx::FromRow)]
struct AssistantRow {
    block_code: String,
    staff_id: String,
    role: String,
}

fn assemble(teams: Vec<TeamRow>, assistants: Vec<AssistantRow>) -> HashMap<String, StoredTeam> {
    let mut stored: HashMap<String, StoredTeam> = teams
        .into_iter()
        .map(|row| {
            (
                row.block_code.clone(),
                StoredTeam {
                    block_code: row.block_code,
                    governor: row.governor,
                    supervisor: row.supervisor,
                    assistants: Vec::new(),
                },
            )
        })
        .collect();
    for assistant in assistants {
        if let Some(team) = stored.get_mut(&assistant.block_code) {
            team.assistants.push((assistant.staff_id, assistant.role));
        }
    }
    stored
}

/// Teams of a generation: all, those written after `since_revision`, or those of `codes`.
pub async fn load_teams(
    connection: &mut PgConnection,
    generation_id: Uuid,
    since_revision: Option<i64>,
    codes: Option<&[String]>,
) -> Result<HashMap<String, StoredTeam>, StoreError> {
    let teams: Vec<TeamRow> = sqlx::query_as(
        "select block_code, governor, supervisor from block_teams
         where generation_id = $1 and ($2::int8 is null or revision > $2)
           and ($3::text[] is null or block_code = any($3))",
    )
    .bind(generation_id)
    .bind(since_revision)
    .bind(codes)
    .fetch_all(&mut *connection)
    .await
    .context("reading teams")?;
    let assistants: Vec<AssistantRow> = sqlx::query_as(
        "select a.block_code, a.staff_id, a.role from block_team_assistants a
         join block_teams t on t.generation_id = a.generation_id and t.block_code = a.block_code
         where a.generation_id = $1 and ($2::int8 is null or t.revision > $2)
           and ($3::text[] is null or a.block_code = any($3))
         order by a.block_code, a.position",
    )
    .bind(generation_id)
    .bind(since_revision)
    .bind(codes)
    .fetch_all(connection)
    .await
    .context("reading teams")?;
    Ok(assemble(teams, assistants))
}

/// Writes teams into a generation, replacing any it has for those blocks.
pub async fn write_teams(
    connection: &mut PgConnection,
    generation_id: Uuid,
    teams: &[(String, Team)],
    revision: i64,
) -> Result<(), StoreError> {
    for chunk in teams.chunks(super::INSERT_CHUNK) {
        let codes: Vec<&str> = chunk.iter().map(|(code, _)| code.as_str()).collect();
        let governors: Vec<&str> = chunk
            .iter()
            .map(|(_, team)| team.governor().as_str())
            .collect();
        let supervisors: Vec<&str> = chunk
            .iter()
            .map(|(_, team)| team.supervisor().as_str())
            .collect();
        sqlx::query("delete from block_teams where generation_id = $1 and block_code = any($2)")
            .bind(generation_id)
            .bind(&codes)
            .execute(&mut *connection)
            .await
            .context("writing teams")?;
        sqlx::query(
            "insert into block_teams (generation_id, block_code, governor, supervisor, revision)
             select $1, * , $5 from unnest($2::text[], $3::text[], $4::text[])",
        )
        .bind(generation_id)
        .bind(&codes)
        .bind(&governors)
        .bind(&supervisors)
        .bind(revision)
        .execute(&mut *connection)
        .await
        .context("writing teams")?;
        let mut assistant_codes = Vec::new();
        let mut assistant_staff = Vec::new();
        let mut assistant_roles = Vec::new();
        let mut positions = Vec::new();
        for (code, team) in chunk {
            for (position, assistant) in team.assistants().iter().enumerate() {
                assistant_codes.push(code.as_str());
                assistant_staff.push(assistant.staff.as_str());
                assistant_roles.push(assistant.role.as_str());
                positions.push(i32::try_from(position).unwrap_or(i32::MAX));
            }
        }
        sqlx::query(
            "insert into block_team_assistants (generation_id, block_code, staff_id, role, position)
             select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::int4[])",
        )
        .bind(generation_id)
        .bind(&assistant_codes)
        .bind(&assistant_staff)
        .bind(&assistant_roles)
        .bind(&positions)
        .execute(&mut *connection)
        .await.context("writing teams")?;
    }
    Ok(())
}

/// Copies the teams of `codes` from one generation to another (where the
/// target has none yet), stamping them with `revision`.
pub async fn copy_teams(
    connection: &mut PgConnection,
    from: Uuid,
    to: Uuid,
    codes: &[String],
    revision: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into block_teams (generation_id, block_code, governor, supervisor, revision, update_time)
         select $2, block_code, governor, supervisor, $4, update_time from block_teams
         where generation_id = $1 and block_code = any($3)
         on conflict do nothing",
    )
    .bind(from)
    .bind(to)
    .bind(codes)
    .bind(revision)
    .execute(&mut *connection)
    .await.context("carrying teams over")?;
    sqlx::query(
        "insert into block_team_assistants (generation_id, block_code, staff_id, role, position)
         select $2, block_code, staff_id, role, position from block_team_assistants
         where generation_id = $1 and block_code = any($3)
         on conflict do nothing",
    )
    .bind(from)
    .bind(to)
    .bind(codes)
    .execute(connection)
    .await
    .context("carrying teams over")?;
    Ok(())
}

/// Stamps every team of a generation with `revision` (when it comes into force).
pub async fn set_revision(
    connection: &mut PgConnection,
    generation_id: Uuid,
    revision: i64,
) -> Result<(), StoreError> {
    sqlx::query("update block_teams set revision = $2 where generation_id = $1")
        .bind(generation_id)
        .bind(revision)
        .execute(connection)
        .await
        .context("stamping teams")?;
    Ok(())
}

/// Drops a retired generation's teams: what was in force stays in the history,
/// and staff who served only in the past can then leave the roster.
pub async fn delete_teams(
    connection: &mut PgConnection,
    generation_id: Uuid,
) -> Result<(), StoreError> {
    sqlx::query("delete from block_teams where generation_id = $1")
        .bind(generation_id)
        .execute(connection)
        .await
        .context("dropping a retired generation's teams")?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    block_code: String,
    /// `None` in an entry that ends the block's team (the block was retired).
    governor: Option<String>,
    supervisor: Option<String>,
    assistants: serde_json::Value,
}

/// The teams of `codes` in force at `at`, from the history: for each block
/// the latest entry from before `at`, unless that entry ended its team.
pub async fn teams_at(
    connection: &mut PgConnection,
    codes: &[String],
    at: DateTime<Utc>,
) -> Result<HashMap<String, StoredTeam>, StoreError> {
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "select distinct on (block_code) block_code, governor, supervisor, assistants
         from block_team_history
         where block_code = any($1) and valid_from <= $2
         order by block_code, valid_from desc, id desc",
    )
    .bind(codes)
    .bind(at)
    .fetch_all(connection)
    .await
    .context("reading past teams")?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let assistants = row
                .assistants
                .as_array()
                .map(|entries| {
                    entries
                        .iter()
                        .filter_map(|entry| {
                            Some((
                                entry.get("staff")?.as_str()?.to_owned(),
                                entry.get("role")?.as_str()?.to_owned(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some((
                row.block_code.clone(),
                StoredTeam {
                    block_code: row.block_code,
                    governor: row.governor?,
                    supervisor: row.supervisor?,
                    assistants,
                },
            ))
        })
        .collect())
}

/// Records that the teams of `codes` ended at `at` (their blocks were
/// retired), for the blocks whose latest entry still has a team.
pub async fn end_history(
    connection: &mut PgConnection,
    codes: &[String],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into block_team_history (block_code, governor, supervisor, assistants, valid_from)
         select latest.block_code, null, null, '[]'::jsonb, $2
         from (select distinct on (block_code) block_code, governor from block_team_history
               where block_code = any($1)
               order by block_code, valid_from desc, id desc) latest
         where latest.governor is not null",
    )
    .bind(codes)
    .bind(at)
    .execute(connection)
    .await
    .context("ending teams in the history")?;
    Ok(())
}

/// Records teams coming into force at `at`; each entry supersedes the
/// block's earlier ones.
pub async fn open_history(
    connection: &mut PgConnection,
    teams: &[(String, Team)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in teams.chunks(super::INSERT_CHUNK) {
        let codes: Vec<&str> = chunk.iter().map(|(code, _)| code.as_str()).collect();
        let governors: Vec<&str> = chunk
            .iter()
            .map(|(_, team)| team.governor().as_str())
            .collect();
        let supervisors: Vec<&str> = chunk
            .iter()
            .map(|(_, team)| team.supervisor().as_str())
            .collect();
        let assistants: Vec<serde_json::Value> = chunk
            .iter()
            .map(|(_, team)| {
                serde_json::Value::Array(
                    team.assistants()
                        .iter()
                        .map(|assistant| {
                            serde_json::json!({"staff": assistant.staff.as_str(), "role": assistant.role.as_str()})
                        })
                        .collect(),
                )
            })
            .collect();
        sqlx::query(
            "insert into block_team_history (block_code, governor, supervisor, assistants, valid_from)
             select *, $5 from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])",
        )
        .bind(&codes)
        .bind(&governors)
        .bind(&supervisors)
        .bind(&assistants)
        .bind(at)
        .execute(&mut *connection)
        .await.context("recording teams in the history")?;
    }
    Ok(())
}

/// When the latest history entry of `code` began, if it has one: a new
/// entry must not start before it.
pub async fn latest_history_start(
    connection: &mut PgConnection,
    code: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar("select max(valid_from) from block_team_history where block_code = $1")
        .bind(code)
        .fetch_one(connection)
        .await
        .context("reading the team history")
}
