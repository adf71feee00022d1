//! NATS with accounts and TLS, against a real nats-server: each service publishes only
//! its own subjects, integrators only read, a forged event never reaches a consumer, a
//! revoked user is locked out, and nothing connects in plaintext.

use std::time::Duration;

use flatgov_messaging::accounts::{AccountsDirectory, ServerTlsFiles};
use flatgov_messaging::{BusConfig, EventBus};
use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_proto::testing::v1::{Echoed, RecordRequest};
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::{PrivateNats, TestEnv, TestTls, eventually, with_token};
use prost::Message as _;

/// A private server with a user per service (`testing` is the echo service), one
/// integrator, and TLS.
struct Secured {
    accounts: AccountsDirectory,
    tls: TestTls,
    nats: PrivateNats,
    _directory: tempfile::TempDir,
}

impl Secured {
    fn start() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let accounts = AccountsDirectory::new(directory.path());
        accounts
            .ensure_services(&["testing", "cases", "enforcement", "gateway"])
            .unwrap();
        accounts.add_integrator("hotline-12345").unwrap();
        let tls = TestTls::new();
        let files = tls.files("nats");
        let nats = PrivateNats::start_with_accounts(
            accounts.clone(),
            Some(ServerTlsFiles {
                cert: files.cert,
                key: files.key,
                ca: tls.ca_file(),
                verify_clients: false,
            }),
        );
        Self {
            accounts,
            tls,
            nats,
            _directory: directory,
        }
    }

    fn config(&self, credentials: Option<std::path::PathBuf>) -> BusConfig {
        let mut config = BusConfig::plain(self.nats.url(), "");
        config.credentials_file = credentials;
        config.tls_ca_file = Some(self.tls.ca_file());
        config
    }

    async fn bus_as(&self, credentials: std::path::PathBuf) -> EventBus {
        let bus = EventBus::connect(&self.config(Some(credentials)), "test")
            .await
            .unwrap();
        eventually("the connection", Duration::from_secs(10), || {
            let connected = bus.is_connected();
            async move { connected.then_some(()) }
        })
        .await;
        bus
    }

    /// The echo service running as its own NATS user, consuming its own events.
    async fn echo(&self, test: &TestEnv) -> flatgov_grpc::Application {
        let env = test
            .env()
            .with("NATS_URL", self.nats.url())
            .with("NATS_SUBJECT_PREFIX", "")
            .with(
                "NATS_CREDENTIALS_FILE",
                self.accounts.service_seed("testing").display().to_string(),
            )
            .with("NATS_TLS_CA_FILE", self.tls.ca_file().display().to_string());
        echo::build(
            env,
            EchoOptions {
                consumer: Some(echo::consumer_spec("testing-on-echo-echoed")),
                ..EchoOptions::default()
            },
        )
        .await
        .unwrap()
    }
}

/// A JetStream publish, answered by a PubAck only when the server let it through.
async fn jetstream_publish(bus: &EventBus, subject: &str, payload: Vec<u8>) -> Result<(), String> {
    let ack = bus
        .jetstream()
        .publish(subject.to_owned(), payload.into())
        .await
        .map_err(|error| error.to_string())?;
    tokio::time::timeout(Duration::from_secs(3), ack)
        .await
        .map_err(|_| "no acknowledgement".to_owned())?
        .map(|_| ())
        .map_err(|error| error.to_string())
}

async fn effects(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar("select message from echo_effects order by message")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn another_service_cannot_publish_a_forged_event_and_no_consumer_ever_sees_one() {
    let secured = Secured::start();
    let test = TestEnv::new();
    let application = secured.echo(&test).await;
    let pool = sqlx::PgPool::connect(test.database.url()).await.unwrap();

    // `cases` forges the echo service's event and another service's.
    let cases = secured.bus_as(secured.accounts.service_seed("cases")).await;
    let forged = Echoed {
        id: uuid::Uuid::now_v7().to_string(),
        message: "forged".into(),
    }
    .encode_to_vec();
    assert!(
        jetstream_publish(&cases, "flatgov.testing.echo.echoed", forged.clone())
            .await
            .is_err()
    );
    assert!(
        jetstream_publish(&cases, "flatgov.enforcement.operation.opened", forged)
            .await
            .is_err()
    );
    // Its own subjects it may publish (the stream provisioned as its relay would).
    cases.ensure_stream("cases").await.unwrap();
    jetstream_publish(&cases, "flatgov.cases.case.reported", vec![1])
        .await
        .expect("a service publishes its own events");

    // The echo service's own, legitimate event is consumed; the forged one never was.
    EchoClient::connect(application.grpc_url())
        .await
        .unwrap()
        .record(with_token(
            RecordRequest {
                message: "genuine".into(),
                fail_after_write: false,
                request_id: String::new(),
            },
            &test.auth.admin_token(),
        ))
        .await
        .unwrap();
    eventually(
        "the genuine event to be consumed",
        Duration::from_secs(15),
        || {
            let pool = pool.clone();
            async move {
                let seen = effects(&pool).await;
                (!seen.is_empty()).then_some(seen)
            }
        },
    )
    .await;
    assert_eq!(effects(&pool).await, ["genuine"]);
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_gateway_hears_case_events_live_and_can_neither_publish_nor_read_other_streams() {
    let secured = Secured::start();
    let cases = secured.bus_as(secured.accounts.service_seed("cases")).await;
    cases.ensure_stream("cases").await.unwrap();
    let gateway = secured
        .bus_as(secured.accounts.service_seed("gateway"))
        .await;

    let mut heard = gateway
        .client()
        .subscribe("flatgov.cases.case.>")
        .await
        .unwrap();
    gateway.client().flush().await.unwrap();
    // The server may register the subscription's interest a moment after the
    // flush on a loaded machine (CI saw a first event pass unheard): publish
    // until one is heard, for up to 15 s.
    let mut message = None;
    for _ in 0..30 {
        jetstream_publish(&cases, "flatgov.cases.case.dispatched", vec![3])
            .await
            .unwrap();
        if let Ok(Some(heard_one)) = tokio::time::timeout(
            Duration::from_millis(500),
            futures::StreamExt::next(&mut heard),
        )
        .await
        {
            message = Some(heard_one);
            break;
        }
    }
    let message = message.expect("the case event arrives");
    assert_eq!(message.payload.as_ref(), [3]);

    // Refused subscriptions are dropped by the server, which tells the
    // client; nothing published there ever arrives. (Made only once the
    // allowed one has been heard: the server's error for the refused one
    // may reach the client while the case event is on its way.)
    let mut refused = gateway
        .client()
        .subscribe("flatgov.enforcement.>")
        .await
        .unwrap();
    gateway.client().flush().await.unwrap();

    let enforcement = secured
        .bus_as(secured.accounts.service_seed("enforcement"))
        .await;
    enforcement.ensure_stream("enforcement").await.unwrap();
    jetstream_publish(
        &enforcement,
        "flatgov.enforcement.operation.opened",
        vec![4],
    )
    .await
    .unwrap();
    let other = tokio::time::timeout(
        Duration::from_secs(2),
        futures::StreamExt::next(&mut refused),
    )
    .await;
    assert!(
        !matches!(other, Ok(Some(_))),
        "the gateway hears no other service's events"
    );

    for subject in [
        "flatgov.cases.case.escalated",
        "flatgov.gateway.anything",
        "flatgov.deadletter.gateway",
    ] {
        assert!(
            jetstream_publish(&gateway, subject, vec![1]).await.is_err(),
            "{subject}"
        );
    }
    let stream = gateway.jetstream().get_stream("FLATGOV_CASES").await;
    assert!(stream.is_err(), "the gateway reads no stream information");
}

#[tokio::test]
async fn an_integrator_reads_every_stream_but_publishes_nothing() {
    let secured = Secured::start();
    let cases = secured.bus_as(secured.accounts.service_seed("cases")).await;
    cases.ensure_stream("cases").await.unwrap();
    jetstream_publish(&cases, "flatgov.cases.case.reported", vec![7])
        .await
        .unwrap();

    let integrator = secured
        .bus_as(secured.accounts.integrator_seed("hotline-12345"))
        .await;
    let stream = integrator
        .jetstream()
        .get_stream("FLATGOV_CASES")
        .await
        .expect("an integrator reads stream information");
    let own = |name: &str| async_nats::jetstream::consumer::pull::Config {
        durable_name: Some(name.to_owned()),
        deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
        ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
        ..Default::default()
    };
    assert!(
        stream
            .create_consumer(own("cases-on-anything"))
            .await
            .is_err(),
        "an integrator may not create (or reconfigure) a consumer under another name"
    );
    let consumer = stream
        .create_consumer(own("hotline-12345"))
        .await
        .expect("an integrator creates the consumer named after it");
    let mut messages = consumer.fetch().max_messages(1).messages().await.unwrap();
    let first = futures::StreamExt::next(&mut messages)
        .await
        .expect("a message")
        .expect("readable");
    assert_eq!(first.payload.as_ref(), [7]);
    first
        .ack()
        .await
        .expect("it acks its own consumer's messages");

    // A service's durable consumer is not the integrator's to pull from.
    let service_consumer = cases
        .jetstream()
        .get_stream("FLATGOV_CASES")
        .await
        .unwrap()
        .create_consumer(own("enforcement-on-case-reported"))
        .await
        .unwrap();
    drop(service_consumer);
    let theirs: Result<async_nats::jetstream::consumer::PullConsumer, _> =
        stream.get_consumer("enforcement-on-case-reported").await;
    if let Ok(theirs) = theirs {
        let stolen = tokio::time::timeout(
            Duration::from_secs(3),
            theirs.fetch().max_messages(1).messages(),
        )
        .await;
        let got_one = match stolen {
            Ok(Ok(mut messages)) => matches!(
                tokio::time::timeout(
                    Duration::from_secs(2),
                    futures::StreamExt::next(&mut messages)
                )
                .await,
                Ok(Some(Ok(_)))
            ),
            _ => false,
        };
        assert!(!got_one, "an integrator cannot pull a service's messages");
    }

    for subject in [
        "flatgov.cases.case.escalated",
        "flatgov.deadletter.cases",
        "flatgov.integrator.anything",
    ] {
        assert!(
            jetstream_publish(&integrator, subject, vec![1])
                .await
                .is_err(),
            "{subject}"
        );
    }
    let deleted = integrator.jetstream().delete_stream("FLATGOV_CASES").await;
    assert!(deleted.is_err(), "an integrator cannot delete a stream");
    let info = cases
        .jetstream()
        .get_stream("FLATGOV_CASES")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(
        info.state.messages, 1,
        "nothing the integrator sent was stored"
    );
}

#[tokio::test]
async fn a_revoked_service_is_locked_out_and_plaintext_never_connects() {
    let secured = Secured::start();
    let cases = secured.bus_as(secured.accounts.service_seed("cases")).await;
    cases.ensure_stream("cases").await.unwrap();
    jetstream_publish(&cases, "flatgov.cases.case.reported", vec![1])
        .await
        .unwrap();

    let seed = std::fs::read_to_string(secured.accounts.service_seed("cases")).unwrap();
    assert!(secured.accounts.revoke_service("cases").unwrap());
    secured.nats.reload();
    eventually(
        "the revoked service to be refused",
        Duration::from_secs(15),
        || {
            let cases = cases.clone();
            async move {
                jetstream_publish(&cases, "flatgov.cases.case.reported", vec![2])
                    .await
                    .err()
            }
        },
    )
    .await;
    // Its old credentials no longer open a connection.
    let stale = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(stale.path(), seed).unwrap();
    let mut config = secured.config(Some(stale.path().to_owned()));
    config.url = secured.nats.url();
    let client = async_nats::ConnectOptions::with_nkey(
        std::fs::read_to_string(stale.path())
            .unwrap()
            .trim()
            .to_owned(),
    )
    .require_tls(true)
    .add_root_certificates(secured.tls.ca_file())
    .connect(secured.nats.url())
    .await;
    assert!(client.is_err(), "revoked credentials are refused");

    // Without TLS nothing connects, credentials or not.
    let plaintext = async_nats::ConnectOptions::with_nkey(
        std::fs::read_to_string(secured.accounts.service_seed("enforcement"))
            .unwrap()
            .trim()
            .to_owned(),
    )
    .connect(
        secured
            .nats
            .url()
            .replace("tls://localhost", "nats://127.0.0.1"),
    )
    .await;
    assert!(plaintext.is_err(), "a plaintext client is refused");
}

/// `flatgov deadletters` works under accounts: the service reads its dead
/// letters and, once one is applied, deletes it from `FLATGOV_DEADLETTER` with
/// its own NATS user.
#[tokio::test]
async fn a_service_lists_and_redrives_its_dead_letters_with_its_own_nats_user() {
    use flatgov_proto::messaging::v1 as delivery;
    use flatgov_proto::messaging::v1::event_delivery_client::EventDeliveryClient;

    let secured = Secured::start();
    let test = TestEnv::new();
    let application = secured.echo(&test).await;
    let pool = sqlx::PgPool::connect(test.database.url()).await.unwrap();
    let admin = test.auth.admin_token();
    EchoClient::connect(application.grpc_url())
        .await
        .unwrap()
        .record(with_token(
            RecordRequest {
                message: "poison-secured".into(),
                fail_after_write: false,
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let delivery_client = EventDeliveryClient::connect(application.grpc_url())
        .await
        .unwrap();
    let list = || {
        let mut client = delivery_client.clone();
        let admin = admin.clone();
        async move {
            client
                .list_dead_letters(with_token(
                    delivery::ListDeadLettersRequest::default(),
                    &admin,
                ))
                .await
                .unwrap()
                .into_inner()
                .dead_letters
        }
    };
    eventually("the dead letter", Duration::from_secs(20), || async {
        (list().await.len() == 1).then_some(())
    })
    .await;
    sqlx::query("insert into echo_cures (message) values ('poison-secured')")
        .execute(&pool)
        .await
        .unwrap();
    let redriven = delivery_client
        .clone()
        .redrive_dead_letters(with_token(
            delivery::RedriveDeadLettersRequest {
                names: vec![],
                all: true,
            },
            &admin,
        ))
        .await
        .expect("redriven and removed under the service's own permissions")
        .into_inner();
    assert_eq!(
        redriven.outcomes[0].result(),
        delivery::RedriveResult::Applied
    );
    assert!(list().await.is_empty());
    assert_eq!(effects(&pool).await, ["poison-secured"]);
    application.shutdown().await.unwrap();
}
