//! Intake → `flatgov.cases.case.dispatched` seen by a NATS subscriber, with the real block
//! registry, duty lists and cases services running as separate release processes on
//! this machine, against the shared PostgreSQL and NATS. Measures and prints; it is not a
//! timed test. Run it with `scripts/bench-cases`; results in docs/benchmarks/cases.md.
//!
//! Phases:
//! 1. latency: `FLATGOV_BENCH_LATENCY_RATE` reports/s (100) for
//!    `FLATGOV_BENCH_LATENCY_SECONDS` (60): p50/p90/p99 from sending ReportCase to
//!    seeing the case's `CaseDispatched` on NATS, and CPU-ms per case;
//! 2. sustained: each rate of `FLATGOV_BENCH_RATES` (`300,500,700`) for
//!    `FLATGOV_BENCH_SUSTAIN_SECONDS` (120), sampling the outbox backlog and the triage
//!    queue every 10 s, to see whether the rate is carried without a growing backlog.
//!
//! Reports go to random points inside the synthetic demo district (located through the
//! registry's LocatePoints), with front-line matters of the reference duty lists, from
//! the hotline channel with a contact and a request id: the full intake path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use flatgov_auth::{Jurisdiction, Role, Signer, TokenRequest};
use flatgov_messaging::{BusConfig, Event, EventBus};
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::cases::v1::case_dispatch_client::CaseDispatchClient;
use flatgov_proto::duties::v1 as duties;
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_testkit::{free_port, with_token};
use futures::StreamExt as _;
use prost::Message as _;
use tonic::transport::{Channel, Endpoint};

const DEMO_SEED: u64 = 20_170_326;
/// Front-line matters of the reference catalogue, led by the subdistrict side.
const MATTERS: &[&str] = &[
    "broken_street_light",
    "damaged_manhole_cover",
    "damaged_road_surface",
    "blocked_drain",
];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .map_err(|error| anyhow::anyhow!("{name}={text}: {error}")),
        _ => Ok(default),
    }
}

/// CPU time (user + system) of a process, in milliseconds.
fn process_cpu_ms(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command (which may contain spaces) start after the last ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
    (ticks(11) + ticks(12)) * 10.0
}

/// CPU time of every process whose command is `name`, in milliseconds.
fn command_cpu_ms(name: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|comm| comm.trim() == name)
                .unwrap_or(false)
        })
        .map(process_cpu_ms)
        .sum()
}

/// Busy CPU time of the whole machine, in milliseconds.
fn machine_busy_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().next() else {
        return 0.0;
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|value| value.parse().ok())
        .collect();
    let total: f64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    (total - idle) * 10.0
}

/// A service process of the benchmark.
struct Process {
    name: &'static str,
    child: Child,
    grpc_url: String,
}

impl Process {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The three services, their databases and NATS prefix.
struct Platform {
    processes: Vec<Process>,
    database_urls: Vec<String>,
    prefix: String,
    nats_url: String,
    logs: PathBuf,
    signer: Signer,
    _keys: tempfile::TempDir,
}

impl Platform {
    fn url(&self, name: &str) -> anyhow::Result<String> {
        self.processes
            .iter()
            .find(|process| process.name == name)
            .map(|process| process.grpc_url.clone())
            .with_context(|| format!("no {name} process"))
    }

    fn token(&self, subject: &str, roles: &[Role]) -> anyhow::Result<String> {
        let district: Jurisdiction = "districts/430302"
            .parse()
            .map_err(|error: String| anyhow::anyhow!(error))?;
        Ok(self
            .signer
            .mint(&TokenRequest::new(subject, roles).jurisdiction(district)))
    }

    fn cpu_ms(&self) -> HashMap<&'static str, f64> {
        let mut cpu: HashMap<&'static str, f64> = self
            .processes
            .iter()
            .map(|process| (process.name, process_cpu_ms(process.pid())))
            .collect();
        cpu.insert("postgres", command_cpu_ms("postgres"));
        cpu.insert("nats-server", command_cpu_ms("nats-server"));
        cpu.insert("machine", machine_busy_ms());
        cpu
    }

    async fn stop(mut self) {
        for process in &mut self.processes {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(process.pid().to_string())
                .status();
        }
        for process in &mut self.processes {
            let _ = process.child.wait();
        }
        for url in &self.database_urls {
            if let Err(error) = flatgov_db::drop_database(url).await {
                eprintln!("note: cannot drop {url}: {error}");
            }
        }
        // Every stream under the prefix, including those the cases service
        // provisions to consume from (enforcement, federation).
        flatgov_testkit::delete_streams(&self.nats_url, &self.prefix);
        println!("logs of the services: {}", self.logs.display());
    }
}

async fn wait_healthy(url: &str, name: &str) -> anyhow::Result<Channel> {
    let started = Instant::now();
    loop {
        if let Ok(endpoint) = Endpoint::from_shared(url.to_owned())
            && let Ok(channel) = endpoint.connect().await
        {
            let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
            if let Ok(response) = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                && response.into_inner().status
                    == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
            {
                return Ok(channel);
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("{name} did not become healthy at {url}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn start_platform(bin_dir: &Path) -> anyhow::Result<Platform> {
    let keys = tempfile::tempdir()?;
    let key_directory = flatgov_auth::keys::KeyDirectory::new(keys.path());
    key_directory.init(&["blocks", "duties", "cases"])?;
    let signer = Signer::from_file(&key_directory.people_key_file(), "flatgov")?;
    let postgres = std::env::var("FLATGOV_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let nats_url =
        std::env::var("FLATGOV_BENCH_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let token = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let prefix = format!("bench{token}.");
    let logs = std::env::temp_dir().join(format!("flatgov-bench-cases-{token}"));
    std::fs::create_dir_all(&logs)?;
    let blocks_port = free_port();
    let duties_port = free_port();
    let cases_port = free_port();
    let mut processes = Vec::new();
    let mut database_urls = Vec::new();
    for (name, port) in [
        ("blocks", blocks_port),
        ("duties", duties_port),
        ("cases", cases_port),
    ] {
        let database_url = format!("{postgres}/flatgov_bench_{name}_{token}");
        let log = std::fs::File::create(logs.join(format!("{name}.log")))?;
        let mut command = Command::new(bin_dir.join(format!("flatgov-{name}")));
        command
            .env("DATABASE_URL", &database_url)
            .env("DATABASE_MAX_CONNECTIONS", "20")
            .env("NATS_URL", &nats_url)
            .env("NATS_SUBJECT_PREFIX", &prefix)
            .env("GRPC_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("METRICS_LISTEN_ADDR", "127.0.0.1:0")
            .env("AUTH_JWKS_FILE", key_directory.jwks_file())
            .env(
                "AUTH_SIGNING_KEY_FILE",
                key_directory.service_key_file(name),
            )
            .env("BLOCKS_URL", format!("http://127.0.0.1:{blocks_port}"))
            .env("DUTIES_URL", format!("http://127.0.0.1:{duties_port}"))
            // Distinct points per report: "me too" links only reports within 0.5 m.
            .env("CASES_ME_TOO_RADIUS_METRES", "0.5")
            .env(
                "RUST_LOG",
                std::env::var("FLATGOV_BENCH_RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        let child = command.spawn().with_context(|| {
            format!(
                "starting {} (build it with cargo build --release)",
                bin_dir.join(format!("flatgov-{name}")).display()
            )
        })?;
        processes.push(Process {
            name,
            child,
            grpc_url: format!("http://127.0.0.1:{port}"),
        });
        database_urls.push(database_url);
    }
    Ok(Platform {
        processes,
        database_urls,
        prefix,
        nats_url,
        logs,
        signer,
        _keys: keys,
    })
}

async fn load_duties(channel: Channel, token: &str) -> anyhow::Result<()> {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../duties/data/reference");
    let read = |file: &str| {
        std::fs::read_to_string(reference.join(file)).with_context(|| format!("reading {file}"))
    };
    let mut client = DutyListsClient::new(channel);
    client
        .import_departments(with_token(
            duties::ImportDepartmentsRequest {
                format: duties::DataFormat::Csv as i32,
                content: read("departments.csv")?,
            },
            token,
        ))
        .await?;
    for kind in [
        "subdistrict_duty",
        "subdistrict_cooperation",
        "residents_self_government",
        "residents_assisting",
        "residents_negative",
    ] {
        client
            .import_list(with_token(
                duties::ImportListRequest {
                    parent: format!("lists/{kind}"),
                    format: duties::DataFormat::Csv as i32,
                    content: read(&format!("{kind}.csv"))?,
                    publish: true,
                    effective_from: None,
                },
                token,
            ))
            .await
            .with_context(|| format!("importing {kind}"))?;
    }
    client
        .import_catalogue(with_token(
            duties::ImportCatalogueRequest {
                format: duties::DataFormat::Csv as i32,
                content: read("matters.csv")?,
            },
            token,
        ))
        .await?;
    Ok(())
}

/// Points the registry places inside a block of the demo district.
async fn points_in_blocks(
    channel: Channel,
    token: &str,
    wanted: usize,
) -> anyhow::Result<Vec<GeoPoint>> {
    let mut client = BlockRegistryClient::new(channel);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut points = Vec::with_capacity(wanted);
    while points.len() < wanted {
        let candidates: Vec<GeoPoint> = (0..10_000)
            .map(|_| GeoPoint {
                longitude: 112.895 + next() * 0.08,
                latitude: 27.815 + next() * 0.09,
                ..Default::default()
            })
            .collect();
        let located = client
            .locate_points(with_token(
                blocks::LocatePointsRequest {
                    points: candidates.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await?
            .into_inner();
        for (point, location) in candidates.into_iter().zip(located.locations) {
            if location.block.is_some() {
                points.push(point);
            }
        }
    }
    points.truncate(wanted);
    Ok(points)
}

/// When a report was sent, answered, and recorded (the case's report time).
#[derive(Clone, Copy)]
struct Sent {
    at: Instant,
    wall: std::time::SystemTime,
    answered: Instant,
    reported: std::time::SystemTime,
}

/// When a dispatch was committed (the event's time) and seen.
#[derive(Clone, Copy)]
struct Seen {
    at: Instant,
    wall: std::time::SystemTime,
    committed: std::time::SystemTime,
}

fn wall_time(timestamp: Option<&prost_types::Timestamp>) -> std::time::SystemTime {
    timestamp
        .and_then(|timestamp| {
            let since = Duration::new(
                u64::try_from(timestamp.seconds).ok()?,
                u32::try_from(timestamp.nanos).ok()?,
            );
            std::time::UNIX_EPOCH.checked_add(since)
        })
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// Send times of reports and arrival times of their dispatch events.
#[derive(Default)]
struct Timings {
    sent: HashMap<String, Sent>,
    dispatched: HashMap<String, Seen>,
    me_too: usize,
    errors: usize,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64) * fraction).ceil() as usize;
    sorted[index.clamp(1, sorted.len()) - 1]
}

struct Load {
    clients: Vec<CaseDispatchClient<Channel>>,
    token: String,
    points: Arc<Vec<GeoPoint>>,
    matters: Vec<String>,
    timings: Arc<Mutex<Timings>>,
    counter: std::sync::atomic::AtomicU64,
}

impl Load {
    fn request(&self, number: u64) -> cases::ReportCaseRequest {
        let point = &self.points[(number as usize * 7_919) % self.points.len()];
        // A few metres of jitter so repeated base points are distinct reports.
        let jitter = ((number % 97) as f64 - 48.0) * 0.000_000_7;
        cases::ReportCaseRequest {
            request_id: format!("bench-{number}"),
            kind: cases::CaseKind::Problem as i32,
            channel: cases::Channel::Hotline12345 as i32,
            location: Some(GeoPoint {
                longitude: point.longitude + jitter,
                latitude: point.latitude - jitter,
                ..Default::default()
            }),
            block: String::new(),
            matter_code: self.matters[number as usize % self.matters.len()].clone(),
            description: format!("12345 工单 {number}: 群众反映的问题, 请尽快处理"),
            attachments: vec![],
            reporter: Some(cases::Contact {
                name: "测试居民".into(),
                phone: format!("170{:08}", number % 100_000_000),
            }),
            anonymous: false,
            urgent: false,
        }
    }

    /// Sends `rate` reports per second for `seconds`.
    async fn run(self: &Arc<Self>, rate: u32, seconds: u64) -> usize {
        let total = u64::from(rate) * seconds;
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
        let started = tokio::time::Instant::now();
        let in_flight = Arc::new(tokio::sync::Semaphore::new(1024));
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..total {
            tokio::time::sleep_until(started + interval.mul_f64(index as f64)).await;
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                break;
            };
            let load = self.clone();
            tasks.spawn(async move {
                let _permit = permit;
                let number = load
                    .counter
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut client = load.clients[number as usize % load.clients.len()].clone();
                let began = Instant::now();
                let began_wall = std::time::SystemTime::now();
                let result = client
                    .report_case(with_token(load.request(number), &load.token))
                    .await;
                let answered = Instant::now();
                let mut timings = load
                    .timings
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match result {
                    Ok(response) => {
                        let response = response.into_inner();
                        if response.me_too {
                            timings.me_too += 1;
                        } else if let Some(case) = response.case {
                            let reported = wall_time(case.report_time.as_ref());
                            timings.sent.insert(
                                case.name,
                                Sent {
                                    at: began,
                                    wall: began_wall,
                                    answered,
                                    reported,
                                },
                            );
                        }
                    }
                    Err(status) => {
                        timings.errors += 1;
                        if timings.errors <= 5 {
                            eprintln!("report failed: {status}");
                        }
                    }
                }
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        total as usize
    }
}

async fn backlog(pool: &sqlx::PgPool) -> (i64, i64) {
    let outbox: i64 =
        sqlx::query_scalar("select count(*) from flatgov_outbox where published_at is null")
            .fetch_one(pool)
            .await
            .unwrap_or(-1);
    let triage: i64 = sqlx::query_scalar("select count(*) from triage_jobs")
        .fetch_one(pool)
        .await
        .unwrap_or(-1);
    (outbox, triage)
}

struct PhaseResult {
    rate: u32,
    seconds: u64,
    sent: usize,
    dispatched: usize,
    me_too: usize,
    errors: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    /// p50 and p99 of: the ReportCase call; report time → dispatch commit (triage);
    /// dispatch commit → seen on NATS (outbox relay and NATS).
    stages: [(Duration, Duration); 3],
    backlog: Vec<(i64, i64)>,
    drain: Duration,
    cpu: HashMap<&'static str, f64>,
}

async fn phase(
    load: &Arc<Load>,
    platform: &Platform,
    pool: &sqlx::PgPool,
    rate: u32,
    seconds: u64,
) -> PhaseResult {
    {
        let mut timings = load
            .timings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *timings = Timings::default();
    }
    let cpu_before = platform.cpu_ms();
    let sampling = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                samples.push(backlog(&pool).await);
                if samples.len() as u64 >= seconds / 10 {
                    return samples;
                }
            }
        })
    };
    let sent = load.run(rate, seconds).await;
    let backlog_samples = sampling.await.unwrap_or_default();
    let drain_started = Instant::now();
    loop {
        let (done, expected) = {
            let timings = load
                .timings
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let done = timings
                .sent
                .keys()
                .filter(|name| timings.dispatched.contains_key(*name))
                .count();
            (done, timings.sent.len())
        };
        if done >= expected || drain_started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = drain_started.elapsed();
    let cpu_after = platform.cpu_ms();
    let timings = load
        .timings
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut latencies: Vec<Duration> = timings
        .sent
        .iter()
        .filter_map(|(name, sent)| {
            Some(
                timings
                    .dispatched
                    .get(name)?
                    .at
                    .saturating_duration_since(sent.at),
            )
        })
        .collect();
    latencies.sort();
    let mut intake = Vec::new();
    let mut triage = Vec::new();
    let mut relay = Vec::new();
    for (name, sent) in &timings.sent {
        intake.push(sent.answered.saturating_duration_since(sent.at));
        if let Some(seen) = timings.dispatched.get(name) {
            triage.push(
                seen.committed
                    .duration_since(sent.reported.max(sent.wall))
                    .unwrap_or_default(),
            );
            relay.push(seen.wall.duration_since(seen.committed).unwrap_or_default());
        }
    }
    let mut stages = [(Duration::ZERO, Duration::ZERO); 3];
    for (stage, mut values) in stages.iter_mut().zip([intake, triage, relay]) {
        values.sort();
        *stage = (percentile(&values, 0.5), percentile(&values, 0.99));
    }
    let cpu = cpu_after
        .iter()
        .map(|(name, after)| (*name, after - cpu_before.get(name).copied().unwrap_or(0.0)))
        .collect();
    PhaseResult {
        rate,
        seconds,
        sent,
        dispatched: latencies.len(),
        me_too: timings.me_too,
        errors: timings.errors,
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
        stages,
        backlog: backlog_samples,
        drain,
        cpu,
    }
}

fn print_stages(result: &PhaseResult) {
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let [intake, triage, relay] = result.stages;
    println!(
        "| {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
        result.rate,
        ms(intake.0),
        ms(intake.1),
        ms(triage.0),
        ms(triage.1),
        ms(relay.0),
        ms(relay.1)
    );
}

fn print_phase(result: &PhaseResult) {
    let per_case =
        |name: &str| result.cpu.get(name).copied().unwrap_or(0.0) / result.sent.max(1) as f64;
    println!(
        "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:?} | {:?} |",
        result.rate,
        result.seconds,
        result.sent,
        result.dispatched,
        result.me_too,
        result.errors,
        result.p50.as_secs_f64() * 1000.0,
        result.p90.as_secs_f64() * 1000.0,
        result.p99.as_secs_f64() * 1000.0,
        result.max.as_secs_f64() * 1000.0,
        result.drain.as_secs_f64(),
        per_case("cases"),
        per_case("blocks"),
        per_case("duties"),
        per_case("postgres"),
        per_case("nats-server"),
        per_case("machine"),
        result
            .backlog
            .iter()
            .map(|(outbox, _)| *outbox)
            .collect::<Vec<_>>(),
        result
            .backlog
            .iter()
            .map(|(_, triage)| *triage)
            .collect::<Vec<_>>(),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let latency_rate: u32 = env_or("FLATGOV_BENCH_LATENCY_RATE", 100)?;
    let latency_seconds: u64 = env_or("FLATGOV_BENCH_LATENCY_SECONDS", 60)?;
    let sustain_seconds: u64 = env_or("FLATGOV_BENCH_SUSTAIN_SECONDS", 120)?;
    let rates: Vec<u32> = env_or("FLATGOV_BENCH_RATES", "300,500,700".to_owned())?
        .split(',')
        .filter(|rate| !rate.trim().is_empty())
        .map(|rate| rate.trim().parse())
        .collect::<Result<_, _>>()?;
    let bin_dir = PathBuf::from(env_or(
        "FLATGOV_BENCH_BIN_DIR",
        format!("{}/../../target/release", env!("CARGO_MANIFEST_DIR")),
    )?);

    let platform = start_platform(&bin_dir)?;
    let outcome = run(
        &platform,
        latency_rate,
        latency_seconds,
        &rates,
        sustain_seconds,
    )
    .await;
    platform.stop().await;
    outcome
}

async fn run(
    platform: &Platform,
    latency_rate: u32,
    latency_seconds: u64,
    rates: &[u32],
    sustain_seconds: u64,
) -> anyhow::Result<()> {
    let blocks_channel = wait_healthy(&platform.url("blocks")?, "blocks").await?;
    let duties_channel = wait_healthy(&platform.url("duties")?, "duties").await?;
    let cases_url = platform.url("cases")?;
    wait_healthy(&cases_url, "cases").await?;
    let admin = platform.token("bench-admin", &[Role::DistrictAdmin])?;
    let dispatcher = platform.token("bench-dispatcher", &[Role::SubdistrictDispatcher])?;

    let loaded = flatgov_demo::load_demo(
        &mut BlockRegistryClient::new(blocks_channel.clone()),
        &admin,
        DEMO_SEED,
    )
    .await
    .context("loading the demo district")?;
    load_duties(duties_channel, &admin)
        .await
        .context("loading the reference duty lists")?;
    let points = points_in_blocks(blocks_channel, &admin, 20_000).await?;
    println!(
        "platform: demo district {} with {} blocks, reference duty lists, {} report points",
        loaded.generation.name,
        loaded.generation.block_count,
        points.len()
    );

    let bus = EventBus::connect(
        &BusConfig::plain(platform.nats_url.clone(), platform.prefix.clone()),
        "flatgov-bench-subscriber",
    )
    .await?;
    let mut subscription = bus
        .client()
        .subscribe(bus.subject(cases::CaseDispatched::SUBJECT))
        .await?;
    let timings = Arc::new(Mutex::new(Timings::default()));
    {
        let timings = timings.clone();
        tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                let arrived = Instant::now();
                let arrived_wall = std::time::SystemTime::now();
                let Ok(event) = cases::CaseDispatched::decode(message.payload) else {
                    continue;
                };
                if let Some(transition) = event.transition {
                    let mut timings = timings
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    let committed = wall_time(transition.occurred_at.as_ref());
                    timings.dispatched.entry(transition.case).or_insert(Seen {
                        at: arrived,
                        wall: arrived_wall,
                        committed,
                    });
                }
            }
        });
    }

    let mut clients = Vec::new();
    for _ in 0..8 {
        let channel = Endpoint::from_shared(cases_url.clone())?
            .tcp_nodelay(true)
            .connect()
            .await?;
        clients.push(CaseDispatchClient::new(channel));
    }
    let load = Arc::new(Load {
        clients,
        token: dispatcher.clone(),
        points: Arc::new(points),
        matters: MATTERS.iter().map(|matter| (*matter).to_owned()).collect(),
        timings,
        counter: std::sync::atomic::AtomicU64::new(0),
    });

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&platform.database_urls[2])
        .await?;

    // Warm-up: every matter must reach dispatch, or the benchmark measures nothing.
    let warm_up = phase(&load, platform, &pool, 20, 10).await;
    if warm_up.dispatched + warm_up.me_too < warm_up.sent {
        let dispatched_matters = {
            let mut client = load.clients[0].clone();
            let listed = client
                .list_cases(with_token(
                    cases::ListCasesRequest {
                        page_size: 200,
                        ..Default::default()
                    },
                    &admin,
                ))
                .await?
                .into_inner()
                .cases;
            let mut states: HashMap<String, Vec<i32>> = HashMap::new();
            for case in listed {
                states.entry(case.matter_code).or_default().push(case.state);
            }
            states
        };
        bail!(
            "warm-up: {} of {} reports reached dispatch; states by matter: {dispatched_matters:?}",
            warm_up.dispatched,
            warm_up.sent
        );
    }

    println!();
    println!(
        "| offered /s | seconds | sent | dispatched seen | me too | errors | p50 ms | p90 ms | p99 ms | max ms | drain s | cases CPU-ms/case | blocks | duties | postgres | nats | machine | outbox backlog every 10 s | triage queue every 10 s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut results = vec![phase(&load, platform, &pool, latency_rate, latency_seconds).await];
    print_phase(&results[0]);
    for rate in rates {
        let result = phase(&load, platform, &pool, *rate, sustain_seconds).await;
        print_phase(&result);
        results.push(result);
    }
    println!();
    println!(
        "| offered /s | ReportCase call p50 / p99 ms | report → dispatch committed p50 / p99 ms | committed → seen on NATS p50 / p99 ms |"
    );
    println!("|---|---|---|---|");
    for result in &results {
        print_stages(result);
    }
    let outcomes: Vec<(String, String, i64)> = sqlx::query_as(
        "select state, triage_status, count(*) from cases group by 1, 2 order by 3 desc",
    )
    .fetch_all(&pool)
    .await?;
    println!();
    println!("cases by state and triage status: {outcomes:?}");
    Ok(())
}
