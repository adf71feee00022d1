//! On-duty units: duty rosters (值班表) and which unit a summons goes to.
//!
//! A unit stationed in a subdistrict keeps a roster of shifts, each a span
//! of time `[starts_at, ends_at)` and the officers on duty in it. Shifts are
//! instants, not wall-clock times: a night shift from 20:00 to 08:00 China
//! Standard Time is one shift that crosses midnight, and duty runs on every
//! day alike (no working-day calendar: the police and the enforcement
//! squads keep duty on rest days and holidays too). A unit marked
//! `on_duty` is on duty at every moment (a station staffed around the
//! clock); any other unit is on duty while a shift of its roster runs.
//!
//! When a whistle summons an agency, the summons goes to the on-duty unit
//! the agency stations in the operation's subdistrict. When it has none
//! there (none stationed, or none on duty), the summons goes to the
//! agency's district duty desk (总值班室) and the gap is flagged on the
//! summons at once, so the subdistrict and the indicators see it when it
//! happens, not when the report is missing.

use chrono::{DateTime, TimeDelta, Utc};
use flatgov_calendar::to_china_local;
use uuid::Uuid;

use super::codes::InvalidValue;

/// The longest shift: a 24-hour duty (24小时值班) with its hand-over.
pub const MAX_SHIFT: TimeDelta = TimeDelta::hours(48);

/// How far ahead a roster may be drawn up.
pub const ROSTER_HORIZON: TimeDelta = TimeDelta::days(366);

/// At most this many officers on one shift.
pub const MAX_OFFICERS_PER_SHIFT: usize = 50;

/// A shift's span, checked: it ends after it starts, lasts at most
/// [`MAX_SHIFT`], has not already ended at `now` (a roster is drawn up for
/// duty to come; what was on duty in the past is not rewritten), and starts
/// within [`ROSTER_HORIZON`].
pub fn shift_span(
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ShiftSpanError> {
    let starts_at = starts_at.ok_or(ShiftSpanError::Start(InvalidValue::Empty {
        what: "shift start",
    }))?;
    let ends_at = ends_at.ok_or(ShiftSpanError::End(InvalidValue::Empty {
        what: "shift end",
    }))?;
    if starts_at > now + ROSTER_HORIZON {
        return Err(ShiftSpanError::Start(InvalidValue::Malformed {
            what: "shift start",
            value: starts_at.to_rfc3339(),
            expected: "a time within a year",
        }));
    }
    if ends_at <= starts_at {
        return Err(ShiftSpanError::End(InvalidValue::Malformed {
            what: "shift end",
            value: ends_at.to_rfc3339(),
            expected: "a time after the shift's start",
        }));
    }
    if ends_at - starts_at > MAX_SHIFT {
        return Err(ShiftSpanError::End(InvalidValue::Malformed {
            what: "shift end",
            value: ends_at.to_rfc3339(),
            expected: "at most 48 hours after the shift's start",
        }));
    }
    if ends_at <= now {
        return Err(ShiftSpanError::End(InvalidValue::Malformed {
            what: "shift end",
            value: ends_at.to_rfc3339(),
            expected: "a time in the future (past duty is not rewritten)",
        }));
    }
    Ok((starts_at, ends_at))
}

/// A shift's span, shown in China Standard Time (the roster's people read
/// local time; the API carries instants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftSpan {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl ShiftSpan {
    /// `12月7日 20:00 至 12月8日 08:00（北京时间）`.
    pub fn label_zh(&self) -> String {
        let start = to_china_local(self.starts_at);
        let end = to_china_local(self.ends_at);
        format!(
            "{} 至 {}（北京时间）",
            start.format("%-m月%-d日 %H:%M"),
            end.format("%-m月%-d日 %H:%M")
        )
    }

    /// `7 Dec 20:00 to 8 Dec 08:00 (China Standard Time)`.
    pub fn label_en(&self) -> String {
        let start = to_china_local(self.starts_at);
        let end = to_china_local(self.ends_at);
        format!(
            "{} to {} (China Standard Time)",
            start.format("%-d %b %H:%M"),
            end.format("%-d %b %H:%M")
        )
    }
}

/// Which end of a shift is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShiftSpanError {
    #[error("{0}")]
    Start(InvalidValue),
    #[error("{0}")]
    End(InvalidValue),
}

impl ShiftSpanError {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            ShiftSpanError::Start(_) => "start_time",
            ShiftSpanError::End(_) => "end_time",
        }
    }
}

/// Why a summons did not reach an on-duty unit stationed in the
/// subdistrict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DutyGap {
    /// The agency stations units there, but none was on duty.
    NoneOnDuty,
    /// The agency stations no active unit there.
    NotStationed,
}

impl DutyGap {
    pub fn as_str(self) -> &'static str {
        match self {
            DutyGap::NoneOnDuty => "none_on_duty",
            DutyGap::NotStationed => "not_stationed",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [DutyGap::NoneOnDuty, DutyGap::NotStationed]
            .into_iter()
            .find(|gap| gap.as_str() == code)
    }
}

/// An active unit of a summoned agency that could take the summons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub unit: Uuid,
    /// Stationed in the operation's subdistrict.
    pub stationed_here: bool,
    /// On duty at the moment of the summons.
    pub on_duty: bool,
    /// The agency's district duty desk.
    pub duty_desk: bool,
}

/// Where one summons goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Assignment {
    /// The unit summoned; `None` when the agency has neither an on-duty
    /// unit there nor a duty desk (the agency as a whole is summoned).
    pub unit: Option<Uuid>,
    /// Why it is not an on-duty unit stationed there, if it is not.
    pub gap: Option<DutyGap>,
}

impl Assignment {
    /// The summons of one agency, from its active units (in a stable
    /// order): the first stationed unit on duty; else its duty desk, with
    /// the gap flagged; else no unit, with the gap flagged.
    pub fn choose(candidates: &[Candidate]) -> Self {
        if let Some(on_duty) = candidates
            .iter()
            .find(|candidate| candidate.stationed_here && candidate.on_duty)
        {
            return Self {
                unit: Some(on_duty.unit),
                gap: None,
            };
        }
        let gap = if candidates.iter().any(|candidate| candidate.stationed_here) {
            DutyGap::NoneOnDuty
        } else {
            DutyGap::NotStationed
        };
        Self {
            unit: candidates
                .iter()
                .find(|candidate| candidate.duty_desk)
                .map(|desk| desk.unit),
            gap: Some(gap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("instant") + TimeDelta::hours(hour)
    }

    fn candidate(stationed_here: bool, on_duty: bool, duty_desk: bool) -> Candidate {
        Candidate {
            unit: Uuid::now_v7(),
            stationed_here,
            on_duty,
            duty_desk,
        }
    }

    #[test]
    fn the_on_duty_unit_stationed_in_the_subdistrict_takes_the_summons() {
        let off = candidate(true, false, false);
        let on = candidate(true, true, false);
        let desk = candidate(false, true, true);
        let chosen = Assignment::choose(&[off, on.clone(), desk]);
        assert_eq!(
            chosen,
            Assignment {
                unit: Some(on.unit),
                gap: None
            }
        );
    }

    #[test]
    fn with_no_unit_on_duty_there_the_duty_desk_is_summoned_and_the_gap_flagged() {
        let off = candidate(true, false, false);
        let desk = candidate(false, true, true);
        let chosen = Assignment::choose(&[off, desk.clone()]);
        assert_eq!(chosen.unit, Some(desk.unit));
        assert_eq!(chosen.gap, Some(DutyGap::NoneOnDuty));

        // A unit on duty in another subdistrict does not count.
        let elsewhere = candidate(false, true, false);
        let chosen = Assignment::choose(&[elsewhere, desk.clone()]);
        assert_eq!(chosen.unit, Some(desk.unit));
        assert_eq!(chosen.gap, Some(DutyGap::NotStationed));
    }

    #[test]
    fn without_a_duty_desk_the_gap_is_flagged_and_no_unit_is_named() {
        let chosen = Assignment::choose(&[candidate(true, false, false)]);
        assert_eq!(chosen.unit, None);
        assert_eq!(chosen.gap, Some(DutyGap::NoneOnDuty));
        assert_eq!(
            Assignment::choose(&[]).gap,
            Some(DutyGap::NotStationed),
            "an agency with no unit at all"
        );
    }

    #[test]
    fn a_night_shift_reads_in_china_standard_time_across_midnight() {
        let span = ShiftSpan {
            // 2026-12-07 20:00 and 2026-12-08 08:00 in Beijing.
            starts_at: "2026-12-07T12:00:00Z".parse().unwrap(),
            ends_at: "2026-12-08T00:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            span.label_zh(),
            "12月7日 20:00 至 12月8日 08:00（北京时间）"
        );
        assert_eq!(
            span.label_en(),
            "7 Dec 20:00 to 8 Dec 08:00 (China Standard Time)"
        );
    }

    #[test]
    fn a_shift_may_cross_midnight_but_not_last_beyond_two_days_or_end_in_the_past() {
        let now = at(0);
        // 20:00 to 08:00 the next day.
        assert!(shift_span(Some(at(1)), Some(at(13)), now).is_ok());
        // A shift already running is still rostered.
        assert!(shift_span(Some(at(-2)), Some(at(6)), now).is_ok());
        let ended = shift_span(Some(at(-10)), Some(at(-1)), now).unwrap_err();
        assert_eq!(ended.field(), "end_time");
        let backwards = shift_span(Some(at(5)), Some(at(4)), now).unwrap_err();
        assert_eq!(backwards.field(), "end_time");
        let too_long = shift_span(Some(at(1)), Some(at(50)), now).unwrap_err();
        assert!(too_long.to_string().contains("48 hours"), "{too_long}");
        let far = shift_span(Some(at(24 * 400)), Some(at(24 * 400 + 8)), now).unwrap_err();
        assert_eq!(far.field(), "start_time");
        let missing = shift_span(None, Some(at(4)), now).unwrap_err();
        assert_eq!(missing.field(), "start_time");
    }
}
