//! SetBlockTeam: the 1+N+1 team of a block in force, or on a draft.

use chrono::{Duration, Utc};
use flatgov_auth::Caller;
use flatgov_grpc::error::FieldViolation;
use flatgov_proto::blocks::v1 as api;

use super::convert::{BlockData, block_message, team_from_message};
use super::{RegistryService, require_admin_of};
use crate::error::Error;
use crate::events;
use crate::resources::{self, GenerationRef, generation_name};
use crate::snapshot::BlockRecord;
use crate::store;

pub(super) async fn set_block_team(
    service: &RegistryService,
    caller: &Caller,
    request: api::SetBlockTeamRequest,
) -> Result<api::Block, Error> {
    let code = resources::block("block", &request.block)?;
    require_admin_of(caller, &code.to_string())?;
    let team_message = request
        .team
        .as_ref()
        .ok_or_else(|| Error::invalid("team", "required"))?;
    let team = team_from_message("team", team_message).map_err(Error::InvalidArgument)?;
    let target = if request.generation.is_empty() {
        GenerationRef::Active
    } else {
        resources::generation("generation", &request.generation)?
    };

    let mut transaction = service.begin("setting a team").await?;
    // Changes to teams in force are serialised with activations by this lock.
    let state = store::state::lock(&mut transaction)
        .await
        .map_err(Error::database("setting a team"))?;
    let generation_id = match target {
        GenerationRef::Active => state.active_generation.ok_or_else(|| {
            Error::FailedPrecondition(
                "no boundary generation is in force; set teams on a draft with `generation`".into(),
            )
        })?,
        GenerationRef::Id(id) => id,
    };
    let generation = store::generations::get_generation(&mut transaction, generation_id, true)
        .await
        .map_err(Error::database("setting a team"))?
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", generation_name(generation_id)))
        })?;
    let in_force = match generation.state.as_str() {
        "active" => true,
        "draft" => false,
        other => {
            return Err(Error::FailedPrecondition(format!(
                "{} is {other}; teams can be set only in force or on a draft",
                generation_name(generation_id)
            )));
        }
    };
    let row =
        store::generations::get_block(&mut transaction, generation_id, &code.to_string(), false)
            .await
            .map_err(Error::database("setting a team"))?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "block {code} is not in {}",
                    generation_name(generation_id)
                ))
            })?;
    let member_ids: Vec<String> = team.members().map(ToString::to_string).collect();
    let on_roster = store::staff::existing_staff(&mut transaction, &member_ids)
        .await
        .map_err(Error::database("setting a team"))?;
    let mut violations = Vec::new();
    let mut check = |field: String, id: &str| {
        if !on_roster.contains(id) {
            violations.push(FieldViolation::new(
                field,
                format!("staff {id} is not on the roster; add them with CreateStaff or ImportStaff first"),
            ));
        }
    };
    check("team.governor".into(), team.governor().as_str());
    for (index, assistant) in team.assistants().iter().enumerate() {
        check(
            format!("team.assistants[{index}].staff"),
            assistant.staff.as_str(),
        );
    }
    check("team.supervisor".into(), team.supervisor().as_str());
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }

    let codes = vec![code.to_string()];
    let current = store::teams::load_teams(&mut transaction, generation_id, None, Some(&codes))
        .await
        .map_err(Error::database("setting a team"))?;
    let unchanged = match current.get(&code.to_string()) {
        Some(stored) => {
            stored
                .to_team()
                .map_err(|detail| Error::internal("reading a stored team", detail))?
                == team
        }
        None => false,
    };
    if !unchanged {
        let revision = if in_force { state.revision + 1 } else { 0 };
        store::teams::write_teams(
            &mut transaction,
            generation_id,
            &[(code.to_string(), team.clone())],
            revision,
        )
        .await
        .map_err(Error::database("setting a team"))?;
        if in_force {
            let now = team_change_time(&mut transaction, &code.to_string()).await?;
            store::teams::close_history(&mut transaction, &codes, now)
                .await
                .map_err(Error::database("setting a team"))?;
            store::teams::open_history(&mut transaction, &[(code.to_string(), team.clone())], now)
                .await
                .map_err(Error::database("setting a team"))?;
            events::team_changed(&mut transaction, code, &team, now)
                .await
                .map_err(Error::database("setting a team"))?;
            store::state::bump(&mut transaction, Some(generation_id))
                .await
                .map_err(Error::database("setting a team"))?;
        }
        transaction
            .commit()
            .await
            .map_err(Error::database("setting a team"))?;
        if in_force && let Err(error) = service.registry.refresh().await {
            tracing::warn!(%error, "cannot refresh the lookup snapshot after a team change");
        }
    }
    Ok(block_message(&BlockData {
        generation: generation_id,
        record: BlockRecord::from_row(&row)?,
        team: Some(team),
        geometry_geojson: None,
    }))
}

/// Now, but never before the start of the team's current history entry, so
/// history entries never run backwards whatever this replica's clock says.
async fn team_change_time(
    connection: &mut sqlx::PgConnection,
    code: &str,
) -> Result<chrono::DateTime<Utc>, Error> {
    let started = store::teams::current_history_start(connection, code)
        .await
        .map_err(Error::database("setting a team"))?;
    Ok(match started {
        Some(started) => Utc::now().max(started + Duration::microseconds(1)),
        None => Utc::now(),
    })
}
