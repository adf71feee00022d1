//! The cases service over real gRPC against real PostgreSQL and NATS, with contract
//! servers standing in for the block registry and the duty lists.

mod support;

use std::collections::{HashMap, HashSet};

use chrono::TimeDelta;
use flatgov_proto::blocks::v1::{BlockChange, BlockChangeKind, BlockGenerationActivated};
use flatgov_proto::cases::v1 as proto;
use flatgov_proto::duties::v1::{CatalogueMatter, MatterCataloguePublished};
use flatgov_proto::enforcement::v1::{OperationConcluded, OperationOutcome};
use flatgov_proto::federation::v1::ReferralAccepted;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;
use flatgov_testkit::{eventually, field_violations, with_token};
use prost::Message as _;
use support::*;
use tonic::Code;

/// What every lifecycle event leads with (field 1), whatever follows.
#[derive(Clone, PartialEq, prost::Message)]
struct LeadingTransition {
    #[prost(message, optional, tag = "1")]
    transition: Option<proto::CaseTransition>,
}

fn violated_fields(status: &tonic::Status) -> Vec<String> {
    field_violations(status)
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}

async fn dispatched_street_light(
    world: &World,
    service: &Service,
    request_id: &str,
) -> proto::Case {
    let case = report(service, &world.resident(), street_light_report(request_id))
        .await
        .case
        .unwrap();
    service
        .case_until(
            &world.admin(),
            &case.name,
            "the street light to be dispatched",
            |case| state(case) == proto::CaseState::Dispatched,
        )
        .await
}

#[tokio::test]
async fn a_report_is_received_while_blocks_and_duties_are_down_and_triaged_when_they_return() {
    let world = World::new();
    let service = world.start().await;
    let received = report(&service, &world.resident(), street_light_report("down-1")).await;
    let case = received.case.unwrap();
    assert_eq!(state(&case), proto::CaseState::Reported);
    assert!(!received.me_too);

    let waiting = service
        .case_until(
            &world.admin(),
            &case.name,
            "triage to say what it waits for",
            |case| case.triage_note.contains("waiting for the block registry"),
        )
        .await;
    assert_eq!(waiting.triage_status, proto::TriageStatus::Pending as i32);
    assert_eq!(state(&waiting), proto::CaseState::Reported);

    let directory = world.start_directory().await;
    let dispatched = service
        .case_until(&world.admin(), &case.name, "triage to complete", |case| {
            state(case) == proto::CaseState::Dispatched
        })
        .await;
    assert_eq!(dispatched.assignee, format!("staff/{GOVERNOR}"));
    assert_eq!(dispatched.block, format!("blocks/{BLOCK}"));
    assert_eq!(dispatched.subdistrict_code, SUBDISTRICT);
    assert_eq!(dispatched.tier, HandlingTier::FrontLine as i32);
    assert_eq!(
        dispatched.triage_status,
        proto::TriageStatus::Complete as i32
    );
    assert!(dispatched.acceptance_due.is_some() && dispatched.resolution_due.is_some());
    assert_eq!(
        world
            .directory
            .unauthenticated
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );

    let events = world
        .events_until("the dispatch event", |events| {
            types_of(events, &case.name).contains(&"CaseDispatched".to_owned())
        })
        .await;
    assert_eq!(
        types_of(&events, &case.name),
        ["CaseReported", "CaseTriaged", "CaseDispatched"]
    );
    directory.stop().await;
    service.stop().await;
}

#[tokio::test]
async fn a_retried_report_returns_the_first_case_even_when_the_retries_race() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let first = report(&service, &world.resident(), street_light_report("retry-1")).await;
    let again = report(&service, &world.resident(), street_light_report("retry-1")).await;
    assert_eq!(
        first.case.as_ref().unwrap().name,
        again.case.as_ref().unwrap().name
    );
    assert!(!again.me_too);

    let mut burst = Vec::new();
    for _ in 0..8 {
        let client = service.client();
        let token = world.resident();
        let mut request = street_light_report("burst-1");
        request.location = Some(point_in_block(500.0));
        burst.push(tokio::spawn(async move {
            let mut client = client;
            client
                .report_case(with_token(request, &token))
                .await
                .unwrap()
                .into_inner()
                .case
                .unwrap()
                .name
        }));
    }
    let mut names = HashSet::new();
    for call in burst {
        names.insert(call.await.unwrap());
    }
    assert_eq!(
        names.len(),
        1,
        "eight racing retries made one case: {names:?}"
    );

    let listed = service
        .client()
        .list_cases(with_token(
            proto::ListCasesRequest::default(),
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(listed.len(), 2);
    let events = world
        .events_until("both cases' dispatches", |events| {
            events
                .iter()
                .filter(|event| event.event_type == "flatgov.cases.v1.CaseDispatched")
                .count()
                == 2
        })
        .await;
    let reported = events
        .iter()
        .filter(|event| event.event_type == "flatgov.cases.v1.CaseReported")
        .count();
    assert_eq!(reported, 2);
    service.stop().await;
}

#[tokio::test]
async fn a_report_near_an_open_case_of_the_same_matter_is_linked_to_it_as_me_too() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let first = dispatched_street_light(&world, &service, "lamp-1").await;

    let mut nearby = street_light_report("lamp-2");
    nearby.location = Some(point_in_block(20.0));
    nearby.reporter = Some(proto::Contact {
        name: "王五".into(),
        phone: "13700002222".into(),
    });
    let linked = report(&service, &world.resident(), nearby).await;
    assert!(linked.me_too);
    let linked_case = linked.case.unwrap();
    assert_eq!(linked_case.name, first.name);
    assert_eq!(linked_case.me_too_count, 1);
    assert!(
        linked
            .report
            .starts_with(&format!("{}/reports/", first.name))
    );

    let mut far = street_light_report("lamp-3");
    far.location = Some(point_in_block(300.0));
    let separate = report(&service, &world.resident(), far).await;
    assert!(!separate.me_too);
    assert_ne!(separate.case.unwrap().name, first.name);

    let mut other_matter = street_light_report("lamp-4");
    other_matter.matter_code = STALL_ENCROACHMENT.into();
    other_matter.location = Some(point_in_block(10.0));
    assert!(
        !report(&service, &world.resident(), other_matter)
            .await
            .me_too
    );

    let counted = service.get(&world.admin(), &first.name).await;
    assert_eq!(counted.me_too_count, 1);
    let events = world
        .events_until("the me-too event", |events| {
            types_of(events, &first.name).contains(&"CaseMeTooLinked".to_owned())
        })
        .await;
    for event in &events {
        let payload = String::from_utf8_lossy(&event.payload);
        assert!(!payload.contains("王五") && !payload.contains("13700002222"));
    }
    service.stop().await;
}

#[tokio::test]
async fn a_dispatch_the_duty_list_gate_refuses_is_not_made_and_the_refusal_is_shown_on_the_case() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let mut errand = street_light_report("");
    errand.kind = proto::CaseKind::Errand as i32;
    errand.channel = proto::Channel::WalkIn as i32;
    errand.matter_code = PENSION_REVIEW.into();
    errand.description = "代办养老金年审".into();
    let case = report(&service, &world.dispatcher(), errand)
        .await
        .case
        .unwrap();

    let refused = service
        .case_until(
            &world.dispatcher(),
            &case.name,
            "the gate's refusal",
            |case| case.dispatch_refusal.is_some(),
        )
        .await;
    assert_eq!(state(&refused), proto::CaseState::Triaged);
    assert_eq!(refused.assignee, "");
    assert_eq!(
        refused.triage_status,
        proto::TriageStatus::DispatchRefused as i32
    );
    let refusal = refused.dispatch_refusal.unwrap();
    assert_eq!(refusal.reason_code, "NOT_ON_RESIDENTS_COMMITTEE_LISTS");
    assert_eq!(refusal.attempted_assignee, format!("staff/{GOVERNOR}"));
    assert_eq!(
        refusal.responsible_instead.unwrap().code,
        "human_resources_social_security"
    );

    // The dispatcher sends it to the department the gate named.
    let with_department = service
        .client()
        .reassign_case(with_token(
            proto::ReassignCaseRequest {
                name: case.name.clone(),
                assignee: "departments/human_resources_social_security".into(),
                tier: 0,
                reason: "the gate names the social security bureau".into(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&with_department), proto::CaseState::Dispatched);
    assert!(with_department.dispatch_refusal.is_none());

    // The department may not push it down onto the subdistrict: refused, recorded, kept.
    let pushed = service
        .client()
        .reassign_case(with_token(
            proto::ReassignCaseRequest {
                name: case.name.clone(),
                assignee: format!("subdistricts/{SUBDISTRICT}"),
                tier: 0,
                reason: "the subdistrict is closer to the resident".into(),
            },
            &world.department("human_resources_social_security"),
        ))
        .await
        .unwrap_err();
    assert_eq!(pushed.code(), Code::FailedPrecondition);
    assert!(
        pushed.message().contains("NOT_ON_SUBDISTRICT_LISTS"),
        "{}",
        pushed.message()
    );
    let kept = service
        .get(
            &world.department("human_resources_social_security"),
            &case.name,
        )
        .await;
    assert_eq!(kept.assignee, "departments/human_resources_social_security");
    assert_eq!(
        kept.dispatch_refusal.unwrap().reason_code,
        "NOT_ON_SUBDISTRICT_LISTS"
    );
    assert_eq!(world.directory.recorded_refusals.lock().unwrap().len(), 2);

    let events = world
        .events_until("the refusals", |events| {
            types_of(events, &case.name)
                .iter()
                .filter(|kind| *kind == "CaseDispatchRefused")
                .count()
                == 2
        })
        .await;
    assert_eq!(
        types_of(&events, &case.name),
        [
            "CaseReported",
            "CaseTriaged",
            "CaseDispatchRefused",
            "CaseDispatched",
            "CaseDispatchRefused"
        ]
    );
    service.stop().await;
}

#[tokio::test]
async fn the_front_line_loop_runs_from_report_to_close_with_every_event_in_order_and_no_personal_data()
 {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = dispatched_street_light(&world, &service, "loop-1").await;
    let name = case.name.clone();
    let mut client = service.client();

    let accepted = client
        .accept_case(with_token(
            proto::AcceptCaseRequest { name: name.clone() },
            &world.governor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&accepted), proto::CaseState::Accepted);
    client
        .start_work(with_token(
            proto::StartWorkRequest { name: name.clone() },
            &world.governor(),
        ))
        .await
        .unwrap();
    let resolved = client
        .resolve_case(with_token(
            proto::ResolveCaseRequest {
                name: name.clone(),
                resolution_note: "换了灯泡".into(),
            },
            &world.governor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.resolved_by, GOVERNOR);
    let verified = client
        .verify_case(with_token(
            proto::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &world.supervisor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&verified), proto::CaseState::Verified);
    let closed = client
        .rate_case(with_token(
            proto::RateCaseRequest {
                name: name.clone(),
                rating: proto::Rating::Satisfied as i32,
                comment: "很快, 谢谢".into(),
            },
            &world.resident(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&closed), proto::CaseState::Closed);
    assert_eq!(closed.closure, proto::Closure::Rated as i32);
    assert_eq!(closed.rating_comment, "很快, 谢谢");

    let expected = [
        "CaseReported",
        "CaseTriaged",
        "CaseDispatched",
        "CaseAccepted",
        "CaseWorkStarted",
        "CaseResolved",
        "CaseVerified",
        "CaseRated",
        "CaseClosed",
    ];
    let events = world
        .events_until("the closing event", |events| {
            types_of(events, &name).len() == expected.len()
        })
        .await;
    assert_eq!(types_of(&events, &name), expected);
    let mut sequence = 0;
    for event in events.iter().filter(|event| event.resource == name) {
        assert_eq!(event.source, "flatgov/cases");
        assert_eq!(event.header("ce-specversion").as_deref(), Some("1.0"));
        assert_eq!(
            event.header("Nats-Msg-Id").as_deref(),
            Some(event.id.as_str())
        );
        let payload = String::from_utf8_lossy(&event.payload);
        for personal in ["李四", "13900001111", "楼下路灯", "很快"] {
            assert!(
                !payload.contains(personal),
                "{} carries {personal}",
                event.event_type
            );
        }
        let transition = LeadingTransition::decode(event.payload.clone())
            .unwrap()
            .transition
            .unwrap();
        sequence += 1;
        assert_eq!(transition.sequence, sequence, "{}", event.event_type);
    }

    // Personal data only for those who need it.
    let for_integrator = service.get(&world.integrator(), &name).await;
    assert!(for_integrator.reporter.is_none() && for_integrator.description.is_empty());
    assert!(for_integrator.personal_data_redacted);
    let for_dispatcher = service.get(&world.dispatcher(), &name).await;
    assert_eq!(for_dispatcher.reporter.unwrap().phone, "13900001111");
    let neighbour = client
        .get_case(with_token(
            proto::GetCaseRequest { name: name.clone() },
            &world.neighbour_governor(),
        ))
        .await
        .unwrap_err();
    // Another block's case is answered exactly like a case that does not exist.
    assert_eq!(neighbour.code(), Code::NotFound);
    let missing_name = format!("cases/{}", uuid::Uuid::now_v7());
    let missing = client
        .get_case(with_token(
            proto::GetCaseRequest {
                name: missing_name.clone(),
            },
            &world.neighbour_governor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        neighbour.message().replace(&name, "X"),
        missing.message().replace(&missing_name, "X")
    );

    let history = service.history(&world.dispatcher(), &name).await;
    let actions: Vec<&str> = history
        .iter()
        .map(|record| record.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "reported",
            "triaged",
            "dispatched",
            "accepted",
            "work_started",
            "resolved",
            "verified",
            "rated",
            "closed"
        ]
    );
    assert_eq!(history[6].actor.as_ref().unwrap().staff, SUPERVISOR);

    let now = chrono::Utc::now();
    let indicators = client
        .get_indicators(with_token(
            proto::GetIndicatorsRequest {
                period_start: Some(prost_types::Timestamp {
                    seconds: (now - TimeDelta::days(1)).timestamp(),
                    nanos: 0,
                }),
                period_end: Some(prost_types::Timestamp {
                    seconds: (now + TimeDelta::days(1)).timestamp(),
                    nanos: 0,
                }),
                as_of: None,
                group_by: proto::IndicatorGrouping::Block as i32,
                subdistrict_code: String::new(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(indicators.groups.len(), 1);
    let block = &indicators.groups[0];
    assert_eq!(block.key, BLOCK);
    assert_eq!(block.received, 1);
    let resolution = block.resolution_rate.unwrap();
    assert_eq!((resolution.numerator, resolution.denominator), (1, 1));
    assert_eq!(block.satisfaction_rate.unwrap().percent, Some(100.0));
    assert_eq!(block.response_rate.unwrap().percent, Some(100.0));
    service.stop().await;
}

#[tokio::test]
async fn illegal_transitions_and_bad_input_are_refused_by_name_and_change_nothing() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = dispatched_street_light(&world, &service, "bad-1").await;
    let name = case.name.clone();
    let mut client = service.client();

    let too_early = client
        .rate_case(with_token(
            proto::RateCaseRequest {
                name: name.clone(),
                rating: proto::Rating::Satisfied as i32,
                comment: String::new(),
            },
            &world.resident(),
        ))
        .await
        .unwrap_err();
    assert_eq!(too_early.code(), Code::FailedPrecondition);
    assert!(
        too_early.message().contains("dispatched"),
        "{}",
        too_early.message()
    );

    for step in ["accept", "start", "resolve"] {
        let token = world.governor();
        match step {
            "accept" => {
                client
                    .accept_case(with_token(
                        proto::AcceptCaseRequest { name: name.clone() },
                        &token,
                    ))
                    .await
                    .unwrap();
            }
            "start" => {
                client
                    .start_work(with_token(
                        proto::StartWorkRequest { name: name.clone() },
                        &token,
                    ))
                    .await
                    .unwrap();
            }
            _ => {
                client
                    .resolve_case(with_token(
                        proto::ResolveCaseRequest {
                            name: name.clone(),
                            resolution_note: String::new(),
                        },
                        &token,
                    ))
                    .await
                    .unwrap();
            }
        }
    }
    let own_work = client
        .verify_case(with_token(
            proto::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &world.governor(),
        ))
        .await
        .unwrap_err();
    // A governor does not verify (the block's supervisor does), and the refusal names
    // nobody.
    assert_eq!(own_work.code(), Code::PermissionDenied);
    assert!(
        own_work.message().contains("VerifyCase"),
        "{}",
        own_work.message()
    );
    assert!(
        !own_work.message().contains(GOVERNOR),
        "{}",
        own_work.message()
    );

    let mut oversized = street_light_report("bad-2");
    oversized.description = "井".repeat(2001);
    let status = client
        .report_case(with_token(oversized, &world.resident()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["description"]);

    let malformed = client
        .get_case(with_token(
            proto::GetCaseRequest {
                name: "cases/42".into(),
            },
            &world.admin(),
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&malformed), ["name"]);
    let mut bad_block = street_light_report("bad-3");
    bad_block.block = "blocks/017".into();
    let status = client
        .report_case(with_token(bad_block, &world.governor()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["block"]);

    // Before any catalogue arrived, a well-formed unknown matter is accepted and the
    // duty lists' verdict sends it to the subdistrict to classify.
    let mut unknown = street_light_report("bad-4");
    unknown.matter_code = "nobody_knows".into();
    unknown.location = Some(point_in_block(900.0));
    let accepted_before = report(&service, &world.resident(), unknown.clone())
        .await
        .case
        .unwrap();
    let held = service
        .case_until(
            &world.dispatcher(),
            &accepted_before.name,
            "the unknown matter verdict",
            |case| case.triage_status == proto::TriageStatus::UnknownMatter as i32,
        )
        .await;
    assert_eq!(state(&held), proto::CaseState::Reported);

    // Once the catalogue is here, intake refuses unknown matters itself.
    world
        .publish(
            "duties",
            "matter-catalogue",
            &MatterCataloguePublished {
                matters: [
                    STREET_LIGHT,
                    STALL_ENCROACHMENT,
                    PENSION_REVIEW,
                    NEEDY_SUPPORT,
                ]
                .iter()
                .map(|code| CatalogueMatter {
                    code: (*code).into(),
                    name: (*code).into(),
                    ..Default::default()
                })
                .collect(),
                effective_from: None,
            },
        )
        .await;
    let pool = service.application.pool().clone();
    eventually("the catalogue to be applied", PATIENCE, || async {
        let matters: Option<i32> = sqlx::query_scalar("select matters from matter_catalogue_state")
            .fetch_optional(&pool)
            .await
            .unwrap();
        (matters == Some(4)).then_some(())
    })
    .await;
    unknown.request_id = "bad-5".into();
    let refused = client
        .report_case(with_token(unknown.clone(), &world.resident()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["matter_code"]);
    assert!(refused.message().contains("nobody_knows"));

    let listed = client
        .list_cases(with_token(
            proto::ListCasesRequest::default(),
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(listed.len(), 2, "refused reports created nothing");
    let unchanged = service.get(&world.admin(), &name).await;
    assert_eq!(state(&unchanged), proto::CaseState::Resolved);
    service.stop().await;
}

#[tokio::test]
async fn an_overdue_case_escalates_from_the_front_line_to_a_meeting_to_the_whistle_and_is_published_once()
 {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let mut patrol = street_light_report("");
    patrol.channel = proto::Channel::Patrol as i32;
    patrol.matter_code = STALL_ENCROACHMENT.into();
    patrol.reporter = None;
    patrol.description = "占道经营, 堵住了人行道".into();
    let case = report(&service, &world.governor(), patrol)
        .await
        .case
        .unwrap();
    let name = case.name.clone();
    let dispatched = service
        .case_until(&world.admin(), &name, "dispatch to the governor", |case| {
            state(case) == proto::CaseState::Dispatched
        })
        .await;
    assert_eq!(dispatched.assignee, format!("staff/{GOVERNOR}"));

    service
        .advance_clock(&world.admin(), TimeDelta::days(30))
        .await;
    let at_meeting = service
        .case_until(&world.admin(), &name, "escalation to a meeting", |case| {
            case.tier == HandlingTier::CoordinationMeeting as i32
        })
        .await;
    assert_eq!(at_meeting.assignee, format!("subdistricts/{SUBDISTRICT}"));
    assert_eq!(state(&at_meeting), proto::CaseState::Dispatched);
    assert!(!at_meeting.overdue, "the new tier has fresh time limits");

    service
        .advance_clock(&world.admin(), TimeDelta::days(30))
        .await;
    let at_whistle = service
        .case_until(&world.admin(), &name, "escalation to the whistle", |case| {
            case.tier == HandlingTier::Whistle as i32
        })
        .await;
    assert_eq!(at_whistle.assignee, "departments/urban_management");

    service
        .advance_clock(&world.admin(), TimeDelta::days(30))
        .await;
    let flagged = eventually("the whistle's limit to be flagged", PATIENCE, || async {
        let history = service.history(&world.admin(), &name).await;
        history
            .iter()
            .any(|record| record.action == "marked_overdue")
            .then_some(history)
    })
    .await;
    let escalations: Vec<_> = flagged
        .iter()
        .filter(|record| record.action == "escalated")
        .collect();
    assert_eq!(escalations.len(), 2);
    assert_eq!(escalations[0].details["cause"], "overdue_acceptance");

    let events = world
        .events_until("both of the whistle's limits to be flagged", |events| {
            types_of(events, &name)
                .iter()
                .filter(|kind| *kind == "CaseOverdue")
                .count()
                == 4
        })
        .await;
    assert_eq!(
        types_of(&events, &name),
        [
            "CaseReported",
            "CaseTriaged",
            "CaseDispatched",
            "CaseOverdue",
            "CaseEscalated",
            "CaseOverdue",
            "CaseEscalated",
            "CaseOverdue",
            "CaseOverdue"
        ]
    );
    let whistles: Vec<proto::CaseEscalated> = events
        .iter()
        .filter(|event| event.event_type == "flatgov.cases.v1.CaseEscalated")
        .map(|event| proto::CaseEscalated::decode(event.payload.clone()).unwrap())
        .filter(|escalated| escalated.to_tier == HandlingTier::Whistle as i32)
        .collect();
    assert_eq!(whistles.len(), 1, "the whistle is blown once");
    assert_eq!(
        whistles[0].agencies,
        ["urban_management", "market_supervision"]
    );
    assert_eq!(whistles[0].reason, proto::EscalationReason::Overdue as i32);
    assert_eq!(
        whistles[0].from_tier,
        HandlingTier::CoordinationMeeting as i32
    );
    assert_eq!(whistles[0].block_code, BLOCK);
    let flags: Vec<proto::CaseOverdue> = events
        .iter()
        .filter(|event| {
            event.resource == name && event.event_type == "flatgov.cases.v1.CaseOverdue"
        })
        .map(|event| proto::CaseOverdue::decode(event.payload.clone()).unwrap())
        .collect();
    let escalated: Vec<bool> = flags.iter().map(|flag| flag.escalated).collect();
    assert_eq!(escalated, [true, true, false, false]);
    assert_eq!(flags[2].deadline, proto::DeadlineKind::Acceptance as i32);
    assert_eq!(flags[3].deadline, proto::DeadlineKind::Resolution as i32);
    let history = service.history(&world.admin(), &name).await;
    let flagged_count = history
        .iter()
        .filter(|record| record.action == "marked_overdue")
        .count();
    assert_eq!(
        flagged_count, 2,
        "each of the whistle's limits is flagged once"
    );
    service.stop().await;
}

#[tokio::test]
async fn a_concluded_joint_operation_moves_the_whistled_case_on_to_verification_rating_and_closing()
{
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let mut patrol = street_light_report("");
    patrol.channel = proto::Channel::Hotline12345 as i32;
    patrol.matter_code = STALL_ENCROACHMENT.into();
    let case = report(&service, &world.dispatcher(), patrol)
        .await
        .case
        .unwrap();
    let name = case.name.clone();
    service
        .case_until(&world.dispatcher(), &name, "dispatch", |case| {
            state(case) == proto::CaseState::Dispatched
        })
        .await;
    for _ in 0..2 {
        service
            .client()
            .escalate_case(with_token(
                proto::EscalateCaseRequest {
                    name: name.clone(),
                    reason: "the stall owner refuses to move".into(),
                    agencies: vec![],
                },
                &world.dispatcher(),
            ))
            .await
            .unwrap();
    }
    let whistled = service.get(&world.dispatcher(), &name).await;
    assert_eq!(whistled.tier, HandlingTier::Whistle as i32);

    world
        .publish(
            "enforcement",
            "operations/1",
            &OperationConcluded {
                operation: "operations/1".into(),
                case: name.clone(),
                outcome: OperationOutcome::Resolved as i32,
                concluded_at: None,
            },
        )
        .await;
    let resolved = service
        .case_until(
            &world.dispatcher(),
            &name,
            "the conclusion to resolve the case",
            |case| state(case) == proto::CaseState::Resolved,
        )
        .await;
    assert_eq!(resolved.resolved_by, "system");
    assert!(resolved.resolution_note.contains("operations/1"));

    // The platform verifies higher tiers; the supervisor may not.
    let supervisor = service
        .client()
        .verify_case(with_token(
            proto::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &world.supervisor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(supervisor.code(), Code::PermissionDenied);
    service
        .client()
        .verify_case(with_token(
            proto::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    let closed = service
        .client()
        .rate_case(with_token(
            proto::RateCaseRequest {
                name: name.clone(),
                rating: proto::Rating::BasicallySatisfied as i32,
                comment: String::new(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&closed), proto::CaseState::Closed);
    let history = service.history(&world.dispatcher(), &name).await;
    let system_steps: Vec<&str> = history
        .iter()
        .filter(|record| record.actor.as_ref().unwrap().kind == proto::ActorKind::System as i32)
        .map(|record| record.action.as_str())
        .collect();
    assert_eq!(
        system_steps,
        [
            "triaged",
            "dispatched",
            "accepted",
            "work_started",
            "resolved",
            "closed"
        ]
    );
    service.stop().await;
}

#[tokio::test]
async fn a_new_boundary_generation_rehomes_open_cases_to_the_new_blocks_team_with_a_reason() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let moving = dispatched_street_light(&world, &service, "move-1").await;
    let mut staying_request = street_light_report("stay-1");
    staying_request.location = Some(point_in_neighbour());
    let staying = report(&service, &world.resident(), staying_request)
        .await
        .case
        .unwrap();
    service
        .case_until(
            &world.admin(),
            &staying.name,
            "dispatch in the neighbour block",
            |case| state(case) == proto::CaseState::Dispatched,
        )
        .await;

    // Block 017 is split: its southern part becomes block 019.
    {
        let mut blocks = world.directory.blocks.lock().unwrap();
        blocks[0].rectangle = (27.8505, 112.90, 27.86, 112.91);
        blocks.push(FakeBlock {
            code: "430302001004019".into(),
            rectangle: (27.84, 112.90, 27.8505, 112.91),
            governor: "gov-019".into(),
            supervisor: "sup-019".into(),
        });
    }
    world
        .publish(
            "blocks",
            "generations/2",
            &BlockGenerationActivated {
                generation: "generations/2".into(),
                previous_generation: "generations/1".into(),
                activated_at: None,
                changes: vec![
                    BlockChange {
                        block_code: BLOCK.into(),
                        kind: BlockChangeKind::Reshaped as i32,
                        ..Default::default()
                    },
                    BlockChange {
                        block_code: "430302001004019".into(),
                        kind: BlockChangeKind::Created as i32,
                        ..Default::default()
                    },
                ],
            },
        )
        .await;
    let moved = service
        .case_until(&world.admin(), &moving.name, "re-homing", |case| {
            case.block == "blocks/430302001004019"
        })
        .await;
    assert_eq!(moved.assignee, "staff/gov-019");
    assert_eq!(state(&moved), proto::CaseState::Dispatched);
    let history = service.history(&world.admin(), &moving.name).await;
    let rehomed = history
        .iter()
        .find(|record| record.action == "rehomed")
        .unwrap();
    assert!(
        rehomed.reason.contains("generations/2"),
        "{}",
        rehomed.reason
    );
    assert_eq!(rehomed.details["to_block"], "blocks/430302001004019");

    let events = world
        .events_until("the re-homing event", |events| {
            types_of(events, &moving.name).contains(&"CaseRehomed".to_owned())
        })
        .await;
    let event = events
        .iter()
        .find(|event| event.event_type == "flatgov.cases.v1.CaseRehomed")
        .unwrap();
    let rehomed_event = proto::CaseRehomed::decode(event.payload.clone()).unwrap();
    assert_eq!(rehomed_event.from_block_code, BLOCK);
    assert_eq!(rehomed_event.generation, "generations/2");
    let unmoved = service.get(&world.admin(), &staying.name).await;
    assert_eq!(unmoved.block, format!("blocks/{NEIGHBOUR}"));
    assert_eq!(
        service.history(&world.admin(), &staying.name).await.len(),
        3
    );
    service.stop().await;
}

#[tokio::test]
async fn a_needy_person_case_is_referred_and_handed_to_the_organisation_that_accepts_it() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let mut needy = street_light_report("needy-1");
    needy.kind = proto::CaseKind::NeedySupport as i32;
    needy.channel = proto::Channel::WalkIn as i32;
    needy.matter_code = NEEDY_SUPPORT.into();
    needy.description = "独居老人, 行动不便, 需要帮扶".into();
    let case = report(&service, &world.dispatcher(), needy)
        .await
        .case
        .unwrap();
    let name = case.name.clone();
    let referred = service
        .case_until(&world.dispatcher(), &name, "the referral", |case| {
            case.referral.is_some()
        })
        .await;
    assert_eq!(
        referred.referral.unwrap().state,
        proto::ReferralState::Pending as i32
    );
    let events = world
        .events_until("CaseReferred", |events| {
            types_of(events, &name).contains(&"CaseReferred".to_owned())
        })
        .await;
    let reported = events
        .iter()
        .find(|event| event.event_type == "flatgov.cases.v1.CaseReported")
        .unwrap();
    assert!(
        proto::CaseReported::decode(reported.payload.clone())
            .unwrap()
            .location
            .is_none(),
        "a person's home is not published"
    );
    let federation = world.federation("womens_federation");
    let before = service.get(&federation, &name).await;
    assert!(
        before.reporter.is_none(),
        "contact only once the organisation takes the case"
    );

    world
        .publish(
            "federation",
            "referrals/7",
            &ReferralAccepted {
                referral: "referrals/7".into(),
                case: name.clone(),
                organisation: "womens_federation".into(),
                support_plan: "support-plans/3".into(),
                accepted_at: None,
            },
        )
        .await;
    let accepted = service
        .case_until(&federation, &name, "the acceptance", |case| {
            state(case) == proto::CaseState::Accepted
        })
        .await;
    assert_eq!(accepted.assignee, "organisations/womens_federation");
    let referral = accepted.referral.unwrap();
    assert_eq!(referral.state, proto::ReferralState::Accepted as i32);
    assert_eq!(referral.support_plan, "support-plans/3");
    assert!(accepted.reporter.is_some());
    service.stop().await;
}

#[tokio::test]
async fn reports_outside_every_block_or_unclassified_wait_for_a_dispatcher_and_are_never_dropped() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let mut lost = street_light_report("lost-1");
    lost.location = Some(point_nowhere());
    let lost = report(&service, &world.resident(), lost)
        .await
        .case
        .unwrap();
    let awaiting = service
        .case_until(&world.admin(), &lost.name, "the location verdict", |case| {
            state(case) == proto::CaseState::AwaitingManualLocation
        })
        .await;
    assert_eq!(
        awaiting.triage_status,
        proto::TriageStatus::OutsideBlocks as i32
    );
    let listed = service
        .client()
        .list_cases(with_token(
            proto::ListCasesRequest {
                triage_status: proto::TriageStatus::OutsideBlocks as i32,
                ..Default::default()
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(listed.len(), 1);
    service
        .client()
        .classify_case(with_token(
            proto::ClassifyCaseRequest {
                name: lost.name.clone(),
                matter_code: String::new(),
                block: format!("blocks/{BLOCK}"),
                tier: 0,
                reason: "the resident's phone put the point far off".into(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    service
        .case_until(
            &world.dispatcher(),
            &lost.name,
            "dispatch after placing",
            |case| state(case) == proto::CaseState::Dispatched,
        )
        .await;

    let mut unclassified = street_light_report("what-1");
    unclassified.matter_code = String::new();
    unclassified.location = Some(point_in_neighbour());
    let unclassified = report(&service, &world.resident(), unclassified)
        .await
        .case
        .unwrap();
    let waiting = service
        .case_until(
            &world.dispatcher(),
            &unclassified.name,
            "located, awaiting classification",
            |case| case.triage_status == proto::TriageStatus::AwaitingClassification as i32,
        )
        .await;
    assert_eq!(waiting.block, format!("blocks/{NEIGHBOUR}"));
    let other = service
        .client()
        .classify_case(with_token(
            proto::ClassifyCaseRequest {
                name: unclassified.name.clone(),
                matter_code: STREET_LIGHT.into(),
                ..Default::default()
            },
            &world.other_dispatcher(),
        ))
        .await
        .unwrap_err();
    // A case of another subdistrict does not exist for this dispatcher.
    assert_eq!(other.code(), Code::NotFound);
    service
        .client()
        .classify_case(with_token(
            proto::ClassifyCaseRequest {
                name: unclassified.name.clone(),
                matter_code: STREET_LIGHT.into(),
                ..Default::default()
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    let dispatched = service
        .case_until(
            &world.dispatcher(),
            &unclassified.name,
            "dispatch after classifying",
            |case| state(case) == proto::CaseState::Dispatched,
        )
        .await;
    assert_eq!(dispatched.assignee, format!("staff/{NEIGHBOUR_GOVERNOR}"));
    let history = service
        .history(&world.dispatcher(), &unclassified.name)
        .await;
    assert_eq!(history[1].actor.as_ref().unwrap().staff, "disp-001");
    service.stop().await;
}

#[tokio::test]
async fn an_anonymous_report_closes_unrated_once_verified() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let mut anonymous = street_light_report("anon-1");
    anonymous.anonymous = true;
    anonymous.reporter = None;
    let case = report(&service, &world.admin(), anonymous)
        .await
        .case
        .unwrap();
    let name = case.name.clone();
    service
        .case_until(&world.admin(), &name, "dispatch", |case| {
            state(case) == proto::CaseState::Dispatched
        })
        .await;
    let mut client = service.client();
    client
        .accept_case(with_token(
            proto::AcceptCaseRequest { name: name.clone() },
            &world.governor(),
        ))
        .await
        .unwrap();
    client
        .start_work(with_token(
            proto::StartWorkRequest { name: name.clone() },
            &world.governor(),
        ))
        .await
        .unwrap();
    client
        .resolve_case(with_token(
            proto::ResolveCaseRequest {
                name: name.clone(),
                resolution_note: String::new(),
            },
            &world.governor(),
        ))
        .await
        .unwrap();
    let closed = client
        .verify_case(with_token(
            proto::VerifyCaseRequest {
                name: name.clone(),
                passed: true,
                reason: String::new(),
            },
            &world.supervisor(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&closed), proto::CaseState::Closed);
    assert_eq!(closed.closure, proto::Closure::Unrated as i32);
    service.stop().await;
}

#[tokio::test]
async fn two_replicas_fire_each_deadline_once_and_publish_each_event_once() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let first = world.start().await;
    let second = world.start().await;
    let replicas = [&first, &second];
    let mut names = Vec::new();
    for index in 0..6 {
        let replica = replicas[index % 2];
        let mut request = street_light_report(&format!("pair-{index}"));
        request.location = Some(point_in_block(150.0 * index as f64));
        names.push(
            report(replica, &world.resident(), request)
                .await
                .case
                .unwrap()
                .name,
        );
    }
    for (index, name) in names.iter().enumerate() {
        replicas[(index + 1) % 2]
            .case_until(&world.admin(), name, "dispatch", |case| {
                state(case) == proto::CaseState::Dispatched
            })
            .await;
    }
    // The clock moves for both replicas.
    first
        .advance_clock(&world.admin(), TimeDelta::days(30))
        .await;
    for (index, name) in names.iter().enumerate() {
        replicas[index % 2]
            .case_until(&world.admin(), name, "escalation", |case| {
                case.tier == HandlingTier::CoordinationMeeting as i32
            })
            .await;
    }
    let expected_per_case = 5; // reported, triaged, dispatched, overdue, escalated
    world
        .events_until("every case's escalation", |events| {
            names
                .iter()
                .all(|name| types_of(events, name).len() >= expected_per_case)
        })
        .await;
    // Give a late duplicate (a second firing by the other replica) the chance to show.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let events = world.events_now().await;
    let ids: HashSet<&str> = events.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "no event id appears twice");
    for name in &names {
        assert_eq!(
            types_of(&events, name),
            [
                "CaseReported",
                "CaseTriaged",
                "CaseDispatched",
                "CaseOverdue",
                "CaseEscalated"
            ],
            "{name}"
        );
        let history = second.history(&world.admin(), name).await;
        let escalations = history
            .iter()
            .filter(|record| record.action == "escalated")
            .count();
        assert_eq!(escalations, 1, "{name} escalated once");
    }
    let mut sequences: HashMap<(String, String), usize> = HashMap::new();
    for event in &events {
        *sequences
            .entry((event.resource.clone(), event.event_type.clone()))
            .or_default() += 1;
    }
    assert!(sequences.values().all(|count| *count == 1));
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn the_platform_holds_a_meeting_grants_an_extension_and_parks_what_cannot_be_solved_now() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = dispatched_street_light(&world, &service, "meet-1").await;
    let name = case.name.clone();
    let mut client = service.client();

    let too_early = client
        .schedule_meeting(with_token(
            proto::ScheduleMeetingRequest {
                case: name.clone(),
                scheduled_for: Some(prost_types::Timestamp {
                    seconds: chrono::Utc::now().timestamp() + 86_400,
                    nanos: 0,
                }),
                participants: vec![format!("subdistricts/{SUBDISTRICT}")],
                ..Default::default()
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        too_early.code(),
        Code::FailedPrecondition,
        "{}",
        too_early.message()
    );

    client
        .escalate_case(with_token(
            proto::EscalateCaseRequest {
                name: name.clone(),
                reason: "the lamp belongs to three owners who disagree".into(),
                agencies: vec![],
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    let schedule = proto::ScheduleMeetingRequest {
        case: name.clone(),
        request_id: "meeting-1".into(),
        scheduled_for: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() + 86_400,
            nanos: 0,
        }),
        location: "街道综合协调平台会议室".into(),
        participants: vec![
            format!("subdistricts/{SUBDISTRICT}"),
            "departments/urban_management".into(),
            format!("staff/{GOVERNOR}"),
        ],
        agenda: "路灯产权与维修".into(),
    };
    let meeting = client
        .schedule_meeting(with_token(schedule.clone(), &world.dispatcher()))
        .await
        .unwrap()
        .into_inner();
    let retried = client
        .schedule_meeting(with_token(schedule, &world.dispatcher()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        meeting.name, retried.name,
        "a retried request id schedules one meeting"
    );
    let due = prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() + 5 * 86_400,
        nanos: 0,
    };
    let decided = client
        .record_meeting_decision(with_token(
            proto::RecordMeetingDecisionRequest {
                name: meeting.name.clone(),
                decision: "城管牵头维修, 物业配合".into(),
                actions: vec![
                    proto::MeetingAction {
                        description: "更换灯杆".into(),
                        owner: "departments/urban_management".into(),
                        due: Some(due),
                        ..Default::default()
                    },
                    proto::MeetingAction {
                        description: "通知居民".into(),
                        owner: format!("staff/{GOVERNOR}"),
                        due: Some(due),
                        ..Default::default()
                    },
                ],
                attendees: vec!["departments/urban_management".into()],
                outcome: None,
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.state, proto::MeetingState::Decided as i32);
    assert_eq!(decided.actions.len(), 2);
    let twice = client
        .record_meeting_decision(with_token(
            proto::RecordMeetingDecisionRequest {
                name: meeting.name.clone(),
                decision: "again".into(),
                ..Default::default()
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let meetings = client
        .list_meetings(with_token(
            proto::ListMeetingsRequest { case: name.clone() },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner()
        .meetings;
    assert_eq!(meetings.len(), 1);

    // The platform holds the case: it accepts and asks for more time; whoever asked
    // may not decide on it, an administrator does.
    client
        .accept_case(with_token(
            proto::AcceptCaseRequest { name: name.clone() },
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    let current_due = service
        .get(&world.dispatcher(), &name)
        .await
        .resolution_due
        .unwrap();
    let asked = client
        .request_extension(with_token(
            proto::RequestExtensionRequest {
                name: name.clone(),
                until: Some(prost_types::Timestamp {
                    seconds: current_due.seconds + 7 * 86_400,
                    nanos: 0,
                }),
                reason: "the new lamp post must be ordered".into(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(asked.pending_extension.is_some());
    let own = client
        .decide_extension(with_token(
            proto::DecideExtensionRequest {
                name: name.clone(),
                approve: true,
                reason: String::new(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap_err();
    // Who asked may not decide: a refusal about who acts, not about the state.
    assert_eq!(
        own.code(),
        Code::PermissionDenied,
        "who asked may not decide"
    );
    assert!(!own.message().contains("disp-001"), "{}", own.message());
    let granted = client
        .decide_extension(with_token(
            proto::DecideExtensionRequest {
                name: name.clone(),
                approve: true,
                reason: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(granted.extensions_granted, 1);
    assert_eq!(
        granted.resolution_due.unwrap().seconds,
        current_due.seconds + 7 * 86_400
    );

    let parked = client
        .park_case(with_token(
            proto::ParkCaseRequest {
                name: name.clone(),
                reason: "waiting for the property rights decision".into(),
                review_on: "2099-01-01".into(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&parked), proto::CaseState::Parked);
    assert!(parked.next_deadline.is_none(), "no clock runs while parked");
    let unparked = client
        .unpark_case(with_token(
            proto::UnparkCaseRequest {
                name: name.clone(),
                reason: "the rights were settled".into(),
                resolution_due: None,
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&unparked), proto::CaseState::Accepted);
    assert!(unparked.next_deadline.is_some());

    let events = world
        .events_until("the meeting's decision", |events| {
            events
                .iter()
                .any(|event| event.event_type == "flatgov.cases.v1.MeetingDecided")
        })
        .await;
    let decided_event = events
        .iter()
        .find(|event| event.event_type == "flatgov.cases.v1.MeetingDecided")
        .unwrap();
    let decided_event = proto::MeetingDecided::decode(decided_event.payload.clone()).unwrap();
    assert_eq!(
        decided_event.action_owners,
        ["departments/urban_management", &format!("staff/{GOVERNOR}")]
    );
    assert!(
        !String::from_utf8_lossy(
            &events
                .iter()
                .map(|event| event.payload.to_vec())
                .collect::<Vec<_>>()
                .concat()
        )
        .contains("更换灯杆")
    );
    service.stop().await;
}

#[tokio::test]
async fn cases_are_listed_page_by_page_newest_first_and_a_token_only_works_with_its_filters() {
    let world = World::new();
    let service = world.start().await;
    let mut reported = Vec::new();
    for index in 0..5 {
        let mut request = street_light_report(&format!("page-{index}"));
        request.location = Some(point_in_block(200.0 * f64::from(index)));
        let response = report(&service, &world.resident(), request).await;
        assert!(!response.me_too, "200 m apart, each report is its own case");
        reported.push(response.case.unwrap().name);
    }
    reported.reverse();

    let admin = world.admin();
    let page_of = |kind: proto::CaseKind, page_token: String| {
        let mut client = service.client();
        let request = with_token(
            proto::ListCasesRequest {
                page_size: 2,
                page_token,
                kind: kind as i32,
                ..Default::default()
            },
            &admin,
        );
        async move { client.list_cases(request).await }
    };
    let mut listed = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    let mut second_page_token = String::new();
    loop {
        let page = page_of(proto::CaseKind::Problem, page_token)
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.cases.len() <= 2);
        listed.extend(page.cases.into_iter().map(|case| case.name));
        if page.next_page_token.is_empty() {
            break;
        }
        if pages == 1 {
            second_page_token = page.next_page_token.clone();
        }
        page_token = page.next_page_token;
    }
    assert_eq!(listed, reported, "every case once, newest first");
    assert_eq!(pages, 3);

    let other_filters = page_of(proto::CaseKind::Dispute, second_page_token)
        .await
        .expect_err("a token from another filter is refused");
    assert_eq!(other_filters.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&other_filters), ["page_token"]);
    let negative = service
        .client()
        .list_cases(with_token(
            proto::ListCasesRequest {
                page_size: -1,
                ..Default::default()
            },
            &world.admin(),
        ))
        .await
        .expect_err("a negative page size is refused");
    assert_eq!(violated_fields(&negative), ["page_size"]);
    service.stop().await;
}
