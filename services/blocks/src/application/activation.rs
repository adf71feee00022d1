//! ActivateGeneration: a draft comes into force atomically, replacing the
//! active generation (which stays queryable by time).
//!
//! In one transaction, under the registry revision's lock: the draft is
//! validated again with the configured settings (refused while errors
//! remain), blocks are dated (`valid_from` kept for unchanged shapes),
//! teams of codes in both generations are carried over unless the draft set
//! one, the team history is appended to, the previous generation retires,
//! and `BlockGenerationActivated` plus a `BlockTeamChanged` per new or
//! changed team go to the outbox.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use flatgov_auth::policy::Access;
use geo::MultiPolygon;

use super::generations::{
    SeenGeneration, named_generation, require_visible, require_whole, seen, validate_stored,
};
use super::{Blocks, finish};
use crate::domain::changes::{ChangeKind, diff_generations};
use crate::domain::codec;
use crate::domain::team::Team;
use crate::domain::validation::{Severity, ValidationReport};
use crate::error::{Error, Refusal};
use crate::events;
use crate::reach::{StaffReach, require_division};
use crate::resources::{GenerationRef, generation_name};
use crate::store;
use crate::store::generations::BlockRow;
use flatgov_vocabulary::BlockCode;

const CONTEXT: &str = "activating a generation";

fn refusals(report: &ValidationReport) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let subdistrict_findings = report.subdistricts.iter().flat_map(|subdistrict| {
        subdistrict
            .findings
            .iter()
            .map(move |finding| (Some(subdistrict.code), finding))
    });
    let general = report
        .general_findings
        .iter()
        .map(|finding| (None, finding));
    for (subdistrict, finding) in subdistrict_findings.chain(general) {
        if finding.severity() != Severity::Error {
            continue;
        }
        let subject = match (finding.blocks().first(), subdistrict) {
            (Some(block), _) => format!("blocks/{block}"),
            (None, Some(subdistrict)) => format!("subdistricts/{subdistrict}"),
            (None, None) => String::new(),
        };
        refusals.push(Refusal {
            kind: finding.kind().as_str().to_owned(),
            subject,
            description: finding.to_string(),
        });
    }
    refusals
}

pub async fn activate(
    blocks: &Blocks,
    access: &Access,
    reference: GenerationRef,
) -> Result<SeenGeneration, Error> {
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let state = store::state::lock(&mut transaction).await?;
    let generation = named_generation(&mut transaction, reference, true).await?;
    let reached = require_visible(&StaffReach::of(access), &generation)?;
    let name = generation_name(generation.id);
    access.audit().resource(name.clone());
    match generation.state.as_str() {
        "draft" => require_whole(reached, &generation)?,
        "active" => return Ok(seen(access, generation)),
        other => {
            return Err(Error::FailedPrecondition(format!(
                "{name} is {other}; only a draft can be activated (import the blocks again to restore it)"
            )));
        }
    }
    if let Some(base) = generation.base_generation
        && state.active_generation != Some(base)
    {
        return Err(Error::FailedPrecondition(format!(
            "{name} is a partial import based on {}, which is no longer in force; import it again",
            generation_name(base)
        )));
    }
    let (report, new_rows) = validate_stored(
        &mut transaction,
        &generation,
        state.active_generation,
        blocks.validation.clone(),
    )
    .await?;
    // Activation replaces the whole map: every block of the new generation
    // (copied ones included) must lie in the caller's jurisdiction.
    for block in &new_rows {
        require_division(access, &block.code)?;
    }
    if report.has_errors() {
        return Err(Error::ActivationRefused {
            generation: name,
            refusals: refusals(&report),
        });
    }

    let previous = match state.active_generation {
        Some(id) => Some(
            store::generations::get_generation(&mut transaction, id, true)
                .await?
                .ok_or_else(|| Error::internal(CONTEXT, "active generation row missing"))?,
        ),
        None => None,
    };
    let previous_rows = match &previous {
        Some(previous) => store::generations::all_blocks(&mut transaction, previous.id).await?,
        None => Vec::new(),
    };
    let tolerance = blocks.validation.area_tolerance_m2;
    let old_geometries = geometries_by_code(&previous_rows)?;
    let new_geometries = geometries_by_code(&new_rows)?;
    let changes = tokio::task::spawn_blocking(move || {
        diff_generations(&old_geometries, &new_geometries, tolerance)
    })
    .await
    .map_err(|error| Error::internal("comparing generations", error))?;

    // Never earlier than the previous activation, whatever this replica's clock says.
    let now = match previous
        .as_ref()
        .and_then(|previous| previous.activate_time)
    {
        Some(last) => blocks.clock.now().max(last + Duration::microseconds(1)),
        None => blocks.clock.now(),
    };
    let revision = state.revision + 1;
    let changed: HashSet<String> = changes
        .iter()
        .filter(|change| change.kind != ChangeKind::Created)
        .map(|change| change.code.to_string())
        .collect();
    let previous_valid_from: HashMap<&str, Option<DateTime<Utc>>> = previous_rows
        .iter()
        .map(|row| (row.code.as_str(), row.valid_from))
        .collect();
    let codes: Vec<String> = new_rows.iter().map(|row| row.code.clone()).collect();
    let valid_from: Vec<DateTime<Utc>> = new_rows
        .iter()
        .map(|row| {
            if changed.contains(&row.code) {
                return now;
            }
            previous_valid_from
                .get(row.code.as_str())
                .copied()
                .flatten()
                .unwrap_or(now)
        })
        .collect();
    store::generations::set_valid_from(&mut transaction, generation.id, &codes, &valid_from)
        .await?;
    let ended: Vec<String> = changed.iter().cloned().collect();
    store::generations::close_validity(&mut transaction, generation.id, &ended, now).await?;

    // Teams: the draft's own, else carried over from the same code in force.
    let previous_teams = match &previous {
        Some(previous) => {
            store::teams::load_teams(&mut transaction, previous.id, None, None).await?
        }
        None => HashMap::new(),
    };
    if let Some(previous) = &previous {
        store::teams::copy_teams(
            &mut transaction,
            previous.id,
            generation.id,
            &codes,
            revision,
        )
        .await?;
    }
    store::teams::set_revision(&mut transaction, generation.id, revision).await?;
    let final_teams = store::teams::load_teams(&mut transaction, generation.id, None, None).await?;
    let mut team_changes: Vec<(String, Team)> = Vec::new();
    for (code, stored) in &final_teams {
        if previous_teams.get(code) != Some(stored) {
            let team = stored
                .to_team()
                .map_err(|detail| Error::internal("reading a stored team", detail))?;
            team_changes.push((code.clone(), team));
        }
    }
    team_changes.sort_by(|first, second| first.0.cmp(&second.0));
    let retired_codes: Vec<String> = changes
        .iter()
        .filter(|change| change.kind == ChangeKind::Retired)
        .map(|change| change.code.to_string())
        .collect();
    // The history is only appended to: retired blocks' teams end, changed
    // teams begin (superseding the entries before them).
    store::teams::end_history(&mut transaction, &retired_codes, now).await?;
    store::teams::open_history(&mut transaction, &team_changes, now).await?;
    if let Some(previous) = &previous {
        store::teams::delete_teams(&mut transaction, previous.id).await?;
        store::generations::mark_retired(&mut transaction, previous.id, now).await?;
    }
    store::generations::mark_active(
        &mut transaction,
        generation.id,
        now,
        previous.as_ref().map(|previous| previous.id),
    )
    .await?;
    events::generation_activated(
        &mut transaction,
        generation.id,
        previous.as_ref().map(|previous| previous.id),
        now,
        &changes,
    )
    .await?;
    for (code, team) in &team_changes {
        let code = BlockCode::parse(code).map_err(|error| Error::internal(CONTEXT, error))?;
        events::team_changed(&mut transaction, code, team, now).await?;
    }
    let bumped = store::state::bump(&mut transaction, Some(generation.id)).await?;
    if bumped != revision {
        return Err(Error::internal(
            CONTEXT,
            format!("revision moved from {revision} to {bumped} under the lock"),
        ));
    }
    finish(transaction, access, CONTEXT).await?;
    tracing::info!(
        generation = %generation.id,
        previous = ?previous.as_ref().map(|previous| previous.id),
        changes = changes.len(),
        teams_changed = team_changes.len(),
        "boundary generation activated"
    );
    if let Err(error) = blocks.snapshot.refresh().await {
        // Committed; the refresher will catch up within one poll interval.
        tracing::warn!(%error, "cannot refresh the lookup snapshot after activation");
    }
    let mut connection = store::connection(&blocks.pool, CONTEXT).await?;
    let row = store::generations::get_generation(&mut connection, generation.id, false)
        .await?
        .ok_or_else(|| Error::internal(CONTEXT, "generation vanished"))?;
    Ok(seen(access, row))
}

fn geometries_by_code(rows: &[BlockRow]) -> Result<BTreeMap<BlockCode, MultiPolygon<f64>>, Error> {
    rows.iter()
        .map(|row| {
            Ok((
                BlockCode::parse(&row.code)
                    .map_err(|error| Error::internal("reading a stored block", error))?,
                codec::decode(row.geometry.as_deref().unwrap_or_default())
                    .map_err(|error| Error::internal("decoding a stored block", error))?,
            ))
        })
        .collect()
}
