use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use super::*;
use crate::domain::calendar::{WorkingHours, from_china_local, to_china_local};
use crate::domain::geo::GeoPoint;
use crate::domain::lifecycle::{
    Actor, CaseKind, Channel, Command, EscalationTrigger, NewCase, Place,
};
use crate::domain::values::{BlockName, CaseId, Reason, StaffId, UnitName};

fn local(text: &str) -> DateTime<Utc> {
    from_china_local(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap())
}

fn shown(instant: DateTime<Utc>) -> String {
    to_china_local(instant).format("%Y-%m-%d %H:%M").to_string()
}

fn calendar() -> WorkingCalendar {
    WorkingCalendar::bundled(WorkingHours::default()).unwrap()
}

fn matter(code: &str) -> Matter {
    Matter::Classified(MatterCode::parse(code).unwrap())
}

fn duration(text: &str) -> WorkingDuration {
    WorkingDuration::parse(text).unwrap()
}

fn limits(acceptance: &str, resolution: &str, rework: &str) -> TimeLimits {
    TimeLimits {
        acceptance: duration(acceptance),
        resolution: duration(resolution),
        rework: duration(rework),
    }
}

fn governor() -> Actor {
    Actor::staff(
        StaffId::parse("gov-017").unwrap(),
        UnitName::parse("subdistricts/yuhu-lu/blocks/017").unwrap(),
    )
}

/// A case dispatched at `tier` to the governor at `dispatched_at` with the default policy.
fn dispatched_case(tier: Tier, dispatched_at: DateTime<Utc>) -> Case {
    let new_case = NewCase {
        id: CaseId::new_v7(),
        kind: CaseKind::Problem,
        channel: Channel::ResidentApp,
        matter: Matter::Unclassified,
        place: Place::Point(GeoPoint::new(27.83, 112.94).unwrap()),
    };
    let reported_at = dispatched_at - TimeDelta::minutes(2);
    let (mut case, _) = Case::report(new_case, Actor::System, reported_at);
    let triage = Command::Triage {
        block: BlockName::parse("subdistricts/yuhu-lu/blocks/017").unwrap(),
        matter: MatterCode::parse("env_03").unwrap(),
        tier,
    };
    case.apply(Actor::System, triage, reported_at).unwrap();
    let deadlines = SlaPolicy::default()
        .assignment_deadlines(&calendar(), case.matter(), tier, dispatched_at)
        .unwrap()
        .value;
    let assignee = Assignee::Staff(StaffId::parse("gov-017").unwrap());
    let dispatch = Command::Dispatch {
        assignment: deadlines.assign_to(assignee),
    };
    case.apply(Actor::System, dispatch, dispatched_at).unwrap();
    case
}

#[test]
fn the_default_limits_are_what_the_policy_documents() {
    let policy = SlaPolicy::default();
    let shown_limits = |tier| {
        let limits = policy.limits(&Matter::Unclassified, tier);
        format!(
            "{} {} {}",
            limits.acceptance, limits.resolution, limits.rework
        )
    };
    assert_eq!(shown_limits(Tier::FrontLine), "2h 3d 2d");
    assert_eq!(shown_limits(Tier::CoordinationMeeting), "1d 7d 3d");
    assert_eq!(shown_limits(Tier::Whistle), "4h 10d 5d");
}

#[test]
fn the_default_limits_are_valid_working_durations() {
    for limits in [
        DEFAULT_FRONT_LINE,
        DEFAULT_COORDINATION_MEETING,
        DEFAULT_WHISTLE,
    ] {
        for limit in [limits.acceptance, limits.resolution, limits.rework] {
            assert_eq!(WorkingDuration::parse(&limit.to_string()).unwrap(), limit);
        }
    }
}

#[test]
fn a_matter_override_replaces_the_tier_limits_and_a_tier_specific_one_wins() {
    let trapped_in_lift = MatterCode::parse("safe_lift").unwrap();
    let policy = SlaPolicy::default()
        .with_override(trapped_in_lift.clone(), None, limits("30m", "4h", "2h"))
        .with_override(
            trapped_in_lift,
            Some(Tier::Whistle),
            limits("15m", "2h", "1h"),
        );
    let lift = matter("safe_lift");
    assert_eq!(
        policy.limits(&lift, Tier::FrontLine).acceptance,
        duration("30m")
    );
    assert_eq!(
        policy.limits(&lift, Tier::CoordinationMeeting).resolution,
        duration("4h")
    );
    assert_eq!(
        policy.limits(&lift, Tier::Whistle).acceptance,
        duration("15m")
    );
    assert_eq!(
        policy.limits(&matter("env_03"), Tier::FrontLine).acceptance,
        duration("2h")
    );
    assert_eq!(
        policy
            .limits(&Matter::Unclassified, Tier::FrontLine)
            .acceptance,
        duration("2h")
    );
}

#[test]
fn a_front_line_case_dispatched_friday_afternoon_must_be_accepted_the_same_day() {
    let deadlines = SlaPolicy::default()
        .assignment_deadlines(
            &calendar(),
            &matter("env_03"),
            Tier::FrontLine,
            local("2025-09-26 15:00"),
        )
        .unwrap();
    assert!(!deadlines.is_provisional());
    assert_eq!(shown(deadlines.value.acceptance_due), "2025-09-26 17:00");
    // Working days 28 (swapped Sunday), 29, 30 September.
    assert_eq!(shown(deadlines.value.resolution_due), "2025-09-30 17:30");
}

#[test]
fn a_meeting_case_dispatched_on_the_eve_of_national_day_is_due_after_the_holiday() {
    let deadlines = SlaPolicy::default()
        .assignment_deadlines(
            &calendar(),
            &matter("env_03"),
            Tier::CoordinationMeeting,
            local("2025-09-30 16:00"),
        )
        .unwrap()
        .value;
    assert_eq!(shown(deadlines.acceptance_due), "2025-10-09 17:30");
    // 9, 10, 11 (swapped Saturday), 13, 14, 15, 16 October.
    assert_eq!(shown(deadlines.resolution_due), "2025-10-16 17:30");
}

#[test]
fn deadlines_running_into_a_year_without_a_schedule_are_provisional() {
    let deadlines = SlaPolicy::default()
        .assignment_deadlines(
            &calendar(),
            &matter("env_03"),
            Tier::FrontLine,
            local("2026-12-30 10:00"),
        )
        .unwrap();
    assert_eq!(
        deadlines
            .years_without_data
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [2027]
    );
    assert_eq!(shown(deadlines.value.acceptance_due), "2026-12-30 12:00");
}

#[test]
fn resolution_is_never_due_before_acceptance() {
    let odd = SlaPolicy::new(
        limits("2d", "1h", "1h"),
        DEFAULT_COORDINATION_MEETING,
        DEFAULT_WHISTLE,
    );
    let deadlines = odd
        .assignment_deadlines(
            &calendar(),
            &Matter::Unclassified,
            Tier::FrontLine,
            local("2025-03-03 09:00"),
        )
        .unwrap()
        .value;
    assert_eq!(deadlines.resolution_due, deadlines.acceptance_due);
    assert_eq!(shown(deadlines.acceptance_due), "2025-03-05 17:30");
}

#[test]
fn a_rework_gets_the_tiers_rework_limit() {
    let due = SlaPolicy::default()
        .rework_deadline(
            &calendar(),
            &matter("env_03"),
            Tier::FrontLine,
            local("2025-03-07 11:00"),
        )
        .unwrap()
        .value;
    assert_eq!(shown(due), "2025-03-11 17:30");
}

#[test]
fn nothing_is_overdue_before_the_acceptance_deadline_or_exactly_at_it() {
    let case = dispatched_case(Tier::FrontLine, local("2025-03-03 09:00"));
    assert_eq!(assess(&case, local("2025-03-03 10:59")), None);
    assert_eq!(assess(&case, local("2025-03-03 11:00")), None);
    assert!(!is_overdue(&case, local("2025-03-03 11:00")));
}

#[test]
fn a_front_line_case_not_accepted_in_time_escalates_to_a_coordination_meeting() {
    let case = dispatched_case(Tier::FrontLine, local("2025-03-03 09:00"));
    let finding = assess(&case, local("2025-03-03 11:01")).unwrap();
    assert_eq!(
        finding,
        OverdueFinding {
            deadline: DeadlineKind::Acceptance,
            due: local("2025-03-03 11:00"),
            consequence: OverdueConsequence::Escalate {
                to: Tier::CoordinationMeeting
            },
        }
    );
    assert!(is_overdue(&case, local("2025-03-03 11:01")));
}

#[test]
fn a_meeting_case_not_resolved_in_time_escalates_to_the_whistle() {
    let mut case = dispatched_case(Tier::CoordinationMeeting, local("2025-03-03 09:00"));
    case.apply(governor(), Command::Accept, local("2025-03-03 10:00"))
        .unwrap();
    let due = case.assignment().unwrap().resolution_due;
    assert_eq!(shown(due), "2025-03-12 17:30");
    let finding = assess(&case, due + TimeDelta::seconds(1)).unwrap();
    assert_eq!(finding.deadline, DeadlineKind::Resolution);
    assert_eq!(
        finding.consequence,
        OverdueConsequence::Escalate { to: Tier::Whistle }
    );
}

#[test]
fn an_overdue_whistle_case_stays_at_the_whistle_and_is_flagged_once() {
    let mut case = dispatched_case(Tier::Whistle, local("2025-03-03 09:00"));
    let late = local("2025-03-03 15:31");
    let finding = assess(&case, late).unwrap();
    assert_eq!(finding.deadline, DeadlineKind::Acceptance);
    assert_eq!(finding.consequence, OverdueConsequence::FlagAtHighestTier);
    case.apply(
        Actor::System,
        Command::MarkOverdue {
            deadline: finding.deadline,
        },
        late,
    )
    .unwrap();
    assert_eq!(
        assess(&case, late),
        None,
        "the acceptance deadline fired once"
    );
    assert_eq!(
        next_deadline(&case).map(|pending| pending.deadline),
        Some(DeadlineKind::Resolution)
    );
    assert!(is_overdue(&case, late), "still overdue for the case list");
}

#[test]
fn an_escalated_case_gets_fresh_deadlines_and_is_not_overdue_any_more() {
    let mut case = dispatched_case(Tier::FrontLine, local("2025-03-03 09:00"));
    let late = local("2025-03-03 11:30");
    let finding = assess(&case, late).unwrap();
    let OverdueConsequence::Escalate { to } = finding.consequence else {
        panic!("a front-line case escalates");
    };
    let deadlines = SlaPolicy::default()
        .assignment_deadlines(&calendar(), case.matter(), to, late)
        .unwrap()
        .value;
    let platform = Assignee::Unit(UnitName::parse("subdistricts/yuhu-lu").unwrap());
    case.apply(
        Actor::System,
        Command::Escalate {
            trigger: EscalationTrigger::Overdue(finding.deadline),
            assignment: deadlines.assign_to(platform),
        },
        late,
    )
    .unwrap();
    assert_eq!(case.tier(), Some(Tier::CoordinationMeeting));
    assert_eq!(assess(&case, late + TimeDelta::minutes(1)), None);
    assert_eq!(
        next_deadline(&case),
        Some(PendingDeadline {
            deadline: DeadlineKind::Acceptance,
            due: local("2025-03-04 17:30")
        })
    );
}

#[test]
fn an_accepted_case_only_waits_for_its_resolution_deadline() {
    let mut case = dispatched_case(Tier::FrontLine, local("2025-03-03 09:00"));
    assert_eq!(
        next_deadline(&case).map(|pending| pending.deadline),
        Some(DeadlineKind::Acceptance)
    );
    case.apply(governor(), Command::Accept, local("2025-03-03 12:30"))
        .unwrap();
    assert_eq!(
        next_deadline(&case),
        Some(PendingDeadline {
            deadline: DeadlineKind::Resolution,
            due: local("2025-03-06 17:30")
        })
    );
    assert_eq!(
        assess(&case, local("2025-03-06 17:00")),
        None,
        "accepted late, but accepted"
    );
}

#[test]
fn a_parked_or_resolved_case_has_no_clock_running() {
    let mut parked = dispatched_case(Tier::FrontLine, local("2025-03-03 09:00"));
    let dispatcher = Actor::staff(
        StaffId::parse("disp-1").unwrap(),
        UnitName::parse("subdistricts/yuhu-lu").unwrap(),
    );
    parked
        .apply(
            dispatcher,
            Command::Park {
                reason: Reason::parse("waiting for the district budget").unwrap(),
                review_on: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
            },
            local("2025-03-03 10:00"),
        )
        .unwrap();
    assert_eq!(next_deadline(&parked), None);
    assert_eq!(assess(&parked, local("2025-05-01 10:00")), None);
    assert!(!is_overdue(&parked, local("2025-05-01 10:00")));

    let mut resolved = dispatched_case(Tier::FrontLine, local("2025-03-03 09:00"));
    for command in [Command::Accept, Command::StartWork, Command::Resolve] {
        resolved
            .apply(governor(), command, local("2025-03-03 10:00"))
            .unwrap();
    }
    assert_eq!(next_deadline(&resolved), None);
    assert_eq!(assess(&resolved, local("2025-05-01 10:00")), None);
}

#[test]
fn when_both_deadlines_have_passed_the_earlier_fires_first() {
    let case = dispatched_case(Tier::FrontLine, local("2025-03-03 09:00"));
    let much_later = local("2025-04-01 09:00");
    let finding = assess(&case, much_later).unwrap();
    assert_eq!(finding.deadline, DeadlineKind::Acceptance);
}
