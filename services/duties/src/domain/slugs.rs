//! The duty lists' own ids: named areas and exceptions, which administrators make up.
//!
//! They are **slugs** (`shaoshan-road-north`, `park-greenery-2024`): lower-case ASCII
//! letters and digits in groups joined by single hyphens. Department, matter and division
//! codes are the platform's shared words, parsed by `flatgov_vocabulary`; list item codes
//! have their own structured format ([`crate::domain::ItemCode`]).

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    /// The string is empty (slugs are never trimmed).
    #[error("{what} is empty")]
    Empty {
        /// Which kind of id was being parsed, e.g. "area id".
        what: &'static str,
    },
    /// The string is longer than the kind of id allows.
    #[error("{what} {value:?} is longer than {max} characters")]
    TooLong {
        /// Which kind of id was being parsed.
        what: &'static str,
        /// The offending value.
        value: String,
        /// The longest allowed length.
        max: usize,
    },
    /// The string has characters or a structure a slug does not allow.
    #[error("{what} {value:?} is malformed: expected {expected}")]
    Malformed {
        /// Which kind of id was being parsed.
        what: &'static str,
        /// The offending value.
        value: String,
        /// The expected shape, in words.
        expected: &'static str,
    },
}

const SLUG_SHAPE: &str =
    "lower-case letters and digits in groups joined by single hyphens (e.g. shaoshan-road-north)";

fn check_slug(what: &'static str, value: &str, max: usize) -> Result<(), SlugError> {
    if value.is_empty() {
        return Err(SlugError::Empty { what });
    }
    if value.chars().count() > max {
        return Err(SlugError::TooLong {
            what,
            value: value.to_owned(),
            max,
        });
    }
    let every_group_is_alphanumeric = value.split('-').all(|group| {
        !group.is_empty()
            && group
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if !every_group_is_alphanumeric {
        return Err(SlugError::Malformed {
            what,
            value: value.to_owned(),
            expected: SLUG_SHAPE,
        });
    }
    Ok(())
}

/// Defines a slug newtype whose only constructor is `parse(&str)`.
macro_rules! slug {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest value, in characters.
            pub const MAX_LEN: usize = $max;

            /// Parses a slug, refusing anything outside its documented shape.
            pub fn parse(value: &str) -> Result<Self, SlugError> {
                check_slug($what, value, $max)?;
                Ok(Self(value.to_owned()))
            }

            /// The slug as text.
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
            type Err = SlugError;

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

slug!(
    /// A named area whose responsibility does not follow administrative boundaries: a road
    /// owned by a department, a park across a boundary, a market. At most 64 characters,
    /// e.g. `shaoshan-road-north`.
    AreaId,
    "area id",
    64
);

slug!(
    /// A per-place responsibility exception, e.g. `park-greenery-2024`. At most 64
    /// characters.
    ExceptionId,
    "exception id",
    64
);

#[cfg(test)]
mod tests {
    use super::*;

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
                    SlugError::Malformed {
                        what: "exception id",
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
        assert!("Park".parse::<AreaId>().is_err());
    }
}
