//! `flatgov.blocks.v1.BlockRegistry`: the generated trait, implemented by
//! handlers grouped by what they serve. Each handler takes the verified caller
//! and the request message and returns the response or an [`Error`].

mod convert;
mod generations;
mod hierarchy;
mod lookup;
mod staff;
mod teams;

use std::sync::Arc;

use flatgov_auth::{Caller, Role};
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::block_registry_server::BlockRegistry;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

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

    async fn connection(
        &self,
        context: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, Error> {
        self.pool.acquire().await.map_err(Error::database(context))
    }
}

/// The caller of a request; UNAUTHENTICATED when the auth layer verified none.
fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    flatgov_auth::caller(request).cloned()
}

/// District admins change boundaries, teams, the hierarchy and the roster.
fn require_admin(caller: &Caller) -> Result<(), Error> {
    caller
        .require_any_role(&[Role::DistrictAdmin])
        .map_err(|status| Error::PermissionDenied(status.message().to_owned()))
}

/// An admin whose jurisdiction covers the division with `code`.
fn require_admin_of(caller: &Caller, code: &str) -> Result<(), Error> {
    require_admin(caller)?;
    caller
        .require_jurisdiction(code)
        .map_err(|status| Error::PermissionDenied(status.message().to_owned()))
}

/// Staff roles (not residents or integrators) read the roster.
fn require_staff_role(caller: &Caller) -> Result<(), Error> {
    caller
        .require_any_role(&crate::privacy::STAFF_ROLES)
        .map_err(|status| Error::PermissionDenied(status.message().to_owned()))
}

macro_rules! handle {
    ($service:expr, $request:ident, $handler:path) => {{
        let caller = caller(&$request)?;
        let response = $handler($service, &caller, $request.into_inner()).await?;
        Ok(Response::new(response))
    }};
}

#[tonic::async_trait]
impl BlockRegistry for RegistryService {
    async fn locate_point(
        &self,
        request: Request<api::LocatePointRequest>,
    ) -> Result<Response<api::LocatePointResponse>, Status> {
        handle!(self, request, lookup::locate_point)
    }

    async fn get_block(
        &self,
        request: Request<api::GetBlockRequest>,
    ) -> Result<Response<api::Block>, Status> {
        handle!(self, request, lookup::get_block)
    }

    async fn locate_points(
        &self,
        request: Request<api::LocatePointsRequest>,
    ) -> Result<Response<api::LocatePointsResponse>, Status> {
        handle!(self, request, lookup::locate_points)
    }

    async fn list_blocks(
        &self,
        request: Request<api::ListBlocksRequest>,
    ) -> Result<Response<api::ListBlocksResponse>, Status> {
        handle!(self, request, lookup::list_blocks)
    }

    async fn export_geo_json(
        &self,
        request: Request<api::ExportGeoJsonRequest>,
    ) -> Result<Response<api::ExportGeoJsonResponse>, Status> {
        handle!(self, request, lookup::export_geojson)
    }

    async fn create_district(
        &self,
        request: Request<api::CreateDistrictRequest>,
    ) -> Result<Response<api::District>, Status> {
        handle!(self, request, hierarchy::create_district)
    }

    async fn get_district(
        &self,
        request: Request<api::GetDistrictRequest>,
    ) -> Result<Response<api::District>, Status> {
        handle!(self, request, hierarchy::get_district)
    }

    async fn list_districts(
        &self,
        request: Request<api::ListDistrictsRequest>,
    ) -> Result<Response<api::ListDistrictsResponse>, Status> {
        handle!(self, request, hierarchy::list_districts)
    }

    async fn update_district(
        &self,
        request: Request<api::UpdateDistrictRequest>,
    ) -> Result<Response<api::District>, Status> {
        handle!(self, request, hierarchy::update_district)
    }

    async fn delete_district(
        &self,
        request: Request<api::DeleteDistrictRequest>,
    ) -> Result<Response<()>, Status> {
        handle!(self, request, hierarchy::delete_district)
    }

    async fn create_subdistrict(
        &self,
        request: Request<api::CreateSubdistrictRequest>,
    ) -> Result<Response<api::Subdistrict>, Status> {
        handle!(self, request, hierarchy::create_subdistrict)
    }

    async fn get_subdistrict(
        &self,
        request: Request<api::GetSubdistrictRequest>,
    ) -> Result<Response<api::Subdistrict>, Status> {
        handle!(self, request, hierarchy::get_subdistrict)
    }

    async fn list_subdistricts(
        &self,
        request: Request<api::ListSubdistrictsRequest>,
    ) -> Result<Response<api::ListSubdistrictsResponse>, Status> {
        handle!(self, request, hierarchy::list_subdistricts)
    }

    async fn update_subdistrict(
        &self,
        request: Request<api::UpdateSubdistrictRequest>,
    ) -> Result<Response<api::Subdistrict>, Status> {
        handle!(self, request, hierarchy::update_subdistrict)
    }

    async fn delete_subdistrict(
        &self,
        request: Request<api::DeleteSubdistrictRequest>,
    ) -> Result<Response<()>, Status> {
        handle!(self, request, hierarchy::delete_subdistrict)
    }

    async fn import_subdistricts(
        &self,
        request: Request<api::ImportSubdistrictsRequest>,
    ) -> Result<Response<api::ImportSubdistrictsResponse>, Status> {
        handle!(self, request, hierarchy::import_subdistricts)
    }

    async fn create_community(
        &self,
        request: Request<api::CreateCommunityRequest>,
    ) -> Result<Response<api::Community>, Status> {
        handle!(self, request, hierarchy::create_community)
    }

    async fn get_community(
        &self,
        request: Request<api::GetCommunityRequest>,
    ) -> Result<Response<api::Community>, Status> {
        handle!(self, request, hierarchy::get_community)
    }

    async fn list_communities(
        &self,
        request: Request<api::ListCommunitiesRequest>,
    ) -> Result<Response<api::ListCommunitiesResponse>, Status> {
        handle!(self, request, hierarchy::list_communities)
    }

    async fn update_community(
        &self,
        request: Request<api::UpdateCommunityRequest>,
    ) -> Result<Response<api::Community>, Status> {
        handle!(self, request, hierarchy::update_community)
    }

    async fn delete_community(
        &self,
        request: Request<api::DeleteCommunityRequest>,
    ) -> Result<Response<()>, Status> {
        handle!(self, request, hierarchy::delete_community)
    }

    async fn create_staff(
        &self,
        request: Request<api::CreateStaffRequest>,
    ) -> Result<Response<api::Staff>, Status> {
        handle!(self, request, staff::create_staff)
    }

    async fn get_staff(
        &self,
        request: Request<api::GetStaffRequest>,
    ) -> Result<Response<api::Staff>, Status> {
        handle!(self, request, staff::get_staff)
    }

    async fn list_staff(
        &self,
        request: Request<api::ListStaffRequest>,
    ) -> Result<Response<api::ListStaffResponse>, Status> {
        handle!(self, request, staff::list_staff)
    }

    async fn update_staff(
        &self,
        request: Request<api::UpdateStaffRequest>,
    ) -> Result<Response<api::Staff>, Status> {
        handle!(self, request, staff::update_staff)
    }

    async fn delete_staff(
        &self,
        request: Request<api::DeleteStaffRequest>,
    ) -> Result<Response<()>, Status> {
        handle!(self, request, staff::delete_staff)
    }

    async fn import_staff(
        &self,
        request: Request<api::ImportStaffRequest>,
    ) -> Result<Response<api::ImportStaffResponse>, Status> {
        handle!(self, request, staff::import_staff)
    }

    async fn import_blocks(
        &self,
        request: Request<api::ImportBlocksRequest>,
    ) -> Result<Response<api::Generation>, Status> {
        handle!(self, request, generations::import_blocks)
    }

    async fn get_generation(
        &self,
        request: Request<api::GetGenerationRequest>,
    ) -> Result<Response<api::Generation>, Status> {
        handle!(self, request, generations::get_generation)
    }

    async fn list_generations(
        &self,
        request: Request<api::ListGenerationsRequest>,
    ) -> Result<Response<api::ListGenerationsResponse>, Status> {
        handle!(self, request, generations::list_generations)
    }

    async fn validate_generation(
        &self,
        request: Request<api::ValidateGenerationRequest>,
    ) -> Result<Response<api::ValidationReport>, Status> {
        handle!(self, request, generations::validate_generation)
    }

    async fn activate_generation(
        &self,
        request: Request<api::ActivateGenerationRequest>,
    ) -> Result<Response<api::Generation>, Status> {
        handle!(self, request, generations::activate_generation)
    }

    async fn discard_generation(
        &self,
        request: Request<api::DiscardGenerationRequest>,
    ) -> Result<Response<api::Generation>, Status> {
        handle!(self, request, generations::discard_generation)
    }

    async fn set_block_team(
        &self,
        request: Request<api::SetBlockTeamRequest>,
    ) -> Result<Response<api::Block>, Status> {
        handle!(self, request, teams::set_block_team)
    }
}
