//! The working-day calendar that time limits are counted on: the cases service's time
//! limits and the notices service's return visits (回访) count on the same days.
//!
//! A deadline such as "resolve within 5 working days" or "accept within 2 working hours"
//! only counts the time offices are open: Monday to Friday within [`WorkingHours`], minus
//! the public holidays, plus the swapped working days (调休: a Saturday or Sunday worked so
//! that a break can be longer). The State Council publishes those days every year, so they
//! are data, not code: one [`YearCalendar`] per year, parsed from a CSV file
//! (`crates/calendar/data/<year>.csv`; format in [`YearCalendar::parse`]). The
//! files for 2025 and 2026 are compiled in ([`WorkingCalendar::bundled`]); a deployment can
//! load corrected or newer files with [`WorkingCalendar::new`].
//!
//! # Time zone
//!
//! Instants are [`DateTime<Utc>`] everywhere (that is what the database stores); the
//! calendar reads them in China Standard Time, UTC+8 ([`china_standard_time`]). China has
//! had no daylight saving time since 1991, so a fixed offset is exact and avoids shipping a
//! time-zone database.
//!
//! # A year without data
//!
//! Deadlines near the end of a year run into the next one, which may not be loaded yet (the
//! notice usually appears in November). Refusing to compute would leave a case with no
//! deadline at all, which is worse than a slightly wrong one; so a day in a year without
//! data follows the ordinary week (Monday–Friday work), and every result says which years
//! it had to assume this for ([`Reckoning::years_without_data`]). The cases store keeps that flag
//! with the deadline and recomputes such deadlines when the year's file is loaded.
//!
//! # Counting rules
//!
//! - **Working time** ([`WorkingDuration::minutes`], [`WorkingDuration::hours`]): the clock
//!   runs only inside working periods on working days. A start outside them waits for the
//!   next period to open. The deadline is the instant the last working minute is used up;
//!   if that is the very end of a period the deadline is that end (12:00, not 14:30).
//! - **Working days** ([`WorkingDuration::days`]): the day the clock starts does not count
//!   (as in article 201 of the Civil Code: 开始的当日不计入); day 1 is the first working day
//!   after the start's local date, and the deadline is the close of business (end of the
//!   last working period) of the Nth working day. A case reported on Monday with one
//!   working day is due Tuesday at 17:30; one reported on Saturday is due Monday at 17:30.
//! - **Elapsed working time** ([`WorkingCalendar::working_time_between`]): the sum of the
//!   parts of the interval that lie inside working periods on working days.

mod year;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc,
};
use serde::{Deserialize, Serialize};

pub use year::{CalendarEntry, CalendarParseError, CalendarProblem, DayKind, YearCalendar};

/// China Standard Time's offset from UTC, in seconds.
pub const CHINA_STANDARD_TIME_OFFSET_SECONDS: i32 = 8 * 3600;

/// China Standard Time (Asia/Shanghai), UTC+8 all year.
pub fn china_standard_time() -> FixedOffset {
    const OFFSET: FixedOffset = match FixedOffset::east_opt(CHINA_STANDARD_TIME_OFFSET_SECONDS) {
        Some(offset) => offset,
        None => panic!("UTC+8 is a valid offset"),
    };
    OFFSET
}

/// The local date and time of an instant in China Standard Time.
pub fn to_china_local(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.with_timezone(&china_standard_time()).naive_local()
}

/// The instant of a local date and time in China Standard Time.
pub fn from_china_local(local: NaiveDateTime) -> DateTime<Utc> {
    (local - TimeDelta::seconds(i64::from(CHINA_STANDARD_TIME_OFFSET_SECONDS))).and_utc()
}

/// The calendar files shipped with the service, by year. Check them against the official
/// notice; see the header of each file.
pub const BUNDLED_CALENDAR_FILES: &[(i32, &str)] = &[
    (2025, include_str!("../data/2025.csv")),
    (2026, include_str!("../data/2026.csv")),
];

/// How far ahead a computation looks for working time before giving up: ten years. Only a
/// calendar that marks ten years of days as holidays can reach it.
const MAX_SEARCH_DAYS: u32 = 3660;

/// A calendar computation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Two schedules were given for the same year.
    #[error("the calendar for {year} is given twice")]
    DuplicateYear {
        /// The repeated year.
        year: i32,
    },
    /// An interval was asked for whose end is before its start.
    #[error("the interval ends at {end} before it starts at {start}")]
    EndBeforeStart {
        /// The interval's start.
        start: DateTime<Utc>,
        /// The interval's end.
        end: DateTime<Utc>,
    },
    /// No working time was found within ten years of the start: the loaded schedules mark
    /// every day as a holiday.
    #[error("no working time within {days} days after {from}: check the holiday schedules")]
    NoWorkingTime {
        /// The local date the search started from.
        from: NaiveDate,
        /// How many days were searched.
        days: u32,
    },
}

/// The working hours were not a usable set of periods.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWorkingHours {
    /// No period was given: no time would ever count.
    #[error("working hours need at least one period")]
    NoPeriods,
    /// A period does not end after it starts.
    #[error("the working period {start}–{end} does not end after it starts")]
    EmptyPeriod {
        /// The period's start.
        start: NaiveTime,
        /// The period's end.
        end: NaiveTime,
    },
    /// Two periods overlap.
    #[error("the working periods {first} and {second} overlap")]
    Overlapping {
        /// The earlier period.
        first: WorkPeriod,
        /// The later period, which starts before the earlier ends.
        second: WorkPeriod,
    },
    /// The text form could not be read.
    #[error("working hours `{text}` are malformed: expected e.g. `08:30-12:00,14:30-17:30`")]
    Malformed {
        /// The text given.
        text: String,
    },
}

/// One stretch of the working day in local time, e.g. 08:30–12:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WorkPeriod {
    /// When the period opens (inclusive).
    pub start: NaiveTime,
    /// When it closes (exclusive); later than `start`, on the same day.
    pub end: NaiveTime,
}

impl WorkPeriod {
    /// How long the period lasts.
    pub fn length(&self) -> TimeDelta {
        self.end - self.start
    }
}

impl fmt::Display for WorkPeriod {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// The periods of a working day in local time, sorted and not overlapping.
///
/// The default is 08:30–12:00 and 14:30–17:30 (6.5 hours): the summer office hours common
/// in Hunan's government service centres. A district that keeps other hours configures
/// them; the value is read once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    /// The periods, sorted by start, pairwise disjoint.
    periods: Vec<WorkPeriod>,
}

impl Default for WorkingHours {
    fn default() -> Self {
        let time =
            |hour, minute| NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN);
        Self {
            periods: vec![
                WorkPeriod {
                    start: time(8, 30),
                    end: time(12, 0),
                },
                WorkPeriod {
                    start: time(14, 30),
                    end: time(17, 30),
                },
            ],
        }
    }
}

impl WorkingHours {
    /// Working hours from `(start, end)` pairs in local time, in any order. Periods may
    /// touch (12:00–12:00) but not overlap.
    pub fn new(
        periods: impl IntoIterator<Item = (NaiveTime, NaiveTime)>,
    ) -> Result<Self, InvalidWorkingHours> {
        let mut sorted = Vec::new();
        for (start, end) in periods {
            if end <= start {
                return Err(InvalidWorkingHours::EmptyPeriod { start, end });
            }
            sorted.push(WorkPeriod { start, end });
        }
        if sorted.is_empty() {
            return Err(InvalidWorkingHours::NoPeriods);
        }
        sorted.sort();
        for pair in sorted.windows(2) {
            if let [first, second] = pair
                && second.start < first.end
            {
                return Err(InvalidWorkingHours::Overlapping {
                    first: *first,
                    second: *second,
                });
            }
        }
        Ok(Self { periods: sorted })
    }

    /// Parses the configuration form `HH:MM-HH:MM[,HH:MM-HH:MM…]`, e.g.
    /// `08:30-12:00,14:30-17:30`.
    pub fn parse(text: &str) -> Result<Self, InvalidWorkingHours> {
        let malformed = || InvalidWorkingHours::Malformed {
            text: text.to_owned(),
        };
        let mut periods = Vec::new();
        for period in text.split(',') {
            let (start, end) = period.trim().split_once('-').ok_or_else(malformed)?;
            let start =
                NaiveTime::parse_from_str(start.trim(), "%H:%M").map_err(|_| malformed())?;
            let end = NaiveTime::parse_from_str(end.trim(), "%H:%M").map_err(|_| malformed())?;
            periods.push((start, end));
        }
        Self::new(periods)
    }

    /// The periods, in order.
    pub fn periods(&self) -> &[WorkPeriod] {
        &self.periods
    }

    /// Working time in one full working day.
    pub fn per_day(&self) -> TimeDelta {
        self.periods.iter().map(WorkPeriod::length).sum()
    }

    /// Close of business: the end of the last period, when a day-counted deadline falls.
    pub fn close_of_business(&self) -> NaiveTime {
        self.periods
            .last()
            .map(|period| period.end)
            .unwrap_or(NaiveTime::MIN)
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, period) in self.periods.iter().enumerate() {
            if index > 0 {
                formatter.write_str(",")?;
            }
            write!(formatter, "{period}")?;
        }
        Ok(())
    }
}

/// A working duration was out of range or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWorkingDuration {
    /// A time limit of zero is no time limit.
    #[error("a working duration must be longer than zero")]
    Zero,
    /// Longer than any time limit this service means to keep.
    #[error("{found} is longer than the longest working duration, {max}")]
    TooLong {
        /// The duration asked for, in its text form.
        found: String,
        /// The longest accepted, in its text form.
        max: &'static str,
    },
    /// The text form could not be read.
    #[error(
        "working duration `{text}` is malformed: expected a whole number followed by `m`, `h` or `d`, e.g. `30m`, `4h`, `5d`"
    )]
    Malformed {
        /// The text given.
        text: String,
    },
}

/// A working duration, seen from outside: either working time in minutes or a number of
/// working days. See the module documentation for how each is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkingSpan {
    /// Working minutes (1…120,000).
    Minutes(u32),
    /// Working days (1…365).
    Days(u32),
}

/// A time limit counted on the working calendar: N working minutes/hours or N working
/// days. Text form `30m`, `4h`, `5d` (for configuration and overrides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkingDuration(WorkingSpan);

impl WorkingDuration {
    /// The longest duration in working minutes: 2,000 working hours.
    pub const MAX_MINUTES: u32 = 2000 * 60;
    /// The longest duration in working days.
    pub const MAX_DAYS: u32 = 365;

    /// `minutes` working minutes.
    pub fn minutes(minutes: u32) -> Result<Self, InvalidWorkingDuration> {
        if minutes == 0 {
            return Err(InvalidWorkingDuration::Zero);
        }
        if minutes > Self::MAX_MINUTES {
            return Err(InvalidWorkingDuration::TooLong {
                found: format!("{minutes}m"),
                max: "2000h",
            });
        }
        Ok(Self(WorkingSpan::Minutes(minutes)))
    }

    /// `hours` working hours.
    pub fn hours(hours: u32) -> Result<Self, InvalidWorkingDuration> {
        let minutes = hours
            .checked_mul(60)
            .ok_or_else(|| InvalidWorkingDuration::TooLong {
                found: format!("{hours}h"),
                max: "2000h",
            })?;
        Self::minutes(minutes)
    }

    /// `days` working days.
    pub fn days(days: u32) -> Result<Self, InvalidWorkingDuration> {
        if days == 0 {
            return Err(InvalidWorkingDuration::Zero);
        }
        if days > Self::MAX_DAYS {
            return Err(InvalidWorkingDuration::TooLong {
                found: format!("{days}d"),
                max: "365d",
            });
        }
        Ok(Self(WorkingSpan::Days(days)))
    }

    /// Parses `<n>m`, `<n>h` or `<n>d`.
    pub fn parse(text: &str) -> Result<Self, InvalidWorkingDuration> {
        let malformed = || InvalidWorkingDuration::Malformed {
            text: text.to_owned(),
        };
        let trimmed = text.trim();
        let unit_at = trimmed.len().checked_sub(1).ok_or_else(malformed)?;
        let (number, unit) = trimmed.split_at(unit_at);
        if number.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(malformed());
        }
        let count: u32 = number.parse().map_err(|_| malformed())?;
        match unit {
            "m" => Self::minutes(count),
            "h" => Self::hours(count),
            "d" => Self::days(count),
            _ => Err(malformed()),
        }
    }

    /// What the duration is, for callers that need to tell minutes from days.
    pub fn span(&self) -> WorkingSpan {
        self.0
    }

    /// A duration from literals known to be in range (a service's defaults), usable in
    /// constants. The caller's unit tests check every such literal against the public
    /// constructors.
    pub const fn from_trusted_span(span: WorkingSpan) -> Self {
        Self(span)
    }
}

impl fmt::Display for WorkingDuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            WorkingSpan::Minutes(minutes) if minutes.is_multiple_of(60) => {
                write!(formatter, "{}h", minutes / 60)
            }
            WorkingSpan::Minutes(minutes) => write!(formatter, "{minutes}m"),
            WorkingSpan::Days(days) => write!(formatter, "{days}d"),
        }
    }
}

impl TryFrom<String> for WorkingDuration {
    type Error = InvalidWorkingDuration;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<WorkingDuration> for String {
    fn from(duration: WorkingDuration) -> String {
        duration.to_string()
    }
}

/// A result computed on the calendar, with the years it had no schedule for. When that set
/// is not empty the result assumed the ordinary week for those years and is provisional:
/// recompute it once their files are loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reckoning<T> {
    /// The computed value.
    pub value: T,
    /// Years the computation touched that have no schedule loaded.
    pub years_without_data: BTreeSet<i32>,
}

impl<T> Reckoning<T> {
    /// Whether the result assumed the ordinary week for a year without a schedule.
    pub fn is_provisional(&self) -> bool {
        !self.years_without_data.is_empty()
    }

    /// Transforms the value, keeping the provenance.
    pub fn map<U>(self, transform: impl FnOnce(T) -> U) -> Reckoning<U> {
        Reckoning {
            value: transform(self.value),
            years_without_data: self.years_without_data,
        }
    }
}

/// The working calendar: working hours plus the holiday schedules of the loaded years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    /// When offices are open on a working day.
    hours: WorkingHours,
    /// The official schedules, by year.
    years: BTreeMap<i32, YearCalendar>,
}

/// Collects which years without a schedule a computation looked at.
struct DayLookup<'calendar> {
    calendar: &'calendar WorkingCalendar,
    years_without_data: BTreeSet<i32>,
}

impl DayLookup<'_> {
    fn is_working_day(&mut self, date: NaiveDate) -> bool {
        match self.calendar.years.get(&date.year()) {
            Some(schedule) => schedule.is_working_day(date),
            None => {
                self.years_without_data.insert(date.year());
                !year::is_weekend(date.weekday())
            }
        }
    }

    fn finish<T>(self, value: T) -> Reckoning<T> {
        Reckoning {
            value,
            years_without_data: self.years_without_data,
        }
    }
}

impl WorkingCalendar {
    /// A calendar with the given working hours and yearly schedules.
    pub fn new(
        hours: WorkingHours,
        years: impl IntoIterator<Item = YearCalendar>,
    ) -> Result<Self, CalendarError> {
        let mut by_year = BTreeMap::new();
        for schedule in years {
            let year = schedule.year();
            if by_year.insert(year, schedule).is_some() {
                return Err(CalendarError::DuplicateYear { year });
            }
        }
        Ok(Self {
            hours,
            years: by_year,
        })
    }

    /// A calendar with the given working hours and the schedules compiled into the service
    /// ([`BUNDLED_CALENDAR_FILES`]).
    pub fn bundled(hours: WorkingHours) -> Result<Self, CalendarParseError> {
        let mut years = BTreeMap::new();
        for (year, text) in BUNDLED_CALENDAR_FILES {
            years.insert(*year, YearCalendar::parse(*year, text)?);
        }
        Ok(Self { hours, years })
    }

    /// The working hours.
    pub fn hours(&self) -> &WorkingHours {
        &self.hours
    }

    /// The years that have a schedule loaded, in order.
    pub fn loaded_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// The schedule of `year`, if loaded.
    pub fn schedule(&self, year: i32) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    fn lookup(&self) -> DayLookup<'_> {
        DayLookup {
            calendar: self,
            years_without_data: BTreeSet::new(),
        }
    }

    /// Whether offices work on the local date `date`.
    pub fn is_working_day(&self, date: NaiveDate) -> Reckoning<bool> {
        let mut lookup = self.lookup();
        let working = lookup.is_working_day(date);
        lookup.finish(working)
    }

    /// Whether `instant` lies inside working time (a working period of a working day).
    pub fn is_working_time(&self, instant: DateTime<Utc>) -> Reckoning<bool> {
        let local = to_china_local(instant);
        let mut lookup = self.lookup();
        let working = lookup.is_working_day(local.date())
            && self
                .hours
                .periods
                .iter()
                .any(|period| period.start <= local.time() && local.time() < period.end);
        lookup.finish(working)
    }

    /// The deadline `duration` after `start`, counted as the module documentation says.
    pub fn add(
        &self,
        start: DateTime<Utc>,
        duration: WorkingDuration,
    ) -> Result<Reckoning<DateTime<Utc>>, CalendarError> {
        match duration.span() {
            WorkingSpan::Minutes(minutes) => {
                self.add_working_time(start, TimeDelta::minutes(i64::from(minutes)))
            }
            WorkingSpan::Days(days) => self.add_working_days(start, days),
        }
    }

    fn add_working_time(
        &self,
        start: DateTime<Utc>,
        budget: TimeDelta,
    ) -> Result<Reckoning<DateTime<Utc>>, CalendarError> {
        let start_local = to_china_local(start);
        let mut lookup = self.lookup();
        let mut remaining = budget;
        let mut date = start_local.date();
        for _ in 0..MAX_SEARCH_DAYS {
            if lookup.is_working_day(date) {
                for period in &self.hours.periods {
                    let period_start = date.and_time(period.start);
                    let period_end = date.and_time(period.end);
                    let counting_from = period_start.max(start_local);
                    if counting_from >= period_end {
                        continue;
                    }
                    let available = period_end - counting_from;
                    if remaining <= available {
                        return Ok(lookup.finish(from_china_local(counting_from + remaining)));
                    }
                    remaining -= available;
                }
            }
            date = next_day(date, start_local.date())?;
        }
        Err(no_working_time(start_local.date()))
    }

    fn add_working_days(
        &self,
        start: DateTime<Utc>,
        days: u32,
    ) -> Result<Reckoning<DateTime<Utc>>, CalendarError> {
        let start_date = to_china_local(start).date();
        let mut lookup = self.lookup();
        let mut counted = 0;
        let mut date = start_date;
        for _ in 0..MAX_SEARCH_DAYS {
            date = next_day(date, start_date)?;
            if lookup.is_working_day(date) {
                counted += 1;
                if counted == days {
                    let close = date.and_time(self.hours.close_of_business());
                    return Ok(lookup.finish(from_china_local(close)));
                }
            }
        }
        Err(no_working_time(start_date))
    }

    /// The working time between two instants: how much of `[start, end)` lies inside
    /// working periods on working days.
    pub fn working_time_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Reckoning<TimeDelta>, CalendarError> {
        if end < start {
            return Err(CalendarError::EndBeforeStart { start, end });
        }
        let start_local = to_china_local(start);
        let end_local = to_china_local(end);
        let mut lookup = self.lookup();
        let mut total = TimeDelta::zero();
        let mut date = start_local.date();
        while date <= end_local.date() {
            if lookup.is_working_day(date) {
                for period in &self.hours.periods {
                    let overlap_start = date.and_time(period.start).max(start_local);
                    let overlap_end = date.and_time(period.end).min(end_local);
                    if overlap_end > overlap_start {
                        total += overlap_end - overlap_start;
                    }
                }
            }
            date = next_day(date, start_local.date())?;
        }
        Ok(lookup.finish(total))
    }
}

fn next_day(date: NaiveDate, search_start: NaiveDate) -> Result<NaiveDate, CalendarError> {
    date.succ_opt().ok_or_else(|| no_working_time(search_start))
}

fn no_working_time(from: NaiveDate) -> CalendarError {
    CalendarError::NoWorkingTime {
        from,
        days: MAX_SEARCH_DAYS,
    }
}

#[cfg(test)]
mod tests;
