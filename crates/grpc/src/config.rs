//! What identifies a service and the configuration every service shares.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use flatgov_auth::AuthConfig;
use flatgov_auth::policy::Policy;
use flatgov_config::{ConfigError, Env};
use flatgov_db::DatabaseConfig;
use flatgov_messaging::BusConfig;
use flatgov_telemetry::TelemetryConfig;

use crate::audit_trail::AuditConfig;
use crate::authz::LimitsConfig;

/// Fixed facts about one service, declared once in its crate.
#[derive(Debug, Clone, Copy)]
pub struct ServiceIdentity {
    /// Short name: `cases`. Names the stream, the event source, the logs.
    pub name: &'static str,
    /// Fully-qualified gRPC service, e.g. `flatgov.cases.v1.CaseDispatch`.
    pub grpc_service: &'static str,
    /// Default gRPC port (50051–50055).
    pub grpc_port: u16,
    /// Default Prometheus port (9451–9455).
    pub metrics_port: u16,
    /// Default upper bound of a bulk (import) request and of any response, in bytes.
    pub default_max_message_bytes: usize,
    /// The service's own migrations (embedded with `sqlx::migrate!`).
    pub migrator: fn() -> sqlx::migrate::Migrator,
    /// Who may call which RPC: the service's policy table.
    pub policy: &'static Policy,
    /// History tables the application may append to but never change or
    /// delete from (case records, enforcement actions).
    pub append_only_tables: &'static [&'static str],
}

impl ServiceIdentity {
    /// `flatgov-cases`: the binary and OpenTelemetry service name.
    pub fn process_name(&self) -> String {
        format!("flatgov-{}", self.name)
    }
}

/// The server's certificate, and whether callers must present one (mTLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// When set, every caller must present a certificate this authority issued.
    pub client_ca_file: Option<PathBuf>,
}

/// How this process verifies the services it calls, and the certificate it
/// presents to them when they require one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// The authority `https://` services' certificates must chain to; without it
    /// the system's roots are used.
    pub ca_file: Option<PathBuf>,
    /// The client certificate and key for services that require mTLS.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl ClientTls {
    pub fn from_env(env: &Env, server: Option<&ServerTls>) -> Result<Self, ConfigError> {
        let ca_file: Option<PathBuf> = env.maybe(
            "GRPC_TLS_CA_FILE",
            "the PEM certificate authority that https:// services' certificates chain to",
        )?;
        let cert: Option<PathBuf> = env.maybe(
            "GRPC_TLS_CLIENT_CERT_FILE",
            "the PEM client certificate presented to services that require mTLS",
        )?;
        let key: Option<PathBuf> = env.maybe(
            "GRPC_TLS_CLIENT_KEY_FILE",
            "the PEM key of GRPC_TLS_CLIENT_CERT_FILE",
        )?;
        let identity = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => server.map(|tls| (tls.cert_file.clone(), tls.key_file.clone())),
            _ => {
                return Err(ConfigError::Malformed {
                    name: "GRPC_TLS_CLIENT_CERT_FILE",
                    value: "[one of certificate and key]".into(),
                    reason: "set both GRPC_TLS_CLIENT_CERT_FILE and GRPC_TLS_CLIENT_KEY_FILE, or neither".into(),
                    expected: "a PEM client certificate and its key",
                });
            }
        };
        Ok(Self { ca_file, identity })
    }
}

/// Listener and limit settings of the gRPC server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where gRPC is served; port 0 picks a free port (tests).
    pub grpc_addr: SocketAddr,
    /// Where `/metrics` is served; port 0 picks a free port (tests).
    pub metrics_addr: SocketAddr,
    /// Largest accepted request of a bulk (import) RPC and largest sent response.
    pub max_message_bytes: usize,
    /// Largest accepted request of every other RPC: a report or a lookup never needs
    /// the import limit, and a caller cannot make the server buffer one.
    pub max_request_bytes: usize,
    /// How long shutdown waits for in-flight calls, then for the relay.
    pub shutdown_grace: Duration,
    /// TLS for the gRPC listener; plaintext when `None`.
    pub tls: Option<ServerTls>,
}

impl ServerConfig {
    pub fn from_env(env: &Env, identity: &ServiceIdentity) -> Result<Self, ConfigError> {
        Ok(Self {
            grpc_addr: env.optional(
                "GRPC_LISTEN_ADDR",
                SocketAddr::from(([0, 0, 0, 0], identity.grpc_port)),
                "host:port, e.g. 0.0.0.0:50053",
            )?,
            metrics_addr: env.optional(
                "METRICS_LISTEN_ADDR",
                SocketAddr::from(([0, 0, 0, 0], identity.metrics_port)),
                "host:port, e.g. 0.0.0.0:9453",
            )?,
            max_message_bytes: env.optional(
                "GRPC_MAX_MESSAGE_BYTES",
                identity.default_max_message_bytes,
                "a size in bytes",
            )?,
            max_request_bytes: env.optional(
                "GRPC_MAX_REQUEST_BYTES",
                1024 * 1024,
                "a size in bytes",
            )?,
            shutdown_grace: Duration::from_secs(env.optional(
                "SHUTDOWN_GRACE_SECONDS",
                25,
                "whole seconds",
            )?),
            tls: server_tls(env)?,
        })
    }
}

fn server_tls(env: &Env) -> Result<Option<ServerTls>, ConfigError> {
    let cert: Option<PathBuf> = env.maybe(
        "GRPC_TLS_CERT_FILE",
        "the PEM certificate chain the gRPC listener presents (TLS on when set)",
    )?;
    let key: Option<PathBuf> =
        env.maybe("GRPC_TLS_KEY_FILE", "the PEM key of GRPC_TLS_CERT_FILE")?;
    let client_ca_file: Option<PathBuf> = env.maybe(
        "GRPC_TLS_CLIENT_CA_FILE",
        "the PEM authority callers' certificates must chain to (mTLS required when set)",
    )?;
    match (cert, key) {
        (Some(cert_file), Some(key_file)) => Ok(Some(ServerTls {
            cert_file,
            key_file,
            client_ca_file,
        })),
        (None, None) if client_ca_file.is_none() => Ok(None),
        _ => Err(ConfigError::Malformed {
            name: "GRPC_TLS_CERT_FILE",
            value: "[incomplete]".into(),
            reason: "TLS needs both GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE (and mTLS needs TLS)"
                .into(),
            expected: "a PEM certificate chain and its key",
        }),
    }
}

/// Everything the chassis needs to run a service.
#[derive(Debug, Clone)]
pub struct ChassisConfig {
    pub database: DatabaseConfig,
    pub bus: BusConfig,
    pub auth: AuthConfig,
    pub server: ServerConfig,
    pub telemetry: TelemetryConfig,
    pub limits: LimitsConfig,
    pub audit: AuditConfig,
    /// How calls to other services are secured.
    pub client_tls: ClientTls,
    /// Counted failed publishes after which the relay parks an outbox row
    /// (`OUTBOX_MAX_PUBLISH_ATTEMPTS`).
    pub outbox_max_attempts: i32,
}

impl ChassisConfig {
    /// Reads every shared variable, reporting the first one that is missing
    /// or malformed by name.
    pub fn from_env(env: &Env, identity: &ServiceIdentity) -> Result<Self, ConfigError> {
        let server = ServerConfig::from_env(env, identity)?;
        Ok(Self {
            database: DatabaseConfig::from_env(env)?,
            bus: BusConfig::from_env(env)?,
            auth: AuthConfig::from_env(env, identity.name)?,
            server: server.clone(),
            telemetry: TelemetryConfig::from_env(env)?,
            limits: LimitsConfig::from_env(env)?,
            audit: AuditConfig::from_env(env)?,
            client_tls: ClientTls::from_env(env, server.tls.as_ref())?,
            outbox_max_attempts: outbox_max_attempts(env)?,
        })
    }
}

fn outbox_max_attempts(env: &Env) -> Result<i32, ConfigError> {
    const EXPECTED: &str = "failed publishes (1 to 1000) after which an outbox row is parked";
    let attempts: i32 = env.optional(
        "OUTBOX_MAX_PUBLISH_ATTEMPTS",
        flatgov_messaging::relay::DEFAULT_MAX_ATTEMPTS,
        EXPECTED,
    )?;
    if !(1..=1000).contains(&attempts) {
        return Err(ConfigError::Malformed {
            name: "OUTBOX_MAX_PUBLISH_ATTEMPTS",
            value: attempts.to_string(),
            reason: "must be between 1 and 1000".into(),
            expected: EXPECTED,
        });
    }
    Ok(attempts)
}
