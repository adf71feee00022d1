//! Every connection encrypted and authenticated: the gRPC listener over TLS (and
//! mTLS when configured), verified by its clients; PostgreSQL with `verify-full`.

use flatgov_proto::testing::v1::EchoRequest;
use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::{TestEnv, TestTls, with_token};
use tonic_health::pb::health_check_response::ServingStatus;

/// A call that never reached the service: the connection itself failed.
fn assert_transport_refused(status: &tonic::Status) {
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown
        ) && status.message().contains("transport error")
            || status.code() == tonic::Code::Unavailable,
        "{status:?}"
    );
}

fn echo_request() -> EchoRequest {
    EchoRequest {
        message: "over tls".into(),
        delay_millis: 0,
    }
}

#[tokio::test]
async fn a_tls_service_refuses_plaintext_and_unverified_clients_and_answers_verified_ones() {
    let tls = TestTls::new();
    let other = TestTls::new();
    let test = TestEnv::new();
    let files = tls.files("blocks");
    let env = test
        .env()
        .with("GRPC_TLS_CERT_FILE", files.cert.display().to_string())
        .with("GRPC_TLS_KEY_FILE", files.key.display().to_string());
    let application = echo::build(env, EchoOptions::default()).await.unwrap();
    let url = application.grpc_url();
    assert!(url.starts_with("https://localhost:"), "{url}");
    let token = test.auth.admin_token();

    let plaintext = format!("http://127.0.0.1:{}", application.grpc_addr().port());
    let refused =
        EchoClient::new(flatgov_grpc::client::channel(&plaintext, &Default::default()).unwrap())
            .echo(with_token(echo_request(), &token))
            .await
            .unwrap_err();
    assert_transport_refused(&refused);

    let stranger =
        EchoClient::new(flatgov_grpc::client::channel(&url, &other.client("cli")).unwrap())
            .echo(with_token(echo_request(), &token))
            .await
            .unwrap_err();
    // A certificate of another authority is not trusted.
    assert_transport_refused(&stranger);

    let verified =
        EchoClient::new(flatgov_grpc::client::channel(&url, &tls.client("cli")).unwrap())
            .echo(with_token(echo_request(), &token))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(verified.message, "over tls");
    let client_tls = tls.client("cli");
    flatgov_testkit::eventually(
        "health over tls to say serving",
        std::time::Duration::from_secs(10),
        || {
            let url = url.clone();
            let client_tls = client_tls.clone();
            async move {
                let status = flatgov_grpc::check_health_with(&url, "", &client_tls)
                    .await
                    .ok()?;
                (status == ServingStatus::Serving).then_some(())
            }
        },
    )
    .await;
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_mtls_a_client_without_a_certificate_of_the_authority_is_refused() {
    let tls = TestTls::new();
    let test = TestEnv::new();
    let files = tls.files("cases");
    let env = test
        .env()
        .with("GRPC_TLS_CERT_FILE", files.cert.display().to_string())
        .with("GRPC_TLS_KEY_FILE", files.key.display().to_string())
        .with(
            "GRPC_TLS_CLIENT_CA_FILE",
            tls.ca_file().display().to_string(),
        );
    let application = echo::build(env, EchoOptions::default()).await.unwrap();
    let url = application.grpc_url();
    let token = test.auth.admin_token();

    let anonymous = flatgov_grpc::ClientTls {
        ca_file: Some(tls.ca_file()),
        identity: None,
    };
    let refused = EchoClient::new(flatgov_grpc::client::channel(&url, &anonymous).unwrap())
        .echo(with_token(echo_request(), &token))
        .await
        .unwrap_err();
    assert_transport_refused(&refused);
    assert!(
        format!("{refused:?}").contains("CertificateRequired"),
        "{refused:?}"
    );

    let answered =
        EchoClient::new(flatgov_grpc::client::channel(&url, &tls.client("enforcement")).unwrap())
            .echo(with_token(echo_request(), &token))
            .await
            .unwrap();
    assert_eq!(answered.into_inner().message, "over tls");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_service_reaches_postgresql_only_over_verified_tls() {
    let tls = TestTls::new();
    let postgres_files = tls.files("postgres");
    let postgres =
        flatgov_testkit::PrivatePostgres::start_with_tls(&postgres_files.cert, &postgres_files.key);
    let other = TestTls::new();

    // Plaintext is refused by the server; an unverifiable certificate by the client.
    let plaintext = sqlx::PgPool::connect(&format!("{}?sslmode=disable", postgres.url("postgres")))
        .await
        .unwrap_err();
    assert!(
        plaintext.to_string().contains("no encryption") || plaintext.to_string().contains("pg_hba"),
        "{plaintext}"
    );
    let stranger = sqlx::PgPool::connect(&postgres.verified_url("postgres", &other.ca_file()))
        .await
        .unwrap_err();
    assert!(
        format!("{stranger:?}")
            .to_lowercase()
            .contains("certificate"),
        "{stranger:?}"
    );

    let direct = sqlx::PgPool::connect(&postgres.verified_url("postgres", &tls.ca_file())).await;
    assert!(
        direct.is_ok(),
        "{direct:?} {}",
        postgres.verified_url("postgres", &tls.ca_file())
    );

    // The service runs over verify-full, migrating and serving as usual.
    let test = TestEnv::new();
    let url = postgres.verified_url("flatgov_tls_echo", &tls.ca_file());
    let env = test.env_for_database(&url);
    let application = echo::build(env, EchoOptions::default()).await.unwrap();
    let mut client = EchoClient::connect(application.grpc_url()).await.unwrap();
    let recorded = client
        .record(with_token(
            flatgov_proto::testing::v1::RecordRequest {
                message: "stored over tls".into(),
                fail_after_write: false,
                request_id: String::new(),
            },
            &test.auth.admin_token(),
        ))
        .await
        .unwrap();
    assert!(!recorded.into_inner().id.is_empty());
    application.shutdown().await.unwrap();
}
