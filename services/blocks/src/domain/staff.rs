//! The staff roster's personal data: names, phone numbers, work units.
//!
//! These values never leave the registry in events; the service decides per
//! caller whether a phone number is shown (see `crate::privacy`).

use std::fmt;

/// Why a text is not a usable person name, unit or phone number.
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
    /// A character a phone number cannot contain.
    #[error(
        "a phone number may contain digits, one leading '+', spaces and '-', found {found:?} at position {position}"
    )]
    PhoneCharacter {
        /// The offending character.
        found: char,
        /// Zero-based character position.
        position: usize,
    },
    /// Too few or too many digits for a phone number.
    #[error("a phone number needs 3 to 20 digits, has {digits}")]
    PhoneDigits {
        /// Digits found.
        digits: usize,
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

/// A phone number as people write it: `13812345678`, `0731-5823 4567`,
/// `+86 138 1234 5678`.
///
/// Kept as written (trimmed) so it reads back the way it was entered; only the
/// characters and the digit count are checked, since numbers reach the roster
/// from many systems and formats (mobile, landline with area code, extension-free).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Trims and checks a phone number.
    pub fn parse(value: &str) -> Result<Self, StaffFieldError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(StaffFieldError::Empty);
        }
        let mut digits = 0;
        for (position, character) in trimmed.chars().enumerate() {
            match character {
                '0'..='9' => digits += 1,
                '+' if position == 0 => {}
                ' ' | '-' => {}
                found => return Err(StaffFieldError::PhoneCharacter { found, position }),
            }
        }
        if !(3..=20).contains(&digits) {
            return Err(StaffFieldError::PhoneDigits { digits });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
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

    #[test]
    fn mobile_landline_and_international_numbers_are_accepted() {
        for number in ["13812345678", "0731-5823 4567", "+86 138 1234 5678", "110"] {
            assert_eq!(PhoneNumber::parse(number).expect("valid").as_str(), number);
        }
    }

    #[test]
    fn a_phone_number_with_letters_a_misplaced_plus_or_too_few_digits_is_refused() {
        assert_eq!(
            PhoneNumber::parse("138-abc"),
            Err(StaffFieldError::PhoneCharacter {
                found: 'a',
                position: 4
            })
        );
        assert_eq!(
            PhoneNumber::parse("86+138"),
            Err(StaffFieldError::PhoneCharacter {
                found: '+',
                position: 2
            })
        );
        assert_eq!(
            PhoneNumber::parse("12"),
            Err(StaffFieldError::PhoneDigits { digits: 2 })
        );
        assert_eq!(
            PhoneNumber::parse(&"1".repeat(21)),
            Err(StaffFieldError::PhoneDigits { digits: 21 })
        );
    }
}
