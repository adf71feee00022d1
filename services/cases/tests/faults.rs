//! The cases service when one of its processes dies: what another replica (or
//! the restarted one) takes over, and how soon.

mod support;

use std::time::{Duration, Instant};

use flatgov_proto::cases::v1 as proto;
use flatgov_testkit::eventually;
use support::*;

/// Seen in a chaos run: a cases process killed while it triaged a case left
/// that case undispatched for a minute, until the dead process's lease ran out.
#[tokio::test]
async fn a_triage_job_held_by_a_killed_replica_is_taken_over_within_seconds() {
    let world = World::new();
    let config = flatgov_cases::Config::from_env(&world.env(), &flatgov_cases::IDENTITY)
        .expect("the test environment is a valid configuration");

    // Intake needs only the database: the case waits for triage while the
    // block registry and the duty lists are away.
    let first = world.start().await;
    let case = report(&first, &world.resident(), street_light_report("killed-1"))
        .await
        .case
        .unwrap();
    first.stop().await;

    // What a replica killed mid-triage leaves behind: the job claimed under
    // the lease every worker takes, and nobody working it.
    let pool = sqlx::PgPool::connect(&world.application_database_url())
        .await
        .unwrap();
    let lease = chrono::TimeDelta::from_std(config.triage.lease).unwrap();
    let claimed = eventually("the job to be due", PATIENCE, || async {
        let mut connection = pool.acquire().await.ok()?;
        let now = chrono::Utc::now();
        let jobs = flatgov_cases::store::claim_jobs(&mut connection, now, now + lease, 10)
            .await
            .ok()?;
        (!jobs.is_empty()).then_some(jobs)
    })
    .await;
    assert_eq!(claimed.len(), 1);
    let killed_at = Instant::now();

    let _directory = world.start_directory().await;
    let restarted = world.start().await;
    let dispatched = restarted
        .case_until(
            &world.admin(),
            &case.name,
            "the restarted replica to dispatch the case",
            |case| state(case) == proto::CaseState::Dispatched,
        )
        .await;
    let waited = killed_at.elapsed();
    assert_eq!(dispatched.assignee, format!("staff/{GOVERNOR}"));
    assert!(
        waited < Duration::from_secs(10),
        "the case waited {waited:?} for the dead replica's lease"
    );
    restarted.stop().await;
}

/// The short lease must not let a second replica take a job that a live one
/// is still working, so the worker renews what it holds — and only that: a
/// job it gave back (retried, released) stays free for any replica.
#[tokio::test]
async fn renewing_leases_extends_jobs_still_claimed_and_never_reclaims_a_released_one() {
    let world = World::new();
    let service = world.start().await;
    let case = report(
        &service,
        &world.resident(),
        street_light_report("renewed-1"),
    )
    .await
    .case
    .unwrap();
    service.stop().await;

    let pool = sqlx::PgPool::connect(&world.application_database_url())
        .await
        .unwrap();
    let case_id: uuid::Uuid = case
        .name
        .trim_start_matches("cases/")
        .parse()
        .expect("a case name holds its id");
    let mut connection = pool.acquire().await.unwrap();
    let now = chrono::Utc::now();
    let claimed = flatgov_cases::store::claim_jobs(
        &mut connection,
        now + chrono::TimeDelta::seconds(5),
        now + chrono::TimeDelta::seconds(2),
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    let renewed_until = now + chrono::TimeDelta::seconds(30);
    flatgov_cases::store::renew_leases(&mut connection, &[case_id], renewed_until)
        .await
        .unwrap();
    let lease: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select lease_until from triage_jobs where case_id = $1")
            .bind(case_id)
            .fetch_one(&mut *connection)
            .await
            .unwrap();
    assert_eq!(
        lease.map(|until| until.timestamp_millis()),
        Some(renewed_until.timestamp_millis())
    );
    // A job whose worker gave it back (lease cleared) is not renewed into a claim.
    sqlx::query("update triage_jobs set lease_until = null where case_id = $1")
        .bind(case_id)
        .execute(&mut *connection)
        .await
        .unwrap();
    flatgov_cases::store::renew_leases(&mut connection, &[case_id], renewed_until)
        .await
        .unwrap();
    let lease: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select lease_until from triage_jobs where case_id = $1")
            .bind(case_id)
            .fetch_one(&mut *connection)
            .await
            .unwrap();
    assert_eq!(lease, None);
}
