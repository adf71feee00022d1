//! Time limits counted in working time.

use std::fmt;
use std::str::FromStr;

/// Working hours in one working day, used only to compare limits written in different
/// units (a response limit of `8h` equals one of `1d`). Real deadlines are computed by
/// the cases service on its working-day calendar, which this module knows nothing about.
pub const WORKING_HOURS_PER_DAY: u32 = 8;

/// The unit of a [`WorkingDuration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkingUnit {
    /// Working minutes (`m`), for "respond within 30 minutes" limits.
    Minutes,
    /// Working hours (`h`).
    Hours,
    /// Working days (`d`), skipping weekends and holidays on the calendar.
    Days,
}

impl WorkingUnit {
    fn suffix(self) -> char {
        match self {
            WorkingUnit::Minutes => 'm',
            WorkingUnit::Hours => 'h',
            WorkingUnit::Days => 'd',
        }
    }
}

/// A response or resolution time limit in working time: a positive whole number followed
/// by `m` (minutes), `h` (hours) or `d` (days), e.g. `30m`, `2h`, `3d`.
///
/// The amount is `1`–`999` without leading zeros, so every limit has exactly one spelling
/// and prints back as it was written. The unit is kept rather than converted, because
/// "3 working days" is a calendar notion that the cases service resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkingDuration {
    /// How many units.
    amount: u32,
    /// Which unit.
    unit: WorkingUnit,
}

/// Why a string is not a valid working duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "time limit {value:?} is malformed: expected 1-999 followed by m, h or d (e.g. 30m, 2h, 3d)"
)]
pub struct DurationError {
    /// The offending value.
    pub value: String,
}

impl WorkingDuration {
    /// The largest amount accepted.
    pub const MAX_AMOUNT: u32 = 999;

    /// Parses `30m`, `2h`, `3d` and the like.
    pub fn parse(value: &str) -> Result<Self, DurationError> {
        let error = || DurationError {
            value: value.to_owned(),
        };
        let mut characters = value.chars();
        let unit = match characters.next_back() {
            Some('m') => WorkingUnit::Minutes,
            Some('h') => WorkingUnit::Hours,
            Some('d') => WorkingUnit::Days,
            _ => return Err(error()),
        };
        let digits = characters.as_str();
        let only_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        if !only_digits || digits.starts_with('0') || digits.len() > 3 {
            return Err(error());
        }
        let amount: u32 = digits.parse().map_err(|_| error())?;
        Ok(Self { amount, unit })
    }

    /// Builds a duration; `None` unless `amount` is in `1..=999`.
    pub fn new(amount: u32, unit: WorkingUnit) -> Option<Self> {
        (1..=Self::MAX_AMOUNT)
            .contains(&amount)
            .then_some(Self { amount, unit })
    }

    /// How many units.
    pub fn amount(self) -> u32 {
        self.amount
    }

    /// Which unit.
    pub fn unit(self) -> WorkingUnit {
        self.unit
    }

    /// The length in working minutes, counting a working day as
    /// [`WORKING_HOURS_PER_DAY`] hours. For comparing limits only.
    pub fn working_minutes(self) -> u32 {
        match self.unit {
            WorkingUnit::Minutes => self.amount,
            WorkingUnit::Hours => self.amount * 60,
            WorkingUnit::Days => self.amount * WORKING_HOURS_PER_DAY * 60,
        }
    }
}

impl fmt::Display for WorkingDuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}{}", self.amount, self.unit.suffix())
    }
}

impl FromStr for WorkingDuration {
    type Err = DurationError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_hours_and_days_parse_and_print_as_written() {
        for text in ["30m", "2h", "3d", "1d", "999h"] {
            assert_eq!(WorkingDuration::parse(text).unwrap().to_string(), text);
        }
        let limit = WorkingDuration::parse("15d").unwrap();
        assert_eq!((limit.amount(), limit.unit()), (15, WorkingUnit::Days));
    }

    #[test]
    fn malformed_limits_are_refused_naming_the_value() {
        for bad in [
            "", "h", "2", "2 h", "2H", "0h", "02h", "1000d", "-1d", "1.5d", "2w", "2hh", "d2",
            "２h", " 2h",
        ] {
            assert_eq!(
                WorkingDuration::parse(bad),
                Err(DurationError {
                    value: bad.to_owned()
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_working_day_compares_as_eight_working_hours() {
        let day = WorkingDuration::parse("1d").unwrap();
        let eight_hours = WorkingDuration::parse("8h").unwrap();
        let half_hour = WorkingDuration::parse("30m").unwrap();
        assert_eq!(day.working_minutes(), eight_hours.working_minutes());
        assert_eq!(half_hour.working_minutes(), 30);
        assert!(WorkingDuration::parse("9h").unwrap().working_minutes() > day.working_minutes());
    }

    #[test]
    fn the_constructor_refuses_zero_and_amounts_over_the_maximum() {
        assert_eq!(WorkingDuration::new(0, WorkingUnit::Hours), None);
        assert_eq!(WorkingDuration::new(1000, WorkingUnit::Hours), None);
        assert_eq!(
            WorkingDuration::new(999, WorkingUnit::Days).map(|d| d.to_string()),
            Some("999d".to_owned())
        );
    }
}
