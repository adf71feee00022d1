//! The flatgov duties service: the published duty lists (权责清单) of a district, the
//! matter catalogue cases are classified against, who is responsible for a matter at a
//! place, and the gate that refuses pushing off-list matters down onto subdistricts and
//! residents' committees.
//!
//! [`domain`] holds the pure rules; [`rules`] keeps them in memory and [`store`]
//! reads and writes them; [`application`] holds the use cases, which [`grpc`] serves
//! as `flatgov.duties.v1.DutyLists` under [`policy`]; [`events`] publishes and
//! consumes; [`contract`] writes domain values as the shared proto types.

pub mod application;
pub mod contract;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod metrics;
pub mod policy;
pub mod rules;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use flatgov_config::Env;
use flatgov_grpc::{Application, ChassisConfig, Runtime, ServiceIdentity, StartError};
use flatgov_proto::duties::v1::duty_lists_server::DutyListsServer;
use tokio::sync::Notify;
use tonic::service::Routes;

use crate::application::Duties;
use crate::events::AnnouncerConfig;
use crate::grpc::DutyListsService;
use crate::metrics::Metrics;
use crate::rules::RulesCache;

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "duties",
    grpc_service: "flatgov.duties.v1.DutyLists",
    grpc_port: 50052,
    metrics_port: 9452,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator: || sqlx::migrate!("./migrations"),
    policy: &policy::POLICY,
    // The records of what happened: the gate's refusals and the
    // subdistricts' assessments and opinions are never changed or deleted.
    append_only_tables: &["refusals", "assessments", "opinions"],
};

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub chassis: ChassisConfig,
    /// The longest the catalogue announcer sleeps between looks at its
    /// schedule (`DUTIES_ANNOUNCER_MAX_SLEEP_SECONDS`): announcements
    /// another replica scheduled fire at most this late.
    pub announcer_max_sleep: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, StartError> {
        Ok(Self {
            chassis: ChassisConfig::from_env(env, &IDENTITY)?,
            announcer_max_sleep: Duration::from_secs(env.optional(
                "DUTIES_ANNOUNCER_MAX_SLEEP_SECONDS",
                30u64,
                "whole seconds, e.g. 30",
            )?),
        })
    }
}

/// Starts the duty lists service from `env`.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env)?;
    let mut runtime = Runtime::start(&IDENTITY, config.chassis).await?;
    runtime.spawn_relay();
    runtime.spawn_consumer(
        events::agency_rated_consumer(),
        Arc::new(events::AgencyRatedHandler),
    );
    let rules = Arc::new(RulesCache::default());
    let announcer = Arc::new(Notify::new());
    let clock = flatgov_grpc::clock::Clock::system();
    {
        let pool = runtime.pool.clone();
        let rules = rules.clone();
        let wake = announcer.clone();
        let clock = clock.clone();
        let announcer_config = AnnouncerConfig {
            max_sleep: config.announcer_max_sleep,
        };
        runtime.spawn_worker(move |shutdown| {
            events::run_announcer(pool, rules, wake, announcer_config, clock, shutdown)
        });
    }
    let metrics = Metrics::register(&mut runtime.registry);
    let service = DutyListsService::new(Duties {
        pool: runtime.pool.clone(),
        rules,
        metrics,
        announcer,
        clock,
    });
    let routes = Routes::new(flatgov_grpc::bounded!(
        DutyListsServer::new(service),
        runtime
    ));
    runtime.serve(routes).await
}
