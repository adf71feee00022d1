//! Time limits and what a passed deadline implies.
//!
//! Each tier has limits for acceptance, resolution and rework, as working durations on the
//! [`WorkingCalendar`]; a matter may override them (for every tier or for one). Deadlines
//! are computed when a case is given a handler (dispatch, escalation, reassignment,
//! re-homing) and stored with the case; the deadline worker asks [`next_deadline`] what to
//! wait for and [`assess`] what a passed deadline means: escalate front line → coordination
//! meeting → whistle, or, at the whistle, flag the case overdue (it stays at the whistle).
//! Pure functions only: the worker supplies the clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::domain::calendar::{
    CalendarError, Reckoning, WorkingCalendar, WorkingDuration, WorkingSpan,
};
use crate::domain::lifecycle::{Assignee, Assignment, Case, CaseState, DeadlineKind, Tier};
use crate::domain::values::{Matter, MatterCode};

/// The limits a handler works to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimits {
    /// From being given the case to accepting it.
    pub acceptance: WorkingDuration,
    /// From being given the case to resolving it.
    pub resolution: WorkingDuration,
    /// From a rework (failed verification, or the reopening after an unsatisfied rating)
    /// to resolving it again.
    pub rework: WorkingDuration,
}

/// Both deadlines of a new assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// When the handler must have accepted.
    pub acceptance_due: DateTime<Utc>,
    /// When they must have resolved; never before `acceptance_due`.
    pub resolution_due: DateTime<Utc>,
}

impl Deadlines {
    /// The assignment of `assignee` with these deadlines.
    pub fn assign_to(self, assignee: Assignee) -> Assignment {
        Assignment {
            assignee,
            acceptance_due: self.acceptance_due,
            resolution_due: self.resolution_due,
        }
    }
}

/// The time limits of every tier, with per-matter overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// The front line's limits.
    front_line: TimeLimits,
    /// The coordination meeting's limits.
    coordination_meeting: TimeLimits,
    /// The whistle's limits.
    whistle: TimeLimits,
    /// Overrides by matter, for one tier (`Some`) or every tier (`None`).
    overrides: BTreeMap<(MatterCode, Option<Tier>), TimeLimits>,
}

const fn hours(count: u32) -> WorkingDuration {
    WorkingDuration::from_trusted_span(WorkingSpan::Minutes(count * 60))
}

const fn days(count: u32) -> WorkingDuration {
    WorkingDuration::from_trusted_span(WorkingSpan::Days(count))
}

/// The default front-line limits (see [`SlaPolicy::default`]).
pub const DEFAULT_FRONT_LINE: TimeLimits = TimeLimits {
    acceptance: hours(2),
    resolution: days(3),
    rework: days(2),
};

/// The default coordination-meeting limits (see [`SlaPolicy::default`]).
pub const DEFAULT_COORDINATION_MEETING: TimeLimits = TimeLimits {
    acceptance: days(1),
    resolution: days(7),
    rework: days(3),
};

/// The default whistle limits (see [`SlaPolicy::default`]).
pub const DEFAULT_WHISTLE: TimeLimits = TimeLimits {
    acceptance: hours(4),
    resolution: days(10),
    rework: days(5),
};

impl Default for SlaPolicy {
    /// Defaults until the district sets its own (they are configuration, not law):
    ///
    /// | tier | accept | resolve | rework |
    /// |---|---|---|---|
    /// | front line | 2 working hours | 3 working days | 2 working days |
    /// | coordination meeting | 1 working day | 7 working days | 3 working days |
    /// | whistle | 4 working hours | 10 working days | 5 working days |
    ///
    /// Front-line acceptance is short because "one call, immediate response" is the
    /// promise; a meeting needs a day to convene; agencies summoned by the whistle must
    /// report in (报到) the same day.
    fn default() -> Self {
        Self::new(
            DEFAULT_FRONT_LINE,
            DEFAULT_COORDINATION_MEETING,
            DEFAULT_WHISTLE,
        )
    }
}

impl SlaPolicy {
    /// A policy with the given limits per tier and no overrides.
    pub fn new(
        front_line: TimeLimits,
        coordination_meeting: TimeLimits,
        whistle: TimeLimits,
    ) -> Self {
        Self {
            front_line,
            coordination_meeting,
            whistle,
            overrides: BTreeMap::new(),
        }
    }

    /// Overrides the limits of `matter`, at one `tier` or (with `None`) at every tier. A
    /// tier-specific override beats an every-tier one.
    pub fn with_override(
        mut self,
        matter: MatterCode,
        tier: Option<Tier>,
        limits: TimeLimits,
    ) -> Self {
        self.overrides.insert((matter, tier), limits);
        self
    }

    /// The limits that apply to `matter` at `tier`: the matter's override for that tier,
    /// else its override for every tier, else the tier's limits.
    pub fn limits(&self, matter: &Matter, tier: Tier) -> &TimeLimits {
        if let Some(code) = matter.code() {
            let specific = self.overrides.get(&(code.clone(), Some(tier)));
            let general = self.overrides.get(&(code.clone(), None));
            if let Some(limits) = specific.or(general) {
                return limits;
            }
        }
        match tier {
            Tier::FrontLine => &self.front_line,
            Tier::CoordinationMeeting => &self.coordination_meeting,
            Tier::Whistle => &self.whistle,
        }
    }

    /// The deadlines of an assignment given at `given_at`: both limits counted from that
    /// instant. If the limits are such that resolution would fall before acceptance (e.g.
    /// accept in 2 days, resolve in 4 hours), resolution is due when acceptance is.
    pub fn assignment_deadlines(
        &self,
        calendar: &WorkingCalendar,
        matter: &Matter,
        tier: Tier,
        given_at: DateTime<Utc>,
    ) -> Result<Reckoning<Deadlines>, CalendarError> {
        let limits = self.limits(matter, tier);
        let acceptance = calendar.add(given_at, limits.acceptance)?;
        let resolution = calendar.add(given_at, limits.resolution)?;
        let mut years_without_data = acceptance.years_without_data;
        years_without_data.extend(resolution.years_without_data);
        Ok(Reckoning {
            value: Deadlines {
                acceptance_due: acceptance.value,
                resolution_due: resolution.value.max(acceptance.value),
            },
            years_without_data,
        })
    }

    /// The resolution deadline of a rework starting at `reworked_at`.
    pub fn rework_deadline(
        &self,
        calendar: &WorkingCalendar,
        matter: &Matter,
        tier: Tier,
        reworked_at: DateTime<Utc>,
    ) -> Result<Reckoning<DateTime<Utc>>, CalendarError> {
        calendar.add(reworked_at, self.limits(matter, tier).rework)
    }
}

/// A deadline the worker should wake up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingDeadline {
    /// Which deadline.
    pub deadline: DeadlineKind,
    /// When it falls.
    pub due: DateTime<Utc>,
}

/// The deadlines that run in the case's state and have not fired yet (fired = escalated,
/// which replaces them, or marked overdue). Acceptance runs while dispatched; resolution
/// while dispatched, accepted or in progress. A parked, resolved or later case has none.
fn running_deadlines(case: &Case) -> Vec<PendingDeadline> {
    let Some(assignment) = case.assignment() else {
        return Vec::new();
    };
    let mut running = Vec::with_capacity(2);
    if case.state() == CaseState::Dispatched && !case.is_marked_overdue(DeadlineKind::Acceptance) {
        running.push(PendingDeadline {
            deadline: DeadlineKind::Acceptance,
            due: assignment.acceptance_due,
        });
    }
    if case.state().is_with_handler() && !case.is_marked_overdue(DeadlineKind::Resolution) {
        running.push(PendingDeadline {
            deadline: DeadlineKind::Resolution,
            due: assignment.resolution_due,
        });
    }
    running
}

/// The earliest deadline of `case` still to fire, for the worker's schedule (the store
/// keeps it in an indexed column). `None` when no clock runs.
pub fn next_deadline(case: &Case) -> Option<PendingDeadline> {
    running_deadlines(case)
        .into_iter()
        .min_by_key(|pending| (pending.due, pending.deadline))
}

/// What a passed deadline implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverdueConsequence {
    /// Escalate to the next tier (front line → coordination meeting → whistle), with
    /// [`crate::domain::lifecycle::EscalationTrigger::Overdue`].
    Escalate {
        /// The tier to escalate to.
        to: Tier,
    },
    /// The case is at the whistle already: it stays there and is flagged overdue, with
    /// [`crate::domain::lifecycle::Command::MarkOverdue`].
    FlagAtHighestTier,
}

/// A deadline that has passed and has not fired yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverdueFinding {
    /// Which deadline.
    pub deadline: DeadlineKind,
    /// When it was due.
    pub due: DateTime<Utc>,
    /// What to do about it.
    pub consequence: OverdueConsequence,
}

/// Whether a deadline of `case` has passed at `now` without having fired, and what that
/// implies. The earliest passed deadline is reported (acceptance before resolution); after
/// the worker acts on it (escalation gives fresh deadlines, a flag fires it), asking again
/// reports the next one, if any. A deadline exactly at `now` has not passed.
pub fn assess(case: &Case, now: DateTime<Utc>) -> Option<OverdueFinding> {
    let tier = case.tier()?;
    let passed = running_deadlines(case)
        .into_iter()
        .filter(|pending| pending.due < now)
        .min_by_key(|pending| (pending.due, pending.deadline))?;
    let consequence = match tier.next() {
        Some(to) => OverdueConsequence::Escalate { to },
        None => OverdueConsequence::FlagAtHighestTier,
    };
    Some(OverdueFinding {
        deadline: passed.deadline,
        due: passed.due,
        consequence,
    })
}

/// When the 挂账 register's review of a parked case falls due: the start of its review
/// date, China time. `None` unless the case is parked. The deadline worker returns the
/// case to where it was parked from at that instant (no clock runs while parked: this
/// is the register's date, not a time limit, so it is not the case's `next_deadline`).
pub fn review_due(case: &Case) -> Option<DateTime<Utc>> {
    if case.state() != CaseState::Parked {
        return None;
    }
    let review_on = case.parking()?.review_on;
    Some(crate::domain::calendar::from_china_local(
        review_on.and_time(chrono::NaiveTime::MIN),
    ))
}

/// Whether any deadline that runs in the case's state has passed at `now`, fired or not
/// (the "overdue" filter of a case list).
pub fn is_overdue(case: &Case, now: DateTime<Utc>) -> bool {
    let Some(assignment) = case.assignment() else {
        return false;
    };
    let acceptance_passed =
        case.state() == CaseState::Dispatched && assignment.acceptance_due < now;
    let resolution_passed = case.state().is_with_handler() && assignment.resolution_due < now;
    acceptance_passed || resolution_passed
}

#[cfg(test)]
mod tests;
