//! `LocatePoint` over gRPC beside a trivial echo RPC, in the same run.
//!
//! Run with `scripts/bench-blocks grpc` or
//! `cargo bench -p flatgov-blocks --bench grpc`. Results are recorded in
//! `docs/benchmarks/blocks.md`. This measures and prints; it fails only when
//! infrastructure is unusable or an answer is wrong.
//!
//! Both servers are the real services on the chassis (auth layer, tracing
//! spans, metrics, deadlines), in this process, on the shared PostgreSQL and
//! NATS: the block registry with the synthetic demo district (326 blocks, 3,025
//! staff) loaded through its API, and `flatgov_testkit::echo` (`Echo` checks
//! the bearer token and returns the message). The load generator runs in the
//! same process on the same cores, identically for both, so the comparison is
//! fair and the absolute figures are a floor.
//!
//! Method: `FLATGOV_BENCH_CONCURRENCY` (default 32) tasks share
//! `FLATGOV_BENCH_CONNECTIONS` (default 4) HTTP/2 connections and send one
//! request after another for `FLATGOV_BENCH_SECONDS` (default 10) per
//! measurement; each request is timed from send to decoded response. After a
//! 2-second warm-up of each RPC the measurements alternate — echo, LocatePoint,
//! echo, LocatePoint, … for `FLATGOV_BENCH_ROUNDS` (default 2) rounds — so
//! drift in the shared machine's load hits both alike. Then, once each:
//! LocatePoint with the CONTACTS view (adds one PostgreSQL read of the team's
//! roster entries) and LocatePoints with 100 points per call.
//!
//! Points: uniform in the demo district's bounding box, kept only when the
//! in-memory index (the same one the service uses) finds a block, so every
//! LocatePoint succeeds; the answers are checked against that index.
//!
//! Two transports, measured one after the other in the same run:
//!
//! 1. **chassis**: both services exactly as `Runtime::serve` runs them. Its
//!    listener is handed to tonic with `serve_with_incoming_shutdown`, which
//!    ignores `Server::tcp_nodelay` (tonic documents this), so accepted sockets
//!    keep Nagle's algorithm; a response tonic writes in two pieces then waits
//!    for the client's delayed ACK (~40 ms on Linux).
//! 2. **nodelay**: the same handlers behind the same layers (the chassis'
//!    `ObservabilityLayer` and the policy layer `AuthzLayer`) served from a `TcpIncoming` with
//!    `TCP_NODELAY` — what the chassis gives once it sets the option. The echo
//!    here is a trivial `Echo` implementation with the same behaviour as
//!    `flatgov_testkit::echo` (token check, message returned).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use flatgov_blocks::domain::index::BlockIndex;
use flatgov_blocks::domain::synthetic::{DEMO_SEED, SplitMix64, demo_district};
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_proto::testing::v1::echo_server::{Echo, EchoServer};
use flatgov_proto::testing::v1::{EchoRequest, EchoResponse, RecordRequest, RecordResponse};
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::{TestDatabase, TestEnv, with_token};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={text:?} is not valid")),
        Err(_) => Ok(default),
    }
}

/// What one measurement found.
struct Measurement {
    requests: usize,
    elapsed: Duration,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    p999_us: f64,
}

impl Measurement {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

fn summarise(mut samples: Vec<u64>, elapsed: Duration) -> Measurement {
    samples.sort_unstable();
    let at = |fraction: f64| {
        if samples.is_empty() {
            return 0.0;
        }
        let position = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
        samples[position] as f64 / 1_000.0
    };
    Measurement {
        requests: samples.len(),
        elapsed,
        p50_us: at(0.50),
        p90_us: at(0.90),
        p99_us: at(0.99),
        p999_us: at(0.999),
    }
}

/// Runs `call` from `concurrency` tasks for `duration`; each task's `call`
/// gets its task index and a running counter.
async fn drive<F, Fut>(
    concurrency: usize,
    duration: Duration,
    call: F,
) -> anyhow::Result<Measurement>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..concurrency {
        let call = call.clone();
        tasks.spawn(async move {
            let mut samples = Vec::with_capacity(100_000);
            let mut counter = 0usize;
            while Instant::now() < deadline {
                let sent = Instant::now();
                call(task, counter).await?;
                samples.push(sent.elapsed().as_nanos() as u64);
                counter += 1;
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    let mut samples = Vec::new();
    while let Some(result) = tasks.join_next().await {
        samples.extend(result.context("load task panicked")??);
    }
    Ok(summarise(samples, started.elapsed()))
}

/// The trivial echo of the nodelay transport: checks the caller, returns the message.
struct TrivialEcho;

#[tonic::async_trait]
impl Echo for TrivialEcho {
    async fn echo(
        &self,
        request: tonic::Request<EchoRequest>,
    ) -> Result<tonic::Response<EchoResponse>, tonic::Status> {
        flatgov_grpc::access(&request)?;
        Ok(tonic::Response::new(EchoResponse {
            message: request.into_inner().message,
        }))
    }

    async fn record(
        &self,
        _request: tonic::Request<RecordRequest>,
    ) -> Result<tonic::Response<RecordResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented(
            "the benchmark echo records nothing",
        ))
    }
}

/// Per-caller limits high enough that the one benchmark caller is never held back.
fn unlimited() -> flatgov_grpc::authz::LimitsConfig {
    flatgov_grpc::authz::LimitsConfig {
        calls_per_second: 1e9,
        burst: 1e9,
        concurrent_calls: 1_000_000,
    }
}

/// Serves `routes` behind the chassis' layers (observability, then the
/// policy layer enforcing `policy`, without audit sink) on a TCP_NODELAY
/// listener; returns its URL.
async fn serve_nodelay(
    routes: tonic::service::Routes,
    verifier: flatgov_auth::Verifier,
    policy: &'static flatgov_auth::policy::Policy,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut registry = prometheus_client::registry::Registry::default();
    // Requests as large as the registry accepts for imports: the benchmark
    // sends only small ones, so the cap never applies.
    let authz =
        flatgov_grpc::authz::AuthzLayer::new(verifier, &[policy], unlimited(), 64 << 20, None);
    let layers = tower::ServiceBuilder::new()
        .layer(flatgov_grpc::layers::ObservabilityLayer::new(
            flatgov_grpc::layers::RpcMetrics::register(&mut registry, authz.known_paths()),
        ))
        .layer(authz);
    let server = tonic::transport::Server::builder()
        .layer(layers)
        .add_routes(routes)
        .serve_with_incoming(incoming);
    tokio::spawn(server);
    Ok(url)
}

async fn channels(url: &str, count: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        channels.push(
            Endpoint::from_shared(url.to_owned())?
                .tcp_nodelay(true)
                .connect()
                .await
                .with_context(|| format!("connecting to {url}"))?,
        );
    }
    Ok(channels)
}

fn print_row(name: &str, measurement: &Measurement, unit_per_call: usize) {
    println!(
        "| {name} | {:>9.0} | {:>10.0} | {:>7.0} | {:>7.0} | {:>7.0} | {:>8.0} | {:>9} |",
        measurement.per_second(),
        measurement.per_second() * unit_per_call as f64,
        measurement.p50_us,
        measurement.p90_us,
        measurement.p99_us,
        measurement.p999_us,
        measurement.requests
    );
}

#[derive(Clone, Copy)]
struct Settings {
    concurrency: usize,
    connections: usize,
    rounds: usize,
    duration: Duration,
}

async fn measure(
    settings: &Settings,
    registry_url: &str,
    echo_url: &str,
    points: &Arc<Vec<(GeoPoint, String)>>,
    token: &str,
) -> anyhow::Result<()> {
    let Settings {
        concurrency,
        connections,
        rounds,
        duration,
    } = *settings;
    let seconds = duration.as_secs();
    let token = token.to_owned();
    let registry_channels = channels(registry_url, connections).await?;
    let echo_channels = channels(echo_url, connections).await?;

    let locate = |view: api::BlockView| {
        let channels = registry_channels.clone();
        let points = points.clone();
        let token = token.clone();
        move |task: usize, counter: usize| {
            let mut client = BlockRegistryClient::new(channels[task % channels.len()].clone());
            let (point, expected) = points[(task * 7_919 + counter) % points.len()].clone();
            let token = token.clone();
            async move {
                let block = client
                    .locate_point(with_token(
                        api::LocatePointRequest {
                            point: Some(point),
                            at: None,
                            view: view as i32,
                            generation: String::new(),
                        },
                        &token,
                    ))
                    .await?
                    .into_inner()
                    .block
                    .context("no block in the answer")?;
                if block.code != expected {
                    bail!(
                        "LocatePoint answered {} where the index says {expected}",
                        block.code
                    );
                }
                Ok(())
            }
        }
    };
    let echo_call = {
        let channels = echo_channels.clone();
        let token = token.clone();
        move |task: usize, _counter: usize| {
            let mut client = EchoClient::new(channels[task % channels.len()].clone());
            let token = token.clone();
            async move {
                client
                    .echo(with_token(
                        EchoRequest {
                            message: "block 430302001001001".into(),
                            delay_millis: 0,
                        },
                        &token,
                    ))
                    .await?;
                Ok(())
            }
        }
    };
    let batch_call = {
        let channels = registry_channels.clone();
        let points = points.clone();
        let token = token.clone();
        move |task: usize, counter: usize| {
            let mut client = BlockRegistryClient::new(channels[task % channels.len()].clone());
            let start = (task * 7_919 + counter * 100) % (points.len() - 100);
            let batch: Vec<GeoPoint> = points[start..start + 100]
                .iter()
                .map(|(point, _)| *point)
                .collect();
            let token = token.clone();
            async move {
                let answer = client
                    .locate_points(with_token(
                        api::LocatePointsRequest {
                            points: batch,
                            at: None,
                            view: api::BlockView::Basic as i32,
                            generation: String::new(),
                        },
                        &token,
                    ))
                    .await?
                    .into_inner();
                if answer
                    .locations
                    .iter()
                    .any(|location| location.block.is_none())
                {
                    bail!("a batch point was not located");
                }
                Ok(())
            }
        }
    };

    println!(
        "warm-up: 2 s each; then {rounds} round(s) of {seconds} s per RPC; {concurrency} concurrent callers over {connections} connections"
    );
    drive(concurrency, Duration::from_secs(2), echo_call.clone()).await?;
    drive(
        concurrency,
        Duration::from_secs(2),
        locate(api::BlockView::Basic),
    )
    .await?;

    println!();
    println!("| RPC | calls/s | points/s | p50 µs | p90 µs | p99 µs | p99.9 µs | calls |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut echo_rates = Vec::new();
    let mut locate_rates = Vec::new();
    for round in 1..=rounds {
        let echoed = drive(concurrency, duration, echo_call.clone()).await?;
        print_row(&format!("Echo (round {round})"), &echoed, 1);
        echo_rates.push((echoed.per_second(), echoed.p99_us));
        let located = drive(concurrency, duration, locate(api::BlockView::Basic)).await?;
        print_row(&format!("LocatePoint (round {round})"), &located, 1);
        locate_rates.push((located.per_second(), located.p99_us));
    }
    let contacts = drive(concurrency, duration, locate(api::BlockView::Contacts)).await?;
    print_row("LocatePoint, CONTACTS view", &contacts, 1);
    let batch = drive(concurrency, duration, batch_call).await?;
    print_row("LocatePoints × 100", &batch, 100);

    let mean = |values: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
        values.iter().map(pick).sum::<f64>() / values.len() as f64
    };
    println!();
    println!(
        "mean over rounds: Echo {:.0} calls/s (p99 {:.0} µs), LocatePoint {:.0} calls/s (p99 {:.0} µs): LocatePoint runs at {:.0} % of echo's rate",
        mean(&echo_rates, |rate| rate.0),
        mean(&echo_rates, |rate| rate.1),
        mean(&locate_rates, |rate| rate.0),
        mean(&locate_rates, |rate| rate.1),
        100.0 * mean(&locate_rates, |rate| rate.0) / mean(&echo_rates, |rate| rate.0)
    );

    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = env_or("FLATGOV_BENCH_SECONDS", 10)?;
    let concurrency: usize = env_or("FLATGOV_BENCH_CONCURRENCY", 32)?;
    let connections: usize = env_or("FLATGOV_BENCH_CONNECTIONS", 4)?.max(1);
    let rounds: usize = env_or("FLATGOV_BENCH_ROUNDS", 2)?.max(1);
    let duration = Duration::from_secs(seconds);

    let test = TestEnv::new();
    // One benchmark caller sends thousands of calls a second: lift its limits.
    let env = test
        .env()
        .with("RATE_LIMIT_PER_SECOND", "1000000000")
        .with("RATE_LIMIT_BURST", "1000000000")
        .with("CONCURRENCY_LIMIT_PER_CALLER", "1000000");
    let registry = flatgov_blocks::build(env.clone().with("DATABASE_MAX_CONNECTIONS", "16"))
        .await
        .context("starting the block registry (PostgreSQL on 127.0.0.1:5432 and NATS on 127.0.0.1:4222 must be up)")?;
    let echo_database = TestDatabase::new();
    let echo_server = echo::build(
        test.env_for_database(echo_database.url())
            .with("RATE_LIMIT_PER_SECOND", "1000000000")
            .with("RATE_LIMIT_BURST", "1000000000")
            .with("CONCURRENCY_LIMIT_PER_CALLER", "1000000"),
        EchoOptions {
            relay: None,
            consumer: None,
        },
    )
    .await
    .context("starting the echo service")?;
    let token = test.auth.admin_token();

    let mut loader = BlockRegistryClient::connect(registry.grpc_url()).await?;
    let loaded = flatgov_demo::load_demo(&mut loader, &token, DEMO_SEED).await?;
    println!(
        "demo district loaded: {} ({} blocks, {} staff)",
        loaded.generation.name, loaded.generation.block_count, loaded.staff.created
    );

    // Points the index places in a block, with the expected answers.
    let district = demo_district(DEMO_SEED)?;
    let index = BlockIndex::build(
        district
            .blocks
            .iter()
            .map(|block| (block.code, block.geometry.clone())),
    )?;
    let mut random = SplitMix64::new(20_261_201);
    let mut points: Vec<(GeoPoint, String)> = Vec::with_capacity(10_000);
    while points.len() < 10_000 {
        let longitude = random.range_f64(112.895, 112.975);
        let latitude = random.range_f64(27.815, 27.905);
        if let Some(code) = index.locate(longitude, latitude) {
            points.push((
                GeoPoint {
                    longitude,
                    latitude,
                    ..Default::default()
                },
                code.to_string(),
            ));
        }
    }
    let points = Arc::new(points);

    let settings = Settings {
        concurrency,
        connections,
        rounds,
        duration,
    };
    println!();
    println!("## transport: chassis (Runtime::serve as committed)");
    measure(
        &settings,
        &registry.grpc_url(),
        &echo_server.grpc_url(),
        &points,
        &token,
    )
    .await?;

    let verifier = flatgov_auth::Verifier::new(flatgov_auth::AuthConfig::from_env(
        &test.env(),
        flatgov_blocks::IDENTITY.name,
    )?)
    .await
    .map_err(anyhow::Error::msg)?;
    let snapshot = Arc::new(
        flatgov_blocks::snapshot::Registry::load(
            registry.pool().clone(),
            4,
            flatgov_blocks::snapshot::SnapshotMetrics::default(),
        )
        .await?,
    );
    let service = flatgov_blocks::grpc::RegistryService::new(
        registry.pool().clone(),
        snapshot,
        flatgov_blocks::domain::validation::ValidationSettings::default(),
        flatgov_grpc::clock::Clock::system(),
    );
    let registry_nodelay = serve_nodelay(
        tonic::service::Routes::new(
            flatgov_proto::blocks::v1::block_registry_server::BlockRegistryServer::new(service),
        ),
        verifier.clone(),
        &flatgov_blocks::policy::POLICY,
    )
    .await?;
    let echo_nodelay = serve_nodelay(
        tonic::service::Routes::new(EchoServer::new(TrivialEcho)),
        verifier,
        &echo::POLICY,
    )
    .await?;
    println!();
    println!("## transport: nodelay (the chassis' layers on a TCP_NODELAY socket)");
    measure(&settings, &registry_nodelay, &echo_nodelay, &points, &token).await?;

    echo_server.shutdown().await.map_err(anyhow::Error::msg)?;
    registry.shutdown().await.map_err(anyhow::Error::msg)?;
    Ok(())
}
