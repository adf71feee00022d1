//! The `main` of every service binary: `flatgov-<svc>` serves,
//! `flatgov-<svc> migrate` applies migrations and exits,
//! `flatgov-<svc> health-check` asks the local server whether it is SERVING.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use flatgov_config::Env;
use flatgov_telemetry::TelemetryConfig;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::config::{ServerConfig, ServiceIdentity};
use crate::runtime::{Application, StartError};

/// Runs the binary of `identity`; `build` starts the service from the
/// process environment.
pub fn run_main<F, Fut>(identity: &'static ServiceIdentity, build: F) -> ExitCode
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Result<Application, StartError>>,
{
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let command = arguments.first().map(String::as_str);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        None | Some("serve") => runtime.block_on(serve(identity, build)),
        Some("migrate") => runtime.block_on(migrate_only(identity)),
        Some("health-check") => {
            let live_only = arguments
                .get(1)
                .is_some_and(|argument| argument == "--live");
            runtime.block_on(health_check(identity, live_only))
        }
        Some("-h" | "--help" | "help") => {
            println!("{}", usage(identity));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n\n{}", usage(identity));
            ExitCode::from(2)
        }
    }
}

fn usage(identity: &ServiceIdentity) -> String {
    let name = identity.process_name();
    format!(
        "{name}: the flatgov {service} service ({grpc}).\n\n\
         usage:\n  {name}                serve gRPC on GRPC_LISTEN_ADDR (default 0.0.0.0:{port})\n  \
         {name} migrate        apply database migrations and exit\n  \
         {name} health-check   exit 0 when the local server reports SERVING (readiness)\n  \
         {name} health-check --live\n                       exit 0 when the local server answers at all (liveness:\n                       a dependency being away is no reason to restart)\n\n\
         Configuration comes from environment variables; see the README.",
        service = identity.name,
        grpc = identity.grpc_service,
        port = identity.grpc_port,
    )
}

async fn serve<F, Fut>(identity: &'static ServiceIdentity, build: F) -> ExitCode
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Result<Application, StartError>>,
{
    let env = Env::process();
    let _telemetry = match init_telemetry(identity, &env) {
        Ok(guard) => guard,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let application = match build(env).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("{}: cannot start: {error}", identity.process_name());
            return ExitCode::FAILURE;
        }
    };
    match application.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "unclean shutdown");
            ExitCode::FAILURE
        }
    }
}

fn init_telemetry(
    identity: &ServiceIdentity,
    env: &Env,
) -> Result<flatgov_telemetry::TelemetryGuard, String> {
    let config = TelemetryConfig::from_env(env)
        .map_err(|error| format!("{}: {error}", identity.process_name()))?;
    flatgov_telemetry::init(&identity.process_name(), &config)
        .map_err(|error| format!("{}: {error}", identity.process_name()))
}

async fn migrate_only(identity: &'static ServiceIdentity) -> ExitCode {
    let env = Env::process();
    let _telemetry = match init_telemetry(identity, &env) {
        Ok(guard) => guard,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let config = flatgov_db::DatabaseConfig::from_env(&env)?;
        crate::runtime::migrate_as_owner(identity, &config).await?;
        Ok::<(), StartError>(())
    }
    .await;
    match result {
        Ok(()) => {
            tracing::info!(service = identity.name, "migrations applied");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}: migration failed: {error}", identity.process_name());
            ExitCode::FAILURE
        }
    }
}

/// Readiness (SERVING) or, with `live_only`, liveness: the process answers its
/// health service at all, whatever it says. A restart cannot bring back a
/// database or NATS, so liveness must not fail because one is away.
async fn health_check(identity: &'static ServiceIdentity, live_only: bool) -> ExitCode {
    let env = Env::process();
    let (server, client_tls) = match ServerConfig::from_env(&env, identity).and_then(|server| {
        let client_tls = crate::config::ClientTls::from_env(&env, server.tls.as_ref())?;
        Ok((server, client_tls))
    }) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let port = server.grpc_addr.port();
    // Every certificate the platform issues names localhost.
    let url = if server.tls.is_some() {
        format!("https://localhost:{port}")
    } else {
        format!("http://127.0.0.1:{port}")
    };
    match check_health_with(&url, "", &client_tls).await {
        Ok(ServingStatus::Serving) => ExitCode::SUCCESS,
        Ok(_) if live_only => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!(
                "{} reports {}",
                identity.process_name(),
                status.as_str_name()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{}: {error}", identity.process_name());
            ExitCode::FAILURE
        }
    }
}

/// Asks a plaintext server's `grpc.health.v1.Health/Check` about `service` ("" for
/// the whole server).
pub async fn check_health(url: &str, service: &str) -> Result<ServingStatus, String> {
    check_health_with(url, service, &crate::config::ClientTls::default()).await
}

/// Asks a server's `grpc.health.v1.Health/Check` about `service`, over TLS for an
/// `https://` URL.
pub async fn check_health_with(
    url: &str,
    service: &str,
    tls: &crate::config::ClientTls,
) -> Result<ServingStatus, String> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|error| format!("invalid url {url}: {error}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2));
    if url.starts_with("https://") {
        endpoint = endpoint
            .tls_config(crate::client::client_tls_config(tls)?)
            .map_err(|error| format!("TLS for {url}: {error}"))?;
    }
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| format!("cannot connect to {url}: {error}"))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|status| format!("health check failed: {}", status.message()))?;
    Ok(response.into_inner().status())
}
