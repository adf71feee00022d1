//! Feedback templates per district: a district administrator switches a
//! milestone's message off or gives it the district's own words, and the
//! reporters of the district's cases receive exactly that — against the
//! real cases service, PostgreSQL, NATS and the local WeCom-like server.

mod support;

use flatgov_auth::{Jurisdiction, Role, TokenRequest};
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::notices::v1 as api;
use flatgov_testkit::with_token;
use support::gateways::ROBOT_KEY;
use support::*;
use tonic::Code;

const RECEIVED: &str = "districts/430302/feedbackTemplates/received";
const ACCEPTED: &str = "districts/430302/feedbackTemplates/accepted";

async fn set_template(
    running: &Running,
    token: &str,
    name: &str,
    disabled: bool,
    text: &str,
) -> Result<api::FeedbackTemplate, tonic::Status> {
    running
        .notices()
        .set_feedback_template(with_token(
            api::SetFeedbackTemplateRequest {
                name: name.into(),
                disabled,
                text: text.into(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn templates(running: &Running, token: &str) -> Vec<api::FeedbackTemplate> {
    running
        .notices()
        .list_feedback_templates(with_token(
            api::ListFeedbackTemplatesRequest {
                parent: "districts/430302".into(),
            },
            token,
        ))
        .await
        .expect("the templates are listed")
        .into_inner()
        .templates
}

fn text_of(received: &support::gateways::Received) -> String {
    received.body["text"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_milestone_switched_off_is_not_sent_and_a_reworded_one_reaches_the_reporter_in_the_districts_words()
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
    let reworded = set_template(
        &running,
        &world.admin(),
        RECEIVED,
        false,
        "【雨湖区】您的诉求已派发，编号 {case_number}，由{handler}办理。",
    )
    .await
    .expect("the received text is set");
    assert!(reworded.enabled && reworded.custom);
    assert_eq!(reworded.updated_by, "admin");
    let off = set_template(&running, &world.admin(), ACCEPTED, true, "")
        .await
        .expect("the accepted message is switched off");
    assert!(!off.enabled && !off.custom);

    let name = dispatched(
        &running,
        &world,
        &world.resident(),
        support::street_light_report(cases::Channel::ResidentApp, false, 0.0),
    )
    .await;
    work_to_verified(&running, &world, &name, true).await;
    let feedback = feedback_until(
        &running,
        &world,
        &name,
        "three milestones settled",
        |feedback| {
            feedback.len() == 3
                && feedback
                    .iter()
                    .all(|item| item.state != api::DeliveryState::Pending as i32)
        },
    )
    .await;
    let accepted = feedback
        .iter()
        .find(|item| item.milestone == api::Milestone::Accepted as i32)
        .unwrap();
    assert_eq!(
        accepted.state,
        api::DeliveryState::Skipped as i32,
        "{accepted:?}"
    );
    assert!(accepted.note.contains("switched off"), "{accepted:?}");
    assert!(
        delivered(&feedback, api::Milestone::Received),
        "{feedback:?}"
    );
    assert!(
        delivered(&feedback, api::Milestone::Resolved),
        "{feedback:?}"
    );

    let texts: Vec<String> = world
        .gateways
        .taken_about(&name)
        .iter()
        .map(text_of)
        .collect();
    let id = name.trim_start_matches("cases/");
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_eq!(
        texts[0],
        format!("【雨湖区】您的诉求已派发，编号 {id}，由工作人员（工号 {GOVERNOR}）办理。")
    );
    assert!(
        texts[1].contains("请对办理结果作出评价"),
        "the built-in resolved text: {texts:?}"
    );
    assert!(!texts.iter().any(|text| text.contains("签收")), "{texts:?}");

    // Back to the built-in text, switched on: the listing says so.
    set_template(&running, &world.admin(), RECEIVED, false, "")
        .await
        .unwrap();
    let listed = templates(&running, &world.admin()).await;
    let received = &listed[0];
    assert!(received.enabled && !received.custom, "{received:?}");
    assert!(received.text.contains("{case_number}") && received.text.contains("已受理并派发"));
    running.stop().await;
}

#[tokio::test]
async fn templates_are_the_district_administrators_and_a_bad_one_is_refused_naming_the_field_and_changing_nothing()
 {
    let world = World::new().await;
    let running = world.start().await;

    let listed = templates(&running, &world.admin()).await;
    let names: Vec<&str> = listed
        .iter()
        .map(|template| template.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            RECEIVED,
            ACCEPTED,
            "districts/430302/feedbackTemplates/resolved",
            "districts/430302/feedbackTemplates/closed",
            "districts/430302/feedbackTemplates/reopened",
            "districts/430302/feedbackTemplates/return_visit",
        ]
    );
    assert!(
        listed
            .iter()
            .all(|template| template.enabled && !template.custom)
    );

    for (name, text, field, says) in [
        (RECEIVED, "您的诉求已派发。", "text", "{case_number}"),
        (
            "districts/430302/feedbackTemplates/resolved",
            "{case_number} 已由 {handler} 办结",
            "text",
            "{handler}",
        ),
        (RECEIVED, "{case_number} {phone}", "text", "{phone}"),
        (
            "districts/430302/feedbackTemplates/rated",
            "{case_number}",
            "name",
            "unknown milestone",
        ),
        (
            "districts/4303/feedbackTemplates/received",
            "{case_number}",
            "name",
            "district",
        ),
    ] {
        let refused = set_template(&running, &world.admin(), name, false, text)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{name} {text}");
        let details = tonic_types::StatusExt::get_details_bad_request(&refused).unwrap();
        assert_eq!(details.field_violations.len(), 1, "{details:?}");
        assert_eq!(details.field_violations[0].field, field);
        assert!(
            details.field_violations[0].description.contains(says),
            "{details:?}"
        );
    }
    assert_eq!(
        templates(&running, &world.admin()).await,
        listed,
        "nothing changed"
    );

    // Another district's administrator finds no such district; a
    // dispatcher may not touch templates at all.
    let elsewhere = world.test.auth.token_for(
        TokenRequest::new("admin-430303", &[Role::DistrictAdmin])
            .jurisdiction("districts/430303".parse::<Jurisdiction>().unwrap()),
    );
    let hidden = set_template(&running, &elsewhere, ACCEPTED, true, "")
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound, "{hidden:?}");
    let denied = set_template(&running, &world.dispatcher(), ACCEPTED, true, "")
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        templates(&running, &world.admin()).await,
        listed,
        "nothing changed"
    );

    // A change is in the notices service's audit trail, naming the template.
    set_template(&running, &world.admin(), ACCEPTED, true, "")
        .await
        .unwrap();
    let mut trail = AuditTrailClient::new(
        tonic::transport::Channel::from_shared(running.notices.grpc_url())
            .unwrap()
            .connect_lazy(),
    );
    let records = trail
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest {
                resource: ACCEPTED.into(),
                page_size: 50,
                page_token: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let outcomes: Vec<(&str, &str)> = records
        .iter()
        .map(|record| (record.method.as_str(), record.outcome.as_str()))
        .collect();
    assert!(
        outcomes.contains(&("SetFeedbackTemplate", "OK")),
        "{records:#?}"
    );
    running.stop().await;
}
