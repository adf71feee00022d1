//! Undelivered events: poison outbox rows parked and released in order, dead
//! letters listed, shown and redriven through `flatgov.messaging.v1.EventDelivery`
//! — real PostgreSQL, real NATS JetStream, the echo service on the chassis.

use std::time::Duration;

use flatgov_auth::Role;
use flatgov_messaging::outbox::{self, Release};
use flatgov_messaging::{MessagingMetrics, Relay, RelayConfig};
use flatgov_proto::messaging::v1 as delivery;
use flatgov_proto::messaging::v1::event_delivery_client::EventDeliveryClient;
use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_proto::testing::v1::{Echoed, RecordRequest};
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::events::{read_stream, stream_message_count};
use flatgov_testkit::{TestEnv, eventually, with_token};
use tonic::transport::Channel;

const PATIENCE: Duration = Duration::from_secs(30);

async fn migrated_pool(test: &TestEnv) -> sqlx::PgPool {
    let pool = flatgov_db::connect(&flatgov_db::DatabaseConfig {
        url: flatgov_config::Secret::new(test.database.url().to_owned()),
        max_connections: 5,
        migrate_on_start: true,
        owner_url: None,
    })
    .await
    .unwrap();
    flatgov_grpc::migrate(&echo::IDENTITY, &pool).await.unwrap();
    pool
}

/// Enqueues an `Echoed` about `resource` whose message is `message`, on
/// `subject` (a subject no stream captures makes a row that cannot publish).
async fn enqueue_on(pool: &sqlx::PgPool, resource: &str, message: &str, subject: &str) -> i64 {
    let mut transaction = pool.begin().await.unwrap();
    let event_id = outbox::enqueue(
        &mut transaction,
        resource,
        &Echoed {
            id: resource.to_owned(),
            message: message.to_owned(),
        },
    )
    .await
    .unwrap();
    let id: i64 = sqlx::query_scalar(
        "update flatgov_outbox set subject = $2 where event_id = $1 returning id",
    )
    .bind(event_id)
    .bind(subject)
    .fetch_one(&mut *transaction)
    .await
    .unwrap();
    transaction.commit().await.unwrap();
    id
}

const ECHOED: &str = "flatgov.testing.echo.echoed";
/// No stream captures it until the test "fixes" that by creating one.
const UNCAPTURED: &str = "flatgov.nowhere.echo.echoed";

async fn row_state(pool: &sqlx::PgPool, id: i64) -> Option<(i32, bool)> {
    sqlx::query_as("select attempts, parked_at is not null from flatgov_outbox where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

fn messages(envelopes: &[flatgov_messaging::Envelope]) -> Vec<String> {
    envelopes
        .iter()
        .map(|envelope| envelope.decode::<Echoed>().unwrap().message)
        .collect()
}

#[tokio::test]
async fn a_poison_row_is_parked_others_flow_its_entity_waits_and_a_retry_releases_them_in_order() {
    let test = TestEnv::new();
    let pool = migrated_pool(&test).await;
    let bus = test.bus().await;
    bus.ensure_stream("testing").await.unwrap();
    let metrics = MessagingMetrics::default();
    let relay_with_batch = |batch_size| {
        Relay::new(
            pool.clone(),
            bus.clone(),
            "testing",
            RelayConfig {
                batch_size,
                max_attempts: 3,
                ..RelayConfig::default()
            },
            metrics.clone(),
        )
    };
    let relay = relay_with_batch(4);

    let poison = enqueue_on(&pool, "echoes/a", "a1", UNCAPTURED).await;
    let held_first = enqueue_on(&pool, "echoes/a", "a2", UNCAPTURED).await;
    let held_second = enqueue_on(&pool, "echoes/a", "a3", UNCAPTURED).await;

    // Alone, the failing row proves nothing against itself: NATS might be
    // away. It is tried, but no attempt is counted.
    assert!(relay.relay_once().await.is_err());
    assert_eq!(row_state(&pool, poison).await, Some((0, false)));

    // With another entity's event published beside it, JetStream is shown
    // up, and each failure counts: parked at the third.
    for pass in 1..=3 {
        enqueue_on(
            &pool,
            &format!("echoes/b{pass}"),
            &format!("b{pass}"),
            ECHOED,
        )
        .await;
        assert!(relay.relay_once().await.is_err(), "pass {pass} fails a1");
        assert_eq!(
            row_state(&pool, poison).await,
            Some((pass, pass == 3)),
            "after pass {pass}"
        );
    }
    assert_eq!(metrics.outbox_parked.get(), 1);
    assert_eq!(outbox::parked_count(&pool).await.unwrap(), 1);
    let parked = outbox::parked(&pool, None, 10).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].id, poison);
    assert_eq!(parked[0].resource, "echoes/a");
    assert_eq!(parked[0].held, 2, "a2 and a3 wait behind a1");
    assert!(
        parked[0].last_error.contains("no stream"),
        "{}",
        parked[0].last_error
    );

    // Parked: the relay no longer tries it, holds a2 and a3 untried, and other
    // entities keep flowing although the held rows are older than theirs —
    // even with a batch the held rows alone would fill.
    let relay = relay_with_batch(2);
    for pass in 4..=6 {
        enqueue_on(
            &pool,
            &format!("echoes/b{pass}"),
            &format!("b{pass}"),
            ECHOED,
        )
        .await;
        assert_eq!(relay.relay_once().await.unwrap(), 1, "pass {pass}");
    }
    assert_eq!(row_state(&pool, poison).await, Some((3, true)));
    assert_eq!(row_state(&pool, held_first).await, Some((0, false)));
    assert_eq!(row_state(&pool, held_second).await, Some((0, false)));
    let others = read_stream(&bus, "testing", 6, PATIENCE).await;
    assert_eq!(messages(&others), ["b1", "b2", "b3", "b4", "b5", "b6"]);
    assert_eq!(stream_message_count(&bus, "nowhere").await, 0);

    // A release of a row that is not parked changes nothing.
    let refused = outbox::retry_parked(&pool, &Release::Rows(vec![poison, held_first])).await;
    assert!(
        matches!(refused, Err(outbox::RetryError::NotParked(id)) if id == held_first),
        "{refused:?}"
    );
    assert_eq!(row_state(&pool, poison).await, Some((3, true)));

    // The cause fixed (the stream provisioned), a retry releases a1, then a2
    // and a3 follow it, in order.
    bus.ensure_stream("nowhere").await.unwrap();
    let released = outbox::retry_parked(&pool, &Release::All).await.unwrap();
    assert_eq!(released, [poison]);
    assert_eq!(relay.relay_once().await.unwrap(), 2);
    assert_eq!(relay.relay_once().await.unwrap(), 1);
    let entity = read_stream(&bus, "nowhere", 3, PATIENCE).await;
    assert_eq!(messages(&entity), ["a1", "a2", "a3"]);
    assert_eq!(outbox::parked_count(&pool).await.unwrap(), 0);
    assert_eq!(outbox::backlog(&pool).await.unwrap(), 0);
    pool.close().await;
}

#[tokio::test]
async fn an_outage_of_nats_parks_nothing_however_many_passes_fail() {
    let test = TestEnv::new();
    let pool = migrated_pool(&test).await;
    // A bus whose server is not there: every publish fails as in an outage.
    let bus = flatgov_messaging::EventBus::connect(
        &flatgov_messaging::BusConfig::plain(
            format!("nats://127.0.0.1:{}", flatgov_testkit::free_port()),
            test.prefix.clone(),
        ),
        "flatgov-test",
    )
    .await
    .unwrap();
    let relay = Relay::new(
        pool.clone(),
        bus,
        "testing",
        RelayConfig {
            max_attempts: 2,
            publish_timeout: Duration::from_millis(200),
            ..RelayConfig::default()
        },
        MessagingMetrics::default(),
    );
    let first = enqueue_on(&pool, "echoes/a", "a1", ECHOED).await;
    let second = enqueue_on(&pool, "echoes/b", "b1", ECHOED).await;
    // Already over the limit (as a count from before parking existed could
    // be): an uncounted failure still parks nothing.
    sqlx::query("update flatgov_outbox set attempts = 50 where id = $1")
        .bind(second)
        .execute(&pool)
        .await
        .unwrap();
    for _ in 0..4 {
        assert!(relay.relay_once().await.is_err());
    }
    assert_eq!(row_state(&pool, first).await, Some((0, false)));
    assert_eq!(row_state(&pool, second).await, Some((50, false)));
    assert_eq!(outbox::parked_count(&pool).await.unwrap(), 0);
    pool.close().await;
}

async fn delivery_client(application: &flatgov_grpc::Application) -> EventDeliveryClient<Channel> {
    EventDeliveryClient::connect(application.grpc_url())
        .await
        .unwrap()
}

async fn record(application: &flatgov_grpc::Application, token: &str, message: &str) -> String {
    EchoClient::connect(application.grpc_url())
        .await
        .unwrap()
        .record(with_token(
            RecordRequest {
                message: message.into(),
                fail_after_write: false,
                request_id: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn dead_letters(
    client: &mut EventDeliveryClient<Channel>,
    token: &str,
) -> Vec<delivery::DeadLetter> {
    client
        .list_dead_letters(with_token(
            delivery::ListDeadLettersRequest::default(),
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .dead_letters
}

#[tokio::test]
async fn a_dead_letter_is_listed_shown_and_redriven_once_by_an_administrator_and_audited() {
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
    let admin = test.auth.admin_token();
    let pool = application.pool().clone();
    let owner = flatgov_db::connect(&flatgov_db::DatabaseConfig {
        url: flatgov_config::Secret::new(test.database.url().to_owned()),
        max_connections: 2,
        migrate_on_start: false,
        owner_url: None,
    })
    .await
    .unwrap();
    let mut client = delivery_client(&application).await;

    let first_id = record(&application, &admin, "poison-first").await;
    record(&application, &admin, "poison-second").await;
    let letters = eventually("two dead letters", PATIENCE, || async {
        let letters = dead_letters(&mut client.clone(), &admin).await;
        (letters.len() == 2).then_some(letters)
    })
    .await;
    let first = letters
        .iter()
        .find(|letter| letter.reason.contains("poison-first"))
        .expect("poison-first dead-lettered");
    assert!(first.name.starts_with("deadLetters/"), "{}", first.name);
    assert_eq!(first.consumer, "echo-effects");
    assert_eq!(first.subject, "flatgov.testing.echo.echoed");
    assert_eq!(first.resource, format!("echoes/{first_id}"));
    assert_eq!(first.event_type, "flatgov.testing.v1.Echoed");
    assert_eq!(first.attempts, 3);
    assert!(
        first.reason.contains("cannot apply poison-first"),
        "{}",
        first.reason
    );

    let shown = client
        .get_dead_letter(with_token(
            delivery::GetDeadLetterRequest {
                name: first.name.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let event: Echoed = prost::Message::decode(shown.payload.as_slice()).unwrap();
    assert_eq!(event.message, "poison-first");
    assert_eq!(shown.headers.get("ce-id"), Some(&first.event_id));

    // Not an administrator: refused, nothing redriven.
    let dispatcher = test
        .auth
        .token("dispatcher-1", &[Role::SubdistrictDispatcher]);
    let refused = client
        .redrive_dead_letters(with_token(
            delivery::RedriveDeadLettersRequest {
                names: vec![first.name.clone()],
                all: false,
            },
            &dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    // A name that is no dead letter: refused by name, nothing redriven.
    let unknown = client
        .redrive_dead_letters(with_token(
            delivery::RedriveDeadLettersRequest {
                names: vec![first.name.clone(), "deadLetters/999999".into()],
                all: false,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(unknown.message().contains("deadLetters/999999"));
    let malformed = client
        .redrive_dead_letters(with_token(
            delivery::RedriveDeadLettersRequest {
                names: vec!["cases/1".into()],
                all: false,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), tonic::Code::InvalidArgument);
    assert_eq!(dead_letters(&mut client, &admin).await.len(), 2);

    // The cause not fixed yet: the redrive fails again, the dead letter stays.
    let again = client
        .redrive_dead_letters(with_token(
            delivery::RedriveDeadLettersRequest {
                names: vec![first.name.clone()],
                all: false,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.outcomes[0].result(), delivery::RedriveResult::Failed);
    assert!(again.outcomes[0].error.contains("cannot apply"));
    assert_eq!(dead_letters(&mut client, &admin).await.len(), 2);

    // Fixed: the redrive applies it once and removes it; the other stays.
    sqlx::query("insert into echo_cures (message) values ('poison-first'), ('poison-second')")
        .execute(&owner)
        .await
        .unwrap();
    let applied = client
        .redrive_dead_letters(with_token(
            delivery::RedriveDeadLettersRequest {
                names: vec![first.name.clone()],
                all: false,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        applied.outcomes[0].result(),
        delivery::RedriveResult::Applied
    );
    let left = dead_letters(&mut client, &admin).await;
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].name, first.name);

    // A second copy of the applied dead letter (as a crash between applying
    // and removing would leave) is recognised by the consumer's inbox: never
    // applied twice. `all` redrives it with the other one.
    let mut headers = async_nats::HeaderMap::new();
    for (name, value) in &shown.headers {
        headers.insert(name.as_str(), value.as_str());
    }
    headers.insert("Nats-Msg-Id", "a-second-copy");
    let bus = test.bus().await;
    bus.jetstream()
        .publish_with_headers(
            bus.deadletter_subject("testing"),
            headers,
            shown.payload.clone().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let left = dead_letters(&mut client, &admin).await;
    assert_eq!(left.len(), 2);
    let all = client
        .redrive_dead_letters(with_token(
            delivery::RedriveDeadLettersRequest {
                names: vec![],
                all: true,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let results: Vec<delivery::RedriveResult> = all
        .outcomes
        .iter()
        .map(|outcome| outcome.result())
        .collect();
    assert_eq!(
        results,
        [
            delivery::RedriveResult::Applied,
            delivery::RedriveResult::AlreadyApplied
        ]
    );
    assert!(dead_letters(&mut client, &admin).await.is_empty());
    let effects: Vec<(String, i32)> =
        sqlx::query_as("select message, applications from echo_effects order by message")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        effects,
        [
            ("poison-first".to_owned(), 1),
            ("poison-second".to_owned(), 1)
        ]
    );

    // Every redrive is in the audit trail with the dead letters it touched,
    // the refused one included.
    let audited: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "select subject, outcome, resources from flatgov_audit
          where method = 'RedriveDeadLetters' order by id",
    )
    .fetch_all(&owner)
    .await
    .unwrap();
    let outcomes: Vec<&str> = audited
        .iter()
        .map(|(_, outcome, _)| outcome.as_str())
        .collect();
    assert_eq!(
        outcomes,
        [
            "PERMISSION_DENIED",
            "NOT_FOUND",
            "INVALID_ARGUMENT",
            "OK",
            "OK",
            "OK"
        ]
    );
    assert_eq!(audited[4].2, std::slice::from_ref(&first.name));
    let redriven_all: Vec<String> = left.iter().map(|letter| letter.name.clone()).collect();
    assert_eq!(audited[5].2, redriven_all);
    owner.close().await;
    application.shutdown().await.unwrap();
}
