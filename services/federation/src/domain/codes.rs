//! Codes and resource names: organisation and division codes (the platform's
//! vocabulary, `flatgov_vocabulary`), series codes, case names, and the
//! `collection/{id}` names of what this service creates.

use flatgov_vocabulary::{id_in, name_of};
use uuid::Uuid;

use super::Invalid;

pub use flatgov_vocabulary::{BlockCode, DivisionCode, DivisionLevel, OrganisationCode};

flatgov_vocabulary::snake_code!(
    /// A series of joint activities, e.g. `youth_night_school`: the `series/{code}`
    /// an activity belongs to.
    SeriesCode, "series code", 48, "youth_night_school"
);

impl From<flatgov_vocabulary::SnakeCodeError> for Invalid {
    fn from(error: flatgov_vocabulary::SnakeCodeError) -> Self {
        Invalid::new(error.to_string())
    }
}

impl From<flatgov_vocabulary::CodeError> for Invalid {
    fn from(error: flatgov_vocabulary::CodeError) -> Self {
        Invalid::new(error.to_string())
    }
}

/// `organisations/{code}`, or the bare code: request fields that name an
/// organisation accept both.
pub fn parse_organisation_reference(value: &str) -> Result<OrganisationCode, Invalid> {
    let value = value.trim();
    let code = value.strip_prefix("organisations/").unwrap_or(value);
    Ok(OrganisationCode::parse(code)?)
}

pub fn organisation_name(code: &str) -> String {
    name_of("organisations", code)
}

pub fn series_name(code: &str) -> String {
    name_of("series", code)
}

/// `series/{code}`.
pub fn parse_series_name(value: &str) -> Result<SeriesCode, Invalid> {
    let code = id_in(value.trim(), "series")
        .map_err(|_| Invalid::new(format!("`{value}` must look like series/youth_home")))?;
    Ok(SeriesCode::parse(code)?)
}

/// `cases/{id}`: a case of the cases service, referred to by name only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseName(String);

impl CaseName {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let value = value.trim();
        let id = id_in(value, "cases")
            .map_err(|_| Invalid::new(format!("`{value}` must look like cases/{{id}}")))?;
        let well_formed = id.len() <= 64
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
        let id = id_in(value, self.as_str()).map_err(|_| {
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
        assert_eq!(
            parse_organisation_reference(" red_cross ")
                .unwrap()
                .as_str(),
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
