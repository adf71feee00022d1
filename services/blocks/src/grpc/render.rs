//! The registry's values as the API's messages.

use flatgov_grpc::time::timestamp;
use flatgov_proto::blocks::v1 as api;

use super::parse::assistant_role_message;
use crate::application::blocks::{BlockData, Post, SeenBlock, SeenMember};
use crate::application::generations::SeenGeneration;
use crate::application::staff::SeenStaff;
use crate::application::stored_geometry_json;
use crate::domain::team::Team;
use crate::error::Error;
use crate::resources::{division_name, generation_name};
use crate::store::hierarchy::{CommunityRow, DistrictRow, SubdistrictRow};
use flatgov_vocabulary::BlockCode;

pub fn district(row: DistrictRow) -> api::District {
    api::District {
        name: format!("districts/{}", row.code),
        code: row.code,
        display_name: row.display_name,
        display_name_en: row.display_name_en.unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}

pub fn subdistrict(row: SubdistrictRow) -> Result<api::Subdistrict, Error> {
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

pub fn community(row: CommunityRow) -> api::Community {
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

fn generation_state(state: &str) -> api::GenerationState {
    match state {
        "draft" => api::GenerationState::Draft,
        "active" => api::GenerationState::Active,
        "retired" => api::GenerationState::Retired,
        "discarded" => api::GenerationState::Discarded,
        _ => api::GenerationState::Unspecified,
    }
}

pub fn generation(seen: SeenGeneration) -> api::Generation {
    let row = seen.row;
    api::Generation {
        name: generation_name(row.id),
        state: generation_state(&row.state) as i32,
        description: row.description,
        block_count: u32::try_from(row.block_count).unwrap_or_default(),
        total_households: u64::try_from(row.total_households).unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
        created_by: if seen.creator_visible {
            row.created_by
        } else {
            String::new()
        },
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

/// The team as ids and roles.
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

fn member(seen: SeenMember) -> api::TeamMember {
    let (post, role) = match seen.post {
        Post::Governor => (api::TeamPost::Governor, api::AssistantRole::Unspecified),
        Post::Assistant(role) => (api::TeamPost::Assistant, assistant_role_message(role)),
        Post::Supervisor => (api::TeamPost::Supervisor, api::AssistantRole::Unspecified),
    };
    api::TeamMember {
        staff: seen.staff.to_string(),
        post: post as i32,
        role: role as i32,
        display_name: seen.display_name,
        unit: seen.unit,
        phone: seen.phone,
        phone_withheld: seen.phone_withheld,
    }
}

/// A block in the basic view.
pub fn block_data(data: &BlockData) -> api::Block {
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
        geometry_geojson: String::new(),
        area_m2: data.record.area_m2,
    }
}

/// A block in the view it was read in.
pub fn block(seen: SeenBlock) -> api::Block {
    let mut message = block_data(&seen.data);
    message.geometry_geojson = seen.geometry_geojson.unwrap_or_default();
    if let (Some(team), Some(members)) = (message.team.as_mut(), seen.members) {
        team.members = members.into_iter().map(member).collect();
    }
    message
}

/// A roster entry as the caller may see it: the phone only when visible.
pub fn staff(seen: SeenStaff) -> api::Staff {
    let row = seen.row;
    let has_phone = row.phone.is_some();
    api::Staff {
        name: format!("staff/{}", row.id),
        display_name: row.display_name,
        phone: row.phone.filter(|_| seen.phone_visible).unwrap_or_default(),
        phone_withheld: has_phone && !seen.phone_visible,
        unit: row.unit.unwrap_or_default(),
        division: row
            .division_code
            .as_deref()
            .map(division_name)
            .unwrap_or_default(),
        id: row.id,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}
