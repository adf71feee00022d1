//! Codes and resource names: agencies, divisions, matters, cases, and the
//! names of the resources this service creates.
//!
//! Each type is built only through `parse`, so a value of the type is valid
//! wherever it travels (parse, don't validate). Errors say what was expected.

use std::fmt;

use uuid::Uuid;

/// Why a piece of input is not a valid value. Every variant names the kind of
/// value, so the API can say which field is wrong and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is {found} characters long; at most {max} are allowed")]
    TooLong {
        what: &'static str,
        max: usize,
        found: usize,
    },
    #[error("{what} {value:?} is malformed: expected {expected}")]
    Malformed {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
}

fn malformed(what: &'static str, value: &str, expected: &'static str) -> InvalidValue {
    InvalidValue::Malformed {
        what,
        value: value.to_owned(),
        expected,
    }
}

fn non_empty_within(what: &'static str, value: &str, max: usize) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::Empty { what });
    }
    let found = value.chars().count();
    if found > max {
        return Err(InvalidValue::TooLong { what, max, found });
    }
    Ok(())
}

const SNAKE_SHAPE: &str = "lower-case letters, digits and single underscores, starting with a letter (e.g. urban_management)";

/// Snake case as the duty lists spell department and matter codes.
fn is_snake(value: &str) -> bool {
    value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !value.ends_with('_')
        && !value.contains("__")
}

macro_rules! string_value {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
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
    };
}

string_value!(
    /// An enforcement agency, named by the duty lists' department code, e.g.
    /// `urban_management` (城管), `market_supervision` (市场监管),
    /// `public_security` (公安). Snake case, at most 48 characters.
    AgencyCode
);

impl AgencyCode {
    pub const MAX: usize = 48;

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        non_empty_within("agency code", value, Self::MAX)?;
        if !is_snake(value) {
            return Err(malformed("agency code", value, SNAKE_SHAPE));
        }
        Ok(Self(value.to_owned()))
    }

    /// Accepts `urban_management` or `agencies/urban_management`.
    pub fn parse_code_or_name(value: &str) -> Result<Self, InvalidValue> {
        Self::parse(value.strip_prefix("agencies/").unwrap_or(value))
    }

    /// `agencies/{code}`.
    pub fn resource_name(&self) -> String {
        format!("agencies/{}", self.0)
    }
}

string_value!(
    /// A matter from the duty lists' catalogue, e.g. `illegal_construction`.
    /// Snake case, at most 64 characters.
    MatterCode
);

impl MatterCode {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        non_empty_within("matter code", value, 64)?;
        if !is_snake(value) {
            return Err(malformed(
                "matter code",
                value,
                "lower-case letters, digits and single underscores, starting with a letter (e.g. illegal_construction)",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

fn digits(
    what: &'static str,
    value: &str,
    length: usize,
    expected: &'static str,
) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::Empty { what });
    }
    if value.len() != length || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(malformed(what, value, expected));
    }
    Ok(())
}

string_value!(
    /// A subdistrict (街道): the 9-digit division code, e.g. `430302001`.
    SubdistrictCode
);

impl SubdistrictCode {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        digits(
            "subdistrict code",
            value,
            9,
            "9 digits (district + subdistrict), e.g. 430302001",
        )?;
        Ok(Self(value.to_owned()))
    }
}

string_value!(
    /// A block (区块): the 15-digit code, e.g. `430302001004017`.
    BlockCode
);

impl BlockCode {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        digits(
            "block code",
            value,
            15,
            "15 digits (district, subdistrict, community, block), e.g. 430302001004017",
        )?;
        Ok(Self(value.to_owned()))
    }

    /// The block's subdistrict, from the hierarchical code.
    pub fn subdistrict(&self) -> SubdistrictCode {
        SubdistrictCode(self.0[..9].to_owned())
    }

    /// The block's community (12 digits), for the duty lists' place.
    pub fn community_code(&self) -> &str {
        &self.0[..12]
    }
}

string_value!(
    /// The cases service's resource name of a case, `cases/{id}`.
    CaseName
);

impl CaseName {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        non_empty_within("case", value, 80)?;
        let expected = "cases/{id} with an id of letters, digits, '-' or '_'";
        let id = value
            .strip_prefix("cases/")
            .ok_or_else(|| malformed("case", value, expected))?;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(malformed("case", value, expected));
        }
        Ok(Self(value.to_owned()))
    }
}

fn parse_uuid(
    what: &'static str,
    whole: &str,
    text: &str,
    expected: &'static str,
) -> Result<Uuid, InvalidValue> {
    // Only the canonical hyphenated lower-case form, so one resource has one name.
    let id = Uuid::parse_str(text).map_err(|_| malformed(what, whole, expected))?;
    if id.hyphenated().to_string() != text {
        return Err(malformed(what, whole, expected));
    }
    Ok(id)
}

/// `operations/{uuid}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationName(pub Uuid);

impl OperationName {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        const EXPECTED: &str = "operations/{uuid}";
        if value.is_empty() {
            return Err(InvalidValue::Empty { what: "operation" });
        }
        let id = value
            .strip_prefix("operations/")
            .ok_or_else(|| malformed("operation", value, EXPECTED))?;
        parse_uuid("operation", value, id, EXPECTED).map(Self)
    }
}

impl fmt::Display for OperationName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "operations/{}", self.0)
    }
}

/// `operations/{uuid}/actions/{uuid}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionName {
    pub operation: OperationName,
    pub id: Uuid,
}

impl ActionName {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        const EXPECTED: &str = "operations/{uuid}/actions/{uuid}";
        if value.is_empty() {
            return Err(InvalidValue::Empty { what: "action" });
        }
        let (operation, id) = value
            .split_once("/actions/")
            .ok_or_else(|| malformed("action", value, EXPECTED))?;
        let operation =
            OperationName::parse(operation).map_err(|_| malformed("action", value, EXPECTED))?;
        let id = parse_uuid("action", value, id, EXPECTED)?;
        Ok(Self { operation, id })
    }
}

impl fmt::Display for ActionName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/actions/{}", self.operation, self.id)
    }
}

/// A resource that belongs to an agency: `agencies/{code}/{collection}/{uuid}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgencyChildName {
    pub agency: AgencyCode,
    pub id: Uuid,
}

impl AgencyChildName {
    fn parse(
        what: &'static str,
        collection: &str,
        expected: &'static str,
        value: &str,
    ) -> Result<Self, InvalidValue> {
        if value.is_empty() {
            return Err(InvalidValue::Empty { what });
        }
        let rest = value
            .strip_prefix("agencies/")
            .ok_or_else(|| malformed(what, value, expected))?;
        let (agency, id) = rest
            .split_once(&format!("/{collection}/"))
            .ok_or_else(|| malformed(what, value, expected))?;
        let agency = AgencyCode::parse(agency).map_err(|_| malformed(what, value, expected))?;
        let id = parse_uuid(what, value, id, expected)?;
        Ok(Self { agency, id })
    }
}

/// `agencies/{code}/units/{uuid}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitName(pub AgencyChildName);

impl UnitName {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        AgencyChildName::parse("unit", "units", "agencies/{code}/units/{uuid}", value).map(Self)
    }

    pub fn new(agency: AgencyCode, id: Uuid) -> Self {
        Self(AgencyChildName { agency, id })
    }

    pub fn agency(&self) -> &AgencyCode {
        &self.0.agency
    }

    pub fn id(&self) -> Uuid {
        self.0.id
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "agencies/{}/units/{}", self.0.agency, self.0.id)
    }
}

/// `agencies/{code}/officers/{uuid}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OfficerName(pub AgencyChildName);

impl OfficerName {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        AgencyChildName::parse(
            "officer",
            "officers",
            "agencies/{code}/officers/{uuid}",
            value,
        )
        .map(Self)
    }

    pub fn new(agency: AgencyCode, id: Uuid) -> Self {
        Self(AgencyChildName { agency, id })
    }

    pub fn agency(&self) -> &AgencyCode {
        &self.0.agency
    }

    pub fn id(&self) -> Uuid {
        self.0.id
    }
}

impl fmt::Display for OfficerName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "agencies/{}/officers/{}",
            self.0.agency, self.0.id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_founding_agencies_are_valid_agency_codes() {
        for code in ["urban_management", "market_supervision", "public_security"] {
            assert_eq!(AgencyCode::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(
            AgencyCode::parse("agency9").unwrap().resource_name(),
            "agencies/agency9"
        );
    }

    #[test]
    fn an_agency_code_in_another_shape_is_refused_with_the_expected_shape() {
        for bad in [
            "Urban_management",
            "urban-management",
            "_urban",
            "urban_",
            "urban__management",
            "9urban",
            "城管",
            "urban management",
        ] {
            let error = AgencyCode::parse(bad).unwrap_err();
            assert!(
                matches!(error, InvalidValue::Malformed { .. }),
                "{bad}: {error}"
            );
            assert!(error.to_string().contains("urban_management"), "{error}");
        }
        assert_eq!(
            AgencyCode::parse("").unwrap_err(),
            InvalidValue::Empty {
                what: "agency code"
            }
        );
        assert!(matches!(
            AgencyCode::parse(&"a".repeat(49)).unwrap_err(),
            InvalidValue::TooLong {
                max: 48,
                found: 49,
                ..
            }
        ));
    }

    #[test]
    fn an_agency_may_be_named_by_code_or_by_resource_name() {
        assert_eq!(
            AgencyCode::parse_code_or_name("agencies/public_security").unwrap(),
            AgencyCode::parse("public_security").unwrap()
        );
        assert!(AgencyCode::parse_code_or_name("agencies/").is_err());
    }

    #[test]
    fn division_codes_have_fixed_numbers_of_digits() {
        assert!(SubdistrictCode::parse("430302001").is_ok());
        for bad in ["43030200", "4303020011", "43030200a", "yuhu-lu"] {
            assert!(SubdistrictCode::parse(bad).is_err(), "{bad}");
        }
        let block = BlockCode::parse("430302001004017").unwrap();
        assert_eq!(block.subdistrict().as_str(), "430302001");
        assert_eq!(block.community_code(), "430302001004");
        assert!(BlockCode::parse("43030200100401").is_err());
        assert!(BlockCode::parse("43030200100401x").is_err());
    }

    #[test]
    fn matter_codes_are_snake_case_like_the_duty_lists() {
        assert!(MatterCode::parse("illegal_construction").is_ok());
        assert!(MatterCode::parse("M-STREETLIGHT").is_err());
        assert!(MatterCode::parse("").is_err());
    }

    #[test]
    fn a_case_is_named_cases_slash_id() {
        assert!(CaseName::parse("cases/0193a1b2-0000-7000-8000-000000000001").is_ok());
        for bad in ["0193", "cases/", "case/1", "cases/a b", "cases/1/2"] {
            assert!(CaseName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resource_names_round_trip_and_refuse_other_shapes() {
        let id = Uuid::now_v7();
        let operation = format!("operations/{id}");
        assert_eq!(
            OperationName::parse(&operation).unwrap().to_string(),
            operation
        );
        let action = format!("{operation}/actions/{id}");
        assert_eq!(ActionName::parse(&action).unwrap().to_string(), action);
        let unit = format!("agencies/urban_management/units/{id}");
        let parsed = UnitName::parse(&unit).unwrap();
        assert_eq!(parsed.agency().as_str(), "urban_management");
        assert_eq!(parsed.to_string(), unit);
        let officer = format!("agencies/public_security/officers/{id}");
        assert_eq!(OfficerName::parse(&officer).unwrap().to_string(), officer);

        assert!(OperationName::parse("operations/42").is_err());
        assert!(OperationName::parse(&format!("operations/{}", id.simple())).is_err());
        assert!(
            OperationName::parse(&format!(
                "operations/{}",
                id.hyphenated().to_string().to_uppercase()
            ))
            .is_err()
        );
        assert!(ActionName::parse(&operation).is_err());
        assert!(
            UnitName::parse(&officer).is_err(),
            "an officer is not a unit"
        );
        assert!(OfficerName::parse(&format!("agencies/Bad/officers/{id}")).is_err());
        assert_eq!(
            OperationName::parse("").unwrap_err(),
            InvalidValue::Empty { what: "operation" }
        );
    }
}
