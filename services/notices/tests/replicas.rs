//! Sent once, across replicas: two notices processes on one database and
//! one NATS, a burst of case events — some of them published again, as a
//! replay or a second dispatch would be — and every case's milestone
//! message reaches the gateway exactly once, while the workers claim and
//! record messages in batches. Events of one subject are applied in
//! parallel, so an earlier event applied later still decides the message.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use flatgov_proto::cases::v1 as cases;
use flatgov_proto::notices::v1 as api;
use flatgov_testkit::{eventually, with_token};
use support::gateways::SMS_SECRET;
use support::*;

const CASES: usize = 150;

fn transition(id: &uuid::Uuid, sequence: u32) -> Option<cases::CaseTransition> {
    Some(cases::CaseTransition {
        case: format!("cases/{id}"),
        sequence,
        block_code: BLOCK.into(),
        subdistrict_code: SUBDISTRICT.into(),
        occurred_at: Some(flatgov_grpc::time::timestamp(chrono::Utc::now())),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_under_a_burst_send_each_case_milestone_message_exactly_once() {
    let world = World::new().await;
    let (contacts_url, _contacts) = world.serve_contacts().await;
    // Several workers in each replica, so claims overlap.
    let replica = || {
        world
            .notices_env(&contacts_url)
            .with("NOTICES_DELIVERY_CONCURRENCY", "3")
            .with("DATABASE_MAX_CONNECTIONS", "20")
    };
    let first = flatgov_notices::build(replica()).await.expect("a replica");
    let second = flatgov_notices::build(replica()).await.expect("another");
    api::notices_client::NoticesClient::new(
        tonic::transport::Channel::from_shared(first.grpc_url())
            .unwrap()
            .connect_lazy(),
    )
    .set_gateway(with_token(
        api::SetGatewayRequest {
            name: "gateways/default".into(),
            kind: api::GatewayKind::SignedWebhook as i32,
            url: world.gateways.sms_url(),
            secret: SMS_SECRET.into(),
            description: String::new(),
        },
        &world.admin(),
    ))
    .await
    .unwrap();

    let bus = world.test.bus().await;
    let ids: Vec<uuid::Uuid> = (0..CASES).map(|_| uuid::Uuid::now_v7()).collect();
    let mut publishing = tokio::task::JoinSet::new();
    for (index, id) in ids.iter().enumerate() {
        let dispatched = cases::CaseDispatched {
            transition: transition(id, 3),
            assignee: format!("staff/{GOVERNOR}"),
            ..Default::default()
        };
        let accepted = cases::CaseAccepted {
            transition: transition(id, 4),
            assignee: format!("staff/{GOVERNOR}"),
        };
        let bus = bus.clone();
        let name = format!("cases/{id}");
        publishing.spawn(async move {
            let event_id = uuid::Uuid::now_v7().to_string();
            flatgov_testkit::events::publish_as(&bus, "cases", &event_id, &name, &dispatched).await;
            flatgov_testkit::events::publish_as(
                &bus,
                "cases",
                &uuid::Uuid::now_v7().to_string(),
                &name,
                &accepted,
            )
            .await;
            if index % 3 == 0 {
                // The same event again (a replay), and a second dispatch.
                flatgov_testkit::events::publish_as(&bus, "cases", &event_id, &name, &dispatched)
                    .await;
                flatgov_testkit::events::publish_as(
                    &bus,
                    "cases",
                    &uuid::Uuid::now_v7().to_string(),
                    &name,
                    &dispatched,
                )
                .await;
            }
        });
    }
    while let Some(published) = publishing.join_next().await {
        published.unwrap();
    }

    let expected = CASES * 2;
    eventually("every message taken", Duration::from_secs(120), || async {
        (world.gateways.accepted_count("sms") >= expected).then_some(())
    })
    .await;
    // Time for a message sent twice to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut taken: HashMap<(String, String), usize> = HashMap::new();
    for message in world.gateways.received() {
        assert!(message.signature_valid, "{message:?}");
        let key = (
            message.body["case"].as_str().unwrap_or_default().to_owned(),
            message.body["milestone"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        *taken.entry(key).or_default() += 1;
    }
    let twice: Vec<&(String, String)> = taken
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(key, _)| key)
        .collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    assert_eq!(taken.len(), expected);
    for id in &ids {
        for milestone in ["received", "accepted"] {
            assert_eq!(
                taken.get(&(format!("cases/{id}"), milestone.to_owned())),
                Some(&1),
                "cases/{id} {milestone}"
            );
        }
    }

    // One FeedbackSent per case and milestone, whichever replica sent it.
    let sent = eventually(
        "every FeedbackSent published",
        Duration::from_secs(30),
        || async {
            let sent: Vec<api::FeedbackSent> = world
                .notices_events()
                .await
                .into_iter()
                .filter(|event| event.is::<api::FeedbackSent>())
                .map(|event| event.decode().unwrap())
                .collect();
            (sent.len() >= expected).then_some(sent)
        },
    )
    .await;
    assert_eq!(sent.len(), expected);
    assert!(sent.iter().all(|event| event.attempts == 1), "{sent:?}");
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
}

/// When a message's case event happened, to the second (the database
/// keeps microseconds).
fn seconds(feedback: &api::Feedback) -> i64 {
    feedback
        .occurred_time
        .as_ref()
        .map_or(0, |time| time.seconds)
}

#[tokio::test]
async fn a_dispatch_applied_after_a_later_one_still_names_the_first_handler_while_nothing_was_sent()
{
    let world = World::new().await;
    // The cases service is away at first: the message waits, unattempted.
    let contacts_port = flatgov_testkit::free_port();
    let notices = world
        .start_notices(&format!("http://127.0.0.1:{contacts_port}"))
        .await;
    let mut client = api::notices_client::NoticesClient::new(
        tonic::transport::Channel::from_shared(notices.grpc_url())
            .unwrap()
            .connect_lazy(),
    );
    client
        .set_gateway(with_token(
            api::SetGatewayRequest {
                name: "gateways/default".into(),
                kind: api::GatewayKind::SignedWebhook as i32,
                url: world.gateways.sms_url(),
                secret: SMS_SECRET.into(),
                description: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7();
    let name = format!("cases/{id}");
    let first_time = chrono::Utc::now() - chrono::TimeDelta::minutes(10);
    let dispatch = |assignee: &str, at: chrono::DateTime<chrono::Utc>| cases::CaseDispatched {
        transition: Some(cases::CaseTransition {
            case: name.clone(),
            sequence: 3,
            block_code: BLOCK.into(),
            subdistrict_code: SUBDISTRICT.into(),
            occurred_at: Some(flatgov_grpc::time::timestamp(at)),
            ..Default::default()
        }),
        assignee: format!("staff/{assignee}"),
        ..Default::default()
    };
    let bus = world.test.bus().await;
    let feedback = |client: &api::notices_client::NoticesClient<tonic::transport::Channel>| {
        let mut client = client.clone();
        let name = name.clone();
        let token = world.dispatcher();
        async move {
            client
                .list_feedback(with_token(api::ListFeedbackRequest { case: name }, &token))
                .await
                .ok()
                .map(|answer| answer.into_inner().feedback)
                .unwrap_or_default()
        }
    };
    // The redispatch (later) is applied first…
    flatgov_testkit::events::publish_as(
        &bus,
        "cases",
        &uuid::Uuid::now_v7().to_string(),
        &name,
        &dispatch("gov-late", first_time + chrono::TimeDelta::minutes(5)),
    )
    .await;
    eventually("the message recorded", Duration::from_secs(30), || async {
        let rows = feedback(&client).await;
        (rows.len() == 1 && rows[0].note.contains("unavailable")).then_some(())
    })
    .await;
    // …then the first dispatch.
    flatgov_testkit::events::publish_as(
        &bus,
        "cases",
        &uuid::Uuid::now_v7().to_string(),
        &name,
        &dispatch("gov-first", first_time),
    )
    .await;
    eventually(
        "the first dispatch decides",
        Duration::from_secs(30),
        || async {
            let rows = feedback(&client).await;
            (rows.len() == 1 && seconds(&rows[0]) == first_time.timestamp()).then_some(())
        },
    )
    .await;

    let _contacts = world.serve_contacts_on(contacts_port).await;
    eventually("the message taken", Duration::from_secs(30), || async {
        (world.gateways.accepted_count("sms") == 1).then_some(())
    })
    .await;
    let text = world.gateways.received()[0].body["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(text.contains("工号 gov-first"), "{text}");
    let rows = eventually("the delivery recorded", Duration::from_secs(30), || async {
        let rows = feedback(&client).await;
        (rows.len() == 1 && rows[0].state == api::DeliveryState::Delivered as i32).then_some(rows)
    })
    .await;
    assert_eq!(rows[0].attempts, 1, "{rows:?}");

    // A dispatch older still, once the message went out, changes nothing.
    flatgov_testkit::events::publish_as(
        &bus,
        "cases",
        &uuid::Uuid::now_v7().to_string(),
        &name,
        &dispatch("gov-earliest", first_time - chrono::TimeDelta::minutes(5)),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rows = feedback(&client).await;
    assert_eq!(seconds(&rows[0]), first_time.timestamp());
    assert_eq!(world.gateways.accepted_count("sms"), 1);
    notices.shutdown().await.unwrap();
}
