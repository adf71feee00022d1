use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::*;
use crate::domain::action::{ActionDetails, NewAction};
use crate::domain::duty::{Assignment, DutyGap};
use crate::domain::limits::{LimitDuration, ReportInLimits};
use crate::domain::selection::Selection;
use crate::domain::vocabulary::{AgencySelection, OperationState, Outcome};

fn agency(code: &str) -> AgencyCode {
    AgencyCode::parse(code).unwrap()
}

fn at() -> DateTime<Utc> {
    "2026-12-07T09:00:00Z".parse().unwrap()
}

fn limits() -> ReportInLimits {
    ReportInLimits {
        urgent: LimitDuration::from_secs(30 * 60),
        normal: LimitDuration::from_secs(2 * 3600),
    }
}

fn facts(urgent: bool) -> Facts {
    Facts {
        id: Uuid::nil(),
        case: None,
        subdistrict: "430302001".into(),
        block: Some("430302001004017".into()),
        matter: Some("illegal_construction".into()),
        urgent,
        blown_at: at(),
    }
}

/// An open operation summoning `agencies`, the first leading.
fn opened(agencies: &[&str]) -> Operation {
    let mut operation = Operation::blow(facts(false));
    operation
        .apply(
            "dispatcher",
            Command::Open {
                selection: Selection {
                    agencies: agencies.iter().map(|code| agency(code)).collect(),
                    how: AgencySelection::Requested,
                    note: "named by the caller".into(),
                },
                limits: limits(),
                assignments: Vec::new(),
            },
            at(),
        )
        .unwrap();
    operation
}

fn report(operation: &mut Operation, code: &str, officer: u128) -> Result<Vec<Record>, Refusal> {
    operation.apply(
        "officer",
        Command::ReportIn {
            agency: agency(code),
            officers: vec![Uuid::from_u128(officer)],
            unit: None,
            note: String::new(),
            officer_units: Vec::new(),
        },
        at() + TimeDelta::minutes(10),
    )
}

fn action(code: &str, id: u128, details: ActionDetails) -> Command {
    Command::RecordAction(NewAction {
        id: Uuid::from_u128(id),
        agency: agency(code),
        summary: "inspected".into(),
        notes: String::new(),
        notes_sensitive: false,
        details_restricted: false,
        details,
        attachments: Vec::new(),
    })
}

fn inspection(code: &str, id: u128) -> Command {
    action(
        code,
        id,
        ActionDetails::Inspection {
            findings: String::new(),
            violation_found: false,
        },
    )
}

fn conclude(code: &str) -> Command {
    Command::Conclude {
        agency: agency(code),
        outcome: Outcome::Resolved,
        summary: "done".into(),
    }
}

#[test]
fn opening_publishes_the_whistle_before_the_summonses_it_causes_with_the_lead_first() {
    let operation = opened(&["urban_management", "market_supervision"]);
    assert_eq!(operation.state(), OperationState::Open);
    assert_eq!(operation.lead(), Some(&agency("urban_management")));
    let mut blown = Operation::blow(facts(true));
    let records = blown
        .apply(
            "dispatcher",
            Command::Open {
                selection: Selection {
                    agencies: vec![agency("market_supervision"), agency("urban_management")],
                    how: AgencySelection::DutyLists,
                    note: String::new(),
                },
                limits: limits(),
                assignments: Vec::new(),
            },
            at(),
        )
        .unwrap();
    assert!(
        matches!(&records[0], Record::Opened { lead, .. } if lead.as_str() == "market_supervision")
    );
    assert_eq!(
        records[1],
        Record::Summoned {
            agency: agency("market_supervision"),
            position: 0,
            lead: true,
            report_in_due: at() + TimeDelta::minutes(30),
            assignment: Assignment::default(),
        },
        "urgent whistles give the short limit"
    );
    assert!(matches!(
        &records[2],
        Record::Summoned {
            lead: false,
            position: 1,
            ..
        }
    ));
    let again = blown.apply(
        "dispatcher",
        Command::Open {
            selection: Selection {
                agencies: vec![agency("public_security")],
                how: AgencySelection::Requested,
                note: String::new(),
            },
            limits: limits(),
            assignments: Vec::new(),
        },
        at(),
    );
    assert!(matches!(again, Err(Refusal::WrongState { .. })));
}

#[test]
fn an_agency_that_was_not_summoned_cannot_report_in_and_hears_nothing_of_the_others() {
    let mut operation = opened(&["urban_management", "market_supervision"]);
    let refusal = report(&mut operation, "public_security", 1).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "agency public_security is not summoned to this operation"
    );
}

#[test]
fn reporting_in_needs_an_open_operation_but_a_repeat_is_recognised() {
    let mut operation = opened(&["urban_management", "market_supervision"]);
    let records = report(&mut operation, "market_supervision", 7).unwrap();
    assert!(matches!(
        &records[..],
        [Record::ReportedIn { on_time: true, .. }]
    ));
    assert_eq!(
        report(&mut operation, "market_supervision", 7).unwrap(),
        Vec::new(),
        "the same report again changes nothing"
    );
    assert_eq!(
        report(&mut operation, "market_supervision", 8),
        Err(Refusal::AlreadyReportedIn {
            agency: agency("market_supervision")
        })
    );
    operation
        .apply("dispatcher", Command::Cancel { reason: "x".into() }, at())
        .unwrap();
    assert_eq!(
        report(&mut operation, "urban_management", 1)
            .unwrap_err()
            .to_string(),
        "the operation is cancelled; reporting in needs it to be open"
    );
    let mut resolving = Operation::blow(facts(false));
    assert_eq!(
        report(&mut resolving, "urban_management", 1)
            .unwrap_err()
            .to_string(),
        "the operation is still resolving its agencies; reporting in needs it to be open"
    );
}

#[test]
fn a_late_report_is_accepted_and_counted_late() {
    let mut operation = opened(&["urban_management"]);
    let records = operation
        .apply(
            "officer",
            Command::ReportIn {
                agency: agency("urban_management"),
                officers: vec![Uuid::from_u128(1)],
                unit: None,
                note: String::new(),
                officer_units: Vec::new(),
            },
            at() + TimeDelta::hours(3),
        )
        .unwrap();
    assert!(matches!(
        &records[..],
        [Record::ReportedIn { on_time: false, .. }]
    ));
}

#[test]
fn actions_need_a_report_in_and_an_operation_that_has_not_concluded() {
    let mut operation = opened(&["urban_management", "market_supervision"]);
    report(&mut operation, "urban_management", 1).unwrap();
    assert!(
        operation
            .apply("officer", inspection("urban_management", 10), at())
            .is_ok()
    );
    assert_eq!(
        operation.apply("officer", inspection("market_supervision", 11), at()),
        Err(Refusal::NotReportedIn {
            agency: agency("market_supervision")
        })
    );
    report(&mut operation, "market_supervision", 2).unwrap();
    operation
        .apply("officer", inspection("market_supervision", 11), at())
        .unwrap();
    operation
        .apply("officer", conclude("urban_management"), at())
        .unwrap();
    let refusal = operation
        .apply("officer", inspection("urban_management", 12), at())
        .unwrap_err();
    assert!(
        refusal.to_string().contains("the operation is concluded"),
        "{refusal}"
    );
}

#[test]
fn only_the_lead_concludes_and_only_once_everyone_reported_and_acted() {
    let mut operation = opened(&["urban_management", "market_supervision"]);
    report(&mut operation, "urban_management", 1).unwrap();
    operation
        .apply("officer", inspection("urban_management", 10), at())
        .unwrap();
    assert_eq!(
        operation.apply("officer", conclude("market_supervision"), at()),
        Err(Refusal::NotLead {
            step: "conclude",
            caller: agency("market_supervision")
        })
    );
    assert_eq!(
        operation
            .apply("officer", conclude("urban_management"), at())
            .unwrap_err()
            .to_string(),
        "not every summoned agency has reported in: waiting for market_supervision"
    );
    report(&mut operation, "market_supervision", 2).unwrap();
    assert_eq!(
        operation.apply("officer", conclude("urban_management"), at()),
        Err(Refusal::AgenciesWithoutActions {
            missing: vec![agency("market_supervision")]
        })
    );
    operation
        .apply("officer", inspection("market_supervision", 11), at())
        .unwrap();
    let records = operation
        .apply("lead-officer", conclude("urban_management"), at())
        .unwrap();
    assert!(matches!(
        &records[..],
        [Record::Concluded { kind: ConclusionKind::First, by, .. }] if by == "lead-officer"
    ));
    assert!(matches!(
        operation.apply("officer", conclude("urban_management"), at()),
        Err(Refusal::WrongState {
            state: OperationState::Concluded,
            ..
        })
    ));
}

#[test]
fn an_overdue_order_reopens_a_concluded_operation_until_it_is_checked() {
    let deadline = at() + TimeDelta::days(1);
    let mut operation = opened(&["urban_management"]);
    report(&mut operation, "urban_management", 1).unwrap();
    let order = Uuid::from_u128(20);
    operation
        .apply(
            "officer",
            action(
                "urban_management",
                20,
                ActionDetails::RectificationOrder {
                    requirement: "remove it".into(),
                    deadline,
                    document_number: String::new(),
                },
            ),
            at(),
        )
        .unwrap();
    operation
        .apply("officer", conclude("urban_management"), at())
        .unwrap();
    let early = operation.apply(
        "worker",
        Command::MarkOrderOverdue { order },
        deadline - TimeDelta::minutes(1),
    );
    assert!(matches!(early, Err(Refusal::OrderNotOverdue { .. })));
    let records = operation
        .apply(
            "worker",
            Command::MarkOrderOverdue { order },
            deadline + TimeDelta::minutes(1),
        )
        .unwrap();
    assert_eq!(
        records,
        vec![
            Record::OrderOverdue {
                order,
                agency: agency("urban_management"),
                due: deadline,
            },
            Record::FollowUpOpened { order },
        ]
    );
    assert_eq!(operation.state(), OperationState::FollowUp);
    let refusal = operation
        .apply(
            "officer",
            conclude("urban_management"),
            deadline + TimeDelta::hours(1),
        )
        .unwrap_err();
    assert!(
        refusal
            .to_string()
            .contains("rectification orders are overdue and unchecked"),
        "{refusal}"
    );
    let check = |id: u128, order: Uuid| {
        action(
            "urban_management",
            id,
            ActionDetails::RectificationCheck {
                rectification_order: order,
                complied: true,
                findings: String::new(),
            },
        )
    };
    let records = operation.apply("officer", check(21, order), at()).unwrap();
    assert!(matches!(
        &records[..],
        [
            Record::ActionRecorded { .. },
            Record::OrderChecked { complied: true, .. }
        ]
    ));
    assert!(
        operation
            .apply("officer", check(22, order), at())
            .unwrap_err()
            .to_string()
            .contains("has already been checked")
    );
    let records = operation
        .apply(
            "officer",
            conclude("urban_management"),
            deadline + TimeDelta::hours(1),
        )
        .unwrap();
    assert!(matches!(
        &records[..],
        [Record::Concluded {
            kind: ConclusionKind::FollowUpClosed,
            ..
        }]
    ));
}

#[test]
fn a_check_refers_to_an_unchecked_order_of_the_same_agency() {
    let mut operation = opened(&["urban_management", "market_supervision"]);
    report(&mut operation, "urban_management", 1).unwrap();
    report(&mut operation, "market_supervision", 2).unwrap();
    operation
        .apply(
            "officer",
            action(
                "urban_management",
                20,
                ActionDetails::RectificationOrder {
                    requirement: "remove it".into(),
                    deadline: at() + TimeDelta::days(1),
                    document_number: String::new(),
                },
            ),
            at(),
        )
        .unwrap();
    let check = |code: &str, order: u128| {
        action(
            code,
            30,
            ActionDetails::RectificationCheck {
                rectification_order: Uuid::from_u128(order),
                complied: false,
                findings: String::new(),
            },
        )
    };
    let foreign = operation
        .apply("officer", check("market_supervision", 20), at())
        .unwrap_err();
    assert!(
        foreign.to_string().contains("only that agency checks it"),
        "{foreign}"
    );
    assert!(!foreign.to_string().contains("urban_management"));
    let unknown = operation
        .apply("officer", check("urban_management", 99), at())
        .unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("is not a rectification order of this operation")
    );
    let before = operation.clone();
    assert!(
        operation
            .apply("officer", check("urban_management", 99), at())
            .is_err()
    );
    assert_eq!(operation, before, "a refused command changes nothing");
}

#[test]
fn only_operations_that_have_not_concluded_can_be_cancelled() {
    let cancel = || Command::Cancel {
        reason: "handled elsewhere".into(),
    };
    assert!(
        Operation::blow(facts(false))
            .apply("dispatcher", cancel(), at())
            .is_ok()
    );
    let mut operation = opened(&["urban_management"]);
    assert!(matches!(
        &operation.apply("dispatcher", cancel(), at()).unwrap()[..],
        [Record::Cancelled { .. }]
    ));
    assert!(operation.apply("dispatcher", cancel(), at()).is_err());
}

#[test]
fn a_summoned_agency_is_rated_once_after_the_conclusion() {
    let rate = |code: &str| Command::Rate {
        agency: agency(code),
        score: 5,
        comment: String::new(),
    };
    let mut operation = opened(&["urban_management"]);
    assert!(
        operation
            .apply("dispatcher", rate("urban_management"), at())
            .is_err()
    );
    report(&mut operation, "urban_management", 1).unwrap();
    operation
        .apply("officer", inspection("urban_management", 10), at())
        .unwrap();
    operation
        .apply("officer", conclude("urban_management"), at())
        .unwrap();
    assert!(
        operation
            .apply("dispatcher", rate("urban_management"), at())
            .is_ok()
    );
    assert_eq!(
        operation.apply("dispatcher", rate("urban_management"), at()),
        Err(Refusal::AlreadyRated {
            agency: agency("urban_management")
        })
    );
    assert!(matches!(
        operation.apply("dispatcher", rate("public_security"), at()),
        Err(Refusal::NotSummoned { .. })
    ));
}

#[test]
fn summoning_twice_or_after_the_end_is_refused() {
    let summon = |code: &str| Command::Summon {
        agency: agency(code),
        limits: limits(),
        assignment: Assignment::default(),
    };
    let mut operation = opened(&["urban_management"]);
    let records = operation
        .apply("officer", summon("public_security"), at())
        .unwrap();
    assert!(matches!(
        &records[..],
        [Record::Summoned {
            position: 1,
            lead: false,
            ..
        }]
    ));
    assert_eq!(
        operation.apply("officer", summon("urban_management"), at()),
        Err(Refusal::AlreadySummoned {
            agency: agency("urban_management")
        })
    );
    operation
        .apply("dispatcher", Command::Cancel { reason: "x".into() }, at())
        .unwrap();
    assert!(
        operation
            .apply("officer", summon("market_supervision"), at())
            .is_err()
    );
}

#[test]
fn a_summons_goes_to_its_assigned_unit_and_only_that_units_officers_report_in() {
    let squad = Uuid::from_u128(77);
    let mut operation = Operation::blow(facts(false));
    let records = operation
        .apply(
            "dispatcher",
            Command::Open {
                selection: Selection {
                    agencies: vec![agency("public_security"), agency("urban_management")],
                    how: AgencySelection::Requested,
                    note: String::new(),
                },
                limits: limits(),
                assignments: vec![
                    (
                        agency("public_security"),
                        Assignment {
                            unit: Some(squad),
                            gap: None,
                        },
                    ),
                    (
                        agency("urban_management"),
                        Assignment {
                            unit: None,
                            gap: Some(DutyGap::NotStationed),
                        },
                    ),
                ],
            },
            at(),
        )
        .unwrap();
    assert!(matches!(
        &records[1],
        Record::Summoned { assignment, .. } if assignment.unit == Some(squad)
    ));
    assert!(matches!(
        &records[2],
        Record::Summoned { assignment, .. } if assignment.gap == Some(DutyGap::NotStationed)
    ));
    let report = |officer_units: Vec<Uuid>| Command::ReportIn {
        agency: agency("public_security"),
        officers: vec![Uuid::from_u128(1)],
        unit: None,
        note: String::new(),
        officer_units,
    };
    assert_eq!(
        operation.apply("officer", report(vec![Uuid::from_u128(78)]), at()),
        Err(Refusal::NotOfSummonedUnit {
            unit: format!("agencies/public_security/units/{squad}")
        })
    );
    let reported = operation
        .apply("officer", report(vec![Uuid::from_u128(78), squad]), at())
        .unwrap();
    assert!(matches!(
        &reported[..],
        [Record::ReportedIn { unit: Some(unit), .. }] if *unit == squad
    ));
    // An agency summoned as a whole reports with any of its officers.
    assert!(
        report_as(&mut operation, "urban_management", Vec::new()).is_ok(),
        "no unit was summoned, so none is required"
    );
}

fn report_as(
    operation: &mut Operation,
    code: &str,
    officer_units: Vec<Uuid>,
) -> Result<Vec<Record>, Refusal> {
    operation.apply(
        "officer",
        Command::ReportIn {
            agency: agency(code),
            officers: vec![Uuid::from_u128(5)],
            unit: None,
            note: String::new(),
            officer_units,
        },
        at(),
    )
}
