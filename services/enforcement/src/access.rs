//! The caller's reach, as this service's resources need it: which
//! operations, units and officers a call's [`Access`] reaches, what of
//! them it is shown, and the agency an officer acts for.
//!
//! Roles were decided by the policy table before the handler ran; these
//! are the scope checks that need data, asked the same way everywhere.

use std::collections::BTreeSet;

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Resource, Scope};

use crate::domain::{AgencyCode, Viewer};
use crate::error::Error;
use crate::policy::POLICY;
use crate::store::Reach;

/// Whether the caller reaches an operation placed in `place` (its block,
/// or its subdistrict) that summoned `summoned`: by place, or through its
/// agency.
pub fn reaches_operation(access: &Access, place: &str, summoned: &[&str]) -> bool {
    access.reaches(&Resource::in_division(place).involving(summoned))
}

/// Whether the caller's grant reaches the place itself (coordinators of a
/// place, not officers of a summoned agency).
pub fn reaches_place(access: &Access, place: &str) -> bool {
    access.reaches(&Resource::in_division(place))
}

/// Whether the caller acts for `agency` on an operation (an officer of
/// it, reaching operations through their agency).
pub fn acts_for(access: &Access, agency: &str) -> bool {
    access.reaches(&Resource::default().involving(&[agency]))
}

/// Whether the caller reaches the units and officers of `agency`.
pub fn reaches_agency_staff(access: &Access, agency: &AgencyCode) -> bool {
    access.reaches(&Resource::default().held_by(&[agency.as_str()]))
}

/// The operations a list may show the caller, for the query to narrow to.
pub fn reach(access: &Access) -> Reach {
    Reach {
        everything: access.unlimited(),
        division_prefixes: access.division_prefixes(),
        agency: access
            .has_scope(Scope::Agency)
            .then(|| organisation(access).map(str::to_owned))
            .flatten(),
    }
}

fn organisation(access: &Access) -> Option<&str> {
    access
        .caller()
        .and_then(|caller| caller.organisation.as_deref())
}

/// The caller's token subject; empty for an anonymous call.
pub fn subject(access: &Access) -> &str {
    access
        .caller()
        .map(|caller| caller.subject.as_str())
        .unwrap_or_default()
}

/// The roles the policy granted the caller on this call: those it holds
/// among the grants whose scope it earned.
fn granted_roles(access: &Access) -> BTreeSet<Role> {
    let (Some(caller), Some(rule)) = (access.caller(), POLICY.rule(access.method())) else {
        return BTreeSet::new();
    };
    rule.grants
        .iter()
        .filter(|grant| access.has_scope(grant.scope))
        .flat_map(|grant| grant.roles.iter().copied())
        .filter(|role| caller.has_role(*role))
        .collect()
}

/// What the caller is shown of what it reaches.
pub fn viewer(access: &Access) -> Viewer {
    Viewer::of(&granted_roles(access), organisation(access))
}

/// The agency an officer acts for: the token's organisation claim. A
/// request may name it but no other.
pub fn acting_agency(access: &Access, named: Option<&AgencyCode>) -> Result<AgencyCode, Error> {
    let own = organisation(access)
        .and_then(|organisation| AgencyCode::parse(organisation).ok())
        .ok_or_else(|| {
            Error::PermissionDenied(
                "the caller's token names no agency (its org claim) to act for".into(),
            )
        })?;
    match named {
        Some(named) if *named != own => Err(Error::PermissionDenied(format!(
            "the caller acts for agency {own}, not for {named}"
        ))),
        _ => Ok(own),
    }
}
