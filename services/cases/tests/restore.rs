//! The restore drill: a service's database is lost and brought back from its
//! last backup (`pg_dump` / `pg_restore`, what a point-in-time recovery also
//! yields: the database as of some moment). The restored service must answer
//! everything it had answered before the backup exactly as it did, keep its
//! audit trail intact, publish what its outbox still held — and publish nothing
//! twice, although the events written before the backup and published after it
//! are published again by the restored outbox.

mod support;

use std::process::Command;
use std::time::Duration;

use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::cases::v1 as proto;
use flatgov_testkit::{TestDatabase, eventually, free_port, with_token};
use support::*;

/// Runs a PostgreSQL client tool, failing the test with its output when it fails.
fn run(tool: &str, arguments: &[&str]) {
    let output = Command::new(tool)
        .args(arguments)
        .output()
        .unwrap_or_else(|error| panic!("{tool} runs (PostgreSQL's client tools): {error}"));
    assert!(
        output.status.success(),
        "{tool} {arguments:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Rows still waiting in the outbox of the database at `url`.
async fn outbox_backlog(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("the database");
    let backlog = sqlx::query_scalar("select count(*) from flatgov_outbox")
        .fetch_one(&pool)
        .await
        .expect("the outbox");
    pool.close().await;
    backlog
}

/// What a caller sees of each case: the case and its history.
async fn snapshot(
    service: &Service,
    token: &str,
    names: &[String],
) -> Vec<(proto::Case, Vec<proto::CaseRecord>)> {
    let mut seen = Vec::new();
    for name in names {
        seen.push((
            service.get(token, name).await,
            service.history(token, name).await,
        ));
    }
    seen
}

/// The `number`th report of the drill: a street light of its own, 3 m from the
/// last (the drill wants separate cases, not "me too" links to one).
fn light(request_id: &str, number: u32) -> proto::ReportCaseRequest {
    proto::ReportCaseRequest {
        location: Some(point_in_block(3.0 * f64::from(number))),
        ..street_light_report(request_id)
    }
}

/// The service's environment for the drill: reports 3 m apart are separate cases.
fn drill_env(world: &World) -> flatgov_config::Env {
    world.env().with("CASES_ME_TOO_RADIUS_METRES", "1")
}

/// Starts a replica with `env`.
async fn start(env: flatgov_config::Env) -> Service {
    let application = flatgov_cases::build(env).await.expect("the service starts");
    Service {
        client: proto::case_dispatch_client::CaseDispatchClient::connect(application.grpc_url())
            .await
            .unwrap(),
        application,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restored_from_its_backup_answers_as_before_and_publishes_nothing_twice() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let admin = world.admin();
    let mut names = Vec::new();

    // Ten cases reported, dispatched and published.
    let service = start(drill_env(&world)).await;
    for number in 0..10 {
        let case = report(
            &service,
            &world.resident(),
            light(&format!("before-{number}"), number),
        )
        .await
        .case
        .expect("a case");
        names.push(case.name);
    }
    for name in &names {
        service
            .case_until(&admin, name, "dispatch", |case| {
                state(case) == proto::CaseState::Dispatched
            })
            .await;
    }
    eventually("the outbox to drain", PATIENCE, || async {
        (outbox_backlog(&world.owner_database_url()).await == 0).then_some(())
    })
    .await;
    service.stop().await;

    // NATS is out of reach: five more reports are committed and dispatched, and
    // their events wait in the outbox when the backup is taken.
    let unreachable = format!("nats://127.0.0.1:{}", free_port());
    let cut_off = start(drill_env(&world).with("NATS_URL", unreachable)).await;
    for number in 10..15 {
        let case = report(
            &cut_off,
            &world.resident(),
            light(&format!("pending-{number}"), number),
        )
        .await
        .case
        .expect("a case");
        names.push(case.name);
    }
    for name in &names[10..] {
        cut_off
            .case_until(&admin, name, "dispatch without NATS", |case| {
                state(case) == proto::CaseState::Dispatched
            })
            .await;
    }
    let before = snapshot(&cut_off, &admin, &names).await;
    cut_off.stop().await;
    let waiting = outbox_backlog(&world.owner_database_url()).await;
    assert!(waiting >= 5, "the five cases' events wait: {waiting}");

    // The backup.
    let directory = tempfile::tempdir().unwrap();
    let backup = directory.path().join("cases.dump");
    let backup_file = backup.to_str().unwrap();
    run(
        "pg_dump",
        &[
            "--format=custom",
            "--file",
            backup_file,
            &world.owner_database_url(),
        ],
    );

    // After the backup NATS comes back: the old database publishes the waiting
    // events. Then the database is lost.
    let service = start(drill_env(&world)).await;
    eventually("the waiting events to go out", PATIENCE, || async {
        (outbox_backlog(&world.owner_database_url()).await == 0).then_some(())
    })
    .await;
    service.stop().await;

    // Restored into a fresh database, the service runs on it.
    let restored = TestDatabase::new();
    let (server, database) = restored.url().rsplit_once('/').unwrap();
    run(
        "psql",
        &[
            &format!("{server}/postgres"),
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &format!("create database {database}"),
        ],
    );
    run(
        "pg_restore",
        &["--exit-on-error", "--dbname", restored.url(), backup_file],
    );
    let service = start(
        drill_env(&world)
            .with("DATABASE_OWNER_URL", restored.url().to_owned())
            .with(
                "DATABASE_URL",
                flatgov_testkit::application_url(restored.url()),
            ),
    )
    .await;

    // Everything answered before the backup reads the same.
    assert_eq!(snapshot(&service, &admin, &names).await, before);
    let verified = AuditTrailClient::connect(service.application.grpc_url())
        .await
        .unwrap()
        .verify_audit_trail(with_token(audit::VerifyAuditTrailRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.intact, "the restored audit trail: {verified:?}");
    assert!(verified.records_checked >= 15, "{verified:?}");

    // The restored outbox publishes the events it holds again; the stream keeps one of
    // each, so every case was reported and dispatched exactly once.
    eventually("the restored outbox to drain", PATIENCE, || async {
        (outbox_backlog(restored.url()).await == 0).then_some(())
    })
    .await;
    world
        .events_until("every case's events", |events| {
            names.iter().all(|name| {
                types_of(events, name)
                    .iter()
                    .any(|kind| kind == "CaseDispatched")
            })
        })
        .await;
    // Give a duplicate, if the stream let one in, the time to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = world.events_now().await;
    for name in &names {
        let kinds = types_of(&events, name);
        for kind in ["CaseReported", "CaseTriaged", "CaseDispatched"] {
            assert_eq!(
                kinds.iter().filter(|seen| *seen == kind).count(),
                1,
                "{name}: {kinds:?}"
            );
        }
    }

    // And it goes on: a new report is a new case, dispatched like the others.
    let next = report(&service, &world.resident(), light("after", 15))
        .await
        .case
        .expect("a case");
    assert!(!names.contains(&next.name));
    service
        .case_until(&admin, &next.name, "dispatch after the restore", |case| {
            state(case) == proto::CaseState::Dispatched
        })
        .await;
    service.stop().await;
}
