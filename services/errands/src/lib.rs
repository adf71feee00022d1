//! The flatgov errands service: convenience matters (便民事项) handled through
//! the block team on residents' behalf (帮代办) — a versioned catalogue of
//! matters with their deciding departments, materials checklists, proxy
//! and in-person rules, statutory and promised time limits on the working
//! calendar and fees; errands from request to the resident being told, with
//! the one-time notice of missing materials (一次性告知), returns, trips saved
//! and the speed-up rate (便民事项办理提速率).
//!
//! [`domain`] holds the pure rules; [`store`] reads and writes them;
//! [`application`] holds the use cases, which [`grpc`] serves as
//! `flatgov.errands.v1.Errands` under [`policy`]; [`events`] publishes;
//! [`clock`] is the injected clock.

pub mod application;
pub mod clock;
pub mod contract;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod policy;
pub mod store;

use std::sync::Arc;

use flatgov_calendar::{WorkingCalendar, WorkingHours};
use flatgov_config::{ConfigError, Env};
use flatgov_grpc::{Application, ChassisConfig, Runtime, ServiceIdentity, StartError};
use flatgov_proto::errands::v1::errands_server::ErrandsServer;
use tonic::service::Routes;

use crate::application::Errands;
use crate::clock::Clock;
use crate::grpc::ErrandsService;

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "errands",
    grpc_service: "flatgov.errands.v1.Errands",
    grpc_port: 50058,
    metrics_port: 9458,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator: || sqlx::migrate!("./migrations"),
    policy: &policy::POLICY,
    // A step taken, a document collected, a notice given, a return or a
    // decision are records: never changed or deleted (a document given
    // again after a return is a new row).
    append_only_tables: &[
        "transitions",
        "documents",
        "notices",
        "returns",
        "decisions",
    ],
};

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub chassis: ChassisConfig,
    /// The working calendar time limits are counted on
    /// (`ERRANDS_WORKING_HOURS`, the bundled holiday files).
    pub calendar: WorkingCalendar,
    /// Whether `AdvanceTestClock` may move the clock
    /// (`ERRANDS_TEST_CONTROLS`, test deployments only).
    pub test_controls: bool,
}

fn malformed(
    name: &'static str,
    value: &str,
    reason: impl ToString,
    expected: &'static str,
) -> ConfigError {
    ConfigError::Malformed {
        name,
        value: value.to_owned(),
        reason: reason.to_string(),
        expected,
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, StartError> {
        const HOURS_EXPECTED: &str =
            "working periods in China time, e.g. `08:30-12:00,14:30-17:30`";
        let hours_text = env.optional(
            "ERRANDS_WORKING_HOURS",
            WorkingHours::default().to_string(),
            HOURS_EXPECTED,
        )?;
        let hours = WorkingHours::parse(&hours_text).map_err(|error| {
            malformed("ERRANDS_WORKING_HOURS", &hours_text, error, HOURS_EXPECTED)
        })?;
        let calendar = WorkingCalendar::bundled(hours).map_err(|error| {
            malformed(
                "ERRANDS_WORKING_HOURS",
                &hours_text,
                error,
                "the bundled holiday files",
            )
        })?;
        const CONTROLS_EXPECTED: &str =
            "`disabled` (production) or `enabled` (test deployments: AdvanceTestClock)";
        let controls = env.optional(
            "ERRANDS_TEST_CONTROLS",
            "disabled".to_owned(),
            CONTROLS_EXPECTED,
        )?;
        let test_controls = match controls.as_str() {
            "disabled" => false,
            "enabled" => true,
            other => {
                return Err(malformed(
                    "ERRANDS_TEST_CONTROLS",
                    other,
                    "unknown value",
                    CONTROLS_EXPECTED,
                )
                .into());
            }
        };
        Ok(Self {
            chassis: ChassisConfig::from_env(env, &IDENTITY)?,
            calendar,
            test_controls,
        })
    }
}

/// Starts the errands service from `env`.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env)?;
    let mut runtime = Runtime::start(&IDENTITY, config.chassis).await?;
    runtime.spawn_relay();
    let errands = Arc::new(Errands {
        pool: runtime.pool.clone(),
        clock: Clock::new(config.test_controls),
        calendar: config.calendar,
    });
    let service = ErrandsService::new(errands);
    let routes = Routes::new(flatgov_grpc::bounded!(ErrandsServer::new(service), runtime));
    runtime.serve(routes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_controls_are_off_unless_enabled_and_a_wrong_word_names_the_variable() {
        let base = [
            (
                "DATABASE_URL",
                "postgres://localhost/flatgov_errands".to_owned(),
            ),
            ("NATS_URL", "nats://localhost:4222".to_owned()),
        ];
        let wrong = Env::from_pairs(
            base.iter()
                .cloned()
                .chain([("ERRANDS_TEST_CONTROLS", "yes".to_owned())]),
        );
        let error = Config::from_env(&wrong).unwrap_err();
        assert!(error.to_string().contains("ERRANDS_TEST_CONTROLS"));
    }
}
