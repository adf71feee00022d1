//! Block notices to the blocks' WeCom groups, against real PostgreSQL and
//! NATS and a local HTTP server that behaves like WeCom's group robots.

mod support;

use flatgov_auth::{Jurisdiction, Role, TokenRequest};
use flatgov_proto::notices::v1 as api;
use flatgov_testkit::{eventually, with_token};
use support::*;
use tonic::Code;

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
    // The registry's four blocks of the subdistrict are targeted; the one
    // without a robot is reported as not reachable, never sent to.
    let summary = notice.summary.as_ref().unwrap();
    assert_eq!(
        (
            summary.targeted,
            summary.unreachable,
            summary.households_targeted
        ),
        (4, 1, 350 + 340 + 320 + 300)
    );
    assert_eq!(notice.state, api::NoticeState::Published as i32);
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
    assert_eq!(
        (summary.delivered, summary.given_up, summary.unreachable),
        (2, 1, 1)
    );
    assert_eq!(summary.households_reached, 350 + 340);
    let robotless = done
        .deliveries
        .iter()
        .find(|delivery| delivery.block == format!("blocks/{ROBOTLESS_BLOCK}"))
        .unwrap();
    assert_eq!(robotless.state, api::DeliveryState::Skipped as i32);
    assert_eq!(robotless.households, 320);
    assert_eq!(robotless.attempts, 0);
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
    let published: api::NoticePublished = events
        .iter()
        .find(|event| event.is::<api::NoticePublished>())
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(
        (published.blocks_targeted, published.blocks_unreachable),
        (4, 1)
    );
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
                audience: "regions/430302".into(),
                category: 0,
                title: String::new(),
                body: "长".repeat(2001),
                attachments: vec![
                    "https://files.example.cn/map.pdf".into(),
                    "http://files.example.cn/plain.pdf".into(),
                ],
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
    assert_eq!(
        fields,
        ["audience", "category", "title", "body", "attachments[1]"]
    );

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

async fn notice_as(
    running: &Running,
    name: &str,
    token: &str,
) -> Result<api::Notice, tonic::Status> {
    running
        .notices()
        .get_notice(with_token(
            api::GetNoticeRequest { name: name.into() },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn approve(running: &Running, name: &str, token: &str) -> Result<api::Notice, tonic::Status> {
    running
        .notices()
        .approve_notice(with_token(
            api::ApproveNoticeRequest { name: name.into() },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_district_wide_notice_is_sent_only_after_a_second_administrator_approves_it() {
    let world = World::new().await;
    let running = world.start().await;
    for (block, key) in [
        (BLOCK, "valid-017"),
        (OTHER_SUBDISTRICT_BLOCK, "valid-other"),
    ] {
        set_robot(&running, &world.admin(), block, key, &world)
            .await
            .unwrap();
    }
    let notice = running
        .notices()
        .create_notice(with_token(
            api::CreateNoticeRequest {
                attachments: vec!["https://files.example.cn/flood-map.pdf".into()],
                ..flood_notice("districts/430302", "全区防汛：请远离河道。", "district-1")
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(notice.state, api::NoticeState::PendingApproval as i32);
    let summary = notice.summary.unwrap();
    assert_eq!((summary.targeted, summary.unreachable), (5, 3));

    // Nothing goes out, and nobody but the district's administrators sees it.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(world.gateways.received().is_empty());
    let hidden = notice_as(&running, &notice.name, &world.governor())
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let listed = running
        .notices()
        .list_notices(with_token(
            api::ListNoticesRequest {
                block: format!("blocks/{BLOCK}"),
                ..Default::default()
            },
            &world.governor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.notices.is_empty());

    // Its author cannot approve it, nor can a dispatcher.
    let own = approve(&running, &notice.name, &world.admin())
        .await
        .unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied);
    let dispatcher = approve(&running, &notice.name, &world.dispatcher())
        .await
        .unwrap_err();
    assert_eq!(dispatcher.code(), Code::PermissionDenied);

    let approved = approve(&running, &notice.name, &world.second_admin())
        .await
        .unwrap();
    assert_eq!(approved.state, api::NoticeState::Published as i32);
    assert_eq!(approved.approved_by, "admin-2");
    assert!(approved.approve_time.is_some());
    // The approver's retry answers the notice as it stands.
    let again = approve(&running, &notice.name, &world.second_admin())
        .await
        .unwrap();
    assert_eq!(again.approved_by, "admin-2");

    let done = eventually(
        "both reachable groups to get the notice",
        PATIENCE,
        || async {
            let notice = notice_as(&running, &notice.name, &world.admin())
                .await
                .ok()?;
            (notice.summary.as_ref()?.delivered == 2).then_some(notice)
        },
    )
    .await;
    assert_eq!(done.summary.unwrap().pending, 0);
    let contents: Vec<String> = world
        .gateways
        .received()
        .iter()
        .filter(|message| message.accepted)
        .map(|message| message.body["text"]["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(contents.len(), 2);
    assert!(
        contents
            .iter()
            .all(|content| content.ends_with("附件：\nhttps://files.example.cn/flood-map.pdf")),
        "{contents:?}"
    );

    // A notice to a subdistrict needs no approval.
    let subdistrict = running
        .notices()
        .create_notice(with_token(
            flood_notice(&format!("subdistricts/{SUBDISTRICT}"), "请注意防汛。", ""),
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    let needless = approve(&running, &subdistrict.name, &world.second_admin())
        .await
        .unwrap_err();
    assert_eq!(needless.code(), Code::FailedPrecondition);

    let events = eventually("the district notice's publication", PATIENCE, || async {
        let events: Vec<api::NoticePublished> = world
            .notices_events()
            .await
            .into_iter()
            .filter(|event| event.resource == notice.name && event.is::<api::NoticePublished>())
            .map(|event| event.decode().unwrap())
            .collect();
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].blocks_targeted,
            events[0].blocks_unreachable,
            events[0].households_targeted
        ),
        (5, 3, 350 + 340 + 320 + 300 + 310)
    );
    running.stop().await;
}

#[tokio::test]
async fn while_the_block_registry_is_down_a_notice_is_refused_as_unavailable_and_nothing_is_recorded()
 {
    let world = World::new().await;
    let running = world.start().await;
    set_robot(&running, &world.governor(), BLOCK, "valid-017", &world)
        .await
        .unwrap();
    world
        .registry
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = running
        .notices()
        .create_notice(with_token(
            flood_notice(&format!("blocks/{BLOCK}"), "请注意防汛。", "while-down"),
            &world.governor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    let listed = running
        .notices()
        .list_notices(with_token(
            api::ListNoticesRequest {
                block: format!("blocks/{BLOCK}"),
                ..Default::default()
            },
            &world.governor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.notices.is_empty());

    // Back up, the same request goes through once.
    world
        .registry
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let sent = running
        .notices()
        .create_notice(with_token(
            flood_notice(&format!("blocks/{BLOCK}"), "请注意防汛。", "while-down"),
            &world.governor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.summary.unwrap().households_targeted, 350);
    running.stop().await;
}

#[tokio::test]
async fn notice_reach_is_counted_per_division_the_caller_reaches() {
    let world = World::new().await;
    let running = world.start().await;
    set_robot(&running, &world.dispatcher(), BLOCK, "valid-017", &world)
        .await
        .unwrap();
    set_robot(
        &running,
        &world.dispatcher(),
        NEIGHBOUR,
        "valid-018",
        &world,
    )
    .await
    .unwrap();
    let notice = running
        .notices()
        .create_notice(with_token(
            flood_notice(&format!("subdistricts/{SUBDISTRICT}"), "请注意防汛。", ""),
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    eventually("both groups to get the notice", PATIENCE, || async {
        let notice = notice_as(&running, &notice.name, &world.dispatcher())
            .await
            .ok()?;
        (notice.summary.as_ref()?.delivered == 2).then_some(())
    })
    .await;
    let indicators = |parent: String, token: String| {
        let mut client = running.notices();
        async move {
            client
                .get_indicators(with_token(
                    api::GetIndicatorsRequest {
                        parent,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let subdistrict = indicators(format!("subdistricts/{SUBDISTRICT}"), world.dispatcher())
        .await
        .unwrap();
    // Four blocks targeted (one without a robot, one with none set here).
    assert_eq!(
        (
            subdistrict.notices,
            subdistrict.blocks_targeted,
            subdistrict.blocks_delivered
        ),
        (1, 4, 2)
    );
    assert!((subdistrict.notice_reach - 0.5).abs() < 1e-9);
    assert_eq!(subdistrict.feedback.len(), 6);
    assert_eq!(subdistrict.on_time_limit_seconds, 3600);
    let block = indicators(format!("communities/{}", &BLOCK[..12]), world.admin())
        .await
        .unwrap();
    assert_eq!((block.blocks_targeted, block.blocks_delivered), (3, 2));
    let elsewhere = indicators("subdistricts/430302002".into(), world.dispatcher())
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);
    let governor = indicators(format!("blocks/{BLOCK}"), world.governor())
        .await
        .unwrap_err();
    assert_eq!(governor.code(), Code::PermissionDenied);
    running.stop().await;
}

/// Yuhu district's 326 blocks, here all in subdistrict 430302001: seven
/// communities of up to 50 blocks.
fn yuhu_blocks() -> Vec<(String, u32)> {
    (0..326)
        .map(|index| {
            (
                format!("{SUBDISTRICT}{:03}{:03}", index / 50 + 1, index % 50 + 1),
                300 + index % 100,
            )
        })
        .collect()
}

/// The notices service as a process of its own binary, so it can be killed
/// with SIGKILL mid-send.
struct NoticesProcess {
    child: std::process::Child,
    grpc_url: String,
}

impl NoticesProcess {
    fn spawn(world: &World, log: &std::path::Path) -> Self {
        let grpc_port = flatgov_testkit::free_port();
        let database = world.test.database.url();
        let auth = &world.test.auth;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_flatgov-notices"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_OWNER_URL", database)
            .env("DATABASE_URL", flatgov_testkit::application_url(database))
            .env("DATABASE_MAX_CONNECTIONS", "8")
            .env("NATS_URL", &world.test.nats_url)
            .env("NATS_SUBJECT_PREFIX", &world.test.prefix)
            .env("GRPC_LISTEN_ADDR", format!("127.0.0.1:{grpc_port}"))
            .env(
                "METRICS_LISTEN_ADDR",
                format!("127.0.0.1:{}", flatgov_testkit::free_port()),
            )
            .env("RATE_LIMIT_PER_SECOND", "100000")
            .env("RATE_LIMIT_BURST", "100000")
            .env("CONCURRENCY_LIMIT_PER_CALLER", "10000")
            .env("AUTH_JWKS_FILE", auth.jwks_file())
            .env(
                "FEDERATION_IDENTITY_KEY_FILE",
                auth.federation_identity_key_file(),
            )
            .env("AUTH_SIGNING_KEY_FILE", auth.service_key_file("notices"))
            // Never asked here: no case events flow in this test.
            .env("CASES_URL", "http://127.0.0.1:9")
            .env(
                "BLOCKS_URL",
                format!("http://127.0.0.1:{}", world.registry_port),
            )
            .env("NOTICES_DELIVERY_POLL_MS", "100")
            .env("LOG_FORMAT", "pretty")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the notices binary starts");
        Self {
            child,
            grpc_url: format!("http://127.0.0.1:{grpc_port}"),
        }
    }

    fn client(
        &self,
    ) -> flatgov_proto::notices::v1::notices_client::NoticesClient<tonic::transport::Channel> {
        flatgov_proto::notices::v1::notices_client::NoticesClient::new(
            tonic::transport::Channel::from_shared(self.grpc_url.clone())
                .unwrap()
                .connect_lazy(),
        )
    }

    /// SIGKILL: no shutdown, no flush, whatever was in flight is lost.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for NoticesProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers a robot for every block, 16 at a time, once the process serves.
async fn robots_for_every_block(process: &NoticesProcess, world: &World, blocks: &[(String, u32)]) {
    let client = process.client();
    let register = |code: String| {
        let mut client = client.clone();
        let request = with_token(
            api::SetBlockRobotRequest {
                block: format!("blocks/{code}"),
                webhook_url: world.gateways.robot_url(&format!("valid-{code}")),
            },
            &world.dispatcher(),
        );
        async move { client.set_block_robot(request).await }
    };
    eventually("the process to serve", PATIENCE, || {
        let registered = register(blocks[0].0.clone());
        async move { registered.await.ok() }
    })
    .await;
    let mut registering: tokio::task::JoinSet<
        Result<tonic::Response<api::BlockRobot>, tonic::Status>,
    > = tokio::task::JoinSet::new();
    for (code, _) in &blocks[1..] {
        while registering.len() >= 16 {
            registering.join_next().await.unwrap().unwrap().unwrap();
        }
        registering.spawn(register(code.clone()));
    }
    while let Some(registered) = registering.join_next().await {
        registered.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_notice_to_326_blocks_killed_mid_send_resumes_without_sending_any_delivered_block_again()
{
    let world = World::new().await;
    let blocks = yuhu_blocks();
    *world.registry.blocks.lock().unwrap() = blocks.clone();
    let _registry = world.serve_registry().await;
    let log = std::env::temp_dir().join(format!("notices-kill-{}.log", world.test.prefix));
    let first = NoticesProcess::spawn(&world, &log);
    robots_for_every_block(&first, &world, &blocks).await;
    // Each call to a group takes 20 ms, as a distant server's would, so the
    // kill lands mid-notice.
    world.gateways.slow_robots(20);
    let notice = first
        .client()
        .create_notice(with_token(
            flood_notice(
                &format!("subdistricts/{SUBDISTRICT}"),
                "今晚有暴雨，请远离河道。",
                "",
            ),
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(notice.summary.unwrap().targeted, 326);
    eventually(
        "about a third of the groups to get it",
        PATIENCE,
        || async { (world.gateways.robot_messages_taken() >= 100).then_some(()) },
    )
    .await;
    first.kill();
    let taken_at_kill = world.gateways.robot_messages_taken();

    // What the dead process had recorded as delivered.
    let mut database = <sqlx::PgConnection as sqlx::Connection>::connect(world.test.database.url())
        .await
        .unwrap();
    let delivered_before: Vec<String> =
        sqlx::query_scalar("select block_code from notice_deliveries where state = 'delivered'")
            .fetch_all(&mut database)
            .await
            .unwrap();
    assert!(
        !delivered_before.is_empty() && delivered_before.len() < 326,
        "killed mid-send: {} recorded delivered",
        delivered_before.len()
    );

    world.gateways.slow_robots(0);
    let second = NoticesProcess::spawn(&world, &log);
    let done = eventually(
        "every block's group to get the notice",
        PATIENCE,
        || async {
            let notice = second
                .client()
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
        },
    )
    .await;
    assert_eq!(done.summary.unwrap().delivered, 326);

    let received = world.gateways.received();
    let taken = |code: &str| {
        let key = format!("valid-{code}");
        received
            .iter()
            .filter(|message| message.accepted && message.key == key)
            .count()
    };
    for code in &delivered_before {
        assert_eq!(
            taken(code),
            1,
            "block {code} was recorded delivered before the kill"
        );
    }
    for (code, _) in &blocks {
        assert!(taken(code) >= 1, "block {code} never got the notice");
    }
    // Only a call in flight at the kill (taken by WeCom, not yet recorded)
    // may go out twice: at most one per delivery worker.
    let total = world.gateways.robot_messages_taken();
    assert!(
        total - 326 <= 4,
        "{total} messages for 326 blocks ({taken_at_kill} taken at the kill, {} recorded)",
        delivered_before.len()
    );
    second.kill();
}
