//! The flatgov gateway: HTTP on port 8080 in front of the gRPC services.
//!
//! - **Open311 GeoReport v2** at `/open311/v2/` ([`open311`]) for civic apps and
//!   311 systems: the matter catalogue as services, reports as cases, cases as a
//!   public feed without personal data.
//! - **HTTP/JSON** at `/api/{service}/{method}` ([`api`]) and **gRPC-Web** at
//!   `/{service}/{method}` ([`grpc_web`]) for systems and browsers that cannot speak
//!   gRPC: the caller's own bearer token goes to the service, whose policy table
//!   decides. The gateway never grants more than the token.
//! - **The command centre** at `/command/` ([`command`]): the staff's browser
//!   view of blocks, live cases and indicators, on the same HTTP/JSON API.
//!
//! The gateway holds no domain state. Its only state is the registry of API
//! clients ([`clients`]) in its own database `flatgov_gateway`. What it enforces
//! itself: API keys, request sizes, explicit CORS, per-client rate limits.

pub mod api;
pub mod clients;
pub mod command;
pub mod config;
pub mod entry;
pub mod grpc_web;
pub mod limits;
pub mod open311;
pub mod openapi;
mod server;
pub mod upstream;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flatgov_auth::ServiceCredentials;
use flatgov_config::{ConfigError, Env};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

pub use config::Config;
pub use server::{Application, PeerAddress};

use crate::clients::Registry;
use crate::command::{CommandCentre, CommandConfig};
use crate::limits::RateLimiter;
use crate::open311::catalogue::CatalogueCache;
use crate::upstream::Upstreams;

/// When the Open311 surface last changed, as discovery announces it.
pub const CHANGESET: &str = "2026-12-07T00:00:00+08:00";

/// The process name, for logs and traces.
pub const PROCESS_NAME: &str = "flatgov-gateway";

/// What every handler shares.
pub struct Gateway {
    pub config: Config,
    pub registry: Registry,
    pub upstreams: Upstreams,
    pub catalogue: CatalogueCache,
    pub limiter: RateLimiter,
    pub command: CommandCentre,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the gateway's own signing key: {0}")]
    Credentials(String),
    #[error("the services behind the gateway: {0}")]
    Upstreams(String),
    #[error("the client registry: {0}")]
    Database(#[from] flatgov_db::DatabaseError),
    #[error("the command centre: {0}")]
    Command(String),
    #[error("the listener: {0}")]
    Listener(String),
}

/// Applies the registry's migrations as the owner role and grants the application
/// role its privileges.
pub async fn migrate(database: &flatgov_db::DatabaseConfig) -> Result<(), StartError> {
    let owner = flatgov_db::connect_owner(database).await?;
    let result = async {
        flatgov_db::migrate(&owner, &[&Registry::migrator()]).await?;
        flatgov_db::grant_application_privileges(
            &owner,
            database.url.expose(),
            &flatgov_db::Privileges::default(),
        )
        .await
    }
    .await;
    owner.close().await;
    result?;
    Ok(())
}

/// Starts the gateway from `env` (the process environment, or a test's).
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env)?;
    let command_config = CommandConfig::from_env(&env)?;
    let credentials =
        ServiceCredentials::from_env(&env, "gateway").map_err(StartError::Credentials)?;
    if config.database.migrate_on_start {
        migrate(&config.database).await?;
    }
    let pool = flatgov_db::connect(&config.database).await?;
    let upstreams = Upstreams::new(&config.upstream_urls, &config.client_tls, credentials)
        .map_err(StartError::Upstreams)?;
    let command = CommandCentre::start(command_config)
        .await
        .map_err(StartError::Command)?;
    let gateway = Arc::new(Gateway {
        registry: Registry::new(pool.clone()),
        catalogue: CatalogueCache::new(upstreams.clone()),
        upstreams,
        limiter: RateLimiter::new(),
        command,
        config,
    });
    server::start(gateway, pool).await
}

/// The routes of [`openapi::ROUTES`], with their limits and CORS.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let open311 = Router::new()
        .route(
            "/open311/v2/{file}",
            get(open311::get_document).post(open311::post_document),
        )
        .route("/open311/v2/{collection}/{file}", get(open311::get_item))
        // Enforced by the body extractor, so the refusal is in the Open311 format.
        .layer(axum::extract::DefaultBodyLimit::max(
            gateway.config.open311.max_request_bytes,
        ));
    let relay = tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebLayer::new())
        .service(grpc_web::Relay::new(gateway.clone()));
    let api = Router::new()
        .route("/api/{service}/{method}", post(api::call))
        .route_service("/{service}/{method}", relay)
        .layer(RequestBodyLimitLayer::new(
            gateway.config.api_max_request_bytes,
        ));
    let mut router = Router::new()
        .route("/healthz", get(health))
        .route("/openapi.json", get(openapi_json))
        .route("/command", get(command::redirect))
        .route("/command/", get(command::index))
        .route("/command/app.js", get(command::script))
        .route("/command/app.css", get(command::styles))
        .route("/command/session", get(command::session))
        .route("/command/events", get(command::events))
        .route("/command/oidc", get(command::login::options))
        .route("/command/oidc/start", get(command::login::start))
        .route("/command/oidc/callback", get(command::login::callback))
        .route("/command/oidc/session", post(command::login::session))
        .merge(open311)
        .merge(api)
        .with_state(gateway.clone());
    if let Some(cors) = cors(&gateway.config.cors) {
        router = router.layer(cors);
    }
    router
}

/// Browsers may call only from the configured origins; with none, no CORS headers
/// are sent and browsers refuse cross-origin calls.
fn cors(config: &config::CorsConfig) -> Option<CorsLayer> {
    if config.allowed_origins.is_empty() {
        return None;
    }
    let origins: Vec<http::HeaderValue> = config
        .allowed_origins
        .iter()
        .filter_map(|origin| http::HeaderValue::from_str(origin).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
            .allow_headers([
                http::header::AUTHORIZATION,
                http::header::CONTENT_TYPE,
                http::HeaderName::from_static("x-grpc-web"),
                http::HeaderName::from_static("x-user-agent"),
                http::HeaderName::from_static("grpc-timeout"),
            ])
            .expose_headers([
                http::HeaderName::from_static("grpc-status"),
                http::HeaderName::from_static("grpc-message"),
                http::header::RETRY_AFTER,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    if gateway.registry.ping().await {
        axum::Json(serde_json::json!({"status": "serving", "registry": "up"})).into_response()
    } else {
        (
            http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "not_serving", "registry": "down"})),
        )
            .into_response()
    }
}

async fn openapi_json() -> Response {
    axum::Json(openapi::document()).into_response()
}
