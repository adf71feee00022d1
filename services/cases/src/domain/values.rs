//! Small validated values shared by the case domain: identifiers, resource names and free
//! text with a bounded length (matter codes are `flatgov_vocabulary`'s, re-exported here).
//!
//! Each type has a `parse` constructor that is the only way to build it, so a value of the
//! type is valid everywhere it travels (parse, don't validate). Serde goes through the same
//! constructors, so a stored or received value is checked again when it is read back.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use flatgov_vocabulary::MatterCode;

/// Why a piece of input is not a valid value. Every variant names the kind of value
/// (`what`) so an API can turn it into a field violation without guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    /// The text was empty, or only whitespace.
    #[error("{what} must not be empty")]
    Empty {
        /// The kind of value, e.g. "staff id".
        what: &'static str,
    },
    /// The text was longer than the limit, counted in characters (not bytes).
    #[error("{what} is {found} characters long; at most {max} are allowed")]
    TooLong {
        /// The kind of value.
        what: &'static str,
        /// The limit in characters.
        max: usize,
        /// How many characters the input had.
        found: usize,
    },
    /// The text contained a character the value may not hold.
    #[error("{what} `{value}` contains the character {character:?}, which is not allowed")]
    InvalidCharacter {
        /// The kind of value.
        what: &'static str,
        /// The offending input, for the error message.
        value: String,
        /// The first character that is not allowed.
        character: char,
    },
    /// The text did not have the expected shape.
    #[error("{what} `{value}` is malformed: expected {expected}")]
    Malformed {
        /// The kind of value.
        what: &'static str,
        /// The offending input.
        value: String,
        /// A description of the expected shape.
        expected: &'static str,
    },
}

/// A string did not name any member of a closed set of codes (states, kinds, channels…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`: expected one of {}", .expected.join(", "))]
pub struct UnknownCode {
    /// The kind of code, e.g. "case state".
    pub what: &'static str,
    /// The input that matched nothing.
    pub value: String,
    /// Every accepted code.
    pub expected: &'static [&'static str],
}

/// Declares a closed enum whose members have stable lower-snake-case codes: the same codes
/// are used in the database, in proto enums' names and in serde, so there is one spelling.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $code)] $variant ),+
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code of this member, as stored and published.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::values::UnknownCode;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($code => Ok($name::$variant),)+
                    other => Err($crate::domain::values::UnknownCode {
                        what: $what,
                        value: other.to_owned(),
                        expected: &[$($code),+],
                    }),
                }
            }
        }
    };
}
pub(crate) use code_enum;

/// Checks the length (in characters) and the characters of a trimmed piece of text.
fn checked_text(
    what: &'static str,
    text: &str,
    max_chars: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<String, InvalidValue> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue::Empty { what });
    }
    let found = trimmed.chars().count();
    if found > max_chars {
        return Err(InvalidValue::TooLong {
            what,
            max: max_chars,
            found,
        });
    }
    if let Some(character) = trimmed.chars().find(|character| !allowed(*character)) {
        return Err(InvalidValue::InvalidCharacter {
            what,
            value: trimmed.to_owned(),
            character,
        });
    }
    Ok(trimmed.to_owned())
}

/// Free text may hold line breaks and tabs but no other control characters (they break
/// terminals, logs and CSV exports).
fn is_allowed_in_free_text(character: char) -> bool {
    !character.is_control() || matches!(character, '\n' | '\t')
}

/// Implements `Display`, `AsRef<str>`, `TryFrom<String>` and `From<Self> for String` for a
/// string newtype with a `parse` constructor, so serde can go through `parse`.
macro_rules! string_newtype_conversions {
    ($name:ident) => {
        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// The identity of a case: a UUID (the store creates version 7, time-ordered ones). Its
/// resource name is `cases/<uuid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(Uuid);

impl CaseId {
    /// A new, time-ordered case id.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps an existing UUID (as read from the database).
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// Parses a resource name `cases/<uuid>`.
    pub fn parse_resource_name(name: &str) -> Result<Self, InvalidValue> {
        let malformed = || InvalidValue::Malformed {
            what: "case name",
            value: name.to_owned(),
            expected: "`cases/` followed by a UUID",
        };
        let uuid_text = name.strip_prefix("cases/").ok_or_else(malformed)?;
        let uuid = Uuid::try_parse(uuid_text).map_err(|_| malformed())?;
        Ok(Self(uuid))
    }

    /// The underlying UUID, for the database.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The resource name `cases/<uuid>`.
    pub fn resource_name(&self) -> String {
        format!("cases/{}", self.0)
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "cases/{}", self.0)
    }
}

/// The identity of a staff member as the authentication layer knows them (the JWT
/// subject): 1–128 printable ASCII characters without spaces. Never a name or phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StaffId(String);

impl StaffId {
    /// The longest accepted id, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Parses a staff id.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        checked_text("staff id", text, Self::MAX_CHARS, |character| {
            character.is_ascii_graphic()
        })
        .map(Self)
    }
}
string_newtype_conversions!(StaffId);

/// An AIP-style resource name of an organisational unit that can own or handle a case: a
/// block team (`blocks/430302001004017`), a subdistrict's coordination platform
/// (`subdistricts/430302001`), a department or agency (`departments/urban_management`), a
/// federation member (`organisations/womens_federation`). Segments are lower-case ASCII
/// letters, digits, hyphens and underscores (the duty lists' department codes are snake
/// case), separated by `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UnitName(String);

impl UnitName {
    /// The longest accepted name, in characters.
    pub const MAX_CHARS: usize = 255;

    /// Parses a unit's resource name.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let name = checked_text("unit name", text, Self::MAX_CHARS, |character| {
            character.is_ascii_lowercase()
                || character.is_ascii_digit()
                || "-_/".contains(character)
        })?;
        let has_empty_segment = name.split('/').any(|segment| {
            segment.is_empty() || segment.starts_with('-') || segment.ends_with('-')
        });
        if has_empty_segment {
            return Err(InvalidValue::Malformed {
                what: "unit name",
                value: name,
                expected: "non-empty segments separated by single slashes, not starting or ending with a hyphen",
            });
        }
        Ok(Self(name))
    }

    /// The name's segments, e.g. `["subdistricts", "yuhu-lu", "blocks", "017"]`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}
string_newtype_conversions!(UnitName);

/// The resource name of a block: a [`UnitName`] whose last collection is `blocks`, e.g.
/// `subdistricts/yuhu-lu/blocks/017`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlockName(UnitName);

impl BlockName {
    /// Parses a block's resource name.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let unit = UnitName::parse(text).map_err(|error| match error {
            InvalidValue::Empty { .. } => InvalidValue::Empty { what: "block name" },
            other => other,
        })?;
        let segments: Vec<&str> = unit.segments().collect();
        let is_block = segments.len() >= 2
            && segments.len().is_multiple_of(2)
            && segments[segments.len() - 2] == "blocks";
        if !is_block {
            return Err(InvalidValue::Malformed {
                what: "block name",
                value: unit.0,
                expected: "a resource name ending in `blocks/<code>`, e.g. `subdistricts/yuhu-lu/blocks/017`",
            });
        }
        Ok(Self(unit))
    }

    /// The block as a unit (a block team can be an assignee).
    pub fn as_unit(&self) -> &UnitName {
        &self.0
    }

    /// The validated text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for BlockName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl TryFrom<String> for BlockName {
    type Error = InvalidValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<BlockName> for String {
    fn from(value: BlockName) -> String {
        value.0.0
    }
}

/// What a case is about, from the duty catalogue — or not yet known, for triage to classify.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matter {
    /// The reporter (or the channel) did not say; a dispatcher or triage classifies it.
    Unclassified,
    /// A matter from the duty catalogue.
    Classified(MatterCode),
}

impl Matter {
    /// The catalogue code, if the matter is classified.
    pub fn code(&self) -> Option<&MatterCode> {
        match self {
            Matter::Unclassified => None,
            Matter::Classified(code) => Some(code),
        }
    }
}

/// Why someone did something (override, park, extension, dismissal…), written by staff.
/// 1–500 characters after trimming; line breaks allowed, other control characters not.
/// Reasons are published in transition records, so staff must not put personal data in them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reason(String);

impl Reason {
    /// The longest accepted reason, in characters.
    pub const MAX_CHARS: usize = 500;

    /// Parses a reason.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        checked_text("reason", text, Self::MAX_CHARS, is_allowed_in_free_text).map(Self)
    }
}
string_newtype_conversions!(Reason);

/// A resident's description of what they report: 1–2,000 characters after trimming. It may
/// hold personal data, so it is kept on the case and never put in records or events.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    /// The longest accepted description, in characters.
    pub const MAX_CHARS: usize = 2000;

    /// Parses a description.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        checked_text(
            "description",
            text,
            Self::MAX_CHARS,
            is_allowed_in_free_text,
        )
        .map(Self)
    }
}
string_newtype_conversions!(Description);

/// A resident's comment with their rating: 1–500 characters after trimming. Like a
/// description it may hold personal data and never goes into records or events.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Comment(String);

impl Comment {
    /// The longest accepted comment, in characters.
    pub const MAX_CHARS: usize = 500;

    /// Parses a comment.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        checked_text("comment", text, Self::MAX_CHARS, is_allowed_in_free_text).map(Self)
    }
}
string_newtype_conversions!(Comment);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_name_round_trips_through_its_uuid() {
        let id = CaseId::new_v7();
        let parsed = CaseId::parse_resource_name(&id.resource_name()).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(id.to_string(), id.resource_name());
    }

    #[test]
    fn a_case_name_without_the_collection_or_with_a_bad_uuid_is_rejected() {
        let bare_uuid = Uuid::now_v7().to_string();
        for name in [bare_uuid.as_str(), "cases/", "cases/not-a-uuid", "blocks/x"] {
            let error = CaseId::parse_resource_name(name).unwrap_err();
            assert!(
                matches!(
                    error,
                    InvalidValue::Malformed {
                        what: "case name",
                        ..
                    }
                ),
                "{name}: {error:?}"
            );
        }
    }

    #[test]
    fn a_staff_id_is_trimmed_and_must_be_printable_ascii_without_spaces() {
        assert_eq!(StaffId::parse("  gov-017 ").unwrap().as_str(), "gov-017");
        assert_eq!(
            StaffId::parse("   ").unwrap_err(),
            InvalidValue::Empty { what: "staff id" }
        );
        assert!(matches!(
            StaffId::parse("gov 017").unwrap_err(),
            InvalidValue::InvalidCharacter { character: ' ', .. }
        ));
        assert!(matches!(
            StaffId::parse("张三").unwrap_err(),
            InvalidValue::InvalidCharacter {
                character: '张',
                ..
            }
        ));
        let too_long = "x".repeat(StaffId::MAX_CHARS + 1);
        assert_eq!(
            StaffId::parse(&too_long).unwrap_err(),
            InvalidValue::TooLong {
                what: "staff id",
                max: 128,
                found: 129
            }
        );
    }

    #[test]
    fn a_unit_name_is_lower_case_segments_separated_by_single_slashes() {
        assert!(UnitName::parse("subdistricts/yuhu-lu/blocks/017").is_ok());
        assert!(UnitName::parse("agencies/urban-management").is_ok());
        assert!(UnitName::parse("departments/urban_management").is_ok());
        for bad in ["subdistricts//x", "/subdistricts", "subdistricts/", "a/-b"] {
            assert!(
                matches!(
                    UnitName::parse(bad).unwrap_err(),
                    InvalidValue::Malformed { .. }
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            UnitName::parse("Subdistricts/x").unwrap_err(),
            InvalidValue::InvalidCharacter { character: 'S', .. }
        ));
    }

    #[test]
    fn a_block_name_must_end_in_a_block_code() {
        let block = BlockName::parse("subdistricts/yuhu-lu/blocks/017").unwrap();
        assert_eq!(block.as_unit().as_str(), "subdistricts/yuhu-lu/blocks/017");
        assert!(BlockName::parse("subdistricts/yuhu-lu/communities/a/blocks/3").is_ok());
        for bad in [
            "subdistricts/yuhu-lu",
            "blocks",
            "subdistricts/yuhu-lu/blocks",
        ] {
            assert!(
                matches!(
                    BlockName::parse(bad).unwrap_err(),
                    InvalidValue::Malformed {
                        what: "block name",
                        ..
                    }
                ),
                "{bad}"
            );
        }
        assert_eq!(
            BlockName::parse("").unwrap_err(),
            InvalidValue::Empty { what: "block name" }
        );
    }

    #[test]
    fn free_text_counts_characters_not_bytes_and_refuses_control_characters() {
        let chinese_at_limit = "井".repeat(Reason::MAX_CHARS);
        assert!(Reason::parse(&chinese_at_limit).is_ok());
        assert!(matches!(
            Reason::parse(&format!("{chinese_at_limit}井")).unwrap_err(),
            InvalidValue::TooLong { found: 501, .. }
        ));
        assert!(Description::parse("第一行\n第二行\t完").is_ok());
        assert!(matches!(
            Comment::parse("bell\u{7}").unwrap_err(),
            InvalidValue::InvalidCharacter {
                what: "comment",
                character: '\u{7}',
                ..
            }
        ));
        assert!(matches!(
            Description::parse(&"a".repeat(Description::MAX_CHARS + 1)).unwrap_err(),
            InvalidValue::TooLong { max: 2000, .. }
        ));
    }

    #[test]
    fn deserialising_goes_through_the_parse_constructor() {
        let error = serde_json::from_str::<BlockName>("\"subdistricts/x\"").unwrap_err();
        assert!(error.to_string().contains("block name"), "{error}");
        let block: BlockName = serde_json::from_str("\"subdistricts/x/blocks/1\"").unwrap();
        assert_eq!(
            serde_json::to_string(&block).unwrap(),
            "\"subdistricts/x/blocks/1\""
        );
    }
}
