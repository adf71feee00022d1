//! A person's phone number, as reported: a Chinese mobile (`13912345678`), a landline
//! with its area code (`0731-5812345`), or an international number (`+86 139 1234 5678`).
//! Phone numbers are personal data: a refusal says what is wrong without repeating
//! the number.

use std::fmt;

/// Why a text is not a phone number. Never carries the text itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("is empty")]
    Empty,
    #[error(
        "is not a phone number: use digits, with an optional leading +, spaces, hyphens and parentheses"
    )]
    Characters,
    #[error("has {digits} digits; a phone number has 5 to 20")]
    DigitCount { digits: usize },
}

/// A phone number as given (trimmed), checked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The longest accepted text, in characters.
    pub const MAX_CHARS: usize = 32;

    pub fn parse(text: &str) -> Result<Self, PhoneError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let allowed = body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'));
        if !allowed || trimmed.chars().count() > Self::MAX_CHARS {
            return Err(PhoneError::Characters);
        }
        let digits = body.chars().filter(char::is_ascii_digit).count();
        if !(5..=20).contains(&digits) {
            return Err(PhoneError::DigitCount { digits });
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shows only the last four digits: logs never carry a whole number.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits: String = self.0.chars().filter(char::is_ascii_digit).collect();
        let tail = &digits[digits.len().saturating_sub(4)..];
        write!(formatter, "PhoneNumber(…{tail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_landlines_and_international_numbers_are_accepted() {
        for good in [
            "13912345678",
            "0731-5812345",
            "+86 139 1234 5678",
            "(0731) 5812345",
            " 12345 ",
        ] {
            assert!(PhoneNumber::parse(good).is_ok(), "{good}");
        }
        assert_eq!(PhoneNumber::parse(" 12345 ").unwrap().as_str(), "12345");
    }

    #[test]
    fn a_refusal_never_repeats_the_number() {
        for bad in [
            "1234",
            "139-abcd-5678",
            "",
            "1".repeat(21).as_str(),
            "+86+139",
        ] {
            let error = PhoneNumber::parse(bad).unwrap_err().to_string();
            assert!(bad.len() < 4 || !error.contains(bad.trim()), "{error}");
        }
        assert_eq!(
            PhoneNumber::parse("1234").unwrap_err(),
            PhoneError::DigitCount { digits: 4 }
        );
        assert_eq!(
            format!("{:?}", PhoneNumber::parse("13912345678").unwrap()),
            "PhoneNumber(…5678)"
        );
    }
}
