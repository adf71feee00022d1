//! Return visits (回访) against the real cases service: a verified case its
//! reporter does not rate is visited, then closed as unrated by the cases
//! service; a rated case is left alone. The working days are not waited
//! for: the test moves the due instants the service computed to now, as an
//! operator with the owner's connection could.

mod support;

use flatgov_proto::cases::v1 as cases;
use flatgov_proto::notices::v1 as api;
use flatgov_testkit::{eventually, with_token};
use support::gateways::ROBOT_KEY;
use support::*;

/// Moves the instants the service scheduled (`column` of rows in `state`) to now.
async fn bring_forward(world: &World, column: &str, state: &str) -> u64 {
    let owner = sqlx::PgPool::connect(world.test.database.url())
        .await
        .unwrap();
    let moved = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update return_visits set {column} = now() where state = $1"
    )))
    .bind(state)
    .execute(&owner)
    .await
    .unwrap()
    .rows_affected();
    owner.close().await;
    moved
}

async fn case(running: &Running, world: &World, name: &str) -> cases::Case {
    running
        .cases()
        .get_case(with_token(
            cases::GetCaseRequest { name: name.into() },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn an_unrated_case_gets_a_return_visit_and_then_closes_unrated_while_a_rated_case_is_left_alone()
 {
    let world = World::new().await;
    let running = world.start().await;
    running
        .notices()
        .set_gateway(with_token(
            api::SetGatewayRequest {
                name: "gateways/resident_app".into(),
                kind: api::GatewayKind::WecomRobot as i32,
                url: world.gateways.robot_url(ROBOT_KEY),
                secret: String::new(),
                description: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap();
    let unrated = dispatched(
        &running,
        &world,
        &world.resident(),
        street_light_report(cases::Channel::ResidentApp, false, 0.0),
    )
    .await;
    let rated = dispatched(
        &running,
        &world,
        &world.resident(),
        street_light_report(cases::Channel::ResidentApp, false, 800.0),
    )
    .await;
    work_to_verified(&running, &world, &unrated, true).await;
    work_to_verified(&running, &world, &rated, true).await;
    running
        .cases()
        .rate_case(with_token(
            cases::RateCaseRequest {
                name: rated.clone(),
                rating: cases::Rating::Satisfied as i32,
                comment: String::new(),
            },
            &world.resident(),
        ))
        .await
        .unwrap();
    for name in [&unrated, &rated] {
        feedback_until(&running, &world, name, "the request to rate", |feedback| {
            delivered(feedback, api::Milestone::Resolved)
        })
        .await;
    }
    feedback_until(
        &running,
        &world,
        &rated,
        "the rated case's closure",
        |feedback| delivered(feedback, api::Milestone::Closed),
    )
    .await;

    // N working days pass without a rating.
    assert_eq!(bring_forward(&world, "visit_due_time", "waiting").await, 1);
    feedback_until(&running, &world, &unrated, "the return visit", |feedback| {
        delivered(feedback, api::Milestone::ReturnVisit)
    })
    .await;
    let visit = world
        .gateways
        .taken_about(&unrated)
        .into_iter()
        .map(|received| {
            received.body["text"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .find(|text| text.starts_with("回访"))
        .expect("the return visit reached the reporter");
    assert!(visit.contains("请对办理结果作出评价"), "{visit}");

    // M more working days pass, still unrated: the cases service closes it.
    assert_eq!(bring_forward(&world, "expire_time", "visited").await, 1);
    let closed = eventually("the unrated closure", PATIENCE, || async {
        let case = case(&running, &world, &unrated).await;
        (case.state == cases::CaseState::Closed as i32).then_some(case)
    })
    .await;
    assert_eq!(closed.closure, cases::Closure::Unrated as i32);
    feedback_until(
        &running,
        &world,
        &unrated,
        "the closure message",
        |feedback| delivered(feedback, api::Milestone::Closed),
    )
    .await;
    assert!(world.gateways.taken_about(&unrated).iter().any(|received| {
        received.body["text"]["content"]
            .as_str()
            .unwrap()
            .contains("已结案（未评价）")
    }));
    let expired = world
        .notices_events()
        .await
        .into_iter()
        .filter(|event| event.resource == unrated && event.is::<api::ReturnVisitExpired>())
        .count();
    assert_eq!(expired, 1);

    // The rated case had no return visit and stays closed as rated.
    let rated_feedback =
        feedback_until(&running, &world, &rated, "the rated case's record", |_| {
            true
        })
        .await;
    assert!(
        !milestones(&rated_feedback).contains(&api::Milestone::ReturnVisit),
        "{rated_feedback:?}"
    );
    assert_eq!(
        case(&running, &world, &rated).await.closure,
        cases::Closure::Rated as i32
    );

    // The indicators: one of the two verified cases needed a return visit,
    // and both reporters heard of receipt within the hour. (They count from
    // the case events the service consumed, which may still be arriving.)
    let indicators = eventually(
        "both verified cases in the indicators",
        PATIENCE,
        || async {
            let indicators = running
                .notices()
                .get_indicators(with_token(
                    api::GetIndicatorsRequest {
                        parent: format!("subdistricts/{SUBDISTRICT}"),
                        ..Default::default()
                    },
                    &world.dispatcher(),
                ))
                .await
                .ok()?
                .into_inner();
            (indicators.cases_verified == 2).then_some(indicators)
        },
    )
    .await;
    assert_eq!(
        (indicators.cases_verified, indicators.return_visits),
        (2, 1)
    );
    assert!((indicators.return_visit_rate - 0.5).abs() < 1e-9);
    let received = indicators
        .feedback
        .iter()
        .find(|item| item.milestone == api::Milestone::Received as i32)
        .unwrap();
    assert_eq!((received.due, received.on_time, received.late), (2, 2, 0));
    assert!((received.on_time_rate - 1.0).abs() < 1e-9);
    running.stop().await;
}
