//! SetBlockTeam: the 1+N+1 team of a block in force, or on a draft.

use chrono::{DateTime, Duration, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;

use super::blocks::BlockData;
use super::{Blocks, finish, no_such_generation};
use crate::domain::team::Team;
use crate::error::Error;
use crate::events;
use crate::reach::{StaffReach, require_division};
use crate::resources::{GenerationRef, generation_name};
use crate::snapshot::BlockRecord;
use crate::store;
use flatgov_vocabulary::BlockCode;

/// A team for a block: in force now (the active generation), or on a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetBlockTeam {
    pub code: BlockCode,
    pub team: Team,
    pub generation: GenerationRef,
}

/// INVALID_ARGUMENT naming each member who is not on the roster.
async fn require_on_roster(connection: &mut sqlx::PgConnection, team: &Team) -> Result<(), Error> {
    let member_ids: Vec<String> = team.members().map(ToString::to_string).collect();
    let on_roster = store::staff::existing_staff(connection, &member_ids).await?;
    let mut violations = Vec::new();
    let mut check = |field: String, id: &str| {
        if !on_roster.contains(id) {
            violations.push(FieldViolation::new(
                field,
                format!(
                    "staff {id} is not on the roster; add them with CreateStaff or ImportStaff first"
                ),
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
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

/// Now, but never before the start of the block's latest history entry, so
/// history entries never run backwards whatever this replica's clock says.
async fn team_change_time(
    connection: &mut sqlx::PgConnection,
    code: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Error> {
    let started = store::teams::latest_history_start(connection, code).await?;
    Ok(match started {
        Some(started) => now.max(started + Duration::microseconds(1)),
        None => now,
    })
}

pub async fn set(blocks: &Blocks, access: &Access, set: SetBlockTeam) -> Result<BlockData, Error> {
    const CONTEXT: &str = "setting a team";
    let SetBlockTeam {
        code,
        team,
        generation,
    } = set;
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    // Changes to teams in force are serialised with activations by this lock.
    let state = store::state::lock(&mut transaction).await?;
    let generation_id = match generation {
        GenerationRef::Active => state.active_generation.ok_or_else(|| {
            Error::FailedPrecondition(
                "no boundary generation is in force; set teams on a draft with `generation`".into(),
            )
        })?,
        GenerationRef::Id(id) => id,
    };
    let generation = store::generations::get_generation(&mut transaction, generation_id, true)
        .await?
        .ok_or_else(|| no_such_generation(generation_id))?;
    // A block in force is on the public map: an administrator elsewhere may
    // see it but not change it. A draft is seen only by the administrators
    // it concerns, and its blocks only within their jurisdiction.
    let reach = StaffReach::of(access);
    let not_in_generation = || {
        Error::NotFound(format!(
            "block {code} is not in {}",
            generation_name(generation_id)
        ))
    };
    let in_force = match generation.state.as_str() {
        "active" => {
            require_division(access, code.as_ref())?;
            true
        }
        "draft" => {
            if !reach.generation(&generation).is_visible() {
                return Err(no_such_generation(generation_id));
            }
            if !reach.sees_drafts_at(code.as_ref()) {
                return Err(not_in_generation());
            }
            false
        }
        "discarded" if !reach.generation(&generation).is_visible() => {
            return Err(no_such_generation(generation_id));
        }
        other => {
            return Err(Error::FailedPrecondition(format!(
                "{} is {other}; teams can be set only in force or on a draft",
                generation_name(generation_id)
            )));
        }
    };
    access.audit().resource(format!("blocks/{code}"));
    access.audit().resource(generation_name(generation_id));
    let row = store::generations::get_block(&mut transaction, generation_id, code.as_ref(), false)
        .await?
        .ok_or_else(not_in_generation)?;
    require_on_roster(&mut transaction, &team).await?;

    let codes = vec![code.to_string()];
    let current =
        store::teams::load_teams(&mut transaction, generation_id, None, Some(&codes)).await?;
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
        let change = [(code.to_string(), team.clone())];
        store::teams::write_teams(&mut transaction, generation_id, &change, revision).await?;
        if in_force {
            let now = team_change_time(&mut transaction, code.as_ref(), blocks.clock.now()).await?;
            store::teams::open_history(&mut transaction, &change, now).await?;
            events::team_changed(&mut transaction, code, &team, now).await?;
            store::state::bump(&mut transaction, Some(generation_id)).await?;
        }
        finish(transaction, access, CONTEXT).await?;
        if in_force && let Err(error) = blocks.snapshot.refresh().await {
            tracing::warn!(%error, "cannot refresh the lookup snapshot after a team change");
        }
    }
    Ok(BlockData {
        generation: generation_id,
        record: BlockRecord::from_row(&row)?,
        team: Some(team),
    })
}
