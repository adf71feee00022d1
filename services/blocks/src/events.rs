//! What the registry publishes (always through the outbox, in the transaction
//! that makes the change) and what it consumes.
//!
//! | subject | message | resource (`ce-subject`) | when |
//! |---|---|---|---|
//! | `flatgov.blocks.block_generation.activated` | `BlockGenerationActivated` | `generations/{id}` | a generation comes into force |
//! | `flatgov.blocks.block_team.changed` | `BlockTeamChanged` | `blocks/{code}` | a team in force changes (SetBlockTeam on the active generation, or an activation bringing a new or different team) |
//! | `flatgov.blocks.hierarchy.changed` | `HierarchyChanged` | `districts/…`, `subdistricts/…`, `communities/…` | a division is created, changed or deleted (also communities an import introduces) |
//!
//! Events carry codes, staff ids, kinds and times — never a name, phone number
//! or unit. A write that changes nothing publishes nothing.
//!
//! Consumed: nothing. The registry depends on no other service; replicas learn
//! of each other's changes through PostgreSQL (see [`crate::snapshot`]).

use chrono::{DateTime, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_proto::blocks::v1::{
    BlockChange, BlockChangeKind, BlockGenerationActivated, BlockSuccessor, BlockTeamChanged,
    HierarchyChangeKind, HierarchyChanged,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::changes::{self, ChangeKind};
use crate::domain::team::Team;
use crate::resources::generation_name;
use crate::store::{Context as _, StoreError};
use flatgov_vocabulary::BlockCode;

/// What happened to a division.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivisionChange {
    Created,
    Updated,
    Deleted,
}

/// Records that a division was created, updated or deleted.
pub async fn hierarchy_changed(
    connection: &mut PgConnection,
    division: &str,
    change: DivisionChange,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let kind = match change {
        DivisionChange::Created => HierarchyChangeKind::Created,
        DivisionChange::Updated => HierarchyChangeKind::Updated,
        DivisionChange::Deleted => HierarchyChangeKind::Deleted,
    };
    let event = HierarchyChanged {
        division: division.to_owned(),
        kind: kind as i32,
        changed_at: Some(timestamp(at)),
    };
    flatgov_messaging::outbox::enqueue(connection, division, &event)
        .await
        .context("recording a hierarchy change for publication")?;
    Ok(())
}

/// Records that a block's team in force changed.
pub async fn team_changed(
    connection: &mut PgConnection,
    code: BlockCode,
    team: &Team,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = BlockTeamChanged {
        block_code: code.to_string(),
        governor: team.governor().to_string(),
        assistants: team
            .assistants()
            .iter()
            .map(|assistant| assistant.staff.to_string())
            .collect(),
        supervisor: team.supervisor().to_string(),
        changed_at: Some(timestamp(at)),
    };
    flatgov_messaging::outbox::enqueue(connection, &format!("blocks/{code}"), &event)
        .await
        .context("recording a team change for publication")?;
    Ok(())
}

/// Records that `generation` came into force, replacing `previous`.
pub async fn generation_activated(
    connection: &mut PgConnection,
    generation: Uuid,
    previous: Option<Uuid>,
    at: DateTime<Utc>,
    block_changes: &[changes::BlockChange],
) -> Result<(), StoreError> {
    let event = BlockGenerationActivated {
        generation: generation_name(generation),
        previous_generation: previous.map(generation_name).unwrap_or_default(),
        activated_at: Some(timestamp(at)),
        changes: block_changes
            .iter()
            .map(|change| BlockChange {
                block_code: change.code.to_string(),
                kind: match change.kind {
                    ChangeKind::Created => BlockChangeKind::Created,
                    ChangeKind::Retired => BlockChangeKind::Retired,
                    ChangeKind::Reshaped => BlockChangeKind::Reshaped,
                } as i32,
                successors: change
                    .successors
                    .iter()
                    .map(|successor| BlockSuccessor {
                        block_code: successor.code.to_string(),
                        shared_area_m2: successor.shared_area_m2,
                    })
                    .collect(),
            })
            .collect(),
    };
    flatgov_messaging::outbox::enqueue(connection, &generation_name(generation), &event)
        .await
        .context("recording an activation for publication")?;
    Ok(())
}
