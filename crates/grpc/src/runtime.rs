//! Starting, running and stopping a service.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use flatgov_auth::Verifier;
use flatgov_config::ConfigError;
use flatgov_messaging::deadletters::Redrivers;
use flatgov_messaging::{
    ConsumerSpec, EventBus, EventHandler, MessagingMetrics, Relay, RelayConfig,
};
use prometheus_client::registry::Registry;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::audit_trail::{AuditTrailService, prune_worker};
use crate::authz::{AuditSink, AuthzLayer, CHASSIS_POLICIES};
use crate::config::{ChassisConfig, ServiceIdentity};
use crate::event_delivery::EventDeliveryService;
use crate::layers::{ObservabilityLayer, RpcMetrics};

/// How often health re-checks PostgreSQL and NATS.
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] flatgov_db::DatabaseError),
    #[error(transparent)]
    Bus(#[from] flatgov_messaging::BusError),
    #[error("{0}")]
    Auth(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// Connected infrastructure and the background work of one service, before
/// it serves. Services build their handlers from its parts, register
/// their relay and consumers, then call [`Runtime::serve`].
pub struct Runtime {
    identity: &'static ServiceIdentity,
    config: ChassisConfig,
    /// The service's own database, migrated.
    pub pool: PgPool,
    /// NATS with the service's stream provisioned (or being provisioned, if
    /// NATS is away at start).
    pub bus: EventBus,
    /// Checks callers' tokens.
    pub verifier: Verifier,
    /// Series the service may add its own metrics to before serving.
    pub registry: Registry,
    pub messaging_metrics: MessagingMetrics,
    /// Cancelled after the server has drained: stops relay, consumers and
    /// workers, which then finish their current unit of work.
    background_shutdown: CancellationToken,
    background: JoinSet<()>,
    consumers: Vec<ConsumerSpec>,
    /// The consumers' handlers, through which dead letters are redriven.
    redrivers: Redrivers,
    /// The gRPC port, bound at start (it answered NOT_SERVING while the
    /// database was awaited).
    grpc_listener: TcpListener,
}

impl Runtime {
    /// Connects to PostgreSQL (creating and migrating the database) and NATS
    /// (provisioning the service's stream in the background), and loads the
    /// token verification key.
    pub async fn start(
        identity: &'static ServiceIdentity,
        config: ChassisConfig,
    ) -> Result<Self, StartError> {
        let defects = identity.policy.defects();
        if !defects.is_empty() {
            return Err(StartError::Other(format!(
                "the policy table of {} has defects: {}",
                identity.grpc_service,
                defects.join("; ")
            )));
        }
        let verifier = Verifier::new(config.auth.clone())
            .await
            .map_err(StartError::Auth)?;
        // The port is taken first, and answers health checks with
        // NOT_SERVING for as long as PostgreSQL keeps start-up waiting: a
        // probe sees a process that is alive but not ready, instead of no
        // answer at all.
        let grpc_listener = bind_patiently(config.server.grpc_addr).await?;
        let database = async {
            if config.database.migrate_on_start {
                migrate_as_owner(identity, &config.database).await?;
            }
            flatgov_db::connect(&config.database).await
        };
        let pool = not_serving_until(
            &grpc_listener,
            identity,
            config.server.tls.as_ref(),
            database,
        )
        .await??;
        let bus = EventBus::connect(&config.bus, &identity.process_name()).await?;
        let mut registry = Registry::default();
        let messaging_metrics = MessagingMetrics::register(&mut registry);
        let background_shutdown = CancellationToken::new();
        let mut background = JoinSet::new();
        background.spawn(prune_worker(
            pool.clone(),
            config.audit,
            background_shutdown.clone(),
        ));
        {
            let bus = bus.clone();
            let shutdown = background_shutdown.clone();
            let service = identity.name;
            background.spawn(async move { provision_streams(bus, service, shutdown).await });
        }
        Ok(Self {
            identity,
            config,
            pool,
            bus,
            verifier,
            registry,
            messaging_metrics,
            background_shutdown,
            background,
            consumers: Vec::new(),
            redrivers: Redrivers::default(),
            grpc_listener,
        })
    }

    pub fn identity(&self) -> &'static ServiceIdentity {
        self.identity
    }

    pub fn config(&self) -> &ChassisConfig {
        &self.config
    }

    /// Largest request/response in bytes; apply to generated servers with
    /// [`crate::bounded!`].
    pub fn max_message_bytes(&self) -> usize {
        self.config.server.max_message_bytes
    }

    /// Starts the outbox relay with default tuning.
    pub fn spawn_relay(&mut self) {
        self.spawn_relay_with(RelayConfig {
            max_attempts: self.config.outbox_max_attempts,
            ..RelayConfig::default()
        });
    }

    pub fn spawn_relay_with(&mut self, relay_config: RelayConfig) {
        let relay = Relay::new(
            self.pool.clone(),
            self.bus.clone(),
            self.identity.name,
            relay_config,
            self.messaging_metrics.clone(),
        );
        let shutdown = self.background_shutdown.clone();
        self.background.spawn(relay.run(shutdown));
    }

    /// Starts a durable consumer feeding `handler`, and the pruning of its
    /// inbox.
    pub fn spawn_consumer<H: EventHandler>(&mut self, spec: ConsumerSpec, handler: Arc<H>) {
        self.consumers.push(spec.clone());
        self.redrivers.insert(
            spec.durable_name.clone(),
            flatgov_messaging::consumer::redriver(&spec, handler.clone()),
        );
        self.background
            .spawn(flatgov_messaging::consumer::prune_inbox_worker(
                self.pool.clone(),
                spec.durable_name.clone(),
                self.background_shutdown.clone(),
            ));
        let task = flatgov_messaging::consumer::run(
            self.pool.clone(),
            self.bus.clone(),
            spec,
            handler,
            self.messaging_metrics.clone(),
            self.background_shutdown.clone(),
        );
        self.background.spawn(task);
    }

    /// Starts a background worker (e.g. a deadline scanner). It must return
    /// promptly once `shutdown` is cancelled.
    pub fn spawn_worker<F, Fut>(&mut self, worker: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shutdown = self.background_shutdown.clone();
        self.background.spawn(worker(shutdown));
    }

    /// Binds the gRPC and metrics listeners and starts serving `routes` with
    /// health, reflection, auth, tracing and metrics around them.
    pub async fn serve(self, routes: Routes) -> Result<Application, StartError> {
        let Runtime {
            identity,
            config,
            pool,
            bus,
            verifier,
            mut registry,
            messaging_metrics,
            background_shutdown,
            mut background,
            consumers,
            redrivers,
            grpc_listener,
        } = self;

        let metrics_listener = bind_patiently(config.server.metrics_addr).await?;
        let grpc_addr = grpc_listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: config.server.grpc_addr,
                source,
            })?;
        let metrics_addr = metrics_listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: config.server.metrics_addr,
                source,
            })?;

        let authz = AuthzLayer::new(
            verifier,
            &[
                identity.policy,
                CHASSIS_POLICIES[0],
                CHASSIS_POLICIES[1],
                CHASSIS_POLICIES[2],
                CHASSIS_POLICIES[3],
                CHASSIS_POLICIES[4],
            ],
            config.limits,
            config.server.max_request_bytes,
            Some(AuditSink::new(pool.clone(), &mut registry)),
        );
        let rpc_metrics = RpcMetrics::register(&mut registry, authz.known_paths());
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(flatgov_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(identity.grpc_service)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("flatgov.audit.v1.AuditTrail")
            .with_service_name("flatgov.messaging.v1.EventDelivery")
            .build_v1()
            .map_err(|error| StartError::Other(format!("reflection: {error}")))?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(flatgov_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(identity.grpc_service)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("flatgov.audit.v1.AuditTrail")
            .with_service_name("flatgov.messaging.v1.EventDelivery")
            .build_v1alpha()
            .map_err(|error| StartError::Other(format!("reflection: {error}")))?;
        let audit_trail = flatgov_proto::audit::v1::audit_trail_server::AuditTrailServer::new(
            AuditTrailService::new(pool.clone()),
        );
        let event_delivery =
            flatgov_proto::messaging::v1::event_delivery_server::EventDeliveryServer::new(
                EventDeliveryService::new(pool.clone(), bus.clone(), identity.name, redrivers),
            );
        let routes = routes
            .add_service(audit_trail)
            .add_service(event_delivery)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        // Stops accepting calls and lets in-flight ones finish.
        let server_shutdown = CancellationToken::new();
        let layers = tower::ServiceBuilder::new()
            .layer(ObservabilityLayer::new(rpc_metrics))
            .layer(authz);
        // With an incoming stream tonic does not touch the sockets, so
        // Nagle's algorithm is switched off here: small unary replies would
        // otherwise wait for the peer's delayed ACK (~40 ms).
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
            |accepted| {
                if let Ok(stream) = &accepted
                    && let Err(error) = stream.set_nodelay(true)
                {
                    tracing::debug!(%error, "cannot disable nagle on an accepted connection");
                }
                accepted
            },
        );
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &config.server.tls {
            builder = builder
                .tls_config(server_tls_config(tls)?)
                .map_err(|error| StartError::Other(format!("gRPC TLS: {error}")))?;
        }
        let server = builder
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .layer(layers)
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, server_shutdown.clone().cancelled_owned());
        let server_task = tokio::spawn(server);

        let registry = Arc::new(registry);
        let metrics_task = tokio::spawn(serve_metrics(
            metrics_listener,
            registry.clone(),
            background_shutdown.clone(),
        ));

        // Health starts NOT_SERVING and turns SERVING once the database
        // answers.
        set_health(&health_reporter, identity, ServingStatus::NotServing).await;
        {
            let reporter = health_reporter.clone();
            let pool = pool.clone();
            let bus = bus.clone();
            let shutdown = server_shutdown.clone();
            let metrics = messaging_metrics.clone();
            background.spawn(async move {
                monitor_health(reporter, identity, pool, bus, consumers, metrics, shutdown).await
            });
        }

        tracing::info!(
            service = identity.name,
            grpc = %grpc_addr,
            metrics = %metrics_addr,
            "flatgov-{} ready",
            identity.name
        );
        Ok(Application {
            identity,
            tls: config.server.tls.is_some(),
            grpc_addr,
            metrics_addr,
            shutdown_grace: config.server.shutdown_grace,
            health_reporter,
            server_shutdown,
            background_shutdown,
            server_task,
            metrics_task,
            background,
            pool,
        })
    }
}

/// Serves `grpc.health.v1` on `listener`, always NOT_SERVING, until `work`
/// is done, and returns its output. Start-up waits for PostgreSQL (for as
/// long as it takes, with backoff) inside `work`.
///
/// When `work` is done this server shuts down gracefully before the real one
/// takes the listener: its connections are told to go away (HTTP/2 GOAWAY).
/// Merely dropping it would leave the connections it accepted open, each
/// served by the health-only router for good — a client that connected while
/// the service started (a peer's channel, a test's lazy channel) would then get
/// UNIMPLEMENTED for every call, however long it waited.
async fn not_serving_until<T>(
    listener: &TcpListener,
    identity: &'static ServiceIdentity,
    tls: Option<&crate::config::ServerTls>,
    work: impl Future<Output = T>,
) -> Result<T, StartError> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    set_health(&reporter, identity, ServingStatus::NotServing).await;
    let incoming = futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    });
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(server_tls_config(tls)?)
            .map_err(|error| StartError::Other(format!("gRPC TLS: {error}")))?;
    }
    let done = CancellationToken::new();
    let health_only = builder
        .add_service(health_service)
        .serve_with_incoming_shutdown(incoming, done.clone().cancelled_owned());
    tokio::pin!(work);
    tokio::pin!(health_only);
    tokio::select! {
        output = &mut work => {
            done.cancel();
            // Health checks finish at once; a connection that does not close
            // within the bound is cut when this future is dropped.
            match tokio::time::timeout(STARTUP_SERVER_DRAIN, &mut health_only).await {
                Ok(Err(error)) => tracing::debug!(%error, "the start-up health server stopped"),
                Ok(Ok(())) => {}
                Err(_) => tracing::warn!(
                    "a connection to the start-up health server did not close in {STARTUP_SERVER_DRAIN:?}"
                ),
            }
            Ok(output)
        }
        served = &mut health_only => {
            if let Err(error) = served {
                tracing::warn!(%error, "the start-up health server stopped; waiting without it");
            }
            Ok(work.await)
        }
    }
}

/// How long the start-up health server's connections get to close once the
/// service is ready.
const STARTUP_SERVER_DRAIN: Duration = Duration::from_secs(5);

/// How long start-up keeps trying a port that is in use before giving up.
const BIND_PATIENCE: Duration = Duration::from_secs(30);

/// Binds `addr`, retrying while the port is in use. A fixed port inside the
/// kernel's ephemeral range (50051–50057 are) can be held for a moment by an
/// outgoing connection, or by the previous process of a restart; exiting at
/// once made a supervisor restart the service dozens of times in a chaos run.
/// `scripts/up` also reserves the platform's ports
/// (`net.ipv4.ip_local_reserved_ports`), which prevents the collision where
/// it may.
async fn bind_patiently(addr: SocketAddr) -> Result<TcpListener, StartError> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(source)
                if source.kind() == std::io::ErrorKind::AddrInUse
                    && started.elapsed() < BIND_PATIENCE =>
            {
                tracing::warn!(%addr, retry_in = ?pause, "port in use, retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(source) => return Err(StartError::Bind { addr, source }),
        }
    }
}

/// The listener's TLS from its files, read once at start (a renewed certificate
/// is served after a restart, which a rollout does).
fn server_tls_config(
    tls: &crate::config::ServerTls,
) -> Result<tonic::transport::ServerTlsConfig, StartError> {
    let read = |name: &str, path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|error| StartError::Other(format!("{name} {}: {error}", path.display())))
    };
    let mut config =
        tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(
            read("GRPC_TLS_CERT_FILE", &tls.cert_file)?,
            read("GRPC_TLS_KEY_FILE", &tls.key_file)?,
        ));
    if let Some(client_ca) = &tls.client_ca_file {
        config = config
            .client_ca_root(tonic::transport::Certificate::from_pem(read(
                "GRPC_TLS_CLIENT_CA_FILE",
                client_ca,
            )?))
            .client_auth_optional(false);
    }
    Ok(config)
}

/// Applies the service's migrations (and the chassis' own) under sqlx's
/// advisory lock.
pub async fn migrate(
    identity: &ServiceIdentity,
    pool: &PgPool,
) -> Result<(), flatgov_db::DatabaseError> {
    let messaging = flatgov_messaging::migrator();
    let audit = flatgov_audit::migrator();
    let idempotency = crate::idempotency::migrator();
    let service = (identity.migrator)();
    flatgov_db::migrate(pool, &[&messaging, &audit, &idempotency, &service]).await
}

/// Migrates as the owner role and grants the application role what it may
/// do; the `migrate` subcommand and start-up both come here. Warns when
/// the application role is the owner, which nothing can restrict.
pub async fn migrate_as_owner(
    identity: &ServiceIdentity,
    database: &flatgov_db::DatabaseConfig,
) -> Result<(), flatgov_db::DatabaseError> {
    let owner = flatgov_db::connect_owner(database).await?;
    let result = async {
        migrate(identity, &owner).await?;
        let mut read_only: Vec<&str> = Vec::new();
        read_only.extend(flatgov_audit::APPEND_ONLY_TABLES);
        flatgov_db::grant_application_privileges(
            &owner,
            database.url.expose(),
            &flatgov_db::Privileges {
                append_only: identity.append_only_tables,
                read_only: &read_only,
                functions: &flatgov_audit::FUNCTIONS,
            },
        )
        .await
    }
    .await;
    owner.close().await;
    if !result? {
        tracing::warn!(
            service = identity.name,
            "the application connects as the database owner: audit and history tables are not \
             protected from it (set DATABASE_OWNER_URL and a separate DATABASE_URL role)"
        );
    }
    Ok(())
}

async fn provision_streams(bus: EventBus, service: &'static str, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let result = async {
            bus.ensure_stream(service).await?;
            bus.ensure_deadletter_stream().await
        }
        .await;
        match result {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "cannot provision streams yet");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn set_health(reporter: &HealthReporter, identity: &ServiceIdentity, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    reporter
        .set_service_status(identity.grpc_service, status)
        .await;
}

/// Health follows what an RPC needs: every write and read needs the
/// service's database, none needs NATS (events wait in the outbox). So the
/// service is SERVING while PostgreSQL answers and NOT_SERVING while it does
/// not; a NATS outage leaves it SERVING and is reported as a degradation
/// instead — the `flatgov_nats_connected` gauge at 0 and a warning — so a
/// NATS outage no longer takes every pod out of readiness. Also refreshes
/// the consumer-lag gauges.
async fn monitor_health(
    reporter: HealthReporter,
    identity: &'static ServiceIdentity,
    pool: PgPool,
    bus: EventBus,
    consumers: Vec<ConsumerSpec>,
    metrics: MessagingMetrics,
    shutdown: CancellationToken,
) {
    let mut serving: Option<bool> = None;
    let mut nats_was_ok: Option<bool> = None;
    let mut ticks: u64 = 0;
    loop {
        let database_ok = flatgov_db::ping(&pool, Duration::from_millis(900)).await;
        let nats_ok = bus.is_connected();
        if serving != Some(database_ok) {
            if database_ok {
                tracing::info!("database reachable: serving");
            } else {
                tracing::warn!("database unreachable: not serving");
            }
            let status = if database_ok {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            set_health(&reporter, identity, status).await;
            serving = Some(database_ok);
        }
        if nats_was_ok != Some(nats_ok) {
            if nats_ok {
                tracing::info!("nats reachable: publishing and consuming");
            } else {
                tracing::warn!(
                    "nats unreachable: degraded, still serving; events wait in the outbox and consumers pause"
                );
            }
            metrics.nats_connected.set(i64::from(nats_ok));
            nats_was_ok = Some(nats_ok);
        }
        if ticks.is_multiple_of(5) && nats_ok {
            for spec in &consumers {
                flatgov_messaging::consumer::measure_lag(&bus, spec, &metrics).await;
            }
            if !consumers.is_empty() {
                flatgov_messaging::consumer::measure_dead_letters(&bus, identity.name, &metrics)
                    .await;
            }
        }
        ticks += 1;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(HEALTH_INTERVAL) => {}
        }
    }
}

async fn serve_metrics(
    listener: TcpListener,
    registry: Arc<Registry>,
    shutdown: CancellationToken,
) {
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move {
                let mut body = String::new();
                match prometheus_client::encoding::text::encode(&mut body, &registry) {
                    Ok(()) => (
                        http::StatusCode::OK,
                        [(
                            http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        body,
                    ),
                    Err(error) => (
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                        format!("cannot encode metrics: {error}"),
                    ),
                }
            }
        }),
    );
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(%error, "metrics server failed");
    }
}

/// A running service.
pub struct Application {
    identity: &'static ServiceIdentity,
    /// Whether the gRPC listener speaks TLS.
    tls: bool,
    grpc_addr: SocketAddr,
    metrics_addr: SocketAddr,
    shutdown_grace: Duration,
    health_reporter: HealthReporter,
    server_shutdown: CancellationToken,
    background_shutdown: CancellationToken,
    server_task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    metrics_task: tokio::task::JoinHandle<()>,
    background: JoinSet<()>,
    pool: PgPool,
}

impl Application {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// `http://127.0.0.1:<port>` for clients on this host, or
    /// `https://localhost:<port>` when the listener speaks TLS (the name its
    /// certificate carries).
    pub fn grpc_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.grpc_addr.port())
        } else {
            format!("http://127.0.0.1:{}", self.grpc_addr.port())
        }
    }

    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> Result<(), String> {
        wait_for_signal().await;
        tracing::info!(
            service = self.identity.name,
            "stop signal received, shutting down"
        );
        self.shutdown().await
    }

    /// Graceful stop: report NOT_SERVING, stop accepting calls and drain the
    /// in-flight ones, then stop the background work, letting the relay
    /// publish what those calls committed — all within one grace period
    /// (`SHUTDOWN_GRACE_SECONDS`), so that the whole stop fits inside
    /// Kubernetes' `terminationGracePeriodSeconds` (the grace plus the preStop
    /// sleep plus a margin). Before, calls and background work had a grace
    /// period each, and the two together could outlast it.
    pub async fn shutdown(mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.shutdown_grace;
        set_health(
            &self.health_reporter,
            self.identity,
            ServingStatus::NotServing,
        )
        .await;
        self.server_shutdown.cancel();
        let server_result = match tokio::time::timeout_at(deadline, &mut self.server_task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(error))) => Err(format!("grpc server failed: {error}")),
            Ok(Err(error)) => Err(format!("grpc server task failed: {error}")),
            Err(_) => {
                self.server_task.abort();
                Err(format!(
                    "in-flight calls did not finish within {:?}",
                    self.shutdown_grace
                ))
            }
        };
        self.background_shutdown.cancel();
        let background_done = async { while self.background.join_next().await.is_some() {} };
        if tokio::time::timeout_at(deadline, background_done)
            .await
            .is_err()
        {
            tracing::warn!("background work did not stop within the grace period");
            self.background.abort_all();
        }
        let _ = self.metrics_task.await;
        self.pool.close().await;
        tracing::info!(service = self.identity.name, "stopped");
        server_result
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
