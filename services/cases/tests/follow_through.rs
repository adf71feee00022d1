//! Follow-through over the API (issue 19): meeting actions that go overdue and escalate,
//! meeting decisions that move the case, the 挂账 register's review dates, rework and
//! ratings, CloseCase and its callers, and the unrated closure after a return visit.
//! Real gRPC against real PostgreSQL and NATS; time moves with AdvanceTestClock.

mod support;

use chrono::{TimeDelta, Utc};
use flatgov_messaging::Envelope;
use flatgov_proto::cases::v1 as proto;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;
use flatgov_proto::notices::v1::ReturnVisitExpired;
use flatgov_testkit::{field_violations, with_token};
use prost::Message as _;
use support::*;
use tonic::Code;

fn violated_fields(status: &tonic::Status) -> Vec<String> {
    field_violations(status)
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}

fn timestamp(at: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

/// The China-local date `days` after today, `YYYY-MM-DD`.
fn china_date_in(days: i64) -> String {
    (Utc::now() + TimeDelta::hours(8) + TimeDelta::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// The events of one type, decoded.
fn decoded<E: prost::Message + Default>(events: &[Envelope], event_type: &str) -> Vec<E> {
    events
        .iter()
        .filter(|event| event.event_type == event_type)
        .map(|event| E::decode(event.payload.clone()).unwrap())
        .collect()
}

/// A street light reported by the resident and dispatched to the block's governor.
async fn dispatched(world: &World, service: &Service, request_id: &str) -> proto::Case {
    let case = report(service, &world.resident(), street_light_report(request_id))
        .await
        .case
        .unwrap();
    service
        .case_until(&world.admin(), &case.name, "dispatch", |case| {
            state(case) == proto::CaseState::Dispatched
        })
        .await
}

/// A street light at the coordination-meeting tier, accepted by the platform (so only
/// its resolution deadline, days away, runs).
async fn at_meeting_tier(world: &World, service: &Service, request_id: &str) -> proto::Case {
    let case = dispatched(world, service, request_id).await;
    let mut client = service.client();
    client
        .escalate_case(with_token(
            proto::EscalateCaseRequest {
                name: case.name.clone(),
                reason: "three owners dispute who repairs the lamp".into(),
                agencies: vec![],
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    client
        .accept_case(with_token(
            proto::AcceptCaseRequest {
                name: case.name.clone(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner()
}

/// Schedules a meeting for the case; returns its name.
async fn schedule(world: &World, service: &Service, case: &str) -> String {
    service
        .client()
        .schedule_meeting(with_token(
            proto::ScheduleMeetingRequest {
                case: case.to_owned(),
                request_id: String::new(),
                scheduled_for: Some(timestamp(Utc::now() + TimeDelta::hours(2))),
                location: "街道综合协调平台会议室".into(),
                participants: vec![
                    format!("subdistricts/{SUBDISTRICT}"),
                    "departments/urban_management".into(),
                ],
                agenda: "路灯产权与维修".into(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner()
        .name
}

fn decision(
    meeting: &str,
    outcome: Option<proto::MeetingOutcome>,
) -> proto::RecordMeetingDecisionRequest {
    proto::RecordMeetingDecisionRequest {
        name: meeting.to_owned(),
        decision: "城管牵头维修, 物业配合".into(),
        actions: vec![],
        attendees: vec!["departments/urban_management".into()],
        outcome,
    }
}

fn outcome(change: proto::meeting_outcome::Change) -> Option<proto::MeetingOutcome> {
    Some(proto::MeetingOutcome {
        change: Some(change),
    })
}

/// Takes a dispatched case through accept, start and resolve by the governor.
async fn resolve(world: &World, service: &Service, name: &str) {
    let mut client = service.client();
    let case = service.get(&world.admin(), name).await;
    if state(&case) == proto::CaseState::Dispatched {
        client
            .accept_case(with_token(
                proto::AcceptCaseRequest { name: name.into() },
                &world.governor(),
            ))
            .await
            .unwrap();
    }
    if state(&service.get(&world.admin(), name).await) == proto::CaseState::Accepted {
        client
            .start_work(with_token(
                proto::StartWorkRequest { name: name.into() },
                &world.governor(),
            ))
            .await
            .unwrap();
    }
    client
        .resolve_case(with_token(
            proto::ResolveCaseRequest {
                name: name.into(),
                resolution_note: "换了灯头".into(),
            },
            &world.governor(),
        ))
        .await
        .unwrap();
}

async fn verify(world: &World, service: &Service, name: &str, passed: bool) -> proto::Case {
    service
        .client()
        .verify_case(with_token(
            proto::VerifyCaseRequest {
                name: name.into(),
                passed,
                reason: if passed {
                    String::new()
                } else {
                    "the lamp still flickers at night".into()
                },
            },
            &world.supervisor(),
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn rate(world: &World, service: &Service, name: &str, rating: proto::Rating) -> proto::Case {
    service
        .client()
        .rate_case(with_token(
            proto::RateCaseRequest {
                name: name.into(),
                rating: rating as i32,
                comment: String::new(),
            },
            &world.resident(),
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn an_overdue_meeting_action_escalates_its_case_once_across_replicas_and_counts_against_its_owner()
 {
    let world = World::new();
    let _directory = world.start_directory().await;
    let first = world.start().await;
    let second = world.start().await;
    let case = at_meeting_tier(&world, &first, "action-1").await;
    let name = case.name.clone();
    let meeting = schedule(&world, &first, &name).await;
    let due = Utc::now() + TimeDelta::hours(20);
    let mut request = decision(&meeting, None);
    request.actions = vec![
        proto::MeetingAction {
            description: "更换灯杆".into(),
            owner: "departments/urban_management".into(),
            due: Some(timestamp(due)),
            ..Default::default()
        },
        proto::MeetingAction {
            description: "通知居民".into(),
            owner: format!("staff/{GOVERNOR}"),
            due: Some(timestamp(due)),
            ..Default::default()
        },
    ];
    let decided = first
        .client()
        .record_meeting_decision(with_token(request, &world.dispatcher()))
        .await
        .unwrap()
        .into_inner();
    let states: Vec<i32> = decided.actions.iter().map(|action| action.state).collect();
    assert_eq!(
        states,
        [proto::MeetingActionState::Open as i32; 2],
        "decided actions start open"
    );
    let governors_action = decided.actions[1].name.clone();
    assert_eq!(governors_action, format!("{meeting}/actions/2"));

    // Only the platform records an action done; a case it does not reach has none.
    let mut client = first.client();
    let by_governor = client
        .complete_meeting_action(with_token(
            proto::CompleteMeetingActionRequest {
                name: governors_action.clone(),
            },
            &world.governor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(by_governor.code(), Code::PermissionDenied);
    let elsewhere = client
        .complete_meeting_action(with_token(
            proto::CompleteMeetingActionRequest {
                name: governors_action.clone(),
            },
            &world.other_dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);
    let malformed = client
        .complete_meeting_action(with_token(
            proto::CompleteMeetingActionRequest {
                name: format!("{meeting}/actions/0"),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&malformed), ["name"]);
    let done = client
        .complete_meeting_action(with_token(
            proto::CompleteMeetingActionRequest {
                name: governors_action.clone(),
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        done.actions[1].state,
        proto::MeetingActionState::Done as i32
    );
    assert!(done.actions[1].done_time.is_some());
    let twice = client
        .complete_meeting_action(with_token(
            proto::CompleteMeetingActionRequest {
                name: governors_action,
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);

    // A day later the department's action is still open: it goes overdue and the case
    // escalates to the whistle, once, whichever replica finds it.
    first
        .advance_clock(&world.admin(), TimeDelta::days(1))
        .await;
    let whistled = second
        .case_until(&world.admin(), &name, "the escalation", |case| {
            case.tier == HandlingTier::Whistle as i32
        })
        .await;
    assert_eq!(state(&whistled), proto::CaseState::Dispatched);
    let meetings = second
        .client()
        .list_meetings(with_token(
            proto::ListMeetingsRequest { case: name.clone() },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner()
        .meetings;
    let actions = &meetings[0].actions;
    assert_eq!(actions[0].state, proto::MeetingActionState::Overdue as i32);
    assert!(actions[0].overdue_time.is_some());
    assert_eq!(actions[1].state, proto::MeetingActionState::Done as i32);
    let history = second.history(&world.admin(), &name).await;
    let escalation = history.last().unwrap();
    assert_eq!(escalation.action, "escalated");
    assert_eq!(escalation.details["cause"], "meeting_action_overdue");

    world
        .events_until("the overdue action's event", |events| {
            events
                .iter()
                .any(|event| event.event_type == "flatgov.cases.v1.MeetingActionOverdue")
        })
        .await;
    // Give a second firing by the other replica the chance to show.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let events = world.events_now().await;
    let overdue: Vec<proto::MeetingActionOverdue> =
        decoded(&events, "flatgov.cases.v1.MeetingActionOverdue");
    assert_eq!(overdue.len(), 1, "one overdue action, published once");
    assert_eq!(overdue[0].owner, "departments/urban_management");
    assert_eq!(overdue[0].action, format!("{meeting}/actions/1"));
    assert!(overdue[0].escalated);
    let escalations: Vec<proto::CaseEscalated> = decoded(&events, "flatgov.cases.v1.CaseEscalated");
    let by_action: Vec<&proto::CaseEscalated> = escalations
        .iter()
        .filter(|event| event.reason == proto::EscalationReason::MeetingActionOverdue as i32)
        .collect();
    assert_eq!(by_action.len(), 1);
    assert_eq!(by_action[0].to_tier, HandlingTier::Whistle as i32);

    // The owner's indicators count it; the governor, who did theirs, has none.
    let indicators = second
        .client()
        .get_indicators(with_token(
            proto::GetIndicatorsRequest {
                period_start: Some(timestamp(Utc::now() - TimeDelta::days(1))),
                period_end: Some(timestamp(Utc::now() + TimeDelta::days(30))),
                as_of: None,
                group_by: proto::IndicatorGrouping::Department as i32,
                subdistrict_code: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    let department = indicators
        .groups
        .iter()
        .find(|group| group.key == "urban_management")
        .expect("the owning department has a group");
    assert_eq!(department.overdue_meeting_actions, 1);
    let by_staff = second
        .client()
        .get_indicators(with_token(
            proto::GetIndicatorsRequest {
                period_start: Some(timestamp(Utc::now() - TimeDelta::days(1))),
                period_end: Some(timestamp(Utc::now() + TimeDelta::days(30))),
                as_of: None,
                group_by: proto::IndicatorGrouping::Staff as i32,
                subdistrict_code: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        by_staff
            .groups
            .iter()
            .all(|group| group.overdue_meeting_actions == 0),
        "an action done on time counts against nobody"
    );
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_meeting_decision_moves_the_case_with_the_decision_or_records_nothing() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = at_meeting_tier(&world, &service, "outcome-1").await;
    let name = case.name.clone();
    let mut client = service.client();

    // Extend: the resolution deadline moves, the record names the meeting.
    let meeting = schedule(&world, &service, &name).await;
    let later = timestamp(
        chrono::DateTime::from_timestamp(case.resolution_due.unwrap().seconds, 0).unwrap()
            + TimeDelta::days(10),
    );
    client
        .record_meeting_decision(with_token(
            decision(
                &meeting,
                outcome(proto::meeting_outcome::Change::Extend(
                    proto::MeetingExtension {
                        resolution_due: Some(later),
                    },
                )),
            ),
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    let extended = service.get(&world.dispatcher(), &name).await;
    assert_eq!(extended.resolution_due.unwrap().seconds, later.seconds);
    assert_eq!(extended.extensions_granted, 1);
    let record = service.history(&world.admin(), &name).await.pop().unwrap();
    assert_eq!(record.action, "extension_approved");
    assert!(record.reason.contains(&meeting), "{}", record.reason);

    // A change the case refuses records no decision either; bad input names its field.
    let meeting = schedule(&world, &service, &name).await;
    let bad = client
        .record_meeting_decision(with_token(
            decision(
                &meeting,
                outcome(proto::meeting_outcome::Change::Reassign(
                    proto::MeetingReassignment {
                        assignee: "nobody".into(),
                        tier: 0,
                    },
                )),
            ),
            &world.dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["outcome.reassign.assignee"]);
    let in_the_past = client
        .record_meeting_decision(with_token(
            decision(
                &meeting,
                outcome(proto::meeting_outcome::Change::Park(
                    proto::MeetingParking {
                        review_on: "2001-01-01".into(),
                    },
                )),
            ),
            &world.dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(in_the_past.code(), Code::FailedPrecondition);
    let meetings = client
        .list_meetings(with_token(
            proto::ListMeetingsRequest { case: name.clone() },
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner()
        .meetings;
    assert_eq!(
        meetings[1].state,
        proto::MeetingState::Scheduled as i32,
        "the refused decision was not recorded"
    );
    assert_eq!(
        state(&service.get(&world.admin(), &name).await),
        proto::CaseState::Accepted
    );

    // Park: the same meeting decides again, and the case enters the register.
    client
        .record_meeting_decision(with_token(
            decision(
                &meeting,
                outcome(proto::meeting_outcome::Change::Park(
                    proto::MeetingParking {
                        review_on: china_date_in(30),
                    },
                )),
            ),
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    let parked = service.get(&world.dispatcher(), &name).await;
    assert_eq!(state(&parked), proto::CaseState::Parked);
    client
        .unpark_case(with_token(
            proto::UnparkCaseRequest {
                name: name.clone(),
                reason: "the owners agreed".into(),
                resolution_due: None,
            },
            &world.dispatcher(),
        ))
        .await
        .unwrap();

    // Reassign to a department, then escalate to the whistle naming the agency.
    let meeting = schedule(&world, &service, &name).await;
    client
        .record_meeting_decision(with_token(
            decision(
                &meeting,
                outcome(proto::meeting_outcome::Change::Reassign(
                    proto::MeetingReassignment {
                        assignee: "departments/urban_management".into(),
                        tier: 0,
                    },
                )),
            ),
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    let reassigned = service.get(&world.admin(), &name).await;
    assert_eq!(reassigned.assignee, "departments/urban_management");
    assert_eq!(reassigned.tier, HandlingTier::CoordinationMeeting as i32);
    let meeting = schedule(&world, &service, &name).await;
    client
        .record_meeting_decision(with_token(
            decision(
                &meeting,
                outcome(proto::meeting_outcome::Change::Escalate(
                    proto::MeetingEscalation {
                        agencies: vec!["market_supervision".into()],
                    },
                )),
            ),
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    let whistled = service.get(&world.admin(), &name).await;
    assert_eq!(whistled.tier, HandlingTier::Whistle as i32);
    assert_eq!(whistled.assignee, "departments/market_supervision");
    let events = world
        .events_until("the meeting's escalation", |events| {
            events.iter().any(|event| {
                event.event_type == "flatgov.cases.v1.CaseEscalated"
                    && proto::CaseEscalated::decode(event.payload.clone())
                        .is_ok_and(|escalated| escalated.to_tier == HandlingTier::Whistle as i32)
            })
        })
        .await;
    let decided: Vec<proto::MeetingDecided> = decoded(&events, "flatgov.cases.v1.MeetingDecided");
    assert_eq!(
        decided.len(),
        4,
        "four decisions recorded, the refused one not"
    );
    service.stop().await;
}

#[tokio::test]
async fn a_parked_case_returns_to_its_platform_on_its_review_date_and_a_review_can_keep_it_parked()
{
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = dispatched(&world, &service, "parked-1").await;
    let name = case.name.clone();
    let mut client = service.client();
    client
        .accept_case(with_token(
            proto::AcceptCaseRequest { name: name.clone() },
            &world.governor(),
        ))
        .await
        .unwrap();
    let park = |review_on: String, reason: &str| proto::ParkCaseRequest {
        name: name.clone(),
        reason: reason.into(),
        review_on,
    };
    client
        .park_case(with_token(
            park(china_date_in(2), "the lamp's owner is unknown"),
            &world.dispatcher(),
        ))
        .await
        .unwrap();
    // A review keeps it parked: a new reason and date, the same state to return to.
    let kept = client
        .park_case(with_token(
            park(
                china_date_in(4),
                "the housing bureau is searching the title",
            ),
            &world.dispatcher(),
        ))
        .await
        .unwrap()
        .into_inner();
    let parking = kept.parking.clone().unwrap();
    assert_eq!(parking.review_on, china_date_in(4));
    assert_eq!(parking.reason, "the housing bureau is searching the title");
    assert_eq!(parking.resume_to, proto::CaseState::Accepted as i32);
    let backwards = client
        .park_case(with_token(
            park("2001-01-01".into(), "again"),
            &world.dispatcher(),
        ))
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), Code::FailedPrecondition);
    let by_governor = client
        .park_case(with_token(
            park(china_date_in(9), "mine"),
            &world.governor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(by_governor.code(), Code::PermissionDenied);

    // The first date passes: still parked, and it ages in the indicators.
    service
        .advance_clock(&world.admin(), TimeDelta::days(3))
        .await;
    let indicators = client
        .get_indicators(with_token(
            proto::GetIndicatorsRequest {
                period_start: Some(timestamp(Utc::now() - TimeDelta::days(1))),
                period_end: Some(timestamp(Utc::now() + TimeDelta::days(1))),
                as_of: None,
                group_by: proto::IndicatorGrouping::Total as i32,
                subdistrict_code: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    let total = &indicators.groups[0];
    assert_eq!(total.parked, 1);
    let aging = total.parked_aging.unwrap();
    assert_eq!(aging.under_30_days, 1);
    assert!(aging.oldest.unwrap().seconds >= 3 * 86_400);
    assert_eq!(
        state(&service.get(&world.admin(), &name).await),
        proto::CaseState::Parked
    );

    // The review date comes: back with its handler, a fresh deadline, a reminder.
    service
        .advance_clock(&world.admin(), TimeDelta::days(2))
        .await;
    let back = service
        .case_until(
            &world.admin(),
            &name,
            "the return from the register",
            |case| state(case) == proto::CaseState::Accepted,
        )
        .await;
    let now = Utc::now() + TimeDelta::days(5);
    assert!(back.resolution_due.unwrap().seconds > now.timestamp());
    assert!(back.next_deadline.is_some());
    let record = service.history(&world.admin(), &name).await.pop().unwrap();
    assert_eq!(record.action, "unparked");
    assert_eq!(record.actor.unwrap().kind, proto::ActorKind::System as i32);
    let events = world
        .events_until("the reminder", |events| {
            events
                .iter()
                .any(|event| event.event_type == "flatgov.cases.v1.CaseParkingReviewReminded")
        })
        .await;
    let reminders: Vec<proto::CaseParkingReviewReminded> =
        decoded(&events, "flatgov.cases.v1.CaseParkingReviewReminded");
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].platform, format!("subdistricts/{SUBDISTRICT}"));
    assert_eq!(reminders[0].review_on, china_date_in(4));
    assert_eq!(reminders[0].assignee, format!("staff/{GOVERNOR}"));
    let types = types_of(&events, &name);
    let unparked = types
        .iter()
        .position(|kind| kind == "CaseUnparked")
        .unwrap();
    assert_eq!(types[unparked + 1], "CaseParkingReviewReminded");
    service.stop().await;
}

#[tokio::test]
async fn failed_verification_and_an_unsatisfied_rating_send_the_case_back_once_each_through_the_api()
 {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let name = dispatched(&world, &service, "rework-1").await.name;
    resolve(&world, &service, &name).await;

    let no_reason = service
        .client()
        .verify_case(with_token(
            proto::VerifyCaseRequest {
                name: name.clone(),
                passed: false,
                reason: String::new(),
            },
            &world.supervisor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&no_reason), ["reason"]);
    let reworked = verify(&world, &service, &name, false).await;
    assert_eq!(state(&reworked), proto::CaseState::InProgress);
    assert_eq!(reworked.rework_count, 1);
    assert!(reworked.resolution_due.is_some());

    resolve(&world, &service, &name).await;
    assert_eq!(
        state(&verify(&world, &service, &name, true).await),
        proto::CaseState::Verified
    );
    let reopened = rate(&world, &service, &name, proto::Rating::Unsatisfied).await;
    assert_eq!(state(&reopened), proto::CaseState::InProgress);
    assert_eq!(reopened.rework_count, 2);

    resolve(&world, &service, &name).await;
    verify(&world, &service, &name, true).await;
    let closed = rate(&world, &service, &name, proto::Rating::Unsatisfied).await;
    assert_eq!(state(&closed), proto::CaseState::Closed);
    assert_eq!(closed.closure, proto::Closure::Unsatisfied as i32);
    assert_eq!(
        closed.rework_count, 2,
        "an unsatisfied rating reopens only once"
    );

    let events = world
        .events_until("the closure", |events| {
            types_of(events, &name).contains(&"CaseClosed".to_owned())
        })
        .await;
    let triggers: Vec<i32> =
        decoded::<proto::CaseReworked>(&events, "flatgov.cases.v1.CaseReworked")
            .iter()
            .map(|event| event.trigger)
            .collect();
    assert_eq!(
        triggers,
        [
            proto::ReworkTrigger::FailedVerification as i32,
            proto::ReworkTrigger::UnsatisfiedRating as i32
        ]
    );
    service.stop().await;
}

#[tokio::test]
async fn close_case_is_the_platforms_and_closes_only_a_case_that_may_close() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let name = dispatched(&world, &service, "close-1").await.name;
    let close = |token: &str, reason: &str| {
        let mut client = service.client();
        let request = with_token(
            proto::CloseCaseRequest {
                name: name.clone(),
                reason: reason.into(),
            },
            token,
        );
        async move { client.close_case(request).await }
    };
    let too_early = close(&world.dispatcher(), "done").await.unwrap_err();
    assert_eq!(too_early.code(), Code::FailedPrecondition);
    resolve(&world, &service, &name).await;
    verify(&world, &service, &name, true).await;

    for (who, token) in [
        ("the governor", world.governor()),
        ("the supervisor", world.supervisor()),
        ("the reporting resident", world.resident()),
    ] {
        let refused = close(&token, "nobody answers").await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{who}");
    }
    let elsewhere = close(&world.other_dispatcher(), "nobody answers")
        .await
        .unwrap_err();
    assert_eq!(
        elsewhere.code(),
        Code::NotFound,
        "another subdistrict's platform"
    );
    let no_reason = close(&world.dispatcher(), "").await.unwrap_err();
    assert_eq!(violated_fields(&no_reason), ["reason"]);
    assert_eq!(
        state(&service.get(&world.admin(), &name).await),
        proto::CaseState::Verified,
        "refusals change nothing"
    );
    let closed = close(&world.dispatcher(), "no answer after three calls")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&closed), proto::CaseState::Closed);
    assert_eq!(closed.closure, proto::Closure::Unrated as i32);
    let record = service.history(&world.admin(), &name).await.pop().unwrap();
    assert_eq!(record.reason, "no answer after three calls");
    service.stop().await;
}

#[tokio::test]
async fn a_case_still_unrated_when_its_return_visit_expires_closes_as_unrated_once() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let name = dispatched(&world, &service, "visit-1").await.name;
    resolve(&world, &service, &name).await;
    let verified = verify(&world, &service, &name, true).await;
    let expired = ReturnVisitExpired {
        case: name.clone(),
        verified_sequence: verified.version,
        verified_at: None,
        visited_at: None,
        expired_at: Some(timestamp(Utc::now())),
    };
    world.publish("notices", &name, &expired).await;
    let closed = service
        .case_until(&world.admin(), &name, "the unrated closure", |case| {
            state(case) == proto::CaseState::Closed
        })
        .await;
    assert_eq!(closed.closure, proto::Closure::Unrated as i32);
    assert_eq!(closed.rating, proto::Rating::Unspecified as i32);
    // A repeated expiry (redelivery, another visit) changes nothing.
    world.publish("notices", &name, &expired).await;
    world
        .events_until("the closure", |events| {
            types_of(events, &name).contains(&"CaseClosed".to_owned())
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let closures: Vec<proto::CaseClosed> =
        decoded(&world.events_now().await, "flatgov.cases.v1.CaseClosed");
    assert_eq!(closures.len(), 1);
    assert_eq!(closures[0].closure, proto::Closure::Unrated as i32);
    let history = service.history(&world.admin(), &name).await;
    let last = history.last().unwrap();
    assert_eq!(last.action, "closed");
    assert_eq!(
        last.actor.as_ref().unwrap().kind,
        proto::ActorKind::System as i32
    );
    assert!(last.reason.contains("回访"), "{}", last.reason);
    service.stop().await;
}
