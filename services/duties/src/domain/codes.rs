//! Codes that name things: departments, matters, places, named areas and exceptions.
//!
//! Every code is a newtype with a `parse` constructor, so a value of the type is valid
//! wherever it travels. Two shapes are used:
//!
//! - **snake codes** (`urban_management`, `broken_street_light`): lower-case ASCII letters,
//!   digits and single underscores, starting with a letter, not ending with `_`. Used for
//!   department codes and matter codes, which people read in logs and command lines.
//! - **slugs** (`yuhu-lu`, `yuhu-lu-017`, `riverside-park`): lower-case ASCII letters and
//!   digits in groups joined by single hyphens. Used for subdistrict, community and block
//!   codes (owned by the blocks service, opaque here beyond their shape; block codes are
//!   globally unique), named area ids and exception ids.
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
}

const SNAKE_SHAPE: &str = "lower-case letters, digits and single underscores, starting with a letter (e.g. urban_management)";
const SLUG_SHAPE: &str =
    "lower-case letters and digits in groups joined by single hyphens (e.g. yuhu-lu-017)";

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
/// Seven codes share exactly this boilerplate, which is why it is a macro.
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

string_code!(
    /// A subdistrict (街道), e.g. `yuhu-lu`. Slug shape, at most 64 characters.
    SubdistrictCode,
    "subdistrict code",
    check_slug,
    64
);

string_code!(
    /// A community (社区, seat of a residents' committee), e.g. `yuhu-lu-jianshe`.
    /// Slug shape, at most 64 characters.
    CommunityCode,
    "community code",
    check_slug,
    64
);

string_code!(
    /// A block (区块) of about 350 households with its "1+N+1" team, e.g. `yuhu-lu-017`.
    /// Block codes are unique across the district. Slug shape, at most 64 characters.
    BlockCode,
    "block code",
    check_slug,
    64
);

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
        for good in ["yuhu-lu", "yuhu-lu-017", "017", "a"] {
            assert_eq!(BlockCode::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn a_slug_with_empty_groups_underscores_or_capitals_is_refused() {
        for bad in [
            "-yuhu",
            "yuhu-",
            "yuhu--lu",
            "yuhu_lu",
            "Yuhu-lu",
            "yuhu lu",
            "雨湖路",
        ] {
            let error = SubdistrictCode::parse(bad).unwrap_err();
            assert!(
                matches!(
                    &error,
                    CodeError::Malformed {
                        what: "subdistrict code",
                        ..
                    }
                ),
                "{bad:?} gave {error:?}"
            );
        }
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
        assert!("Park".parse::<CommunityCode>().is_err());
    }
}
