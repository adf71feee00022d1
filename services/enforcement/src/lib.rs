//! The flatgov joint enforcement service (`flatgov.enforcement.v1.JointEnforcement`).
//!
//! When a subdistrict meets a problem it cannot solve, has no enforcement
//! power for, or an emergency, it blows the whistle (吹哨): urban management,
//! market supervision, police and any other registered agency are summoned
//! and must report in (报到) within a time limit, act, and stay until the
//! lead agency concludes. See `docs/enforcement.md`.

mod access;
mod application;
mod config;
mod consumers;
pub mod domain;
mod duties;
mod error;
mod events;
mod grpc;
pub mod policy;
mod store;
pub mod worker;

use std::sync::Arc;

use flatgov_config::Env;
use flatgov_grpc::{Application, Runtime, ServiceIdentity, StartError};
use flatgov_proto::enforcement::v1::joint_enforcement_server::JointEnforcementServer;
use tonic::service::Routes;

pub use crate::config::{Config, Settings};

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "enforcement",
    grpc_service: "flatgov.enforcement.v1.JointEnforcement",
    grpc_port: 50054,
    metrics_port: 9454,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator,
    policy: &policy::POLICY,
    // The record of what agencies did and what officers they sent, and the
    // subdistricts' ratings, are never changed once written.
    append_only_tables: &["actions", "summons_officers", "ratings"],
};

fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// Starts the service: migrations, relay, the escalation consumer, the
/// deadline worker, and the gRPC server.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env, &IDENTITY)?;
    let settings = Arc::new(config.settings);
    tracing::info!(
        urgent = %settings.report_in.urgent,
        normal = %settings.report_in.normal,
        duties = config.duties.is_configured(),
        "report-in limits"
    );
    let mut runtime = Runtime::start(&IDENTITY, config.chassis).await?;
    let clock = flatgov_grpc::clock::Clock::system();
    runtime.spawn_relay();
    runtime.spawn_consumer(
        consumers::case_escalated_consumer(),
        Arc::new(consumers::CaseEscalatedHandler {
            settings: settings.clone(),
            clock: clock.clone(),
        }),
    );
    let worker = worker::DeadlineWorker::new(
        runtime.pool.clone(),
        settings.clone(),
        config.duties.clone(),
        clock.clone(),
    );
    runtime.spawn_worker(|shutdown| worker.run(shutdown));
    let service = grpc::EnforcementService {
        app: application::Enforcement {
            pool: runtime.pool.clone(),
            settings,
            duties: config.duties,
            clock,
        },
    };
    let routes = Routes::new(flatgov_grpc::bounded!(
        JointEnforcementServer::new(service),
        runtime
    ));
    runtime.serve(routes).await
}
