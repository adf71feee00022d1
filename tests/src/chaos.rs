//! The chaos run: the whole platform as processes on a PostgreSQL and a NATS of
//! its own, under steady load from residents' reports, while services are killed
//! (SIGKILL) and restarted at random and the infrastructure is restarted and taken
//! away. Afterwards it checks what a district needs to hold whatever happened:
//! every report a resident was told was received is exactly one case, reported
//! and dispatched exactly once on the event stream, no dead letters, nothing left
//! in any outbox — and it reports how long each recovery took and what clients
//! that retry with the same `request_id` saw.
//!
//! `tests/tests/chaos.rs` runs the short plan in the suite; `scripts/chaos` runs
//! the long one (release binaries) and prints the report for
//! docs/benchmarks/chaos.md.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flatgov_proto::cases::v1 as cases;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_testkit::{PrivateNats, PrivatePostgres};
use rand::{Rng as _, SeedableRng as _};

use crate::events::count_about;
use crate::{Platform, PlatformOptions, SERVICES, with_token};

/// A fault injected at a moment of the run.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// PostgreSQL stopped as an operator's restart does (fast shutdown) and
    /// started again at once.
    RestartPostgres,
    /// NATS killed and started again at once (its store kept).
    RestartNats,
    /// NATS away for this long.
    NatsOutage(Duration),
    /// PostgreSQL away for this long.
    PostgresOutage(Duration),
}

impl Fault {
    fn label(self) -> String {
        match self {
            Self::RestartPostgres => "PostgreSQL restart".into(),
            Self::RestartNats => "NATS restart".into(),
            Self::NatsOutage(length) => format!("NATS outage of {} s", length.as_secs()),
            Self::PostgresOutage(length) => format!("PostgreSQL outage of {} s", length.as_secs()),
        }
    }
}

/// What the run does.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: &'static str,
    /// Reports a second, spread over the blocks.
    pub reports_per_second: u32,
    /// How long the load runs.
    pub length: Duration,
    /// A random service is killed every `kill_every.0..=kill_every.1`
    /// (outside the infrastructure faults).
    pub kill_every: (Duration, Duration),
    /// Faults at fixed moments from the start of the load.
    pub faults: Vec<(Duration, Fault)>,
    /// The random generator's seed: the same plan kills the same services.
    pub seed: u64,
}

impl Plan {
    /// The suite's form: under three minutes on two cores.
    pub fn short() -> Self {
        Self {
            name: "short",
            reports_per_second: 20,
            length: Duration::from_secs(100),
            kill_every: (Duration::from_secs(10), Duration::from_secs(20)),
            faults: vec![
                (Duration::from_secs(25), Fault::RestartPostgres),
                (Duration::from_secs(45), Fault::RestartNats),
                (
                    Duration::from_secs(60),
                    Fault::NatsOutage(Duration::from_secs(20)),
                ),
            ],
            seed: 2026,
        }
    }

    /// The goal: ten minutes at 50 reports a second, a kill every
    /// 10 s, a PostgreSQL restart, a NATS restart, a two-minute NATS outage,
    /// then a three-minute PostgreSQL outage.
    pub fn long() -> Self {
        Self {
            name: "long",
            reports_per_second: 50,
            length: Duration::from_secs(600),
            kill_every: (Duration::from_secs(10), Duration::from_secs(10)),
            faults: vec![
                (Duration::from_secs(60), Fault::RestartPostgres),
                (Duration::from_secs(120), Fault::RestartNats),
                (
                    Duration::from_secs(180),
                    Fault::NatsOutage(Duration::from_secs(120)),
                ),
                (
                    Duration::from_secs(390),
                    Fault::PostgresOutage(Duration::from_secs(180)),
                ),
            ],
            seed: 2026,
        }
    }
}

/// One failed attempt a client saw.
#[derive(Debug, Clone)]
struct Failure {
    at: Duration,
    code: tonic::Code,
}

/// What the load saw.
#[derive(Debug, Default)]
struct LoadRecord {
    /// request_id → the case the platform answered with.
    answered: HashMap<String, String>,
    /// Reports given up after the retry budget.
    unresolved: Vec<String>,
    failures: Vec<Failure>,
    /// When each answered report was first tried (from the start) and how
    /// long it took to be answered.
    latencies: Vec<(Duration, Duration)>,
}

/// A window of the run in which something was away.
#[derive(Debug, Clone)]
pub struct Window {
    pub what: String,
    pub from: Duration,
    pub until: Duration,
    /// From the fault's end (or the kill) until the platform answered again.
    pub recovery: Duration,
}

/// The run's outcome, checked and printed.
#[derive(Debug)]
pub struct Report {
    pub plan: Plan,
    pub reports: usize,
    pub cases: usize,
    pub unresolved: usize,
    pub client_errors: usize,
    pub client_errors_by_code: BTreeMap<String, usize>,
    /// Errors the platform answered while NATS was away (and no service was
    /// being killed). An attempt the client gave up waiting for (5 s) is not
    /// counted here — on a loaded machine that is the machine, not NATS — but it
    /// is in `client_errors_by_code` as DeadlineExceeded.
    pub errors_during_nats_outages: usize,
    pub kills: Vec<Window>,
    pub faults: Vec<Window>,
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    pub latency_p99_outside_faults: Duration,
    pub duplicated_reported: usize,
    pub duplicated_dispatched: usize,
    pub never_dispatched: usize,
    pub dead_letters: u64,
    pub outbox_backlog: BTreeMap<&'static str, i64>,
}

impl Report {
    /// Markdown, for the console and docs/benchmarks/chaos.md.
    pub fn to_markdown(&self) -> String {
        let mut text = String::new();
        let plan = &self.plan;
        text.push_str(&format!(
            "### Chaos run `{}`: {} reports/s for {} s, a kill every {}–{} s\n\n",
            plan.name,
            plan.reports_per_second,
            plan.length.as_secs(),
            plan.kill_every.0.as_secs(),
            plan.kill_every.1.as_secs()
        ));
        text.push_str("| invariant | seen |\n| --- | --- |\n");
        text.push_str(&format!(
            "| reports answered / distinct cases | {} / {} |\n",
            self.reports, self.cases
        ));
        text.push_str(&format!(
            "| reports a retry never resolved | {} |\n",
            self.unresolved
        ));
        text.push_str(&format!(
            "| cases with a second `case.reported` / `case.dispatched` | {} / {} |\n",
            self.duplicated_reported, self.duplicated_dispatched
        ));
        text.push_str(&format!(
            "| cases never dispatched | {} |\n",
            self.never_dispatched
        ));
        text.push_str(&format!("| dead letters | {} |\n", self.dead_letters));
        text.push_str(&format!(
            "| outbox rows left | {} |\n\n",
            self.outbox_backlog.values().sum::<i64>()
        ));
        text.push_str(&format!(
            "Clients: {} failed attempts ({}), each retried with the same request_id; {} while NATS was away. Report → answer p50 {} ms, p99 {} ms, p99 outside fault and kill windows {} ms.\n\n",
            self.client_errors,
            self.client_errors_by_code
                .iter()
                .map(|(code, count)| format!("{code} {count}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.errors_during_nats_outages,
            self.latency_p50.as_millis(),
            self.latency_p99.as_millis(),
            self.latency_p99_outside_faults.as_millis()
        ));
        let mut recoveries: Vec<Duration> = self.kills.iter().map(|kill| kill.recovery).collect();
        recoveries.sort();
        text.push_str(&format!(
            "Kills: {} (SERVING again after: p50 {} ms, p99 {} ms, max {} ms).\n\n",
            self.kills.len(),
            percentile(&recoveries, 0.5).as_millis(),
            percentile(&recoveries, 0.99).as_millis(),
            recoveries.last().copied().unwrap_or_default().as_millis()
        ));
        text.push_str("| fault | at (s) | until (s) | reports answered again after (ms) |\n| --- | --- | --- | --- |\n");
        for fault in &self.faults {
            text.push_str(&format!(
                "| {} | {:.1} | {:.1} | {} |\n",
                fault.what,
                fault.from.as_secs_f64(),
                fault.until.as_secs_f64(),
                fault.recovery.as_millis()
            ));
        }
        text
    }
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64) * share).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How long one attempt may take before it counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a report is retried before it counts as unresolved.
const RETRY_BUDGET: Duration = Duration::from_secs(300);

/// Runs `plan` on a platform of its own and reports what it saw. Panics only
/// when the platform cannot be set up; the invariants are the caller's to check.
pub async fn run(plan: Plan) -> Report {
    let mut postgres = PrivatePostgres::start();
    let mut nats = PrivateNats::start();
    let mut platform = Platform::start_with(
        PlatformOptions::default()
            .infrastructure(&postgres.url("postgres"), &nats.url())
            // Every report is a case of its own (no "me too" links between the
            // load's points, which lie centimetres apart).
            .env("CASES_ME_TOO_RADIUS_METRES", "0.001"),
    )
    .await;
    platform.load_demo();
    let blocks = load_blocks(&platform).await;
    // Probes report beside the load's grid in the first block.
    let probe_point = GeoPoint {
        latitude: blocks[0].latitude + 150e-7,
        ..blocks[0]
    };
    let resident = platform.resident("chaos-resident");
    let client = platform.cases();

    let started = Instant::now();
    let record = Arc::new(Mutex::new(LoadRecord::default()));
    let load = tokio::spawn(generate_load(
        plan.clone(),
        client.clone(),
        resident.clone(),
        blocks,
        record.clone(),
        started,
    ));

    let mut rng = rand::rngs::StdRng::seed_from_u64(plan.seed);
    let mut faults = plan.faults.clone();
    faults.sort_by_key(|(at, _)| *at);
    let mut faults = faults.into_iter().peekable();
    let mut kills = Vec::new();
    let mut fault_windows = Vec::new();
    let mut next_kill = started + pause(&mut rng, plan.kill_every);
    while started.elapsed() < plan.length {
        let next_fault = faults.peek().map(|(at, _)| started + *at);
        let now = Instant::now();
        match next_fault {
            Some(at) if at <= next_kill => {
                tokio::time::sleep_until(at.into()).await;
                let (_, fault) = faults.next().expect("peeked");
                let window = inject(
                    fault,
                    Infrastructure {
                        postgres: &mut postgres,
                        nats: &mut nats,
                    },
                    &platform,
                    &probe_point,
                    started,
                )
                .await;
                fault_windows.push(window);
                // No kill lands inside a fault's recovery.
                next_kill = next_kill.max(Instant::now() + Duration::from_secs(2));
            }
            _ => {
                if next_kill > now {
                    tokio::time::sleep_until(next_kill.min(started + plan.length).into()).await;
                    if started.elapsed() >= plan.length {
                        break;
                    }
                }
                let service = SERVICES[rng.gen_range(0..SERVICES.len())];
                let from = started.elapsed();
                let killed_at = Instant::now();
                platform.kill(service);
                platform.restart(service).await;
                kills.push(Window {
                    what: format!("kill -9 {service}"),
                    from,
                    until: started.elapsed(),
                    recovery: killed_at.elapsed(),
                });
                next_kill = Instant::now() + pause(&mut rng, plan.kill_every);
            }
        }
    }
    load.await.expect("the load generator");

    // Settle: every answered case dispatched, every outbox drained.
    let record = Arc::try_unwrap(record)
        .expect("the load finished")
        .into_inner()
        .expect("the record");
    let names: HashSet<String> = record.answered.values().cloned().collect();
    let events = settle(&platform, &names).await;
    let duplicated_reported = names
        .iter()
        .filter(|name| count_about(&events, name, "CaseReported") > 1)
        .count();
    let duplicated_dispatched = names
        .iter()
        .filter(|name| count_about(&events, name, "CaseDispatched") > 1)
        .count();
    let never_dispatched = names
        .iter()
        .filter(|name| count_about(&events, name, "CaseDispatched") == 0)
        .count();
    let dead_letters = flatgov_testkit::events::stream_message_count(
        platform.integrator_bus().await,
        "deadletter",
    )
    .await;
    let mut outbox_backlog = BTreeMap::new();
    for service in SERVICES {
        outbox_backlog.insert(service, outbox_rows(platform.database_url(service)).await);
    }

    let disturbed = |from: Duration, until: Duration| {
        kills.iter().chain(fault_windows.iter()).any(|window| {
            from <= window.until + window.recovery + Duration::from_secs(1)
                && until + Duration::from_secs(1) >= window.from
        })
    };
    let mut latencies: Vec<Duration> = record.latencies.iter().map(|(_, took)| *took).collect();
    latencies.sort();
    let mut undisturbed: Vec<Duration> = record
        .latencies
        .iter()
        .filter(|(at, took)| !disturbed(*at, *at + *took))
        .map(|(_, took)| *took)
        .collect();
    undisturbed.sort();
    let nats_windows: Vec<&Window> = fault_windows
        .iter()
        .filter(|window| window.what.starts_with("NATS"))
        .collect();
    let errors_during_nats_outages = record
        .failures
        .iter()
        .filter(|failure| failure.code != tonic::Code::DeadlineExceeded)
        .filter(|failure| {
            nats_windows
                .iter()
                .any(|window| failure.at >= window.from && failure.at <= window.until)
                && !kills.iter().any(|kill| {
                    failure.at + Duration::from_secs(1) >= kill.from
                        && failure.at <= kill.until + Duration::from_secs(2)
                })
        })
        .count();
    let mut client_errors_by_code = BTreeMap::new();
    for failure in &record.failures {
        *client_errors_by_code
            .entry(format!("{:?}", failure.code))
            .or_insert(0) += 1;
    }
    let report = Report {
        reports: record.answered.len(),
        cases: names.len(),
        unresolved: record.unresolved.len(),
        client_errors: record.failures.len(),
        client_errors_by_code,
        errors_during_nats_outages,
        latency_p50: percentile(&latencies, 0.5),
        latency_p99: percentile(&latencies, 0.99),
        latency_p99_outside_faults: percentile(&undisturbed, 0.99),
        kills,
        faults: fault_windows,
        duplicated_reported,
        duplicated_dispatched,
        never_dispatched,
        dead_letters,
        outbox_backlog,
        plan,
    };
    drop(platform);
    drop(nats);
    drop(postgres);
    report
}

fn pause(rng: &mut rand::rngs::StdRng, (least, most): (Duration, Duration)) -> Duration {
    if most <= least {
        return least;
    }
    Duration::from_millis(rng.gen_range(least.as_millis() as u64..=most.as_millis() as u64))
}

/// Points inside twenty demo blocks of two subdistricts.
async fn load_blocks(platform: &Platform) -> Vec<GeoPoint> {
    let mut points = Vec::new();
    for subdistrict in ["430302001", "430302002"] {
        for code in platform
            .block_codes(&format!("subdistricts/{subdistrict}"))
            .await
            .into_iter()
            .take(10)
        {
            points.push(platform.demo_block(&code).await.inside);
        }
    }
    points
}

/// Reports at the plan's rate until its length has passed; each report is
/// retried with its request_id until answered or its budget runs out.
async fn generate_load(
    plan: Plan,
    client: cases::case_dispatch_client::CaseDispatchClient<tonic::transport::Channel>,
    resident: String,
    blocks: Vec<GeoPoint>,
    record: Arc<Mutex<LoadRecord>>,
    started: Instant,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / plan.reports_per_second);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reports = tokio::task::JoinSet::new();
    let mut number: u64 = 0;
    while started.elapsed() < plan.length {
        tick.tick().await;
        let block = &blocks[(number % blocks.len() as u64) as usize];
        let spot = number / blocks.len() as u64;
        // Centimetres apart inside the block: a 100 × 100 grid of 1.1 cm steps.
        let location = GeoPoint {
            latitude: block.latitude + (spot % 100) as f64 * 1e-7,
            longitude: block.longitude + ((spot / 100) % 100) as f64 * 1e-7,
            ..Default::default()
        };
        let request = cases::ReportCaseRequest {
            request_id: format!("chaos-{}-{number}", plan.name),
            kind: cases::CaseKind::Problem as i32,
            channel: cases::Channel::ResidentApp as i32,
            location: Some(location),
            matter_code: "broken_street_light".into(),
            description: "路灯不亮".into(),
            ..Default::default()
        };
        reports.spawn(report_until_answered(
            client.clone(),
            resident.clone(),
            request,
            record.clone(),
            started,
        ));
        number += 1;
    }
    while reports.join_next().await.is_some() {}
}

async fn report_until_answered(
    mut client: cases::case_dispatch_client::CaseDispatchClient<tonic::transport::Channel>,
    token: String,
    request: cases::ReportCaseRequest,
    record: Arc<Mutex<LoadRecord>>,
    started: Instant,
) {
    let first = Instant::now();
    loop {
        let attempt = tokio::time::timeout(
            ATTEMPT_TIMEOUT,
            client.report_case(with_token(request.clone(), &token)),
        )
        .await;
        let failed = match attempt {
            Ok(Ok(response)) => {
                let name = response
                    .into_inner()
                    .case
                    .map(|case| case.name)
                    .unwrap_or_default();
                let mut record = record.lock().expect("the record");
                record
                    .latencies
                    .push((first.duration_since(started), first.elapsed()));
                record.answered.insert(request.request_id.clone(), name);
                return;
            }
            Ok(Err(status)) => status.code(),
            Err(_) => tonic::Code::DeadlineExceeded,
        };
        {
            let mut record = record.lock().expect("the record");
            record.failures.push(Failure {
                at: started.elapsed(),
                code: failed,
            });
            if first.elapsed() > RETRY_BUDGET {
                record.unresolved.push(request.request_id.clone());
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The servers a fault stops.
struct Infrastructure<'a> {
    postgres: &'a mut PrivatePostgres,
    nats: &'a mut PrivateNats,
}

/// Injects `fault` and waits until the platform has recovered from it: for
/// PostgreSQL, a report is answered again; for NATS, the cases outbox is
/// back under a second's worth of events (publication caught up).
async fn inject(
    fault: Fault,
    infrastructure: Infrastructure<'_>,
    platform: &Platform,
    probe_point: &GeoPoint,
    started: Instant,
) -> Window {
    let Infrastructure { postgres, nats } = infrastructure;
    let from = started.elapsed();
    match fault {
        Fault::RestartPostgres => {
            postgres.shut_down();
            postgres.resume();
        }
        Fault::RestartNats => {
            nats.stop();
            nats.resume();
        }
        Fault::NatsOutage(length) => {
            nats.stop();
            tokio::time::sleep(length).await;
            nats.resume();
        }
        Fault::PostgresOutage(length) => {
            postgres.shut_down();
            tokio::time::sleep(length).await;
            postgres.resume();
        }
    }
    let until = started.elapsed();
    let back = Instant::now();
    match fault {
        Fault::RestartPostgres | Fault::PostgresOutage(_) => {
            let mut client = platform.cases();
            let token = platform.resident("chaos-probe");
            let mut number: u32 = 0;
            loop {
                number += 1;
                let request = cases::ReportCaseRequest {
                    request_id: format!("chaos-probe-{}-{number}", from.as_millis()),
                    kind: cases::CaseKind::Problem as i32,
                    channel: cases::Channel::ResidentApp as i32,
                    location: Some(GeoPoint {
                        longitude: probe_point.longitude + f64::from(number % 100) * 1e-7,
                        ..*probe_point
                    }),
                    matter_code: "broken_street_light".into(),
                    description: "probe".into(),
                    ..Default::default()
                };
                let answered = tokio::time::timeout(
                    ATTEMPT_TIMEOUT,
                    client.report_case(with_token(request, &token)),
                )
                .await;
                if matches!(answered, Ok(Ok(_))) || back.elapsed() > RETRY_BUDGET {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Fault::RestartNats | Fault::NatsOutage(_) => loop {
            let backlog = outbox_rows(platform.database_url("cases")).await;
            if (0..=100).contains(&backlog) || back.elapsed() > RETRY_BUDGET {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        },
    }
    Window {
        what: fault.label(),
        from,
        until,
        recovery: back.elapsed(),
    }
}

/// Waits until every answered case is dispatched on the stream and every
/// outbox is empty; answers the cases stream.
async fn settle(platform: &Platform, names: &HashSet<String>) -> Vec<flatgov_messaging::Envelope> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let events = platform.events("cases").await;
        let dispatched: HashSet<&str> = events
            .iter()
            .filter(|event| crate::events::short_type(event) == "CaseDispatched")
            .map(|event| event.resource.as_str())
            .collect();
        let mut backlog = 0;
        for service in SERVICES {
            backlog += outbox_rows(platform.database_url(service)).await;
        }
        let all = names.iter().all(|name| dispatched.contains(name.as_str()));
        if (all && backlog == 0) || Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Rows waiting in the outbox of the database at `url` (parked ones included).
async fn outbox_rows(url: &str) -> i64 {
    let Ok(pool) = sqlx::PgPool::connect(url).await else {
        return -1;
    };
    let rows = sqlx::query_scalar("select count(*) from flatgov_outbox")
        .fetch_one(&pool)
        .await
        .unwrap_or(-1);
    pool.close().await;
    rows
}
