//! Codes that name things: departments, matters, places, named areas and exceptions.
//!
//! Every code is a newtype with a `parse` constructor, so a value of the type is valid
//! wherever it travels. Three shapes are used:
//!
//! - **snake codes** (`urban_management`, `broken_street_light`): lower-case ASCII letters,
//!   digits and single underscores, starting with a letter, not ending with `_`. Used for
//!   department codes and matter codes, which people read in logs and command lines.
//! - **division codes** (`430302001`, `430302001004`, `430302001004017`): the national
//!   statistical division codes the whole platform uses (owned by the blocks service). A
//!   6-digit county-level district code (GB/T 2260) is extended by 3 digits for the
//!   subdistrict (街道), 3 more for the community (社区) and, for blocks, which have no
//!   national code, 3 more for the block within its community:
//!
//!   ```text
//!   430302 001 004 017
//!   │      │   │   └── block number within the community (001–999)
//!   │      │   └────── community number within the subdistrict (001–999)
//!   │      └────────── subdistrict number within the district (001–999)
//!   └───────────────── district, e.g. 430302 雨湖区 (province part and county part not 00)
//!   ```
//!
//!   Every level has a fixed width and a child's code starts with its parent's, so a
//!   block code names its community and subdistrict ([`BlockCode::community`],
//!   [`BlockCode::subdistrict`]) and "inside" is a prefix test.
//! - **slugs** (`shaoshan-road-north`, `park-greenery-2024`): lower-case ASCII letters and
//!   digits in groups joined by single hyphens. Used for named area ids and exception ids,
//!   which administrators make up.
//!
//! List item codes have their own structured format; see [`crate::domain::ItemCode`].

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The string is empty (after nothing: codes are never trimmed).
    #[error("{what} is empty")]
    Empty {
        /// Which kind of code was being parsed, e.g. "department code".
        what: &'static str,
    },
    /// The string is longer than the kind of code allows.
    #[error("{what} {value:?} is longer than {max} characters")]
    TooLong {
        /// Which kind of code was being parsed.
        what: &'static str,
        /// The offending value.
        value: String,
        /// The longest allowed length.
        max: usize,
    },
    /// The string has characters or a structure the kind of code does not allow.
    #[error("{what} {value:?} is malformed: expected {expected}")]
    Malformed {
        /// Which kind of code was being parsed.
        what: &'static str,
        /// The offending value.
        value: String,
        /// The expected shape, in words.
        expected: &'static str,
    },
    /// A division code has the wrong number of characters for its level.
    #[error("{what} {value:?} must have exactly {expected} digits, has {actual} characters")]
    WrongLength {
        /// Which kind of code was being parsed, e.g. "block code".
        what: &'static str,
        /// The offending value.
        value: String,
        /// The number of digits the level has.
        expected: usize,
        /// The number of characters found.
        actual: usize,
    },
    /// A division code has a character other than an ASCII digit.
    #[error(
        "{what} {value:?} must contain only digits 0-9, found {found:?} at position {position}"
    )]
    NotADigit {
        /// Which kind of code was being parsed.
        what: &'static str,
        /// The offending value.
        value: String,
        /// The offending character.
        found: char,
        /// Zero-based character position of the offending character.
        position: usize,
    },
    /// A part of a division code is all zeros, which the scheme reserves for "the parent
    /// itself".
    #[error("{what} {value:?} has {segment} {digits:?}, which must not be all zeros")]
    ZeroSegment {
        /// Which kind of code was being parsed.
        what: &'static str,
        /// The offending value.
        value: String,
        /// Which part is zero, e.g. "block number".
        segment: &'static str,
        /// The zero digits as they appear.
        digits: String,
    },
}

const SNAKE_SHAPE: &str = "lower-case letters, digits and single underscores, starting with a letter (e.g. urban_management)";
const SLUG_SHAPE: &str =
    "lower-case letters and digits in groups joined by single hyphens (e.g. shaoshan-road-north)";

fn check_length(what: &'static str, value: &str, max: usize) -> Result<(), CodeError> {
    if value.is_empty() {
        return Err(CodeError::Empty { what });
    }
    if value.chars().count() > max {
        return Err(CodeError::TooLong {
            what,
            value: value.to_owned(),
            max,
        });
    }
    Ok(())
}

fn check_snake(what: &'static str, value: &str, max: usize) -> Result<(), CodeError> {
    check_length(what, value, max)?;
    let malformed = || CodeError::Malformed {
        what,
        value: value.to_owned(),
        expected: SNAKE_SHAPE,
    };
    let starts_with_letter = value.starts_with(|c: char| c.is_ascii_lowercase());
    let allowed_characters = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !starts_with_letter || !allowed_characters || value.ends_with('_') || value.contains("__") {
        return Err(malformed());
    }
    Ok(())
}

fn check_slug(what: &'static str, value: &str, max: usize) -> Result<(), CodeError> {
    check_length(what, value, max)?;
    let every_group_is_alphanumeric = value.split('-').all(|group| {
        !group.is_empty()
            && group
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if !every_group_is_alphanumeric {
        return Err(CodeError::Malformed {
            what,
            value: value.to_owned(),
            expected: SLUG_SHAPE,
        });
    }
    Ok(())
}

/// Defines a string newtype whose only constructor is `parse(&str)` running `$check`.
/// Four codes share exactly this boilerplate, which is why it is a macro.
macro_rules! string_code {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:ident, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest value this code may have, in characters.
            pub const MAX_LEN: usize = $max;

            /// Parses a code, refusing anything outside its documented shape.
            pub fn parse(value: &str) -> Result<Self, CodeError> {
                $check($what, value, $max)?;
                Ok(Self(value.to_owned()))
            }

            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = CodeError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_code!(
    /// A district department (or public utility) that leads or cooperates on list items,
    /// e.g. `urban_management` (城管), `market_supervision` (市场监管), `public_security` (公安).
    /// Snake shape, at most 48 characters.
    DepartmentCode,
    "department code",
    check_snake,
    48
);

string_code!(
    /// A matter in the catalogue that cases are classified against, e.g.
    /// `broken_street_light`. Snake shape, at most 64 characters.
    MatterCode,
    "matter code",
    check_snake,
    64
);

/// The parts of a division code, by their character ranges: what each part is called in
/// errors. The first two are the district's province and county parts.
const DIVISION_SEGMENTS: [(&str, std::ops::Range<usize>); 5] = [
    ("province part", 0..2),
    ("county part", 4..6),
    ("subdistrict number", 6..9),
    ("community number", 9..12),
    ("block number", 12..15),
];

/// Checks that `value` is a division code of `digits` digits: only ASCII digits, exactly
/// that many, and no part all zeros.
fn check_division(what: &'static str, value: &str, digits: usize) -> Result<(), CodeError> {
    if value.is_empty() {
        return Err(CodeError::Empty { what });
    }
    let actual = value.chars().count();
    if let Some((position, found)) = value
        .chars()
        .enumerate()
        .find(|(_, character)| !character.is_ascii_digit())
    {
        return Err(CodeError::NotADigit {
            what,
            value: value.to_owned(),
            found,
            position,
        });
    }
    if actual != digits {
        return Err(CodeError::WrongLength {
            what,
            value: value.to_owned(),
            expected: digits,
            actual,
        });
    }
    for (segment, range) in DIVISION_SEGMENTS {
        if range.end > digits {
            break;
        }
        // Only ASCII digits remain, so byte ranges are character ranges.
        let part = &value[range];
        if part.bytes().all(|byte| byte == b'0') {
            return Err(CodeError::ZeroSegment {
                what,
                value: value.to_owned(),
                segment,
                digits: part.to_owned(),
            });
        }
    }
    Ok(())
}

/// Defines a division code newtype: `parse` runs [`check_division`] for `$digits`.
macro_rules! division_code {
    ($(#[$doc:meta])* $name:ident, $what:literal, $digits:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The number of digits of this level's codes.
            pub const DIGITS: usize = $digits;

            /// Parses a code, refusing anything but `DIGITS` digits with no part all zeros.
            pub fn parse(value: &str) -> Result<Self, CodeError> {
                check_division($what, value, $digits)?;
                Ok(Self(value.to_owned()))
            }

            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the division with `code` (of any level) lies inside this one
            /// (including this division itself): a prefix test, as codes nest.
            pub fn contains(&self, code: &str) -> bool {
                code.starts_with(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = CodeError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

division_code!(
    /// A subdistrict (街道): the 6-digit district code and a 3-digit subdistrict number,
    /// e.g. `430302001`.
    SubdistrictCode,
    "subdistrict code",
    9
);

division_code!(
    /// A community (社区, seat of a residents' committee): its subdistrict's code and a
    /// 3-digit community number, e.g. `430302001004`.
    CommunityCode,
    "community code",
    12
);

division_code!(
    /// A block (区块) of about 350 households with its "1+N+1" team: its community's code
    /// and a 3-digit block number, e.g. `430302001004017`. Block codes are unique across
    /// the country, as their prefixes are.
    BlockCode,
    "block code",
    15
);

impl SubdistrictCode {
    /// The 6-digit district (county-level) code, e.g. `430302`.
    pub fn district(&self) -> &str {
        &self.0[..6]
    }
}

impl CommunityCode {
    /// The subdistrict the community belongs to.
    pub fn subdistrict(&self) -> SubdistrictCode {
        // A valid community code's first nine digits are a valid subdistrict code.
        SubdistrictCode(self.0[..SubdistrictCode::DIGITS].to_owned())
    }
}

impl BlockCode {
    /// The community the block belongs to.
    pub fn community(&self) -> CommunityCode {
        // A valid block code's first twelve digits are a valid community code.
        CommunityCode(self.0[..CommunityCode::DIGITS].to_owned())
    }

    /// The subdistrict the block belongs to.
    pub fn subdistrict(&self) -> SubdistrictCode {
        SubdistrictCode(self.0[..SubdistrictCode::DIGITS].to_owned())
    }
}

string_code!(
    /// A named area whose responsibility does not follow administrative boundaries: a road
    /// owned by a department, a park across a boundary, a market. Slug shape, at most 64
    /// characters, e.g. `shaoshan-road-north`.
    AreaId,
    "area id",
    check_slug,
    64
);

string_code!(
    /// A per-place responsibility exception, e.g. `park-greenery-2024`. Slug shape, at most
    /// 64 characters.
    ExceptionId,
    "exception id",
    check_slug,
    64
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snake_department_code_parses_and_prints_unchanged() {
        let code = DepartmentCode::parse("human_resources_social_security").unwrap();
        assert_eq!(code.as_str(), "human_resources_social_security");
        assert_eq!(code.to_string(), "human_resources_social_security");
    }

    #[test]
    fn a_code_with_digits_after_the_first_letter_is_accepted() {
        assert!(MatterCode::parse("noise_2200_to_0600").is_ok());
    }

    #[test]
    fn an_empty_code_is_refused_naming_the_kind_of_code() {
        let error = DepartmentCode::parse("").unwrap_err();
        assert_eq!(
            error,
            CodeError::Empty {
                what: "department code"
            }
        );
        assert_eq!(error.to_string(), "department code is empty");
    }

    #[test]
    fn upper_case_spaces_hyphens_and_leading_digits_are_refused_in_snake_codes() {
        for bad in [
            "Urban_management",
            "urban management",
            "urban-management",
            "1st_department",
            "_urban",
            "urban_",
            "urban__management",
            "城管",
            " urban",
        ] {
            let error = DepartmentCode::parse(bad).unwrap_err();
            assert!(
                matches!(&error, CodeError::Malformed { value, .. } if value == bad),
                "{bad:?} gave {error:?}"
            );
        }
    }

    #[test]
    fn a_code_longer_than_its_maximum_is_refused() {
        let long = "a".repeat(DepartmentCode::MAX_LEN + 1);
        assert!(matches!(
            DepartmentCode::parse(&long),
            Err(CodeError::TooLong { max: 48, .. })
        ));
        assert!(DepartmentCode::parse(&"a".repeat(DepartmentCode::MAX_LEN)).is_ok());
    }

    #[test]
    fn a_slug_with_hyphen_separated_groups_parses() {
        for good in ["shaoshan-road-north", "park-2024", "017", "a"] {
            assert_eq!(AreaId::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn a_slug_with_empty_groups_underscores_or_capitals_is_refused() {
        for bad in [
            "-park",
            "park-",
            "riverside--park",
            "riverside_park",
            "Riverside-park",
            "riverside park",
            "雨湖公园",
        ] {
            let error = ExceptionId::parse(bad).unwrap_err();
            assert!(
                matches!(
                    &error,
                    CodeError::Malformed {
                        what: "exception id",
                        ..
                    }
                ),
                "{bad:?} gave {error:?}"
            );
        }
    }

    #[test]
    fn division_codes_of_each_level_parse_and_print_unchanged() {
        assert_eq!(
            SubdistrictCode::parse("430302001").unwrap().as_str(),
            "430302001"
        );
        assert_eq!(
            CommunityCode::parse("430302001004").unwrap().to_string(),
            "430302001004"
        );
        assert_eq!(
            "430302001004017".parse::<BlockCode>().unwrap().as_ref(),
            "430302001004017"
        );
    }

    #[test]
    fn a_division_code_of_another_levels_length_is_refused_naming_both_lengths() {
        let cases: [(&str, Result<(), CodeError>); 6] = [
            ("430302", SubdistrictCode::parse("430302").map(drop)),
            ("4303020010", SubdistrictCode::parse("4303020010").map(drop)),
            ("430302001", CommunityCode::parse("430302001").map(drop)),
            (
                "4303020010041",
                CommunityCode::parse("4303020010041").map(drop),
            ),
            ("430302001004", BlockCode::parse("430302001004").map(drop)),
            (
                "4303020010040170",
                BlockCode::parse("4303020010040170").map(drop),
            ),
        ];
        for (value, result) in cases {
            let error = result.unwrap_err();
            assert!(
                matches!(&error, CodeError::WrongLength { value: found, actual, .. }
                    if found == value && *actual == value.len()),
                "{value:?} gave {error:?}"
            );
        }
        let message = BlockCode::parse("430302001004").unwrap_err().to_string();
        assert_eq!(
            message,
            "block code \"430302001004\" must have exactly 15 digits, has 12 characters"
        );
    }

    #[test]
    fn a_division_code_with_anything_but_digits_is_refused_naming_the_character() {
        for (bad, found, position) in [
            ("43030200a", 'a', 8),
            (" 43030200", ' ', 0),
            ("430302-01", '-', 6),
            ("yuhu-lu", 'y', 0),
            ("４30302001", '４', 0),
            ("43030200１", '１', 8),
        ] {
            let error = SubdistrictCode::parse(bad).unwrap_err();
            assert_eq!(
                error,
                CodeError::NotADigit {
                    what: "subdistrict code",
                    value: bad.to_owned(),
                    found,
                    position,
                },
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_empty_division_code_is_refused_as_empty() {
        assert_eq!(
            CommunityCode::parse(""),
            Err(CodeError::Empty {
                what: "community code"
            })
        );
    }

    #[test]
    fn a_division_code_with_an_all_zero_part_is_refused_naming_the_part() {
        let cases = [
            ("003020010", "province part", "00"),
            ("430300001", "county part", "00"),
            ("430302000", "subdistrict number", "000"),
        ];
        for (bad, segment, digits) in cases {
            let error = SubdistrictCode::parse(bad).unwrap_err();
            assert_eq!(
                error,
                CodeError::ZeroSegment {
                    what: "subdistrict code",
                    value: bad.to_owned(),
                    segment,
                    digits: digits.to_owned(),
                },
                "{bad:?}"
            );
        }
        assert!(matches!(
            CommunityCode::parse("430302001000"),
            Err(CodeError::ZeroSegment {
                segment: "community number",
                ..
            })
        ));
        assert!(matches!(
            BlockCode::parse("430302001004000"),
            Err(CodeError::ZeroSegment {
                segment: "block number",
                ..
            })
        ));
        assert!(matches!(
            BlockCode::parse("430302000004017"),
            Err(CodeError::ZeroSegment {
                segment: "subdistrict number",
                ..
            })
        ));
        assert!(
            SubdistrictCode::parse("430302100").is_ok(),
            "zeros inside a part are fine"
        );
    }

    #[test]
    fn a_block_code_names_its_community_and_subdistrict() {
        let block = BlockCode::parse("430302001004017").unwrap();
        assert_eq!(block.community().as_str(), "430302001004");
        assert_eq!(block.subdistrict().as_str(), "430302001");
        assert_eq!(block.community().subdistrict(), block.subdistrict());
        assert_eq!(block.subdistrict().district(), "430302");
    }

    #[test]
    fn a_division_contains_exactly_the_divisions_whose_codes_start_with_its_own() {
        let subdistrict = SubdistrictCode::parse("430302001").unwrap();
        assert!(subdistrict.contains("430302001"));
        assert!(subdistrict.contains("430302001004"));
        assert!(subdistrict.contains("430302001004017"));
        assert!(!subdistrict.contains("430302002004017"));
        assert!(!subdistrict.contains("430302"));
        let community = CommunityCode::parse("430302001004").unwrap();
        assert!(!community.contains("430302001005017"));
    }

    #[test]
    fn division_codes_order_as_their_numbers_do() {
        let mut codes: Vec<BlockCode> = ["430302002001001", "430302001004017", "430302001004002"]
            .iter()
            .map(|code| BlockCode::parse(code).unwrap())
            .collect();
        codes.sort();
        let printed: Vec<&str> = codes.iter().map(BlockCode::as_str).collect();
        assert_eq!(
            printed,
            ["430302001004002", "430302001004017", "430302002001001"]
        );
    }

    #[test]
    fn a_malformed_code_error_names_the_value_and_the_expected_shape() {
        let message = AreaId::parse("Park").unwrap_err().to_string();
        assert!(message.contains("area id \"Park\""), "{message}");
        assert!(message.contains("hyphens"), "{message}");
    }

    #[test]
    fn codes_parse_through_from_str() {
        let code: ExceptionId = "park-greenery".parse().unwrap();
        assert_eq!(code.as_ref(), "park-greenery");
        assert!("Park".parse::<AreaId>().is_err());
    }
}
