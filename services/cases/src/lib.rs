//! The flatgov cases service: case intake from every channel, triage, three-tier dispatch,
//! time limits on a working-day calendar, escalation, verification, the resident's rating and
//! the indicators computed from the recorded transitions.
//!
//! - [`domain`]: the pure rules (lifecycle, calendar, time limits, "me too", indicators).
//! - [`application`]: the use cases free of proto ([`application::intake`]: ReportCase;
//!   [`application::ops`]: applying and saving a transition).
//! - [`grpc`]: `flatgov.cases.v1.CaseDispatch`, under the policy table [`policy`], with
//!   [`access`] (which cases a caller reaches and how much of them they see).
//! - [`triage`]: the saga that places and dispatches cases through the block registry and
//!   the duty lists ([`directory`]), from a work queue in the database.
//! - [`deadlines`]: the worker that fires passed time limits and escalates.
//! - [`consumers`]: what other services' events do to cases ([`return_visits`]: the
//!   unrated closure after the notices service's return visit); [`events`]: what this
//!   service publishes.
//! - SQL lives in [`store`].

pub mod access;
pub mod application;
pub mod clock;
pub mod config;
pub mod consumers;
pub mod convert;
pub mod deadlines;
pub mod directory;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod policy;
pub mod render;
pub mod retention;
pub mod return_visits;
pub mod store;
pub mod triage;

use std::sync::Arc;

use flatgov_auth::ServiceCredentials;
use flatgov_config::Env;
use flatgov_grpc::{Application, Runtime, ServiceIdentity, StartError};
use flatgov_messaging::ConsumerSpec;
use flatgov_proto::cases::v1::case_dispatch_server::CaseDispatchServer;
use tonic::service::Routes;

pub use config::Config;

pub static IDENTITY: ServiceIdentity = ServiceIdentity {
    name: "cases",
    grpc_service: "flatgov.cases.v1.CaseDispatch",
    grpc_port: 50053,
    metrics_port: 9453,
    default_max_message_bytes: 4 * 1024 * 1024,
    migrator,
    policy: &policy::POLICY,
    // The case's recorded transitions are its history: appended, never changed.
    append_only_tables: &["case_records", "me_too_reports", "contact_erasures"],
};

fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

/// Starts the service from `env`: database, NATS, relay, consumers, the triage and
/// deadline workers, and the gRPC server.
pub async fn build(env: Env) -> Result<Application, StartError> {
    let config = Config::from_env(&env, &IDENTITY)?;
    let credentials =
        ServiceCredentials::from_env(&env, IDENTITY.name).map_err(StartError::Auth)?;
    let directory = directory::Directory::new(
        &config.blocks_url,
        &config.duties_url,
        credentials,
        &config.chassis.client_tls,
        config.triage.call_timeout,
    )
    .map_err(StartError::Other)?;
    let mut runtime = Runtime::start(&IDENTITY, config.chassis.clone()).await?;
    let shared = Arc::new(application::ops::Shared {
        pool: runtime.pool.clone(),
        clock: clock::Clock::new(config.test_controls),
        calendar: config.calendar.clone(),
        sla: config.sla.clone(),
        me_too: config.me_too,
    });
    shared
        .clock
        .refresh(&shared.pool)
        .await
        .map_err(|error| StartError::Other(format!("reading the test clock: {error}")))?;

    runtime.spawn_relay();
    let handlers = Arc::new(consumers::Handlers {
        shared: shared.clone(),
    });
    for (source, subject, durable) in events::CONSUMED {
        let spec = ConsumerSpec::new(*durable, source, subject, IDENTITY.name);
        runtime.spawn_consumer(spec, handlers.clone());
    }
    let worker = triage::TriageWorker {
        shared: shared.clone(),
        directory: directory.clone(),
        settings: config.triage.clone(),
        poll: config.worker_poll,
    };
    runtime.spawn_worker(|shutdown| worker.run(shutdown));
    {
        let shared = shared.clone();
        let poll = config.worker_poll;
        runtime.spawn_worker(move |shutdown| deadlines::run(shared, poll, shutdown));
    }
    {
        let shared = shared.clone();
        let months = config.reporter_contact_retention_months;
        let poll = config.worker_poll;
        runtime.spawn_worker(move |shutdown| retention::run(shared, months, poll, shutdown));
    }

    let service = grpc::CaseService::new(shared, directory);
    let routes = Routes::new(flatgov_grpc::bounded!(
        CaseDispatchServer::new(service),
        runtime
    ));
    runtime.serve(routes).await
}
