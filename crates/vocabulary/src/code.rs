//! Snake-case codes people read in logs and command lines: matter codes
//! (`broken_street_light`), department and agency codes (`urban_management`),
//! organisation codes (`womens_federation`). One rule for all: lower-case ASCII
//! letters, digits and single underscores, starting with a letter, not ending with `_`.

/// Why a text is not a valid code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnakeCodeError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} {value:?} is longer than {max} characters")]
    TooLong {
        what: &'static str,
        value: String,
        max: usize,
    },
    #[error(
        "{what} {value:?} is malformed: expected lower-case letters, digits and single underscores, starting with a letter (e.g. {example})"
    )]
    Malformed {
        what: &'static str,
        value: String,
        example: &'static str,
    },
}

/// Checks `value` against the one snake-case rule, naming it `what` in refusals and
/// offering `example` as a good one. For a service's own snake-case codes, declare a
/// type with [`snake_code!`](crate::snake_code) rather than calling this.
pub fn check_snake(
    value: &str,
    what: &'static str,
    max: usize,
    example: &'static str,
) -> Result<(), SnakeCodeError> {
    if value.is_empty() {
        return Err(SnakeCodeError::Empty { what });
    }
    if value.chars().count() > max {
        return Err(SnakeCodeError::TooLong {
            what,
            value: value.to_owned(),
            max,
        });
    }
    let well_formed = value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !value.ends_with('_')
        && !value.contains("__");
    if well_formed {
        Ok(())
    } else {
        Err(SnakeCodeError::Malformed {
            what,
            value: value.to_owned(),
            example,
        })
    }
}

/// Declares a snake-case code type: a `String` newtype built only through `parse`,
/// which runs [`check_snake`], with `Display`, `Debug`, `FromStr`, `AsRef<str>` and serde
/// going through `parse`. The vocabulary's own codes are declared with it, and a service
/// declares its own snake-case words (a series code, say) the same way, so there is one rule:
///
/// ```
/// flatgov_vocabulary::snake_code!(
///     /// A series of activities, e.g. `youth_night_school`.
///     SeriesCode, "series code", 48, "youth_night_school"
/// );
/// assert!(SeriesCode::parse("youth_night_school").is_ok());
/// assert!(SeriesCode::parse("Youth").is_err());
/// ```
#[macro_export]
macro_rules! snake_code {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest code, in characters.
            pub const MAX_CHARS: usize = $max;

            pub fn parse(value: &str) -> ::std::result::Result<Self, $crate::SnakeCodeError> {
                $crate::code::check_snake(value, $what, $max, $example)
                    .map(|()| Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::SnakeCodeError;
            fn from_str(value: &str) -> ::std::result::Result<Self, $crate::SnakeCodeError> {
                Self::parse(value)
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let text = <String as $crate::__serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&text).map_err(<D::Error as $crate::__serde::de::Error>::custom)
            }
        }
    };
}

snake_code!(
    /// A matter of the duty lists' catalogue, e.g. `broken_street_light`.
    MatterCode, "matter code", 64, "broken_street_light"
);
snake_code!(
    /// A department or enforcement agency, e.g. `urban_management` (the `org` claim
    /// of its officers' tokens).
    DepartmentCode, "department code", 48, "urban_management"
);
snake_code!(
    /// A member organisation of the federation, e.g. `womens_federation` (the `org`
    /// claim of its staff's tokens).
    OrganisationCode, "organisation code", 48, "womens_federation"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_lower_snake_case_starting_with_a_letter() {
        for good in ["broken_street_light", "m2", "urban_management", "a"] {
            assert!(MatterCode::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Broken",
            "2fast",
            "a__b",
            "trailing_",
            "ENV-03.2",
            "has space",
            "路灯",
        ] {
            assert!(MatterCode::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            DepartmentCode::parse(&"a".repeat(49)),
            Err(SnakeCodeError::TooLong { max: 48, .. })
        ));
        assert!(matches!(
            OrganisationCode::parse(&"a".repeat(49)),
            Err(SnakeCodeError::TooLong { max: 48, .. })
        ));
        assert!(
            DepartmentCode::parse("Urban")
                .unwrap_err()
                .to_string()
                .contains("e.g. urban_management")
        );
    }

    #[test]
    fn an_empty_code_is_refused_naming_the_kind_of_code() {
        let error = DepartmentCode::parse("").unwrap_err();
        assert_eq!(
            error,
            SnakeCodeError::Empty {
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
            "M-STREETLIGHT",
        ] {
            let error = DepartmentCode::parse(bad).unwrap_err();
            assert!(
                matches!(&error, SnakeCodeError::Malformed { value, .. } if value == bad),
                "{bad:?} gave {error:?}"
            );
        }
        assert!(MatterCode::parse("noise_2200_to_0600").is_ok());
        assert_eq!(
            "human_resources_social_security"
                .parse::<DepartmentCode>()
                .unwrap()
                .to_string(),
            "human_resources_social_security"
        );
    }

    #[test]
    fn a_code_longer_than_its_maximum_is_refused_and_one_at_it_accepted() {
        let long = "a".repeat(DepartmentCode::MAX_CHARS + 1);
        assert!(matches!(
            DepartmentCode::parse(&long),
            Err(SnakeCodeError::TooLong { max: 48, .. })
        ));
        assert!(DepartmentCode::parse(&"a".repeat(DepartmentCode::MAX_CHARS)).is_ok());
        assert!(MatterCode::parse(&"m".repeat(64)).is_ok());
        assert!(MatterCode::parse(&"m".repeat(65)).is_err());
    }
}
