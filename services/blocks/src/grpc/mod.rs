//! `flatgov.blocks.v1.BlockRegistry`: the dispatch table. The policy table
//! ([`crate::policy`]) has already decided which roles may call each RPC;
//! every handler parses its request completely into a command (each field
//! violation at once, before any I/O), runs the use case
//! ([`crate::application`]) with what the caller was granted, and renders
//! the answer.

mod blocks;
mod communities;
mod districts;
mod generations;
mod parse;
mod render;
mod staff;
mod subdistricts;

use std::sync::Arc;

use flatgov_grpc::clock::Clock;
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::block_registry_server::BlockRegistry;
use sqlx::PgPool;

use crate::application::Blocks;
use crate::domain::validation::ValidationSettings;
use crate::snapshot::Registry;

pub use parse::{assistant_role_message as assistant_role, team_from_message};

/// The service behind the generated server.
#[derive(Debug, Clone)]
pub struct RegistryService {
    /// The registry's state every use case works with.
    blocks: Blocks,
}

impl RegistryService {
    pub fn new(
        pool: PgPool,
        snapshot: Arc<Registry>,
        validation: ValidationSettings,
        clock: Clock,
    ) -> Self {
        Self {
            blocks: Blocks {
                pool,
                snapshot,
                validation,
                clock,
            },
        }
    }
}

flatgov_grpc::dispatch! {
    impl BlockRegistry for RegistryService {
        fn locate_point(api::LocatePointRequest) -> api::LocatePointResponse => blocks::locate_point;
        fn get_block(api::GetBlockRequest) -> api::Block => blocks::get_block;
        fn locate_points(api::LocatePointsRequest) -> api::LocatePointsResponse => blocks::locate_points;
        fn list_blocks(api::ListBlocksRequest) -> api::ListBlocksResponse => blocks::list_blocks;
        fn export_geo_json(api::ExportGeoJsonRequest) -> api::ExportGeoJsonResponse => blocks::export_geojson;
        fn create_district(api::CreateDistrictRequest) -> api::District => districts::create_district;
        fn get_district(api::GetDistrictRequest) -> api::District => districts::get_district;
        fn list_districts(api::ListDistrictsRequest) -> api::ListDistrictsResponse => districts::list_districts;
        fn update_district(api::UpdateDistrictRequest) -> api::District => districts::update_district;
        fn delete_district(api::DeleteDistrictRequest) -> () => districts::delete_district;
        fn create_subdistrict(api::CreateSubdistrictRequest) -> api::Subdistrict => subdistricts::create_subdistrict;
        fn get_subdistrict(api::GetSubdistrictRequest) -> api::Subdistrict => subdistricts::get_subdistrict;
        fn list_subdistricts(api::ListSubdistrictsRequest) -> api::ListSubdistrictsResponse => subdistricts::list_subdistricts;
        fn update_subdistrict(api::UpdateSubdistrictRequest) -> api::Subdistrict => subdistricts::update_subdistrict;
        fn delete_subdistrict(api::DeleteSubdistrictRequest) -> () => subdistricts::delete_subdistrict;
        fn import_subdistricts(api::ImportSubdistrictsRequest) -> api::ImportSubdistrictsResponse => subdistricts::import_subdistricts;
        fn create_community(api::CreateCommunityRequest) -> api::Community => communities::create_community;
        fn get_community(api::GetCommunityRequest) -> api::Community => communities::get_community;
        fn list_communities(api::ListCommunitiesRequest) -> api::ListCommunitiesResponse => communities::list_communities;
        fn update_community(api::UpdateCommunityRequest) -> api::Community => communities::update_community;
        fn delete_community(api::DeleteCommunityRequest) -> () => communities::delete_community;
        fn create_staff(api::CreateStaffRequest) -> api::Staff => staff::create_staff;
        fn get_staff(api::GetStaffRequest) -> api::Staff => staff::get_staff;
        fn list_staff(api::ListStaffRequest) -> api::ListStaffResponse => staff::list_staff;
        fn update_staff(api::UpdateStaffRequest) -> api::Staff => staff::update_staff;
        fn delete_staff(api::DeleteStaffRequest) -> () => staff::delete_staff;
        fn import_staff(api::ImportStaffRequest) -> api::ImportStaffResponse => staff::import_staff;
        fn import_blocks(api::ImportBlocksRequest) -> api::Generation => generations::import_blocks;
        fn get_generation(api::GetGenerationRequest) -> api::Generation => generations::get_generation;
        fn list_generations(api::ListGenerationsRequest) -> api::ListGenerationsResponse => generations::list_generations;
        fn validate_generation(api::ValidateGenerationRequest) -> api::ValidationReport => generations::validate_generation;
        fn activate_generation(api::ActivateGenerationRequest) -> api::Generation => generations::activate_generation;
        fn discard_generation(api::DiscardGenerationRequest) -> api::Generation => generations::discard_generation;
        fn set_block_team(api::SetBlockTeamRequest) -> api::Block => blocks::set_block_team;
    }
}
