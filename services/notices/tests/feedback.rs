//! Feedback to reporters against the real cases service, real PostgreSQL and
//! NATS, and a local HTTP server standing in for the gateways.

mod support;

use std::time::Duration;

use flatgov_messaging::Event as _;
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::notices::v1 as api;
use flatgov_testkit::{eventually, with_token};
use support::gateways::{ROBOT_KEY, SMS_SECRET};
use support::*;
use tonic::Code;

async fn set_gateway(
    running: &Running,
    world: &World,
    code: &str,
    kind: api::GatewayKind,
    url: &str,
    secret: &str,
) -> api::Gateway {
    running
        .notices()
        .set_gateway(with_token(
            api::SetGatewayRequest {
                name: format!("gateways/{code}"),
                kind: kind as i32,
                url: url.into(),
                secret: secret.into(),
                description: "测试网关".into(),
            },
            &world.admin(),
        ))
        .await
        .expect("the gateway is set")
        .into_inner()
}

async fn rate(running: &Running, world: &World, name: &str, rating: cases::Rating) {
    running
        .cases()
        .rate_case(with_token(
            cases::RateCaseRequest {
                name: name.into(),
                rating: rating as i32,
                comment: String::new(),
            },
            &world.resident(),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reporter_hears_each_milestone_once_through_the_wecom_robot_even_when_it_rate_limits_and_events_come_again()
 {
    let world = World::new().await;
    let running = world.start().await;
    set_gateway(
        &running,
        &world,
        "resident_app",
        api::GatewayKind::WecomRobot,
        &world.gateways.robot_url(ROBOT_KEY),
        "",
    )
    .await;
    // WeCom's limit answers the first message: it goes out on a later try.
    world.gateways.rate_limit_next(1);

    let name = dispatched(
        &running,
        &world,
        &world.resident(),
        street_light_report(cases::Channel::ResidentApp, false, 0.0),
    )
    .await;
    let received = feedback_until(
        &running,
        &world,
        &name,
        "the received message",
        |feedback| delivered(feedback, api::Milestone::Received),
    )
    .await;
    assert_eq!(received[0].attempts, 2, "{received:?}");
    assert_eq!(received[0].gateway, "gateways/resident_app");

    // The robot is rate limited again as the case is verified: "resolved" waits for a
    // later try, and the reporter's rating that reopens the case at once must not
    // overtake it — the reporter reads the milestones in the order they happened.
    world.gateways.rate_limit_next(1);
    work_to_verified(&running, &world, &name, true).await;
    rate(&running, &world, &name, cases::Rating::Unsatisfied).await;
    // Reworked once, verified a second time (no second "resolved"), then rated.
    work_to_verified(&running, &world, &name, false).await;
    rate(&running, &world, &name, cases::Rating::Satisfied).await;

    let feedback = feedback_until(&running, &world, &name, "every milestone", |feedback| {
        delivered(feedback, api::Milestone::Closed)
            && feedback
                .iter()
                .all(|item| item.state == api::DeliveryState::Delivered as i32)
    })
    .await;
    assert_eq!(
        milestones(&feedback),
        [
            api::Milestone::Received,
            api::Milestone::Accepted,
            api::Milestone::Resolved,
            api::Milestone::Reopened,
            api::Milestone::Closed,
        ]
    );

    // The cases stream delivered again from the start: nothing is sent twice.
    let dispatched_event = world
        .cases_events()
        .await
        .into_iter()
        .find(|event| event.resource == name && event.is::<cases::CaseDispatched>())
        .expect("the dispatch event");
    let again: cases::CaseDispatched = dispatched_event.decode().unwrap();
    let bus = world.test.bus().await;
    flatgov_testkit::events::publish_as(
        &bus,
        "cases",
        &uuid::Uuid::now_v7().to_string(),
        &name,
        &again,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let taken = world.gateways.taken_about(&name);
    let texts: Vec<String> = taken
        .iter()
        .map(|received| {
            received.body["text"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(texts.len(), 5, "{texts:#?}");
    assert!(
        texts[0].contains("已受理") && texts[0].contains("工作人员（工号 gov-017）"),
        "{}",
        texts[0]
    );
    assert!(texts[1].contains("签收"), "{}", texts[1]);
    assert!(texts[2].contains("请对办理结果作出评价"), "{}", texts[2]);
    assert!(texts[3].contains("重新交办"), "{}", texts[3]);
    assert!(texts[4].contains("已结案（已评价）"), "{}", texts[4]);
    for received in &taken {
        assert_eq!(received.body["msgtype"], "text");
        assert_eq!(
            received.body["text"]["mentioned_mobile_list"],
            serde_json::json!([PHONE])
        );
    }

    // One FeedbackSent per milestone, carrying no contact.
    let events = eventually("five FeedbackSent events", PATIENCE, || async {
        let events: Vec<_> = world
            .notices_events()
            .await
            .into_iter()
            .filter(|event| event.resource == name)
            .collect();
        (events.len() >= 5).then_some(events)
    })
    .await;
    assert_eq!(events.len(), 5);
    for event in &events {
        assert_eq!(event.event_type, api::FeedbackSent::TYPE);
        let payload = String::from_utf8_lossy(&event.payload);
        assert!(!payload.contains(PHONE) && !payload.contains("李四"));
    }
    running.stop().await;
}

#[tokio::test]
async fn hotline_reports_go_through_the_signed_sms_webhook_and_anonymous_reporters_are_never_contacted()
 {
    let world = World::new().await;
    let running = world.start().await;
    set_gateway(
        &running,
        &world,
        "default",
        api::GatewayKind::SignedWebhook,
        &world.gateways.sms_url(),
        SMS_SECRET,
    )
    .await;
    // The provider fails once: the retry carries the same webhook-id.
    world.gateways.fail_next(1);

    let hotline = dispatched(
        &running,
        &world,
        &world.dispatcher(),
        street_light_report(cases::Channel::Hotline12345, false, 0.0),
    )
    .await;
    let anonymous = dispatched(
        &running,
        &world,
        &world.resident(),
        street_light_report(cases::Channel::ResidentApp, true, 800.0),
    )
    .await;

    let sent = feedback_until(
        &running,
        &world,
        &hotline,
        "the hotline message",
        |feedback| delivered(feedback, api::Milestone::Received),
    )
    .await;
    assert_eq!(sent[0].gateway, "gateways/default");
    assert_eq!(sent[0].attempts, 2);
    let skipped = feedback_until(
        &running,
        &world,
        &anonymous,
        "the anonymous case's record",
        |feedback| {
            feedback
                .iter()
                .any(|item| item.state == api::DeliveryState::Skipped as i32)
        },
    )
    .await;
    assert_eq!(skipped[0].note, "anonymous report");
    assert_eq!(skipped[0].attempts, 0);

    let to_provider: Vec<_> = world
        .gateways
        .received()
        .into_iter()
        .filter(|received| received.gateway == "sms")
        .collect();
    assert_eq!(
        to_provider.len(),
        2,
        "one failure and its retry: {to_provider:#?}"
    );
    assert!(to_provider.iter().all(|received| received.signature_valid));
    assert_eq!(to_provider[0].webhook_id, to_provider[1].webhook_id);
    let body = &to_provider[1].body;
    assert_eq!(body["case"], hotline);
    assert_eq!(body["milestone"], "received");
    assert_eq!(body["recipient"]["phone"], PHONE);
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains(hotline.trim_start_matches("cases/"))
    );
    assert!(
        world.gateways.taken_about(&anonymous).is_empty(),
        "nobody is told about an anonymous report"
    );

    // Every fetch of the contact is in the cases service's audit trail,
    // made by the notices service and naming the case.
    let mut trail = AuditTrailClient::new(
        tonic::transport::Channel::from_shared(running.cases.grpc_url())
            .unwrap()
            .connect_lazy(),
    );
    let records = trail
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest {
                resource: hotline.clone(),
                page_size: 500,
                page_token: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let fetches: Vec<_> = records
        .iter()
        .filter(|record| record.method == "GetReporterContact")
        .collect();
    assert!(!fetches.is_empty(), "{records:#?}");
    assert!(
        fetches
            .iter()
            .all(|record| record.subject == "notices" && record.outcome == "OK")
    );
    running.stop().await;
}

#[tokio::test]
async fn a_robot_whose_key_wecom_refuses_is_given_up_at_once_and_the_attempt_is_recorded() {
    let world = World::new().await;
    let running = world.start().await;
    set_gateway(
        &running,
        &world,
        "resident_app",
        api::GatewayKind::WecomRobot,
        &world.gateways.robot_url("revoked-key"),
        "",
    )
    .await;
    let name = dispatched(
        &running,
        &world,
        &world.resident(),
        street_light_report(cases::Channel::ResidentApp, false, 0.0),
    )
    .await;
    let feedback = feedback_until(&running, &world, &name, "the refusal", |feedback| {
        feedback
            .iter()
            .any(|item| item.state == api::DeliveryState::GivenUp as i32)
    })
    .await;
    assert_eq!(feedback[0].attempts, 1);
    assert_eq!(feedback[0].note, "errcode 93000 (invalid webhook key)");
    assert!(!feedback[0].note.contains("revoked-key"));
    running.stop().await;
}

#[tokio::test]
async fn gateways_never_show_their_key_or_secret_and_bad_ones_are_refused_without_echo() {
    let world = World::new().await;
    let running = world.start().await;
    let robot = set_gateway(
        &running,
        &world,
        "resident_app",
        api::GatewayKind::WecomRobot,
        &world.gateways.robot_url(ROBOT_KEY),
        "",
    )
    .await;
    assert!(!robot.url_hint.contains(ROBOT_KEY), "{}", robot.url_hint);
    assert!(robot.url_hint.ends_with("/cgi-bin/webhook/send?key=…"));
    set_gateway(
        &running,
        &world,
        "default",
        api::GatewayKind::SignedWebhook,
        &world.gateways.sms_url(),
        SMS_SECRET,
    )
    .await;
    let listed = running
        .notices()
        .list_gateways(with_token(api::ListGatewaysRequest {}, &world.admin()))
        .await
        .unwrap()
        .into_inner();
    let shown = format!("{listed:?}");
    assert_eq!(listed.gateways.len(), 2);
    assert!(!shown.contains(ROBOT_KEY) && !shown.contains(&SMS_SECRET[6..]));

    let refused = running
        .notices()
        .set_gateway(with_token(
            api::SetGatewayRequest {
                name: "gateways/Bad Name".into(),
                kind: api::GatewayKind::SignedWebhook as i32,
                url: "http://sms.example.com/send?token=s3cr3t-token".into(),
                secret: "whsec_dG9vIHNob3J0".into(),
                description: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let details = tonic_types::StatusExt::get_details_bad_request(&refused).unwrap();
    let fields: Vec<&str> = details
        .field_violations
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(fields, ["name", "url", "secret"]);
    let everything = format!("{refused:?}");
    assert!(!everything.contains("s3cr3t-token") && !everything.contains("dG9vIHNob3J0"));

    // Gateways are the district administrators' alone.
    let denied = running
        .notices()
        .list_gateways(with_token(api::ListGatewaysRequest {}, &world.dispatcher()))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    running.stop().await;
}

#[tokio::test]
async fn a_case_outside_the_callers_place_answers_not_found_like_a_case_never_seen() {
    let world = World::new().await;
    let running = world.start().await;
    let name = dispatched(
        &running,
        &world,
        &world.resident(),
        street_light_report(cases::Channel::ResidentApp, false, 0.0),
    )
    .await;
    feedback_until(
        &running,
        &world,
        &name,
        "the skipped message (no gateway)",
        |feedback| {
            feedback
                .iter()
                .any(|item| item.state == api::DeliveryState::Skipped as i32)
        },
    )
    .await;
    let mut client = running.notices();
    let outside = client
        .list_feedback(with_token(
            api::ListFeedbackRequest { case: name.clone() },
            &world.other_dispatcher(),
        ))
        .await
        .unwrap_err();
    let unknown = client
        .list_feedback(with_token(
            api::ListFeedbackRequest {
                case: format!("cases/{}", uuid::Uuid::now_v7()),
            },
            &world.other_dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::NotFound);
    assert_eq!(unknown.code(), Code::NotFound);
    let governor = client
        .list_feedback(with_token(
            api::ListFeedbackRequest { case: name },
            &world.governor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(governor.feedback.len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn the_policy_table_is_what_the_service_enforces() {
    let world = World::new().await;
    let running = world.start().await;
    let report = flatgov_testkit::authz::probe(
        &running.notices.grpc_url(),
        &flatgov_notices::policy::POLICY,
        &world.test.auth,
    )
    .await;
    assert!(report.calls > 0 && report.refusals_expected > 0);
    assert_eq!(report.contradictions, Vec::<String>::new());
    running.stop().await;
}
