//! Administrative codes: district → subdistrict → community → block.
//!
//! The first three levels follow the national statistical division codes
//! (GB/T 2260 for the 6-digit county-level district, extended by the National
//! Bureau of Statistics with 3 digits for the township-level subdistrict 街道 and
//! 3 more for the village-level community 社区). A block 区块 has no national code,
//! so the registry appends a 3-digit block number within its community, giving
//! every block a stable 15-digit code:
//!
//! ```text
//! 430302 001 002 017
//! │      │   │   └── block number within the community (001–999)
//! │      │   └────── community within the subdistrict (001–999)
//! │      └────────── subdistrict within the district (001–999)
//! └───────────────── district (county level), e.g. 430302 雨湖区
//! ```
//!
//! Each code is a newtype built only through `parse` (or from its parent), so a
//! value of the type is valid everywhere. Because every level has a fixed width,
//! numeric order equals textual order, and a child's code always starts with its
//! parent's code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not a valid code of the expected level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The text has the wrong number of characters for its level.
    #[error("{level} code {value:?} must have exactly {expected} digits, has {actual} characters")]
    WrongLength {
        /// Which level was expected ("district", "block", ...).
        level: &'static str,
        /// The text as given.
        value: String,
        /// The required number of digits.
        expected: usize,
        /// The number of characters found.
        actual: usize,
    },
    /// A character other than an ASCII digit appears.
    #[error(
        "{level} code {value:?} must contain only digits 0-9, found {found:?} at position {position}"
    )]
    NotADigit {
        /// Which level was expected.
        level: &'static str,
        /// The text as given.
        value: String,
        /// The offending character.
        found: char,
        /// Zero-based character position of the offending character.
        position: usize,
    },
    /// A segment of the code is all zeros, which the scheme reserves for "the parent itself".
    #[error("{level} code {value:?} has {segment} {digits:?}, which must not be all zeros")]
    ZeroSegment {
        /// Which level was expected.
        level: &'static str,
        /// The text as given.
        value: String,
        /// Which part of the code is zero ("province part", "block number", ...).
        segment: &'static str,
        /// The zero digits as they appear.
        digits: String,
    },
    /// A child number given as an integer is outside 1–999.
    #[error("{level} number {number} must be between 1 and 999")]
    NumberOutOfRange {
        /// Which level the number was meant for.
        level: &'static str,
        /// The number given.
        number: u32,
    },
}

/// Checks that `value` is exactly `expected` ASCII digits and returns them as a number.
fn parse_digits(value: &str, level: &'static str, expected: usize) -> Result<u64, CodeError> {
    let actual = value.chars().count();
    if actual != expected {
        return Err(CodeError::WrongLength {
            level,
            value: value.to_owned(),
            expected,
            actual,
        });
    }
    let mut number: u64 = 0;
    for (position, character) in value.chars().enumerate() {
        let Some(digit) = character.to_digit(10) else {
            return Err(CodeError::NotADigit {
                level,
                value: value.to_owned(),
                found: character,
                position,
            });
        };
        number = number * 10 + u64::from(digit);
    }
    Ok(number)
}

/// Rejects a code whose `segment` (given as its numeric value and width) is all zeros.
fn require_nonzero_segment(
    value: &str,
    level: &'static str,
    segment: &'static str,
    segment_value: u64,
    range: std::ops::Range<usize>,
) -> Result<(), CodeError> {
    if segment_value == 0 {
        return Err(CodeError::ZeroSegment {
            level,
            value: value.to_owned(),
            segment,
            digits: value[range].to_owned(),
        });
    }
    Ok(())
}

fn child_number(level: &'static str, number: u32) -> Result<u64, CodeError> {
    if (1..=999).contains(&number) {
        Ok(u64::from(number))
    } else {
        Err(CodeError::NumberOutOfRange { level, number })
    }
}

/// A county-level district code (6 digits), e.g. `430302` for 雨湖区.
///
/// Rules: exactly 6 ASCII digits; the province part (first two digits) is not
/// `00`; the county part (last two digits) is not `00`, because `xxxx00` is a
/// prefecture-level city, not a district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DistrictCode(u32);

impl DistrictCode {
    /// Number of digits in a district code.
    pub const DIGITS: usize = 6;

    /// Parses a 6-digit district code.
    pub fn parse(value: &str) -> Result<Self, CodeError> {
        let number = parse_digits(value, "district", Self::DIGITS)?;
        require_nonzero_segment(value, "district", "province part", number / 10_000, 0..2)?;
        require_nonzero_segment(value, "district", "county part", number % 100, 4..6)?;
        // Six digits always fit in a u32.
        Ok(Self(number as u32))
    }

    /// The subdistrict numbered `number` (1–999) within this district.
    pub fn subdistrict(self, number: u32) -> Result<SubdistrictCode, CodeError> {
        let number = child_number("subdistrict", number)?;
        Ok(SubdistrictCode(u64::from(self.0) * 1_000 + number))
    }
}

/// A subdistrict (街道) code (9 digits) = district code + 3-digit subdistrict number.
///
/// Rules: exactly 9 ASCII digits; the first 6 form a valid [`DistrictCode`]; the
/// subdistrict number (last 3 digits) is not `000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubdistrictCode(u64);

impl SubdistrictCode {
    /// Number of digits in a subdistrict code.
    pub const DIGITS: usize = 9;

    /// Parses a 9-digit subdistrict code.
    pub fn parse(value: &str) -> Result<Self, CodeError> {
        let number = parse_digits(value, "subdistrict", Self::DIGITS)?;
        check_district_prefix(value, "subdistrict", number / 1_000)?;
        require_nonzero_segment(
            value,
            "subdistrict",
            "subdistrict number",
            number % 1_000,
            6..9,
        )?;
        Ok(Self(number))
    }

    /// The district this subdistrict belongs to.
    pub fn district(self) -> DistrictCode {
        // A valid subdistrict code's first six digits are a valid district code.
        DistrictCode((self.0 / 1_000) as u32)
    }

    /// The subdistrict number within its district (1–999).
    pub fn number(self) -> u32 {
        (self.0 % 1_000) as u32
    }

    /// The community numbered `number` (1–999) within this subdistrict.
    pub fn community(self, number: u32) -> Result<CommunityCode, CodeError> {
        let number = child_number("community", number)?;
        Ok(CommunityCode(self.0 * 1_000 + number))
    }
}

/// A community (社区) code (12 digits) = subdistrict code + 3-digit community number.
///
/// Rules: exactly 12 ASCII digits; the first 9 form a valid [`SubdistrictCode`];
/// the community number (last 3 digits) is not `000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommunityCode(u64);

impl CommunityCode {
    /// Number of digits in a community code.
    pub const DIGITS: usize = 12;

    /// Parses a 12-digit community code.
    pub fn parse(value: &str) -> Result<Self, CodeError> {
        let number = parse_digits(value, "community", Self::DIGITS)?;
        check_district_prefix(value, "community", number / 1_000_000)?;
        require_nonzero_segment(
            value,
            "community",
            "subdistrict number",
            number / 1_000 % 1_000,
            6..9,
        )?;
        require_nonzero_segment(
            value,
            "community",
            "community number",
            number % 1_000,
            9..12,
        )?;
        Ok(Self(number))
    }

    /// The subdistrict this community belongs to.
    pub fn subdistrict(self) -> SubdistrictCode {
        SubdistrictCode(self.0 / 1_000)
    }

    /// The district this community belongs to.
    pub fn district(self) -> DistrictCode {
        self.subdistrict().district()
    }

    /// The community number within its subdistrict (1–999).
    pub fn number(self) -> u32 {
        (self.0 % 1_000) as u32
    }

    /// The block numbered `number` (1–999) within this community.
    pub fn block(self, number: u32) -> Result<BlockCode, CodeError> {
        let number = child_number("block", number)?;
        Ok(BlockCode(self.0 * 1_000 + number))
    }
}

/// A block (区块) code (15 digits) = community code + 3-digit block number.
///
/// Rules: exactly 15 ASCII digits; the first 12 form a valid [`CommunityCode`];
/// the block number (last 3 digits) is not `000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockCode(u64);

impl BlockCode {
    /// Number of digits in a block code.
    pub const DIGITS: usize = 15;

    /// Parses a 15-digit block code.
    pub fn parse(value: &str) -> Result<Self, CodeError> {
        let number = parse_digits(value, "block", Self::DIGITS)?;
        check_district_prefix(value, "block", number / 1_000_000_000)?;
        require_nonzero_segment(
            value,
            "block",
            "subdistrict number",
            number / 1_000_000 % 1_000,
            6..9,
        )?;
        require_nonzero_segment(
            value,
            "block",
            "community number",
            number / 1_000 % 1_000,
            9..12,
        )?;
        require_nonzero_segment(value, "block", "block number", number % 1_000, 12..15)?;
        Ok(Self(number))
    }

    /// The community this block belongs to.
    pub fn community(self) -> CommunityCode {
        CommunityCode(self.0 / 1_000)
    }

    /// The subdistrict this block belongs to.
    pub fn subdistrict(self) -> SubdistrictCode {
        self.community().subdistrict()
    }

    /// The district this block belongs to.
    pub fn district(self) -> DistrictCode {
        self.community().district()
    }

    /// The block number within its community (1–999).
    pub fn number(self) -> u32 {
        (self.0 % 1_000) as u32
    }
}

/// Checks the 6-digit district prefix of a longer code, reporting errors against the whole code.
fn check_district_prefix(value: &str, level: &'static str, district: u64) -> Result<(), CodeError> {
    require_nonzero_segment(value, level, "province part", district / 10_000, 0..2)?;
    require_nonzero_segment(value, level, "county part", district % 100, 4..6)
}

macro_rules! code_text_impls {
    ($code:ident, $digits:expr) => {
        impl fmt::Display for $code {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{:0width$}", self.0, width = $digits)
            }
        }

        impl FromStr for $code {
            type Err = CodeError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl Serialize for $code {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $code {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

// Display/FromStr/serde are identical for the four levels apart from the width;
// a macro keeps them from drifting apart.
code_text_impls!(DistrictCode, DistrictCode::DIGITS);
code_text_impls!(SubdistrictCode, SubdistrictCode::DIGITS);
code_text_impls!(CommunityCode, CommunityCode::DIGITS);
code_text_impls!(BlockCode, BlockCode::DIGITS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_district_code_parses_and_prints_back() {
        let code = DistrictCode::parse("430302").expect("valid district");
        assert_eq!(code.to_string(), "430302");
    }

    #[test]
    fn a_district_code_of_the_wrong_length_names_the_value_and_the_rule() {
        let error = DistrictCode::parse("43030").expect_err("too short");
        assert_eq!(
            error,
            CodeError::WrongLength {
                level: "district",
                value: "43030".into(),
                expected: 6,
                actual: 5
            }
        );
        assert_eq!(
            error.to_string(),
            "district code \"43030\" must have exactly 6 digits, has 5 characters"
        );
        assert!(matches!(
            DistrictCode::parse("4303021"),
            Err(CodeError::WrongLength { actual: 7, .. })
        ));
        assert!(matches!(
            DistrictCode::parse(""),
            Err(CodeError::WrongLength { actual: 0, .. })
        ));
    }

    #[test]
    fn a_code_with_a_non_digit_names_the_character_and_its_position() {
        let error = DistrictCode::parse("43a302").expect_err("letter");
        assert_eq!(
            error,
            CodeError::NotADigit {
                level: "district",
                value: "43a302".into(),
                found: 'a',
                position: 2
            }
        );
        assert!(matches!(
            DistrictCode::parse(" 43030"),
            Err(CodeError::NotADigit {
                found: ' ',
                position: 0,
                ..
            })
        ));
        assert!(matches!(
            DistrictCode::parse("-43030"),
            Err(CodeError::NotADigit { found: '-', .. })
        ));
    }

    #[test]
    fn non_ascii_digits_are_rejected_even_though_unicode_calls_them_digits() {
        // Fullwidth and Arabic-Indic digits must not sneak into a code.
        assert!(matches!(
            DistrictCode::parse("４３0302"),
            Err(CodeError::NotADigit { found: '４', .. })
        ));
        assert!(matches!(
            DistrictCode::parse("٤30302"),
            Err(CodeError::NotADigit { position: 0, .. })
        ));
    }

    #[test]
    fn a_prefecture_city_code_is_not_a_district() {
        let error = DistrictCode::parse("430300").expect_err("city");
        assert_eq!(
            error.to_string(),
            "district code \"430300\" has county part \"00\", which must not be all zeros"
        );
        assert!(matches!(
            DistrictCode::parse("000302"),
            Err(CodeError::ZeroSegment {
                segment: "province part",
                ..
            })
        ));
    }

    #[test]
    fn a_subdistrict_code_knows_its_district_and_number() {
        let code = SubdistrictCode::parse("430302001").expect("valid subdistrict");
        assert_eq!(
            code.district(),
            DistrictCode::parse("430302").expect("valid")
        );
        assert_eq!(code.number(), 1);
        assert_eq!(code.to_string(), "430302001");
    }

    #[test]
    fn a_subdistrict_code_with_number_zero_is_rejected() {
        let error = SubdistrictCode::parse("430302000").expect_err("zero");
        assert!(matches!(
            error,
            CodeError::ZeroSegment {
                segment: "subdistrict number",
                ..
            }
        ));
        assert!(matches!(
            SubdistrictCode::parse("430300001"),
            Err(CodeError::ZeroSegment {
                segment: "county part",
                ..
            })
        ));
        assert!(matches!(
            SubdistrictCode::parse("43030200"),
            Err(CodeError::WrongLength { expected: 9, .. })
        ));
    }

    #[test]
    fn a_community_code_knows_its_subdistrict_and_district() {
        let code = CommunityCode::parse("430302001002").expect("valid community");
        assert_eq!(code.subdistrict().to_string(), "430302001");
        assert_eq!(code.district().to_string(), "430302");
        assert_eq!(code.number(), 2);
    }

    #[test]
    fn a_community_code_rejects_zero_segments_at_every_level() {
        assert!(matches!(
            CommunityCode::parse("430302000002"),
            Err(CodeError::ZeroSegment {
                segment: "subdistrict number",
                ..
            })
        ));
        assert!(matches!(
            CommunityCode::parse("430302001000"),
            Err(CodeError::ZeroSegment {
                segment: "community number",
                ..
            })
        ));
        assert!(matches!(
            CommunityCode::parse("000302001002"),
            Err(CodeError::ZeroSegment {
                segment: "province part",
                ..
            })
        ));
        assert!(matches!(
            CommunityCode::parse("43030200100"),
            Err(CodeError::WrongLength { expected: 12, .. })
        ));
    }

    #[test]
    fn a_block_code_knows_every_ancestor() {
        let code = BlockCode::parse("430302001002017").expect("valid block");
        assert_eq!(code.community().to_string(), "430302001002");
        assert_eq!(code.subdistrict().to_string(), "430302001");
        assert_eq!(code.district().to_string(), "430302");
        assert_eq!(code.number(), 17);
        assert_eq!(code.to_string(), "430302001002017");
    }

    #[test]
    fn a_block_code_rejects_every_malformed_shape() {
        assert!(
            matches!(BlockCode::parse("430302001002000"), Err(CodeError::ZeroSegment { segment: "block number", digits, .. }) if digits == "000")
        );
        assert!(matches!(
            BlockCode::parse("430302001000017"),
            Err(CodeError::ZeroSegment {
                segment: "community number",
                ..
            })
        ));
        assert!(matches!(
            BlockCode::parse("430302000002017"),
            Err(CodeError::ZeroSegment {
                segment: "subdistrict number",
                ..
            })
        ));
        assert!(matches!(
            BlockCode::parse("430300001002017"),
            Err(CodeError::ZeroSegment {
                segment: "county part",
                ..
            })
        ));
        assert!(matches!(
            BlockCode::parse("43030200100201"),
            Err(CodeError::WrongLength {
                expected: 15,
                actual: 14,
                ..
            })
        ));
        assert!(matches!(
            BlockCode::parse("4303020010020170"),
            Err(CodeError::WrongLength { actual: 16, .. })
        ));
        assert!(matches!(
            BlockCode::parse("43030200100201x"),
            Err(CodeError::NotADigit { position: 14, .. })
        ));
        assert!(matches!(
            BlockCode::parse("430302001002017 "),
            Err(CodeError::WrongLength { .. })
        ));
    }

    #[test]
    fn children_built_from_parents_match_parsed_codes() {
        let district = DistrictCode::parse("430302").expect("valid");
        let block = district
            .subdistrict(1)
            .and_then(|subdistrict| subdistrict.community(2))
            .and_then(|community| community.block(17))
            .expect("all numbers in range");
        assert_eq!(block, BlockCode::parse("430302001002017").expect("valid"));
    }

    #[test]
    fn child_numbers_outside_one_to_999_are_rejected() {
        let district = DistrictCode::parse("430302").expect("valid");
        assert_eq!(
            district.subdistrict(0),
            Err(CodeError::NumberOutOfRange {
                level: "subdistrict",
                number: 0
            })
        );
        assert!(district.subdistrict(1000).is_err());
        let community = CommunityCode::parse("430302001002").expect("valid");
        assert!(community.block(999).is_ok());
        assert_eq!(
            community.block(1000).expect_err("too big").to_string(),
            "block number 1000 must be between 1 and 999"
        );
    }

    #[test]
    fn codes_order_like_their_text_so_children_sort_under_parents() {
        let mut codes: Vec<BlockCode> = [
            "430302002001001",
            "430302001002017",
            "430302001002003",
            "430302001010001",
        ]
        .iter()
        .map(|text| BlockCode::parse(text).expect("valid"))
        .collect();
        codes.sort();
        let texts: Vec<String> = codes.iter().map(ToString::to_string).collect();
        let mut sorted_texts = texts.clone();
        sorted_texts.sort();
        assert_eq!(texts, sorted_texts);
        assert_eq!(texts[0], "430302001002003");
    }

    #[test]
    fn codes_serialize_as_strings_and_deserialize_through_parse() {
        let code = BlockCode::parse("430302001002017").expect("valid");
        assert_eq!(
            serde_json::to_string(&code).expect("serializes"),
            "\"430302001002017\""
        );
        let back: BlockCode = serde_json::from_str("\"430302001002017\"").expect("deserializes");
        assert_eq!(back, code);
        let error = serde_json::from_str::<BlockCode>("\"430302001002000\"")
            .expect_err("zero block number");
        assert!(error.to_string().contains("block number"));
        assert!(
            serde_json::from_str::<BlockCode>("430302001002017").is_err(),
            "a JSON number is not a code"
        );
    }

    #[test]
    fn from_str_is_the_same_as_parse() {
        let parsed: SubdistrictCode = "430302008".parse().expect("valid");
        assert_eq!(parsed.number(), 8);
        assert!("43030200x".parse::<SubdistrictCode>().is_err());
    }
}
