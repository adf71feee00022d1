//! `flatgov.blocks.v1.BlockRegistry`: the generated trait, implemented by
//! handlers grouped by what they serve. Each handler takes what the policy
//! layer granted the caller (`Access`) and the request message, and returns
//! the response or an [`Error`]. Roles are decided by the table
//! ([`crate::policy`]) before a handler runs; handlers check places
//! ([`crate::reach`]).

mod convert;
mod generations;
mod hierarchy;
mod lookup;
mod staff;
mod teams;

use std::sync::Arc;

use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::block_registry_server::BlockRegistry;
use sqlx::PgPool;

use crate::domain::validation::ValidationSettings;
use crate::error::Error;
use crate::snapshot::Registry;

pub use convert::{assistant_role_message as assistant_role, team_from_message};

/// The service behind the generated server.
#[derive(Debug, Clone)]
pub struct RegistryService {
    /// The registry's database.
    pool: PgPool,
    /// The in-memory snapshot lookups are served from.
    registry: Arc<Registry>,
    /// The validation policy activation enforces.
    validation: ValidationSettings,
}

impl RegistryService {
    pub fn new(pool: PgPool, registry: Arc<Registry>, validation: ValidationSettings) -> Self {
        Self {
            pool,
            registry,
            validation,
        }
    }

    async fn begin(
        &self,
        context: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, Error> {
        self.pool.begin().await.map_err(Error::database(context))
    }

    /// Writes the call's audit record in `transaction`, so it commits with
    /// the change it records.
    async fn record(
        &self,
        transaction: &mut sqlx::PgConnection,
        access: &flatgov_auth::policy::Access,
        context: &'static str,
    ) -> Result<(), Error> {
        flatgov_grpc::authz::record_in_transaction(
            transaction,
            access,
            crate::policy::POLICY.service,
        )
        .await
        .map_err(Error::database(context))
    }

    async fn connection(
        &self,
        context: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, Error> {
        self.pool.acquire().await.map_err(Error::database(context))
    }
}

flatgov_grpc::dispatch! {
    impl BlockRegistry for RegistryService {
        fn locate_point(api::LocatePointRequest) -> api::LocatePointResponse => lookup::locate_point;
        fn get_block(api::GetBlockRequest) -> api::Block => lookup::get_block;
        fn locate_points(api::LocatePointsRequest) -> api::LocatePointsResponse => lookup::locate_points;
        fn list_blocks(api::ListBlocksRequest) -> api::ListBlocksResponse => lookup::list_blocks;
        fn export_geo_json(api::ExportGeoJsonRequest) -> api::ExportGeoJsonResponse => lookup::export_geojson;
        fn create_district(api::CreateDistrictRequest) -> api::District => hierarchy::create_district;
        fn get_district(api::GetDistrictRequest) -> api::District => hierarchy::get_district;
        fn list_districts(api::ListDistrictsRequest) -> api::ListDistrictsResponse => hierarchy::list_districts;
        fn update_district(api::UpdateDistrictRequest) -> api::District => hierarchy::update_district;
        fn delete_district(api::DeleteDistrictRequest) -> () => hierarchy::delete_district;
        fn create_subdistrict(api::CreateSubdistrictRequest) -> api::Subdistrict => hierarchy::create_subdistrict;
        fn get_subdistrict(api::GetSubdistrictRequest) -> api::Subdistrict => hierarchy::get_subdistrict;
        fn list_subdistricts(api::ListSubdistrictsRequest) -> api::ListSubdistrictsResponse => hierarchy::list_subdistricts;
        fn update_subdistrict(api::UpdateSubdistrictRequest) -> api::Subdistrict => hierarchy::update_subdistrict;
        fn delete_subdistrict(api::DeleteSubdistrictRequest) -> () => hierarchy::delete_subdistrict;
        fn import_subdistricts(api::ImportSubdistrictsRequest) -> api::ImportSubdistrictsResponse => hierarchy::import_subdistricts;
        fn create_community(api::CreateCommunityRequest) -> api::Community => hierarchy::create_community;
        fn get_community(api::GetCommunityRequest) -> api::Community => hierarchy::get_community;
        fn list_communities(api::ListCommunitiesRequest) -> api::ListCommunitiesResponse => hierarchy::list_communities;
        fn update_community(api::UpdateCommunityRequest) -> api::Community => hierarchy::update_community;
        fn delete_community(api::DeleteCommunityRequest) -> () => hierarchy::delete_community;
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
        fn set_block_team(api::SetBlockTeamRequest) -> api::Block => teams::set_block_team;
    }
}

/// Maps a failure of the chassis' request-id store: a reused id is the
/// caller's mistake (INVALID_ARGUMENT naming `request_id`), the rest a
/// database failure while `context`.
fn idempotency_error(
    context: &'static str,
) -> impl FnOnce(flatgov_grpc::idempotency::IdempotencyError) -> Error {
    move |error| {
        if let Some(violation) = error.violation() {
            return Error::InvalidArgument(vec![violation]);
        }
        match error {
            flatgov_grpc::idempotency::IdempotencyError::Database(source) => {
                Error::Database { context, source }
            }
            other => Error::internal(context, other),
        }
    }
}
