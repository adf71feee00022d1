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
//! * default-deny authorization from the service's policy table
//!   ([`authz`]): bearer tokens verified, roles checked before any handler,
//!   per-caller rate and concurrency limits, and an audit record of every
//!   write and personal-data read ([`audit_trail`], also served over gRPC);
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

pub mod audit_trail;
pub mod authz;
pub mod client;
pub mod config;
mod entry;
pub mod error;
pub mod event_delivery;
pub mod geo;
pub mod idempotency;
pub mod layers;
pub mod paging;
/// Request ids are part of the shared vocabulary.
pub use flatgov_db::clock;
pub use flatgov_db::store;
pub use flatgov_vocabulary::request_id;
pub mod runtime;
pub mod time;

pub use authz::access;
pub use config::{ChassisConfig, ClientTls, ServerConfig, ServerTls, ServiceIdentity};
pub use entry::{check_health, check_health_with, run_main};
pub use runtime::{Application, Runtime, StartError, migrate};
/// Re-exported for [`dispatch!`], so services need not name it.
pub use tonic::async_trait;

/// Implements a generated gRPC service trait by handing each RPC to its
/// handler, the one way every flatgov service dispatches:
///
/// ```ignore
/// flatgov_grpc::dispatch! {
///     impl CaseDispatch for CaseService {
///         fn report_case(proto::ReportCaseRequest) -> proto::ReportCaseResponse => intake::report_case;
///     }
/// }
/// ```
///
/// A handler is `async fn(&Service, &Access, Request) -> Result<Response, E>`
/// with `Status: From<E>`; the [`flatgov_auth::policy::Access`] comes from
/// the authorization layer, which has already checked the caller's role.
#[macro_export]
macro_rules! dispatch {
    (impl $trait:ident for $service:ty {
        $(fn $method:ident($request:ty) -> $response:ty => $handler:path;)*
    }) => {
        #[$crate::async_trait]
        impl $trait for $service {
            $(
                async fn $method(
                    &self,
                    request: ::tonic::Request<$request>,
                ) -> ::std::result::Result<::tonic::Response<$response>, ::tonic::Status> {
                    let access = $crate::access(&request)?.clone();
                    $handler(self, &access, request.into_inner())
                        .await
                        .map(::tonic::Response::new)
                        .map_err(::tonic::Status::from)
                }
            )*
        }
    };
}

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
