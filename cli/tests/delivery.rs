//! `flatgov deadletters` and `flatgov outbox` as an operator runs them: the
//! real binary against the echo service on the real chassis, PostgreSQL and
//! NATS JetStream.

use std::process::Command;
use std::time::Duration;

use flatgov_proto::testing::v1::echo_client::EchoClient;
use flatgov_proto::testing::v1::{Echoed, RecordRequest};
use flatgov_testkit::echo::{self, EchoOptions};
use flatgov_testkit::events::read_stream;
use flatgov_testkit::{TestEnv, eventually, with_token};

const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `flatgov <arguments>` against `url` as `token`, in zh-CN (no locale);
/// returns (succeeded, stdout, stderr).
fn flatgov(url: &str, token: &str, arguments: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_flatgov"))
        .args(arguments)
        .args(["--url", url, "--token", token])
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("FLATGOV_LANG")
        .env_remove("FLATGOV_OUTPUT")
        .output()
        .expect("the flatgov binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_shows_and_redrives_a_dead_letter_and_retries_a_parked_event() {
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
    let url = application.grpc_url();
    let admin = test.auth.admin_token();
    let owner = flatgov_db::connect(&flatgov_db::DatabaseConfig {
        url: flatgov_config::Secret::new(test.database.url().to_owned()),
        max_connections: 2,
        migrate_on_start: false,
        owner_url: None,
    })
    .await
    .unwrap();
    EchoClient::connect(url.clone())
        .await
        .unwrap()
        .record(with_token(
            RecordRequest {
                message: "poison-cli".into(),
                fail_after_write: false,
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap();

    let listed = eventually("a dead letter", PATIENCE, || async {
        let (ok, stdout, _) = flatgov(
            &url,
            &admin,
            &[
                "--output",
                "json",
                "deadletters",
                "list",
                "--service",
                "testing",
            ],
        );
        let listed = json(&stdout);
        (ok && listed.as_array().is_some_and(|rows| rows.len() == 1)).then_some(listed)
    })
    .await;
    let name = listed[0]["name"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["consumer"], "echo-effects");
    assert_eq!(listed[0]["natsSubject"], "flatgov.testing.echo.echoed");
    assert_eq!(listed[0]["attempts"], "3");

    // The table speaks zh-CN without a locale, and shows the event decoded.
    let number = name.trim_start_matches("deadLetters/");
    let (ok, table, stderr) = flatgov(
        &url,
        &admin,
        &["deadletters", "show", "--service", "testing", number],
    );
    assert!(ok, "{stderr}");
    assert!(
        table.contains("消费者") && table.contains("echo-effects"),
        "{table}"
    );
    assert!(
        table.contains("尝试次数") && table.contains("poison-cli"),
        "{table}"
    );
    assert!(
        table.contains("ce-type: flatgov.testing.v1.Echoed"),
        "{table}"
    );

    // Only an administrator may redrive.
    let dispatcher = test
        .auth
        .token("dispatcher-1", &[flatgov_auth::Role::SubdistrictDispatcher]);
    let (ok, _, stderr) = flatgov(
        &url,
        &dispatcher,
        &["deadletters", "redrive", "--service", "testing", &name],
    );
    assert!(!ok);
    assert!(stderr.contains("PermissionDenied"), "{stderr}");

    // Not fixed yet: the command fails, saying the dead letter was kept.
    let (ok, stdout, stderr) = flatgov(
        &url,
        &admin,
        &["deadletters", "redrive", "--service", "testing", &name],
    );
    assert!(!ok);
    assert!(stdout.contains("再次失败"), "{stdout}");
    assert!(stderr.contains("kept"), "{stderr}");

    sqlx::query("insert into echo_cures (message) values ('poison-cli')")
        .execute(&owner)
        .await
        .unwrap();
    let (ok, stdout, stderr) = flatgov(
        &url,
        &admin,
        &[
            "--output",
            "json",
            "deadletters",
            "redrive",
            "--service",
            "testing",
            "--all",
        ],
    );
    assert!(ok, "{stderr}");
    let redriven = json(&stdout);
    assert_eq!(redriven[0]["name"], name.as_str());
    assert_eq!(redriven[0]["result"], "REDRIVE_RESULT_APPLIED");
    let (_, stdout, _) = flatgov(
        &url,
        &admin,
        &[
            "--output",
            "json",
            "deadletters",
            "list",
            "--service",
            "testing",
        ],
    );
    assert_eq!(json(&stdout), serde_json::json!([]));
    let applied: i32 =
        sqlx::query_scalar("select applications from echo_effects where message = 'poison-cli'")
            .fetch_one(&owner)
            .await
            .unwrap();
    assert_eq!(applied, 1);

    // A parked row (as the relay leaves one whose subject no stream holds).
    let mut transaction = owner.begin().await.unwrap();
    let event_id = flatgov_messaging::outbox::enqueue(
        &mut transaction,
        "echoes/parked",
        &Echoed {
            id: "parked".into(),
            message: "held up".into(),
        },
    )
    .await
    .unwrap();
    let row: i64 = sqlx::query_scalar(
        "update flatgov_outbox
            set subject = 'flatgov.nowhere.echo.echoed', attempts = 10, parked_at = now(),
                last_error = 'no stream found for given subject'
          where event_id = $1 returning id",
    )
    .bind(event_id)
    .fetch_one(&mut *transaction)
    .await
    .unwrap();
    transaction.commit().await.unwrap();
    let (ok, stdout, stderr) = flatgov(
        &url,
        &admin,
        &[
            "--output",
            "json",
            "outbox",
            "parked",
            "--service",
            "testing",
        ],
    );
    assert!(ok, "{stderr}");
    let parked = json(&stdout);
    assert_eq!(parked[0]["name"], format!("parkedEvents/{row}"));
    assert_eq!(parked[0]["resource"], "echoes/parked");
    assert_eq!(parked[0]["attempts"], 10);
    let (ok, table, _) = flatgov(&url, &admin, &["outbox", "parked", "--service", "testing"]);
    assert!(
        ok && table.contains("最近错误") && table.contains("no stream found"),
        "{table}"
    );

    // A name that is not parked is refused, naming it.
    let (ok, _, stderr) = flatgov(
        &url,
        &admin,
        &["outbox", "retry", "--service", "testing", "999999"],
    );
    assert!(!ok);
    assert!(stderr.contains("parkedEvents/999999"), "{stderr}");

    // Fixed (the stream provisioned), retried: published.
    let bus = test.bus().await;
    bus.ensure_stream("nowhere").await.unwrap();
    let (ok, stdout, stderr) = flatgov(
        &url,
        &admin,
        &[
            "--output",
            "json",
            "outbox",
            "retry",
            "--service",
            "testing",
            &row.to_string(),
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(json(&stdout)["released"][0], format!("parkedEvents/{row}"));
    let published = read_stream(&bus, "nowhere", 1, PATIENCE).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].decode::<Echoed>().unwrap().message, "held up");

    owner.close().await;
    application.shutdown().await.unwrap();
}
