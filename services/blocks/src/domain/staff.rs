//! The staff roster's personal data: names and work units (phone numbers are
//! `flatgov_vocabulary::PhoneNumber`).
//!
//! These values never leave the registry in events; the service decides per
//! caller whether a phone number is shown (see `crate::privacy`).

use std::fmt;

/// Why a text is not a usable person name or unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffFieldError {
    /// Nothing but whitespace.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed.
    #[error("must have at most {max} characters, has {actual}")]
    TooLong {
        /// The limit.
        max: usize,
        /// Characters given (after trimming).
        actual: usize,
    },
    /// A control character (newline, tab, NUL, ...).
    #[error("must not contain control characters, found {found:?} at position {position}")]
    ControlCharacter {
        /// The offending character.
        found: char,
        /// Zero-based character position.
        position: usize,
    },
}

/// Trims `value` and checks it is 1..=`max` characters without control characters.
fn one_line_text(value: &str, max: usize) -> Result<String, StaffFieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(StaffFieldError::Empty);
    }
    let actual = trimmed.chars().count();
    if actual > max {
        return Err(StaffFieldError::TooLong { max, actual });
    }
    if let Some((position, found)) = trimmed
        .chars()
        .enumerate()
        .find(|(_, character)| character.is_control())
    {
        return Err(StaffFieldError::ControlCharacter { found, position });
    }
    Ok(trimmed.to_owned())
}

/// A person's name as written, e.g. `张伟` or `Zhang Wei`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// The longest name accepted, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Trims and checks a name.
    pub fn parse(value: &str) -> Result<Self, StaffFieldError> {
        one_line_text(value, Self::MAX_CHARS).map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A work unit (单位), e.g. `雨湖路街道办事处`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitName(String);

impl UnitName {
    /// The longest unit name accepted, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Trims and checks a unit name.
    pub fn parse(value: &str) -> Result<Self, StaffFieldError> {
        one_line_text(value, Self::MAX_CHARS).map(Self)
    }

    /// The unit as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_units_are_trimmed_and_kept_as_written() {
        assert_eq!(PersonName::parse(" 张伟 ").expect("valid").as_str(), "张伟");
        assert_eq!(
            UnitName::parse("雨湖路街道办事处").expect("valid").as_str(),
            "雨湖路街道办事处"
        );
    }

    #[test]
    fn blank_overlong_or_multi_line_names_are_refused() {
        assert_eq!(PersonName::parse("  "), Err(StaffFieldError::Empty));
        assert_eq!(
            PersonName::parse(&"张".repeat(65)),
            Err(StaffFieldError::TooLong {
                max: 64,
                actual: 65
            })
        );
        assert_eq!(
            UnitName::parse("街道\n办事处"),
            Err(StaffFieldError::ControlCharacter {
                found: '\n',
                position: 2
            })
        );
    }
}
