//! Human-readable names of places (subdistricts, communities, blocks).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not a usable place name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing but whitespace was given.
    #[error("name must not be empty")]
    Empty,
    /// The name is longer than [`PlaceName::MAX_CHARS`] characters.
    #[error("name must have at most {max} characters, has {actual}")]
    TooLong {
        /// The limit.
        max: usize,
        /// The number of characters given (after trimming).
        actual: usize,
    },
    /// A control character (newline, tab, NUL, ...) appears; names are printed on one line.
    #[error("name must not contain control characters, found {found:?} at position {position}")]
    ControlCharacter {
        /// The offending character.
        found: char,
        /// Zero-based character position in the trimmed name.
        position: usize,
    },
}

/// The name of a subdistrict, community or block, e.g. `雨湖路第017区块`.
///
/// Leading and trailing whitespace is trimmed; the rest must be 1 to
/// [`PlaceName::MAX_CHARS`] characters without control characters, so a name can
/// always be shown on one line of a table or a map label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlaceName(String);

impl PlaceName {
    /// The longest name accepted, in characters (not bytes).
    pub const MAX_CHARS: usize = 100;

    /// Trims `value` and checks it is a usable name.
    pub fn parse(value: &str) -> Result<Self, NameError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        let actual = trimmed.chars().count();
        if actual > Self::MAX_CHARS {
            return Err(NameError::TooLong {
                max: Self::MAX_CHARS,
                actual,
            });
        }
        if let Some((position, found)) = trimmed
            .chars()
            .enumerate()
            .find(|(_, character)| character.is_control())
        {
            return Err(NameError::ControlCharacter { found, position });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlaceName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl AsRef<str> for PlaceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for PlaceName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PlaceName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_name_is_kept_as_given() {
        let name = PlaceName::parse("雨湖路第017区块").expect("valid");
        assert_eq!(name.as_str(), "雨湖路第017区块");
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(
            PlaceName::parse("  云塘街道 \t").expect("valid").as_str(),
            "云塘街道"
        );
    }

    #[test]
    fn an_empty_or_blank_name_is_rejected() {
        assert_eq!(PlaceName::parse(""), Err(NameError::Empty));
        assert_eq!(
            PlaceName::parse(" \u{3000} "),
            Err(NameError::Empty),
            "ideographic space is whitespace too"
        );
    }

    #[test]
    fn the_length_limit_counts_characters_not_bytes() {
        let longest = "区".repeat(PlaceName::MAX_CHARS);
        assert!(
            PlaceName::parse(&longest).is_ok(),
            "100 chinese characters are 300 bytes but allowed"
        );
        let too_long = "区".repeat(PlaceName::MAX_CHARS + 1);
        assert_eq!(
            PlaceName::parse(&too_long),
            Err(NameError::TooLong {
                max: 100,
                actual: 101
            })
        );
    }

    #[test]
    fn a_control_character_inside_a_name_is_rejected_with_its_position() {
        assert_eq!(
            PlaceName::parse("雨湖\n路"),
            Err(NameError::ControlCharacter {
                found: '\n',
                position: 2
            })
        );
        assert!(PlaceName::parse("a\u{0}b").is_err());
    }
}
