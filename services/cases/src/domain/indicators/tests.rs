use chrono::{NaiveDate, NaiveDateTime};

use super::*;
use crate::domain::geo::GeoPoint;
use crate::domain::lifecycle::{
    Actor, Assignee, Assignment, Case, Channel, Command, EscalationTrigger, NewCase, Place,
};
use crate::domain::values::{BlockName, Matter, MatterCode, Reason, StaffId, UnitName};

const BLOCK: &str = "subdistricts/yuhu-lu/blocks/017";

/// Monday 3 March 2025, 09:00 in China, plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    let start = NaiveDateTime::parse_from_str("2025-03-03 09:00", "%Y-%m-%d %H:%M").unwrap();
    from_china_local(start) + TimeDelta::minutes(minutes)
}

const HOUR: i64 = 60;
const DAY: i64 = 24 * 60;

fn governor() -> Actor {
    Actor::staff(
        StaffId::parse("gov-017").unwrap(),
        UnitName::parse(BLOCK).unwrap(),
    )
}

fn supervisor() -> Actor {
    Actor::staff(
        StaffId::parse("sup-017").unwrap(),
        UnitName::parse(BLOCK).unwrap(),
    )
}

fn dispatcher() -> Actor {
    Actor::staff(
        StaffId::parse("disp-1").unwrap(),
        UnitName::parse("subdistricts/yuhu-lu").unwrap(),
    )
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

/// A case driven through the real lifecycle, collecting its records.
struct Story {
    case: Case,
    records: Vec<TransitionRecord>,
}

impl Story {
    fn reported(kind: CaseKind, minutes: i64) -> Self {
        let new_case = NewCase {
            id: CaseId::new_v7(),
            kind,
            channel: Channel::Hotline12345,
            matter: Matter::Unclassified,
            place: Place::Point(GeoPoint::new(27.83, 112.94).unwrap()),
        };
        let (case, record) = Case::report(new_case, Actor::Resident, at(minutes));
        Self {
            case,
            records: vec![record],
        }
    }

    fn id(&self) -> CaseId {
        self.case.id()
    }

    fn then(mut self, actor: Actor, command: Command, minutes: i64) -> Self {
        let records = self
            .case
            .apply(actor, command, at(minutes))
            .unwrap_or_else(|error| panic!("{error}"));
        self.records.extend(records);
        self
    }

    fn triaged(self, tier: Tier, minutes: i64) -> Self {
        let command = Command::Triage {
            block: BlockName::parse(BLOCK).unwrap(),
            matter: MatterCode::parse("env_03").unwrap(),
            tier,
        };
        self.then(Actor::System, command, minutes)
    }

    /// Dispatched to the governor at `minutes`: accept within 2 h, resolve within 3 days.
    fn dispatched(self, minutes: i64) -> Self {
        let assignment = Assignment {
            assignee: Assignee::Staff(StaffId::parse("gov-017").unwrap()),
            acceptance_due: at(minutes + 2 * HOUR),
            resolution_due: at(minutes + 3 * DAY),
        };
        self.then(Actor::System, Command::Dispatch { assignment }, minutes)
    }

    fn accepted(self, minutes: i64) -> Self {
        self.then(governor(), Command::Accept, minutes)
    }

    fn resolved(self, minutes: i64) -> Self {
        self.then(governor(), Command::StartWork, minutes).then(
            governor(),
            Command::Resolve,
            minutes,
        )
    }

    fn resolved_again(self, minutes: i64) -> Self {
        self.then(governor(), Command::Resolve, minutes)
    }

    fn verified(self, minutes: i64) -> Self {
        self.then(supervisor(), Command::PassVerification, minutes)
    }

    fn rated(self, rating: Rating, minutes: i64) -> Self {
        let command = Command::Rate {
            rating,
            due_if_reopened: at(minutes + 2 * DAY),
        };
        self.then(Actor::Resident, command, minutes)
    }

    fn closed(self, minutes: i64) -> Self {
        self.then(Actor::System, Command::Close, minutes)
    }

    /// The whole loop on time: reported at `minutes`, closed satisfied an hour later.
    fn on_time(kind: CaseKind, minutes: i64) -> Self {
        Story::reported(kind, minutes)
            .triaged(Tier::FrontLine, minutes + 1)
            .dispatched(minutes + 2)
            .accepted(minutes + 10)
            .resolved(minutes + 40)
            .verified(minutes + 50)
            .rated(Rating::Satisfied, minutes + 55)
            .closed(minutes + 60)
    }
}

fn all_records(stories: &[&Story]) -> Vec<TransitionRecord> {
    stories
        .iter()
        .flat_map(|story| story.records.iter().cloned())
        .collect()
}

fn march() -> Period {
    Period::china_month(2025, 3).unwrap()
}

/// The total over every case, for March 2025, as of `as_of_minutes`.
fn total(stories: &[&Story], as_of_minutes: i64) -> Indicators {
    let query = IndicatorQuery {
        period: march(),
        as_of: at(as_of_minutes),
    };
    let mut groups = compute_indicators(&all_records(stories), &query, |_| Some(()));
    groups.remove(&()).expect("the cohort is not empty")
}

fn rate(numerator: u32, denominator: u32) -> Rate {
    Rate {
        numerator,
        denominator,
    }
}

#[test]
fn a_period_must_end_after_it_starts() {
    assert_eq!(
        Period::new(at(10), at(10)).unwrap_err(),
        InvalidPeriod {
            start: at(10),
            end: at(10)
        }
    );
    assert!(Period::new(at(10), at(11)).is_ok());
    assert!(Period::china_month(2025, 13).is_none());
}

#[test]
fn a_china_month_starts_at_local_midnight() {
    let march = march();
    assert_eq!(
        march.start(),
        "2025-02-28T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(
        march.end(),
        "2025-03-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    let december = Period::china_month(2025, 12).unwrap();
    assert_eq!(
        december.end(),
        "2025-12-31T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
}

#[test]
fn no_records_give_no_groups() {
    let query = IndicatorQuery {
        period: march(),
        as_of: at(0),
    };
    assert!(compute_indicators(&[], &query, |_| Some(())).is_empty());
}

#[test]
fn a_case_closed_on_time_and_satisfied_scores_full_marks() {
    let story = Story::on_time(CaseKind::Problem, 0);
    let indicators = total(&[&story], 2 * HOUR);
    assert_eq!(indicators.received, 1);
    assert_eq!(indicators.rates.response, rate(1, 1));
    assert_eq!(indicators.rates.resolution, rate(1, 1));
    assert_eq!(indicators.rates.satisfaction, rate(1, 1));
    assert_eq!(indicators.rates.closed_on_time, rate(1, 1));
    assert_eq!(indicators.rates.rework, rate(0, 1));
    assert_eq!(indicators.rates.extension, rate(0, 1));
    assert_eq!(indicators.rates.whistle, rate(0, 1));
    assert_eq!(indicators.overdue, 0);
    assert_eq!(indicators.time_to_accept.mean, Some(TimeDelta::minutes(10)));
    assert_eq!(
        indicators.time_to_resolve.mean,
        Some(TimeDelta::minutes(40))
    );
}

#[test]
fn only_cases_reported_in_the_period_count() {
    let february = Story::on_time(CaseKind::Problem, -10 * DAY);
    let march = Story::on_time(CaseKind::Problem, 0);
    let april = Story::on_time(CaseKind::Problem, 40 * DAY);
    let indicators = total(&[&february, &march, &april], 50 * DAY);
    assert_eq!(indicators.received, 1);
}

#[test]
fn records_after_as_of_are_not_read() {
    let story = Story::on_time(CaseKind::Problem, 0);
    let before_verification = total(&[&story], 45);
    assert_eq!(before_verification.rates.resolution, rate(0, 1));
    assert_eq!(before_verification.rates.satisfaction, rate(0, 0));
    assert_eq!(before_verification.time_to_resolve.count, 0);
    let after = total(&[&story], 2 * HOUR);
    assert_eq!(after.rates.resolution, rate(1, 1));
}

#[test]
fn a_dismissed_case_is_received_but_left_out_of_every_rate() {
    let dismissed = Story::reported(CaseKind::Problem, 0).then(
        dispatcher(),
        Command::Dismiss {
            reason: reason("test call"),
        },
        5,
    );
    let real = Story::on_time(CaseKind::Problem, 10);
    let indicators = total(&[&dismissed, &real], 2 * HOUR);
    assert_eq!(indicators.received, 2);
    assert_eq!(indicators.dismissed, 1);
    assert_eq!(indicators.rates.resolution, rate(1, 1));
    assert_eq!(indicators.rates.whistle, rate(0, 1));
}

#[test]
fn the_response_rate_counts_acceptances_before_the_deadline_among_decided_cases() {
    let on_time = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(30);
    let late = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(3 * HOUR);
    let never = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2);
    let undecided = Story::reported(CaseKind::Problem, 4 * HOUR)
        .triaged(Tier::FrontLine, 4 * HOUR)
        .dispatched(4 * HOUR + 1);
    let undispatched = Story::reported(CaseKind::Problem, 0);
    let indicators = total(
        &[&on_time, &late, &never, &undecided, &undispatched],
        5 * HOUR,
    );
    assert_eq!(indicators.rates.response, rate(1, 3));
    assert_eq!(
        indicators.overdue, 2,
        "late and never lapsed their acceptance deadline"
    );
}

#[test]
fn an_acceptance_after_an_escalation_for_lateness_is_not_a_timely_response() {
    let platform = Assignee::Unit(UnitName::parse("subdistricts/yuhu-lu").unwrap());
    let escalated = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .then(
            Actor::System,
            Command::Escalate {
                trigger: EscalationTrigger::Overdue(DeadlineKind::Acceptance),
                assignment: Assignment {
                    assignee: platform,
                    acceptance_due: at(3 * HOUR),
                    resolution_due: at(5 * DAY),
                },
            },
            2 * HOUR + 3,
        )
        .then(dispatcher(), Command::Accept, 2 * HOUR + 10);
    let indicators = total(&[&escalated], 3 * HOUR);
    assert_eq!(indicators.rates.response, rate(0, 1));
    assert_eq!(indicators.overdue, 1);
}

#[test]
fn the_resolution_rate_keeps_parked_cases_in_the_denominator() {
    let solved = Story::on_time(CaseKind::Problem, 0);
    let parked = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .then(
            dispatcher(),
            Command::Park {
                reason: reason("needs a new drain"),
                review_on: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
            },
            20,
        );
    let indicators = total(&[&solved, &parked], 10 * DAY);
    assert_eq!(indicators.rates.resolution, rate(1, 2));
    assert_eq!(indicators.parked, 1);
    assert_eq!(indicators.overdue, 0, "no clock runs while parked");
}

#[test]
fn parked_cases_age_from_when_they_entered_the_register_even_after_a_review_keeps_them() {
    let park = |review_on: NaiveDate| Command::Park {
        reason: reason("needs a new drain"),
        review_on,
    };
    let old = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .then(
            dispatcher(),
            park(NaiveDate::from_ymd_opt(2025, 3, 20).unwrap()),
            20,
        )
        .then(
            dispatcher(),
            park(NaiveDate::from_ymd_opt(2025, 9, 1).unwrap()),
            10 * DAY,
        );
    let recent = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .then(
            dispatcher(),
            park(NaiveDate::from_ymd_opt(2025, 9, 1).unwrap()),
            25 * DAY,
        );
    let indicators = total(&[&old, &recent], 50 * DAY);
    assert_eq!(indicators.parked, 2);
    assert_eq!(
        indicators.parked_aging,
        ParkedAging {
            under_30_days: 1,
            from_30_to_90_days: 1,
            from_90_to_180_days: 0,
            over_180_days: 0,
            oldest: Some(TimeDelta::minutes(50 * DAY - 20)),
        }
    );
}

#[test]
fn satisfaction_takes_each_cases_latest_rating_once() {
    let satisfied_after_rework = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(10)
        .resolved(40)
        .verified(50)
        .rated(Rating::Unsatisfied, 55)
        .resolved_again(HOUR * 3)
        .verified(HOUR * 4)
        .rated(Rating::Satisfied, HOUR * 5);
    let basically = Story::reported(CaseKind::Problem, 10)
        .triaged(Tier::FrontLine, 11)
        .dispatched(12)
        .accepted(20)
        .resolved(50)
        .verified(60)
        .rated(Rating::BasicallySatisfied, 70);
    let unsatisfied_twice = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(10)
        .resolved(40)
        .verified(50)
        .rated(Rating::Unsatisfied, 55)
        .resolved_again(HOUR * 3)
        .verified(HOUR * 4)
        .rated(Rating::Unsatisfied, HOUR * 5);
    let unrated = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(10)
        .resolved(40)
        .verified(50);
    let indicators = total(
        &[
            &satisfied_after_rework,
            &basically,
            &unsatisfied_twice,
            &unrated,
        ],
        DAY,
    );
    assert_eq!(indicators.rates.satisfaction, rate(2, 3));
    assert_eq!(indicators.rates.rework, rate(2, 4));
}

#[test]
fn closed_on_time_counts_closed_cases_and_open_ones_past_their_deadline() {
    let on_time = Story::on_time(CaseKind::Problem, 0);
    let closed_late = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(10)
        .resolved(4 * DAY)
        .verified(4 * DAY + 10)
        .rated(Rating::Satisfied, 4 * DAY + 20)
        .closed(4 * DAY + 30);
    let open_past_due = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(10);
    let open_not_yet_due = Story::reported(CaseKind::Problem, 4 * DAY)
        .triaged(Tier::FrontLine, 4 * DAY + 1)
        .dispatched(4 * DAY + 2)
        .accepted(4 * DAY + 10);
    let indicators = total(
        &[&on_time, &closed_late, &open_past_due, &open_not_yet_due],
        5 * DAY,
    );
    assert_eq!(indicators.rates.closed_on_time, rate(1, 3));
    assert_eq!(indicators.overdue, 2);
}

#[test]
fn an_approved_extension_moves_the_deadline_the_rates_are_judged_by() {
    let extended = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(10)
        .then(
            governor(),
            Command::RequestExtension {
                until: at(10 * DAY),
                reason: reason("parts on order"),
            },
            DAY,
        )
        .then(dispatcher(), Command::ApproveExtension, DAY + 10)
        .resolved(5 * DAY)
        .verified(5 * DAY + 10)
        .rated(Rating::Satisfied, 5 * DAY + 20)
        .closed(5 * DAY + 30);
    let plain = Story::on_time(CaseKind::Problem, 0);
    let indicators = total(&[&extended, &plain], 6 * DAY);
    assert_eq!(indicators.rates.extension, rate(1, 2));
    assert_eq!(indicators.rates.closed_on_time, rate(2, 2));
    assert_eq!(indicators.overdue, 0);
}

#[test]
fn the_whistle_rate_counts_cases_triaged_or_escalated_to_the_whistle() {
    let triaged_hard = Story::reported(CaseKind::Problem, 0).triaged(Tier::Whistle, 1);
    let escalated = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::CoordinationMeeting, 1)
        .dispatched(2)
        .then(
            dispatcher(),
            Command::Escalate {
                trigger: EscalationTrigger::Manual(reason("three agencies needed")),
                assignment: Assignment {
                    assignee: Assignee::Unit(
                        UnitName::parse("agencies/joint-enforcement").unwrap(),
                    ),
                    acceptance_due: at(HOUR),
                    resolution_due: at(10 * DAY),
                },
            },
            5,
        );
    let front_line = Story::on_time(CaseKind::Problem, 0);
    let untriaged = Story::reported(CaseKind::Problem, 0);
    let indicators = total(&[&triaged_hard, &escalated, &front_line, &untriaged], HOUR);
    assert_eq!(indicators.rates.whistle, rate(2, 3));
}

#[test]
fn time_to_accept_has_a_mean_and_a_nearest_rank_p90() {
    let stories: Vec<Story> = (1..=10)
        .map(|minutes| {
            Story::reported(CaseKind::Problem, 0)
                .triaged(Tier::FrontLine, 0)
                .dispatched(0)
                .accepted(minutes)
        })
        .collect();
    let references: Vec<&Story> = stories.iter().collect();
    let summary = total(&references, HOUR).time_to_accept;
    assert_eq!(summary.count, 10);
    assert_eq!(summary.mean, Some(TimeDelta::seconds(330)));
    assert_eq!(summary.p90, Some(TimeDelta::minutes(9)));
}

#[test]
fn a_single_duration_is_its_own_mean_and_p90() {
    let summary = DurationSummary::of(vec![TimeDelta::minutes(7)]);
    assert_eq!(summary.mean, Some(TimeDelta::minutes(7)));
    assert_eq!(summary.p90, Some(TimeDelta::minutes(7)));
    assert_eq!(DurationSummary::of(Vec::new()), DurationSummary::default());
}

#[test]
fn time_to_resolve_runs_to_the_resolution_that_passed_verification() {
    let reworked = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(10)
        .resolved(40)
        .then(
            supervisor(),
            Command::FailVerification {
                reason: reason("still leaking"),
                rework_due: at(2 * DAY),
            },
            50,
        )
        .resolved_again(3 * HOUR)
        .verified(4 * HOUR)
        .rated(Rating::Unsatisfied, 5 * HOUR)
        .resolved_again(DAY)
        .verified(DAY + HOUR);
    let summary = total(&[&reworked], 2 * DAY).time_to_resolve;
    assert_eq!(summary.count, 1);
    assert_eq!(summary.mean, Some(TimeDelta::hours(3)));
}

#[test]
fn disputes_and_hazards_resolved_are_counted_by_kind() {
    let dispute = Story::on_time(CaseKind::Dispute, 0);
    let open_dispute = Story::reported(CaseKind::Dispute, 0);
    let hazard = Story::on_time(CaseKind::SafetyHazard, 0);
    let errand = Story::on_time(CaseKind::Errand, 0);
    let indicators = total(&[&dispute, &open_dispute, &hazard, &errand], DAY);
    assert_eq!(indicators.disputes_resolved, 1);
    assert_eq!(indicators.hazards_resolved, 1);
}

#[test]
fn me_too_reports_linked_to_the_cohort_are_counted() {
    let story = Story::reported(CaseKind::Problem, 0)
        .then(Actor::System, Command::RecordMeToo, 5)
        .then(Actor::System, Command::RecordMeToo, 6);
    assert_eq!(total(&[&story], HOUR).me_too_reports, 2);
}

#[test]
fn cases_are_grouped_by_the_key_the_caller_gives_and_unkeyed_cases_are_left_out() {
    let block_a_good = Story::on_time(CaseKind::Problem, 0);
    let block_a_open = Story::reported(CaseKind::Problem, 0);
    let block_b = Story::on_time(CaseKind::Problem, 0);
    let unknown = Story::on_time(CaseKind::Problem, 0);
    let keys: HashMap<CaseId, &str> = [
        (block_a_good.id(), "blocks/017"),
        (block_a_open.id(), "blocks/017"),
        (block_b.id(), "blocks/018"),
    ]
    .into_iter()
    .collect();
    let query = IndicatorQuery {
        period: march(),
        as_of: at(DAY),
    };
    let records = all_records(&[&block_a_good, &block_a_open, &block_b, &unknown]);
    let groups = compute_indicators(&records, &query, |case_id| keys.get(&case_id).copied());
    assert_eq!(
        groups.keys().copied().collect::<Vec<_>>(),
        ["blocks/017", "blocks/018"]
    );
    assert_eq!(groups["blocks/017"].received, 2);
    assert_eq!(groups["blocks/017"].rates.resolution, rate(1, 2));
    assert_eq!(groups["blocks/018"].rates.resolution, rate(1, 1));
}

#[test]
fn the_order_of_the_records_does_not_matter_and_duplicates_are_read_once() {
    let first = Story::on_time(CaseKind::Problem, 0);
    let second = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2);
    let mut records = all_records(&[&first, &second]);
    let query = IndicatorQuery {
        period: march(),
        as_of: at(DAY),
    };
    let in_order = compute_indicators(&records, &query, |_| Some(()));
    records.reverse();
    records.extend(first.records.iter().cloned());
    records.rotate_left(3);
    let shuffled = compute_indicators(&records, &query, |_| Some(()));
    assert_eq!(in_order, shuffled);
    assert_eq!(shuffled[&()].received, 2);
}

#[test]
fn month_over_month_trends_compare_each_rate_with_the_month_before() {
    // 1 April 2025 02:00 in China is still 31 March in UTC: it belongs to April.
    let march_good = Story::on_time(CaseKind::Problem, 0);
    let march_open = Story::reported(CaseKind::Problem, DAY)
        .triaged(Tier::FrontLine, DAY + 1)
        .dispatched(DAY + 2)
        .accepted(DAY + 10);
    let april_start = (from_china_local(
        NaiveDateTime::parse_from_str("2025-04-01 02:00", "%Y-%m-%d %H:%M").unwrap(),
    ) - at(0))
    .num_minutes();
    let april_good = Story::on_time(CaseKind::Problem, april_start);
    let query = IndicatorQuery {
        period: Period::new(march().start(), Period::china_month(2025, 4).unwrap().end()).unwrap(),
        as_of: at(60 * DAY),
    };
    let records = all_records(&[&march_good, &march_open, &april_good]);
    let indicators = compute_indicators(&records, &query, |_| Some(()))
        .remove(&())
        .unwrap();
    let months: Vec<String> = indicators
        .monthly
        .iter()
        .map(|month| month.month.to_string())
        .collect();
    assert_eq!(months, ["2025-03", "2025-04"]);
    assert_eq!(indicators.monthly[0].received, 2);
    assert_eq!(indicators.monthly[1].received, 1);
    assert!(indicators.monthly[0].changes.is_empty());
    let resolution_change = indicators.monthly[1]
        .changes
        .iter()
        .find(|change| change.kind == RateKind::Resolution)
        .unwrap();
    assert!((resolution_change.points - 50.0).abs() < 1e-9);
    assert_eq!(resolution_change.direction, Direction::Up);
    assert!(resolution_change.improved);
    let whistle_change = indicators.monthly[1]
        .changes
        .iter()
        .find(|change| change.kind == RateKind::Whistle)
        .unwrap();
    assert_eq!(whistle_change.direction, Direction::Flat);
    assert!(!whistle_change.improved);
    assert!(
        indicators.monthly[1]
            .changes
            .iter()
            .all(|change| change.kind != RateKind::Satisfaction || change.points == 0.0),
        "satisfaction is 100 % in both months"
    );
}

#[test]
fn disputes_and_hazards_reported_are_counted_month_by_month() {
    let march_dispute = Story::reported(CaseKind::Dispute, 0);
    let march_hazard = Story::on_time(CaseKind::SafetyHazard, HOUR);
    let march_other_hazard = Story::reported(CaseKind::SafetyHazard, DAY);
    let march_problem = Story::reported(CaseKind::Problem, DAY);
    let april_hazard = Story::reported(CaseKind::SafetyHazard, 35 * DAY);
    let query = IndicatorQuery {
        period: Period::new(march().start(), Period::china_month(2025, 4).unwrap().end()).unwrap(),
        as_of: at(60 * DAY),
    };
    let records = all_records(&[
        &march_dispute,
        &march_hazard,
        &march_other_hazard,
        &march_problem,
        &april_hazard,
    ]);
    let indicators = compute_indicators(&records, &query, |_| Some(()))
        .remove(&())
        .unwrap();
    let counts: Vec<(u32, u32, u32)> = indicators
        .monthly
        .iter()
        .map(|month| {
            (
                month.received,
                month.disputes_received,
                month.hazards_received,
            )
        })
        .collect();
    assert_eq!(counts, [(4, 1, 2), (1, 0, 1)]);
}

#[test]
fn a_rate_defined_in_only_one_month_has_no_change() {
    let march_unrated = Story::reported(CaseKind::Problem, 0);
    let april_rated = Story::on_time(CaseKind::Problem, 35 * DAY);
    let query = IndicatorQuery {
        period: Period::new(march().start(), Period::china_month(2025, 4).unwrap().end()).unwrap(),
        as_of: at(60 * DAY),
    };
    let records = all_records(&[&march_unrated, &april_rated]);
    let indicators = compute_indicators(&records, &query, |_| Some(()))
        .remove(&())
        .unwrap();
    assert!(
        indicators.monthly[1]
            .changes
            .iter()
            .all(|change| change.kind != RateKind::Satisfaction)
    );
    assert!(
        indicators.monthly[1]
            .changes
            .iter()
            .any(|change| change.kind == RateKind::Resolution && change.direction == Direction::Up)
    );
}

#[test]
fn a_rework_rate_going_down_is_an_improvement() {
    let before = Rates {
        rework: rate(1, 2),
        ..Rates::default()
    };
    let after = Rates {
        rework: rate(1, 4),
        ..Rates::default()
    };
    let changes = changes_between(&before, &after);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].direction, Direction::Down);
    assert!(changes[0].improved);
    assert!((changes[0].points + 25.0).abs() < 1e-9);
}

#[test]
fn a_rate_without_cases_has_no_value_rather_than_nan() {
    let empty = Rate::default();
    assert_eq!(empty.value(), None);
    assert_eq!(empty.to_string(), "n/a (0/0)");
    assert_eq!(rate(1, 3).to_string(), "33.3 % (1/3)");
}

#[test]
fn recomputing_a_past_period_later_with_the_same_as_of_gives_the_same_figures() {
    let story = Story::reported(CaseKind::Problem, 0)
        .triaged(Tier::FrontLine, 1)
        .dispatched(2)
        .accepted(10);
    let query = IndicatorQuery {
        period: march(),
        as_of: at(HOUR),
    };
    let at_the_time = compute_indicators(&story.records, &query, |_| Some(()));
    let finished = story.resolved(DAY).verified(DAY + 10);
    let recomputed_later = compute_indicators(&finished.records, &query, |_| Some(()));
    assert_eq!(recomputed_later, at_the_time);
    assert_eq!(recomputed_later[&()].rates.resolution, rate(0, 1));
    let as_of_now = IndicatorQuery {
        as_of: at(2 * DAY),
        ..query
    };
    let now = compute_indicators(&finished.records, &as_of_now, |_| Some(()));
    assert_eq!(now[&()].rates.resolution, rate(1, 1));
}
