//! The binary's commands: serve (the default), `migrate`, `health-check`.

use std::process::ExitCode;

use flatgov_config::Env;
use flatgov_telemetry::TelemetryConfig;

const USAGE: &str = "flatgov-gateway: Open311 GeoReport v2, HTTP/JSON and gRPC-Web in front of the flatgov services.

usage:
  flatgov-gateway                serve HTTP on GATEWAY_LISTEN_ADDR (default 0.0.0.0:8080)
  flatgov-gateway migrate        apply the client registry's migrations and exit
  flatgov-gateway health-check   exit 0 when the local gateway answers /healthz

Configuration comes from environment variables; see the README.";

/// Runs the command named by the first argument.
pub fn run() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
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
    match arguments.first().map(String::as_str) {
        None | Some("serve") => runtime.block_on(serve()),
        Some("migrate") => runtime.block_on(migrate()),
        Some("health-check") => runtime.block_on(health_check()),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn telemetry(env: &Env) -> Result<flatgov_telemetry::TelemetryGuard, String> {
    let config = TelemetryConfig::from_env(env).map_err(|error| error.to_string())?;
    flatgov_telemetry::init(crate::PROCESS_NAME, &config).map_err(|error| error.to_string())
}

async fn serve() -> ExitCode {
    let env = Env::process();
    let _telemetry = match telemetry(&env) {
        Ok(guard) => guard,
        Err(message) => {
            eprintln!("{}: {message}", crate::PROCESS_NAME);
            return ExitCode::FAILURE;
        }
    };
    let application = match crate::build(env).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("{}: cannot start: {error}", crate::PROCESS_NAME);
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

async fn migrate() -> ExitCode {
    let env = Env::process();
    let _telemetry = telemetry(&env);
    let result = async {
        let database = flatgov_db::DatabaseConfig::from_env(&env)?;
        crate::migrate(&database).await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: migrate: {error}", crate::PROCESS_NAME);
            ExitCode::FAILURE
        }
    }
}

async fn health_check() -> ExitCode {
    let env = Env::process();
    let result = async {
        let address: std::net::SocketAddr = env
            .optional(
                "GATEWAY_LISTEN_ADDR",
                std::net::SocketAddr::from(([0, 0, 0, 0], 8080)),
                "host:port, e.g. 0.0.0.0:8080",
            )
            .map_err(|error| error.to_string())?;
        let tls: Option<std::path::PathBuf> = env
            .maybe("GATEWAY_TLS_CERT_FILE", "the gateway's PEM certificate")
            .map_err(|error| error.to_string())?;
        let mut client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3));
        let url = match tls {
            Some(_) => {
                let ca: Option<std::path::PathBuf> = env
                    .maybe(
                        "GRPC_TLS_CA_FILE",
                        "the authority the gateway's certificate chains to",
                    )
                    .map_err(|error| error.to_string())?;
                if let Some(ca) = ca {
                    let pem =
                        std::fs::read(&ca).map_err(|error| format!("{}: {error}", ca.display()))?;
                    let certificate =
                        reqwest::Certificate::from_pem(&pem).map_err(|error| error.to_string())?;
                    client = client.add_root_certificate(certificate);
                }
                format!("https://localhost:{}/healthz", address.port())
            }
            None => format!("http://127.0.0.1:{}/healthz", address.port()),
        };
        let client = client.build().map_err(|error| error.to_string())?;
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{url} answered {}", response.status()))
        }
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: not healthy: {error}", crate::PROCESS_NAME);
            ExitCode::FAILURE
        }
    }
}
