//! Journeys of issue 19, follow-through: nothing decided is left to memory.
//!
//! - A coordination meeting decides an action for urban management; the day passes
//!   with the action still open; it goes overdue, the case escalates to the whistle
//!   and the enforcement service opens a joint operation.
//! - A case parked in the 挂账 register comes back to its handler by itself on its
//!   review date, and the platform is reminded.
//!
//! Time moves with the cases service's test clock (AdvanceTestClock), never sleeps.

use chrono::{TimeDelta, Utc};
use flatgov_journeys::events::{count_about, types_about};
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;

use crate::support::*;

/// The subdistrict the journeys happen in.
const SUBDISTRICT: &str = "430302001";

fn timestamp(at: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

/// A resident's report in the `nth` block of the subdistrict, dispatched to the
/// block's governor.
async fn dispatched_report(
    platform: &Platform,
    nth: usize,
    matter: &str,
    resident: &Resident,
    description: &str,
) -> cases::Case {
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .nth(nth)
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let case = report(
        platform,
        resident,
        app_report(resident, matter, block.inside, description),
    )
    .await;
    case_until(platform, &case.name, "dispatch", |case| {
        state(case) == cases::CaseState::Dispatched
    })
    .await
}

#[tokio::test]
async fn journey_a_meeting_action_left_undone_goes_overdue_and_escalates_the_case_to_the_whistle() {
    let platform = Platform::start().await;
    platform.load_demo();
    let resident = Resident::new("resident-sun", "孙丽", "13911112222");
    let case = dispatched_report(
        &platform,
        2,
        "illegal_street_vending",
        &resident,
        "夜市摊位占了消防通道",
    )
    .await;
    let name = case.name.clone();
    let dispatcher = platform.dispatcher(SUBDISTRICT);
    let mut client = platform.cases();

    // The platform takes the case to a coordination meeting and holds it.
    client
        .escalate_case(with_token(
            cases::EscalateCaseRequest {
                name: name.clone(),
                reason: "摊位业主与物业各执一词, 需协调会".into(),
                agencies: vec![],
            },
            &dispatcher,
        ))
        .await
        .expect("the platform escalates to a meeting");
    client
        .accept_case(with_token(
            cases::AcceptCaseRequest { name: name.clone() },
            &dispatcher,
        ))
        .await
        .expect("the platform accepts");
    let meeting = client
        .schedule_meeting(with_token(
            cases::ScheduleMeetingRequest {
                case: name.clone(),
                request_id: "journey-meeting-1".into(),
                scheduled_for: Some(timestamp(Utc::now() + TimeDelta::hours(1))),
                location: "街道综合协调平台会议室".into(),
                participants: vec![
                    format!("subdistricts/{SUBDISTRICT}"),
                    "departments/urban_management".into(),
                ],
                agenda: "消防通道占用".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("the meeting is scheduled")
        .into_inner();
    let decided = client
        .record_meeting_decision(with_token(
            cases::RecordMeetingDecisionRequest {
                name: meeting.name.clone(),
                decision: "城管当晚清理消防通道".into(),
                actions: vec![cases::MeetingAction {
                    description: "清理消防通道上的摊位".into(),
                    owner: "departments/urban_management".into(),
                    due: Some(timestamp(Utc::now() + TimeDelta::hours(12))),
                    ..Default::default()
                }],
                attendees: vec!["departments/urban_management".into()],
                outcome: None,
            },
            &dispatcher,
        ))
        .await
        .expect("the decision is recorded")
        .into_inner();
    assert_eq!(
        decided.actions[0].state,
        cases::MeetingActionState::Open as i32
    );

    // A day later nobody recorded it done: overdue, and the whistle is blown.
    advance_clock(&platform, 1).await;
    let whistled = case_until(&platform, &name, "the whistle", |case| {
        case.tier == HandlingTier::Whistle as i32
    })
    .await;
    assert_eq!(state(&whistled), cases::CaseState::Dispatched);
    let escalation = history(&platform, &name).await.pop().unwrap();
    assert_eq!(escalation.action, "escalated");
    assert_eq!(escalation.details["cause"], "meeting_action_overdue");
    let meetings = client
        .list_meetings(with_token(
            cases::ListMeetingsRequest { case: name.clone() },
            &dispatcher,
        ))
        .await
        .expect("the meetings")
        .into_inner()
        .meetings;
    assert_eq!(
        meetings[0].actions[0].state,
        cases::MeetingActionState::Overdue as i32
    );
    let operation = open_operation(&platform, &name).await;
    assert_eq!(operation.case, name);

    let action = decided.actions[0].name.clone();
    let events = platform
        .events_until("cases", "the overdue action on the stream", |events| {
            count_about(events, &action, "MeetingActionOverdue") == 1
        })
        .await;
    assert_eq!(count_about(&events, &action, "MeetingActionOverdue"), 1);
    let about_case = types_about(&events, &name);
    assert_eq!(
        about_case
            .iter()
            .filter(|kind| **kind == "CaseEscalated")
            .count(),
        2,
        "to the meeting by hand, to the whistle by the overdue action"
    );
}

#[tokio::test]
async fn journey_a_parked_case_comes_back_to_its_handler_on_its_review_date() {
    let platform = Platform::start().await;
    platform.load_demo();
    let resident = Resident::new("resident-zhou", "周明", "13633334444");
    let case = dispatched_report(
        &platform,
        3,
        "broken_street_light",
        &resident,
        "路灯杆倾斜, 产权不明",
    )
    .await;
    let name = case.name.clone();
    let block_code = case.block.trim_start_matches("blocks/").to_owned();
    let block = platform.demo_block(&block_code).await;
    let mut client = platform.cases();
    client
        .accept_case(with_token(
            cases::AcceptCaseRequest { name: name.clone() },
            &platform.governor(&block),
        ))
        .await
        .expect("the governor accepts");
    let review_on = (Utc::now() + TimeDelta::hours(8) + TimeDelta::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let parked = client
        .park_case(with_token(
            cases::ParkCaseRequest {
                name: name.clone(),
                reason: "路灯产权待住建局确认".into(),
                review_on: review_on.clone(),
            },
            &platform.dispatcher(SUBDISTRICT),
        ))
        .await
        .expect("the platform parks the case")
        .into_inner();
    assert_eq!(state(&parked), cases::CaseState::Parked);

    // Two days on it is still in the register; on the review date it comes back.
    advance_clock(&platform, 2).await;
    assert_eq!(
        state(&get_case(&platform, &name).await),
        cases::CaseState::Parked
    );
    advance_clock(&platform, 2).await;
    let back = case_until(&platform, &name, "the return from the register", |case| {
        state(case) == cases::CaseState::Accepted
    })
    .await;
    assert_eq!(back.assignee, format!("staff/{}", block.governor));
    assert!(back.next_deadline.is_some(), "its clock runs again");
    let record = history(&platform, &name).await.pop().unwrap();
    assert_eq!(record.action, "unparked");
    assert_eq!(record.actor.unwrap().kind, cases::ActorKind::System as i32);
    let events = platform
        .events_until("cases", "the reminder on the stream", |events| {
            count_about(events, &name, "CaseParkingReviewReminded") == 1
        })
        .await;
    let about_case = types_about(&events, &name);
    let unparked = about_case
        .iter()
        .position(|kind| *kind == "CaseUnparked")
        .expect("the return is published");
    assert_eq!(about_case[unparked + 1], "CaseParkingReviewReminded");
}
