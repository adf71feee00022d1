//! The gRPC server chassis every flatgov service runs on.
//!
//! A service declares its [`ServiceIdentity`], reads its configuration with
//! [`ChassisConfig::from_env`] (plus its own variables), calls
//! [`Runtime::start`] (database created and migrated, NATS connected, streams
//! provisioned, token key loaded), spawns its relay, consumers and workers,
//! and hands its generated servers to [`Runtime::serve`], which adds:
//!
//! * `grpc.health.v1` that reports NOT_SERVING while PostgreSQL or NATS is
//!   unreachable and SERVING again when both answer;
//! * server reflection (v1 and v1alpha) listing the service and health;
//! * bearer-token authentication on everything but health and reflection;
//! * a span per call continuing the caller's W3C trace, and Prometheus
//!   requests/errors/latency per RPC plus outbox backlog and consumer lag on
//!   a separate HTTP port (`/metrics`);
//! * deadlines (`grpc-timeout`) honoured, with a 60 s ceiling;
//! * graceful shutdown on SIGTERM/SIGINT that drains in-flight calls, then
//!   lets the relay publish what they committed.
//!
//! The binary's `main` is one call to [`run_main`].
//!
//! Plumbing every service's transport layer shares lives here too, once:
//! [`error`] (statuses, field violations), [`time`] (protobuf timestamps ⇄
//! chrono) and [`paging`] (page sizes and query-bound page tokens).

pub mod client;
pub mod config;
mod entry;
pub mod error;
pub mod layers;
pub mod paging;
pub mod request_id;
pub mod runtime;
pub mod time;

pub use config::{ChassisConfig, ServerConfig, ServiceIdentity};
pub use entry::{check_health, run_main};
pub use runtime::{Application, Runtime, StartError, migrate};

/// Applies the configured message size bound to a generated tonic server:
/// `Routes::new(bounded!(CaseDispatchServer::new(service), runtime))`.
#[macro_export]
macro_rules! bounded {
    ($server:expr, $runtime:expr) => {{
        let max_message_bytes = $runtime.max_message_bytes();
        $server
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes)
    }};
}
