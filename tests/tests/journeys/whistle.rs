//! Journey 2: illegal street vending at the front line goes unaccepted past
//! its time limit, escalates to a coordination meeting, then past that limit
//! to the whistle; the enforcement service opens a joint operation summoning
//! urban management and market supervision; both report in and act; the
//! lead concludes; the case is resolved by the system, verified by the
//! subdistrict platform, rated and closed.
//!
//! The steps are functions so that journey 7 can run them with services
//! killed in between.

use flatgov_journeys::district::DemoBlock;
use flatgov_journeys::events::{count_about, types_about};
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::duties::v1 as duties;
use flatgov_proto::enforcement::v1 as enforcement;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;

use crate::support::*;

/// The subdistrict the journey happens in.
pub const SUBDISTRICT: &str = "430302001";
/// The matter: the block team leads, urban management and market
/// supervision cooperate (SD-05-02).
pub const MATTER: &str = "illegal_street_vending";
/// The agencies the duty lists name for the matter, in the list's order:
/// urban management first, so it leads the operation.
pub const AGENCIES: [&str; 2] = ["urban_management", "market_supervision"];

/// The cases events of the whole journey, in order.
pub const CASE_EVENTS: [&str; 13] = [
    "CaseReported",
    "CaseTriaged",
    "CaseDispatched",
    "CaseOverdue",
    "CaseEscalated",
    "CaseOverdue",
    "CaseEscalated",
    "CaseAccepted",
    "CaseWorkStarted",
    "CaseResolved",
    "CaseVerified",
    "CaseRated",
    "CaseClosed",
];

/// The case of the journey and who is involved.
pub struct VendingCase {
    pub name: String,
    pub block: DemoBlock,
    pub resident: Resident,
    /// The department the whistle goes to and that leads the operation:
    /// the matter has no lead department, so the first cooperating one as
    /// the duty lists give them.
    pub lead_agency: String,
    /// The other summoned agency.
    pub other_agency: String,
}

/// A resident reports street vending; triage dispatches it to the block's
/// governor at the front line.
pub async fn report_vending(platform: &Platform) -> VendingCase {
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .nth(1)
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let responsibility = platform
        .duties()
        .resolve_responsibility(with_token(
            duties::ResolveResponsibilityRequest {
                matter_code: MATTER.into(),
                place: Some(duties::Place {
                    block_code: block.code.clone(),
                    ..Default::default()
                }),
                at: None,
            },
            &platform.admin(),
        ))
        .await
        .expect("the duty lists know the matter")
        .into_inner();
    assert_eq!(
        responsibility.cooperating_departments, AGENCIES,
        "the block team leads, {AGENCIES:?} cooperate in this order"
    );
    let lead_agency = responsibility.cooperating_departments[0].clone();
    let other_agency = responsibility.cooperating_departments[1].clone();
    let resident = Resident::new("resident-qian", "钱晓红", "13787654321");
    let case = report(
        platform,
        &resident,
        app_report(
            &resident,
            MATTER,
            block.inside,
            "菜市场门口流动摊贩占道, 人行道走不通",
        ),
    )
    .await;
    let dispatched = case_until(platform, &case.name, "dispatch to the governor", |case| {
        state(case) == cases::CaseState::Dispatched
    })
    .await;
    assert_eq!(dispatched.tier, HandlingTier::FrontLine as i32);
    assert_eq!(dispatched.assignee, format!("staff/{}", block.governor));
    VendingCase {
        name: case.name,
        block,
        resident,
        lead_agency,
        other_agency,
    }
}

/// Nobody accepts: past the front line's limit the case goes to the
/// subdistrict platform's coordination meeting.
pub async fn overdue_to_meeting(platform: &Platform, case: &VendingCase) {
    advance_clock(platform, 30).await;
    let at_meeting = case_until(platform, &case.name, "escalation to a meeting", |case| {
        case.tier == HandlingTier::CoordinationMeeting as i32
    })
    .await;
    assert_eq!(state(&at_meeting), cases::CaseState::Dispatched);
    assert_eq!(at_meeting.assignee, format!("subdistricts/{SUBDISTRICT}"));
    assert!(
        !at_meeting.overdue,
        "the meeting tier has fresh time limits"
    );
}

/// Nobody accepts at the meeting either: past its limit the whistle is
/// blown and the case goes to the lead department.
pub async fn overdue_to_whistle(platform: &Platform, case: &VendingCase) {
    advance_clock(platform, 30).await;
    let at_whistle = case_until(platform, &case.name, "escalation to the whistle", |case| {
        case.tier == HandlingTier::Whistle as i32
    })
    .await;
    assert_eq!(
        at_whistle.assignee,
        format!("departments/{}", case.lead_agency)
    );
}

/// The operation the whistle opened: both agencies summoned, urban
/// management leading.
pub async fn summoned_operation(platform: &Platform, case: &VendingCase) -> enforcement::Operation {
    let operation = open_operation(platform, &case.name).await;
    assert_eq!(operation.case, case.name);
    assert_eq!(operation.subdistrict_code, SUBDISTRICT);
    assert_eq!(operation.block_code, case.block.code);
    assert_eq!(operation.matter_code, MATTER);
    assert_eq!(
        operation.source,
        enforcement::WhistleSource::CaseEscalation as i32
    );
    assert_eq!(
        operation.lead_agency,
        format!("agencies/{}", case.lead_agency)
    );
    let summoned: Vec<&str> = operation
        .summons
        .iter()
        .map(|summons| summons.agency.trim_start_matches("agencies/"))
        .collect();
    assert_eq!(summoned, AGENCIES, "summoned in the duty list's order");
    operation
}

/// An officer of `agency` stationed in the subdistrict reports in with
/// their squad.
pub async fn report_in(platform: &Platform, operation: &str, agency: &str) {
    let (officer, unit) = stationed_officer(platform, agency, SUBDISTRICT).await;
    let reported = platform
        .enforcement()
        .report_in(with_token(
            enforcement::ReportInRequest {
                operation: operation.to_owned(),
                agency: agency.to_owned(),
                officers: vec![officer.name.clone()],
                unit: unit.name.clone(),
                note: "已到现场".into(),
            },
            &platform.officer(agency),
        ))
        .await
        .unwrap_or_else(|status| panic!("{agency} reports in: {status}"))
        .into_inner();
    let summons = reported
        .summons
        .iter()
        .find(|summons| summons.agency == format!("agencies/{agency}"))
        .expect("the agency's summons");
    assert_eq!(summons.state, enforcement::SummonsState::ReportedIn as i32);
}

/// What each agency did: urban management inspects and clears the
/// pavement, market supervision decides a penalty for trading unlicensed.
pub async fn record_actions(platform: &Platform, operation: &str) {
    let inspection = enforcement::RecordActionRequest {
        operation: operation.to_owned(),
        request_id: format!("{operation}-inspection"),
        agency: "urban_management".into(),
        summary: "现场检查, 劝离流动摊贩 3 处".into(),
        details: Some(enforcement::record_action_request::Details::Inspection(
            enforcement::Inspection {
                findings: "3 处流动摊贩占用人行道".into(),
                violation_found: true,
            },
        )),
        ..Default::default()
    };
    let penalty = enforcement::RecordActionRequest {
        operation: operation.to_owned(),
        request_id: format!("{operation}-penalty"),
        agency: "market_supervision".into(),
        summary: "对无照经营者作出警告".into(),
        details: Some(
            enforcement::record_action_request::Details::PenaltyDecision(
                enforcement::PenaltyDecision {
                    legal_basis: "《无证无照经营查处办法》第十三条".into(),
                    penalty: "警告".into(),
                    fine_fen: 0,
                    decision_number: "雨市监罚〔2026〕1号".into(),
                },
            ),
        ),
        ..Default::default()
    };
    for request in [inspection, penalty] {
        let agency = request.agency.clone();
        platform
            .enforcement()
            .record_action(with_token(request, &platform.officer(&agency)))
            .await
            .unwrap_or_else(|status| panic!("{agency} records an action: {status}"));
    }
}

/// Only the lead concludes; its conclusion moves the case on.
pub async fn conclude(platform: &Platform, case: &VendingCase, operation: &str) {
    let request = |agency: &str| {
        with_token(
            enforcement::ConcludeOperationRequest {
                operation: operation.to_owned(),
                outcome: enforcement::OperationOutcome::Resolved as i32,
                summary: "摊贩已劝离, 无照经营者已处理".into(),
            },
            &platform.officer(agency),
        )
    };
    let refused = platform
        .enforcement()
        .conclude_operation(request(&case.other_agency))
        .await
        .expect_err("a summoned agency that does not lead may not conclude");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let concluded = platform
        .enforcement()
        .conclude_operation(request(&case.lead_agency))
        .await
        .expect("the lead concludes")
        .into_inner();
    assert_eq!(
        concluded.state,
        enforcement::OperationState::Concluded as i32
    );
}

/// The conclusion resolves the case on the system's word; the subdistrict
/// platform verifies (not the block's supervisor: the case left the front
/// line), the resident rates, the case closes.
pub async fn verify_rate_close(platform: &Platform, case: &VendingCase) {
    let resolved = case_until(
        platform,
        &case.name,
        "the conclusion to resolve the case",
        |case| state(case) == cases::CaseState::Resolved,
    )
    .await;
    assert_eq!(resolved.resolved_by, "system");
    let supervisor = platform
        .cases()
        .verify_case(with_token(
            cases::VerifyCaseRequest {
                name: case.name.clone(),
                passed: true,
                reason: String::new(),
            },
            &platform.supervisor(&case.block),
        ))
        .await
        .expect_err("the block's supervisor verifies front-line cases only");
    assert_eq!(
        supervisor.code(),
        tonic::Code::PermissionDenied,
        "{supervisor:?}"
    );
    platform
        .cases()
        .verify_case(with_token(
            cases::VerifyCaseRequest {
                name: case.name.clone(),
                passed: true,
                reason: String::new(),
            },
            &platform.dispatcher(SUBDISTRICT),
        ))
        .await
        .expect("the subdistrict platform verifies");
    let closed = platform
        .cases()
        .rate_case(with_token(
            cases::RateCaseRequest {
                name: case.name.clone(),
                rating: cases::Rating::Satisfied as i32,
                comment: String::new(),
            },
            &platform.resident(&case.resident.account),
        ))
        .await
        .expect("the reporting resident rates")
        .into_inner();
    assert_eq!(state(&closed), cases::CaseState::Closed);
    assert_eq!(closed.closure, cases::Closure::Rated as i32);
}

/// Every expected event arrived, each exactly once, on both streams; the
/// case's history records each transition once; one operation exists.
pub async fn assert_everything_happened_once(
    platform: &Platform,
    case: &VendingCase,
    operation: &str,
) {
    let case_stream = platform
        .events_until("cases", "the case's closing event", |events| {
            types_about(events, &case.name).contains(&"CaseClosed")
        })
        .await;
    assert_eq!(types_about(&case_stream, &case.name), CASE_EVENTS);
    let whistles: Vec<cases::CaseEscalated> = case_stream
        .iter()
        .filter(|event| event.resource == case.name)
        .filter_map(|event| event.decode::<cases::CaseEscalated>().ok())
        .filter(|escalated| escalated.to_tier == HandlingTier::Whistle as i32)
        .collect();
    assert_eq!(whistles.len(), 1, "the whistle is blown once");
    assert_eq!(
        whistles[0].agencies,
        [case.lead_agency.as_str(), case.other_agency.as_str()]
    );
    assert_eq!(whistles[0].reason, cases::EscalationReason::Overdue as i32);

    let enforcement_stream = platform
        .events_until("enforcement", "the operation's conclusion", |events| {
            count_about(events, operation, "OperationConcluded") > 0
        })
        .await;
    let operation_events = types_about(&enforcement_stream, operation);
    // The whistle and its summonses commit together (the service enqueues
    // the summonses first); everything the agencies did follows them, and
    // the conclusion comes last.
    let opening = &operation_events[..3.min(operation_events.len())];
    let mut opening_sorted = opening.to_vec();
    opening_sorted.sort_unstable();
    assert_eq!(
        opening_sorted,
        ["AgencySummoned", "AgencySummoned", "WhistleBlown"],
        "{operation_events:?}"
    );
    assert_eq!(
        operation_events.last(),
        Some(&"OperationConcluded"),
        "{operation_events:?}"
    );
    for (kind, expected) in [
        ("WhistleBlown", 1),
        ("AgencySummoned", 2),
        ("AgencyReportedIn", 2),
        ("ActionRecorded", 2),
        ("OperationConcluded", 1),
        ("AgencyLate", 0),
        ("OperationCancelled", 0),
    ] {
        assert_eq!(
            count_about(&enforcement_stream, operation, kind),
            expected,
            "{kind} in {operation_events:?}"
        );
    }
    let blown: enforcement::WhistleBlown = enforcement_stream
        .iter()
        .find_map(|event| event.decode().ok())
        .expect("the WhistleBlown event");
    assert_eq!(blown.case, case.name);
    assert_eq!(blown.lead_agency, case.lead_agency);
    assert_eq!(blown.agencies, AGENCIES);
    let whistles_for_case = enforcement_stream
        .iter()
        .filter_map(|event| event.decode::<enforcement::WhistleBlown>().ok())
        .filter(|blown| blown.case == case.name)
        .count();
    assert_eq!(
        whistles_for_case, 1,
        "one whistle for the case on the stream"
    );
    let operations = operations_of(platform, &case.name).await;
    assert_eq!(operations.len(), 1, "one operation for the case");

    let actions = actions(platform, &case.name).await;
    assert_eq!(
        actions,
        [
            "reported",
            "triaged",
            "dispatched",
            "escalated",
            "escalated",
            "accepted",
            "work_started",
            "resolved",
            "verified",
            "rated",
            "closed"
        ]
    );
}

#[tokio::test]
async fn journey_street_vending_nobody_accepts_escalates_to_a_meeting_then_the_whistle_and_the_joint_operation_closes_it()
 {
    let platform = Platform::start().await;
    platform.load_demo();
    let case = report_vending(&platform).await;
    overdue_to_meeting(&platform, &case).await;
    overdue_to_whistle(&platform, &case).await;
    let operation = summoned_operation(&platform, &case).await;
    report_in(&platform, &operation.name, &case.lead_agency).await;
    report_in(&platform, &operation.name, &case.other_agency).await;
    record_actions(&platform, &operation.name).await;
    conclude(&platform, &case, &operation.name).await;
    verify_rate_close(&platform, &case).await;
    assert_everything_happened_once(&platform, &case, &operation.name).await;
}
