//! Who may call which RPC of `flatgov.federation.v1.Federation`: the one
//! table the chassis enforces before any handler runs (default deny), in
//! proto order. `docs/authz.md` is generated from it.
//!
//! The scopes the roles earn here are narrowed further by the handlers
//! once they have loaded a resource (`Access::reaches`):
//!
//! * `federation_staff` with `Organisation` reach what their organisation
//!   (the `org` claim, an active member) leads, organises, handles or
//!   registered; the register of people in difficulty additionally needs
//!   the register permission on the organisation's staff list
//!   (`crate::access`), which is data, not a role.
//! * `federation_staff` with `Everything` read what the federation shares
//!   as one command: pending referrals any member may take on, the mentor
//!   pool, proposals open for co-signature, the indicators.
//! * Integrators read only what carries no personal data, and only within
//!   their jurisdiction: referrals by their block or subdistrict;
//!   district-level facts without a place (submitted proposals,
//!   indicators) need a district-level claim (`DistrictWide`).
//! * No other flatgov service calls this API today (the cases service
//!   refers cases through events), so no `service` grant is made.

use flatgov_auth::Role;
use flatgov_auth::policy::{PUBLIC, Policy, Scope, allow, rpc};

const STAFF: &[Role] = &[Role::FederationStaff];
const ADMIN: &[Role] = &[Role::DistrictAdmin];
const RESIDENT: &[Role] = &[Role::Resident];
const INTEGRATOR: &[Role] = &[Role::Integrator];

pub static POLICY: Policy = Policy {
    service: "flatgov.federation.v1.Federation",
    rules: &[
        // ------------------------------------------ organisations, staff
        // The directory of member organisations is public.
        rpc("GetOrganisation").grants(&[PUBLIC]),
        rpc("ListOrganisations").grants(&[PUBLIC]),
        // Membership binds the whole district's federation.
        rpc("CreateOrganisation")
            .grants(&[allow(ADMIN, Scope::DistrictWide)])
            .writes(),
        rpc("UpdateOrganisation")
            .grants(&[allow(ADMIN, Scope::DistrictWide)])
            .writes(),
        // Staff managers (permission `manage_staff`) manage their own
        // organisation's list; administrators every list.
        rpc("CreateStaff")
            .grants(&[
                allow(ADMIN, Scope::DistrictWide),
                allow(STAFF, Scope::Organisation),
            ])
            .writes(),
        rpc("UpdateStaff")
            .grants(&[
                allow(ADMIN, Scope::DistrictWide),
                allow(STAFF, Scope::Organisation),
            ])
            .writes(),
        // A staff list names people and who holds the register permission:
        // seen by its own organisation and administrators only.
        rpc("GetStaff")
            .grants(&[
                allow(ADMIN, Scope::DistrictWide),
                allow(STAFF, Scope::Organisation),
            ])
            .reads_personal_data(),
        rpc("ListStaff")
            .grants(&[
                allow(ADMIN, Scope::DistrictWide),
                allow(STAFF, Scope::Organisation),
            ])
            .reads_personal_data(),
        // ------------------------------------------- 1. joint activities
        rpc("CreateSeries")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // Series are part of the public directory of activities.
        rpc("GetSeries").grants(&[PUBLIC]),
        rpc("ListSeries").grants(&[PUBLIC]),
        rpc("CreateActivity")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("PublishActivity")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("CancelActivity")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("CompleteActivity")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // Announced activities are public; drafts reach only their
        // organisers' staff and administrators.
        rpc("GetActivity").grants(&[
            PUBLIC,
            allow(STAFF, Scope::Organisation),
            allow(ADMIN, Scope::DistrictWide),
        ]),
        rpc("ListActivities").grants(&[
            PUBLIC,
            allow(STAFF, Scope::Organisation),
            allow(ADMIN, Scope::DistrictWide),
        ]),
        // A resident registers themselves; organisers' staff register
        // participants at the desk.
        rpc("RegisterForActivity")
            .grants(&[
                allow(RESIDENT, Scope::Own),
                allow(STAFF, Scope::Organisation),
            ])
            .writes(),
        rpc("CancelRegistration")
            .grants(&[
                allow(RESIDENT, Scope::Own),
                allow(STAFF, Scope::Organisation),
            ])
            .writes(),
        rpc("CheckIn")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // How a participant is addressed is theirs and the organisers'.
        rpc("GetRegistration")
            .grants(&[
                allow(RESIDENT, Scope::Own),
                allow(STAFF, Scope::Organisation),
                allow(ADMIN, Scope::DistrictWide),
            ])
            .reads_personal_data(),
        rpc("ListRegistrations")
            .grants(&[
                allow(RESIDENT, Scope::Own),
                allow(STAFF, Scope::Organisation),
                allow(ADMIN, Scope::DistrictWide),
            ])
            .reads_personal_data(),
        // ------------------------ 2. support for people in difficulty
        // The register is personal data: staff of the organisations the
        // record belongs to, with the register permission (crate::access).
        rpc("RegisterPerson")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("UpdatePerson")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("GetPerson")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("ListPeople")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("CreateSharingRequest")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("GetSharingRequest")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("ListSharingRequests")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("ApproveSharingRequest")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("DeclineSharingRequest")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("CreateAssessment")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("GetAssessment")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("ListAssessments")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("CreateSupportPlan")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("AddSupportMeasure")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("RecordDelivery")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("LogVisit")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("ListVisits")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("CloseSupportPlan")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("GetSupportPlan")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("ListSupportPlans")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        // Referrals carry ids and codes only. A pending referral is for
        // the whole federation to take on, so every member's staff read
        // them; integrators read those in their jurisdiction.
        rpc("GetReferral").grants(&[
            allow(STAFF, Scope::Everything),
            allow(ADMIN, Scope::DistrictWide),
            allow(INTEGRATOR, Scope::Jurisdiction),
        ]),
        rpc("ListReferrals").grants(&[
            allow(STAFF, Scope::Everything),
            allow(ADMIN, Scope::DistrictWide),
            allow(INTEGRATOR, Scope::Jurisdiction),
        ]),
        // Any member organisation may take a pending referral on, or
        // decline it for the federation.
        rpc("AcceptReferral")
            .grants(&[allow(STAFF, Scope::Everything)])
            .writes(),
        rpc("DeclineReferral")
            .grants(&[allow(STAFF, Scope::Everything)])
            .writes(),
        // ------------------------------ 3. rights-protection services
        // Any member records a request; it is routed to the protecting
        // organisation. The requester's contact is personal data, seen by
        // the handling and the recording organisation.
        rpc("SubmitRightsRequest")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("RecordRightsAction")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("TransferRightsRequest")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("LinkRightsRequestCase")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("ResolveRightsRequest")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("GetRightsRequest")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        rpc("ListRightsRequests")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .reads_personal_data(),
        // ---------------------- 4. innovation and entrepreneurship
        rpc("CreateProgramme")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("CloseProgramme")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // Programmes are calls for applications, announced to residents
        // like activities.
        rpc("GetProgramme").grants(&[PUBLIC]),
        rpc("ListProgrammes").grants(&[PUBLIC]),
        rpc("CreateMentor")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // The mentor pool serves every member's programmes; a mentor's
        // phone is personal data.
        rpc("GetMentor")
            .grants(&[allow(STAFF, Scope::Everything)])
            .reads_personal_data(),
        rpc("ListMentors")
            .grants(&[allow(STAFF, Scope::Everything)])
            .reads_personal_data(),
        // A resident applies for themselves; organisers' staff apply for
        // a resident at the desk.
        rpc("SubmitApplication")
            .grants(&[
                allow(RESIDENT, Scope::Own),
                allow(STAFF, Scope::Organisation),
            ])
            .writes(),
        rpc("DecideApplication")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("AssignMentor")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("RecordProgress")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // The applicant's contact: the applicant and the organisers.
        rpc("GetApplication")
            .grants(&[
                allow(RESIDENT, Scope::Own),
                allow(STAFF, Scope::Organisation),
            ])
            .reads_personal_data(),
        rpc("ListApplications")
            .grants(&[
                allow(RESIDENT, Scope::Own),
                allow(STAFF, Scope::Organisation),
            ])
            .reads_personal_data(),
        // ------------------------- 5. participation in deliberation
        rpc("CreateProposal")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // Any other member organisation may co-sign a draft.
        rpc("CoSignProposal")
            .grants(&[allow(STAFF, Scope::Everything)])
            .writes(),
        rpc("SubmitProposal")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        rpc("RecordProposalResponse")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // Drafts are the federation's working documents (its staff and
        // administrators); what was submitted is district-level public
        // business (integrators with a district-level claim).
        rpc("GetProposal").grants(&[
            allow(STAFF, Scope::Everything),
            allow(ADMIN, Scope::DistrictWide),
            allow(INTEGRATOR, Scope::DistrictWide),
        ]),
        rpc("ListProposals").grants(&[
            allow(STAFF, Scope::Everything),
            allow(ADMIN, Scope::DistrictWide),
            allow(INTEGRATOR, Scope::DistrictWide),
        ]),
        // ------------------------------------------------ indicators
        // Counts only, per organisation of the whole federation.
        rpc("GetIndicators").grants(&[
            allow(STAFF, Scope::Everything),
            allow(ADMIN, Scope::DistrictWide),
            allow(INTEGRATOR, Scope::DistrictWide),
        ]),
        // --------------------------------------- personal data (PIPL)
        // A withdrawal is recorded by staff of an organisation the record
        // belongs to (the register permission and the person's reach are
        // checked by the use case, as for UpdatePerson).
        rpc("WithdrawConsent")
            .grants(&[allow(STAFF, Scope::Organisation)])
            .writes(),
        // An access request reaches every organisation's records of the
        // person: the district's administrators answer it (the district's
        // person responsible for personal information holds that role),
        // never one member organisation.
        rpc("ExportPersonalData")
            .grants(&[allow(ADMIN, Scope::DistrictWide)])
            .reads_personal_data(),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_defects() {
        assert_eq!(POLICY.defects(), Vec::<String>::new());
    }

    #[test]
    fn every_rule_that_changes_state_is_audited_as_a_write() {
        use flatgov_auth::policy::Audit;
        for rule in POLICY.rules {
            let changes_state = [
                "Create", "Update", "Publish", "Cancel", "Complete", "Register", "CheckIn",
                "Approve", "Decline", "Add", "Record", "Log", "Close", "Accept", "Submit",
                "Transfer", "Link", "Resolve", "Decide", "Assign", "CoSign", "Withdraw",
            ]
            .iter()
            .any(|verb| rule.method.starts_with(verb));
            assert_eq!(
                rule.audit == Audit::Write,
                changes_state,
                "{} is {:?}",
                rule.method,
                rule.audit
            );
        }
    }
}
