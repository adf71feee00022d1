//! The service's configuration: the chassis' variables and its own,
//! read once at start, each failure naming the variable.

use flatgov_auth::ServiceCredentials;
use flatgov_config::{ConfigError, Env};
use flatgov_grpc::{ChassisConfig, ServiceIdentity, StartError};

use crate::domain::{AgencyCode, LimitDuration, ReportInLimits};
use crate::duties::DutiesClient;

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
    pub(crate) duties: DutiesClient,
}

impl Config {
    /// Reads the service's variables; `identity` is the service's.
    pub fn from_env(env: &Env, identity: &ServiceIdentity) -> Result<Self, StartError> {
        let chassis = ChassisConfig::from_env(env, identity)?;
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
                    ServiceCredentials::from_env(env, identity.name).map_err(StartError::Other)?;
                DutiesClient::new(&url, credentials, &chassis.client_tls).map_err(|error| {
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
