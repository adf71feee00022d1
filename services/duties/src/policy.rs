//! Who may call which RPC of `flatgov.duties.v1.DutyLists`: the service's
//! policy table, in proto order, enforced by the chassis' authorization
//! layer before any handler runs (`docs/authz.md` is generated from it).
//!
//! What the reform publishes is public: the lists in force, their versions
//! and items, the matter catalogue, the departments directory, and
//! `ResolveResponsibility`, which only applies the published lists and the
//! place exceptions. Everything else is granted to the roles that need it:
//!
//! - the district-wide reference data (departments, lists, drafts, the
//!   catalogue) is changed only by district administrators whose
//!   jurisdiction is the whole district (`Scope::DistrictWide`); drafts
//!   are their work, so only they see them;
//! - place exceptions are changed by administrators for places inside
//!   their jurisdiction (named areas, which cross boundaries, need a
//!   district-wide administrator);
//! - the gate's refusals and the subdistricts' assessments and opinions
//!   are read by subdistrict dispatchers and integrators within their
//!   jurisdiction and by department officers for their own department;
//! - other flatgov services are trusted only by name: `cases` asks the
//!   gate (`CheckAssignment`); `cases` and `enforcement` also call the
//!   public `ResolveResponsibility` and `GetDepartment`, which need no grant.
//!
//! A use case checks the scope of a resource it has loaded with
//! [`Access::reaches`] and narrows lists with [`Reach`]; nothing re-checks
//! a role the table decides.

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Grant, PUBLIC, Policy, Scope, allow, rpc, services};

/// District administrators whose jurisdiction is the whole district.
const DISTRICT_ADMINS: Grant = allow(&[Role::DistrictAdmin], Scope::DistrictWide);

/// Administrators, dispatchers and integrators within their jurisdiction.
const JURISDICTION_READERS: Grant = allow(
    &[
        Role::DistrictAdmin,
        Role::SubdistrictDispatcher,
        Role::Integrator,
    ],
    Scope::Jurisdiction,
);

/// Department officers, for what concerns their own department.
const OWN_DEPARTMENT: Grant = allow(&[Role::DepartmentOfficer], Scope::Organisation);

/// The published lists and their versions are public; district-wide
/// administrators also see the drafts (shown only to a caller who earned
/// `DistrictWide`: [`sees_drafts`]).
const PUBLISHED_OR_DRAFTS: &[Grant] = &[PUBLIC, DISTRICT_ADMINS];

/// Exceptions, refusals, assessments and opinions: read district-wide,
/// within a jurisdiction, or for one's own department.
const SCOPED_READERS: &[Grant] = &[DISTRICT_ADMINS, JURISDICTION_READERS, OWN_DEPARTMENT];

/// Administrators, for places inside their jurisdiction.
const PLACE_ADMINS: Grant = allow(&[Role::DistrictAdmin], Scope::Jurisdiction);

/// Administrators and dispatchers acting for the subdistricts (and the
/// units in them) their jurisdiction covers.
const SUBDISTRICT_STAFF: Grant = allow(
    &[Role::DistrictAdmin, Role::SubdistrictDispatcher],
    Scope::Jurisdiction,
);

pub static POLICY: Policy = Policy {
    service: "flatgov.duties.v1.DutyLists",
    rules: &[
        rpc("ResolveResponsibility").grants(&[PUBLIC]),
        // Records a refusal when the gate says no. Departments ask about
        // assignments from or to themselves, dispatchers about units in
        // their jurisdiction; cases asks for every dispatch.
        rpc("CheckAssignment")
            .grants(&[
                DISTRICT_ADMINS,
                SUBDISTRICT_STAFF,
                OWN_DEPARTMENT,
                services(&["cases"]),
            ])
            .writes(),
        // ------------------------------------------------------ departments
        rpc("CreateDepartment").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("GetDepartment").grants(&[PUBLIC]),
        rpc("ListDepartments").grants(&[PUBLIC]),
        rpc("UpdateDepartment").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("DeleteDepartment").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("ImportDepartments")
            .grants(&[DISTRICT_ADMINS])
            .writes()
            .bulk(),
        // ------------------------------------------------------------ lists
        rpc("GetList").grants(PUBLISHED_OR_DRAFTS),
        rpc("ListDutyLists").grants(PUBLISHED_OR_DRAFTS),
        rpc("GetListVersion").grants(PUBLISHED_OR_DRAFTS),
        rpc("ListListVersions").grants(PUBLISHED_OR_DRAFTS),
        rpc("ListItems").grants(PUBLISHED_OR_DRAFTS),
        rpc("DiffVersions").grants(PUBLISHED_OR_DRAFTS),
        rpc("ExportList").grants(PUBLISHED_OR_DRAFTS),
        // ----------------------------------------------- drafts, publishing
        rpc("CreateDraft").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("PutDraftItem").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("DeleteDraftItem").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("DiscardDraft").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("ImportList").grants(&[DISTRICT_ADMINS]).writes().bulk(),
        rpc("PublishList").grants(&[DISTRICT_ADMINS]).writes(),
        // ------------------------------------------------- matter catalogue
        rpc("GetMatter").grants(&[PUBLIC]),
        rpc("ListMatters").grants(&[PUBLIC]),
        rpc("PutMatter").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("DeleteMatter").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("ImportCatalogue")
            .grants(&[DISTRICT_ADMINS])
            .writes()
            .bulk(),
        // ---------------------------------------------- per-place exceptions
        // An administrator scoped to a subdistrict changes the exceptions
        // of places inside it; a named area needs a district-wide one.
        rpc("CreateException")
            .grants(&[DISTRICT_ADMINS, PLACE_ADMINS])
            .writes(),
        // Read by those who work with the places (within jurisdiction) and
        // by the departments an exception names.
        rpc("GetException").grants(SCOPED_READERS),
        rpc("ListExceptions").grants(SCOPED_READERS),
        rpc("EndException")
            .grants(&[DISTRICT_ADMINS, PLACE_ADMINS])
            .writes(),
        rpc("DeleteException")
            .grants(&[DISTRICT_ADMINS, PLACE_ADMINS])
            .writes(),
        // ----------------------------------------------------------- refusals
        rpc("GetRefusal").grants(SCOPED_READERS),
        rpc("ListRefusals").grants(SCOPED_READERS),
        rpc("CountRefusals").grants(SCOPED_READERS),
        // -------------------------------------- assessments and opinions
        // A subdistrict's own rights over departments: its dispatchers
        // record for it (administrators for any subdistrict they cover).
        rpc("RecordAssessment")
            .grants(&[DISTRICT_ADMINS, SUBDISTRICT_STAFF])
            .writes(),
        rpc("ListAssessments").grants(SCOPED_READERS),
        rpc("SummariseAssessments").grants(SCOPED_READERS),
        rpc("RecordOpinion")
            .grants(&[DISTRICT_ADMINS, SUBDISTRICT_STAFF])
            .writes(),
        rpc("ListOpinions").grants(SCOPED_READERS),
    ],
};

/// True when the caller sees list drafts: district-wide administrators.
pub fn sees_drafts(access: &Access) -> bool {
    access.has_scope(Scope::DistrictWide)
}

/// True when the caller may see which staff member did something (who
/// published, created, recorded or attempted): administrators and flatgov
/// services. Other readers see the record without the person.
pub fn sees_staff(access: &Access) -> bool {
    access
        .caller()
        .is_some_and(|caller| caller.has_any_role(&[Role::DistrictAdmin, Role::Service]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_defects() {
        assert_eq!(POLICY.defects(), Vec::<String>::new());
    }

    #[test]
    fn every_rule_that_changes_state_is_audited_as_a_write() {
        let reads = [
            "ResolveResponsibility",
            "GetDepartment",
            "ListDepartments",
            "GetList",
            "ListDutyLists",
            "GetListVersion",
            "ListListVersions",
            "ListItems",
            "DiffVersions",
            "ExportList",
            "GetMatter",
            "ListMatters",
            "GetException",
            "ListExceptions",
            "GetRefusal",
            "ListRefusals",
            "CountRefusals",
            "ListAssessments",
            "SummariseAssessments",
            "ListOpinions",
        ];
        for rule in POLICY.rules {
            let is_read = reads.contains(&rule.method);
            assert_eq!(
                rule.audit == flatgov_auth::policy::Audit::Write,
                !is_read,
                "{}",
                rule.method
            );
        }
    }
}
