//! Who may call which RPC of `flatgov.errands.v1.Errands`: the service's
//! policy table, in proto order, enforced by the chassis' authorization
//! layer before any handler runs (`docs/authz.md` is generated from it).
//!
//! - The catalogue is published district-wide by district administrators
//!   and read by anyone: residents consult it before they ask.
//! - An errand is handled by its block's team (governor and assistants,
//!   "own block") or by the subdistrict's service centre (administrators and
//!   dispatchers, within their jurisdiction). A resident may ask in the app
//!   and follow their own errands ("own": the errand's account).
//! - The deciding department (`org` claim) records its result and sees the
//!   errands it decides, and nothing else.
//! - An errand's resident and documents are personal data, seen only by
//!   those three (handlers, the deciding department, the resident):
//!   `GetErrand` is audited as a personal-data read; `ListErrands` and the
//!   indicators never show them. Integrators read lists and indicators only.
//!
//! A use case checks the errand it loaded with [`reaches_errand`]; nothing
//! re-checks a role the table decides.

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Grant, PUBLIC, Policy, Resource, Scope, allow, rpc};

/// The service centre: administrators and dispatchers within their
/// jurisdiction.
const CENTRE: Grant = allow(
    &[Role::DistrictAdmin, Role::SubdistrictDispatcher],
    Scope::Jurisdiction,
);

/// The block's team members who handle errands (帮代办).
const BLOCK_TEAM: Grant = allow(&[Role::Governor, Role::Assistant], Scope::OwnBlock);

/// The deciding department's officers.
const DECIDING_DEPARTMENT: Grant = allow(&[Role::DepartmentOfficer], Scope::Organisation);

/// The resident the errand is for.
const RESIDENT: Grant = allow(&[Role::Resident], Scope::Own);

/// Read-only outside systems within their jurisdiction.
const INTEGRATORS: Grant = allow(&[Role::Integrator], Scope::Jurisdiction);

/// District administrators whose jurisdiction is the whole district.
const DISTRICT_ADMINS: Grant = allow(&[Role::DistrictAdmin], Scope::DistrictWide);

/// Those who handle an errand.
const HANDLERS: &[Grant] = &[CENTRE, BLOCK_TEAM];

/// Those who may see an errand's personal data.
const ERRAND_READERS: &[Grant] = &[CENTRE, BLOCK_TEAM, DECIDING_DEPARTMENT, RESIDENT];

pub static POLICY: Policy = Policy {
    service: "flatgov.errands.v1.Errands",
    rules: &[
        rpc("PublishCatalogue").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("GetCatalogue").grants(&[PUBLIC]),
        rpc("RequestErrand")
            .grants(&[CENTRE, BLOCK_TEAM, RESIDENT])
            .writes(),
        rpc("GetErrand")
            .grants(ERRAND_READERS)
            .reads_personal_data(),
        rpc("ListErrands").grants(&[
            CENTRE,
            BLOCK_TEAM,
            DECIDING_DEPARTMENT,
            RESIDENT,
            INTEGRATORS,
        ]),
        rpc("CollectMaterials").grants(HANDLERS).writes(),
        rpc("NotifyMissingMaterials").grants(HANDLERS).writes(),
        rpc("SubmitErrand").grants(HANDLERS).writes(),
        // The department records its own result; the centre records one the
        // department sent on paper.
        rpc("RecordResult")
            .grants(&[DECIDING_DEPARTMENT, CENTRE])
            .writes(),
        rpc("RecordResidentTold").grants(HANDLERS).writes(),
        // Counts and rates, no personal data.
        rpc("GetIndicators").grants(&[CENTRE, BLOCK_TEAM, INTEGRATORS]),
        // Moves every replica's clock: test deployments only.
        rpc("AdvanceTestClock").grants(&[DISTRICT_ADMINS]).writes(),
    ],
};

/// True when the caller reaches an errand in `block_code` for the resident
/// with `account`, decided by `department`.
pub fn reaches_errand(
    access: &Access,
    block_code: &str,
    account: Option<&str>,
    department: &str,
) -> bool {
    let departments = [department];
    access.reaches(
        &Resource::in_division(block_code)
            .owned_by(account)
            .held_by(&departments),
    )
}

/// What a limited caller reaches, for narrowing a list in SQL the way
/// [`reaches_errand`] decides for one errand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reach {
    /// Division code prefixes from the caller's place claims.
    pub division_prefixes: Vec<String>,
    /// The caller's department, when the organisation scope was earned.
    pub department: Option<String>,
    /// The caller's own account, when the "own" scope was earned.
    pub account: Option<String>,
}

impl Reach {
    /// `None` when the caller's grant is not limited.
    pub fn of(access: &Access) -> Option<Self> {
        if access.unlimited() {
            return None;
        }
        let caller = access.caller();
        let department = access
            .has_scope(Scope::Organisation)
            .then(|| caller.and_then(|caller| caller.organisation.clone()))
            .flatten();
        let account = access
            .has_scope(Scope::Own)
            .then(|| caller.map(|caller| caller.subject.clone()))
            .flatten();
        Some(Self {
            division_prefixes: access.division_prefixes(),
            department,
            account,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_defects() {
        assert_eq!(POLICY.defects(), Vec::<String>::new());
    }

    #[test]
    fn every_change_is_audited_as_a_write_and_reading_an_errand_as_personal() {
        use flatgov_auth::policy::Audit;
        for rule in POLICY.rules {
            let expected = match rule.method {
                "GetErrand" => Audit::PersonalRead,
                "GetCatalogue" | "ListErrands" | "GetIndicators" => Audit::No,
                _ => Audit::Write,
            };
            assert_eq!(rule.audit, expected, "{}", rule.method);
        }
    }
}
