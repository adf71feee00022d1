//! The chassis' trust machinery, end to end through the echo service:
//! default-deny policy, per-caller limits, and the audit trail with its
//! hash chains and append-only tables.

use std::str::FromStr as _;
use std::time::Duration;

use flatgov_auth::Role;
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_proto::testing::v1::{EchoRequest, RecordRequest};
use flatgov_testkit::authz::RawCodec;
use flatgov_testkit::echo::{self, EchoOptions, POLICY};
use flatgov_testkit::{APPLICATION_ROLE, TestEnv, with_token};
use sqlx::Connection as _;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

async fn echo_client(application: &flatgov_grpc::Application) -> EchoClient<Channel> {
    EchoClient::connect(application.grpc_url())
        .await
        .expect("connect")
}

async fn audit_client(application: &flatgov_grpc::Application) -> AuditTrailClient<Channel> {
    AuditTrailClient::connect(application.grpc_url())
        .await
        .expect("connect")
}

fn record_request(message: &str) -> RecordRequest {
    RecordRequest {
        message: message.into(),
        fail_after_write: false,
        request_id: String::new(),
    }
}

async fn records_about(
    client: &mut AuditTrailClient<Channel>,
    token: &str,
    resource: &str,
) -> Vec<audit::AuditRecord> {
    client
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest {
                resource: resource.into(),
                page_size: 0,
                page_token: String::new(),
            },
            token,
        ))
        .await
        .expect("list audit records")
        .into_inner()
        .records
}

async fn verify(
    client: &mut AuditTrailClient<Channel>,
    token: &str,
) -> audit::VerifyAuditTrailResponse {
    client
        .verify_audit_trail(with_token(audit::VerifyAuditTrailRequest {}, token))
        .await
        .expect("verify")
        .into_inner()
}

#[tokio::test]
async fn every_method_of_the_echo_service_has_a_rule_and_the_probe_finds_the_table_enforced() {
    assert_eq!(
        flatgov_testkit::authz::uncovered(&POLICY),
        Vec::<String>::new()
    );
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let report = flatgov_testkit::authz::probe(&application.grpc_url(), &POLICY, &test.auth).await;
    assert!(
        report.contradictions.is_empty(),
        "{:#?}",
        report.contradictions
    );
    assert!(report.refusals_expected >= 10, "{report:?}");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_write_is_audited_once_with_who_what_and_outcome_and_a_refused_write_too() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = echo_client(&application).await;
    let admin = test.auth.admin_token();
    let governor = test.auth.token("gov-17", &[Role::Governor]);

    let id = client
        .record(with_token(record_request("flat 3-502 floods"), &admin))
        .await
        .unwrap()
        .into_inner()
        .id;
    let refused = client
        .record(with_token(record_request("x"), &governor))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        refused
            .message()
            .contains("Record is not granted to the caller's roles [governor]"),
        "{}",
        refused.message()
    );
    // Echo reads no personal data and writes nothing: never recorded.
    client
        .echo(with_token(
            EchoRequest {
                message: "hi".into(),
                delay_millis: 0,
            },
            &governor,
        ))
        .await
        .unwrap();

    let mut trail = audit_client(&application).await;
    let about = records_about(&mut trail, &admin, &format!("echoes/{id}")).await;
    assert_eq!(
        about.len(),
        1,
        "one record, written in the call's transaction: {about:?}"
    );
    assert_eq!(about[0].subject, "admin");
    assert_eq!(about[0].roles, ["district_admin"]);
    assert_eq!(about[0].method, "Record");
    assert_eq!(about[0].service, "flatgov.testing.v1.Echo");
    assert_eq!(about[0].outcome, "OK");
    let all = records_about(&mut trail, &admin, "").await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].subject, "gov-17", "newest first");
    assert_eq!(all[0].outcome, "PERMISSION_DENIED");
    for record in &all {
        assert!(
            !format!("{record:?}").contains("3-502"),
            "no record carries what the caller wrote: {record:?}"
        );
    }

    let not_admin = trail
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest::default(),
            &governor,
        ))
        .await
        .unwrap_err();
    assert_eq!(not_admin.code(), tonic::Code::PermissionDenied);
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_audit_trail_verifies_until_a_record_is_changed_by_hand_and_then_names_it() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = echo_client(&application).await;
    let admin = test.auth.admin_token();
    for index in 0..20 {
        client
            .record(with_token(record_request(&format!("m{index}")), &admin))
            .await
            .unwrap();
    }
    let mut trail = audit_client(&application).await;
    let verified = verify(&mut trail, &admin).await;
    assert!(verified.intact, "{verified:?}");
    assert_eq!(verified.records_checked, 20);

    let victim = &records_about(&mut trail, &admin, "").await[7];
    let id: i64 = victim
        .name
        .trim_start_matches("auditRecords/")
        .parse()
        .unwrap();
    // The owner can change a row (the application role cannot); the chain
    // still tells.
    let mut owner = sqlx::PgConnection::connect(test.database.url())
        .await
        .unwrap();
    sqlx::query("update flatgov_audit set subject = 'someone-else' where id = $1")
        .bind(id)
        .execute(&mut owner)
        .await
        .unwrap();
    let broken = verify(&mut trail, &admin).await;
    assert!(!broken.intact);
    assert_eq!(broken.first_broken_record, victim.name);
    assert!(broken.reason.contains("changed"), "{broken:?}");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_application_role_appends_to_history_and_audit_but_never_changes_or_deletes_them() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = echo_client(&application).await;
    client
        .record(with_token(record_request("kept"), &test.auth.admin_token()))
        .await
        .unwrap();

    let app_url = flatgov_testkit::application_url(test.database.url());
    assert!(app_url.contains(APPLICATION_ROLE));
    let mut app = sqlx::PgConnection::connect(&app_url).await.unwrap();
    for statement in [
        "update echoes set message = 'rewritten'",
        "delete from echoes",
        "update flatgov_audit set outcome = 'OK'",
        "delete from flatgov_audit",
        "insert into flatgov_audit (lane, sequence, at, subject, roles, organisation, service, method, resources, outcome, trace_id, previous_hash, hash) values (0, 99, now(), '', '', '', '', '', '{}', 'OK', '', '', '')",
        "truncate flatgov_audit",
        "delete from _sqlx_migrations",
    ] {
        let refused = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut app)
            .await
            .expect_err(statement);
        let code = refused
            .as_database_error()
            .and_then(|error| error.code().map(|code| code.into_owned()));
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {refused}");
    }
    sqlx::query("insert into echoes (id, message) values (gen_random_uuid(), 'appended')")
        .execute(&mut app)
        .await
        .expect("appending is allowed");
    let rows: i64 = sqlx::query_scalar("select count(*) from echoes")
        .fetch_one(&mut app)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_method_without_a_rule_cannot_be_called_and_counts_under_an_unknown_label() {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let channel = Channel::from_shared(application.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(Vec::new());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", test.auth.admin_token())
            .parse()
            .unwrap(),
    );
    let refused = grpc
        .unary(
            request,
            http::uri::PathAndQuery::from_str("/flatgov.testing.v1.Echo/DropEverything").unwrap(),
            RawCodec,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        refused.message().contains("is not granted to anyone"),
        "{}",
        refused.message()
    );
    let metrics = metrics(application.metrics_addr()).await;
    assert!(!metrics.contains("DropEverything"), "{metrics}");
    assert!(metrics.contains("method=\"unknown\""), "{metrics}");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_caller_over_its_rate_is_held_back_with_retry_info_while_others_and_services_go_on() {
    let test = TestEnv::new();
    let env = test
        .env()
        .with("RATE_LIMIT_PER_SECOND", "1")
        .with("RATE_LIMIT_BURST", "3");
    let application = echo::build(env, EchoOptions::default()).await.unwrap();
    let mut client = echo_client(&application).await;
    let echo_as = |token: String| {
        with_token(
            EchoRequest {
                message: "hi".into(),
                delay_millis: 0,
            },
            &token,
        )
    };
    let busy = test.auth.token("busy", &[Role::Integrator]);
    for _ in 0..3 {
        client
            .echo(echo_as(busy.clone()))
            .await
            .expect("within the burst");
    }
    let held = client.echo(echo_as(busy.clone())).await.unwrap_err();
    assert_eq!(held.code(), tonic::Code::ResourceExhausted);
    let retry = held.get_details_retry_info().expect("retry info");
    let delay = retry.retry_delay.expect("a delay");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(1),
        "{delay:?}"
    );
    client
        .echo(echo_as(test.auth.token("other", &[Role::Integrator])))
        .await
        .expect("another caller has its own budget");
    application.shutdown().await.unwrap();
}

/// GET /metrics over a raw socket.
async fn metrics(address: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

#[tokio::test]
async fn a_retried_create_returns_the_first_result_only_to_its_own_caller_and_never_for_other_content()
 {
    let test = TestEnv::new();
    let application = echo::build(test.env(), EchoOptions::default())
        .await
        .unwrap();
    let mut client = echo_client(&application).await;
    let first_admin = test.auth.token("admin-1", &[Role::DistrictAdmin]);
    let second_admin = test.auth.token("admin-2", &[Role::DistrictAdmin]);
    let with_id = |message: &str| RecordRequest {
        message: message.into(),
        fail_after_write: false,
        request_id: "12345-2026-000123".into(),
    };
    let first = client
        .record(with_token(with_id("first"), &first_admin))
        .await
        .unwrap()
        .into_inner()
        .id;
    let retry = client
        .record(with_token(with_id("first"), &first_admin))
        .await
        .unwrap()
        .into_inner()
        .id;
    assert_eq!(retry, first);

    let reused = client
        .record(with_token(with_id("something else"), &first_admin))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), tonic::Code::InvalidArgument);
    let violations = flatgov_testkit::field_violations(&reused);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "request_id");

    let someone_else = client
        .record(with_token(with_id("first"), &second_admin))
        .await
        .unwrap()
        .into_inner()
        .id;
    assert_ne!(someone_else, first, "another caller's id is their own");
    let pool = sqlx::PgPool::connect(test.database.url()).await.unwrap();
    let rows: i64 = sqlx::query_scalar("select count(*) from echoes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_an_rpc_marked_bulk_accepts_a_request_above_the_ordinary_limit() {
    let test = TestEnv::new();
    let env = test.env().with("GRPC_MAX_REQUEST_BYTES", "1024");
    let application = echo::build(env, EchoOptions::default()).await.unwrap();
    let mut client = echo_client(&application).await;
    let admin = test.auth.admin_token();
    let refused = client
        .echo(with_token(
            EchoRequest {
                message: "x".repeat(4096),
                delay_millis: 0,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");
    assert!(
        refused.message().contains("1024 bytes"),
        "{}",
        refused.message()
    );
    client
        .echo(with_token(
            EchoRequest {
                message: "x".repeat(512),
                delay_millis: 0,
            },
            &admin,
        ))
        .await
        .expect("a small request passes");
    client
        .record(with_token(record_request(&"y".repeat(4096)), &admin))
        .await
        .expect("the bulk RPC takes it");
    application.shutdown().await.unwrap();
}
