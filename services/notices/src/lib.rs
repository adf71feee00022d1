//! The flatgov notices service: timely feedback (及时反馈) to the people who
//! report. Consuming the cases service's events, it tells a reporter who is
//! not anonymous about each milestone of their case — received (with the
//! case number and who handles it), accepted, resolved (with a request to
//! rate), closed, reopened — in zh-CN, through the gateway serving the
//! case's channel: a signed webhook (SMS providers, 12345 systems) or a
//! WeCom group robot. The contact is fetched from the cases service at the
//! moment of sending ([`cases`], the claim check) and never kept.
//!
//! A verified case its reporter does not rate gets a return visit (回访)
//! after N working days and, still unrated M working days later, is closed
//! as unrated by the cases service ([`return_visits`]).
//!
//! Block notices (防汛, 防溺水, …) go to the WeCom group robots of every
//! block under a block, community or subdistrict, part by part, with the
//! delivery to each block recorded ([`delivery::notices`]).
//!
//! [`domain`] holds the pure rules; [`events`] records the messages due;
//! [`delivery`] sends them with retries and records every attempt;
//! [`application`] holds the use cases, which [`grpc`] serves as
//! `flatgov.notices.v1.Notices` under [`policy`]; SQL lives in [`store`].

pub mod application;
pub mod blocks;
pub mod cases;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod policy;
pub mod return_visits;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use flatgov_calendar::{WorkingCalendar, WorkingDuration, WorkingHours};
use flatgov_config::{ConfigError, Env};
use flatgov_grpc::{Application, ChassisConfig, Runtime, ServiceIdentity, StartError};
use flatgov_proto::notices::v1::notices_server::NoticesServer;
use tokio::sync::Notify;
use tonic::service::Routes;

use crate::application::Notices;
use crate::blocks::BlocksClient;
use crate::cases::CasesClient;
use crate::delivery::notices::NoticeDeliverer;
use crate::delivery::{Deliverer, DeliveryConfig};
use crate::events::MilestoneHandler;
use crate::grpc::NoticesService;
use crate::return_visits::ReturnVisitRules;

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "notices",
    grpc_service: "flatgov.notices.v1.Notices",
    grpc_port: 50056,
    metrics_port: 9456,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator: || sqlx::migrate!("./migrations"),
    policy: &policy::POLICY,
    // Every delivery attempt, as it ended, is kept as it was.
    append_only_tables: &["delivery_attempts", "notice_attempts"],
};

/// Everything the service reads from its environment.
pub struct Config {
    pub chassis: ChassisConfig,
    /// The cases service, asked for reporters' contacts (`CASES_URL`).
    pub cases: CasesClient,
    /// The block registry, which counts notices' audiences (`BLOCKS_URL`).
    pub blocks: BlocksClient,
    pub delivery: DeliveryConfig,
    /// How soon after its case event a message counts as on time
    /// (`NOTICES_FEEDBACK_ON_TIME_SECONDS`).
    pub feedback_on_time: Duration,
    pub return_visits: ReturnVisitRules,
}

fn seconds(
    env: &Env,
    name: &'static str,
    default: u64,
    expected: &'static str,
) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(env.optional(name, default, expected)?))
}

/// A working duration (`3d`, `4h`, `30m`), three working days by default.
fn working_duration(
    env: &Env,
    name: &'static str,
    expected: &'static str,
) -> Result<WorkingDuration, ConfigError> {
    const DEFAULT: &str = "3d";
    let text: String = env.optional(name, DEFAULT.to_owned(), expected)?;
    WorkingDuration::parse(&text).map_err(|error| ConfigError::Malformed {
        name,
        value: text.clone(),
        reason: error.to_string(),
        expected,
    })
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, StartError> {
        let chassis = ChassisConfig::from_env(env, &IDENTITY)?;
        let cases_url: String = env.required(
            "CASES_URL",
            "the cases service, e.g. http://cases:50053 (reporters' contacts are fetched from it)",
        )?;
        let blocks_url: String = env.required(
            "BLOCKS_URL",
            "the block registry, e.g. http://blocks:50051 (notices' audiences are counted from it)",
        )?;
        let credentials =
            ServiceCredentials::from_env(env, IDENTITY.name).map_err(StartError::Other)?;
        let blocks = BlocksClient::new(&blocks_url, credentials.clone(), &chassis.client_tls)
            .map_err(|error| {
                StartError::Config(ConfigError::Malformed {
                    name: "BLOCKS_URL",
                    value: blocks_url.clone(),
                    reason: error,
                    expected: "an http:// or https:// URL such as http://blocks:50051",
                })
            })?;
        let cases =
            CasesClient::new(&cases_url, credentials, &chassis.client_tls).map_err(|error| {
                StartError::Config(ConfigError::Malformed {
                    name: "CASES_URL",
                    value: cases_url.clone(),
                    reason: error,
                    expected: "an http:// or https:// URL such as http://cases:50053",
                })
            })?;
        let delivery = DeliveryConfig {
            max_attempts: env.optional(
                "NOTICES_DELIVERY_MAX_ATTEMPTS",
                8,
                "a whole number of attempts, e.g. 8, before a message is given up",
            )?,
            initial_backoff: Duration::from_millis(env.optional(
                "NOTICES_DELIVERY_RETRY_INITIAL_MS",
                5_000u64,
                "milliseconds before the first retry, e.g. 5000",
            )?),
            max_backoff: seconds(
                env,
                "NOTICES_DELIVERY_RETRY_MAX_SECONDS",
                300,
                "the longest wait between retries in whole seconds, e.g. 300",
            )?,
            rate_limit_pause: Duration::from_millis(env.optional(
                "NOTICES_RATE_LIMIT_PAUSE_MS",
                60_000u64,
                "milliseconds a rate-limited gateway is left alone, e.g. 60000 (WeCom allows 20 messages a minute)",
            )?),
            poll: Duration::from_millis(env.optional(
                "NOTICES_DELIVERY_POLL_MS",
                500u64,
                "milliseconds between the delivery worker's looks at what is due, e.g. 500",
            )?),
            concurrency: env.optional(
                "NOTICES_DELIVERY_CONCURRENCY",
                4usize,
                "delivery workers per process, for feedback (each sending a batch at once) and for notices, e.g. 4",
            )?,
            request_timeout: seconds(
                env,
                "NOTICES_GATEWAY_TIMEOUT_SECONDS",
                10,
                "whole seconds a gateway may take to answer, e.g. 10",
            )?,
        };
        if delivery.max_attempts < 1 || delivery.concurrency < 1 {
            return Err(StartError::Other(
                "NOTICES_DELIVERY_MAX_ATTEMPTS and NOTICES_DELIVERY_CONCURRENCY must be at least 1"
                    .into(),
            ));
        }
        let hours_text = env.optional(
            "NOTICES_WORKING_HOURS",
            WorkingHours::default().to_string(),
            "working periods in China time, e.g. `08:30-12:00,14:30-17:30`",
        )?;
        let hours = WorkingHours::parse(&hours_text).map_err(|error| {
            StartError::Config(ConfigError::Malformed {
                name: "NOTICES_WORKING_HOURS",
                value: hours_text.clone(),
                reason: error.to_string(),
                expected: "working periods in China time, e.g. `08:30-12:00,14:30-17:30`",
            })
        })?;
        let calendar = WorkingCalendar::bundled(hours)
            .map_err(|error| StartError::Other(format!("the bundled working calendar: {error}")))?;
        let return_visits = ReturnVisitRules {
            calendar,
            after: working_duration(
                env,
                "NOTICES_RETURN_VISIT_AFTER",
                "working time from verification to the return visit, e.g. 3d (or 4h, 30m)",
            )?,
            expiry: working_duration(
                env,
                "NOTICES_RETURN_VISIT_EXPIRY",
                "working time from the return visit to the unrated closure, e.g. 3d",
            )?,
        };
        let feedback_on_time = seconds(
            env,
            "NOTICES_FEEDBACK_ON_TIME_SECONDS",
            3600,
            "whole seconds after a case event within which its message counts as on time, e.g. 3600",
        )?;
        Ok(Self {
            chassis,
            cases,
            blocks,
            delivery,
            feedback_on_time,
            return_visits,
        })
    }
}

/// Starts the notices service from `env`.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env)?;
    let mut runtime = Runtime::start(&IDENTITY, config.chassis).await?;
    runtime.spawn_relay();
    let wake = Arc::new(Notify::new());
    let return_visit_rules = Arc::new(config.return_visits);
    let handler = Arc::new(MilestoneHandler {
        wake: wake.clone(),
        return_visits: return_visit_rules.clone(),
    });
    for spec in events::consumers() {
        for _ in 0..events::PULLERS_PER_SUBJECT {
            runtime.spawn_consumer(spec.clone(), handler.clone());
        }
    }
    let http = reqwest::Client::builder()
        .timeout(config.delivery.request_timeout)
        .connect_timeout(Duration::from_secs(3))
        // A gateway's redirect could carry a message (and its contact)
        // somewhere nobody registered.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| StartError::Other(format!("HTTP client: {error}")))?;
    let deliverer = Deliverer {
        pool: runtime.pool.clone(),
        cases: config.cases,
        http,
        robots: Arc::default(),
        config: Arc::new(config.delivery),
    };
    for _ in 0..deliverer.config.concurrency {
        let deliverer = deliverer.clone();
        let wake = wake.clone();
        runtime.spawn_worker(move |shutdown| deliverer.run(wake, shutdown));
    }
    {
        let pool = runtime.pool.clone();
        let wake = wake.clone();
        let poll = deliverer.config.poll;
        runtime.spawn_worker(move |shutdown| {
            return_visits::run(pool, return_visit_rules, wake, poll, shutdown)
        });
    }
    let notice_wake = Arc::new(Notify::new());
    let notice_deliverer = NoticeDeliverer {
        pool: runtime.pool.clone(),
        http: deliverer.http.clone(),
        robots: deliverer.robots.clone(),
        config: deliverer.config.clone(),
    };
    for _ in 0..deliverer.config.concurrency {
        let notice_deliverer = notice_deliverer.clone();
        let wake = notice_wake.clone();
        runtime.spawn_worker(move |shutdown| notice_deliverer.run(wake, shutdown));
    }
    let service = NoticesService::new(Notices {
        pool: runtime.pool.clone(),
        notice_wake,
        blocks: config.blocks,
        feedback_on_time: config.feedback_on_time,
    });
    let routes = Routes::new(flatgov_grpc::bounded!(NoticesServer::new(service), runtime));
    runtime.serve(routes).await
}
