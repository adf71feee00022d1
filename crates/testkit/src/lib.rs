//! Test support shared by every flatgov test suite.
//!
//! * [`TestDatabase`]: a fresh database per test on the shared PostgreSQL,
//!   dropped when the test ends.
//! * [`unique_prefix`]: a NATS subject/stream prefix per test, so tests
//!   share one NATS server without seeing each other's events;
//!   [`delete_streams`] removes a prefix's streams afterwards.
//! * [`TestAuth`]: a key pair per test and tokens for any role.
//! * [`TestEnv`]: the environment a service under test reads, listening on
//!   port 0; dropping it deletes the test's streams.
//! * [`free_port`]: a port reserved across test processes, for services run
//!   as processes (which cannot report a port 0 back).
//! * [`events`]: reading streams as an integrator does, and counting what a
//!   service committed ([`events::events_committed`]) for "wrote nothing".
//! * [`PrivateNats`] / [`PrivatePostgres`]: instances a test may kill and
//!   restart, on their own ports, leaving the shared ones alone.
//! * [`with_token`], [`eventually`], [`field_violations`]: calling a
//!   service, waiting for what happens asynchronously, reading its refusals.
//! * [`authz`]: a service's policy table checked against its proto and
//!   probed over gRPC as every role.
//! * [`contract`]: another service's gRPC contract answered by closures,
//!   for testing a service that calls it.
//! * [`echo`]: a minimal service on the real chassis, for chassis tests and
//!   as the baseline RPC in benchmarks.

pub mod authz;
pub mod contract;
pub mod echo;
pub mod events;
mod infra;

use std::path::PathBuf;
use std::time::Duration;

use flatgov_auth::keys::KeyDirectory;
use flatgov_auth::{Jurisdiction, Role, Signer, TokenRequest};
use flatgov_config::Env;
use flatgov_grpc::error::FieldViolation;

pub use infra::{PrivateNats, PrivatePostgres, free_port};

/// The shared PostgreSQL of developer and CI machines (override with
/// `FLATGOV_TEST_DATABASE_URL`, a URL whose database part is ignored).
pub fn shared_postgres_url() -> String {
    std::env::var("FLATGOV_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The shared NATS server (override with `FLATGOV_TEST_NATS_URL`).
pub fn shared_nats_url() -> String {
    std::env::var("FLATGOV_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A short random token, lower-case hex.
pub fn unique_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A subject prefix such as `t1a2b3c4d5e6f.`: everything a test publishes
/// lives under it, in streams named `T1A2B3C4D5E6F_FLATGOV_<SVC>`.
pub fn unique_prefix() -> String {
    format!("t{}.", unique_token())
}

/// A database created for one test and dropped (with its connections)
/// when the value is dropped.
pub struct TestDatabase {
    url: String,
}

impl TestDatabase {
    /// A new, empty database on the shared PostgreSQL; the service under
    /// test creates and migrates it itself if `create` is false.
    pub fn new() -> Self {
        Self::on(&shared_postgres_url())
    }

    /// A new database name on the server of `server_url`.
    pub fn on(server_url: &str) -> Self {
        let base = server_url
            .rsplit_once('/')
            .map(|(base, _)| base.to_owned())
            .unwrap_or_else(|| server_url.to_owned());
        Self {
            url: format!("{base}/flatgov_test_{}", unique_token()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let url = self.url.clone();
        let dropped = run_detached(Duration::from_secs(10), async move {
            flatgov_db::drop_database(&url).await
        });
        if !matches!(dropped, Some(Ok(()))) {
            eprintln!("note: test database {} was not dropped", self.url);
        }
    }
}

/// Runs `work` on a runtime of its own on a plain thread, giving up after
/// `limit`: cleanup in `Drop` needs async I/O while the test's runtime may
/// be shutting down. `None` when it did not finish.
fn run_detached<T: Send + 'static>(
    limit: Duration,
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime
            .block_on(async { tokio::time::timeout(limit, work).await })
            .ok()
    })
    .join()
    .ok()
    .flatten()
}

/// Deletes every stream under the subject `prefix` (what one test's services
/// and bus created), so a suite run does not leave hundreds of streams — and
/// their consumers — loading the shared NATS server. Called when a
/// [`TestEnv`] is dropped; a harness with its own prefix calls it itself.
pub fn delete_streams(nats_url: &str, prefix: &str) {
    let config = flatgov_messaging::BusConfig::plain(nats_url.to_owned(), prefix.to_owned());
    let deleted = run_detached(Duration::from_secs(10), async move {
        use futures::TryStreamExt as _;
        let bus = flatgov_messaging::EventBus::connect(&config, "flatgov-test-cleanup")
            .await
            .map_err(|error| error.to_string())?;
        let ours = bus.stream_name_prefix();
        let names: Vec<String> = bus
            .jetstream()
            .stream_names()
            .try_filter(|name| std::future::ready(name.starts_with(&ours)))
            .try_collect()
            .await
            .map_err(|error| error.to_string())?;
        for name in names {
            bus.jetstream()
                .delete_stream(&name)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok::<(), String>(())
    });
    if !matches!(deleted, Some(Ok(()))) {
        eprintln!("note: the streams of test prefix {prefix} were not all deleted: {deleted:?}");
    }
}

/// The role services under test run as, separate from the owner that
/// migrates, so tests see what the application role may not do.
pub const APPLICATION_ROLE: &str = "flatgov_app";

/// `database_url` with the user replaced by [`APPLICATION_ROLE`], after
/// making sure that role exists on the server (trust authentication, as on
/// developer and CI machines).
pub fn application_url(database_url: &str) -> String {
    ensure_application_role(database_url);
    url_with_user(database_url, APPLICATION_ROLE).unwrap_or_else(|| database_url.to_owned())
}

/// `postgres://user[:password]@rest` → `postgres://{user}@rest`.
fn url_with_user(url: &str, user: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (_, host_and_path) = rest.split_once('@')?;
    Some(format!("{scheme}://{user}@{host_and_path}"))
}

/// Creates [`APPLICATION_ROLE`] on the server of `database_url` once per
/// test process (other processes may race to create it: that is fine).
fn ensure_application_role(database_url: &str) {
    static ENSURED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    // Keep the query (sslmode, sslrootcert): a TLS-only server needs it.
    let (location, query) = database_url
        .split_once('?')
        .map(|(location, query)| (location, format!("?{query}")))
        .unwrap_or((database_url, String::new()));
    let server = location
        .rsplit_once('/')
        .map(|(server, _)| server.to_owned())
        .unwrap_or_else(|| location.to_owned());
    let mut ensured = ENSURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if ensured.contains(&server) {
        return;
    }
    let maintenance = format!("{server}/postgres{query}");
    let created = run_detached(Duration::from_secs(20), async move {
        use sqlx::Connection as _;
        // A private server may still be starting up.
        let mut attempts = 0;
        let mut connection = loop {
            match sqlx::PgConnection::connect(&maintenance).await {
                Ok(connection) => break connection,
                Err(error) if attempts < 60 => {
                    attempts += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => return Err(error),
            }
        };
        let statement = format!(
            "do $$ begin if not exists (select from pg_roles where rolname = '{APPLICATION_ROLE}') \
             then create role {APPLICATION_ROLE} login; end if; \
             exception when duplicate_object or unique_violation then null; end $$"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await?;
        connection.close().await
    });
    match created {
        Some(Ok(())) => ensured.push(server),
        other => {
            eprintln!("note: cannot ensure the {APPLICATION_ROLE} role on {server}: {other:?}")
        }
    }
}

/// A platform key set for one test, in a temporary directory the services read
/// (`AUTH_JWKS_FILE`, and a service's own `AUTH_SIGNING_KEY_FILE`): a people key the
/// tokens of `token*` are signed with, and a key per service.
pub struct TestAuth {
    directory: tempfile::TempDir,
    signer: Signer,
}

/// The audiences of tokens tests mint: every service, and the echo service.
pub const TEST_AUDIENCES: [&str; 10] = [
    "flatgov.blocks",
    "flatgov.duties",
    "flatgov.cases",
    "flatgov.enforcement",
    "flatgov.federation",
    "flatgov.notices",
    "flatgov.mediation",
    "flatgov.errands",
    "flatgov.gateway",
    "flatgov.testing",
];

impl TestAuth {
    pub fn new() -> Self {
        let directory = tempfile::tempdir().expect("temporary directory");
        let keys = KeyDirectory::new(directory.path());
        let mut services: Vec<&str> = flatgov_auth::keys::SIGNING_SERVICES.to_vec();
        services.push("testing");
        keys.init(&services).expect("writing test keys");
        std::fs::write(
            directory.path().join("federation-identity-key"),
            format!("test-identity-key-{}{}\n", unique_token(), unique_token()),
        )
        .expect("writing the federation identity key");
        let signer =
            Signer::from_file(&keys.people_key_file(), "flatgov").expect("reading test key");
        Self { directory, signer }
    }

    fn keys(&self) -> KeyDirectory {
        KeyDirectory::new(self.directory.path())
    }

    /// The key set verifiers trust.
    pub fn jwks_file(&self) -> PathBuf {
        self.keys().jwks_file()
    }

    /// `service`'s own signing key.
    pub fn service_key_file(&self, service: &str) -> PathBuf {
        self.keys().service_key_file(service)
    }

    /// The federation's identity key (the secret ID numbers are hashed with).
    pub fn federation_identity_key_file(&self) -> PathBuf {
        self.directory.path().join("federation-identity-key")
    }

    /// The people key's file (for a CLI under test to mint with).
    pub fn people_key_file(&self) -> PathBuf {
        self.keys().people_key_file()
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// A token for `subject` with `roles`, district-wide (`districts/430302`).
    pub fn token(&self, subject: &str, roles: &[Role]) -> String {
        self.token_for(
            TokenRequest::new(subject, roles).jurisdiction(
                "districts/430302"
                    .parse::<Jurisdiction>()
                    .expect("valid jurisdiction"),
            ),
        )
    }

    /// A person's token as `request` says, good at every service and the echo service.
    pub fn token_for(&self, request: TokenRequest) -> String {
        self.signer.mint(&request.audiences(&TEST_AUDIENCES))
    }

    /// `service`'s own service token, signed with its own key, for every audience
    /// (a service the key set does not know gets a token no service trusts).
    pub fn service_token(&self, service: &str) -> String {
        let key = flatgov_auth::keys::SigningKey::read(&self.service_key_file(service))
            .unwrap_or_else(|_| flatgov_auth::keys::SigningKey::generate());
        Signer::new(key, "flatgov").mint(
            &TokenRequest::new(service, &[Role::Service])
                .audiences(&TEST_AUDIENCES)
                .ttl(Duration::from_secs(300)),
        )
    }

    /// A district administrator's token.
    pub fn admin_token(&self) -> String {
        self.token("admin", &[Role::DistrictAdmin])
    }
}

impl Default for TestAuth {
    fn default() -> Self {
        Self::new()
    }
}

/// A local certificate authority and a certificate per service, NATS, PostgreSQL
/// and clients, in a temporary directory.
pub struct TestTls {
    directory: tempfile::TempDir,
    authority: flatgov_tls::Authority,
}

impl TestTls {
    pub fn new() -> Self {
        let directory = tempfile::tempdir().expect("temporary directory");
        let authority = flatgov_tls::init(directory.path(), &[]).expect("test certificates");
        Self {
            directory,
            authority,
        }
    }

    /// The authority every certificate chains to.
    pub fn ca_file(&self) -> PathBuf {
        self.authority.ca_file()
    }

    /// `name`'s certificate and key (one of [`flatgov_tls::NAMES`]).
    pub fn files(&self, name: &str) -> flatgov_tls::CertificateFiles {
        self.authority.files(name)
    }

    /// The directory holding everything.
    pub fn directory(&self) -> &std::path::Path {
        self.directory.path()
    }

    /// A client of the platform trusting this authority, presenting `name`'s
    /// certificate when a service requires one.
    pub fn client(&self, name: &str) -> flatgov_grpc::ClientTls {
        let files = self.files(name);
        flatgov_grpc::ClientTls {
            ca_file: Some(self.ca_file()),
            identity: Some((files.cert, files.key)),
        }
    }
}

impl Default for TestTls {
    fn default() -> Self {
        Self::new()
    }
}

/// The environment of one service under test.
pub struct TestEnv {
    pub database: TestDatabase,
    pub auth: TestAuth,
    pub nats_url: String,
    pub prefix: String,
}

impl TestEnv {
    /// Fresh database, fresh keys, unique subject prefix, shared NATS.
    pub fn new() -> Self {
        Self {
            database: TestDatabase::new(),
            auth: TestAuth::new(),
            nats_url: shared_nats_url(),
            prefix: unique_prefix(),
        }
    }

    /// The variables a service reads, with both listeners on port 0.
    pub fn env(&self) -> Env {
        self.env_for_database(self.database.url())
    }

    /// The same environment pointed at another database: the service
    /// migrates as the owner (`database_url`'s role) and runs as the
    /// separate application role [`APPLICATION_ROLE`], as in production.
    pub fn env_for_database(&self, database_url: &str) -> Env {
        Env::from_pairs([
            ("DATABASE_OWNER_URL", database_url.to_owned()),
            ("DATABASE_URL", application_url(database_url)),
            ("DATABASE_MAX_CONNECTIONS", "5".to_owned()),
            ("NATS_URL", self.nats_url.clone()),
            ("NATS_SUBJECT_PREFIX", self.prefix.clone()),
            ("GRPC_LISTEN_ADDR", "127.0.0.1:0".to_owned()),
            ("METRICS_LISTEN_ADDR", "127.0.0.1:0".to_owned()),
            ("SHUTDOWN_GRACE_SECONDS", "5".to_owned()),
            // Tests call fast and in bursts; the limits get their own test.
            ("RATE_LIMIT_PER_SECOND", "100000".to_owned()),
            ("RATE_LIMIT_BURST", "100000".to_owned()),
            ("CONCURRENCY_LIMIT_PER_CALLER", "10000".to_owned()),
            (
                "AUTH_JWKS_FILE",
                self.auth.jwks_file().display().to_string(),
            ),
            (
                "FEDERATION_IDENTITY_KEY_FILE",
                self.auth
                    .federation_identity_key_file()
                    .display()
                    .to_string(),
            ),
        ])
    }

    /// The environment of `service` under test, with its own signing key (for the
    /// services that call others).
    pub fn service_env(&self, service: &str) -> Env {
        self.env().with(
            "AUTH_SIGNING_KEY_FILE",
            self.auth.service_key_file(service).display().to_string(),
        )
    }

    /// A bus on the same NATS and prefix, for publishing or inspecting.
    pub async fn bus(&self) -> flatgov_messaging::EventBus {
        flatgov_messaging::EventBus::connect(
            &flatgov_messaging::BusConfig::plain(self.nats_url.clone(), self.prefix.clone()),
            "flatgov-test",
        )
        .await
        .expect("nats connection")
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        delete_streams(&self.nats_url, &self.prefix);
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// Installs tracing for a test process (once; later calls do nothing), so
/// spans carry OpenTelemetry trace ids. Logs go to the test's output.
pub fn init_tracing() {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        let config = flatgov_telemetry::TelemetryConfig {
            log_format: flatgov_telemetry::LogFormat::Pretty,
            log_filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            otlp_endpoint: None,
        };
        if let Ok(guard) = flatgov_telemetry::init("flatgov-test", &config) {
            // Tests end by exiting; the guard must outlive them.
            std::mem::forget(guard);
        }
    });
}

/// Adds `authorization: Bearer <token>` to a request.
pub fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// The `google.rpc.BadRequest` field violations a status carries, in the
/// order the service reported them; empty when it carries none. For
/// asserting that bad input names its field.
pub fn field_violations(status: &tonic::Status) -> Vec<FieldViolation> {
    use tonic_types::StatusExt as _;
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| FieldViolation::new(violation.field, violation.description))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` until it returns `Some`, or panics after `timeout` naming
/// `what` was awaited. For conditions reached asynchronously (events
/// relayed, health changing) — not a fixed sleep.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use flatgov_grpc::error::invalid_argument;

    use super::*;

    #[test]
    fn field_violations_reads_every_violation_of_a_refusal_in_order() {
        let status = invalid_argument(&[
            FieldViolation::new("page_size", "must not be negative, found -1"),
            FieldViolation::new("page_token", "is not a token returned by this list"),
        ]);
        assert_eq!(
            field_violations(&status),
            [
                FieldViolation::new("page_size", "must not be negative, found -1"),
                FieldViolation::new("page_token", "is not a token returned by this list"),
            ]
        );
        assert!(field_violations(&tonic::Status::not_found("no such block")).is_empty());
    }
}
