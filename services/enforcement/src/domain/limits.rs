//! Report-in time limits: how long a summoned agency has to report in.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};

/// A positive duration written as a whole number and a unit: `90s`, `30m`,
/// `2h`. Used for limits read from the environment, so operators write what
/// they mean and tests can use seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LimitDuration(std::time::Duration);

/// Why a duration text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a duration: expected a whole number followed by s, m or h (e.g. 30m), at least 1s and at most 30 days"
)]
pub struct InvalidDuration(String);

impl LimitDuration {
    const MAX_SECONDS: u64 = 30 * 24 * 3600;

    pub fn from_secs(seconds: u64) -> Self {
        Self(std::time::Duration::from_secs(seconds))
    }

    pub fn as_std(self) -> std::time::Duration {
        self.0
    }

    pub fn as_delta(self) -> TimeDelta {
        // At most 30 days, so the conversion cannot overflow.
        TimeDelta::seconds(i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX / 1000))
    }
}

impl FromStr for LimitDuration {
    type Err = InvalidDuration;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || InvalidDuration(text.to_owned());
        let unit_at = text.len().checked_sub(1).ok_or_else(refuse)?;
        let (number, unit) = text.split_at(unit_at);
        if number.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(refuse());
        }
        let amount: u64 = number.parse().map_err(|_| refuse())?;
        let multiplier = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => return Err(refuse()),
        };
        let seconds = amount.checked_mul(multiplier).ok_or_else(refuse)?;
        if seconds == 0 || seconds > Self::MAX_SECONDS {
            return Err(refuse());
        }
        Ok(Self::from_secs(seconds))
    }
}

impl fmt::Display for LimitDuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        if seconds.is_multiple_of(3600) {
            write!(formatter, "{}h", seconds / 3600)
        } else if seconds.is_multiple_of(60) {
            write!(formatter, "{}m", seconds / 60)
        } else {
            write!(formatter, "{seconds}s")
        }
    }
}

/// The report-in limits: the model's origin asks agencies to report within
/// 30 minutes of an urgent whistle; ordinary whistles get longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportInLimits {
    pub urgent: LimitDuration,
    pub normal: LimitDuration,
}

impl Default for ReportInLimits {
    fn default() -> Self {
        Self {
            urgent: LimitDuration::from_secs(30 * 60),
            normal: LimitDuration::from_secs(2 * 3600),
        }
    }
}

impl ReportInLimits {
    /// When an agency summoned at `summoned_at` must have reported in.
    pub fn deadline(&self, urgent: bool, summoned_at: DateTime<Utc>) -> DateTime<Utc> {
        let limit = if urgent { self.urgent } else { self.normal };
        summoned_at + limit.as_delta()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert_eq!(
            "90s".parse::<LimitDuration>().unwrap().as_std().as_secs(),
            90
        );
        assert_eq!(
            "30m".parse::<LimitDuration>().unwrap().as_std().as_secs(),
            1800
        );
        assert_eq!(
            "2h".parse::<LimitDuration>().unwrap().as_std().as_secs(),
            7200
        );
    }

    #[test]
    fn zero_negative_fractional_unitless_and_huge_durations_are_refused() {
        for bad in [
            "0m",
            "-5m",
            "1.5h",
            "30",
            "m",
            "",
            "30 m",
            "3d",
            "721h",
            "99999999999999999999s",
        ] {
            let error = bad.parse::<LimitDuration>().unwrap_err();
            assert!(error.to_string().contains("e.g. 30m"), "{bad}: {error}");
        }
    }

    #[test]
    fn durations_print_in_their_largest_whole_unit() {
        for text in ["45s", "30m", "2h", "90m"] {
            assert_eq!(text.parse::<LimitDuration>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn an_urgent_whistle_is_due_thirty_minutes_after_the_summons_by_default() {
        let summoned = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let limits = ReportInLimits::default();
        assert_eq!(
            limits.deadline(true, summoned).to_rfc3339(),
            "2026-03-02T09:30:00+00:00"
        );
        assert_eq!(
            limits.deadline(false, summoned).to_rfc3339(),
            "2026-03-02T11:00:00+00:00"
        );
    }
}
