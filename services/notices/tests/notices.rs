//! Block notices to the blocks' WeCom groups, against real PostgreSQL and
//! NATS and a local HTTP server that behaves like WeCom's group robots.

mod support;

use flatgov_auth::{Jurisdiction, Role, TokenRequest};
use flatgov_proto::notices::v1 as api;
use flatgov_testkit::{eventually, with_token};
use support::*;
use tonic::Code;

const NEIGHBOUR: &str = "430302001004018";
const OTHER_COMMUNITY_BLOCK: &str = "430302001005001";

fn governor_of(world: &World, block: &str) -> String {
    world.test.auth.token_for(
        TokenRequest::new(format!("gov-{block}"), &[Role::Governor])
            .jurisdiction(format!("blocks/{block}").parse::<Jurisdiction>().unwrap()),
    )
}

async fn set_robot(
    running: &Running,
    token: &str,
    block: &str,
    key: &str,
    world: &World,
) -> Result<api::BlockRobot, tonic::Status> {
    running
        .notices()
        .set_block_robot(with_token(
            api::SetBlockRobotRequest {
                block: format!("blocks/{block}"),
                webhook_url: world.gateways.robot_url(key),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

fn flood_notice(audience: &str, body: &str, request_id: &str) -> api::CreateNoticeRequest {
    api::CreateNoticeRequest {
        request_id: request_id.into(),
        audience: audience.into(),
        category: api::NoticeCategory::Flood as i32,
        title: "暴雨红色预警".into(),
        body: body.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_subdistrict_notice_reaches_every_block_group_once_part_by_part_with_delivery_per_block()
{
    let world = World::new().await;
    let running = world.start().await;
    // The governor registers their own block's robot, the dispatcher the others'.
    let own = set_robot(
        &running,
        &governor_of(&world, BLOCK),
        BLOCK,
        "valid-017",
        &world,
    )
    .await
    .unwrap();
    assert_eq!(
        own.url_hint,
        format!("{}/cgi-bin/webhook/send?key=…", world.gateways.base_url)
    );
    let refused = set_robot(
        &running,
        &governor_of(&world, BLOCK),
        NEIGHBOUR,
        "valid-018",
        &world,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::NotFound,
        "a governor reaches only their own block"
    );
    set_robot(
        &running,
        &world.dispatcher(),
        NEIGHBOUR,
        "valid-018",
        &world,
    )
    .await
    .unwrap();
    set_robot(
        &running,
        &world.dispatcher(),
        OTHER_COMMUNITY_BLOCK,
        "revoked-key",
        &world,
    )
    .await
    .unwrap();

    // WeCom rate-limits one call: that part goes out on a later try.
    world.gateways.rate_limit_next(1);
    let body =
        "今晚至明日有大到暴雨，局地大暴雨。请居民远离河道、低洼地带，注意出行安全。".repeat(50);
    let mut client = running.notices();
    let notice = client
        .create_notice(with_token(
            flood_notice(&format!("subdistricts/{SUBDISTRICT}"), &body, "flood-1"),
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    let parts = notice.deliveries[0].parts;
    assert!(parts >= 2, "a 2,000-character notice is split: {parts}");
    assert_eq!(notice.summary.as_ref().unwrap().targeted, 3);
    // A retry of the same request answers with the same notice.
    let again = client
        .create_notice(with_token(
            flood_notice(&format!("subdistricts/{SUBDISTRICT}"), &body, "flood-1"),
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.name, notice.name);

    let done = eventually("every block's delivery to finish", PATIENCE, || async {
        let notice = running
            .notices()
            .get_notice(with_token(
                api::GetNoticeRequest {
                    name: notice.name.clone(),
                },
                &world.dispatcher(),
            ))
            .await
            .ok()?
            .into_inner();
        (notice.summary.as_ref()?.pending == 0).then_some(notice)
    })
    .await;
    let summary = done.summary.unwrap();
    assert_eq!((summary.delivered, summary.given_up), (2, 1));
    let broken = done
        .deliveries
        .iter()
        .find(|delivery| delivery.block == format!("blocks/{OTHER_COMMUNITY_BLOCK}"))
        .unwrap();
    assert_eq!(broken.state, api::DeliveryState::GivenUp as i32);
    assert_eq!(broken.note, "errcode 93000 (invalid webhook key)");
    assert!(!broken.note.contains("revoked-key"));

    // Each group got every part exactly once, in order; the broken robot nothing.
    let received = world.gateways.received();
    for key in ["valid-017", "valid-018"] {
        let contents: Vec<String> = received
            .iter()
            .filter(|message| message.accepted && message.key == key)
            .map(|message| message.body["text"]["content"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(contents.len(), usize::try_from(parts).unwrap(), "{key}");
        for (index, content) in contents.iter().enumerate() {
            assert!(
                content.starts_with(&format!("（{}/{parts}）", index + 1)),
                "{content}"
            );
            assert!(content.len() <= 2048);
        }
        assert!(contents[0].contains("【防汛】暴雨红色预警"));
    }
    let robots = running
        .notices()
        .list_block_robots(with_token(
            api::ListBlockRobotsRequest {
                parent: format!("subdistricts/{SUBDISTRICT}"),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner()
        .robots;
    let states: Vec<(String, i32)> = robots
        .iter()
        .map(|robot| (robot.block.clone(), robot.state))
        .collect();
    assert_eq!(
        states,
        [
            (format!("blocks/{BLOCK}"), api::RobotState::Active as i32),
            (
                format!("blocks/{NEIGHBOUR}"),
                api::RobotState::Active as i32
            ),
            (
                format!("blocks/{OTHER_COMMUNITY_BLOCK}"),
                api::RobotState::Broken as i32
            ),
        ]
    );
    assert!(
        robots
            .iter()
            .all(|robot| !robot.url_hint.contains("valid-"))
    );

    // A governor sees their block's delivery only, and lists their block's notices.
    let governor = governor_of(&world, BLOCK);
    let seen = client
        .get_notice(with_token(
            api::GetNoticeRequest {
                name: notice.name.clone(),
            },
            &governor,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.deliveries.len(), 1);
    assert_eq!(seen.deliveries[0].block, format!("blocks/{BLOCK}"));
    let listed = client
        .list_notices(with_token(
            api::ListNoticesRequest {
                block: format!("blocks/{BLOCK}"),
                page_size: 0,
                page_token: String::new(),
            },
            &governor,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.notices.len(), 1);
    assert_eq!(listed.notices[0].name, notice.name);
    let elsewhere = client
        .list_notices(with_token(
            api::ListNoticesRequest {
                block: format!("blocks/{NEIGHBOUR}"),
                page_size: 0,
                page_token: String::new(),
            },
            &governor,
        ))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);

    // One NoticePublished, one NoticeDelivered per block reached.
    let events = eventually("the notice's events", PATIENCE, || async {
        let events: Vec<_> = world
            .notices_events()
            .await
            .into_iter()
            .filter(|event| event.resource == notice.name)
            .collect();
        (events.len() >= 3).then_some(events)
    })
    .await;
    let published = events
        .iter()
        .filter(|event| event.is::<api::NoticePublished>())
        .count();
    let delivered = events
        .iter()
        .filter(|event| event.is::<api::NoticeDelivered>())
        .count();
    assert_eq!((published, delivered), (1, 2));
    running.stop().await;
}

#[tokio::test]
async fn a_governor_sends_only_to_their_block_and_bad_notices_are_refused_by_field() {
    let world = World::new().await;
    let running = world.start().await;
    let governor = governor_of(&world, BLOCK);
    set_robot(&running, &governor, BLOCK, "valid-017", &world)
        .await
        .unwrap();
    let mut client = running.notices();
    let community = client
        .create_notice(with_token(
            flood_notice("communities/430302001004", "请注意防汛。", ""),
            &governor,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        community.code(),
        Code::NotFound,
        "a governor's reach is their block"
    );
    let sent = client
        .create_notice(with_token(
            flood_notice(&format!("blocks/{BLOCK}"), "请注意防汛。", ""),
            &governor,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.audience, format!("blocks/{BLOCK}"));
    assert_eq!(sent.created_by, format!("gov-{BLOCK}"));

    let bad = client
        .create_notice(with_token(
            api::CreateNoticeRequest {
                request_id: String::new(),
                audience: "districts/430302".into(),
                category: 0,
                title: String::new(),
                body: "长".repeat(2001),
                ..Default::default()
            },
            &world.admin(),
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let details = tonic_types::StatusExt::get_details_bad_request(&bad).unwrap();
    let fields: Vec<&str> = details
        .field_violations
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(fields, ["audience", "category", "title", "body"]);

    let no_robot = client
        .create_notice(with_token(
            flood_notice("subdistricts/430302002", "请注意防汛。", ""),
            &world.admin(),
        ))
        .await
        .unwrap_err();
    assert_eq!(no_robot.code(), Code::FailedPrecondition);

    let leaky = client
        .set_block_robot(with_token(
            api::SetBlockRobotRequest {
                block: format!("blocks/{BLOCK}"),
                webhook_url: "http://qyapi.example.com/cgi-bin/webhook/send?key=s3cr3t-robot"
                    .into(),
            },
            &governor,
        ))
        .await
        .unwrap_err();
    assert_eq!(leaky.code(), Code::InvalidArgument);
    assert!(!format!("{leaky:?}").contains("s3cr3t-robot"));
    running.stop().await;
}

#[tokio::test]
async fn one_robot_never_gets_more_than_twenty_messages_in_any_minute() {
    let world = World::new().await;
    let running = world.start().await;
    let governor = governor_of(&world, BLOCK);
    set_robot(&running, &governor, BLOCK, "valid-017", &world)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let notices = 23;
    for index in 0..notices {
        running
            .notices()
            .create_notice(with_token(
                flood_notice(
                    &format!("blocks/{BLOCK}"),
                    &format!("第{index}号：河道水位上涨，请勿靠近。"),
                    &format!("burst-{index}"),
                ),
                &governor,
            ))
            .await
            .unwrap();
    }
    let received = eventually(
        "all 23 notices to reach the robot",
        std::time::Duration::from_secs(120),
        || async {
            let received: Vec<_> = world
                .gateways
                .received()
                .into_iter()
                .filter(|message| message.key == "valid-017")
                .collect();
            (received.iter().filter(|message| message.accepted).count() >= notices)
                .then_some(received)
        },
    )
    .await;
    // Nothing was refused with 45009: the service kept within the limit itself.
    assert!(received.iter().all(|message| message.accepted));
    assert_eq!(received.len(), notices);
    let minute = std::time::Duration::from_secs(60);
    for first in &received {
        let in_that_minute = received
            .iter()
            .filter(|message| message.at >= first.at && message.at - first.at < minute)
            .count();
        assert!(
            in_that_minute <= 20,
            "{in_that_minute} messages in one minute"
        );
    }
    assert!(
        started.elapsed() >= minute,
        "the 21st message waited for the minute to pass"
    );
}

fn in_seconds(seconds: i64) -> prost_types::Timestamp {
    flatgov_grpc::time::timestamp(chrono::Utc::now() + chrono::TimeDelta::seconds(seconds))
}

#[tokio::test]
async fn a_scheduled_notice_waits_for_its_time_and_an_expired_one_is_given_up() {
    let world = World::new().await;
    let running = world.start().await;
    let governor = governor_of(&world, BLOCK);
    set_robot(&running, &governor, BLOCK, "valid-017", &world)
        .await
        .unwrap();
    let mut client = running.notices();
    let get = |name: String| {
        let mut client = running.notices();
        let token = governor.clone();
        async move {
            client
                .get_notice(with_token(api::GetNoticeRequest { name }, &token))
                .await
                .unwrap()
                .into_inner()
        }
    };

    let scheduled = client
        .create_notice(with_token(
            api::CreateNoticeRequest {
                send_time: Some(in_seconds(4)),
                ..flood_notice(&format!("blocks/{BLOCK}"), "明早八点起停水。", "later")
            },
            &governor,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(scheduled.send_time.unwrap().seconds >= in_seconds(3).seconds);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        world.gateways.received().is_empty(),
        "a notice not yet due is not sent"
    );
    assert_eq!(
        get(scheduled.name.clone()).await.summary.unwrap().pending,
        1
    );
    eventually("the scheduled notice to be delivered", PATIENCE, || async {
        (get(scheduled.name.clone()).await.summary?.delivered == 1).then_some(())
    })
    .await;

    // WeCom keeps refusing until the notice's expiry: it is given up, not sent late.
    world.gateways.rate_limit_next(usize::MAX);
    let expiring = client
        .create_notice(with_token(
            api::CreateNoticeRequest {
                expire_time: Some(in_seconds(1)),
                ..flood_notice(&format!("blocks/{BLOCK}"), "今晚河道清淤。", "soon-stale")
            },
            &governor,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(expiring.expire_time.is_some());
    let given_up = eventually("the expired notice to be given up", PATIENCE, || async {
        let notice = get(expiring.name.clone()).await;
        (notice.summary.as_ref()?.given_up == 1).then_some(notice)
    })
    .await;
    assert_eq!(
        given_up.deliveries[0].note,
        "the notice expired before it reached the block"
    );
    world.gateways.rate_limit_next(0);

    let refused = client
        .create_notice(with_token(
            api::CreateNoticeRequest {
                send_time: Some(in_seconds(60)),
                expire_time: Some(in_seconds(30)),
                ..flood_notice(&format!("blocks/{BLOCK}"), "过期在先。", "backwards")
            },
            &governor,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("expire_time"),
        "{}",
        refused.message()
    );
}
