use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use super::*;
use crate::domain::calendar::from_china_local;
use crate::domain::values::{MatterCode, StaffId, UnitName};

const BLOCK: &str = "subdistricts/yuhu-lu/blocks/017";
const OTHER_BLOCK: &str = "subdistricts/yuhu-lu/blocks/018";
const SUBDISTRICT: &str = "subdistricts/yuhu-lu";

/// Monday 3 March 2025, 09:00 in China, plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    let start = NaiveDateTime::parse_from_str("2025-03-03 09:00", "%Y-%m-%d %H:%M").unwrap();
    from_china_local(start) + TimeDelta::minutes(minutes)
}

fn staff(id: &str, unit: &str) -> Actor {
    Actor::staff(StaffId::parse(id).unwrap(), UnitName::parse(unit).unwrap())
}

fn governor() -> Actor {
    staff("gov-017", BLOCK)
}

fn assistant() -> Actor {
    staff("asst-017-1", BLOCK)
}

fn supervisor() -> Actor {
    staff("sup-017", BLOCK)
}

fn dispatcher() -> Actor {
    staff("disp-yuhu-lu", SUBDISTRICT)
}

fn block(name: &str) -> BlockName {
    BlockName::parse(name).unwrap()
}

fn matter(code: &str) -> MatterCode {
    MatterCode::parse(code).unwrap()
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

fn unit(name: &str) -> UnitName {
    UnitName::parse(name).unwrap()
}

fn to_governor(now: DateTime<Utc>) -> Assignment {
    assignment(Assignee::Staff(StaffId::parse("gov-017").unwrap()), now)
}

fn assignment(assignee: Assignee, now: DateTime<Utc>) -> Assignment {
    Assignment {
        assignee,
        acceptance_due: now + TimeDelta::hours(2),
        resolution_due: now + TimeDelta::days(3),
    }
}

fn reported() -> Case {
    let new_case = NewCase {
        id: CaseId::new_v7(),
        kind: CaseKind::Problem,
        channel: Channel::Hotline12345,
        matter: Matter::Unclassified,
        place: Place::Point(GeoPoint::new(27.8297, 112.9441).unwrap()),
    };
    Case::report(new_case, Actor::System, at(0)).0
}

/// Applies a command that must succeed.
fn apply(case: &mut Case, actor: Actor, command: Command, minutes: i64) -> Vec<TransitionRecord> {
    case.apply(actor, command, at(minutes))
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Applies a command that must be refused, checking the case did not change.
fn refuse(case: &mut Case, actor: Actor, command: Command, minutes: i64) -> TransitionError {
    let before = case.clone();
    let error = case.apply(actor, command, at(minutes)).unwrap_err();
    assert_eq!(*case, before, "a refused command changed the case");
    error
}

fn triage(tier: Tier) -> Command {
    Command::Triage {
        block: block(BLOCK),
        matter: matter("env_03"),
        tier,
    }
}

fn triaged() -> Case {
    let mut case = reported();
    apply(&mut case, Actor::System, triage(Tier::FrontLine), 1);
    case
}

fn dispatched() -> Case {
    let mut case = triaged();
    let command = Command::Dispatch {
        assignment: to_governor(at(2)),
    };
    apply(&mut case, Actor::System, command, 2);
    case
}

fn in_progress() -> Case {
    let mut case = dispatched();
    apply(&mut case, governor(), Command::Accept, 10);
    apply(&mut case, governor(), Command::StartWork, 20);
    case
}

fn resolved() -> Case {
    let mut case = in_progress();
    apply(&mut case, governor(), Command::Resolve, 60);
    case
}

fn verified() -> Case {
    let mut case = resolved();
    apply(&mut case, supervisor(), Command::PassVerification, 90);
    case
}

fn rate(rating: Rating) -> Command {
    Command::Rate {
        rating,
        due_if_reopened: at(10_000),
    }
}

#[test]
fn a_new_report_starts_reported_with_its_first_record() {
    let new_case = NewCase {
        id: CaseId::new_v7(),
        kind: CaseKind::SafetyHazard,
        channel: Channel::Patrol,
        matter: Matter::Classified(matter("safe_01")),
        place: Place::Block(block(BLOCK)),
    };
    let id = new_case.id;
    let (case, record) = Case::report(new_case, governor(), at(0));
    assert_eq!(case.state(), CaseState::Reported);
    assert_eq!(case.version(), 1);
    assert_eq!(case.block(), Some(&block(BLOCK)));
    assert_eq!(case.reported_at(), at(0));
    assert_eq!(record.case_id, id);
    assert_eq!(record.sequence, 1);
    assert_eq!(record.from, None);
    assert_eq!(record.to, CaseState::Reported);
    assert_eq!(
        record.action,
        Action::Reported {
            kind: CaseKind::SafetyHazard,
            channel: Channel::Patrol,
            matter: Matter::Classified(matter("safe_01")),
            block: Some(block(BLOCK)),
        }
    );
}

#[test]
fn a_published_record_carries_no_location_of_the_reporter() {
    let new_case = NewCase {
        id: CaseId::new_v7(),
        kind: CaseKind::Dispute,
        channel: Channel::WalkIn,
        matter: Matter::Unclassified,
        place: Place::Point(GeoPoint::new(27.8297, 112.9441).unwrap()),
    };
    let (_, record) = Case::report(new_case, Actor::Resident, at(0));
    let json = serde_json::to_string(&record).unwrap();
    assert!(!json.contains("27.8297"), "{json}");
    assert!(!json.contains("latitude"), "{json}");
}

#[test]
fn the_main_line_runs_from_report_to_closure_with_one_numbered_record_per_step() {
    let new_case = NewCase {
        id: CaseId::new_v7(),
        kind: CaseKind::Problem,
        channel: Channel::ResidentApp,
        matter: Matter::Unclassified,
        place: Place::Point(GeoPoint::new(27.8297, 112.9441).unwrap()),
    };
    let (mut case, first) = Case::report(new_case, Actor::Resident, at(0));
    let mut records = vec![first];
    records.extend(apply(&mut case, Actor::System, triage(Tier::FrontLine), 1));
    let dispatch = Command::Dispatch {
        assignment: to_governor(at(2)),
    };
    records.extend(apply(&mut case, Actor::System, dispatch, 2));
    records.extend(apply(&mut case, governor(), Command::Accept, 10));
    records.extend(apply(&mut case, governor(), Command::StartWork, 20));
    records.extend(apply(&mut case, governor(), Command::Resolve, 60));
    records.extend(apply(
        &mut case,
        supervisor(),
        Command::PassVerification,
        90,
    ));
    records.extend(apply(
        &mut case,
        Actor::Resident,
        rate(Rating::Satisfied),
        120,
    ));
    records.extend(apply(&mut case, Actor::System, Command::Close, 121));

    let states: Vec<CaseState> = records.iter().map(|record| record.to).collect();
    assert_eq!(
        states,
        [
            CaseState::Reported,
            CaseState::Triaged,
            CaseState::Dispatched,
            CaseState::Accepted,
            CaseState::InProgress,
            CaseState::Resolved,
            CaseState::Verified,
            CaseState::Rated,
            CaseState::Closed,
        ]
    );
    for (index, pair) in records.windows(2).enumerate() {
        assert_eq!(pair[1].from, Some(pair[0].to), "record {}", index + 2);
        assert_eq!(pair[1].sequence, pair[0].sequence + 1);
    }
    assert_eq!(case.version(), 9);
    assert_eq!(case.closure(), Some(Closure::Rated));
    assert_eq!(case.rating(), Some(Rating::Satisfied));
    assert_eq!(records[3].actor, governor());
}

#[test]
fn triage_places_the_case_with_its_matter_and_tier() {
    let mut case = reported();
    let records = apply(
        &mut case,
        Actor::System,
        triage(Tier::CoordinationMeeting),
        1,
    );
    assert_eq!(case.state(), CaseState::Triaged);
    assert_eq!(case.block(), Some(&block(BLOCK)));
    assert_eq!(case.matter(), &Matter::Classified(matter("env_03")));
    assert_eq!(case.tier(), Some(Tier::CoordinationMeeting));
    assert!(matches!(
        records[0].action,
        Action::Triaged {
            tier: Tier::CoordinationMeeting,
            ..
        }
    ));
}

#[test]
fn a_location_outside_every_block_waits_visibly_for_a_dispatcher_to_place_it() {
    let mut case = reported();
    apply(
        &mut case,
        Actor::System,
        Command::FlagLocationOutsideBlocks,
        1,
    );
    assert_eq!(case.state(), CaseState::AwaitingManualLocation);
    assert!(case.needs_manual_location());

    let error = refuse(&mut case, Actor::System, triage(Tier::FrontLine), 2);
    assert_eq!(
        error.refusal,
        Refusal::StaffOnly {
            actor: Actor::System
        }
    );
    apply(&mut case, dispatcher(), triage(Tier::FrontLine), 3);
    assert_eq!(case.state(), CaseState::Triaged);
    assert!(!case.needs_manual_location());
}

#[test]
fn a_dispatch_the_gate_refuses_keeps_the_case_triaged_and_shows_why() {
    let mut case = triaged();
    let gate_said = reason("matter ENV-03 is not on the subdistrict's duty list");
    let records = apply(
        &mut case,
        Actor::System,
        Command::RefuseDispatch {
            reason: gate_said.clone(),
        },
        2,
    );
    assert_eq!(case.state(), CaseState::Triaged);
    assert_eq!(case.dispatch_refusal(), Some(&gate_said));
    assert_eq!(records[0].from, Some(CaseState::Triaged));
    assert_eq!(records[0].reason, Some(gate_said));

    let dispatch = Command::Dispatch {
        assignment: to_governor(at(3)),
    };
    apply(&mut case, Actor::System, dispatch, 3);
    assert_eq!(case.dispatch_refusal(), None);
}

#[test]
fn a_dispatch_with_a_past_deadline_or_resolution_due_before_acceptance_is_refused() {
    let mut case = triaged();
    let mut late = to_governor(at(0));
    late.acceptance_due = at(5);
    let error = refuse(
        &mut case,
        Actor::System,
        Command::Dispatch { assignment: late },
        5,
    );
    assert_eq!(
        error.refusal,
        Refusal::DeadlineNotInFuture {
            deadline: DeadlineKind::Acceptance,
            due: at(5),
            at: at(5)
        }
    );
    let mut inverted = to_governor(at(5));
    inverted.resolution_due = at(6);
    let error = refuse(
        &mut case,
        Actor::System,
        Command::Dispatch {
            assignment: inverted,
        },
        5,
    );
    assert!(matches!(
        error.refusal,
        Refusal::ResolutionBeforeAcceptance { .. }
    ));
}

#[test]
fn only_the_current_assignee_can_accept() {
    let mut case = dispatched();
    let error = refuse(&mut case, assistant(), Command::Accept, 5);
    assert_eq!(error.state, CaseState::Dispatched);
    assert_eq!(error.attempted, CommandKind::Accept);
    assert_eq!(
        error.to_string(),
        "cannot accept a case that is dispatched: only the assignee (staff gov-017) may do this, not staff asst-017-1 of subdistricts/yuhu-lu/blocks/017"
    );
    apply(&mut case, governor(), Command::Accept, 6);
    assert_eq!(case.state(), CaseState::Accepted);
}

#[test]
fn any_member_of_an_assigned_unit_may_act_for_it_and_the_system_may_relay_its_events() {
    let mut case = triaged();
    let platform = Assignee::Unit(unit(SUBDISTRICT));
    let dispatch = Command::Dispatch {
        assignment: assignment(platform, at(2)),
    };
    apply(&mut case, Actor::System, dispatch, 2);
    let outsider = staff("gov-018", OTHER_BLOCK);
    assert!(matches!(
        refuse(&mut case, outsider, Command::Accept, 3).refusal,
        Refusal::NotTheAssignee { .. }
    ));
    apply(&mut case, dispatcher(), Command::Accept, 4);
    apply(&mut case, Actor::System, Command::StartWork, 5);
    apply(&mut case, Actor::System, Command::Resolve, 6);
    assert_eq!(case.resolved_by(), Some(&Actor::System));
}

#[test]
fn the_system_cannot_act_for_a_personal_assignee_and_a_resident_for_nobody() {
    let mut case = dispatched();
    assert!(matches!(
        refuse(&mut case, Actor::System, Command::Accept, 3).refusal,
        Refusal::NotTheAssignee { .. }
    ));
    assert!(matches!(
        refuse(&mut case, Actor::Resident, Command::Accept, 3).refusal,
        Refusal::NotTheAssignee { .. }
    ));
}

#[test]
fn a_case_cannot_be_accepted_twice_or_resolved_before_work_starts() {
    let mut case = dispatched();
    apply(&mut case, governor(), Command::Accept, 5);
    let error = refuse(&mut case, governor(), Command::Accept, 6);
    assert_eq!(
        error.to_string(),
        "cannot accept a case that is accepted: not allowed in this state"
    );
    let error = refuse(&mut case, governor(), Command::Resolve, 6);
    assert_eq!(
        (error.state, error.refusal),
        (CaseState::Accepted, Refusal::WrongState)
    );
}

#[test]
fn a_resolver_cannot_verify_their_own_case() {
    let mut case = triaged();
    let block_team = Assignee::Unit(unit(BLOCK));
    let dispatch = Command::Dispatch {
        assignment: assignment(block_team, at(2)),
    };
    apply(&mut case, Actor::System, dispatch, 2);
    apply(&mut case, assistant(), Command::Accept, 3);
    apply(&mut case, assistant(), Command::StartWork, 4);
    apply(&mut case, assistant(), Command::Resolve, 5);
    let error = refuse(&mut case, assistant(), Command::PassVerification, 6);
    assert_eq!(error.refusal, Refusal::OwnWork { actor: assistant() });
    assert_eq!(
        error.to_string(),
        "cannot pass_verification a case that is resolved: staff asst-017-1 of subdistricts/yuhu-lu/blocks/017 resolved or handles this case and cannot judge their own work"
    );
    apply(&mut case, supervisor(), Command::PassVerification, 7);
    assert_eq!(case.state(), CaseState::Verified);
}

#[test]
fn the_personal_assignee_cannot_verify_or_fail_their_own_case_either() {
    let mut case = resolved();
    let fail = Command::FailVerification {
        reason: reason("still dark"),
        rework_due: at(5000),
    };
    assert!(matches!(
        refuse(&mut case, governor(), fail, 70).refusal,
        Refusal::OwnWork { .. }
    ));
}

#[test]
fn verification_is_done_by_staff_not_by_the_resident_or_the_system() {
    let mut case = resolved();
    for actor in [Actor::Resident, Actor::System] {
        let error = refuse(&mut case, actor.clone(), Command::PassVerification, 70);
        assert_eq!(error.refusal, Refusal::StaffOnly { actor });
    }
}

#[test]
fn a_failed_verification_sends_the_case_back_to_its_handler_for_rework() {
    let mut case = resolved();
    let records = apply(
        &mut case,
        supervisor(),
        Command::FailVerification {
            reason: reason("the street light is still off"),
            rework_due: at(3000),
        },
        70,
    );
    assert_eq!(case.state(), CaseState::InProgress);
    assert_eq!(case.rework_count(), 1);
    assert_eq!(case.resolved_by(), None);
    assert_eq!(case.assignment().unwrap().resolution_due, at(3000));
    assert_eq!(
        case.assignment().unwrap().assignee,
        to_governor(at(0)).assignee
    );
    assert_eq!(
        records[0].action,
        Action::Reworked {
            trigger: ReworkTrigger::FailedVerification,
            resolution_due: at(3000)
        }
    );
    assert_eq!(records[0].from, Some(CaseState::Resolved));
    apply(&mut case, governor(), Command::Resolve, 80);
    apply(&mut case, supervisor(), Command::PassVerification, 90);
    assert_eq!(case.state(), CaseState::Verified);
}

#[test]
fn a_rework_deadline_must_lie_in_the_future() {
    let mut case = resolved();
    let fail = Command::FailVerification {
        reason: reason("not fixed"),
        rework_due: at(70),
    };
    assert!(matches!(
        refuse(&mut case, supervisor(), fail, 70).refusal,
        Refusal::DeadlineNotInFuture { .. }
    ));
}

#[test]
fn a_case_cannot_be_rated_before_it_is_verified() {
    let mut case = resolved();
    let error = refuse(&mut case, Actor::Resident, rate(Rating::Satisfied), 70);
    assert_eq!(
        error.to_string(),
        "cannot rate a case that is resolved: not allowed in this state"
    );
    let mut reported = reported();
    assert_eq!(
        refuse(&mut reported, Actor::Resident, rate(Rating::Satisfied), 1).state,
        CaseState::Reported
    );
}

#[test]
fn a_satisfied_rating_waits_for_the_feedback_to_close_the_case() {
    let mut case = verified();
    let records = apply(
        &mut case,
        Actor::Resident,
        rate(Rating::BasicallySatisfied),
        100,
    );
    assert_eq!(records.len(), 1);
    assert_eq!(case.state(), CaseState::Rated);
    assert_eq!(case.rating(), Some(Rating::BasicallySatisfied));
    apply(&mut case, Actor::System, Command::Close, 101);
    assert_eq!(case.state(), CaseState::Closed);
    assert_eq!(case.closure(), Some(Closure::Rated));
}

#[test]
fn an_unsatisfied_rating_reopens_the_case_once() {
    let mut case = verified();
    let records = apply(&mut case, Actor::Resident, rate(Rating::Unsatisfied), 100);
    assert_eq!(case.state(), CaseState::InProgress);
    assert!(case.reopened_after_rating());
    assert_eq!(case.rework_count(), 1);
    assert_eq!(case.assignment().unwrap().resolution_due, at(10_000));
    let steps: Vec<(Option<CaseState>, CaseState)> = records
        .iter()
        .map(|record| (record.from, record.to))
        .collect();
    assert_eq!(
        steps,
        [
            (Some(CaseState::Verified), CaseState::Rated),
            (Some(CaseState::Rated), CaseState::InProgress)
        ]
    );
    assert_eq!(
        records[0].action,
        Action::Rated {
            rating: Rating::Unsatisfied
        }
    );
    assert!(matches!(
        records[1].action,
        Action::Reworked {
            trigger: ReworkTrigger::UnsatisfiedRating,
            ..
        }
    ));
}

#[test]
fn a_second_unsatisfied_rating_closes_the_case_as_unsatisfied() {
    let mut case = verified();
    apply(&mut case, Actor::Resident, rate(Rating::Unsatisfied), 100);
    apply(&mut case, governor(), Command::Resolve, 200);
    apply(&mut case, supervisor(), Command::PassVerification, 210);
    let records = apply(&mut case, Actor::Resident, rate(Rating::Unsatisfied), 220);
    assert_eq!(case.state(), CaseState::Closed);
    assert_eq!(case.closure(), Some(Closure::Unsatisfied));
    assert_eq!(case.rework_count(), 1);
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[1].action,
        Action::Closed {
            closure: Closure::Unsatisfied
        }
    );
}

#[test]
fn a_reopening_rating_needs_a_future_rework_deadline_but_a_satisfied_one_ignores_it() {
    let mut case = verified();
    let stale = Command::Rate {
        rating: Rating::Unsatisfied,
        due_if_reopened: at(50),
    };
    assert!(matches!(
        refuse(&mut case, Actor::Resident, stale, 100).refusal,
        Refusal::DeadlineNotInFuture { .. }
    ));
    let satisfied = Command::Rate {
        rating: Rating::Satisfied,
        due_if_reopened: at(50),
    };
    apply(&mut case, Actor::Resident, satisfied, 100);
    assert_eq!(case.state(), CaseState::Rated);
}

#[test]
fn the_system_cannot_rate_and_the_handler_cannot_rate_their_own_work() {
    let mut case = verified();
    assert_eq!(
        refuse(&mut case, Actor::System, rate(Rating::Satisfied), 100).refusal,
        Refusal::NotARater {
            actor: Actor::System
        }
    );
    assert_eq!(
        refuse(&mut case, governor(), rate(Rating::Satisfied), 100).refusal,
        Refusal::OwnWork { actor: governor() }
    );
    let hotline_operator = staff("op-12345", "agencies/hotline-12345");
    apply(&mut case, hotline_operator, rate(Rating::Satisfied), 100);
    assert_eq!(case.state(), CaseState::Rated);
}

#[test]
fn a_verified_case_without_a_rating_can_be_closed_as_unrated_but_not_by_the_resident() {
    let mut case = verified();
    let close = Command::CloseUnrated {
        reason: reason("anonymous report"),
    };
    assert!(matches!(
        refuse(&mut case, Actor::Resident, close.clone(), 100).refusal,
        Refusal::StaffOnly { .. }
    ));
    apply(&mut case, Actor::System, close, 100);
    assert_eq!(case.closure(), Some(Closure::Unrated));
}

#[test]
fn a_case_is_closed_only_after_its_rating() {
    let mut case = verified();
    assert_eq!(
        refuse(&mut case, Actor::System, Command::Close, 100).refusal,
        Refusal::WrongState
    );
}

fn request_extension(until_minutes: i64) -> Command {
    Command::RequestExtension {
        until: at(until_minutes),
        reason: reason("parts on order"),
    }
}

#[test]
fn an_approved_extension_moves_the_resolution_deadline() {
    let mut case = in_progress();
    let original_due = case.assignment().unwrap().resolution_due;
    let later = original_due + TimeDelta::days(2);
    let minutes_to_later = (later - at(0)).num_minutes();
    let records = apply(
        &mut case,
        governor(),
        request_extension(minutes_to_later),
        30,
    );
    assert_eq!(records[0].from, records[0].to.into());
    assert_eq!(case.pending_extension().unwrap().until, later);
    assert_eq!(case.assignment().unwrap().resolution_due, original_due);

    apply(&mut case, dispatcher(), Command::ApproveExtension, 40);
    assert_eq!(case.assignment().unwrap().resolution_due, later);
    assert_eq!(case.extensions_granted(), 1);
    assert_eq!(case.pending_extension(), None);
    assert_eq!(case.state(), CaseState::InProgress);
}

#[test]
fn a_denied_extension_leaves_the_deadline_where_it_was() {
    let mut case = in_progress();
    let original_due = case.assignment().unwrap().resolution_due;
    apply(&mut case, governor(), request_extension(100_000), 30);
    let deny = Command::DenyExtension {
        reason: reason("the repair takes a day"),
    };
    let records = apply(&mut case, dispatcher(), deny, 40);
    assert_eq!(records[0].action, Action::ExtensionDenied);
    assert_eq!(case.assignment().unwrap().resolution_due, original_due);
    assert_eq!(case.extensions_granted(), 0);
    assert_eq!(case.pending_extension(), None);
}

#[test]
fn an_extension_must_be_later_than_the_deadline_and_only_one_may_wait() {
    let mut case = in_progress();
    let due = case.assignment().unwrap().resolution_due;
    let same = (due - at(0)).num_minutes();
    assert_eq!(
        refuse(&mut case, governor(), request_extension(same), 30).refusal,
        Refusal::ExtensionNotLater {
            until: due,
            current_due: due
        }
    );
    apply(&mut case, governor(), request_extension(100_000), 30);
    assert_eq!(
        refuse(&mut case, governor(), request_extension(200_000), 31).refusal,
        Refusal::ExtensionPending { until: at(100_000) }
    );
}

#[test]
fn only_the_assignee_asks_for_an_extension_and_someone_else_decides() {
    let mut case = in_progress();
    assert!(matches!(
        refuse(&mut case, supervisor(), request_extension(100_000), 30).refusal,
        Refusal::NotTheAssignee { .. }
    ));
    assert_eq!(
        refuse(&mut case, dispatcher(), Command::ApproveExtension, 30).refusal,
        Refusal::NoExtensionPending
    );
    apply(&mut case, governor(), request_extension(100_000), 30);
    assert_eq!(
        refuse(&mut case, governor(), Command::ApproveExtension, 31).refusal,
        Refusal::OwnExtension { actor: governor() }
    );
    assert!(matches!(
        refuse(&mut case, Actor::System, Command::ApproveExtension, 31).refusal,
        Refusal::StaffOnly { .. }
    ));
}

#[test]
fn resolving_withdraws_a_pending_extension() {
    let mut case = in_progress();
    apply(&mut case, governor(), request_extension(100_000), 30);
    apply(&mut case, governor(), Command::Resolve, 40);
    assert_eq!(case.pending_extension(), None);
}

fn park(review_on: &str) -> Command {
    Command::Park {
        reason: reason("needs the district's budget for a new drain"),
        review_on: NaiveDate::parse_from_str(review_on, "%Y-%m-%d").unwrap(),
    }
}

#[test]
fn a_parked_case_returns_to_where_it_was_when_unparked() {
    let mut case = in_progress();
    let records = apply(&mut case, dispatcher(), park("2025-06-01"), 30);
    assert_eq!(case.state(), CaseState::Parked);
    let parking = case.parking().unwrap();
    assert_eq!(parking.resume_to, CaseState::InProgress);
    assert_eq!(parking.review_on.to_string(), "2025-06-01");
    assert!(matches!(records[0].action, Action::Parked { .. }));
    assert!(records[0].reason.is_some());

    let unpark = Command::Unpark {
        reason: reason("budget approved"),
        resolution_due: Some(at(200_000)),
    };
    apply(&mut case, dispatcher(), unpark, 40);
    assert_eq!(case.state(), CaseState::InProgress);
    assert_eq!(case.parking(), None);
    assert_eq!(case.assignment().unwrap().resolution_due, at(200_000));
}

#[test]
fn a_parked_case_stays_open() {
    let mut case = triaged();
    apply(&mut case, dispatcher(), park("2025-06-01"), 30);
    assert!(case.state().is_open());
    apply(&mut case, Actor::System, Command::RecordMeToo, 31);
    assert_eq!(case.me_too_count(), 1);
}

#[test]
fn parking_needs_a_review_date_after_today_in_china() {
    let mut case = in_progress();
    // 23:30 UTC on 3 March is already 4 March in China.
    let late_evening_utc = (from_china_local(
        NaiveDateTime::parse_from_str("2025-03-04 07:30", "%Y-%m-%d %H:%M").unwrap(),
    ) - at(0))
    .num_minutes();
    let error = refuse(
        &mut case,
        dispatcher(),
        park("2025-03-04"),
        late_evening_utc,
    );
    assert_eq!(
        error.refusal,
        Refusal::ReviewDateNotInFuture {
            review_on: NaiveDate::from_ymd_opt(2025, 3, 4).unwrap(),
            today: NaiveDate::from_ymd_opt(2025, 3, 4).unwrap()
        }
    );
    apply(
        &mut case,
        dispatcher(),
        park("2025-03-05"),
        late_evening_utc,
    );
}

#[test]
fn a_resolved_or_reported_case_cannot_be_parked() {
    for mut case in [resolved(), reported()] {
        assert_eq!(
            refuse(&mut case, dispatcher(), park("2025-06-01"), 100).refusal,
            Refusal::WrongState
        );
    }
}

#[test]
fn unparking_with_a_new_deadline_needs_an_assignment() {
    let mut case = triaged();
    apply(&mut case, dispatcher(), park("2025-06-01"), 30);
    let unpark = Command::Unpark {
        reason: reason("back"),
        resolution_due: Some(at(100_000)),
    };
    assert_eq!(
        refuse(&mut case, dispatcher(), unpark, 40).refusal,
        Refusal::NoAssignment
    );
    let unpark_plain = Command::Unpark {
        reason: reason("back"),
        resolution_due: None,
    };
    apply(&mut case, dispatcher(), unpark_plain, 40);
    assert_eq!(case.state(), CaseState::Triaged);
}

#[test]
fn a_review_keeps_a_parked_case_parked_with_a_new_reason_and_date_and_the_same_way_back() {
    let mut case = in_progress();
    apply(&mut case, dispatcher(), park("2025-03-10"), 30);
    let review = Command::Park {
        reason: reason("the budget comes next quarter"),
        review_on: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
    };
    let records = apply(&mut case, dispatcher(), review, 40);
    assert_eq!(records[0].from, Some(CaseState::Parked));
    assert_eq!(records[0].to, CaseState::Parked);
    let parking = case.parking().unwrap();
    assert_eq!(parking.review_on.to_string(), "2025-06-01");
    assert_eq!(parking.reason, reason("the budget comes next quarter"));
    assert_eq!(parking.resume_to, CaseState::InProgress);
    assert!(matches!(
        refuse(&mut case, Actor::System, park("2025-07-01"), 50).refusal,
        Refusal::StaffOnly { .. }
    ));
}

#[test]
fn the_system_returns_a_parked_case_only_once_its_review_date_has_come_in_china() {
    let mut case = in_progress();
    apply(&mut case, dispatcher(), park("2025-03-05"), 30);
    let back = || Command::Unpark {
        reason: reason("review date"),
        resolution_due: None,
    };
    // 23:59 on 4 March in China is still before the review date.
    let eve = (from_china_local(
        NaiveDateTime::parse_from_str("2025-03-04 23:59", "%Y-%m-%d %H:%M").unwrap(),
    ) - at(0))
    .num_minutes();
    assert_eq!(
        refuse(&mut case, Actor::System, back(), eve).refusal,
        Refusal::ReviewDateNotReached {
            review_on: NaiveDate::from_ymd_opt(2025, 3, 5).unwrap(),
            today: NaiveDate::from_ymd_opt(2025, 3, 4).unwrap(),
        }
    );
    assert!(matches!(
        refuse(&mut case, Actor::Resident, back(), eve).refusal,
        Refusal::StaffOnly { .. }
    ));
    let records = apply(&mut case, Actor::System, back(), eve + 1);
    assert_eq!(case.state(), CaseState::InProgress);
    assert_eq!(records[0].actor, Actor::System);
}

#[test]
fn an_overdue_meeting_action_escalates_the_case_only_after_its_due_time() {
    let mut case = in_progress();
    let platform = Assignee::Unit(unit(SUBDISTRICT));
    let action_due = at(100);
    let trigger = EscalationTrigger::MeetingActionOverdue { due: action_due };
    assert_eq!(
        refuse(
            &mut case,
            Actor::System,
            escalate(trigger.clone(), platform.clone(), 100),
            100
        )
        .refusal,
        Refusal::ActionNotOverdue {
            due: action_due,
            at: at(100)
        }
    );
    let records = apply(
        &mut case,
        Actor::System,
        escalate(trigger, platform, 101),
        101,
    );
    assert_eq!(case.tier(), Some(Tier::CoordinationMeeting));
    assert!(matches!(
        records[0].action,
        Action::Escalated {
            cause: EscalationCause::MeetingActionOverdue { due },
            ..
        } if due == action_due
    ));
}

#[test]
fn a_meetings_extension_moves_the_deadline_at_once_and_replaces_a_pending_request() {
    let mut case = in_progress();
    let current_due = case.assignment().unwrap().resolution_due;
    let minutes_due = (current_due - at(0)).num_minutes();
    apply(
        &mut case,
        governor(),
        request_extension(minutes_due + 60),
        30,
    );
    let extend = |minutes: i64| Command::ExtendByDecision {
        until: at(minutes),
        reason: reason("coordination meeting decided"),
    };
    assert!(matches!(
        refuse(&mut case, dispatcher(), extend(minutes_due), 40).refusal,
        Refusal::ExtensionNotLater { .. }
    ));
    assert!(matches!(
        refuse(&mut case, Actor::System, extend(minutes_due + 600), 40).refusal,
        Refusal::StaffOnly { .. }
    ));
    apply(&mut case, dispatcher(), extend(minutes_due + 600), 40);
    assert_eq!(
        case.assignment().unwrap().resolution_due,
        at(minutes_due + 600)
    );
    assert_eq!(case.extensions_granted(), 1);
    assert_eq!(case.pending_extension(), None);
}

fn escalate(trigger: EscalationTrigger, assignee: Assignee, minutes: i64) -> Command {
    Command::Escalate {
        trigger,
        assignment: assignment(assignee, at(minutes)),
    }
}

#[test]
fn escalation_climbs_from_front_line_to_meeting_to_whistle_and_no_further() {
    let mut case = in_progress();
    let platform = Assignee::Unit(unit(SUBDISTRICT));
    let manual = EscalationTrigger::Manual(reason("needs three departments"));
    let records = apply(
        &mut case,
        dispatcher(),
        escalate(manual.clone(), platform, 30),
        30,
    );
    assert_eq!(case.tier(), Some(Tier::CoordinationMeeting));
    assert_eq!(case.state(), CaseState::Dispatched);
    assert_eq!(
        records[0].action,
        Action::Escalated {
            from_tier: Tier::FrontLine,
            to_tier: Tier::CoordinationMeeting,
            cause: EscalationCause::Manual,
            assignment: assignment(Assignee::Unit(unit(SUBDISTRICT)), at(30)),
        }
    );
    assert_eq!(records[0].reason, Some(reason("needs three departments")));

    let enforcement = Assignee::Unit(unit("agencies/joint-enforcement"));
    apply(
        &mut case,
        dispatcher(),
        escalate(manual.clone(), enforcement.clone(), 40),
        40,
    );
    assert_eq!(case.tier(), Some(Tier::Whistle));
    assert_eq!(
        refuse(
            &mut case,
            dispatcher(),
            escalate(manual, enforcement, 50),
            50
        )
        .refusal,
        Refusal::AlreadyAtHighestTier
    );
}

#[test]
fn an_overdue_escalation_is_refused_until_the_deadline_has_passed() {
    let mut case = dispatched();
    let due = case.assignment().unwrap().acceptance_due;
    let minutes_due = (due - at(0)).num_minutes();
    let platform = Assignee::Unit(unit(SUBDISTRICT));
    let overdue = EscalationTrigger::Overdue(DeadlineKind::Acceptance);
    assert_eq!(
        refuse(
            &mut case,
            Actor::System,
            escalate(overdue.clone(), platform.clone(), minutes_due),
            minutes_due
        )
        .refusal,
        Refusal::NotOverdue {
            deadline: DeadlineKind::Acceptance,
            due,
            at: due
        }
    );
    let records = apply(
        &mut case,
        Actor::System,
        escalate(overdue, platform, minutes_due + 1),
        minutes_due + 1,
    );
    assert!(matches!(
        records[0].action,
        Action::Escalated {
            cause: EscalationCause::Overdue {
                deadline: DeadlineKind::Acceptance
            },
            ..
        }
    ));
    assert_eq!(records[0].reason, None);
}

#[test]
fn an_accepted_case_is_no_longer_overdue_for_acceptance() {
    let mut case = dispatched();
    apply(&mut case, governor(), Command::Accept, 10_000);
    let overdue = EscalationTrigger::Overdue(DeadlineKind::Acceptance);
    let platform = Assignee::Unit(unit(SUBDISTRICT));
    assert_eq!(
        refuse(
            &mut case,
            Actor::System,
            escalate(overdue, platform, 10_001),
            10_001
        )
        .refusal,
        Refusal::DeadlineNotRunning {
            deadline: DeadlineKind::Acceptance
        }
    );
}

#[test]
fn a_manual_escalation_needs_a_staff_member() {
    let mut case = in_progress();
    let manual = EscalationTrigger::Manual(reason("hard"));
    let platform = Assignee::Unit(unit(SUBDISTRICT));
    assert!(matches!(
        refuse(&mut case, Actor::System, escalate(manual, platform, 30), 30).refusal,
        Refusal::StaffOnly { .. }
    ));
}

#[test]
fn a_reassignment_overrides_the_assignee_with_a_reason_and_may_lower_the_tier() {
    let mut case = in_progress();
    let manual = EscalationTrigger::Manual(reason("looked hard"));
    apply(
        &mut case,
        dispatcher(),
        escalate(manual, Assignee::Unit(unit(SUBDISTRICT)), 30),
        30,
    );
    let back_to_block = Command::Reassign {
        assignment: assignment(Assignee::Unit(unit(BLOCK)), at(40)),
        tier: Some(Tier::FrontLine),
        reason: reason("the block team can do it after all"),
    };
    let records = apply(&mut case, dispatcher(), back_to_block, 40);
    assert_eq!(case.tier(), Some(Tier::FrontLine));
    assert_eq!(case.state(), CaseState::Dispatched);
    assert_eq!(
        case.assignment().unwrap().assignee,
        Assignee::Unit(unit(BLOCK))
    );
    assert!(records[0].reason.is_some());
}

#[test]
fn a_reassignment_that_changes_nothing_is_refused() {
    let mut case = in_progress();
    let same = Command::Reassign {
        assignment: to_governor(at(30)),
        tier: None,
        reason: reason("reset the clock"),
    };
    assert_eq!(
        refuse(&mut case, dispatcher(), same, 30).refusal,
        Refusal::NothingToChange
    );
}

#[test]
fn reclassifying_sends_the_case_back_to_dispatch_under_its_new_matter() {
    let mut case = in_progress();
    apply(&mut case, governor(), request_extension(100_000), 25);
    let reclassify = Command::Reclassify {
        matter: matter("urb_12"),
        tier: Tier::Whistle,
        reason: reason("an illegal structure, not a drain"),
    };
    apply(&mut case, dispatcher(), reclassify, 30);
    assert_eq!(case.state(), CaseState::Triaged);
    assert_eq!(case.matter(), &Matter::Classified(matter("urb_12")));
    assert_eq!(case.tier(), Some(Tier::Whistle));
    assert_eq!(case.assignment(), None);
    assert_eq!(case.pending_extension(), None);
}

fn rehome(assignment: Option<Assignment>) -> Command {
    Command::Rehome {
        block: block(OTHER_BLOCK),
        assignment,
        reason: reason("boundary generation 2025-2 activated"),
    }
}

#[test]
fn a_case_with_the_old_block_team_is_rehomed_to_the_new_block_team() {
    let mut case = in_progress();
    let new_team = assignment(Assignee::Unit(unit(OTHER_BLOCK)), at(30));
    let records = apply(&mut case, Actor::System, rehome(Some(new_team.clone())), 30);
    assert_eq!(case.block(), Some(&block(OTHER_BLOCK)));
    assert_eq!(case.state(), CaseState::Dispatched);
    assert_eq!(case.assignment(), Some(&new_team));
    assert_eq!(
        records[0].action,
        Action::Rehomed {
            from_block: block(BLOCK),
            to_block: block(OTHER_BLOCK),
            assignment: Some(new_team)
        }
    );
}

#[test]
fn a_case_at_a_higher_tier_is_rehomed_without_changing_hands() {
    let mut case = resolved();
    apply(&mut case, Actor::System, rehome(None), 70);
    assert_eq!(case.state(), CaseState::Resolved);
    assert_eq!(case.block(), Some(&block(OTHER_BLOCK)));
    let new_team = assignment(Assignee::Unit(unit(OTHER_BLOCK)), at(80));
    let mut resolved_case = resolved();
    assert_eq!(
        refuse(
            &mut resolved_case,
            Actor::System,
            rehome(Some(new_team)),
            80
        )
        .refusal,
        Refusal::NotWithHandler
    );
}

#[test]
fn rehoming_needs_a_block_to_move_from_and_a_different_one_to_move_to() {
    let mut unplaced = reported();
    assert_eq!(
        refuse(&mut unplaced, Actor::System, rehome(None), 1).refusal,
        Refusal::NoBlock
    );
    let mut case = triaged();
    let same = Command::Rehome {
        block: block(BLOCK),
        assignment: None,
        reason: reason("x"),
    };
    assert_eq!(
        refuse(&mut case, Actor::System, same, 2).refusal,
        Refusal::SameBlock {
            block: block(BLOCK)
        }
    );
}

#[test]
fn a_closed_case_is_not_rehomed_or_linked() {
    let mut case = verified();
    apply(&mut case, Actor::Resident, rate(Rating::Satisfied), 100);
    apply(&mut case, Actor::System, Command::Close, 101);
    assert_eq!(
        refuse(&mut case, Actor::System, rehome(None), 102).refusal,
        Refusal::WrongState
    );
    assert_eq!(
        refuse(&mut case, Actor::System, Command::RecordMeToo, 102).refusal,
        Refusal::WrongState
    );
}

#[test]
fn a_passed_deadline_is_marked_overdue_once_per_assignment() {
    let mut case = in_progress();
    let due = case.assignment().unwrap().resolution_due;
    let minutes_after = (due - at(0)).num_minutes() + 1;
    let mark = Command::MarkOverdue {
        deadline: DeadlineKind::Resolution,
    };
    let records = apply(&mut case, Actor::System, mark.clone(), minutes_after);
    assert_eq!(
        records[0].action,
        Action::MarkedOverdue {
            deadline: DeadlineKind::Resolution,
            due
        }
    );
    assert!(case.is_marked_overdue(DeadlineKind::Resolution));
    assert_eq!(
        refuse(&mut case, Actor::System, mark.clone(), minutes_after + 1).refusal,
        Refusal::AlreadyMarkedOverdue {
            deadline: DeadlineKind::Resolution
        }
    );
    // An extension gives a new deadline, which can be marked again once it passes.
    let new_due_minutes = minutes_after + 10_000;
    apply(
        &mut case,
        governor(),
        request_extension(new_due_minutes),
        minutes_after + 2,
    );
    apply(
        &mut case,
        dispatcher(),
        Command::ApproveExtension,
        minutes_after + 3,
    );
    assert!(!case.is_marked_overdue(DeadlineKind::Resolution));
    apply(&mut case, Actor::System, mark, new_due_minutes + 1);
}

#[test]
fn a_deadline_is_not_marked_overdue_before_it_passes() {
    let mut case = dispatched();
    let mark = Command::MarkOverdue {
        deadline: DeadlineKind::Acceptance,
    };
    assert!(matches!(
        refuse(&mut case, Actor::System, mark, 30).refusal,
        Refusal::NotOverdue { .. }
    ));
}

#[test]
fn me_too_reports_are_counted_on_the_open_case() {
    let mut case = in_progress();
    apply(&mut case, Actor::System, Command::RecordMeToo, 30);
    let records = apply(&mut case, Actor::System, Command::RecordMeToo, 31);
    assert_eq!(case.me_too_count(), 2);
    assert_eq!(records[0].action, Action::MeTooLinked);
    assert_eq!(case.state(), CaseState::InProgress);
}

#[test]
fn a_case_can_be_dismissed_before_dispatch_but_not_after() {
    let dismiss = Command::Dismiss {
        reason: reason("a test call"),
    };
    let mut case = reported();
    assert!(matches!(
        refuse(&mut case, Actor::System, dismiss.clone(), 1).refusal,
        Refusal::StaffOnly { .. }
    ));
    apply(&mut case, dispatcher(), dismiss.clone(), 1);
    assert_eq!(case.closure(), Some(Closure::Dismissed));
    let mut dispatched_case = dispatched();
    assert_eq!(
        refuse(&mut dispatched_case, dispatcher(), dismiss, 5).refusal,
        Refusal::WrongState
    );
}

#[test]
fn a_snapshot_round_trips_through_storage() {
    let mut case = in_progress();
    apply(&mut case, governor(), request_extension(100_000), 30);
    let json = serde_json::to_string(&case).unwrap();
    let restored: Case = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, case);
    assert_eq!(Case::restore(case.snapshot().clone()).unwrap(), case);
}

#[test]
fn an_inconsistent_snapshot_is_refused_with_what_contradicts_it() {
    let case = in_progress();
    let mut no_assignment = case.snapshot().clone();
    no_assignment.assignment = None;
    let error = Case::restore(no_assignment).unwrap_err();
    assert_eq!(error.state, CaseState::InProgress);
    assert_eq!(error.problem, "a dispatched case needs an assignment");

    let mut parked_without_entry = case.snapshot().clone();
    parked_without_entry.state = CaseState::Parked;
    assert!(Case::restore(parked_without_entry).is_err());

    let mut closed_without_closure = case.snapshot().clone();
    closed_without_closure.state = CaseState::Closed;
    assert!(Case::restore(closed_without_closure).is_err());

    let mut resolved_without_resolver = case.snapshot().clone();
    resolved_without_resolver.state = CaseState::Resolved;
    assert!(Case::restore(resolved_without_resolver).is_err());

    let mut version_zero = case.snapshot().clone();
    version_zero.version = 0;
    assert!(Case::restore(version_zero).is_err());
}

/// A small deterministic generator so the walk below is reproducible.
struct Lcg(u64);

impl Lcg {
    fn pick(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

#[test]
fn any_sequence_of_commands_keeps_the_case_consistent_and_its_records_numbered() {
    let actors = [
        governor(),
        assistant(),
        supervisor(),
        dispatcher(),
        Actor::Resident,
        Actor::System,
    ];
    let mut random = Lcg(7);
    let mut refused = 0;
    let mut accepted = 0;
    for walk in 0..300 {
        let mut case = reported();
        let mut minutes = 0;
        let mut last_sequence = 1;
        for _ in 0..60 {
            minutes += 1 + random.pick(3000) as i64;
            let now = at(minutes);
            let some_assignment = || assignment(Assignee::Unit(unit(BLOCK)), now);
            let commands = [
                triage(Tier::FrontLine),
                Command::FlagLocationOutsideBlocks,
                Command::Dispatch {
                    assignment: some_assignment(),
                },
                Command::RefuseDispatch {
                    reason: reason("gate"),
                },
                Command::Reclassify {
                    matter: matter("x_1"),
                    tier: Tier::CoordinationMeeting,
                    reason: reason("r"),
                },
                Command::Accept,
                Command::StartWork,
                Command::Resolve,
                Command::PassVerification,
                Command::FailVerification {
                    reason: reason("r"),
                    rework_due: now + TimeDelta::days(2),
                },
                Command::Rate {
                    rating: Rating::ALL[random.pick(3)],
                    due_if_reopened: now + TimeDelta::days(2),
                },
                Command::Close,
                Command::CloseUnrated {
                    reason: reason("r"),
                },
                Command::Dismiss {
                    reason: reason("r"),
                },
                Command::RequestExtension {
                    until: now + TimeDelta::days(30),
                    reason: reason("r"),
                },
                Command::ApproveExtension,
                Command::DenyExtension {
                    reason: reason("r"),
                },
                park("2030-01-01"),
                Command::Unpark {
                    reason: reason("r"),
                    resolution_due: Some(now + TimeDelta::days(3)),
                },
                Command::Escalate {
                    trigger: EscalationTrigger::Overdue(DeadlineKind::ALL[random.pick(2)]),
                    assignment: some_assignment(),
                },
                Command::Reassign {
                    assignment: assignment(Assignee::Unit(unit(SUBDISTRICT)), now),
                    tier: None,
                    reason: reason("r"),
                },
                rehome(None),
                Command::MarkOverdue {
                    deadline: DeadlineKind::ALL[random.pick(2)],
                },
                Command::RecordMeToo,
            ];
            let command = commands[random.pick(commands.len())].clone();
            let actor = actors[random.pick(actors.len())].clone();
            let state_before = case.state();
            match case.apply(actor, command, now) {
                Ok(records) => {
                    accepted += 1;
                    assert_eq!(records[0].from, Some(state_before));
                    for record in &records {
                        last_sequence += 1;
                        assert_eq!(record.sequence, last_sequence, "walk {walk}");
                    }
                    assert_eq!(records.last().unwrap().to, case.state());
                    assert_eq!(case.version(), last_sequence);
                    if let Err(error) = Case::restore(case.snapshot().clone()) {
                        panic!("walk {walk}: {error}");
                    }
                }
                Err(error) => {
                    refused += 1;
                    assert_eq!(error.state, state_before);
                }
            }
        }
    }
    assert!(accepted > 1000, "the walk exercised too little: {accepted}");
    assert!(
        refused > 1000,
        "the walk exercised too few refusals: {refused}"
    );
}

#[test]
fn the_system_hands_a_case_over_on_another_services_word_but_a_resident_cannot() {
    let mut case = in_progress();
    let federation = Assignee::Unit(unit("organisations/womens_federation"));
    let hand_over = Command::Reassign {
        assignment: assignment(federation.clone(), at(30)),
        tier: None,
        reason: reason("referrals/1 accepted by womens_federation"),
    };
    assert!(matches!(
        refuse(&mut case, Actor::Resident, hand_over.clone(), 30).refusal,
        Refusal::StaffOnly { .. }
    ));
    let records = apply(&mut case, Actor::System, hand_over, 30);
    assert_eq!(case.state(), CaseState::Dispatched);
    assert_eq!(case.assignment().unwrap().assignee, federation);
    assert_eq!(records[0].actor, Actor::System);
    apply(&mut case, Actor::System, Command::Accept, 31);
    assert_eq!(case.state(), CaseState::Accepted);
}

#[test]
fn a_refused_reassignment_is_shown_on_a_case_that_stays_with_its_handler() {
    let mut case = in_progress();
    let gate_said = reason("NOT_ON_SUBDISTRICT_LISTS: not a subdistrict duty");
    let records = apply(
        &mut case,
        dispatcher(),
        Command::RefuseDispatch {
            reason: gate_said.clone(),
        },
        30,
    );
    assert_eq!(case.state(), CaseState::InProgress);
    assert_eq!(records[0].from, Some(CaseState::InProgress));
    assert_eq!(records[0].to, CaseState::InProgress);
    assert_eq!(case.dispatch_refusal(), Some(&gate_said));
    let mut resolved = resolved();
    assert_eq!(
        refuse(
            &mut resolved,
            dispatcher(),
            Command::RefuseDispatch { reason: gate_said },
            90
        )
        .refusal,
        Refusal::WrongState
    );
}
