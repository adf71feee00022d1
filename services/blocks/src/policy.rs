//! Who may call which RPC of `flatgov.blocks.v1.BlockRegistry`: one rule per
//! RPC, in proto order, enforced by the chassis' authorization layer before
//! any handler runs (default deny). `docs/authz.md` is generated from it.
//!
//! The table decides roles; handlers decide places. Every scope that needs
//! data (a block's code, a staff member's division and the blocks they serve
//! on, the subdistricts a draft generation touches) is checked by the handler
//! with `Access::reaches` once it has loaded the resource, and a resource the
//! caller does not reach is answered as one that does not exist. How much of
//! a team member a caller sees (names, phone) is shaped by [`crate::privacy`],
//! never beyond what the table grants.

use flatgov_auth::Role;
use flatgov_auth::policy::{Grant, PUBLIC, Policy, Scope, allow, rpc, services};

/// District administrators, within their jurisdiction: a district-level
/// claim reaches the whole district, a subdistrict-level one its subdistrict.
const ADMINS_IN_JURISDICTION: Grant = allow(&[Role::DistrictAdmin], Scope::Jurisdiction);

/// District administrators with a district-level claim, for what has no
/// place: staff who work for no division (reached by nobody else).
const ADMINS_DISTRICT_WIDE: Grant = allow(&[Role::DistrictAdmin], Scope::DistrictWide);

/// The people who run the blocks, within their jurisdiction: they see the
/// names of the teams where they work.
const FRONT_LINE_IN_JURISDICTION: Grant = allow(
    &[
        Role::SubdistrictDispatcher,
        Role::Governor,
        Role::Assistant,
        Role::Supervisor,
    ],
    Scope::Jurisdiction,
);

/// Department officers and federation staff are sent to blocks all over the
/// district, so they see every team's names and units (never phones).
const DEPARTMENTS_AND_FEDERATION_EVERYWHERE: Grant = allow(
    &[Role::DepartmentOfficer, Role::FederationStaff],
    Scope::Everything,
);

/// Staff reading their own roster entry (the staff id is their token's subject).
const STAFF_OWN_RECORD: Grant = allow(
    &[
        Role::SubdistrictDispatcher,
        Role::Governor,
        Role::Assistant,
        Role::Supervisor,
        Role::DepartmentOfficer,
        Role::FederationStaff,
    ],
    Scope::Own,
);

/// The roster within the reader's jurisdiction: dispatchers and the 1+N+1
/// teams (a governor's claim on their block reaches their colleagues there).
const ROSTER_READERS_IN_JURISDICTION: Grant = allow(
    &[
        Role::DistrictAdmin,
        Role::SubdistrictDispatcher,
        Role::Governor,
        Role::Assistant,
        Role::Supervisor,
    ],
    Scope::Jurisdiction,
);

/// The active map: public (basic view) plus the staff grants that unlock
/// names, and administrators' drafts.
const MAP_READERS: &[Grant] = &[
    PUBLIC,
    ADMINS_IN_JURISDICTION,
    FRONT_LINE_IN_JURISDICTION,
    DEPARTMENTS_AND_FEDERATION_EVERYWHERE,
];

/// The map readers plus `notices`, which reads block teams with their
/// contacts to deliver block notices.
const MAP_READERS_AND_NOTICES: &[Grant] = &[
    PUBLIC,
    ADMINS_IN_JURISDICTION,
    FRONT_LINE_IN_JURISDICTION,
    DEPARTMENTS_AND_FEDERATION_EVERYWHERE,
    services(&["notices"]),
];

/// Changing the hierarchy, boundaries and teams.
const ADMINS_ONLY: &[Grant] = &[ADMINS_IN_JURISDICTION];

/// Changing the roster: administrators within their jurisdiction, and
/// district-level ones for staff who work for no division.
const ROSTER_WRITERS: &[Grant] = &[ADMINS_DISTRICT_WIDE, ADMINS_IN_JURISDICTION];

/// Reading the roster.
const ROSTER_READERS: &[Grant] = &[
    ADMINS_DISTRICT_WIDE,
    ROSTER_READERS_IN_JURISDICTION,
    STAFF_OWN_RECORD,
];

/// Generation headers: administrators (drafts within their jurisdiction)
/// and, for the generations that were in force, dispatchers and integrators
/// following redistrictings.
const GENERATION_READERS: &[Grant] = &[
    ADMINS_IN_JURISDICTION,
    allow(
        &[Role::SubdistrictDispatcher, Role::Integrator],
        Scope::Jurisdiction,
    ),
];

pub static POLICY: Policy = Policy {
    service: "flatgov.blocks.v1.BlockRegistry",
    rules: &[
        // `cases` locates reports with the public grant: it needs the block
        // and its team's staff ids, which the basic view carries.
        rpc("LocatePoint").grants(MAP_READERS).reads_personal_data(),
        rpc("GetBlock")
            .grants(MAP_READERS_AND_NOTICES)
            .reads_personal_data(),
        rpc("LocatePoints")
            .grants(MAP_READERS)
            .reads_personal_data(),
        rpc("ListBlocks")
            .grants(MAP_READERS_AND_NOTICES)
            .reads_personal_data(),
        // Teams in an export are staff ids and roles only; drafts go to
        // administrators reaching them.
        rpc("ExportGeoJson").grants(&[PUBLIC, ADMINS_IN_JURISDICTION]),
        rpc("CreateDistrict").grants(ADMINS_ONLY).writes(),
        rpc("GetDistrict").grants(&[PUBLIC]),
        rpc("ListDistricts").grants(&[PUBLIC]),
        rpc("UpdateDistrict").grants(ADMINS_ONLY).writes(),
        rpc("DeleteDistrict").grants(ADMINS_ONLY).writes(),
        rpc("CreateSubdistrict").grants(ADMINS_ONLY).writes(),
        rpc("GetSubdistrict").grants(&[PUBLIC]),
        rpc("ListSubdistricts").grants(&[PUBLIC]),
        rpc("UpdateSubdistrict").grants(ADMINS_ONLY).writes(),
        rpc("DeleteSubdistrict").grants(ADMINS_ONLY).writes(),
        rpc("ImportSubdistricts")
            .grants(ADMINS_ONLY)
            .writes()
            .bulk(),
        rpc("CreateCommunity").grants(ADMINS_ONLY).writes(),
        rpc("GetCommunity").grants(&[PUBLIC]),
        rpc("ListCommunities").grants(&[PUBLIC]),
        rpc("UpdateCommunity").grants(ADMINS_ONLY).writes(),
        rpc("DeleteCommunity").grants(ADMINS_ONLY).writes(),
        rpc("CreateStaff").grants(ROSTER_WRITERS).writes(),
        rpc("GetStaff").grants(ROSTER_READERS).reads_personal_data(),
        rpc("ListStaff")
            .grants(ROSTER_READERS)
            .reads_personal_data(),
        rpc("UpdateStaff").grants(ROSTER_WRITERS).writes(),
        rpc("DeleteStaff").grants(ROSTER_WRITERS).writes(),
        rpc("ImportStaff").grants(ROSTER_WRITERS).writes().bulk(),
        rpc("ImportBlocks").grants(ADMINS_ONLY).writes().bulk(),
        rpc("GetGeneration").grants(GENERATION_READERS),
        rpc("ListGenerations").grants(GENERATION_READERS),
        // Read-only, but a draft's report is administrators' work.
        rpc("ValidateGeneration").grants(ADMINS_ONLY),
        rpc("ActivateGeneration").grants(ADMINS_ONLY).writes(),
        rpc("DiscardGeneration").grants(ADMINS_ONLY).writes(),
        rpc("SetBlockTeam").grants(ADMINS_ONLY).writes(),
    ],
};

#[cfg(test)]
mod tests {
    use flatgov_auth::policy::Audit;

    use super::*;

    #[test]
    fn the_table_has_no_defects() {
        assert_eq!(POLICY.defects(), Vec::<String>::new());
    }

    #[test]
    fn every_state_changing_rpc_is_audited_as_a_write_and_only_imports_are_bulk() {
        for rule in POLICY.rules {
            let changes_state = [
                "Create", "Update", "Delete", "Import", "Activate", "Discard", "Set",
            ]
            .iter()
            .any(|verb| rule.method.starts_with(verb));
            assert_eq!(
                rule.audit == Audit::Write,
                changes_state,
                "{} audit {:?}",
                rule.method,
                rule.audit
            );
            assert_eq!(
                rule.bulk,
                rule.method.starts_with("Import"),
                "{}",
                rule.method
            );
        }
    }
}
