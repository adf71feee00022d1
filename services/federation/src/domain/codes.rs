//! Codes and resource names: organisation and series codes, division codes,
//! case names, and the `collection/{id}` names of what this service creates.

use std::fmt;

use uuid::Uuid;

use super::Invalid;

/// A snake-case code of 2 to 48 characters starting with a letter, e.g.
/// `womens_federation` or `youth_night_school`. Organisation codes are the
/// `org` claim of staff tokens and appear in events, so they never change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(String);

impl Code {
    pub const MAX_LENGTH: usize = 48;

    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let value = value.trim();
        if value.is_empty() {
            return Err(Invalid::new("must not be empty"));
        }
        if value.len() < 2 || value.len() > Self::MAX_LENGTH {
            return Err(Invalid::new(format!(
                "`{value}` must be 2 to {} characters long",
                Self::MAX_LENGTH
            )));
        }
        let mut characters = value.chars();
        let first_is_letter = characters
            .next()
            .is_some_and(|first| first.is_ascii_lowercase());
        let rest_is_snake_case = characters.all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_'
        });
        if !first_is_letter || !rest_is_snake_case {
            return Err(Invalid::new(format!(
                "`{value}` must be snake case: lower-case letters, digits and underscores, starting with a letter"
            )));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A member organisation's code.
pub type OrganisationCode = Code;

/// `organisations/{code}`, or the bare code: request fields that name an
/// organisation accept both.
pub fn parse_organisation_reference(value: &str) -> Result<OrganisationCode, Invalid> {
    let value = value.trim();
    let code = value.strip_prefix("organisations/").unwrap_or(value);
    Code::parse(code)
}

pub fn organisation_name(code: &str) -> String {
    format!("organisations/{code}")
}

pub fn series_name(code: &str) -> String {
    format!("series/{code}")
}

/// `series/{code}`.
pub fn parse_series_name(value: &str) -> Result<Code, Invalid> {
    let code = value
        .trim()
        .strip_prefix("series/")
        .ok_or_else(|| Invalid::new(format!("`{value}` must look like series/youth_home")))?;
    Code::parse(code)
}

/// The level of an administrative division, known from its code's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DivisionLevel {
    District,
    Subdistrict,
    Community,
    Block,
}

/// A division code: 6 (district), 9 (subdistrict), 12 (community) or 15
/// (block) digits; each level extends its parent's code, so "inside" is a
/// prefix test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DivisionCode {
    code: String,
    level: DivisionLevel,
}

impl DivisionCode {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let value = value.trim();
        if !value.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(Invalid::new(format!(
                "`{value}` must consist of digits only"
            )));
        }
        let level = match value.len() {
            6 => DivisionLevel::District,
            9 => DivisionLevel::Subdistrict,
            12 => DivisionLevel::Community,
            15 => DivisionLevel::Block,
            length => {
                return Err(Invalid::new(format!(
                    "`{value}` has {length} digits; a division code has 6 (district), 9 (subdistrict), 12 (community) or 15 (block)"
                )));
            }
        };
        Ok(Self {
            code: value.to_owned(),
            level,
        })
    }

    pub fn level(&self) -> DivisionLevel {
        self.level
    }

    pub fn as_str(&self) -> &str {
        &self.code
    }
}

/// A 15-digit block code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlockCode(String);

impl BlockCode {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let division = DivisionCode::parse(value)?;
        if division.level() != DivisionLevel::Block {
            return Err(Invalid::new(format!(
                "`{}` is not a block code: a block code has 15 digits",
                value.trim()
            )));
        }
        Ok(Self(division.code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `cases/{id}`: a case of the cases service, referred to by name only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseName(String);

impl CaseName {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let value = value.trim();
        let id = value
            .strip_prefix("cases/")
            .ok_or_else(|| Invalid::new(format!("`{value}` must look like cases/{{id}}")))?;
        let well_formed = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|character| {
                character.is_ascii_alphanumeric() || character == '-' || character == '_'
            });
        if !well_formed {
            return Err(Invalid::new(format!(
                "`{value}`: a case id is 1 to 64 letters, digits, hyphens or underscores"
            )));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collections of resources this service creates, named `{collection}/{uuid}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Activities,
    Registrations,
    People,
    Assessments,
    SupportPlans,
    Measures,
    Visits,
    Referrals,
    RightsRequests,
    Programmes,
    Applications,
    Mentors,
    Proposals,
    SharingRequests,
}

impl Collection {
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Activities => "activities",
            Collection::Registrations => "registrations",
            Collection::People => "people",
            Collection::Assessments => "assessments",
            Collection::SupportPlans => "support-plans",
            Collection::Measures => "measures",
            Collection::Visits => "visits",
            Collection::Referrals => "referrals",
            Collection::RightsRequests => "rights-requests",
            Collection::Programmes => "programmes",
            Collection::Applications => "applications",
            Collection::Mentors => "mentors",
            Collection::Proposals => "proposals",
            Collection::SharingRequests => "sharing-requests",
        }
    }

    /// `activities/{id}`.
    pub fn name(self, id: Uuid) -> String {
        format!("{}/{id}", self.as_str())
    }

    /// `activities/{parent}/registrations/{id}`.
    pub fn child_name(self, parent_id: Uuid, child: Collection, child_id: Uuid) -> String {
        format!(
            "{}/{parent_id}/{}/{child_id}",
            self.as_str(),
            child.as_str()
        )
    }

    /// The id in `{collection}/{uuid}`.
    pub fn parse(self, value: &str) -> Result<Uuid, Invalid> {
        let value = value.trim();
        let id = value
            .strip_prefix(self.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| {
                Invalid::new(format!(
                    "`{value}` must look like {}/{{uuid}}",
                    self.as_str()
                ))
            })?;
        Uuid::parse_str(id).map_err(|_| Invalid::new(format!("`{value}`: `{id}` is not a UUID")))
    }

    /// The parent and child ids in `{collection}/{uuid}/{child}/{uuid}`.
    pub fn parse_child(self, child: Collection, value: &str) -> Result<(Uuid, Uuid), Invalid> {
        let value = value.trim();
        let shape = || {
            Invalid::new(format!(
                "`{value}` must look like {}/{{uuid}}/{}/{{uuid}}",
                self.as_str(),
                child.as_str()
            ))
        };
        let rest = value
            .strip_prefix(self.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(shape)?;
        let (parent_id, rest) = rest.split_once('/').ok_or_else(shape)?;
        let child_id = rest
            .strip_prefix(child.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(shape)?;
        let parse = |id: &str| {
            Uuid::parse_str(id)
                .map_err(|_| Invalid::new(format!("`{value}`: `{id}` is not a UUID")))
        };
        Ok((parse(parent_id)?, parse(child_id)?))
    }
}

/// An optional `request_id`, by the platform-wide rule
/// ([`flatgov_grpc::request_id`]): empty means none.
pub fn parse_request_id(
    value: &str,
) -> Result<Option<flatgov_grpc::request_id::RequestId>, Invalid> {
    flatgov_grpc::request_id::RequestId::parse_optional(value)
        .map_err(|error| Invalid::new(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snake_case_code_is_accepted_and_trimmed() {
        assert_eq!(
            Code::parse(" womens_federation ").unwrap().as_str(),
            "womens_federation"
        );
        assert_eq!(Code::parse("a1").unwrap().as_str(), "a1");
    }

    #[test]
    fn a_code_with_capitals_hyphens_or_a_leading_digit_is_refused_with_the_rule() {
        for bad in [
            "Womens",
            "womens-federation",
            "1st_union",
            "_youth",
            "妇联",
            "a b",
        ] {
            let error = Code::parse(bad).unwrap_err();
            assert!(error.0.contains("snake case"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_code_of_the_wrong_length_is_refused() {
        assert!(Code::parse("a").unwrap_err().0.contains("2 to 48"));
        assert!(
            Code::parse(&"a".repeat(49))
                .unwrap_err()
                .0
                .contains("2 to 48")
        );
        assert!(Code::parse(&"a".repeat(48)).is_ok());
        assert!(Code::parse("  ").unwrap_err().0.contains("empty"));
    }

    #[test]
    fn an_organisation_may_be_named_by_resource_name_or_code() {
        assert_eq!(
            parse_organisation_reference("organisations/red_cross")
                .unwrap()
                .as_str(),
            "red_cross"
        );
        assert_eq!(
            parse_organisation_reference("red_cross").unwrap().as_str(),
            "red_cross"
        );
        assert!(parse_organisation_reference("organisations/Red Cross").is_err());
    }

    #[test]
    fn series_names_need_their_collection() {
        assert_eq!(
            parse_series_name("series/youth_home").unwrap().as_str(),
            "youth_home"
        );
        assert!(
            parse_series_name("youth_home")
                .unwrap_err()
                .0
                .contains("series/youth_home")
        );
    }

    #[test]
    fn division_codes_know_their_level_from_their_length() {
        assert_eq!(
            DivisionCode::parse("430302").unwrap().level(),
            DivisionLevel::District
        );
        assert_eq!(
            DivisionCode::parse("430302001").unwrap().level(),
            DivisionLevel::Subdistrict
        );
        assert_eq!(
            DivisionCode::parse("430302001004").unwrap().level(),
            DivisionLevel::Community
        );
        assert_eq!(
            DivisionCode::parse("430302001004017").unwrap().level(),
            DivisionLevel::Block
        );
        assert!(
            DivisionCode::parse("4303020")
                .unwrap_err()
                .0
                .contains("7 digits")
        );
        assert!(
            DivisionCode::parse("43030200a")
                .unwrap_err()
                .0
                .contains("digits only")
        );
    }

    #[test]
    fn a_block_code_has_fifteen_digits() {
        assert_eq!(
            BlockCode::parse("430302001004017").unwrap().as_str(),
            "430302001004017"
        );
        assert!(
            BlockCode::parse("430302001004")
                .unwrap_err()
                .0
                .contains("not a block code")
        );
    }

    #[test]
    fn case_names_are_checked_for_shape_only() {
        assert!(CaseName::parse("cases/0193a3c2-7d1e-7000-8000-000000000001").is_ok());
        assert!(CaseName::parse("cases/").is_err());
        assert!(CaseName::parse("case/1").is_err());
        assert!(CaseName::parse("cases/a/b").is_err());
        assert!(CaseName::parse(&format!("cases/{}", "a".repeat(65))).is_err());
    }

    #[test]
    fn resource_names_round_trip_and_refuse_other_collections() {
        let id = Uuid::now_v7();
        let name = Collection::Activities.name(id);
        assert_eq!(Collection::Activities.parse(&name).unwrap(), id);
        let error = Collection::Proposals.parse(&name).unwrap_err();
        assert!(error.0.contains("proposals/{uuid}"), "{error}");
        assert!(
            Collection::Activities
                .parse("activities/not-a-uuid")
                .unwrap_err()
                .0
                .contains("not a UUID")
        );
        assert!(
            Collection::Activities
                .parse(&format!("activitiesx/{id}"))
                .is_err()
        );
    }

    #[test]
    fn child_names_round_trip_and_name_the_expected_shape() {
        let parent = Uuid::now_v7();
        let child = Uuid::now_v7();
        let name = Collection::SupportPlans.child_name(parent, Collection::Measures, child);
        assert_eq!(name, format!("support-plans/{parent}/measures/{child}"));
        assert_eq!(
            Collection::SupportPlans
                .parse_child(Collection::Measures, &name)
                .unwrap(),
            (parent, child)
        );
        let error = Collection::SupportPlans
            .parse_child(Collection::Visits, &name)
            .unwrap_err();
        assert!(
            error.0.contains("support-plans/{uuid}/visits/{uuid}"),
            "{error}"
        );
    }

    #[test]
    fn a_request_id_follows_the_platform_rule() {
        assert!(parse_request_id("").unwrap().is_none());
        let id = Uuid::new_v4().to_string();
        assert_eq!(parse_request_id(&id).unwrap().unwrap().as_str(), id);
        assert_eq!(
            parse_request_id(" retry-1 ").unwrap().unwrap().as_str(),
            "retry-1"
        );
        assert!(parse_request_id("retry 1").is_err());
    }
}
