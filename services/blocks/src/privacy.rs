//! Who may see a staff member's personal data.
//!
//! | data | who sees it |
//! |---|---|
//! | staff ids and posts on a team | every authenticated caller |
//! | name and work unit | staff roles: district admins, subdistrict dispatchers, governors, assistants, supervisors, department officers, federation staff, services — not residents or integrators |
//! | phone number | district admins; other flatgov services; the person themself; a subdistrict dispatcher whose jurisdiction covers the person's division or a block the person serves on |
//!
//! A withheld phone number is returned empty with `phone_withheld` set, so a
//! client can tell "withheld" from "none on file".

use flatgov_auth::{Caller, Role};

/// Roles that work with staff and may see their names and units.
pub const STAFF_ROLES: [Role; 8] = [
    Role::DistrictAdmin,
    Role::SubdistrictDispatcher,
    Role::Governor,
    Role::Assistant,
    Role::Supervisor,
    Role::DepartmentOfficer,
    Role::FederationStaff,
    Role::Service,
];

/// True when the caller may see staff names and units.
pub fn may_see_names(caller: &Caller) -> bool {
    caller.has_any_role(&STAFF_ROLES)
}

/// True when the caller may see the phone number of `staff_id`, whose places
/// (division code and codes of blocks served on) are `places`.
pub fn may_see_phone<'a>(
    caller: &Caller,
    staff_id: &str,
    places: impl IntoIterator<Item = &'a str>,
) -> bool {
    if caller.has_any_role(&[Role::DistrictAdmin, Role::Service]) {
        return true;
    }
    if caller.subject == staff_id {
        return true;
    }
    caller.has_role(Role::SubdistrictDispatcher)
        && places.into_iter().any(|place| caller.covers(place))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn admins_and_services_see_every_phone() {
        for role in [Role::DistrictAdmin, Role::Service] {
            assert!(may_see_phone(&caller("x", &[role], &[]), "gov-1", []));
        }
    }

    #[test]
    fn a_dispatcher_sees_phones_only_of_staff_in_their_subdistrict() {
        let dispatcher = caller(
            "d",
            &[Role::SubdistrictDispatcher],
            &["subdistricts/430302001"],
        );
        assert!(may_see_phone(&dispatcher, "gov-1", ["430302001002017"]));
        assert!(may_see_phone(&dispatcher, "gov-1", ["430302001"]));
        assert!(!may_see_phone(&dispatcher, "gov-2", ["430302002001001"]));
        assert!(!may_see_phone(&dispatcher, "gov-3", []));
    }

    #[test]
    fn staff_see_their_own_phone_but_not_their_colleagues() {
        let governor = caller("gov-1", &[Role::Governor], &["blocks/430302001002017"]);
        assert!(may_see_phone(&governor, "gov-1", []));
        assert!(!may_see_phone(&governor, "sup-1", ["430302001002017"]));
    }

    #[test]
    fn residents_and_integrators_see_no_names() {
        assert!(!may_see_names(&caller("r", &[Role::Resident], &[])));
        assert!(!may_see_names(&caller("i", &[Role::Integrator], &[])));
        assert!(may_see_names(&caller("g", &[Role::Governor], &[])));
    }
}
