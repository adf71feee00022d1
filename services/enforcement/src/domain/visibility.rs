//! How much of what a caller may see is shown to them.
//!
//! Whether a caller sees an operation, a unit or an officer at all is the
//! policy table's scope (`crate::policy`), checked with `Access::reaches`.
//! This module shapes what is shown of a resource the caller does see,
//! from the roles the table granted the caller on the call — never more:
//!
//! - Notes an agency marks sensitive (police investigation details, …) are
//!   shown only to officers of that agency — not to the other summoned
//!   agencies, not to dispatchers, not to administrators.
//! - Findings and penalty details an agency restricts (an agency's default,
//!   or marked on the action) likewise: only that agency's officers.
//! - Other notes (an agency's report-in note among them), officers' names
//!   and badge numbers, and the staff ids of who blew, recorded, concluded,
//!   cancelled or rated are shown to staff who work with the officers:
//!   district administrators, subdistrict dispatchers and officers.
//!   Integrators see operations without people or notes: how many officers
//!   came, never who.
//! - An officer's phone number is shown to district administrators and to
//!   officers of the officer's own agency.

use std::collections::BTreeSet;

use flatgov_auth::Role;

use super::codes::AgencyCode;

/// What a caller is shown, from the roles granted to it on one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    /// The agency the caller acts for as one of its officers (its `org`
    /// claim), when the call granted it the officer role.
    pub agency: Option<AgencyCode>,
    /// District administrators, subdistrict dispatchers and officers, who
    /// work with officers and see who they are.
    pub works_with_officers: bool,
    /// District administrators, who see every officer's phone.
    pub district_admin: bool,
}

impl Viewer {
    /// The viewer of a caller holding `granted` (the roles the policy
    /// granted it on this call) and acting for `organisation`.
    pub fn of(granted: &BTreeSet<Role>, organisation: Option<&str>) -> Self {
        let officer = granted.contains(&Role::DepartmentOfficer);
        Self {
            agency: officer
                .then(|| organisation.and_then(|code| AgencyCode::parse(code).ok()))
                .flatten(),
            works_with_officers: officer
                || granted.contains(&Role::DistrictAdmin)
                || granted.contains(&Role::SubdistrictDispatcher),
            district_admin: granted.contains(&Role::DistrictAdmin),
        }
    }

    /// Whether an action's notes are shown.
    pub fn may_see_notes(&self, recorded_by_agency: &AgencyCode, sensitive: bool) -> bool {
        if sensitive {
            return self.agency.as_ref() == Some(recorded_by_agency);
        }
        self.works_with_officers
    }

    /// Whether an action's findings and penalty details are shown: always,
    /// unless the recording agency restricted them to itself.
    pub fn may_see_details(&self, recorded_by_agency: &AgencyCode, restricted: bool) -> bool {
        !restricted || self.agency.as_ref() == Some(recorded_by_agency)
    }

    /// Whether officers' names and badge numbers, and staff ids, are shown.
    pub fn may_see_people(&self) -> bool {
        self.works_with_officers
    }

    /// Whether an officer's phone number is shown.
    pub fn may_see_officer_phone(&self, officer_agency: &AgencyCode) -> bool {
        self.district_admin || self.agency.as_ref() == Some(officer_agency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(code: &str) -> AgencyCode {
        AgencyCode::parse(code).unwrap()
    }

    fn viewer(roles: &[Role], organisation: Option<&str>) -> Viewer {
        Viewer::of(&roles.iter().copied().collect(), organisation)
    }

    #[test]
    fn sensitive_notes_are_visible_only_to_the_agency_that_wrote_them() {
        let police = agency("public_security");
        assert!(
            viewer(&[Role::DepartmentOfficer], Some("public_security"))
                .may_see_notes(&police, true)
        );
        for other in [
            viewer(&[Role::DepartmentOfficer], Some("urban_management")),
            viewer(&[Role::DistrictAdmin], None),
            viewer(&[Role::SubdistrictDispatcher], None),
            viewer(&[Role::Integrator], None),
        ] {
            assert!(!other.may_see_notes(&police, true), "{other:?}");
        }
        assert!(viewer(&[Role::DistrictAdmin], None).may_see_notes(&police, false));
        assert!(!viewer(&[Role::Integrator], None).may_see_notes(&police, false));
    }

    #[test]
    fn restricted_details_are_shown_only_to_the_agency_that_recorded_them() {
        let urban = agency("urban_management");
        assert!(
            viewer(&[Role::DepartmentOfficer], Some("urban_management"))
                .may_see_details(&urban, true)
        );
        for other in [
            viewer(&[Role::DepartmentOfficer], Some("public_security")),
            viewer(&[Role::DistrictAdmin], None),
            viewer(&[Role::Integrator], Some("urban_management")),
        ] {
            assert!(!other.may_see_details(&urban, true), "{other:?}");
            assert!(other.may_see_details(&urban, false), "{other:?}");
        }
    }

    #[test]
    fn an_organisation_claim_counts_only_when_the_officer_role_was_granted() {
        // An integrator whose token happens to name the police sees no
        // police notes: the call granted it no officer role.
        let integrator = viewer(&[Role::Integrator], Some("public_security"));
        assert_eq!(integrator.agency, None);
        assert!(!integrator.may_see_notes(&agency("public_security"), true));
    }

    #[test]
    fn officers_personal_data_is_shown_only_to_those_who_work_with_them() {
        let urban = agency("urban_management");
        assert!(!viewer(&[Role::Integrator], None).may_see_people());
        assert!(viewer(&[Role::SubdistrictDispatcher], None).may_see_people());
        let urban_officer = viewer(&[Role::DepartmentOfficer], Some("urban_management"));
        assert!(urban_officer.may_see_officer_phone(&urban));
        assert!(
            !viewer(&[Role::DepartmentOfficer], Some("public_security"))
                .may_see_officer_phone(&urban)
        );
        assert!(!viewer(&[Role::SubdistrictDispatcher], None).may_see_officer_phone(&urban));
        assert!(viewer(&[Role::DistrictAdmin], None).may_see_officer_phone(&urban));
    }

    #[test]
    fn a_caller_granted_several_roles_sees_what_each_of_them_may() {
        let both = viewer(
            &[Role::DistrictAdmin, Role::DepartmentOfficer],
            Some("public_security"),
        );
        assert!(both.may_see_notes(&agency("public_security"), true));
        assert!(!both.may_see_notes(&agency("urban_management"), true));
        assert!(both.may_see_officer_phone(&agency("urban_management")));
    }
}
