//! A resident ID number (居民身份证号码): 17 digits and a check character (a
//! digit or X) whose ISO 7064 MOD 11-2 checksum holds. Personal data: a
//! refusal says what is wrong without repeating the number, and `Debug`
//! shows only the last four characters.

use std::fmt;

/// Why a text is not an ID number. Never carries the text itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("must be 18 characters: 17 digits and a digit or X")]
    Malformed,
    #[error("has a wrong check character")]
    CheckCharacter,
}

/// An ID number, upper-cased, checked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    pub fn parse(text: &str) -> Result<Self, IdNumberError> {
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECKS: &[u8; 11] = b"10X98765432";
        let text = text.trim().to_ascii_uppercase();
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 18
            && bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
        if !well_formed {
            return Err(IdNumberError::Malformed);
        }
        let sum: u32 = bytes[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(digit, weight)| u32::from(digit - b'0') * weight)
            .sum();
        if CHECKS[(sum % 11) as usize] != bytes[17] {
            return Err(IdNumberError::CheckCharacter);
        }
        Ok(Self(text))
    }

    /// An optional ID number: `None` for an empty text.
    pub fn parse_optional(text: &str) -> Result<Option<Self>, IdNumberError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        Self::parse(text).map(Some)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "IdNumber(…{})", &self.0[self.0.len() - 4..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_number_must_carry_its_check_character_and_is_never_repeated() {
        assert_eq!(
            IdNumber::parse("11010519491231002x").unwrap().as_str(),
            "11010519491231002X"
        );
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::CheckCharacter)
        );
        assert_eq!(IdNumber::parse("1101051949"), Err(IdNumberError::Malformed));
        assert_eq!(IdNumber::parse_optional(" "), Ok(None));
        let number = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(format!("{number:?}"), "IdNumber(…002X)");
        assert!(!IdNumberError::Malformed.to_string().contains("1101"));
    }
}
