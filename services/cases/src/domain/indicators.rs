//! The evaluation half of the loop: indicators computed from the recorded transitions.
//!
//! Everything here is derived from [`TransitionRecord`]s alone, so the indicators of any
//! past period can be recomputed, and two computations with the same records, period and
//! `as_of` agree. Cases are grouped by a key the caller supplies per case (block,
//! community, subdistrict, department, staff member, or `()` for a total).
//!
//! # Which cases count
//!
//! The **cohort** of a period is the cases whose `reported` record lies in
//! `[period.start, period.end)`. Only records at or before `as_of` are read, so a figure
//! describes the cohort as it stood at `as_of` (typically the end of the period, or now).
//! Cases whose records lack the `reported` record are ignored. A case closed as
//! **dismissed** (not a matter for the service) counts in `received` and `dismissed` and in
//! nothing else; the rest of the cohort is the **work**.
//!
//! # Definitions
//!
//! A deadline **lapses** when an instant passes it while it runs: acceptance while the case
//! is dispatched, resolution while it is dispatched, accepted or in progress (never while
//! parked). It is checked at every record's instant and at `as_of`, against the deadlines
//! the records set (dispatch, escalation, reassignment, re-homing, approved extension,
//! rework, unparking). A deadline at exactly the instant has not lapsed.
//!
//! - `received`: cases in the cohort.
//! - **response rate 响应率**: of work cases whose response is decided, those responded to
//!   on time. Decided: accepted, or an acceptance deadline lapsed before any acceptance.
//!   On time: the first acceptance came before any acceptance deadline lapsed.
//! - **resolution rate 解决率**: work cases with a passed verification ÷ work cases. Parked
//!   cases stay in the denominator.
//! - **satisfaction rate 满意率**: work cases whose latest rating is satisfied or basically
//!   satisfied ÷ work cases with at least one rating. One vote per case: a case rated
//!   unsatisfied and then, after rework, satisfied counts as satisfied.
//! - **closed-on-time rate 按期结案率**: of work cases due to be closed — closed, or with a
//!   lapsed resolution deadline — those closed without any resolution deadline lapsing.
//! - **rework rate 返工率**: work cases reworked at least once (failed verification or the
//!   reopening after an unsatisfied rating) ÷ work cases resolved at least once.
//! - **extension rate**: work cases with at least one approved extension ÷ work cases
//!   dispatched at least once.
//! - **whistle rate**: work cases that were at the whistle tier at any point (triage,
//!   dispatch, escalation, reassignment, reclassification) ÷ work cases triaged.
//! - `overdue`: work cases with at least one lapsed deadline (acceptance or resolution).
//! - `parked`: work cases in the 挂账 register at `as_of`; **parked aging** sorts them by
//!   the time since they entered the register (a review that keeps a case there does not
//!   restart its age): under 30 days, 30–90, 90–180, over 180, and the oldest.
//! - `overdue_meeting_actions`: not from the records but from the meetings (the API adds
//!   it, [`Indicators::empty`] giving a group that has no case of its own).
//! - `me_too_reports`: reports linked to cohort cases ("me too"), by `as_of`.
//! - **time to accept**: from the report to the first acceptance, over work cases accepted.
//! - **time to resolve**: from the report to the resolution that the first passed
//!   verification confirmed (so rework before it is included), over work cases verified.
//!   Both are wall-clock time (what a resident waits), summarised as count, mean and p90
//!   (nearest rank: the smallest value at least 90 % of the values do not exceed).
//! - `disputes_resolved`, `hazards_resolved`: work cases of kind dispute / safety hazard
//!   with a passed verification.
//! - **month-over-month**: the seven rates for the cases reported in each China-local
//!   calendar month that overlaps the period (restricted to the period), with the change
//!   from the previous month in percentage points where both months define the rate.
//!   Each month also counts the disputes and the safety hazards reported in it
//!   (dismissed ones included: a report is a report), for "disputes and hazards down".

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use crate::domain::calendar::{from_china_local, to_china_local};
use crate::domain::lifecycle::{
    Action, CaseKind, CaseState, Closure, DeadlineKind, Rating, Tier, TransitionRecord,
};
use crate::domain::values::CaseId;

/// A period was empty or reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the period must end after it starts: {start} is not before {end}")]
pub struct InvalidPeriod {
    /// The start given.
    pub start: DateTime<Utc>,
    /// The end given.
    pub end: DateTime<Utc>,
}

/// A half-open interval of instants, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first instant in the period.
    start: DateTime<Utc>,
    /// The first instant after it.
    end: DateTime<Utc>,
}

impl Period {
    /// The period `[start, end)`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, InvalidPeriod> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(InvalidPeriod { start, end })
        }
    }

    /// The China-local calendar month `year`-`month`, or `None` for an invalid month.
    pub fn china_month(year: i32, month: u32) -> Option<Self> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = YearMonth { year, month }.next().first_day()?;
        Some(Self {
            start: from_china_local(first.and_time(chrono::NaiveTime::MIN)),
            end: from_china_local(next.and_time(chrono::NaiveTime::MIN)),
        })
    }

    /// The first instant.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The first instant after the period.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// Whether `instant` is in the period.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.start <= instant && instant < self.end
    }
}

/// What to compute: the cohort's period and the instant the records are read up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndicatorQuery {
    /// Cases reported in this period form the cohort.
    pub period: Period,
    /// Records after this instant are ignored.
    pub as_of: DateTime<Utc>,
}

/// A ratio of counts. Undefined (no value) when nothing is in the denominator — never NaN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate {
    /// Cases that meet the condition.
    pub numerator: u32,
    /// Cases the rate is about.
    pub denominator: u32,
}

impl Rate {
    /// The ratio in `[0, 1]`, or `None` when the denominator is zero.
    pub fn value(&self) -> Option<f64> {
        (self.denominator > 0).then(|| f64::from(self.numerator) / f64::from(self.denominator))
    }

    /// The ratio in percent, or `None` when the denominator is zero.
    pub fn percent(&self) -> Option<f64> {
        self.value().map(|value| value * 100.0)
    }

    fn count(&mut self, in_denominator: bool, in_numerator: bool) {
        if in_denominator {
            self.denominator += 1;
            if in_numerator {
                self.numerator += 1;
            }
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.percent() {
            Some(percent) => write!(
                formatter,
                "{percent:.1} % ({}/{})",
                self.numerator, self.denominator
            ),
            None => write!(formatter, "n/a (0/0)"),
        }
    }
}

/// The seven rates, named for trends and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RateKind {
    /// 响应率.
    Response,
    /// 解决率.
    Resolution,
    /// 满意率.
    Satisfaction,
    /// 按期结案率.
    ClosedOnTime,
    /// 返工率.
    Rework,
    /// Extension rate.
    Extension,
    /// Whistle rate.
    Whistle,
}

impl RateKind {
    /// Whether a higher value is better (the "three ups": response, resolution,
    /// satisfaction — and closing on time); rework, extensions and whistles should go down.
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            RateKind::Response
                | RateKind::Resolution
                | RateKind::Satisfaction
                | RateKind::ClosedOnTime
        )
    }
}

/// The rates of a group of cases, as defined in the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rates {
    /// 响应率.
    pub response: Rate,
    /// 解决率.
    pub resolution: Rate,
    /// 满意率.
    pub satisfaction: Rate,
    /// 按期结案率.
    pub closed_on_time: Rate,
    /// 返工率.
    pub rework: Rate,
    /// Extension rate.
    pub extension: Rate,
    /// Whistle rate.
    pub whistle: Rate,
}

impl Rates {
    /// Every rate with its name, in a fixed order.
    pub fn all(&self) -> [(RateKind, Rate); 7] {
        [
            (RateKind::Response, self.response),
            (RateKind::Resolution, self.resolution),
            (RateKind::Satisfaction, self.satisfaction),
            (RateKind::ClosedOnTime, self.closed_on_time),
            (RateKind::Rework, self.rework),
            (RateKind::Extension, self.extension),
            (RateKind::Whistle, self.whistle),
        ]
    }
}

/// Count, mean and 90th percentile of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DurationSummary {
    /// How many durations.
    pub count: u32,
    /// Their mean (to the millisecond), if any.
    pub mean: Option<TimeDelta>,
    /// Their 90th percentile by nearest rank, if any.
    pub p90: Option<TimeDelta>,
}

impl DurationSummary {
    fn of(mut durations: Vec<TimeDelta>) -> Self {
        if durations.is_empty() {
            return Self::default();
        }
        durations.sort();
        let count = durations.len();
        let total_milliseconds: i128 = durations
            .iter()
            .map(|duration| i128::from(duration.num_milliseconds()))
            .sum();
        let mean_milliseconds = total_milliseconds / count as i128;
        let nearest_rank = (count * 9).div_ceil(10).max(1);
        Self {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            mean: i64::try_from(mean_milliseconds)
                .ok()
                .map(TimeDelta::milliseconds),
            p90: durations.get(nearest_rank - 1).copied(),
        }
    }
}

/// A China-local calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct YearMonth {
    /// The year.
    pub year: i32,
    /// The month, 1–12.
    pub month: u32,
}

impl YearMonth {
    /// The month `instant` falls in, in China.
    pub fn of(instant: DateTime<Utc>) -> Self {
        let date = to_china_local(instant).date();
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The following month.
    pub fn next(self) -> Self {
        if self.month >= 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:04}-{:02}", self.year, self.month)
    }
}

/// Which way a rate moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Went up.
    Up,
    /// Went down.
    Down,
    /// Did not change.
    Flat,
}

/// A rate's change from the previous month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateChange {
    /// Which rate.
    pub kind: RateKind,
    /// The change in percentage points (this month minus the previous).
    pub points: f64,
    /// Which way.
    pub direction: Direction,
    /// Whether the move is for the better ([`RateKind::higher_is_better`]); `false` when flat.
    pub improved: bool,
}

/// The rates of the cases reported in one month, and their change from the month before.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyRates {
    /// The month.
    pub month: YearMonth,
    /// Cases reported in it (within the period).
    pub received: u32,
    /// Of them, disputes (dismissed ones included).
    pub disputes_received: u32,
    /// Of them, safety hazards (dismissed ones included).
    pub hazards_received: u32,
    /// Their rates.
    pub rates: Rates,
    /// Changes from the previous month, for rates defined in both; empty for the first month.
    pub changes: Vec<RateChange>,
}

/// The indicators of one group, as defined in the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicators {
    /// Cases reported in the period.
    pub received: u32,
    /// Of them, dismissed as not a matter for the service.
    pub dismissed: u32,
    /// The seven rates.
    pub rates: Rates,
    /// Work cases with a lapsed deadline.
    pub overdue: u32,
    /// Work cases in the 挂账 register at `as_of`.
    pub parked: u32,
    /// "Me too" reports linked to the cohort.
    pub me_too_reports: u32,
    /// Report to first acceptance.
    pub time_to_accept: DurationSummary,
    /// Report to the verified resolution.
    pub time_to_resolve: DurationSummary,
    /// Disputes with a passed verification.
    pub disputes_resolved: u32,
    /// Safety hazards with a passed verification.
    pub hazards_resolved: u32,
    /// Month by month, oldest first.
    pub monthly: Vec<MonthlyRates>,
    /// How long the parked cases have been in the register.
    pub parked_aging: ParkedAging,
    /// Meeting actions not done by their deadline (filled in by the API).
    pub overdue_meeting_actions: u32,
}

impl Indicators {
    /// The indicators of a group without cases in the cohort (e.g. a department that
    /// owns only overdue meeting actions).
    pub fn empty(period: &Period) -> Self {
        indicators_of(&[], &months_of(period))
    }
}

/// Cases in the register by time since they entered it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParkedAging {
    /// Less than 30 days.
    pub under_30_days: u32,
    /// 30 days to less than 90.
    pub from_30_to_90_days: u32,
    /// 90 days to less than 180.
    pub from_90_to_180_days: u32,
    /// 180 days or more.
    pub over_180_days: u32,
    /// The longest time any has been there.
    pub oldest: Option<TimeDelta>,
}

impl ParkedAging {
    fn of(ages: impl IntoIterator<Item = TimeDelta>) -> Self {
        let mut aging = ParkedAging::default();
        for age in ages {
            let bucket = match age.num_days() {
                ..30 => &mut aging.under_30_days,
                30..90 => &mut aging.from_30_to_90_days,
                90..180 => &mut aging.from_90_to_180_days,
                _ => &mut aging.over_180_days,
            };
            *bucket += 1;
            aging.oldest = Some(aging.oldest.map_or(age, |oldest| oldest.max(age)));
        }
        aging
    }
}

/// What one case's records say, as of the query's `as_of`.
#[derive(Debug, Clone, Default)]
struct CaseOutcome {
    reported_at: DateTime<Utc>,
    kind: Option<CaseKind>,
    dismissed: bool,
    triaged: bool,
    reached_whistle: bool,
    dispatched: bool,
    /// `Some(true)` responded on time, `Some(false)` late, `None` not decided yet.
    response_on_time: Option<bool>,
    first_accepted_at: Option<DateTime<Utc>>,
    resolved_once: bool,
    /// The resolution the first passed verification confirmed.
    verified_resolution_at: Option<DateTime<Utc>>,
    reworked: bool,
    extended: bool,
    latest_rating: Option<Rating>,
    closed: bool,
    acceptance_lapsed: bool,
    resolution_lapsed: bool,
    parked: bool,
    /// When it entered the register, while parked (a re-parking keeps the first).
    parked_since: Option<DateTime<Utc>>,
    /// Time in the register at `as_of`, if parked then.
    parked_for: Option<TimeDelta>,
    me_too_reports: u32,
}

impl CaseOutcome {
    fn verified(&self) -> bool {
        self.verified_resolution_at.is_some()
    }
}

/// Notes the deadlines that ran in `state` and had passed at `instant`.
fn check_lapses(
    state: CaseState,
    instant: DateTime<Utc>,
    acceptance_due: Option<DateTime<Utc>>,
    resolution_due: Option<DateTime<Utc>>,
    outcome: &mut CaseOutcome,
) {
    if state == CaseState::Dispatched && acceptance_due.is_some_and(|due| due < instant) {
        outcome.acceptance_lapsed = true;
        if outcome.first_accepted_at.is_none() {
            outcome.response_on_time = Some(false);
        }
    }
    if state.is_with_handler() && resolution_due.is_some_and(|due| due < instant) {
        outcome.resolution_lapsed = true;
    }
}

/// Replays one case's records (in sequence order, up to `as_of`).
fn outcome_of(records: &[&TransitionRecord], as_of: DateTime<Utc>) -> Option<CaseOutcome> {
    let first = records.first()?;
    let Action::Reported { kind, .. } = &first.action else {
        return None;
    };
    let mut outcome = CaseOutcome {
        reported_at: first.at,
        kind: Some(*kind),
        ..CaseOutcome::default()
    };
    let mut state = CaseState::Reported;
    let mut acceptance_due: Option<DateTime<Utc>> = None;
    let mut resolution_due: Option<DateTime<Utc>> = None;
    let mut last_resolved_at: Option<DateTime<Utc>> = None;

    for record in &records[1..] {
        check_lapses(
            state,
            record.at,
            acceptance_due,
            resolution_due,
            &mut outcome,
        );
        let mut mark_tier = |tier: Tier| {
            if tier == Tier::Whistle {
                outcome.reached_whistle = true;
            }
        };
        match &record.action {
            Action::Triaged { tier, .. } => {
                outcome.triaged = true;
                mark_tier(*tier);
            }
            Action::Reclassified { tier, .. } => {
                mark_tier(*tier);
                acceptance_due = None;
                resolution_due = None;
            }
            Action::Dispatched { tier, assignment } | Action::Reassigned { tier, assignment } => {
                mark_tier(*tier);
                outcome.dispatched = true;
                acceptance_due = Some(assignment.acceptance_due);
                resolution_due = Some(assignment.resolution_due);
            }
            Action::Escalated {
                to_tier,
                assignment,
                ..
            } => {
                mark_tier(*to_tier);
                outcome.dispatched = true;
                acceptance_due = Some(assignment.acceptance_due);
                resolution_due = Some(assignment.resolution_due);
            }
            Action::Rehomed {
                assignment: Some(assignment),
                ..
            } => {
                acceptance_due = Some(assignment.acceptance_due);
                resolution_due = Some(assignment.resolution_due);
            }
            Action::Accepted => {
                if outcome.first_accepted_at.is_none() {
                    outcome.first_accepted_at = Some(record.at);
                    outcome.response_on_time.get_or_insert(true);
                }
            }
            Action::Resolved => {
                outcome.resolved_once = true;
                last_resolved_at = Some(record.at);
            }
            Action::Verified => {
                if outcome.verified_resolution_at.is_none() {
                    outcome.verified_resolution_at = last_resolved_at;
                }
            }
            Action::Reworked {
                resolution_due: due,
                ..
            } => {
                outcome.reworked = true;
                resolution_due = Some(*due);
            }
            Action::Rated { rating } => outcome.latest_rating = Some(*rating),
            Action::Closed { closure } => {
                if *closure == Closure::Dismissed {
                    outcome.dismissed = true;
                } else {
                    outcome.closed = true;
                }
            }
            Action::ExtensionApproved {
                resolution_due: due,
            } => {
                outcome.extended = true;
                resolution_due = Some(*due);
            }
            Action::Parked { .. } => {
                outcome.parked_since.get_or_insert(record.at);
            }
            Action::Unparked {
                resolution_due: Some(due),
            } => resolution_due = Some(*due),
            Action::MarkedOverdue { deadline, .. } => match deadline {
                DeadlineKind::Acceptance => outcome.acceptance_lapsed = true,
                DeadlineKind::Resolution => outcome.resolution_lapsed = true,
            },
            Action::MeTooLinked => outcome.me_too_reports += 1,
            Action::Reported { .. }
            | Action::LocationOutsideBlocks
            | Action::DispatchRefused
            | Action::WorkStarted
            | Action::ExtensionRequested { .. }
            | Action::ExtensionDenied
            | Action::Unparked {
                resolution_due: None,
            }
            | Action::Rehomed {
                assignment: None, ..
            } => {}
        }
        state = record.to;
        if state != CaseState::Parked {
            outcome.parked_since = None;
        }
    }
    check_lapses(state, as_of, acceptance_due, resolution_due, &mut outcome);
    outcome.parked = state == CaseState::Parked;
    outcome.parked_for = outcome
        .parked_since
        .filter(|_| outcome.parked)
        .map(|since| as_of - since);
    Some(outcome)
}

/// The seven rates of a set of work cases.
fn rates_of<'outcome>(work: impl IntoIterator<Item = &'outcome CaseOutcome>) -> Rates {
    let mut rates = Rates::default();
    for case in work {
        rates.response.count(
            case.response_on_time.is_some(),
            case.response_on_time == Some(true),
        );
        rates.resolution.count(true, case.verified());
        rates.satisfaction.count(
            case.latest_rating.is_some(),
            case.latest_rating.is_some_and(Rating::counts_as_satisfied),
        );
        rates.closed_on_time.count(
            case.closed || case.resolution_lapsed,
            case.closed && !case.resolution_lapsed,
        );
        rates.rework.count(case.resolved_once, case.reworked);
        rates.extension.count(case.dispatched, case.extended);
        rates.whistle.count(case.triaged, case.reached_whistle);
    }
    rates
}

fn changes_between(previous: &Rates, current: &Rates) -> Vec<RateChange> {
    previous
        .all()
        .into_iter()
        .zip(current.all())
        .filter_map(|((kind, before), (_, after))| {
            let points = (after.percent()? - before.percent()?).clamp(-100.0, 100.0);
            let direction = if points.abs() < 1e-9 {
                Direction::Flat
            } else if points > 0.0 {
                Direction::Up
            } else {
                Direction::Down
            };
            let improved = match direction {
                Direction::Flat => false,
                Direction::Up => kind.higher_is_better(),
                Direction::Down => !kind.higher_is_better(),
            };
            Some(RateChange {
                kind,
                points,
                direction,
                improved,
            })
        })
        .collect()
}

/// The China-local months the period overlaps, oldest first.
fn months_of(period: &Period) -> Vec<YearMonth> {
    let last = YearMonth::of(period.end - TimeDelta::nanoseconds(1));
    let mut months = vec![YearMonth::of(period.start)];
    while let Some(&latest) = months.last()
        && latest < last
    {
        months.push(latest.next());
    }
    months
}

fn indicators_of(outcomes: &[CaseOutcome], months: &[YearMonth]) -> Indicators {
    let work: Vec<&CaseOutcome> = outcomes.iter().filter(|case| !case.dismissed).collect();
    let count = |condition: &dyn Fn(&CaseOutcome) -> bool| {
        let matching = work.iter().filter(|case| condition(case)).count();
        u32::try_from(matching).unwrap_or(u32::MAX)
    };
    let resolved_of_kind =
        |kind: CaseKind| count(&|case: &CaseOutcome| case.kind == Some(kind) && case.verified());

    let mut monthly = Vec::with_capacity(months.len());
    let mut previous: Option<Rates> = None;
    for month in months {
        let in_month: Vec<&CaseOutcome> = outcomes
            .iter()
            .filter(|case| YearMonth::of(case.reported_at) == *month)
            .collect();
        let rates = rates_of(in_month.iter().copied().filter(|case| !case.dismissed));
        let changes = previous
            .map(|previous_rates| changes_between(&previous_rates, &rates))
            .unwrap_or_default();
        let of_kind = |kind: CaseKind| {
            let matching = in_month
                .iter()
                .filter(|case| case.kind == Some(kind))
                .count();
            u32::try_from(matching).unwrap_or(u32::MAX)
        };
        monthly.push(MonthlyRates {
            month: *month,
            received: u32::try_from(in_month.len()).unwrap_or(u32::MAX),
            disputes_received: of_kind(CaseKind::Dispute),
            hazards_received: of_kind(CaseKind::SafetyHazard),
            rates,
            changes,
        });
        previous = Some(rates);
    }

    Indicators {
        received: u32::try_from(outcomes.len()).unwrap_or(u32::MAX),
        dismissed: u32::try_from(outcomes.len() - work.len()).unwrap_or(u32::MAX),
        rates: rates_of(work.iter().copied()),
        overdue: count(&|case: &CaseOutcome| case.acceptance_lapsed || case.resolution_lapsed),
        parked: count(&|case: &CaseOutcome| case.parked),
        me_too_reports: work.iter().map(|case| case.me_too_reports).sum(),
        time_to_accept: DurationSummary::of(
            work.iter()
                .filter_map(|case| Some(case.first_accepted_at? - case.reported_at))
                .collect(),
        ),
        time_to_resolve: DurationSummary::of(
            work.iter()
                .filter_map(|case| Some(case.verified_resolution_at? - case.reported_at))
                .collect(),
        ),
        disputes_resolved: resolved_of_kind(CaseKind::Dispute),
        hazards_resolved: resolved_of_kind(CaseKind::SafetyHazard),
        monthly,
        parked_aging: ParkedAging::of(work.iter().filter_map(|case| case.parked_for)),
        overdue_meeting_actions: 0,
    }
}

/// The indicators of every group for `query`, from `records` (any order, any mix of cases;
/// a repeated sequence number of a case is read once). `group_of` gives each case's key;
/// cases it maps to `None` are left out. Groups without a case in the cohort are absent.
pub fn compute_indicators<K, F>(
    records: &[TransitionRecord],
    query: &IndicatorQuery,
    mut group_of: F,
) -> BTreeMap<K, Indicators>
where
    K: Ord,
    F: FnMut(CaseId) -> Option<K>,
{
    let mut by_case: HashMap<CaseId, Vec<&TransitionRecord>> = HashMap::new();
    for record in records.iter().filter(|record| record.at <= query.as_of) {
        by_case.entry(record.case_id).or_default().push(record);
    }

    let mut by_group: BTreeMap<K, Vec<CaseOutcome>> = BTreeMap::new();
    for (case_id, mut case_records) in by_case {
        case_records.sort_by_key(|record| record.sequence);
        case_records.dedup_by_key(|record| record.sequence);
        let Some(outcome) = outcome_of(&case_records, query.as_of) else {
            continue;
        };
        if !query.period.contains(outcome.reported_at) {
            continue;
        }
        if let Some(key) = group_of(case_id) {
            by_group.entry(key).or_default().push(outcome);
        }
    }

    let months = months_of(&query.period);
    by_group
        .into_iter()
        .map(|(key, outcomes)| (key, indicators_of(&outcomes, &months)))
        .collect()
}

#[cfg(test)]
mod tests;
