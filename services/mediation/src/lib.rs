//! The flatgov mediation service: disputes (矛盾纠纷) through the
//! three-mediation linkage (三调联动) — people's mediation by the
//! community's mediation committee, administrative mediation by the
//! competent department or the subdistrict's justice office, judicial
//! mediation or referral to the court — with their parties, sessions,
//! hand-overs, time limits on the working calendar and agreements.
//!
//! [`domain`] holds the pure rules; [`store`] reads and writes them;
//! [`application`] holds the use cases, which [`grpc`] serves as
//! `flatgov.mediation.v1.Mediation` under [`policy`]; [`events`] publishes;
//! [`deadlines`] fires passed time limits; [`clock`] is the injected clock.

pub mod application;
pub mod clock;
pub mod contract;
pub mod deadlines;
pub mod domain;
pub mod duties;
pub mod error;
pub mod events;
pub mod grpc;
pub mod policy;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use flatgov_calendar::{WorkingCalendar, WorkingDuration, WorkingHours};
use flatgov_config::{ConfigError, Env};
use flatgov_grpc::{Application, ChassisConfig, Runtime, ServiceIdentity, StartError};
use flatgov_proto::mediation::v1::mediation_server::MediationServer;
use tonic::service::Routes;

use crate::application::{Mediation, TimeLimits};
use crate::clock::Clock;
use crate::duties::Duties;
use crate::grpc::MediationService;

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "mediation",
    grpc_service: "flatgov.mediation.v1.Mediation",
    grpc_port: 50057,
    metrics_port: 9457,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator: || sqlx::migrate!("./migrations"),
    policy: &policy::POLICY,
    // What was said in a session or a consultation and who accepted an
    // agreement are records:
    // never changed or deleted.
    append_only_tables: &["sessions", "acceptances", "consultations"],
};

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub chassis: ChassisConfig,
    /// The working calendar time limits are counted on
    /// (`MEDIATION_WORKING_HOURS`, the bundled holiday files).
    pub calendar: WorkingCalendar,
    /// Each level's time limit (`MEDIATION_TIME_LIMITS`).
    pub time_limits: TimeLimits,
    /// How often the overdue worker looks for passed limits
    /// (`MEDIATION_WORKER_POLL_MS`).
    pub worker_poll: Duration,
    /// Whether `AdvanceTestClock` may move the clock
    /// (`MEDIATION_TEST_CONTROLS`, test deployments only).
    pub test_controls: bool,
    /// The duty lists (`DUTIES_URL`, signed with `AUTH_SIGNING_KEY_FILE`);
    /// unset, the justice office mediates whenever no department is named.
    pub duties: Duties,
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

/// Reads `peoples,administrative,judicial` limits such as `30d,30d,60d`.
fn time_limits(env: &Env) -> Result<TimeLimits, ConfigError> {
    const EXPECTED: &str = "three working durations `peoples,administrative,judicial`, each <n>m, <n>h or <n>d, e.g. `30d,30d,60d`";
    let text = env.optional(
        "MEDIATION_TIME_LIMITS",
        TimeLimits::default().to_string(),
        EXPECTED,
    )?;
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [peoples, administrative, judicial] = parts.as_slice() else {
        return Err(malformed(
            "MEDIATION_TIME_LIMITS",
            &text,
            "expected three durations",
            EXPECTED,
        ));
    };
    let parse = |part: &str| {
        WorkingDuration::parse(part)
            .map_err(|error| malformed("MEDIATION_TIME_LIMITS", &text, error, EXPECTED))
    };
    Ok(TimeLimits {
        peoples: parse(peoples)?,
        administrative: parse(administrative)?,
        judicial: parse(judicial)?,
    })
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, StartError> {
        const HOURS_EXPECTED: &str =
            "working periods in China time, e.g. `08:30-12:00,14:30-17:30`";
        let hours_text = env.optional(
            "MEDIATION_WORKING_HOURS",
            WorkingHours::default().to_string(),
            HOURS_EXPECTED,
        )?;
        let hours = WorkingHours::parse(&hours_text).map_err(|error| {
            malformed(
                "MEDIATION_WORKING_HOURS",
                &hours_text,
                error,
                HOURS_EXPECTED,
            )
        })?;
        let calendar = WorkingCalendar::bundled(hours).map_err(|error| {
            malformed(
                "MEDIATION_WORKING_HOURS",
                &hours_text,
                error,
                "the bundled holiday files",
            )
        })?;
        const CONTROLS_EXPECTED: &str =
            "`disabled` (production) or `enabled` (test deployments: AdvanceTestClock)";
        let controls = env.optional(
            "MEDIATION_TEST_CONTROLS",
            "disabled".to_owned(),
            CONTROLS_EXPECTED,
        )?;
        let test_controls = match controls.as_str() {
            "disabled" => false,
            "enabled" => true,
            other => {
                return Err(malformed(
                    "MEDIATION_TEST_CONTROLS",
                    other,
                    "unknown value",
                    CONTROLS_EXPECTED,
                )
                .into());
            }
        };
        let chassis = ChassisConfig::from_env(env, &IDENTITY)?;
        let duties_url: Option<String> = env.maybe(
            "DUTIES_URL",
            "the duty lists service, e.g. https://duties:50052 (unset: the justice office mediates when no department is named)",
        )?;
        let duties = match duties_url {
            None => Duties::default(),
            Some(url) => {
                let credentials =
                    ServiceCredentials::from_env(env, IDENTITY.name).map_err(StartError::Other)?;
                Duties::new(&url, credentials, &chassis.client_tls).map_err(|error| {
                    malformed(
                        "DUTIES_URL",
                        &url,
                        error,
                        "a URL such as https://duties:50052",
                    )
                })?
            }
        };
        Ok(Self {
            chassis,
            duties,
            calendar,
            time_limits: time_limits(env)?,
            worker_poll: Duration::from_millis(env.optional(
                "MEDIATION_WORKER_POLL_MS",
                1000u64,
                "milliseconds between the overdue worker's looks for passed limits",
            )?),
            test_controls,
        })
    }
}

/// Starts the mediation service from `env`.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env)?;
    let mut runtime = Runtime::start(&IDENTITY, config.chassis).await?;
    runtime.spawn_relay();
    let mediation = Arc::new(Mediation {
        pool: runtime.pool.clone(),
        clock: Clock::new(config.test_controls),
        calendar: config.calendar,
        time_limits: config.time_limits,
        duties: config.duties,
    });
    {
        let mediation = mediation.clone();
        let poll = config.worker_poll;
        runtime.spawn_worker(move |shutdown| deadlines::run(mediation, poll, shutdown));
    }
    let service = MediationService::new(mediation);
    let routes = Routes::new(flatgov_grpc::bounded!(
        MediationServer::new(service),
        runtime
    ));
    runtime.serve(routes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_default_to_thirty_working_days_of_peoples_mediation_and_name_the_variable_when_malformed()
     {
        let limits = time_limits(&Env::from_pairs([("UNRELATED", "1".to_owned())])).unwrap();
        assert_eq!(limits.peoples.to_string(), "30d");
        let error = time_limits(&Env::from_pairs([(
            "MEDIATION_TIME_LIMITS",
            "30d,30d".to_owned(),
        )]))
        .unwrap_err();
        assert!(error.to_string().contains("MEDIATION_TIME_LIMITS"));
    }
}
