//! The flatgov joint enforcement service (`flatgov.enforcement.v1.JointEnforcement`).
//!
//! When a subdistrict meets a problem it cannot solve, has no enforcement
//! power for, or an emergency, it blows the whistle (吹哨): urban management,
//! market supervision, police and any other registered agency are summoned
//! and must report in (报到) within a time limit, act, and stay until the
//! lead agency concludes. See `docs/enforcement.md`.

mod convert;
pub mod domain;
mod duties;
mod error;
pub mod events;
mod grpc;
pub mod policy;
mod store;
mod whistle;
pub mod worker;

use std::sync::Arc;

use flatgov_auth::ServiceCredentials;
use flatgov_config::{ConfigError, Env};
use flatgov_grpc::{Application, ChassisConfig, Runtime, ServiceIdentity, StartError};
use flatgov_proto::enforcement::v1::joint_enforcement_server::JointEnforcementServer;
use tonic::service::Routes;

use crate::domain::{AgencyCode, LimitDuration, ReportInLimits};
use crate::duties::DutiesClient;

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

/// The service's own rules, read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a summoned agency has to report in.
    pub report_in: ReportInLimits,
    /// Summoned when neither the caller nor the duty lists name agencies.
    pub default_agencies: Vec<AgencyCode>,
    /// How long a whistle waits for unreachable duty lists before the
    /// default set is summoned.
    pub resolution_patience: LimitDuration,
}

/// A comma-separated list of agency codes.
#[derive(Debug, Clone)]
struct AgencyList(Vec<AgencyCode>);

impl std::str::FromStr for AgencyList {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let codes = text
            .split(',')
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .map(|code| AgencyCode::parse(code).map_err(|error| error.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if codes.is_empty() {
            return Err("names no agency".into());
        }
        Ok(Self(codes))
    }
}

/// The agencies of the model, seeded by the first migration: the default
/// set unless ENFORCEMENT_DEFAULT_SUMMONED_AGENCIES says otherwise.
fn founding_agencies() -> Vec<AgencyCode> {
    ["urban_management", "market_supervision", "public_security"]
        .into_iter()
        .filter_map(|code| AgencyCode::parse(code).ok())
        .collect()
}

/// Everything the service reads at start.
pub struct Config {
    pub chassis: ChassisConfig,
    pub settings: Settings,
    /// `None` when DUTIES_URL is unset: agencies then come from requests,
    /// events or the default set.
    duties: DutiesClient,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, StartError> {
        let chassis = ChassisConfig::from_env(env, &IDENTITY)?;
        let defaults = ReportInLimits::default();
        let settings = Settings {
            report_in: ReportInLimits {
                urgent: env.optional(
                    "ENFORCEMENT_REPORT_IN_LIMIT_URGENT",
                    defaults.urgent,
                    "a duration such as 30m: how long agencies have to report in to an urgent whistle",
                )?,
                normal: env.optional(
                    "ENFORCEMENT_REPORT_IN_LIMIT_NORMAL",
                    defaults.normal,
                    "a duration such as 2h: how long agencies have to report in to an ordinary whistle",
                )?,
            },
            default_agencies: env
                .optional(
                    "ENFORCEMENT_DEFAULT_SUMMONED_AGENCIES",
                    AgencyList(founding_agencies()),
                    "comma-separated agency codes, e.g. urban_management,market_supervision,public_security",
                )?
                .0,
            resolution_patience: env.optional(
                "ENFORCEMENT_AGENCY_RESOLUTION_PATIENCE",
                LimitDuration::from_secs(120),
                "a duration such as 2m: how long a whistle waits for unreachable duty lists before summoning the default set",
            )?,
        };
        let duties_url: Option<String> = env.maybe(
            "DUTIES_URL",
            "the duty lists service, e.g. http://duties:50052 (unset: agencies come from requests, events or the default set)",
        )?;
        let duties = match duties_url {
            None => DutiesClient::none(),
            Some(url) => {
                let credentials =
                    ServiceCredentials::from_env(env, IDENTITY.name).map_err(StartError::Other)?;
                DutiesClient::new(&url, credentials).map_err(|error| {
                    StartError::Config(ConfigError::Malformed {
                        name: "DUTIES_URL",
                        value: url.clone(),
                        reason: error,
                        expected: "an http:// URL such as http://duties:50052",
                    })
                })?
            }
        };
        Ok(Self {
            chassis,
            settings,
            duties,
        })
    }
}

/// Starts the service: migrations, relay, the escalation consumer, the
/// deadline worker, and the gRPC server.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env)?;
    let settings = Arc::new(config.settings);
    tracing::info!(
        urgent = %settings.report_in.urgent,
        normal = %settings.report_in.normal,
        duties = config.duties.is_configured(),
        "report-in limits"
    );
    let mut runtime = Runtime::start(&IDENTITY, config.chassis).await?;
    runtime.spawn_relay();
    runtime.spawn_consumer(
        events::case_escalated_consumer(),
        Arc::new(events::CaseEscalatedHandler {
            settings: settings.clone(),
        }),
    );
    let worker = worker::DeadlineWorker::new(
        runtime.pool.clone(),
        settings.clone(),
        config.duties.clone(),
    );
    runtime.spawn_worker(|shutdown| worker.run(shutdown));
    let service = grpc::EnforcementService {
        pool: runtime.pool.clone(),
        settings,
        duties: config.duties,
    };
    let routes = Routes::new(flatgov_grpc::bounded!(
        JointEnforcementServer::new(service),
        runtime
    ));
    runtime.serve(routes).await
}
