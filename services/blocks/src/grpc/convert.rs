//! Proto ⇄ domain: the messages the API returns and the teams it accepts.

use flatgov_grpc::error::FieldViolation;
use flatgov_grpc::time::timestamp;
use flatgov_proto::blocks::v1 as api;
use geo::MultiPolygon;
use uuid::Uuid;

use crate::domain::codec;
use crate::domain::codes::BlockCode;
use crate::domain::geometry::to_geojson;
use crate::domain::team::{Assistant, AssistantRole, StaffId, Team, TeamInput};
use crate::error::Error;
use crate::resources::generation_name;
use crate::snapshot::BlockRecord;
use crate::store::generations::GenerationRow;
use crate::store::hierarchy::{CommunityRow, DistrictRow, SubdistrictRow};

/// GeoJSON text of a geometry.
pub fn geometry_json(geometry: &MultiPolygon<f64>) -> Result<String, Error> {
    serde_json::to_string(&to_geojson(geometry))
        .map_err(|error| Error::internal("writing GeoJSON", error))
}

/// GeoJSON text of a stored geometry.
pub fn stored_geometry_json(bytes: &[u8]) -> Result<String, Error> {
    let geometry = codec::decode(bytes)
        .map_err(|error| Error::internal("decoding a stored geometry", error))?;
    geometry_json(&geometry)
}

pub fn district_message(row: DistrictRow) -> api::District {
    api::District {
        name: format!("districts/{}", row.code),
        code: row.code,
        display_name: row.display_name,
        display_name_en: row.display_name_en.unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}

pub fn subdistrict_message(row: SubdistrictRow) -> Result<api::Subdistrict, Error> {
    let boundary_geojson = match &row.boundary {
        Some(bytes) => stored_geometry_json(bytes)?,
        None => String::new(),
    };
    Ok(api::Subdistrict {
        name: format!("subdistricts/{}", row.code),
        district: format!("districts/{}", row.district_code),
        code: row.code,
        display_name: row.display_name,
        display_name_en: row.display_name_en.unwrap_or_default(),
        boundary_geojson,
        land_area_m2: row.land_area_m2.unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    })
}

pub fn community_message(row: CommunityRow) -> api::Community {
    api::Community {
        name: format!("communities/{}", row.code),
        subdistrict: format!("subdistricts/{}", row.subdistrict_code),
        code: row.code,
        display_name: row.display_name,
        display_name_en: row.display_name_en.unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}

pub fn generation_state(state: &str) -> api::GenerationState {
    match state {
        "draft" => api::GenerationState::Draft,
        "active" => api::GenerationState::Active,
        "retired" => api::GenerationState::Retired,
        "discarded" => api::GenerationState::Discarded,
        _ => api::GenerationState::Unspecified,
    }
}

pub fn generation_message(row: GenerationRow) -> api::Generation {
    api::Generation {
        name: generation_name(row.id),
        state: generation_state(&row.state) as i32,
        description: row.description,
        block_count: u32::try_from(row.block_count).unwrap_or_default(),
        total_households: u64::try_from(row.total_households).unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
        created_by: row.created_by,
        activate_time: row.activate_time.map(timestamp),
        retire_time: row.retire_time.map(timestamp),
        previous_generation: row
            .previous_generation
            .map(generation_name)
            .unwrap_or_default(),
        base_generation: row.base_generation.map(generation_name).unwrap_or_default(),
        subdistricts: row
            .scope_subdistricts
            .iter()
            .map(|code| format!("subdistricts/{code}"))
            .collect(),
    }
}

pub fn assistant_role_message(role: AssistantRole) -> api::AssistantRole {
    match role {
        AssistantRole::LiaisonCadre => api::AssistantRole::LiaisonCadre,
        AssistantRole::PartyGroupLeader => api::AssistantRole::PartyGroupLeader,
        AssistantRole::OwnersCommitteeMember => api::AssistantRole::OwnersCommitteeMember,
        AssistantRole::ResidentRepresentative => api::AssistantRole::ResidentRepresentative,
    }
}

/// The team as ids and roles (members are added by the contacts view).
pub fn team_message(team: &Team) -> api::Team {
    api::Team {
        governor: team.governor().to_string(),
        assistants: team
            .assistants()
            .iter()
            .map(|assistant| api::TeamAssistant {
                staff: assistant.staff.to_string(),
                role: assistant_role_message(assistant.role) as i32,
            })
            .collect(),
        supervisor: team.supervisor().to_string(),
        members: Vec::new(),
    }
}

/// A team from a request; every problem names its field under `prefix`
/// (e.g. `team` or `teams[3].team`).
pub fn team_from_message(prefix: &str, team: &api::Team) -> Result<Team, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let mut staff = |field: String, id: &str| -> Option<StaffId> {
        match StaffId::parse(id) {
            Ok(id) => Some(id),
            Err(error) => {
                violations.push(FieldViolation::new(field, error.to_string()));
                None
            }
        }
    };
    let governors: Vec<StaffId> = if team.governor.is_empty() {
        Vec::new()
    } else {
        staff(format!("{prefix}.governor"), &team.governor)
            .into_iter()
            .collect()
    };
    let supervisors: Vec<StaffId> = if team.supervisor.is_empty() {
        Vec::new()
    } else {
        staff(format!("{prefix}.supervisor"), &team.supervisor)
            .into_iter()
            .collect()
    };
    let mut assistants = Vec::with_capacity(team.assistants.len());
    let mut role_violations = Vec::new();
    for (index, assistant) in team.assistants.iter().enumerate() {
        let id = staff(
            format!("{prefix}.assistants[{index}].staff"),
            &assistant.staff,
        );
        let role = match api::AssistantRole::try_from(assistant.role) {
            Ok(api::AssistantRole::LiaisonCadre) => Some(AssistantRole::LiaisonCadre),
            Ok(api::AssistantRole::PartyGroupLeader) => Some(AssistantRole::PartyGroupLeader),
            Ok(api::AssistantRole::OwnersCommitteeMember) => {
                Some(AssistantRole::OwnersCommitteeMember)
            }
            Ok(api::AssistantRole::ResidentRepresentative) => {
                Some(AssistantRole::ResidentRepresentative)
            }
            Ok(api::AssistantRole::Unspecified) | Err(_) => {
                role_violations.push(FieldViolation::new(
                    format!("{prefix}.assistants[{index}].role"),
                    format!(
                        "must be one of LIAISON_CADRE, PARTY_GROUP_LEADER, OWNERS_COMMITTEE_MEMBER, RESIDENT_REPRESENTATIVE, found {}",
                        assistant.role
                    ),
                ));
                None
            }
        };
        if let (Some(staff), Some(role)) = (id, role) {
            assistants.push(Assistant { staff, role });
        }
    }
    violations.extend(role_violations);
    if !violations.is_empty() {
        return Err(violations);
    }
    Team::parse(TeamInput {
        governors,
        assistants,
        supervisors,
    })
    .map_err(|problems| {
        problems
            .into_iter()
            .map(|problem| {
                FieldViolation::new(
                    format!("{prefix}.{}", problem.member()),
                    problem.to_string(),
                )
            })
            .collect()
    })
}

/// A block with what the response carries about it.
#[derive(Debug, Clone)]
pub struct BlockData {
    /// The generation the block belongs to.
    pub generation: Uuid,
    /// Its attributes.
    pub record: BlockRecord,
    /// Its team, when it has one.
    pub team: Option<Team>,
    /// GeoJSON of its geometry, in the FULL view.
    pub geometry_geojson: Option<String>,
}

pub fn block_message(data: &BlockData) -> api::Block {
    let code: BlockCode = data.record.code;
    api::Block {
        name: format!("blocks/{code}"),
        code: code.to_string(),
        display_name: data.record.display_name.clone(),
        community_code: code.community().to_string(),
        subdistrict_code: code.subdistrict().to_string(),
        households: data.record.households,
        generation: generation_name(data.generation),
        valid_from: data.record.valid_from.map(timestamp),
        valid_to: data.record.valid_to.map(timestamp),
        team: data.team.as_ref().map(team_message),
        geometry_geojson: data.geometry_geojson.clone().unwrap_or_default(),
        area_m2: data.record.area_m2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assistant(staff: &str, role: api::AssistantRole) -> api::TeamAssistant {
        api::TeamAssistant {
            staff: staff.into(),
            role: role as i32,
        }
    }

    #[test]
    fn a_team_message_round_trips() {
        let message = api::Team {
            governor: "g".into(),
            assistants: vec![assistant("a", api::AssistantRole::LiaisonCadre)],
            supervisor: "s".into(),
            members: vec![],
        };
        let team = team_from_message("team", &message).expect("valid");
        assert_eq!(team_message(&team), message);
    }

    #[test]
    fn a_missing_governor_and_an_unspecified_role_name_their_fields() {
        let message = api::Team {
            governor: String::new(),
            assistants: vec![assistant("a", api::AssistantRole::Unspecified)],
            supervisor: "s".into(),
            members: vec![],
        };
        let violations = team_from_message("teams[2].team", &message).expect_err("invalid");
        assert_eq!(violations[0].field, "teams[2].team.assistants[0].role");
        let message = api::Team {
            assistants: vec![],
            ..message
        };
        let violations = team_from_message("team", &message).expect_err("no governor");
        assert_eq!(violations[0].field, "team.governor");
        assert!(violations[0].description.contains("exactly one governor"));
    }

    #[test]
    fn a_supervisor_who_is_also_an_assistant_is_refused_at_that_assistant() {
        let message = api::Team {
            governor: "g".into(),
            assistants: vec![
                assistant("a", api::AssistantRole::PartyGroupLeader),
                assistant("s", api::AssistantRole::ResidentRepresentative),
            ],
            supervisor: "s".into(),
            members: vec![],
        };
        let violations = team_from_message("team", &message).expect_err("invalid");
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "team.assistants[1]");
    }
}
