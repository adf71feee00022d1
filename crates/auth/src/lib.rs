//! Who is calling, and may they do this?
//!
//! Callers present a bearer JWT. The [`Verifier`] checks it — the platform's own
//! tokens against the key set chosen by `kid` ([`keys`]), people's tokens from the
//! government's OpenID Connect provider against its keys with their claims mapped
//! ([`oidc`]) — and turns it into a [`Caller`]; the chassis' authorization layer does
//! so on every gRPC call and enforces the service's [`policy`] table before any
//! handler runs. A missing or invalid token is `UNAUTHENTICATED`; a valid token
//! whose roles the table does not grant is `PERMISSION_DENIED`. Each service signs
//! its calls to others with its own key ([`ServiceCredentials`]), which verifiers
//! accept for that service's own `service` token and nothing else.
//!
//! Jurisdictions are resource names of administrative divisions
//! (`districts/430302`, `subdistricts/430302001`, `communities/430302001001`,
//! `blocks/430302001001001`). Division codes are hierarchical (each level
//! appends digits to its parent's code), so a jurisdiction covers a place
//! exactly when its code is a prefix of the place's code.

pub mod keys;
pub mod oidc;
pub mod policy;
mod signer;
mod verifier;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

pub use signer::{PLATFORM_AUDIENCES, ServiceCredentials, Signer, TokenRequest};
pub use verifier::{AuthConfig, Verifier, audience_of};

/// A caller's role. Roles are coarse; jurisdiction and organisation narrow
/// what a role may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Manages boundaries, teams, duty lists and reference data district-wide.
    DistrictAdmin,
    /// Runs a subdistrict's comprehensive coordination platform.
    SubdistrictDispatcher,
    /// A block's governor (治理员), the front line.
    Governor,
    /// A block's assistant (协理员).
    Assistant,
    /// A block's supervisor (监督员), who verifies.
    Supervisor,
    /// An officer of a department or enforcement agency; `org` names it.
    DepartmentOfficer,
    /// Staff of a mass organisation in the federation; `org` names it.
    FederationStaff,
    /// A read-only outside system.
    Integrator,
    /// A resident using the app or WeChat channel.
    Resident,
    /// Another flatgov service acting on its own behalf.
    Service,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::DistrictAdmin,
        Role::SubdistrictDispatcher,
        Role::Governor,
        Role::Assistant,
        Role::Supervisor,
        Role::DepartmentOfficer,
        Role::FederationStaff,
        Role::Integrator,
        Role::Resident,
        Role::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::DistrictAdmin => "district_admin",
            Role::SubdistrictDispatcher => "subdistrict_dispatcher",
            Role::Governor => "governor",
            Role::Assistant => "assistant",
            Role::Supervisor => "supervisor",
            Role::DepartmentOfficer => "department_officer",
            Role::FederationStaff => "federation_staff",
            Role::Integrator => "integrator",
            Role::Resident => "resident",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| {
                let known: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
                format!("unknown role {value:?}; known roles: {}", known.join(", "))
            })
    }
}

pub use flatgov_vocabulary::{DivisionCode, DivisionLevel};

/// A division a caller is responsible for, e.g. `subdistricts/430302001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Jurisdiction {
    division: DivisionCode,
}

impl Jurisdiction {
    pub fn level(&self) -> DivisionLevel {
        self.division.level()
    }

    /// The division, e.g. `subdistricts/430302001`.
    pub fn division(&self) -> DivisionCode {
        self.division
    }

    /// The division code, e.g. `430302001`.
    pub fn code(&self) -> &str {
        self.division.as_str()
    }

    /// True when `division` lies inside this jurisdiction (including the
    /// jurisdiction itself).
    pub fn covers(&self, division: &DivisionCode) -> bool {
        self.division.covers(division)
    }
}

impl From<DivisionCode> for Jurisdiction {
    fn from(division: DivisionCode) -> Self {
        Self { division }
    }
}

impl FromStr for Jurisdiction {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (collection, code) = value.split_once('/').ok_or_else(|| {
            format!("jurisdiction {value:?} must look like subdistricts/430302001")
        })?;
        let level = DivisionLevel::ALL
            .into_iter()
            .find(|level| level.collection() == collection)
            .ok_or_else(|| {
                format!("jurisdiction {value:?}: {collection:?} is not districts, subdistricts, communities or blocks")
            })?;
        let division = match level {
            DivisionLevel::District => {
                flatgov_vocabulary::DistrictCode::parse(code).map(DivisionCode::from)
            }
            DivisionLevel::Subdistrict => {
                flatgov_vocabulary::SubdistrictCode::parse(code).map(DivisionCode::from)
            }
            DivisionLevel::Community => {
                flatgov_vocabulary::CommunityCode::parse(code).map(DivisionCode::from)
            }
            DivisionLevel::Block => {
                flatgov_vocabulary::BlockCode::parse(code).map(DivisionCode::from)
            }
        }
        .map_err(|error| format!("jurisdiction {value:?}: {error}"))?;
        Ok(Self { division })
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.division.name())
    }
}

/// The verified identity behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Stable id of the person or system (`sub`), e.g. a staff id.
    pub subject: String,
    /// What the caller may do.
    pub roles: BTreeSet<Role>,
    /// The department, agency or mass organisation the caller acts for.
    pub organisation: Option<String>,
    /// The divisions the caller is responsible for.
    pub jurisdictions: Vec<Jurisdiction>,
}

impl Caller {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.has_role(*role))
    }

    /// True when one of the caller's jurisdictions contains `division` (a
    /// district, subdistrict, community or block).
    pub fn covers(&self, division: &DivisionCode) -> bool {
        self.jurisdictions
            .iter()
            .any(|jurisdiction| jurisdiction.covers(division))
    }
}

/// Why a token was refused; shown to the caller as `UNAUTHENTICATED`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token: send `authorization: Bearer <jwt>`")]
    MissingToken,
    #[error("malformed authorization header: expected `Bearer <jwt>`")]
    MalformedHeader,
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("invalid token claims: {0}")]
    InvalidClaims(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller_with(roles: &[Role], jurisdictions: &[&str]) -> Caller {
        Caller {
            subject: "staff-1".into(),
            roles: roles.iter().copied().collect(),
            organisation: None,
            jurisdictions: jurisdictions
                .iter()
                .map(|name| name.parse().unwrap())
                .collect(),
        }
    }

    #[test]
    fn a_subdistrict_jurisdiction_covers_its_communities_and_blocks_only() {
        let dispatcher = caller_with(&[Role::SubdistrictDispatcher], &["subdistricts/430302001"]);
        let covers = |code: &str| dispatcher.covers(&DivisionCode::parse(code).unwrap());
        assert!(covers("430302001"));
        assert!(covers("430302001004"));
        assert!(covers("430302001004017"));
        assert!(!covers("430302002004017"));
        assert!(!covers("430302"));
    }

    #[test]
    fn a_jurisdiction_with_a_code_of_the_wrong_length_is_refused_with_the_rule() {
        let error = "subdistricts/4303020".parse::<Jurisdiction>().unwrap_err();
        assert!(error.contains("9 digits"), "{error}");
        let error = "subdistricts/430302000"
            .parse::<Jurisdiction>()
            .unwrap_err();
        assert!(error.contains("must not be all zeros"), "{error}");
        let error = "towns/430302001".parse::<Jurisdiction>().unwrap_err();
        assert!(error.contains("\"towns\""), "{error}");
        assert!("blocks/430302001004017".parse::<Jurisdiction>().is_ok());
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("mayor".parse::<Role>().unwrap_err().contains("known roles"));
    }
}
