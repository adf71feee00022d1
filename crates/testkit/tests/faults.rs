//! The chassis under infrastructure faults, each seen in a chaos run: a
//! PostgreSQL restart, a port taken by someone else when a service restarts.
//! Faults are injected into private PostgreSQL instances; the shared ones are
//! never stopped.

use std::time::{Duration, Instant};

use flatgov_messaging::{Relay, RelayConfig};
use flatgov_proto::testing::v1::Echoed;
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::events::{publish_as, read_stream, stream_message_count};
use flatgov_testkit::{PrivatePostgres, TestDatabase, TestEnv, eventually, free_port};
use tokio_util::sync::CancellationToken;
use tonic_health::pb::health_check_response::ServingStatus;

const PATIENCE: Duration = Duration::from_secs(30);

async fn enqueue(pool: &sqlx::PgPool, message: &str) -> Result<(), sqlx::Error> {
    let mut transaction = pool.begin().await?;
    flatgov_messaging::outbox::enqueue(
        &mut transaction,
        "echoes/after-restart",
        &Echoed {
            id: "after-restart".into(),
            message: message.into(),
        },
    )
    .await?;
    transaction.commit().await
}

/// Seen in a chaos run: after a PostgreSQL restart, publication stalled for
/// up to 5 s: the relay slept out its grown error backoff, and a lost
/// listener was replaced only after the idle poll.
#[tokio::test]
async fn after_a_postgres_restart_a_commit_is_published_at_once_not_after_the_idle_poll() {
    let mut postgres = PrivatePostgres::start();
    let test = TestEnv::new();
    let database = TestDatabase::on(&postgres.url("postgres"));
    let pool = flatgov_db::connect(&flatgov_db::DatabaseConfig {
        url: flatgov_config::Secret::new(database.url().to_owned()),
        max_connections: 5,
        migrate_on_start: true,
        owner_url: None,
    })
    .await
    .unwrap();
    flatgov_grpc::migrate(&echo::IDENTITY, &pool).await.unwrap();
    let bus = test.bus().await;
    bus.ensure_stream("testing").await.unwrap();
    let relay = Relay::new(
        pool.clone(),
        bus.clone(),
        "testing",
        RelayConfig::default(),
        Default::default(),
    );
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(relay.run(shutdown.clone()));

    enqueue(&pool, "before the restart").await.unwrap();
    assert_eq!(read_stream(&bus, "testing", 1, PATIENCE).await.len(), 1);

    // A restart as an operator makes it (sessions end with 57P01), with the
    // database away long enough for the relay's error backoff to grow to
    // seconds: the passes fail at about 0.1, 0.3, 0.7, 1.5, 3.1 and 6.3 s, the
    // next one is due at 11.3 s.
    postgres.shut_down();
    tokio::time::sleep(Duration::from_millis(6500)).await;
    postgres.resume();
    let committed_at = eventually("a commit once postgres is back", PATIENCE, || async {
        enqueue(&pool, "after the restart")
            .await
            .ok()
            .map(|()| Instant::now())
    })
    .await;
    // Published is deleted from the outbox (after JetStream's PubAck).
    eventually("the outbox to empty", PATIENCE, || async {
        let left: i64 = sqlx::query_scalar("select count(*) from flatgov_outbox")
            .fetch_one(&pool)
            .await
            .ok()?;
        (left == 0).then_some(())
    })
    .await;
    let waited = committed_at.elapsed();
    let events = read_stream(&bus, "testing", 2, PATIENCE).await;
    let messages: Vec<String> = events
        .iter()
        .map(|event| event.decode::<Echoed>().unwrap().message)
        .collect();
    assert_eq!(messages, ["before the restart", "after the restart"]);
    assert!(
        waited < Duration::from_millis(2500),
        "the event committed after the restart waited {waited:?} to be published"
    );

    shutdown.cancel();
    running.await.unwrap();
    pool.close().await;
    drop(database);
}

/// Seen in a chaos run: a restarted service found its port held (by an
/// outgoing connection that the kernel had numbered with it, or by its
/// previous process), exited, and was restarted 62 times in 90 s.
#[tokio::test]
async fn a_service_whose_port_is_held_for_a_moment_waits_for_it_instead_of_exiting() {
    let test = TestEnv::new();
    let port = free_port();
    let holder = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let released = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(holder);
    });
    let started = Instant::now();
    let application = echo::build(
        test.env()
            .with("GRPC_LISTEN_ADDR", format!("127.0.0.1:{port}")),
        EchoOptions::default(),
    )
    .await
    .expect("the service waits for its port");
    released.join().unwrap();
    assert_eq!(application.grpc_addr().port(), port);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let status = flatgov_grpc::check_health(&application.grpc_url(), "")
        .await
        .expect("the service answers on its port");
    assert_ne!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Unknown
    );
    application.shutdown().await.unwrap();
}

/// Seen when reading the consumer: every database error counted toward
/// `max_deliver`, so a PostgreSQL outage longer than the retries (about two
/// minutes in production) dead-lettered every event in flight.
#[tokio::test]
async fn a_postgres_outage_longer_than_every_retry_pauses_consumers_and_dead_letters_nothing() {
    let mut postgres = PrivatePostgres::start();
    let test = TestEnv::new();
    let database = TestDatabase::on(&postgres.url("postgres"));
    // Three tries about 250 ms apart: the outage below outlasts them all.
    let application = echo::build(
        test.env_for_database(database.url()),
        EchoOptions {
            consumer: Some(echo::consumer_spec("echo-effects")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bus = test.bus().await;
    let pool = application.pool().clone();

    postgres.shut_down();
    let echo_id = uuid::Uuid::now_v7();
    publish_as(
        &bus,
        "testing",
        &uuid::Uuid::now_v7().to_string(),
        &format!("echoes/{echo_id}"),
        &Echoed {
            id: echo_id.to_string(),
            message: "during the outage".into(),
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    postgres.resume();

    let applied: (String, i32) = eventually("the event to be applied", PATIENCE, || async {
        sqlx::query_as("select message, applications from echo_effects where echo_id = $1")
            .bind(echo_id)
            .fetch_optional(&pool)
            .await
            .ok()
            .flatten()
    })
    .await;
    assert_eq!(applied, ("during the outage".to_owned(), 1));
    assert_eq!(
        stream_message_count(&bus, "deadletter").await,
        0,
        "nothing was dead-lettered because the database was away"
    );
    application.shutdown().await.unwrap();
    drop(database);
}

/// The inbox used to grow forever. It forgets an event only when the stream
/// can no longer deliver it again, so a replay stays a duplicate.
#[tokio::test]
async fn the_inbox_forgets_only_events_older_than_the_streams_can_deliver() {
    let test = TestEnv::new();
    let pool = flatgov_db::connect(&flatgov_db::DatabaseConfig {
        url: flatgov_config::Secret::new(test.database.url().to_owned()),
        max_connections: 2,
        migrate_on_start: true,
        owner_url: None,
    })
    .await
    .unwrap();
    flatgov_grpc::migrate(&echo::IDENTITY, &pool).await.unwrap();
    let retention = flatgov_messaging::consumer::INBOX_RETENTION;
    assert!(retention > flatgov_messaging::bus::DUPLICATE_WINDOW);
    assert!(retention > flatgov_messaging::bus::STREAM_MAX_AGE);
    let retention_days = i32::try_from(retention.as_secs() / 86_400).unwrap();
    for (consumer, event_id, age_days) in [
        ("echo-effects", "beyond-the-stream", retention_days + 1),
        ("echo-effects", "still-replayable", retention_days - 1),
        ("other-consumer", "beyond-the-stream", retention_days + 1),
    ] {
        sqlx::query(
            "insert into flatgov_inbox (consumer, event_id, event_type, processed_at)
             values ($1, $2, 'flatgov.testing.v1.Echoed', now() - make_interval(days => $3))",
        )
        .bind(consumer)
        .bind(event_id)
        .bind(age_days)
        .execute(&pool)
        .await
        .unwrap();
    }
    let pruned = flatgov_messaging::consumer::prune_inbox(&pool, "echo-effects", retention)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left: Vec<(String, String)> =
        sqlx::query_as("select consumer, event_id from flatgov_inbox order by consumer, event_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        left,
        [
            ("echo-effects".to_owned(), "still-replayable".to_owned()),
            ("other-consumer".to_owned(), "beyond-the-stream".to_owned()),
        ]
    );
    pool.close().await;
}

/// Issue 23: a service started while its PostgreSQL was away retried for
/// 30 s and exited — and while it waited it had no port open, so a probe
/// could not tell a process waiting for its database from a dead one. Now it
/// waits for as long as it takes, answering NOT_SERVING meanwhile.
#[tokio::test]
async fn a_service_started_before_its_postgres_answers_not_serving_and_serves_once_it_is_up() {
    let mut postgres = PrivatePostgres::start();
    let test = TestEnv::new();
    let database = TestDatabase::on(&postgres.url("postgres"));
    let port = free_port();
    // (The environment ensures the application role, so it is made first.)
    let env = test
        .env_for_database(database.url())
        .with("GRPC_LISTEN_ADDR", format!("127.0.0.1:{port}"));
    postgres.shut_down();
    let starting = tokio::spawn(echo::build(env, EchoOptions::default()));
    let url = format!("http://127.0.0.1:{port}");

    let status = eventually("an answer while postgres is away", PATIENCE, || async {
        flatgov_grpc::check_health(&url, "").await.ok()
    })
    .await;
    assert_eq!(status, ServingStatus::NotServing);
    // Still waiting (its backoff is capped at 5 s), still answering.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !starting.is_finished(),
        "start-up gave up while postgres was away"
    );
    assert_eq!(
        flatgov_grpc::check_health(&url, "").await,
        Ok(ServingStatus::NotServing)
    );
    // A peer whose channel connected while the service was starting keeps that
    // connection: once the service is ready, its calls must reach the service (they
    // got UNIMPLEMENTED from the start-up health server for good, found by a test
    // whose lazy channel connected early).
    let early = tonic::transport::Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .expect("a channel to the starting service");
    let mut early_health = tonic_health::pb::health_client::HealthClient::new(early.clone());
    let answered = early_health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health answers while starting")
        .into_inner();
    assert_eq!(answered.status, ServingStatus::NotServing as i32);

    postgres.resume();
    let application = starting
        .await
        .unwrap()
        .expect("the service starts once postgres is up");
    assert_eq!(application.grpc_addr().port(), port);
    eventually("SERVING once postgres is up", PATIENCE, || async {
        (flatgov_grpc::check_health(&url, "").await == Ok(ServingStatus::Serving)).then_some(())
    })
    .await;
    let governor = test
        .auth
        .token("governor-1", &[flatgov_auth::Role::Governor]);
    let echoed = eventually("the early channel to reach the service", PATIENCE, || {
        let mut client = flatgov_proto::testing::v1::echo_client::EchoClient::new(early.clone());
        let request = flatgov_testkit::with_token(
            flatgov_proto::testing::v1::EchoRequest {
                message: "早".into(),
                delay_millis: 0,
            },
            &governor,
        );
        async move {
            match client.echo(request).await {
                Ok(response) => Some(Ok(response.into_inner())),
                Err(status) if status.code() == tonic::Code::Unavailable => None,
                Err(status) => Some(Err(status)),
            }
        }
    })
    .await
    .expect("a call on the channel opened during start-up is served");
    assert_eq!(echoed.message, "早");
    application.shutdown().await.unwrap();
    drop(database);
}
