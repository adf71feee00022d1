//! Joint operations end to end over real gRPC, against real PostgreSQL and
//! NATS JetStream: the whistle, report-in, actions, conclusion, ratings,
//! escalation events from the cases service, deadlines, visibility, and
//! bad input that changes nothing.

mod support;

use chrono::Utc;
use flatgov_proto::enforcement::v1 as api;
use flatgov_testkit::{TestEnv, eventually, field_violations, with_token};
use support::*;
use tonic::Code;

#[tokio::test]
async fn a_whistle_runs_from_summons_through_report_in_and_actions_to_conclusion_and_ratings() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-001").await;
    let market_officer = officer(&mut client, &tokens.market, "market_supervision", "MS-001").await;

    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["urban_management", "market_supervision"], true),
    )
    .await;
    assert_eq!(state(&opened), api::OperationState::Open);
    assert_eq!(opened.lead_agency, "agencies/urban_management");
    assert_eq!(
        opened.agency_selection,
        api::AgencySelection::Requested as i32
    );
    let urban_summons = summons(&opened, "urban_management");
    let deadline = urban_summons.report_in_deadline.unwrap().seconds
        - urban_summons.summon_time.unwrap().seconds;
    assert_eq!(
        deadline,
        30 * 60,
        "urgent whistles give 30 minutes by default"
    );
    let name = opened.name.clone();

    report_in(&mut client, &tokens.urban, &name, &[&urban_officer]).await;
    let reported = report_in(&mut client, &tokens.market, &name, &[&market_officer]).await;
    assert!(
        reported
            .summons
            .iter()
            .all(|summons| summons.reported_on_time)
    );
    assert_eq!(
        summons(&reported, "market_supervision").officers[0].display_name,
        "Officer MS-001"
    );

    record(&mut client, &tokens.urban, inspection(&name)).await;
    let mut penalty = inspection(&name);
    penalty.summary = "fined the shop for occupying the road".into();
    penalty.details = Some(api::record_action_request::Details::PenaltyDecision(
        api::PenaltyDecision {
            legal_basis: "《城市道路管理条例》第四十二条".into(),
            penalty: "fine".into(),
            fine_fen: 200_000,
            decision_number: "雨市监罚〔2026〕3号".into(),
        },
    ));
    let action = record(&mut client, &tokens.market, penalty).await;
    assert_eq!(action.kind, api::ActionKind::PenaltyDecision as i32);

    let concluded = client
        .conclude_operation(with_token(
            api::ConcludeOperationRequest {
                operation: name.clone(),
                outcome: api::OperationOutcome::Resolved as i32,
                summary: "extension removed, fine imposed".into(),
            },
            &tokens.urban,
        ))
        .await
        .expect("concluded")
        .into_inner();
    assert_eq!(state(&concluded), api::OperationState::Concluded);
    assert_eq!(concluded.actions.len(), 2);

    for (agency, score) in [("urban_management", 5), ("market_supervision", 4)] {
        client
            .rate_agency(with_token(
                api::RateAgencyRequest {
                    operation: name.clone(),
                    agency: agency.into(),
                    score,
                    comment: "came quickly".into(),
                },
                &tokens.dispatcher,
            ))
            .await
            .expect("rated");
    }
    let rated = get(&mut client, &tokens.dispatcher, &name).await;
    assert_eq!(rated.ratings.len(), 2);

    let blown = events_of::<api::WhistleBlown>(&test, 1).await;
    assert_eq!(
        blown[0].1.agencies,
        vec!["urban_management", "market_supervision"]
    );
    assert_eq!(blown[0].1.lead_agency, "urban_management");
    let concluded_events = events_of::<api::OperationConcluded>(&test, 1).await;
    assert_eq!(
        concluded_events[0].1.outcome,
        api::OperationOutcome::Resolved as i32
    );
    let rated_events = events_of::<api::AgencyRated>(&test, 2).await;
    assert_eq!(rated_events[0].1.matter_code, "illegal_construction");
    let reported_events = events_of::<api::AgencyReportedIn>(&test, 2).await;
    assert!(
        reported_events
            .iter()
            .all(|(_, event)| event.on_time && event.officers == 1)
    );
    events_of::<api::AgencySummoned>(&test, 2).await;
    events_of::<api::ActionRecorded>(&test, 2).await;

    // Every event is a CloudEvent about the operation and names nobody.
    for event in all_events(&test).await {
        assert_eq!(event.source, "flatgov/enforcement");
        assert_eq!(event.resource, name);
        assert_eq!(event.header("ce-specversion").as_deref(), Some("1.0"));
        assert_eq!(event.header("Nats-Msg-Id"), Some(event.id.clone()));
        let payload = String::from_utf8_lossy(&event.payload);
        for personal in ["Officer UM-001", "Officer MS-001", "13800000000", "UM-001"] {
            assert!(
                !payload.contains(personal),
                "{} carries {personal}",
                event.event_type
            );
        }
    }

    let indicators = client
        .get_indicators(with_token(
            api::GetIndicatorsRequest {
                period_start: Some(prost_types::Timestamp {
                    seconds: Utc::now().timestamp() - 3600,
                    nanos: 0,
                }),
                period_end: Some(prost_types::Timestamp {
                    seconds: Utc::now().timestamp() + 3600,
                    nanos: 0,
                }),
                subdistrict_code: String::new(),
                agency: String::new(),
            },
            &tokens.admin,
        ))
        .await
        .expect("indicators")
        .into_inner();
    let market = indicators
        .agencies
        .iter()
        .find(|row| row.agency == "agencies/market_supervision")
        .expect("market supervision figures");
    assert_eq!(market.whistles_received, 1);
    assert_eq!(market.on_time_report_in_rate, Some(1.0));
    assert_eq!(market.operations_concluded, 1);
    assert_eq!(market.mean_rating, Some(4.0));
    assert_eq!(
        market.actions_by_kind,
        vec![api::ActionCount {
            kind: api::ActionKind::PenaltyDecision as i32,
            count: 1
        }]
    );
    let subdistrict = &indicators.subdistricts[0];
    assert_eq!(subdistrict.subdistrict_code, SUBDISTRICT);
    assert_eq!(
        (
            subdistrict.whistles,
            subdistrict.direct_whistles,
            subdistrict.concluded
        ),
        (1, 1, 1)
    );
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_case_escalated_twice_opens_one_operation() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let case = "cases/0193a1b2-0000-7000-8000-00000000c0de";

    let first = escalation(
        case,
        &["market_supervision", "urban_management", "fire_brigade"],
    );
    publish_as_cases(&test, "0193a1b2-0000-7000-8000-000000000001", &first).await;
    // The same event delivered again, and a second escalation of the case.
    publish_as_cases(&test, "0193a1b2-0000-7000-8000-000000000001", &first).await;
    publish_as_cases(
        &test,
        "0193a1b2-0000-7000-8000-000000000002",
        &escalation(case, &["public_security"]),
    )
    .await;
    // A move to the coordination meeting is not a whistle.
    let mut meeting = escalation("cases/other", &[]);
    meeting.to_tier = flatgov_proto::flatgov::r#type::v1::HandlingTier::CoordinationMeeting as i32;
    publish_as_cases(&test, "0193a1b2-0000-7000-8000-000000000003", &meeting).await;

    eventually("the escalations to be consumed", PATIENCE, || async {
        (consumer_backlog(&test, "enforcement-on-case-escalated").await == Some(0)).then_some(())
    })
    .await;
    let listed = client
        .list_operations(with_token(
            api::ListOperationsRequest::default(),
            &tokens.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .operations;
    assert_eq!(
        listed.len(),
        1,
        "one operation for the case, none for the meeting"
    );
    let operation = &listed[0];
    assert_eq!(operation.case, case);
    assert_eq!(operation.source, api::WhistleSource::CaseEscalation as i32);
    assert_eq!(operation.lead_agency, "agencies/market_supervision");
    let agencies: Vec<&str> = operation
        .summons
        .iter()
        .map(|summons| summons.agency.as_str())
        .collect();
    assert_eq!(
        agencies,
        vec!["agencies/market_supervision", "agencies/urban_management"]
    );
    assert!(
        operation
            .agency_selection_note
            .contains("left out: fire_brigade"),
        "{}",
        operation.agency_selection_note
    );
    let blown = events_of::<api::WhistleBlown>(&test, 1).await;
    assert_eq!(blown.len(), 1);
    assert_eq!(blown[0].1.case, case);

    // Blowing the same case's whistle by call returns the same operation.
    let mut again = whistle(&["public_security"], false);
    again.case = case.into();
    let same = blow(&mut client, &tokens.dispatcher, again).await;
    assert_eq!(same.name, operation.name);

    // Once cancelled, a new escalation of the case opens a new operation.
    client
        .cancel_operation(with_token(
            api::CancelOperationRequest {
                operation: operation.name.clone(),
                reason: "handled by the fire brigade".into(),
            },
            &tokens.dispatcher,
        ))
        .await
        .expect("cancelled");
    let cancelled = events_of::<api::OperationCancelled>(&test, 1).await;
    assert_eq!(cancelled[0].1.case, case);
    publish_as_cases(
        &test,
        "0193a1b2-0000-7000-8000-000000000004",
        &escalation(case, &["urban_management"]),
    )
    .await;
    let reopened = eventually("a new operation for the case", PATIENCE, || async {
        let mut client = client.clone();
        let operations = client
            .list_operations(with_token(
                api::ListOperationsRequest {
                    case: case.into(),
                    states: vec![api::OperationState::Open as i32],
                    ..Default::default()
                },
                &tokens.admin,
            ))
            .await
            .ok()?
            .into_inner()
            .operations;
        operations.into_iter().next()
    })
    .await;
    assert_ne!(reopened.name, operation.name);
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_escalation_naming_no_agency_summons_the_default_set_when_no_duty_lists_are_configured()
{
    let test = TestEnv::new();
    let application = start(
        &test,
        &[(
            "ENFORCEMENT_DEFAULT_SUMMONED_AGENCIES",
            "urban_management,public_security",
        )],
    )
    .await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    publish_as_cases(
        &test,
        "0193a1b2-0000-7000-8000-0000000000aa",
        &escalation("cases/42", &[]),
    )
    .await;
    let blown = events_of::<api::WhistleBlown>(&test, 1).await;
    assert_eq!(
        blown[0].1.agencies,
        vec!["urban_management", "public_security"]
    );
    let operation = get(&mut client, &tokens.admin, &blown[0].1.operation).await;
    assert_eq!(
        operation.agency_selection,
        api::AgencySelection::DefaultSet as i32
    );
    assert!(
        operation
            .agency_selection_note
            .contains("no duty lists service"),
        "{}",
        operation.agency_selection_note
    );
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_agency_that_misses_its_deadline_is_marked_late_once_across_two_replicas_and_still_reports()
 {
    let test = TestEnv::new();
    let limits = [("ENFORCEMENT_REPORT_IN_LIMIT_URGENT", "3s")];
    let first = start(&test, &limits).await;
    let second = start(&test, &limits).await;
    let mut client = client(&first).await;
    let tokens = tokens(&test);
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-7").await;
    let police_officer = officer(&mut client, &tokens.police, "public_security", "PS-7").await;

    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["urban_management", "public_security"], true),
    )
    .await;
    report_in(&mut client, &tokens.urban, &opened.name, &[&urban_officer]).await;

    let late = events_of::<api::AgencyLate>(&test, 1).await;
    assert_eq!(late[0].1.agency, "public_security");
    assert_eq!(late[0].1.subdistrict_code, SUBDISTRICT);
    assert_eq!(late[0].1.block_code, BLOCK);
    let marked = get(&mut client, &tokens.dispatcher, &opened.name).await;
    assert!(marked.overdue);
    assert_eq!(
        summons(&marked, "public_security").state,
        api::SummonsState::Late as i32
    );
    assert_eq!(
        summons(&marked, "urban_management").state,
        api::SummonsState::ReportedIn as i32
    );
    let overdue = client
        .list_operations(with_token(
            api::ListOperationsRequest {
                overdue_only: true,
                ..Default::default()
            },
            &tokens.dispatcher,
        ))
        .await
        .unwrap()
        .into_inner()
        .operations;
    assert_eq!(overdue.len(), 1);

    // Late, the police still report, counted late.
    let reported = report_in(
        &mut client,
        &tokens.police,
        &opened.name,
        &[&police_officer],
    )
    .await;
    assert!(!summons(&reported, "public_security").reported_on_time);
    assert!(!reported.overdue);
    let reported_events = events_of::<api::AgencyReportedIn>(&test, 2).await;
    let police = reported_events
        .iter()
        .find(|(_, event)| event.agency == "public_security")
        .unwrap();
    assert!(!police.1.on_time);

    let bus = test.bus().await;
    let late = flatgov_testkit::events::committed::<api::AgencyLate>(
        first.pool(),
        &bus,
        "enforcement",
        PATIENCE,
    )
    .await;
    assert_eq!(
        late.len(),
        1,
        "two replicas raced for the deadline; it fired once"
    );
    second.shutdown().await.unwrap();
    first.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rectification_order_past_its_deadline_reopens_follow_up_until_it_is_checked() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-9").await;
    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["urban_management"], false),
    )
    .await;
    let name = opened.name.clone();
    report_in(&mut client, &tokens.urban, &name, &[&urban_officer]).await;
    let mut order = inspection(&name);
    order.summary = "ordered the extension removed".into();
    order.details = Some(api::record_action_request::Details::RectificationOrder(
        api::RectificationOrder {
            requirement: "remove the extension".into(),
            deadline: Some(prost_types::Timestamp {
                seconds: Utc::now().timestamp() + 3,
                nanos: 0,
            }),
            document_number: "责改〔2026〕1号".into(),
            status: 0,
            overdue_time: None,
        },
    ));
    let order = record(&mut client, &tokens.urban, order).await;
    let conclude = |summary: &str| api::ConcludeOperationRequest {
        operation: name.clone(),
        outcome: api::OperationOutcome::PartiallyResolved as i32,
        summary: summary.into(),
    };
    client
        .conclude_operation(with_token(conclude("order issued"), &tokens.urban))
        .await
        .expect("concluded with the order pending");

    let opened_events = events_of::<api::FollowUpOpened>(&test, 1).await;
    assert_eq!(opened_events[0].1.rectification_order, order.name);
    let overdue = events_of::<api::RectificationOrderOverdue>(&test, 1).await;
    assert_eq!(overdue[0].1.agency, "urban_management");
    let reopened = get(&mut client, &tokens.dispatcher, &name).await;
    assert_eq!(state(&reopened), api::OperationState::FollowUp);
    assert!(reopened.overdue);

    let refused = client
        .conclude_operation(with_token(conclude("again"), &tokens.urban))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains(&order.name),
        "{}",
        refused.message()
    );

    let mut check = inspection(&name);
    check.summary = "re-inspected: removed".into();
    check.details = Some(api::record_action_request::Details::RectificationCheck(
        api::RectificationCheck {
            rectification_order: order.name.clone(),
            complied: true,
            findings: "gone".into(),
        },
    ));
    record(&mut client, &tokens.urban, check).await;
    let closed = client
        .conclude_operation(with_token(
            conclude("complied after the deadline"),
            &tokens.urban,
        ))
        .await
        .expect("follow-up closed")
        .into_inner();
    assert_eq!(state(&closed), api::OperationState::Concluded);
    let checked_order = closed
        .actions
        .iter()
        .find(|action| action.name == order.name)
        .unwrap();
    let Some(api::action::Details::RectificationOrder(details)) = &checked_order.details else {
        panic!("a rectification order");
    };
    assert_eq!(details.status, api::RectificationStatus::Complied as i32);
    events_of::<api::FollowUpClosed>(&test, 1).await;
    assert_eq!(
        events_of::<api::OperationConcluded>(&test, 1).await.len(),
        1,
        "the case moved on once"
    );

    let refused = client
        .record_action(with_token(inspection(&name), &tokens.urban))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("the operation is concluded"),
        "{}",
        refused.message()
    );
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn officers_see_only_their_agencys_operations_and_sensitive_notes_stay_with_their_agency() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-3").await;
    let police_officer = officer(&mut client, &tokens.police, "public_security", "PS-3").await;
    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["urban_management", "public_security"], false),
    )
    .await;
    let name = opened.name.clone();
    report_in(&mut client, &tokens.urban, &name, &[&urban_officer]).await;
    report_in(&mut client, &tokens.police, &name, &[&police_officer]).await;
    let mut investigation = inspection(&name);
    investigation.summary = "questioned the owner".into();
    investigation.notes = "suspect linked to case 2026-117".into();
    investigation.notes_sensitive = true;
    record(&mut client, &tokens.police, investigation).await;
    let mut open_note = inspection(&name);
    open_note.notes = "owner cooperative".into();
    record(&mut client, &tokens.urban, open_note).await;

    let notes_seen_by = |operation: &api::Operation| -> Vec<(String, bool)> {
        operation
            .actions
            .iter()
            .map(|action| (action.notes.clone(), action.notes_redacted))
            .collect()
    };
    let police_view = get(&mut client, &tokens.police, &name).await;
    assert_eq!(
        notes_seen_by(&police_view),
        vec![
            ("suspect linked to case 2026-117".into(), false),
            ("owner cooperative".into(), false)
        ]
    );
    for token in [&tokens.urban, &tokens.dispatcher, &tokens.admin] {
        let view = get(&mut client, token, &name).await;
        assert_eq!(
            notes_seen_by(&view),
            vec![(String::new(), true), ("owner cooperative".into(), false)]
        );
        assert_eq!(
            view.actions[0].summary, "questioned the owner",
            "the summary stays visible"
        );
    }

    // An operation that did not summon market supervision does not exist
    // for its officers.
    let market_refused = client
        .get_operation(with_token(
            api::GetOperationRequest { name: name.clone() },
            &tokens.market,
        ))
        .await
        .unwrap_err();
    assert_eq!(market_refused.code(), Code::NotFound);
    assert_eq!(market_refused.message(), format!("{name} does not exist"));
    let market_list = client
        .list_operations(with_token(
            api::ListOperationsRequest::default(),
            &tokens.market,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(market_list.operations.is_empty());
    let urban_list = client
        .list_operations(with_token(
            api::ListOperationsRequest::default(),
            &tokens.urban,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(urban_list.operations.len(), 1);

    let other = client
        .get_operation(with_token(
            api::GetOperationRequest { name: name.clone() },
            &tokens.other_dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    assert_eq!(other.message(), format!("{name} does not exist"));
    let other_list = client
        .list_operations(with_token(
            api::ListOperationsRequest::default(),
            &tokens.other_dispatcher,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(other_list.operations.is_empty());

    let integrator = get(&mut client, &tokens.integrator, &name).await;
    let officers = &summons(&integrator, "public_security").officers;
    assert_eq!(
        officers[0].display_name, "",
        "integrators see no officer names"
    );
    assert!(
        integrator
            .actions
            .iter()
            .all(|action| action.notes.is_empty())
    );
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_input_gets_the_right_code_with_the_reason_and_changes_nothing() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-5").await;
    let market_officer = officer(&mut client, &tokens.market, "market_supervision", "MS-5").await;

    // An unknown agency: INVALID_ARGUMENT naming the field; nothing opened.
    let unknown = client
        .blow_whistle(with_token(
            whistle(&["urban_management", "water_police"], false),
            &tokens.dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    let violations = field_violations(&unknown);
    assert_eq!(violations[0].field, "agencies[1]");
    assert!(
        violations[0]
            .description
            .contains("water_police is not registered")
    );
    let malformed = client
        .blow_whistle(with_token(
            api::BlowWhistleRequest {
                subdistrict_code: "yuhu".into(),
                block_code: "430302009001001".into(),
                ..whistle(&["Urban"], false)
            },
            &tokens.dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&malformed)
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(fields, vec!["subdistrict_code", "agencies[0]"]);
    let outside = client
        .blow_whistle(with_token(
            api::BlowWhistleRequest {
                subdistrict_code: OTHER_SUBDISTRICT.into(),
                block_code: String::new(),
                ..whistle(&["urban_management"], false)
            },
            &tokens.dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied);
    let none = client
        .list_operations(with_token(
            api::ListOperationsRequest::default(),
            &tokens.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        none.operations.is_empty(),
        "refused whistles opened nothing"
    );

    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["urban_management", "market_supervision"], false),
    )
    .await;
    let name = opened.name.clone();
    let before = get(&mut client, &tokens.admin, &name).await;
    let bus = test.bus().await;
    let events = || {
        flatgov_testkit::events::events_committed(application.pool(), &bus, "enforcement", PATIENCE)
    };
    let events_before = events().await;

    // Reporting in for an agency that was not summoned: the operation does
    // not exist for it.
    let police_officer = officer(&mut client, &tokens.police, "public_security", "PS-5").await;
    let not_summoned = client
        .report_in(with_token(
            api::ReportInRequest {
                operation: name.clone(),
                officers: vec![police_officer],
                ..Default::default()
            },
            &tokens.police,
        ))
        .await
        .unwrap_err();
    assert_eq!(not_summoned.code(), Code::NotFound);
    assert_eq!(not_summoned.message(), format!("{name} does not exist"));
    // Reporting in with another agency's officer.
    let foreign = client
        .report_in(with_token(
            api::ReportInRequest {
                operation: name.clone(),
                officers: vec![market_officer.clone()],
                ..Default::default()
            },
            &tokens.urban,
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::InvalidArgument);
    assert!(
        foreign.message().contains("belongs to market_supervision"),
        "{}",
        foreign.message()
    );

    // An action before reporting in.
    let unreported = client
        .record_action(with_token(inspection(&name), &tokens.urban))
        .await
        .unwrap_err();
    assert_eq!(unreported.code(), Code::FailedPrecondition);
    assert!(unreported.message().contains("must report in"));

    report_in(&mut client, &tokens.urban, &name, &[&urban_officer]).await;
    // A penalty without its legal basis, a rectification deadline in the past.
    let mut penalty = inspection(&name);
    penalty.details = Some(api::record_action_request::Details::PenaltyDecision(
        api::PenaltyDecision {
            legal_basis: " ".into(),
            penalty: "fine".into(),
            fine_fen: -5,
            decision_number: String::new(),
        },
    ));
    let invalid = client
        .record_action(with_token(penalty, &tokens.urban))
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&invalid)
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(
        fields,
        vec!["penalty_decision.legal_basis", "penalty_decision.fine_fen"]
    );
    record(&mut client, &tokens.urban, inspection(&name)).await;

    // Concluding before everyone reported, and by an agency that does not lead.
    let conclude = api::ConcludeOperationRequest {
        operation: name.clone(),
        outcome: api::OperationOutcome::Resolved as i32,
        summary: "done".into(),
    };
    let early = client
        .conclude_operation(with_token(conclude.clone(), &tokens.urban))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert_eq!(
        early.message(),
        "not every summoned agency has reported in: waiting for market_supervision"
    );
    report_in(&mut client, &tokens.market, &name, &[&market_officer]).await;
    let not_lead = client
        .conclude_operation(with_token(conclude.clone(), &tokens.market))
        .await
        .unwrap_err();
    assert_eq!(not_lead.code(), Code::PermissionDenied);
    let silent = client
        .conclude_operation(with_token(conclude.clone(), &tokens.urban))
        .await
        .unwrap_err();
    assert_eq!(silent.code(), Code::FailedPrecondition);
    assert!(
        silent
            .message()
            .contains("recorded an action: waiting for market_supervision")
    );
    let no_outcome = client
        .conclude_operation(with_token(
            api::ConcludeOperationRequest {
                outcome: 0,
                ..conclude.clone()
            },
            &tokens.urban,
        ))
        .await
        .unwrap_err();
    assert_eq!(no_outcome.code(), Code::InvalidArgument);
    // Rating before the conclusion.
    let early_rating = client
        .rate_agency(with_token(
            api::RateAgencyRequest {
                operation: name.clone(),
                agency: "urban_management".into(),
                score: 5,
                comment: String::new(),
            },
            &tokens.dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(early_rating.code(), Code::FailedPrecondition);

    // Nothing the refused calls attempted changed the operation or published anything.
    let after = get(&mut client, &tokens.admin, &name).await;
    assert_eq!(after.actions.len(), 1);
    assert_eq!(state(&after), state(&before));
    assert!(after.ratings.is_empty() && after.conclusion.is_none());
    let events_after = events().await;
    let published_by_the_accepted_calls =
        ["AgencyReportedIn", "ActionRecorded", "AgencyReportedIn"];
    assert_eq!(
        events_after,
        events_before + published_by_the_accepted_calls.len() as u64
    );
    application.shutdown().await.unwrap();
}
