//! The gateway as a process in front of a running [`Platform`], as `scripts/up`
//! starts it: its own database (the client registry), its own signing key,
//! the services' URLs, HTTP on a free port. Beside it the operator's CLI
//! (`flatgov open311 clients …`) on the same registry.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flatgov_testkit::{TestDatabase, free_port};

use crate::{DISTRICT, Platform, SERVICES};

/// A running `flatgov-gateway`.
pub struct Gateway {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The registry's database, as its owner (the CLI registers clients there).
    database: TestDatabase,
    /// The gateway's log, kept and shown when a test fails.
    log_file: PathBuf,
    /// Where `flatgov` lives.
    binaries: PathBuf,
    child: Child,
    /// Keeps the log directory until the gateway is dropped.
    _logs: tempfile::TempDir,
}

/// What a test asks of the gateway beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct GatewayOptions {
    env: Vec<(String, String)>,
    /// The port to serve on, when a test must know it before the gateway
    /// starts (an identity provider's registered callback URL); a free one
    /// otherwise.
    port: Option<u16>,
}

impl GatewayOptions {
    /// Sets `name=value` in the gateway's environment.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Serves on `port` (from [`flatgov_testkit::free_port`]).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
}

impl Platform {
    /// Starts the gateway in front of the services and waits until `/healthz`
    /// answers 200.
    pub async fn start_gateway(&self, options: GatewayOptions) -> Gateway {
        let port = options.port.unwrap_or_else(free_port);
        let database = TestDatabase::new();
        let logs = tempfile::Builder::new()
            .prefix("flatgov-gateway-")
            .tempdir()
            .expect("log directory");
        let log_file = logs.path().join("gateway.log");
        let log = std::fs::File::create(&log_file).expect("log file");
        let binary = self.binaries.join("flatgov-gateway");
        let child = Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_OWNER_URL", database.url())
            .env(
                "DATABASE_URL",
                flatgov_testkit::application_url(database.url()),
            )
            .env("DATABASE_MAX_CONNECTIONS", "4")
            .env("GATEWAY_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("AUTH_JWKS_FILE", self.auth.jwks_file())
            // The gateway reports cases with its own service token, signed with
            // its own key.
            .env(
                "AUTH_SIGNING_KEY_FILE",
                self.auth.service_key_file("gateway"),
            )
            // The command centre's live updates read case events here.
            .env("NATS_URL", &self.nats_url)
            .env("NATS_SUBJECT_PREFIX", &self.prefix)
            .env("OPEN311_JURISDICTION_ID", DISTRICT)
            .env(
                "OPEN311_PUBLIC_URL",
                format!("http://127.0.0.1:{port}/open311/v2/"),
            )
            .env("LOG_FORMAT", "pretty")
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("JOURNEY_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(
                SERVICES
                    .iter()
                    .map(|service| (format!("{}_URL", service.to_uppercase()), self.url(service))),
            )
            .envs(options.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} ({error}); build it first with `cargo build --bins`",
                    binary.display()
                )
            });
        let mut gateway = Gateway {
            url: format!("http://127.0.0.1:{port}"),
            database,
            log_file,
            binaries: self.binaries.clone(),
            child,
            _logs: logs,
        };
        gateway.wait_until_healthy().await;
        gateway
    }
}

impl Gateway {
    async fn wait_until_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let answer = client
                .get(format!("{}/healthz", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "flatgov-gateway exited with {status} during start-up:\n{}",
                    self.log()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "flatgov-gateway did not answer /healthz within 60s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:<port>/open311/v2`.
    pub fn open311_url(&self) -> String {
        format!("{}/open311/v2", self.url)
    }

    /// What the gateway logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Runs `flatgov open311 clients <arguments>` on the gateway's registry, as
    /// an operator does; returns its stdout, panicking unless it succeeds.
    pub fn clients(&self, arguments: &[&str]) -> String {
        let output = self.clients_command(arguments);
        assert!(
            output.status.success(),
            "flatgov open311 clients {arguments:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// Runs `flatgov open311 clients <arguments>` and returns its output, however
    /// it ended.
    pub fn clients_command(&self, arguments: &[&str]) -> std::process::Output {
        Command::new(self.binaries.join("flatgov"))
            .arg("open311")
            .arg("clients")
            .args(arguments)
            .env("GATEWAY_DATABASE_URL", self.database.url())
            .stdin(Stdio::null())
            .output()
            .expect("running flatgov open311 clients")
    }

    /// Registers a client and returns its new api_key.
    pub fn add_client(&self, name: &str, channel: &str, extra: &[&str]) -> String {
        let mut arguments = vec!["add", "--name", name, "--channel", channel];
        arguments.extend_from_slice(extra);
        let stdout = self.clients(&arguments);
        let key = stdout.trim().to_owned();
        assert!(
            !key.is_empty() && !key.contains(char::is_whitespace),
            "the key alone on stdout, got {stdout:?}"
        );
        key
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let exited = self.child.try_wait().ok().flatten();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- last log lines of flatgov-gateway ----\n{}",
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        } else if let Some(status) = exited {
            panic!(
                "flatgov-gateway exited on its own ({status}) before the test ended:\n{}",
                self.log()
            );
        }
    }
}

/// The third-party Open311 client libraries a civic app would use, pinned:
/// civicbot (posts and reads, JSON) and georeport (reads, XML).
pub const PYTHON_CLIENT_PACKAGES: [&str; 2] = ["civicbot==0.4.0", "georeport==0.3.1"];

/// The Python of a virtual environment under `target/` holding
/// [`PYTHON_CLIENT_PACKAGES`], installed from PyPI with pip on first use
/// (later runs find them there).
pub fn python_with_open311_clients() -> PathBuf {
    let target = crate::binary_directory()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(crate::binary_directory);
    let venv = target.join("open311-clients-venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join(PYTHON_CLIENT_PACKAGES.join(" "));
    if marker.exists() {
        return python;
    }
    let run = |command: &mut Command, what: &str| {
        let output = command
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("{what}: {error}"));
        assert!(
            output.status.success(),
            "{what} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "python3 -m venv",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PYTHON_CLIENT_PACKAGES),
        "pip install the Open311 client libraries",
    );
    std::fs::write(&marker, b"").expect("marking the environment ready");
    python
}

/// Runs `tests/open311/third_party_client.py <step>` with `env` and returns
/// the JSON it prints.
pub fn run_third_party_client(step: &str, env: &[(&str, String)]) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("open311")
        .join("third_party_client.py");
    let output = Command::new(python_with_open311_clients())
        .arg(&script)
        .arg(step)
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .stdin(Stdio::null())
        .output()
        .expect("running the third-party Open311 client");
    assert!(
        output.status.success(),
        "the third-party Open311 client ({step}) failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "the client printed no JSON ({error}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
