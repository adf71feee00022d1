//! `flatgov.federation.v1.Federation`: the mass-organisation federation.
//!
//! Ten district mass organisations merged into one command work through
//! five joint mechanisms: joint theme activities, joint support for people
//! in difficulty (with referrals from the cases service), joint
//! rights-protection services, joint innovation and entrepreneurship
//! promotion, and joint proposals. See `docs/federation.md`.

pub mod access;
pub mod application;
pub mod domain;
pub mod error;
pub mod events;
mod grpc;
pub mod identity_key;
pub mod policy;
pub mod retention;
mod store;

use std::path::PathBuf;
use std::sync::Arc;

use flatgov_config::{ConfigError, Env};
use flatgov_grpc::{Application, ChassisConfig, Runtime, ServiceIdentity, StartError};
use flatgov_proto::federation::v1::federation_server::FederationServer;
use tonic::service::Routes;

pub use grpc::FederationService;

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "federation",
    grpc_service: "flatgov.federation.v1.Federation",
    grpc_port: 50055,
    metrics_port: 9455,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator,
    policy: &policy::POLICY,
    // History: recorded once, never changed or removed by the application.
    append_only_tables: &[
        "person_registrations",
        "assessments",
        "deliveries",
        "visits",
        "rights_actions",
        "application_progress",
        "application_mentors",
        "proposal_signatures",
        "activity_co_organisers",
        "programme_co_organisers",
        "consent_withdrawals",
    ],
};

fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// Everything the federation service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub chassis: ChassisConfig,
    /// A file holding the secret that turns ID numbers into identity keys
    /// (at least 32 bytes), from a secret store. Required unless
    /// `development_identity_key` is set.
    pub identity_key_file: Option<PathBuf>,
    /// Development only: without a key file, generate a key and keep it in the
    /// database (which protects ID numbers less against a stolen database).
    pub development_identity_key: bool,
    /// How long needy records are kept after support ends, and how often
    /// the retention worker looks.
    pub retention: retention::Retention,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            chassis: ChassisConfig::from_env(env, &IDENTITY)?,
            identity_key_file: env.maybe(
                "FEDERATION_IDENTITY_KEY_FILE",
                "path to a file holding at least 32 bytes of secret key for hashing ID numbers",
            )?,
            development_identity_key: env.optional(
                "FEDERATION_DEVELOPMENT_IDENTITY_KEY",
                false,
                "true only on a development machine: keep a generated identity key in the database",
            )?,
            retention: retention::Retention {
                months: env.optional(
                    "FEDERATION_NEEDY_RECORD_RETENTION_MONTHS",
                    60,
                    "months a needy person's record is kept after their support ends (and nothing else touched it) before it is anonymised",
                )?,
                poll: std::time::Duration::from_secs(env.optional(
                    "FEDERATION_RETENTION_POLL_SECONDS",
                    3600,
                    "seconds between passes of the retention worker",
                )?),
            },
        })
        .and_then(Config::require_identity_key)
    }

    /// Outside development the identity key must come from a secret: a service
    /// that would keep it beside the register it protects refuses to start.
    fn require_identity_key(self) -> Result<Self, ConfigError> {
        if self.identity_key_file.is_none() && !self.development_identity_key {
            return Err(ConfigError::Missing {
                name: "FEDERATION_IDENTITY_KEY_FILE",
                expected: "a file holding at least 32 bytes of secret key for hashing ID numbers, from a secret store (`flatgov keys init` writes one); on a development machine FEDERATION_DEVELOPMENT_IDENTITY_KEY=true keeps a generated key in the database instead",
            });
        }
        Ok(self)
    }
}

/// Starts the federation service from `env`.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env)?;
    let mut runtime = Runtime::start(&IDENTITY, config.chassis).await?;
    let identity = identity_key::load(&runtime.pool, config.identity_key_file.as_deref()).await?;
    runtime.spawn_relay();
    runtime.spawn_consumer(
        events::case_referred_consumer(),
        Arc::new(events::CaseReferredHandler),
    );
    let clock = flatgov_grpc::clock::Clock::system();
    {
        let pool = runtime.pool.clone();
        let clock = clock.clone();
        let retention = config.retention;
        runtime.spawn_worker(move |shutdown| retention::run(pool, clock, retention, shutdown));
    }
    let service = FederationService::new(application::App::new(
        runtime.pool.clone(),
        Arc::new(identity),
        clock,
    ));
    let routes = Routes::new(flatgov_grpc::bounded!(
        FederationServer::new(service),
        runtime
    ));
    runtime.serve(routes).await
}
