//! The chassis, end to end, through the echo service: real gRPC over a
//! socket, real PostgreSQL, real NATS JetStream.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use flatgov_auth::Role;
use flatgov_messaging::{EventBus, Relay, RelayConfig};
use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_proto::testing::v1::{EchoRequest, Echoed, RecordRequest};
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::events::{
    decoded, events_once, publish_as, read_stream, stream_message_count,
};
use flatgov_testkit::{
    PrivateNats, PrivatePostgres, TestDatabase, TestEnv, eventually, with_token,
};
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;

const PATIENCE: Duration = Duration::from_secs(20);

async fn client(application: &flatgov_grpc::Application) -> EchoClient<Channel> {
    EchoClient::connect(application.grpc_url())
        .await
        .expect("connect")
}

async fn record(client: &mut EchoClient<Channel>, token: &str, message: &str) -> String {
    client
        .record(with_token(
            RecordRequest {
                message: message.into(),
                fail_after_write: false,
                request_id: String::new(),
            },
            token,
        ))
        .await
        .expect("record")
        .into_inner()
        .id
}

async fn effects(pool: &sqlx::PgPool) -> Vec<(String, i32, Option<String>)> {
    sqlx::query_as("select message, applications, trace_id from echo_effects order by message")
        .fetch_all(pool)
        .await
        .expect("effects")
}

#[tokio::test]
async fn an_event_whose_transaction_rolled_back_is_never_published() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = client(&application).await;
    let token = test.auth.admin_token();

    let refused = client
        .record(with_token(
            RecordRequest {
                message: "rolled back".into(),
                fail_after_write: true,
                request_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Aborted);
    record(&mut client, &token, "committed").await;

    let bus = test.bus().await;
    let events = read_stream(&bus, "testing", 2, Duration::from_secs(3)).await;
    let messages: Vec<String> = events
        .iter()
        .map(|event| event.decode::<Echoed>().unwrap().message)
        .collect();
    assert_eq!(messages, vec!["committed".to_owned()]);
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn events_of_one_type_are_awaited_until_enough_arrived_and_decoded_in_stream_order() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = client(&application).await;
    let token = test.auth.admin_token();
    record(&mut client, &token, "first").await;
    record(&mut client, &token, "second").await;

    let bus = test.bus().await;
    let events = events_once::<Echoed>(&bus, "testing", PATIENCE, |events| events.len() >= 2).await;
    let messages: Vec<&str> = events
        .iter()
        .map(|(_, event)| event.message.as_str())
        .collect();
    assert_eq!(messages, ["first", "second"]);
    let envelopes: Vec<_> = events.into_iter().map(|(envelope, _)| envelope).collect();
    let again: Vec<String> = decoded::<Echoed>(&envelopes)
        .into_iter()
        .map(|event| event.message)
        .collect();
    assert_eq!(again, ["first", "second"]);
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_event_published_as_another_service_reads_back_as_that_services_event() {
    let test = TestEnv::new();
    let bus = test.bus().await;
    let event = Echoed {
        id: "echoes/1".into(),
        message: "from elsewhere".into(),
    };
    publish_as(&bus, "testing", "event-1", "echoes/1", &event).await;
    publish_as(&bus, "testing", "event-1", "echoes/1", &event).await;

    let envelopes = read_stream(&bus, "testing", 2, Duration::from_secs(2)).await;
    assert_eq!(envelopes.len(), 1, "a reused event id is one message");
    assert_eq!(envelopes[0].id, "event-1");
    assert_eq!(envelopes[0].source, "flatgov/testing");
    assert_eq!(envelopes[0].resource, "echoes/1");
    assert_eq!(envelopes[0].subject, "flatgov.testing.echo.echoed");
    assert_eq!(decoded::<Echoed>(&envelopes), [event]);
}

#[tokio::test]
async fn an_event_committed_while_nats_is_down_is_published_after_nats_returns() {
    let mut nats = PrivateNats::start();
    let mut test = TestEnv::new();
    test.nats_url = nats.url();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = client(&application).await;
    let token = test.auth.admin_token();
    record(&mut client, &token, "before the outage").await;
    let bus = test.bus().await;
    assert_eq!(read_stream(&bus, "testing", 1, PATIENCE).await.len(), 1);

    nats.stop();
    // Intake needs only the service's own database.
    record(&mut client, &token, "during the outage").await;
    let backlog: i64 =
        sqlx::query_scalar("select count(*) from flatgov_outbox where published_at is null")
            .fetch_one(application.pool())
            .await
            .unwrap();
    assert_eq!(
        backlog, 1,
        "the event waits in the outbox while nats is down"
    );

    nats.resume();
    let bus = test.bus().await;
    let events = read_stream(&bus, "testing", 2, PATIENCE).await;
    let messages: Vec<String> = events
        .iter()
        .map(|event| event.decode::<Echoed>().unwrap().message)
        .collect();
    assert_eq!(messages, vec!["before the outage", "during the outage"]);
    application.shutdown().await.unwrap();
}

/// Writes `per_entity` events for each of `entities` resources straight
/// into the outbox, as services do inside their transactions.
async fn fill_outbox(pool: &sqlx::PgPool, entities: usize, per_entity: usize) {
    for sequence in 0..per_entity {
        let mut transaction = pool.begin().await.unwrap();
        for entity in 0..entities {
            flatgov_messaging::outbox::enqueue(
                &mut transaction,
                &format!("echoes/entity-{entity}"),
                &Echoed {
                    id: format!("{entity}"),
                    message: format!("{sequence}"),
                },
            )
            .await
            .unwrap();
        }
        transaction.commit().await.unwrap();
    }
}

/// Checks that every entity's events arrived exactly once, in order.
fn assert_each_entity_in_order_once(
    events: &[flatgov_messaging::Envelope],
    entities: usize,
    per_entity: usize,
) {
    let unique: HashSet<&str> = events.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(unique.len(), events.len(), "no event was delivered twice");
    assert_eq!(events.len(), entities * per_entity);
    let mut sequences: HashMap<String, Vec<usize>> = HashMap::new();
    for event in events {
        let echoed: Echoed = event.decode().unwrap();
        sequences
            .entry(event.resource.clone())
            .or_default()
            .push(echoed.message.parse().unwrap());
    }
    assert_eq!(sequences.len(), entities);
    for (entity, sequence) in sequences {
        let expected: Vec<usize> = (0..per_entity).collect();
        assert_eq!(sequence, expected, "{entity} kept its order");
    }
}

async fn chassis_database(test: &TestEnv) -> sqlx::PgPool {
    let pool = flatgov_db::connect(&flatgov_db::DatabaseConfig {
        url: flatgov_config::Secret::new(test.database.url().to_owned()),
        max_connections: 10,
        migrate_on_start: true,
        owner_url: None,
    })
    .await
    .unwrap();
    flatgov_grpc::migrate(&echo::IDENTITY, &pool).await.unwrap();
    pool
}

async fn relay(test: &TestEnv, pool: &sqlx::PgPool, config: RelayConfig) -> Relay {
    let bus: EventBus = test.bus().await;
    bus.ensure_stream("testing").await.unwrap();
    Relay::new(pool.clone(), bus, "testing", config, Default::default())
}

#[tokio::test]
async fn a_relay_killed_between_publishing_and_marking_sent_delivers_each_event_once_in_order() {
    let test = TestEnv::new();
    let pool = chassis_database(&test).await;
    fill_outbox(&pool, 5, 4).await;

    let crashing = relay(
        &test,
        &pool,
        RelayConfig {
            batch_size: 7,
            crash_after_publish: true,
            ..Default::default()
        },
    )
    .await;
    assert!(
        crashing.relay_once().await.is_err(),
        "the injected crash aborts the pass"
    );
    let still_pending: i64 =
        sqlx::query_scalar("select count(*) from flatgov_outbox where published_at is null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(still_pending, 20, "nothing was marked sent");

    let restarted = relay(&test, &pool, RelayConfig::default()).await;
    while restarted.relay_once().await.unwrap() > 0 {}

    let bus = test.bus().await;
    assert_eq!(
        stream_message_count(&bus, "testing").await,
        20,
        "the re-published duplicates were recognised"
    );
    let events = read_stream(&bus, "testing", 20, PATIENCE).await;
    assert_each_entity_in_order_once(&events, 5, 4);
}

#[tokio::test]
async fn two_relays_on_one_database_publish_each_event_once_in_per_entity_order() {
    let test = TestEnv::new();
    let pool = chassis_database(&test).await;
    fill_outbox(&pool, 20, 25).await;

    let small_batches = RelayConfig {
        batch_size: 16,
        ..Default::default()
    };
    let first = relay(&test, &pool, small_batches.clone()).await;
    let second = relay(&test, &pool, small_batches).await;
    let drain = |relay: Relay, pool: sqlx::PgPool| async move {
        let mut published = 0;
        loop {
            match relay.relay_once().await {
                Ok(0) if flatgov_messaging::outbox::backlog(&pool).await.unwrap() == 0 => {
                    return published;
                }
                // Rows still held by the other relay.
                Ok(0) => tokio::task::yield_now().await,
                Ok(count) => published += count,
                Err(error) => panic!("relay failed: {error}"),
            }
        }
    };
    let (by_first, by_second) =
        tokio::join!(drain(first, pool.clone()), drain(second, pool.clone()));
    assert_eq!(by_first + by_second, 500);

    let bus = test.bus().await;
    assert_eq!(stream_message_count(&bus, "testing").await, 500);
    let events = read_stream(&bus, "testing", 500, PATIENCE).await;
    assert_each_entity_in_order_once(&events, 20, 25);
}

#[tokio::test]
async fn a_consumer_that_dies_after_committing_but_before_acking_applies_the_event_once() {
    let test = TestEnv::new();
    let mut crashing_spec = echo::consumer_spec("echo-effects");
    crashing_spec.crash_after_commit = true;
    let first = echo::build(
        test.env(),
        EchoOptions {
            consumer: Some(crashing_spec),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut client = client(&first).await;
    record(&mut client, &test.auth.admin_token(), "applied once").await;
    let pool = first.pool().clone();
    eventually("the effect to commit", PATIENCE, || async {
        (!effects(&pool).await.is_empty()).then_some(())
    })
    .await;
    first.shutdown().await.unwrap();

    // The same consumer restarts; the unacked message is redelivered.
    let second = echo::build(
        test.env(),
        EchoOptions {
            consumer: Some(echo::consumer_spec("echo-effects")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let pool = second.pool().clone();
    let bus = test.bus().await;
    eventually("the redelivered message to be acked", PATIENCE, || async {
        let stream = bus
            .jetstream()
            .get_stream(bus.stream_name("testing"))
            .await
            .ok()?;
        let mut consumer = stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>("echo-effects")
            .await
            .ok()?;
        let info = consumer.info().await.ok()?;
        (info.num_ack_pending == 0 && info.num_pending == 0 && info.delivered.stream_sequence >= 1)
            .then_some(())
    })
    .await;
    let inbox_duplicates: i64 = sqlx::query_scalar("select count(*) from flatgov_inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(inbox_duplicates, 1);
    let applied = effects(&pool).await;
    assert_eq!(applied.len(), 1);
    assert_eq!(
        (applied[0].0.as_str(), applied[0].1),
        ("applied once", 1),
        "applied exactly once"
    );
    second.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_message_that_always_fails_is_dead_lettered_and_the_next_one_is_still_processed() {
    let test = TestEnv::new();
    let application = echo::build(
        test.env(),
        EchoOptions {
            consumer: Some(echo::consumer_spec("echo-effects")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut client = client(&application).await;
    let token = test.auth.admin_token();
    record(&mut client, &token, "poison pill").await;
    record(&mut client, &token, "healthy").await;

    let bus = test.bus().await;
    let dead = read_stream(&bus, "deadletter", 1, PATIENCE).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].subject, "flatgov.deadletter.testing");
    assert_eq!(dead[0].decode::<Echoed>().unwrap().message, "poison pill");
    let reason = dead[0].header("flatgov-deadletter-reason").unwrap();
    assert!(reason.contains("cannot apply poison pill"), "{reason}");
    assert_eq!(
        dead[0].header("flatgov-deadletter-consumer").as_deref(),
        Some("echo-effects")
    );
    // Operators are told: the gauge alerts while any dead letter is there.
    let metrics_addr = application.metrics_addr();
    eventually("the dead-letter gauge to count it", PATIENCE, || async {
        reqwest_metrics(metrics_addr)
            .await
            .lines()
            .any(|line| line == "flatgov_dead_letters 1")
            .then_some(())
    })
    .await;

    let pool = application.pool().clone();
    let applied = eventually("the healthy message to be applied", PATIENCE, || async {
        let applied = effects(&pool).await;
        (!applied.is_empty()).then_some(applied)
    })
    .await;
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].0, "healthy");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_trace_id_set_by_a_grpc_caller_appears_on_the_consumer_span_across_nats() {
    flatgov_testkit::init_tracing();
    let test = TestEnv::new();
    let application = echo::build(
        test.env(),
        EchoOptions {
            consumer: Some(echo::consumer_spec("echo-effects")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut client = client(&application).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = with_token(
        RecordRequest {
            message: "traced".into(),
            fail_after_write: false,
            request_id: String::new(),
        },
        &test.auth.admin_token(),
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    client.record(request).await.unwrap();

    let pool = application.pool().clone();
    let applied = eventually("the traced event to be consumed", PATIENCE, || async {
        let applied = effects(&pool).await;
        (!applied.is_empty()).then_some(applied)
    })
    .await;
    assert_eq!(applied[0].2.as_deref(), Some(trace_id));
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_service_reports_serving_lists_itself_by_reflection_and_checks_tokens_and_roles() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let url = application.grpc_url();
    let status = eventually("health to report serving", PATIENCE, || async {
        let status = flatgov_grpc::check_health(&url, "flatgov.testing.v1.Echo")
            .await
            .ok()?;
        (status == ServingStatus::Serving).then_some(status)
    })
    .await;
    assert_eq!(status, ServingStatus::Serving);

    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(channel);
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(
        tonic_reflection::pb::v1::server_reflection_response::MessageResponse::ListServicesResponse(
            list,
        ),
    ) = response.message_response
    else {
        panic!("unexpected reflection response");
    };
    let names: HashSet<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    assert!(names.contains("flatgov.testing.v1.Echo"), "{names:?}");
    assert!(names.contains("grpc.health.v1.Health"), "{names:?}");

    let mut client = client(&application).await;
    let anonymous = client
        .echo(EchoRequest {
            message: "hello".into(),
            delay_millis: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    assert!(anonymous.message().contains("missing bearer token"));

    let forged = client
        .echo(with_token(
            EchoRequest {
                message: "hello".into(),
                delay_millis: 0,
            },
            "not-a-jwt",
        ))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), tonic::Code::Unauthenticated);

    let governor = test.auth.token("governor-1", &[Role::Governor]);
    let echoed = client
        .echo(with_token(
            EchoRequest {
                message: "hello".into(),
                delay_millis: 0,
            },
            &governor,
        ))
        .await
        .unwrap();
    assert_eq!(echoed.into_inner().message, "hello");
    let wrong_role = client
        .record(with_token(
            RecordRequest {
                message: "x".into(),
                fail_after_write: false,
                request_id: String::new(),
            },
            &governor,
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong_role.code(), tonic::Code::PermissionDenied);

    let metrics = reqwest_metrics(application.metrics_addr()).await;
    assert!(
        metrics.contains(
            "flatgov_grpc_requests_total{service=\"flatgov.testing.v1.Echo\",method=\"Echo\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("code=\"PermissionDenied\""), "{metrics}");
    assert!(metrics.contains("flatgov_outbox_backlog"), "{metrics}");
    application.shutdown().await.unwrap();
}

/// GET /metrics over a raw socket (no HTTP client dependency needed).
async fn reqwest_metrics(address: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", address.port()))
        .await
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

/// Readiness follows what an RPC needs: the database. A NATS outage leaves
/// the service SERVING and answering writes (their events wait in the
/// outbox), reported as a degradation on `flatgov_nats_connected` instead.
#[tokio::test]
async fn health_follows_postgres_while_a_nats_outage_only_degrades_the_service() {
    let mut nats = PrivateNats::start();
    let mut postgres = PrivatePostgres::start();
    let mut test = TestEnv::new();
    test.nats_url = nats.url();
    let database = TestDatabase::on(&postgres.url("postgres"));
    let application = echo::build(
        test.env_for_database(database.url()),
        EchoOptions::default(),
    )
    .await
    .unwrap();
    let url = application.grpc_url();
    let wait_for = |wanted: ServingStatus, what: &'static str| {
        let url = url.clone();
        async move {
            eventually(what, PATIENCE, || async {
                let status = flatgov_grpc::check_health(&url, "").await.ok()?;
                (status == wanted).then_some(())
            })
            .await
        }
    };
    wait_for(ServingStatus::Serving, "serving at start").await;

    let mut echo_client = client(&application).await;
    let token = test.auth.admin_token();
    let metrics_addr = application.metrics_addr();
    let nats_gauge = |wanted: &'static str| async move {
        eventually("the nats gauge to change", PATIENCE, || async {
            let metrics = reqwest_metrics(metrics_addr).await;
            metrics
                .lines()
                .any(|line| line == format!("flatgov_nats_connected {wanted}"))
                .then_some(())
        })
        .await
    };
    nats_gauge("1").await;

    nats.stop();
    nats_gauge("0").await;
    // Past the health monitor's next ticks: still serving, still writing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        flatgov_grpc::check_health(&url, "").await.unwrap(),
        ServingStatus::Serving,
        "a nats outage does not take the service out of readiness"
    );
    record(&mut echo_client, &token, "during the nats outage").await;
    nats.resume();
    nats_gauge("1").await;
    wait_for(ServingStatus::Serving, "serving once nats is back").await;

    postgres.stop();
    wait_for(ServingStatus::NotServing, "not serving without postgres").await;
    postgres.resume();
    wait_for(ServingStatus::Serving, "serving once postgres is back").await;

    // And it still works, without a restart.
    record(&mut echo_client, &token, "after both outages").await;
    application.shutdown().await.unwrap();
    drop(database);
}

#[tokio::test]
async fn a_missing_or_malformed_variable_stops_the_service_at_start_naming_it() {
    let test = TestEnv::new();
    let missing = echo::build(
        flatgov_config::Env::from_pairs::<&str, &str>([]),
        EchoOptions::default(),
    )
    .await
    .err()
    .expect("start must fail");
    assert!(missing.to_string().contains("DATABASE_URL"), "{missing}");

    let malformed = echo::build(
        test.env().with("DATABASE_MAX_CONNECTIONS", "lots"),
        EchoOptions::default(),
    )
    .await
    .err()
    .expect("start must fail");
    assert!(
        malformed
            .to_string()
            .contains("DATABASE_MAX_CONNECTIONS=\"lots\""),
        "{malformed}"
    );
}

#[tokio::test]
async fn a_request_above_the_message_size_bound_is_refused_and_a_deadline_is_honoured() {
    let test = TestEnv::new();
    let application = echo::build(
        test.env().with("GRPC_MAX_MESSAGE_BYTES", "1024"),
        EchoOptions::default(),
    )
    .await
    .unwrap();
    let mut client = client(&application).await;
    let token = test.auth.admin_token();
    let refused = client
        .echo(with_token(
            EchoRequest {
                message: "x".repeat(4096),
                delay_millis: 0,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");
    let small = client
        .echo(with_token(
            EchoRequest {
                message: "ok".into(),
                delay_millis: 0,
            },
            &token,
        ))
        .await
        .unwrap();
    assert_eq!(small.into_inner().message, "ok");

    // The caller's deadline travels as grpc-timeout; the server stops a call
    // that outlives it instead of working on for nobody.
    let mut hurried = with_token(
        EchoRequest {
            message: "slow".into(),
            delay_millis: 10_000,
        },
        &token,
    );
    hurried
        .metadata_mut()
        .insert("grpc-timeout", "200m".parse().unwrap());
    let started = std::time::Instant::now();
    let expired = client.echo(hurried).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server honoured the deadline"
    );
    assert!(
        matches!(
            expired.code(),
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
        ),
        "{expired:?}"
    );
    application.shutdown().await.unwrap();
}
