//! Benchmarks of delivery, run on demand (`scripts/bench-notices`), never
//! in the suite: the notices service in-process against real PostgreSQL
//! and NATS and the local HTTP server that behaves like WeCom and an SMS
//! provider. Each prints its figures and how to rerun it.
//!
//! - A notice to Yuhu's 326 blocks: the time from CreateNotice until every
//!   block's group has every part, within WeCom's 20 messages a minute per
//!   robot (a notice of up to 20 parts needs no robot to wait).
//! - Milestone messages: `CaseDispatched` events published at a steady
//!   rate (default 10,000 a minute for one minute), each delivered through
//!   the signed-webhook gateway after the claim check; the sustained rate
//!   and the delay from the case event to the gateway taking the message.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::notices::v1 as api;
use flatgov_testkit::{eventually, with_token};
use support::gateways::SMS_SECRET;
use support::*;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: scripts/bench-notices"]
async fn bench_a_notice_reaching_326_blocks() {
    let world = World::new().await;
    let blocks: Vec<(String, u32)> = (0..326)
        .map(|index| {
            (
                format!("{SUBDISTRICT}{:03}{:03}", index / 50 + 1, index % 50 + 1),
                350,
            )
        })
        .collect();
    *world.registry.blocks.lock().unwrap() = blocks.clone();
    let _registry = world.serve_registry().await;
    let concurrency = setting("NOTICES_DELIVERY_CONCURRENCY", 4);
    let notices = flatgov_notices::build(
        world
            .notices_env("http://127.0.0.1:9")
            .with("NOTICES_DELIVERY_CONCURRENCY", concurrency.to_string())
            .with(
                "DATABASE_MAX_CONNECTIONS",
                (concurrency * 2 + 8).to_string(),
            ),
    )
    .await
    .expect("the notices service starts");
    let client = api::notices_client::NoticesClient::new(
        tonic::transport::Channel::from_shared(notices.grpc_url())
            .unwrap()
            .connect_lazy(),
    );
    // Registered 16 at a time, as an operator's script would.
    let mut registering = tokio::task::JoinSet::new();
    for (code, _) in &blocks {
        while registering.len() >= 16 {
            registering.join_next().await.unwrap().unwrap();
        }
        let mut client = client.clone();
        let request = with_token(
            api::SetBlockRobotRequest {
                block: format!("blocks/{code}"),
                webhook_url: world.gateways.robot_url(&format!("valid-{code}")),
            },
            &world.dispatcher(),
        );
        registering.spawn(async move {
            client.set_block_robot(request).await.unwrap();
        });
    }
    while let Some(registered) = registering.join_next().await {
        registered.unwrap();
    }
    println!(
        "\n== a notice to 326 blocks (NOTICES_DELIVERY_CONCURRENCY={concurrency}, one robot per block) =="
    );
    for (label, body) in [
        (
            "short (1 part)",
            "今晚有大到暴雨，请居民远离河道、低洼地带。".to_owned(),
        ),
        (
            "2,000 characters",
            "今晚至明日有大到暴雨，局地大暴雨。请居民远离河道、低洼地带，注意出行安全。"
                .repeat(55)
                .chars()
                .take(2000)
                .collect(),
        ),
    ] {
        let before = world.gateways.robot_messages_taken();
        let started = Instant::now();
        let notice = client
            .clone()
            .create_notice(with_token(
                api::CreateNoticeRequest {
                    audience: format!("subdistricts/{SUBDISTRICT}"),
                    category: api::NoticeCategory::Flood as i32,
                    title: "暴雨红色预警".into(),
                    body,
                    ..Default::default()
                },
                &world.dispatcher(),
            ))
            .await
            .unwrap()
            .into_inner();
        let created = started.elapsed();
        let parts = notice.deliveries[0].parts;
        let done = eventually("every block delivered", Duration::from_secs(600), || {
            let mut client = client.clone();
            let name = notice.name.clone();
            let token = world.dispatcher();
            async move {
                let notice = client
                    .get_notice(with_token(api::GetNoticeRequest { name }, &token))
                    .await
                    .ok()?
                    .into_inner();
                let summary = notice.summary?;
                (summary.pending == 0).then_some(summary)
            }
        })
        .await;
        let elapsed = started.elapsed();
        let messages = world.gateways.robot_messages_taken() - before;
        println!(
            "{label}: {parts} part(s) per block, {messages} messages; CreateNotice answered in {created:.2?}; \
             all 326 blocks delivered ({} delivered, {} given up) {elapsed:.2?} after the call ({:.0} messages/s)",
            done.delivered,
            done.given_up,
            messages as f64 / elapsed.as_secs_f64()
        );
    }
    println!(
        "rerun: scripts/bench-notices (or NOTICES_DELIVERY_CONCURRENCY=… scripts/bench-notices)\n"
    );
    notices.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: scripts/bench-notices"]
async fn bench_milestone_messages_per_minute_and_their_delay() {
    let total = setting("BENCH_MILESTONES", 10_000);
    let per_minute = setting("BENCH_RATE_PER_MINUTE", 10_000);
    let concurrency = setting("NOTICES_DELIVERY_CONCURRENCY", 16);
    let world = World::new().await;
    let (contacts_url, _contacts) = world.serve_contacts().await;
    let notices = flatgov_notices::build(
        world
            .notices_env(&contacts_url)
            .with("NOTICES_DELIVERY_CONCURRENCY", concurrency.to_string())
            .with(
                "DATABASE_MAX_CONNECTIONS",
                (concurrency * 2 + 8).to_string(),
            ),
    )
    .await
    .expect("the notices service starts");
    let mut client = api::notices_client::NoticesClient::new(
        tonic::transport::Channel::from_shared(notices.grpc_url())
            .unwrap()
            .connect_lazy(),
    );
    client
        .set_gateway(with_token(
            api::SetGatewayRequest {
                name: "gateways/default".into(),
                kind: api::GatewayKind::SignedWebhook as i32,
                url: world.gateways.sms_url(),
                secret: SMS_SECRET.into(),
                description: "benchmark sink".into(),
            },
            &world.admin(),
        ))
        .await
        .unwrap();

    let bus = Arc::new(world.test.bus().await);
    let base = (Instant::now(), Utc::now());
    let interval = Duration::from_secs_f64(60.0 / per_minute as f64);
    let mut occurred = HashMap::new();
    let started = Instant::now();
    let mut publishing = tokio::task::JoinSet::new();
    for index in 0..total {
        // Steady pacing: the index-th event is due at index × interval.
        let due = started + interval.mul_f64(index as f64);
        tokio::time::sleep_until(due.into()).await;
        let id = uuid::Uuid::now_v7();
        let now = Utc::now();
        occurred.insert(id.to_string(), now);
        let event = cases::CaseDispatched {
            transition: Some(cases::CaseTransition {
                case: format!("cases/{id}"),
                sequence: 3,
                block_code: BLOCK.into(),
                subdistrict_code: SUBDISTRICT.into(),
                occurred_at: Some(flatgov_grpc::time::timestamp(now)),
                ..Default::default()
            }),
            assignee: format!("staff/{GOVERNOR}"),
            ..Default::default()
        };
        let bus = bus.clone();
        publishing.spawn(async move {
            flatgov_testkit::events::publish_as(
                &bus,
                "cases",
                &id.to_string(),
                &format!("cases/{id}"),
                &event,
            )
            .await;
        });
        // Keep at most a few hundred publications in flight.
        while publishing.len() > 256 {
            publishing.join_next().await;
        }
    }
    while publishing.join_next().await.is_some() {}
    let published = started.elapsed();

    let total_usize = usize::try_from(total).unwrap();
    eventually(
        "every message delivered",
        Duration::from_secs(1200),
        // Counted under the stand-in's lock, not cloned: a copy of every
        // message each poll would slow the stand-in the service sends to.
        || async { (world.gateways.accepted_count("sms") >= total_usize).then_some(()) },
    )
    .await;
    let received = world.gateways.received();
    let mut delays = Vec::with_capacity(total_usize);
    let mut last = base.0;
    for message in received
        .iter()
        .filter(|message| message.gateway == "sms" && message.accepted)
    {
        let case = message.body["case"].as_str().unwrap_or_default();
        let Some(at) = occurred.get(case.trim_start_matches("cases/")) else {
            continue;
        };
        let taken_at =
            base.1 + chrono::TimeDelta::from_std(message.at.duration_since(base.0)).unwrap();
        delays.push((taken_at - *at).to_std().unwrap_or(Duration::ZERO));
        last = last.max(message.at);
    }
    delays.sort();
    let span = last.duration_since(started);
    println!(
        "\n== milestone messages (signed webhook gateway, NOTICES_DELIVERY_CONCURRENCY={concurrency}) =="
    );
    println!(
        "{} events published at {per_minute}/min in {published:.1?}; {} delivered, the last {span:.1?} after the first event: {:.0} messages/min sustained",
        total,
        delays.len(),
        delays.len() as f64 / span.as_secs_f64() * 60.0
    );
    println!(
        "delay from case event to the gateway taking the message: p50 {:.0?}, p90 {:.0?}, p99 {:.0?}, max {:.0?}",
        percentile(&delays, 0.50),
        percentile(&delays, 0.90),
        percentile(&delays, 0.99),
        percentile(&delays, 1.0)
    );
    println!(
        "rerun: scripts/bench-notices (BENCH_MILESTONES, BENCH_RATE_PER_MINUTE, NOTICES_DELIVERY_CONCURRENCY)\n"
    );
    notices.shutdown().await.unwrap();
}
