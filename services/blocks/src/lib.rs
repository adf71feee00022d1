//! The flatgov block registry service (`flatgov.blocks.v1.BlockRegistry`):
//! district → subdistrict → community → block hierarchy, the staff roster,
//! block polygons in boundary generations, 1+N+1 teams and point → block lookup.
//!
//! - [`domain`]: the pure rules (codes, geometry parsing, generation validation,
//!   the spatial index, changes between generations, synthetic data); no I/O.
//! - [`store`]: every SQL query.
//! - [`snapshot`]: the in-memory lookup snapshot and how replicas keep it current.
//! - [`policy`]: who may call which RPC (the table the chassis enforces).
//! - [`reach`]: which places, people and generations a caller reaches.
//! - [`privacy`]: how much of a staff member a caller sees.
//! - [`application`]: the use cases, on domain values (no protobuf).
//! - [`grpc`]: the API: each request parsed into a command, the use case
//!   run, the answer rendered.
//! - [`events`]: what the registry publishes.
//!
//! See `docs/blocks.md` for the API walk-through and the design decisions.

pub mod application;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod policy;
pub mod privacy;
pub mod reach;
pub mod resources;
pub mod snapshot;
pub mod store;

use std::sync::Arc;

use flatgov_config::Env;
use flatgov_grpc::{Application, Runtime, ServiceIdentity, StartError};
use flatgov_proto::blocks::v1::block_registry_server::BlockRegistryServer;
use tonic::service::Routes;

pub use config::Config;

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "blocks",
    grpc_service: "flatgov.blocks.v1.BlockRegistry",
    grpc_port: 50051,
    metrics_port: 9451,
    // Imports carry a whole district's polygons in one call.
    default_max_message_bytes: 67_108_864,
    migrator,
    policy: &policy::POLICY,
    // The team history is only ever appended to: an entry stays in force
    // until the next entry of its block (see store::teams).
    append_only_tables: &["block_team_history"],
};

fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// Starts the registry from `env`: database and NATS via the chassis, the
/// lookup snapshot loaded, the outbox relay and the snapshot refresher running.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env)?;
    let mut runtime = Runtime::start(&IDENTITY, config.chassis.clone()).await?;
    runtime.spawn_relay();
    let metrics = snapshot::SnapshotMetrics::register(&mut runtime.registry);
    let registry = Arc::new(
        snapshot::Registry::load(
            runtime.pool.clone(),
            config.history_cache_generations,
            metrics,
        )
        .await
        .map_err(|error| StartError::Other(format!("cannot load the lookup snapshot: {error}")))?,
    );
    {
        let registry = registry.clone();
        let database_url = config.chassis.database.url.expose().clone();
        let interval = config.refresh_interval;
        runtime
            .spawn_worker(move |shutdown| registry.run_refresher(database_url, interval, shutdown));
    }
    let service = grpc::RegistryService::new(
        runtime.pool.clone(),
        registry,
        config.validation,
        flatgov_grpc::clock::Clock::system(),
    );
    let routes = Routes::new(flatgov_grpc::bounded!(
        BlockRegistryServer::new(service),
        runtime
    ));
    runtime.serve(routes).await
}
