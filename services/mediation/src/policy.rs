//! Who may call which RPC of `flatgov.mediation.v1.Mediation`: the
//! service's policy table, in proto order, enforced by the chassis'
//! authorization layer before any handler runs (`docs/authz.md` is
//! generated from it).
//!
//! - Disputes are registered and run by the subdistrict's people (district
//!   administrators and subdistrict dispatchers, within their jurisdiction:
//!   the community's mediation committee and the justice office work on the
//!   subdistrict's platform), and registered by the cases service for a
//!   case of kind dispute.
//! - A department officer works on a dispute while its current stage is
//!   mediated by their own department (`org` claim), and sees nothing else.
//! - Integrators (courts, justice bureaus) read disputes within their
//!   jurisdiction, parties included, audited; they change nothing.
//! - Parties are personal data: `GetDispute` is audited as a personal-data
//!   read; `ListDisputes` never shows them.
//!
//! A use case checks the dispute it loaded with [`reaches_dispute`];
//! nothing re-checks a role the table decides.

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Grant, Policy, Resource, Scope, allow, rpc, services};

/// Administrators and dispatchers within their jurisdiction.
const SUBDISTRICT_STAFF: Grant = allow(
    &[Role::DistrictAdmin, Role::SubdistrictDispatcher],
    Scope::Jurisdiction,
);

/// District administrators whose jurisdiction is the whole district.
const DISTRICT_ADMINS: Grant = allow(&[Role::DistrictAdmin], Scope::DistrictWide);

/// Department officers, for disputes their department mediates now.
const MEDIATING_DEPARTMENT: Grant = allow(&[Role::DepartmentOfficer], Scope::Organisation);

/// Read-only outside systems (courts, justice bureaus) within their
/// jurisdiction.
const INTEGRATORS: Grant = allow(&[Role::Integrator], Scope::Jurisdiction);

/// Those who work on a running dispute.
const WORKERS: &[Grant] = &[SUBDISTRICT_STAFF, MEDIATING_DEPARTMENT];

/// Those who read disputes.
const READERS: &[Grant] = &[SUBDISTRICT_STAFF, MEDIATING_DEPARTMENT, INTEGRATORS];

pub static POLICY: Policy = Policy {
    service: "flatgov.mediation.v1.Mediation",
    rules: &[
        rpc("RegisterDispute")
            .grants(&[SUBDISTRICT_STAFF, services(&["cases"])])
            .writes(),
        rpc("GetDispute").grants(READERS).reads_personal_data(),
        rpc("ListDisputes").grants(READERS),
        rpc("AssignMediator").grants(WORKERS).writes(),
        rpc("RecordSession").grants(WORKERS).writes(),
        rpc("ConcludeStage").grants(WORKERS).writes(),
        rpc("HandOverDispute").grants(WORKERS).writes(),
        rpc("SignAgreement").grants(WORKERS).writes(),
        rpc("RecordFollowUp").grants(WORKERS).writes(),
        // The court's decision reaches the subdistrict, which records it.
        rpc("RecordConfirmation").grants(WORKERS).writes(),
        // Community advisers by those who cover the community; units'
        // advisers (which serve the whole district) by district-wide
        // administrators.
        rpc("CreateAdviser")
            .grants(&[SUBDISTRICT_STAFF, DISTRICT_ADMINS])
            .writes(),
        rpc("ListAdvisers")
            .grants(&[SUBDISTRICT_STAFF, DISTRICT_ADMINS])
            .reads_personal_data(),
        rpc("RecordConsultation").grants(WORKERS).writes(),
        rpc("FlagThreat").grants(WORKERS).writes(),
        // Counts and rates, no personal data: for those who answer for a
        // place (a division the caller covers) and its integrators.
        rpc("GetIndicators").grants(&[SUBDISTRICT_STAFF, INTEGRATORS]),
        // Moves every replica's clock: test deployments only, and even
        // there only for district-wide administrators.
        rpc("AdvanceTestClock")
            .grants(&[allow(&[Role::DistrictAdmin], Scope::DistrictWide)])
            .writes(),
    ],
};

/// True when the caller reaches a dispute in `community_code` whose current
/// stage `organisation` mediates.
pub fn reaches_dispute(access: &Access, community_code: &str, organisation: &str) -> bool {
    let organisations = [organisation];
    access.reaches(&Resource::in_division(community_code).held_by(&organisations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_defects() {
        assert_eq!(POLICY.defects(), Vec::<String>::new());
    }

    #[test]
    fn every_rpc_but_the_reads_is_audited_as_a_write_and_the_dispute_read_as_personal() {
        use flatgov_auth::policy::Audit;
        for rule in POLICY.rules {
            let expected = match rule.method {
                "GetDispute" | "ListAdvisers" => Audit::PersonalRead,
                "ListDisputes" | "GetIndicators" => Audit::No,
                _ => Audit::Write,
            };
            assert_eq!(rule.audit, expected, "{}", rule.method);
        }
    }
}
