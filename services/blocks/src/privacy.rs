//! How much of a staff member's personal data a caller sees.
//!
//! | data | who sees it |
//! |---|---|
//! | staff ids and posts on a team | everyone who may read the block (the map is public) |
//! | name and work unit | callers whose non-public grant reaches the block (administrators and front-line staff in their jurisdiction, department officers, federation staff, the services the table names) or the roster entry (staff reading the roster) |
//! | phone number | the flatgov services the table names; a district admin or subdistrict dispatcher whose jurisdiction covers the person's division or a block they serve on (or a district-wide administrator on the roster); the person themself, when they call as staff |
//!
//! A withheld phone number is returned empty with `phone_withheld` set, so a
//! client can tell "withheld" from "none on file". The rules shape answers
//! within what the policy table granted; they never let a caller reach a
//! record the table and [`crate::reach`] do not.

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Resource};

use crate::reach::StaffReach;

/// Roles that work as staff: a caller holding one and whose token subject is
/// a staff id sees that person's own phone. Residents, integrators and
/// services never count as the person, whatever their subject.
pub const STAFF_ROLES: [Role; 7] = [
    Role::DistrictAdmin,
    Role::SubdistrictDispatcher,
    Role::Governor,
    Role::Assistant,
    Role::Supervisor,
    Role::DepartmentOfficer,
    Role::FederationStaff,
];

/// Roles that see the phones of the staff in their jurisdiction.
const PHONE_ROLES: [Role; 2] = [Role::DistrictAdmin, Role::SubdistrictDispatcher];

/// What one caller sees of staff on one call.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// What the call's non-public grants reach.
    reach: StaffReach,
    /// The call's access: the caller and what each role was granted.
    access: Access,
}

impl Viewer {
    pub fn of(access: &Access) -> Self {
        Self {
            reach: StaffReach::of(access),
            access: access.clone(),
        }
    }

    /// What the call reaches beyond the public grant.
    pub fn reach(&self) -> &StaffReach {
        &self.reach
    }

    /// True when the caller sees the names and units of the team of the
    /// block with `code`.
    pub fn sees_team_names(&self, block_code: &str) -> bool {
        self.reach.reaches(block_code)
    }

    /// True when the caller sees the phone number of `staff_id`, whose places
    /// (division code and codes of blocks served on) are `places`.
    pub fn sees_phone<'a>(
        &self,
        staff_id: &str,
        places: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        if self.access.is_named_service() {
            return true;
        }
        let Some(caller) = self.access.caller() else {
            return false;
        };
        if caller.subject == staff_id && caller.has_any_role(&STAFF_ROLES) {
            return true;
        }
        let places: Vec<&str> = places.into_iter().collect();
        PHONE_ROLES.iter().any(|role| {
            self.access.role_reaches(*role, &Resource::default())
                || places.iter().any(|place| {
                    self.access
                        .role_reaches(*role, &Resource::in_division(place))
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use flatgov_auth::Caller;
    use flatgov_auth::policy::{Policy, earned};

    use super::*;

    fn caller(subject: &str, roles: &[Role], jurisdictions: &[&str]) -> Caller {
        Caller {
            subject: subject.into(),
            roles: roles.iter().copied().collect(),
            organisation: None,
            jurisdictions: jurisdictions
                .iter()
                .map(|name| name.parse().expect("valid jurisdiction"))
                .collect(),
        }
    }

    /// The viewer of `method` as the real table grants it.
    fn viewer(policy: &'static Policy, method: &'static str, caller: Option<Caller>) -> Viewer {
        let rule = policy.rule(method).expect("a rule");
        let scopes = earned(rule, caller.as_ref()).expect("granted");
        Viewer::of(&Access::new(caller, rule, scopes))
    }

    fn on_get_block(caller: Caller) -> Viewer {
        viewer(&crate::policy::POLICY, "GetBlock", Some(caller))
    }

    #[test]
    fn named_services_see_every_phone_and_other_services_none() {
        let notices = on_get_block(caller("notices", &[Role::Service], &[]));
        assert!(notices.sees_phone("gov-1", []));
        assert!(notices.sees_team_names("430302001002017"));
        let intruder = on_get_block(caller("intruder", &[Role::Service], &[]));
        assert!(!intruder.sees_phone("gov-1", ["430302001002017"]));
        assert!(!intruder.sees_team_names("430302001002017"));
    }

    #[test]
    fn a_dispatcher_sees_phones_only_of_staff_in_their_subdistrict() {
        let dispatcher = on_get_block(caller(
            "d",
            &[Role::SubdistrictDispatcher],
            &["subdistricts/430302001"],
        ));
        assert!(dispatcher.sees_phone("gov-1", ["430302001002017"]));
        assert!(dispatcher.sees_phone("gov-1", ["430302001"]));
        assert!(!dispatcher.sees_phone("gov-2", ["430302002001001"]));
        assert!(!dispatcher.sees_phone("gov-3", []));
        assert!(!dispatcher.sees_team_names("430302002001001"));
    }

    #[test]
    fn staff_see_their_own_phone_but_not_their_colleagues() {
        let governor = on_get_block(caller(
            "gov-1",
            &[Role::Governor],
            &["blocks/430302001002017"],
        ));
        assert!(governor.sees_phone("gov-1", []));
        assert!(!governor.sees_phone("sup-1", ["430302001002017"]));
        assert!(governor.sees_team_names("430302001002017"));
    }

    #[test]
    fn a_resident_whose_subject_is_a_staff_id_sees_neither_that_phone_nor_names() {
        let resident = on_get_block(caller("gov-1", &[Role::Resident], &[]));
        assert!(!resident.sees_phone("gov-1", ["430302001002017"]));
        assert!(!resident.sees_team_names("430302001002017"));
        let anonymous = viewer(&crate::policy::POLICY, "GetBlock", None);
        assert!(!anonymous.sees_phone("gov-1", []));
    }

    #[test]
    fn integrators_and_residents_see_no_names_and_departments_see_names_but_no_phones() {
        let integrator = on_get_block(caller("i", &[Role::Integrator], &["districts/430302"]));
        assert!(!integrator.sees_team_names("430302001002017"));
        let officer = on_get_block(caller("o", &[Role::DepartmentOfficer], &[]));
        assert!(officer.sees_team_names("430302001002017"));
        assert!(!officer.sees_phone("gov-1", ["430302001002017"]));
    }
}
