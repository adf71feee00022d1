//! The whole platform as processes, for end-to-end journeys.
//!
//! [`Platform::start`] launches the five service binaries (built by `cargo
//! build --bins`, which `scripts/test` runs first) with their own fresh
//! databases on the shared PostgreSQL, a unique NATS subject prefix, free
//! ports and a fresh key pair, and waits until every one reports SERVING.
//! A journey may kill a service with SIGKILL and restart it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flatgov_testkit::{TestAuth, TestDatabase, free_port, shared_nats_url, unique_prefix};
use tonic_health::pb::health_check_response::ServingStatus;

/// The services in start order (callees before callers).
pub const SERVICES: [&str; 5] = ["blocks", "duties", "enforcement", "federation", "cases"];

/// One service process and what it needs to be restarted.
struct ServiceProcess {
    grpc_port: u16,
    metrics_port: u16,
    database: TestDatabase,
    log_file: PathBuf,
    child: Option<Child>,
}

/// Five services running as processes.
pub struct Platform {
    pub auth: TestAuth,
    pub prefix: String,
    pub nats_url: String,
    binaries: PathBuf,
    logs: tempfile::TempDir,
    services: BTreeMap<&'static str, ServiceProcess>,
}

impl Platform {
    /// Starts all five services and waits until each reports SERVING.
    pub async fn start() -> Self {
        let binaries = binary_directory();
        let logs = tempfile::Builder::new()
            .prefix("flatgov-journey-")
            .tempdir()
            .expect("log directory");
        let mut platform = Self {
            auth: TestAuth::new(),
            prefix: unique_prefix(),
            nats_url: shared_nats_url(),
            binaries,
            services: BTreeMap::new(),
            logs,
        };
        for name in SERVICES {
            let process = ServiceProcess {
                grpc_port: free_port(),
                metrics_port: free_port(),
                database: TestDatabase::new(),
                log_file: platform.logs.path().join(format!("{name}.log")),
                child: None,
            };
            platform.services.insert(name, process);
        }
        for name in SERVICES {
            platform.spawn(name);
        }
        for name in SERVICES {
            platform.wait_until_serving(name).await;
        }
        platform
    }

    /// `http://127.0.0.1:<port>` of a service.
    pub fn url(&self, service: &str) -> String {
        format!("http://127.0.0.1:{}", self.process(service).grpc_port)
    }

    /// Kills a service with SIGKILL, as a crash would.
    pub fn kill(&mut self, service: &str) {
        if let Some(mut child) = self.process_mut(service).child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed service again (same database, ports and prefix) and
    /// waits until it reports SERVING.
    pub async fn restart(&mut self, service: &'static str) {
        self.kill(service);
        self.spawn(service);
        self.wait_until_serving(service).await;
    }

    /// Loads the demo district the way an operator does: `flatgov demo load`
    /// as a process against this platform.
    pub fn load_demo(&self) {
        let output = Command::new(self.binaries.join("flatgov"))
            .args(["demo", "load"])
            .envs(
                SERVICES
                    .iter()
                    .map(|service| (format!("{}_URL", service.to_uppercase()), self.url(service))),
            )
            .env("FLATGOV_SIGNING_KEY_FILE", self.auth.signing_key_file())
            .env_remove("FLATGOV_TOKEN")
            .stdin(Stdio::null())
            .output()
            .expect("running flatgov demo load");
        assert!(
            output.status.success(),
            "flatgov demo load failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The last lines a service logged, for failure messages.
    pub fn log_tail(&self, service: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.process(service).log_file).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// A bus on the platform's NATS and prefix, as an integrator sees it.
    pub async fn bus(&self) -> flatgov_messaging::EventBus {
        flatgov_messaging::EventBus::connect(
            &flatgov_messaging::BusConfig {
                url: self.nats_url.clone(),
                subject_prefix: self.prefix.clone(),
                stream_replicas: 1,
            },
            "flatgov-journey-integrator",
        )
        .await
        .expect("nats")
    }

    fn process(&self, service: &str) -> &ServiceProcess {
        self.services
            .get(service)
            .unwrap_or_else(|| panic!("no service {service}"))
    }

    fn process_mut(&mut self, service: &str) -> &mut ServiceProcess {
        self.services
            .get_mut(service)
            .unwrap_or_else(|| panic!("no service {service}"))
    }

    fn spawn(&mut self, name: &'static str) {
        let urls: Vec<(String, String)> = SERVICES
            .iter()
            .map(|other| (format!("{}_URL", other.to_uppercase()), self.url(other)))
            .collect();
        let binary = self.binaries.join(format!("flatgov-{name}"));
        let process = self.process(name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&process.log_file)
            .expect("log file");
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", process.database.url())
            .env("DATABASE_MAX_CONNECTIONS", "8")
            .env("NATS_URL", &self.nats_url)
            .env("NATS_SUBJECT_PREFIX", &self.prefix)
            .env(
                "GRPC_LISTEN_ADDR",
                format!("127.0.0.1:{}", process.grpc_port),
            )
            .env(
                "METRICS_LISTEN_ADDR",
                format!("127.0.0.1:{}", process.metrics_port),
            )
            .env("AUTH_PUBLIC_KEY_FILE", self.auth.public_key_file())
            .env("AUTH_SIGNING_KEY_FILE", self.auth.signing_key_file())
            .env("SHUTDOWN_GRACE_SECONDS", "5")
            // Journeys move the cases service's clock instead of waiting hours.
            .env("CASES_TEST_CONTROLS", "enabled")
            .env("LOG_FORMAT", "pretty")
            .env(
                "RUST_LOG",
                std::env::var("JOURNEY_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(urls)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        let child = command.spawn().unwrap_or_else(|error| {
            panic!(
                "cannot start {} ({error}); build the binaries first with `cargo build --bins` (scripts/test does)",
                binary.display()
            )
        });
        self.process_mut(name).child = Some(child);
    }

    async fn wait_until_serving(&mut self, name: &str) {
        let url = self.url(name);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(ServingStatus::Serving) = flatgov_grpc::check_health(&url, "").await {
                return;
            }
            if let Some(child) = self.process_mut(name).child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "flatgov-{name} exited with {status} during start-up:\n{}",
                    self.log_tail(name, 40)
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "flatgov-{name} did not report SERVING within 60s:\n{}",
                self.log_tail(name, 40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        for process in self.services.values_mut() {
            if let Some(mut child) = process.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for name in SERVICES {
                eprintln!(
                    "---- last log lines of flatgov-{name} ----\n{}",
                    self.log_tail(name, 30)
                );
            }
        }
    }
}

/// `target/<profile>/` beside the running test binary (which lives in
/// `target/<profile>/deps/`), or `FLATGOV_BIN_DIR`.
fn binary_directory() -> PathBuf {
    if let Ok(directory) = std::env::var("FLATGOV_BIN_DIR") {
        return PathBuf::from(directory);
    }
    let executable = std::env::current_exe().expect("current executable");
    let deps = executable.parent().expect("deps directory");
    let profile_directory: &Path = if deps.ends_with("deps") {
        deps.parent().expect("profile directory")
    } else {
        deps
    };
    profile_directory.to_path_buf()
}
