//! Event order (issue 23, item 5): the return-visit follow-up of a case is fed by
//! three consumers (`notices-on-case-verified`, `…-rated`, `…-reworked`; closures
//! too), each with four pullers per process and a durable consumer of its own, so a
//! case's events reach `MilestoneHandler` in any order. These tests publish a case's
//! events later-first through the real consumers (real PostgreSQL and NATS) and check
//! the follow-up ends as the right order leaves it. The guards are the record
//! sequences `store::return_visits::{record_verified, settle}` compare.

mod support;

use chrono::{DateTime, TimeDelta, Utc};
use flatgov_messaging::Event;
use flatgov_proto::cases::v1 as cases;
use flatgov_testkit::eventually;
use support::*;

fn transition(case: &str, sequence: u32, at: DateTime<Utc>) -> Option<cases::CaseTransition> {
    Some(cases::CaseTransition {
        case: case.to_owned(),
        sequence,
        block_code: BLOCK.into(),
        subdistrict_code: SUBDISTRICT.into(),
        occurred_at: Some(flatgov_grpc::time::timestamp(at)),
        ..Default::default()
    })
}

/// Publishes `event` as the cases service would and waits until `consumer` applied it
/// (its inbox row commits with the handler's writes).
async fn deliver<E: Event>(
    world: &World,
    owner: &sqlx::PgPool,
    consumer: &str,
    case: &str,
    event: &E,
) {
    let bus = world.test.bus().await;
    let id = uuid::Uuid::now_v7().to_string();
    flatgov_testkit::events::publish_as(&bus, "cases", &id, case, event).await;
    eventually(&format!("{consumer} to apply {id}"), PATIENCE, || async {
        let there: bool = sqlx::query_scalar(
            "select exists (select 1 from flatgov_inbox where consumer = $1 and event_id = $2)",
        )
        .bind(consumer)
        .bind(&id)
        .fetch_one(owner)
        .await
        .ok()?;
        there.then_some(())
    })
    .await;
}

/// (state, verified_sequence, settled_sequence, verified_time) of the case's follow-up.
async fn follow_up(owner: &sqlx::PgPool, id: uuid::Uuid) -> (String, i32, i32, DateTime<Utc>) {
    sqlx::query_as(
        "select state, verified_sequence, settled_sequence, verified_time
           from return_visits where case_id = $1",
    )
    .bind(id)
    .fetch_one(owner)
    .await
    .expect("the case's follow-up")
}

async fn started(world: &World) -> (flatgov_grpc::Application, sqlx::PgPool) {
    // No claim check answers: messages wait unsent, which changes nothing here.
    let contacts_port = flatgov_testkit::free_port();
    let notices = world
        .start_notices(&format!("http://127.0.0.1:{contacts_port}"))
        .await;
    let owner = sqlx::PgPool::connect(world.test.database.url())
        .await
        .unwrap();
    (notices, owner)
}

/// Verified (10), rated unsatisfied (11), reworked (12), verified again (15): the right
/// order leaves the case waiting for a rating of the second verification (15), the
/// rework remembered (12). Applied latest-first, the same: the first verification,
/// arriving last, must not restart the wait for itself, and the rework must not settle
/// the wait for the later verification. Without the `verified_sequence <
/// excluded.verified_sequence` condition of `record_verified` the wait would follow
/// verification 10 (its visit due days too early, for a verification the reporter
/// already rated); without `verified_sequence < excluded.settled_sequence` in `settle`,
/// the rework would end the wait for 15 and no return visit would follow.
#[tokio::test]
async fn a_case_events_applied_latest_first_leave_the_wait_on_the_latest_verification() {
    let world = World::new().await;
    let (notices, owner) = started(&world).await;
    let id = uuid::Uuid::now_v7();
    let case = format!("cases/{id}");
    let first_at = Utc::now() - TimeDelta::hours(4);
    let second_at = first_at + TimeDelta::hours(3);

    deliver(
        &world,
        &owner,
        "notices-on-case-verified",
        &case,
        &cases::CaseVerified {
            transition: transition(&case, 15, second_at),
        },
    )
    .await;
    deliver(
        &world,
        &owner,
        "notices-on-case-reworked",
        &case,
        &cases::CaseReworked {
            transition: transition(&case, 12, first_at + TimeDelta::hours(1)),
            trigger: cases::ReworkTrigger::UnsatisfiedRating as i32,
            ..Default::default()
        },
    )
    .await;
    deliver(
        &world,
        &owner,
        "notices-on-case-rated",
        &case,
        &cases::CaseRated {
            transition: transition(&case, 11, first_at + TimeDelta::hours(1)),
            rating: cases::Rating::Unsatisfied as i32,
        },
    )
    .await;
    deliver(
        &world,
        &owner,
        "notices-on-case-verified",
        &case,
        &cases::CaseVerified {
            transition: transition(&case, 10, first_at),
        },
    )
    .await;

    let (state, verified, settled, verified_time) = follow_up(&owner, id).await;
    assert_eq!(
        (state.as_str(), verified, settled),
        ("waiting", 15, 12),
        "the wait follows the latest verification"
    );
    assert_eq!(verified_time.timestamp(), second_at.timestamp());
    owner.close().await;
    notices.shutdown().await.unwrap();
}

/// The rating (11) of a verification (10) applied before the verification itself: the
/// right order starts the wait and the rating ends it, so no return visit is made.
/// Applied rating-first, the late verification must start nothing. Without the
/// `settled_sequence < excluded.verified_sequence` condition of `record_verified` the
/// verification would start a wait, and the reporter who already rated would get a
/// return visit and later an expiry closing the case as unrated (the cases service
/// would refuse that closure only because the case is no longer verified). The same
/// holds for a closure (12) applied before its verification.
#[tokio::test]
async fn a_verification_applied_after_its_rating_or_closure_starts_no_return_visit() {
    let world = World::new().await;
    let (notices, owner) = started(&world).await;
    let verified_at = Utc::now() - TimeDelta::hours(2);

    let rated = uuid::Uuid::now_v7();
    let rated_case = format!("cases/{rated}");
    deliver(
        &world,
        &owner,
        "notices-on-case-rated",
        &rated_case,
        &cases::CaseRated {
            transition: transition(&rated_case, 11, verified_at + TimeDelta::hours(1)),
            rating: cases::Rating::Satisfied as i32,
        },
    )
    .await;
    deliver(
        &world,
        &owner,
        "notices-on-case-verified",
        &rated_case,
        &cases::CaseVerified {
            transition: transition(&rated_case, 10, verified_at),
        },
    )
    .await;

    let closed = uuid::Uuid::now_v7();
    let closed_case = format!("cases/{closed}");
    deliver(
        &world,
        &owner,
        "notices-on-case-closed",
        &closed_case,
        &cases::CaseClosed {
            transition: transition(&closed_case, 12, verified_at + TimeDelta::hours(1)),
            closure: cases::Closure::Rated as i32,
            rating: cases::Rating::Satisfied as i32,
        },
    )
    .await;
    deliver(
        &world,
        &owner,
        "notices-on-case-verified",
        &closed_case,
        &cases::CaseVerified {
            transition: transition(&closed_case, 10, verified_at),
        },
    )
    .await;

    for (id, what) in [(rated, "rated"), (closed, "closed")] {
        let (state, _, settled, _) = follow_up(&owner, id).await;
        assert_eq!(state, "settled", "the {what} case waits for nobody");
        assert!(settled > 10, "{what}: {settled}");
    }
    // Nothing is due for a visit, now or ever: the worker finds no waiting row.
    let waiting: i64 =
        sqlx::query_scalar("select count(*) from return_visits where state = 'waiting'")
            .fetch_one(&owner)
            .await
            .unwrap();
    assert_eq!(waiting, 0);
    owner.close().await;
    notices.shutdown().await.unwrap();
}
