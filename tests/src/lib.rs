//! The whole platform as processes, for end-to-end journeys.
//!
//! [`Platform::start`] launches the six service binaries (built by `cargo
//! build --bins`, which `scripts/test` runs first) with their own fresh
//! databases on the shared PostgreSQL, a unique NATS subject prefix, free
//! ports and a fresh key pair, and waits until every one reports SERVING.
//! A journey may kill a service with SIGKILL and restart it.
//!
//! Beside the processes the harness gives journeys what users and
//! integrators have: gRPC clients and tokens for every role
//! ([`Platform::cases`], [`Platform::governor`], …), the demo district's
//! blocks with a point inside each ([`district`]), the event streams read
//! the way an integrator reads them ([`events`]), W3C trace context for
//! requests and an OTLP collector the services can export spans to
//! ([`traces`]), and a real OpenID Connect provider to log in at
//! ([`oidc_provider`]).

pub mod browser;
pub mod chaos;
pub mod district;
pub mod events;
pub mod gateway;
pub mod identity;
pub mod oidc_provider;
pub mod traces;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flatgov_auth::{Jurisdiction, Role, TokenRequest};
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_proto::cases::v1::case_dispatch_client::CaseDispatchClient;
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use flatgov_proto::enforcement::v1::joint_enforcement_client::JointEnforcementClient;
use flatgov_proto::errands::v1::errands_client::ErrandsClient;
use flatgov_proto::federation::v1::federation_client::FederationClient;
use flatgov_proto::mediation::v1::mediation_client::MediationClient;
use flatgov_proto::notices::v1::notices_client::NoticesClient;
use flatgov_testkit::{TestAuth, TestDatabase, free_port, shared_nats_url, unique_prefix};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;

pub use flatgov_testkit::{eventually, with_token};

/// How long a journey waits for something asynchronous (an event relayed,
/// a consumer applying it, a worker firing). Generous: the machine is
/// shared, and polling returns as soon as the condition holds.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The demo district's code.
pub const DISTRICT: &str = "430302";

/// What a journey asks of the platform beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct PlatformOptions {
    /// Variables given to every service process (after the defaults, so
    /// they override them).
    env: Vec<(String, String)>,
    /// A PostgreSQL server of the run's own (`postgres://…/postgres`) instead
    /// of the shared one, and a NATS server of its own: for runs that stop them.
    infrastructure: Option<(String, String)>,
}

impl PlatformOptions {
    /// Sets `name=value` in every service's environment.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs the services' databases on the PostgreSQL server of
    /// `postgres_url` and their events on the NATS server of `nats_url`.
    pub fn infrastructure(mut self, postgres_url: &str, nats_url: &str) -> Self {
        self.infrastructure = Some((postgres_url.to_owned(), nats_url.to_owned()));
        self
    }
}

/// The services in start order (callees before callers).
pub const SERVICES: [&str; 8] = [
    "blocks",
    "duties",
    "enforcement",
    "federation",
    "cases",
    "notices",
    "mediation",
    "errands",
];

/// One service process and what it needs to be restarted.
struct ServiceProcess {
    grpc_port: u16,
    metrics_port: u16,
    database: TestDatabase,
    log_file: PathBuf,
    child: Option<Child>,
}

/// Six services running as processes.
pub struct Platform {
    pub auth: TestAuth,
    pub prefix: String,
    pub nats_url: String,
    binaries: PathBuf,
    /// The services' log files; kept (and named) when a journey fails.
    logs: Option<tempfile::TempDir>,
    services: BTreeMap<&'static str, ServiceProcess>,
    /// Extra environment for every service.
    options: PlatformOptions,
    /// The integrator's connection, opened on first use.
    bus: tokio::sync::OnceCell<flatgov_messaging::EventBus>,
}

impl Platform {
    /// Starts all eight services and waits until each reports SERVING.
    pub async fn start() -> Self {
        Self::start_with(PlatformOptions::default()).await
    }

    /// Starts all eight services with extra options and waits until each
    /// reports SERVING.
    pub async fn start_with(options: PlatformOptions) -> Self {
        let binaries = binary_directory();
        let logs = tempfile::Builder::new()
            .prefix("flatgov-journey-")
            .tempdir()
            .expect("log directory");
        let (postgres_url, nats_url) = options
            .infrastructure
            .clone()
            .unwrap_or_else(|| (flatgov_testkit::shared_postgres_url(), shared_nats_url()));
        let mut platform = Self {
            auth: TestAuth::new(),
            prefix: unique_prefix(),
            nats_url,
            binaries,
            services: BTreeMap::new(),
            logs: Some(logs),
            options,
            bus: tokio::sync::OnceCell::new(),
        };
        for name in SERVICES {
            let process = ServiceProcess {
                grpc_port: free_port(),
                metrics_port: free_port(),
                database: TestDatabase::on(&postgres_url),
                log_file: platform
                    .logs
                    .as_ref()
                    .expect("the log directory exists until the platform is dropped")
                    .path()
                    .join(format!("{name}.log")),
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

    /// The owner's URL of a service's database.
    pub fn database_url(&self, service: &str) -> &str {
        self.process(service).database.url()
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
            .env("FLATGOV_SIGNING_KEY_FILE", self.auth.people_key_file())
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

    /// Runs the `flatgov` CLI against the platform with `token`, as an
    /// operator would; answers its stdout, failing the journey on a
    /// non-zero exit.
    pub fn cli(&self, token: &str, arguments: &[&str]) -> String {
        let output = Command::new(self.binaries.join("flatgov"))
            .args(arguments)
            .envs(
                SERVICES
                    .iter()
                    .map(|service| (format!("{}_URL", service.to_uppercase()), self.url(service))),
            )
            .env("FLATGOV_TOKEN", token)
            .env("FLATGOV_OUTPUT", "table")
            .stdin(Stdio::null())
            .output()
            .expect("running flatgov");
        assert!(
            output.status.success(),
            "flatgov {arguments:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs the `flatgov` CLI against the platform with `token`, its
    /// labels in `language` (`zh-CN` or `en`, whatever the machine's
    /// locale), in `directory`, with no terminal; answers the whole output,
    /// success or not, for journeys that check what a refusal says.
    pub fn cli_in(
        &self,
        language: &str,
        token: &str,
        directory: &Path,
        arguments: &[&str],
    ) -> std::process::Output {
        Command::new(self.binaries.join("flatgov"))
            .args(arguments)
            .current_dir(directory)
            .envs(
                SERVICES
                    .iter()
                    .map(|service| (format!("{}_URL", service.to_uppercase()), self.url(service))),
            )
            .env("FLATGOV_TOKEN", token)
            .env("FLATGOV_OUTPUT", "table")
            .env("FLATGOV_LANG", language)
            .stdin(Stdio::null())
            .output()
            .expect("running flatgov")
    }

    /// The last lines a service logged, for failure messages.
    pub fn log_tail(&self, service: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.process(service).log_file).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The integrator's bus (one connection, opened on first use).
    pub async fn integrator_bus(&self) -> &flatgov_messaging::EventBus {
        self.bus.get_or_init(|| self.bus()).await
    }

    /// A bus on the platform's NATS and prefix, as an integrator sees it.
    pub async fn bus(&self) -> flatgov_messaging::EventBus {
        flatgov_messaging::EventBus::connect(
            &flatgov_messaging::BusConfig::plain(self.nats_url.clone(), self.prefix.clone()),
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
            // Migrations run as the owner; the service runs as the application role,
            // which may not change history or audit tables (as in production).
            .env("DATABASE_OWNER_URL", process.database.url())
            .env(
                "DATABASE_URL",
                flatgov_testkit::application_url(process.database.url()),
            )
            .env("DATABASE_MAX_CONNECTIONS", "8")
            // Journeys and the demo loader call in bursts; the limits have their own tests.
            .env("RATE_LIMIT_PER_SECOND", "100000")
            .env("RATE_LIMIT_BURST", "100000")
            .env("CONCURRENCY_LIMIT_PER_CALLER", "10000")
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
            .env("AUTH_JWKS_FILE", self.auth.jwks_file())
            .env(
                "FEDERATION_IDENTITY_KEY_FILE",
                self.auth.federation_identity_key_file(),
            )
            // Each service signs its calls with its own key, which nothing else holds.
            .env("AUTH_SIGNING_KEY_FILE", self.auth.service_key_file(name))
            .env("SHUTDOWN_GRACE_SECONDS", "5")
            // Journeys move the cases service's clock instead of waiting hours.
            .env("CASES_TEST_CONTROLS", "enabled")
            // … and the errands service's, to decide an errand weeks later.
            .env("ERRANDS_TEST_CONTROLS", "enabled")
            .env("LOG_FORMAT", "pretty")
            // The log files are read by people: no colour codes.
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("JOURNEY_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(urls)
            .envs(self.options.env.iter().cloned())
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

/// Clients: lazily connecting channels, so a client made before a service
/// is killed works again once it is restarted.
impl Platform {
    fn channel(&self, service: &str) -> Channel {
        Endpoint::from_shared(self.url(service))
            .expect("a valid service url")
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .connect_lazy()
    }

    pub fn blocks(&self) -> BlockRegistryClient<Channel> {
        BlockRegistryClient::new(self.channel("blocks"))
    }

    pub fn duties(&self) -> DutyListsClient<Channel> {
        DutyListsClient::new(self.channel("duties"))
    }

    pub fn cases(&self) -> CaseDispatchClient<Channel> {
        CaseDispatchClient::new(self.channel("cases"))
    }

    pub fn enforcement(&self) -> JointEnforcementClient<Channel> {
        JointEnforcementClient::new(self.channel("enforcement"))
    }

    pub fn federation(&self) -> FederationClient<Channel> {
        FederationClient::new(self.channel("federation"))
    }

    pub fn notices(&self) -> NoticesClient<Channel> {
        NoticesClient::new(self.channel("notices"))
    }

    pub fn mediation(&self) -> MediationClient<Channel> {
        MediationClient::new(self.channel("mediation"))
    }

    pub fn errands(&self) -> ErrandsClient<Channel> {
        ErrandsClient::new(self.channel("errands"))
    }
}

/// Tokens for the people and systems of a journey, signed with the
/// platform's key.
impl Platform {
    /// A token for `subject` with `roles` over `jurisdiction` (e.g.
    /// `blocks/430302001001001`), acting for `organisation` when given.
    pub fn token(
        &self,
        subject: &str,
        roles: &[Role],
        jurisdiction: &str,
        organisation: Option<&str>,
    ) -> String {
        let jurisdiction: Jurisdiction = jurisdiction
            .parse()
            .unwrap_or_else(|error| panic!("jurisdiction {jurisdiction}: {error}"));
        let mut request = TokenRequest::new(subject, roles).jurisdiction(jurisdiction);
        if let Some(organisation) = organisation {
            request = request.organisation(organisation);
        }
        self.auth.token_for(request)
    }

    /// A district administrator.
    pub fn admin(&self) -> String {
        self.token(
            "journey-admin",
            &[Role::DistrictAdmin],
            &format!("districts/{DISTRICT}"),
            None,
        )
    }

    /// A resident using the app; `subject` is their account.
    pub fn resident(&self, subject: &str) -> String {
        self.token(
            subject,
            &[Role::Resident],
            &format!("districts/{DISTRICT}"),
            None,
        )
    }

    /// The block's governor (治理员), as the demo staffed it.
    pub fn governor(&self, block: &district::DemoBlock) -> String {
        self.token(&block.governor, &[Role::Governor], &block.name, None)
    }

    /// The block's supervisor (监督员), as the demo staffed it.
    pub fn supervisor(&self, block: &district::DemoBlock) -> String {
        self.token(&block.supervisor, &[Role::Supervisor], &block.name, None)
    }

    /// A dispatcher of the subdistrict's coordination platform.
    pub fn dispatcher(&self, subdistrict_code: &str) -> String {
        self.token(
            &format!("dispatcher-{subdistrict_code}"),
            &[Role::SubdistrictDispatcher],
            &format!("subdistricts/{subdistrict_code}"),
            None,
        )
    }

    /// An officer of a department or enforcement agency (`org` = its code).
    pub fn officer(&self, department: &str) -> String {
        self.token(
            &format!("officer-{department}"),
            &[Role::DepartmentOfficer],
            &format!("districts/{DISTRICT}"),
            Some(department),
        )
    }

    /// A member of a federation organisation's staff, e.g. the demo's
    /// `womens_federation-lead`.
    pub fn federation_staff(&self, staff_id: &str, organisation: &str) -> String {
        self.token(
            staff_id,
            &[Role::FederationStaff],
            &format!("districts/{DISTRICT}"),
            Some(organisation),
        )
    }

    /// A system reading codes, states and times only.
    pub fn integrator(&self) -> String {
        self.token(
            "journey-integrator",
            &[Role::Integrator],
            &format!("districts/{DISTRICT}"),
            None,
        )
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
        flatgov_testkit::delete_streams(&self.nats_url, &self.prefix);
        if std::thread::panicking() {
            if let Some(logs) = self.logs.take() {
                eprintln!(
                    "---- the services' whole logs are kept in {} ----",
                    logs.keep().display()
                );
            }
            for name in SERVICES {
                // Some lines (a migration's SQL) are pages long: cut them.
                let tail: Vec<String> = self
                    .log_tail(name, 30)
                    .lines()
                    .map(|line| match line.char_indices().nth(400) {
                        Some((cut, _)) => format!("{} …", &line[..cut]),
                        None => line.to_owned(),
                    })
                    .collect();
                eprintln!(
                    "---- last log lines of flatgov-{name} ----\n{}",
                    tail.join("\n")
                );
            }
        } else {
            self.delete_streams();
        }
    }
}

impl Platform {
    /// Removes the platform's streams (and with them their consumers) from
    /// the shared NATS server, so repeated runs do not pile them up. A failed
    /// journey leaves them for inspection.
    fn delete_streams(&self) {
        let config =
            flatgov_messaging::BusConfig::plain(self.nats_url.clone(), self.prefix.clone());
        // Drop may run while the test's runtime shuts down: use a runtime of
        // our own on a plain thread, as TestDatabase does.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), async {
                    let bus =
                        flatgov_messaging::EventBus::connect(&config, "flatgov-journey-cleanup")
                            .await
                            .ok()?;
                    for stream in events::STREAMS {
                        // A stream nobody created is fine.
                        let _ = bus.jetstream().delete_stream(bus.stream_name(stream)).await;
                    }
                    Some(())
                })
                .await
                .ok()
                .flatten()
            })
        })
        .join();
        if !matches!(deleted, Ok(Some(()))) {
            eprintln!(
                "note: the streams of prefix {} were not deleted",
                self.prefix
            );
        }
    }
}

/// `target/<profile>/` beside the running test binary (which lives in
/// `target/<profile>/deps/`), or `FLATGOV_BIN_DIR`.
pub(crate) fn binary_directory() -> PathBuf {
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
