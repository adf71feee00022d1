//! Codes and resource names: agencies, divisions and matters (the platform's
//! vocabulary, `flatgov_vocabulary`), cases, and the names of the resources
//! this service creates.
//!
//! Each type is built only through `parse`, so a value of the type is valid
//! wherever it travels (parse, don't validate). Errors say what was expected.

use std::fmt;

use flatgov_vocabulary::{SnakeCodeError, id_in, name_of};
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

/// An enforcement agency, named by the duty lists' department code, e.g.
/// `urban_management` (城管), `market_supervision` (市场监管), `public_security` (公安).
pub use flatgov_vocabulary::DepartmentCode as AgencyCode;
pub use flatgov_vocabulary::{BlockCode, MatterCode, SubdistrictCode};

/// An agency given as `urban_management` or `agencies/urban_management`.
pub fn parse_agency(value: &str) -> Result<AgencyCode, SnakeCodeError> {
    AgencyCode::parse(value.strip_prefix("agencies/").unwrap_or(value))
}

/// `agencies/{code}`.
pub fn name_of_agency(code: &AgencyCode) -> String {
    name_of("agencies", code)
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
    };
}

string_value!(
    /// The cases service's resource name of a case, `cases/{id}`.
    CaseName
);

impl CaseName {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        non_empty_within("case", value, 80)?;
        let expected = "cases/{id} with an id of letters, digits, '-' or '_'";
        let id = id_in(value, "cases").map_err(|_| malformed("case", value, expected))?;
        if !id
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
        let id = id_in(value, "operations").map_err(|_| malformed("operation", value, EXPECTED))?;
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

/// `agencies/{code}/units/{uuid}/shifts/{uuid}`: a shift of a unit's duty
/// roster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShiftName {
    pub unit: UnitName,
    pub id: Uuid,
}

impl ShiftName {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        const EXPECTED: &str = "agencies/{code}/units/{uuid}/shifts/{uuid}";
        if value.is_empty() {
            return Err(InvalidValue::Empty { what: "shift" });
        }
        let (unit, id) = value
            .split_once("/shifts/")
            .ok_or_else(|| malformed("shift", value, EXPECTED))?;
        let unit = UnitName::parse(unit).map_err(|_| malformed("shift", value, EXPECTED))?;
        let id = parse_uuid("shift", value, id, EXPECTED)?;
        Ok(Self { unit, id })
    }
}

impl fmt::Display for ShiftName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/shifts/{}", self.unit, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agency_may_be_named_by_code_or_by_resource_name() {
        let code = AgencyCode::parse("public_security").unwrap();
        assert_eq!(parse_agency("agencies/public_security").unwrap(), code);
        assert_eq!(parse_agency("public_security").unwrap(), code);
        assert_eq!(name_of_agency(&code), "agencies/public_security");
        assert!(parse_agency("agencies/").is_err());
        assert!(parse_agency("agencies/Public").is_err());
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
        let shift = format!("agencies/public_security/units/{id}/shifts/{id}");
        assert_eq!(ShiftName::parse(&shift).unwrap().to_string(), shift);
        assert!(ShiftName::parse(&format!("agencies/public_security/units/{id}")).is_err());
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
