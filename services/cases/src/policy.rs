//! Who may call which RPC of `flatgov.cases.v1.CaseDispatch`: the policy
//! table the chassis enforces before any handler runs (`docs/authz.md`).
//!
//! Scopes that need the case are checked by the handlers through
//! [`crate::access`]: a resident reaches the cases they reported (`Own`);
//! the block team the cases of their block (`OwnBlock`); dispatchers,
//! administrators and integrators the cases their jurisdiction covers; a
//! department the cases assigned to it and a mass organisation the cases
//! referred to the federation (`Organisation`).

use flatgov_auth::Role;
use flatgov_auth::policy::{Policy, Rule, Scope, allow, rpc, services};

const RESIDENT: &[Role] = &[Role::Resident];
const BLOCK_TEAM: &[Role] = &[Role::Governor, Role::Assistant, Role::Supervisor];
const PLATFORM: &[Role] = &[Role::SubdistrictDispatcher, Role::DistrictAdmin];
const HANDLING_ORGANISATIONS: &[Role] = &[Role::DepartmentOfficer, Role::FederationStaff];

/// Who may read a case: its reporter, its block's team, the platforms and
/// integrators over it, the organisations that hold it; and the Open311
/// gateway, which is shown no personal data.
const READ_A_CASE_OR_GATEWAY: &[flatgov_auth::policy::Grant] = &[
    allow(RESIDENT, Scope::Own),
    allow(BLOCK_TEAM, Scope::OwnBlock),
    allow(
        &[
            Role::SubdistrictDispatcher,
            Role::DistrictAdmin,
            Role::Integrator,
        ],
        Scope::Jurisdiction,
    ),
    allow(HANDLING_ORGANISATIONS, Scope::Organisation),
    services(&["gateway"]),
];

/// Who handles a case assigned to them: the block team's governor and
/// assistants, the platform, a department, a mass organisation.
const HANDLE_A_CASE: &[flatgov_auth::policy::Grant] = &[
    allow(&[Role::Governor, Role::Assistant], Scope::OwnBlock),
    allow(PLATFORM, Scope::Jurisdiction),
    allow(HANDLING_ORGANISATIONS, Scope::Organisation),
];

/// What only the subdistrict platform (and the district) decides.
const PLATFORM_DECIDES: &[flatgov_auth::policy::Grant] = &[allow(PLATFORM, Scope::Jurisdiction)];

pub static POLICY: Policy = Policy {
    service: "flatgov.cases.v1.CaseDispatch",
    rules: &RULES,
};

const RULES: [Rule; 26] = [
    // Residents report through their app, block teams from patrols and
    // walk-ins in their block, the platforms and departments from any
    // channel; the Open311 gateway relays civic apps' reports.
    rpc("ReportCase")
        .grants(&[
            allow(RESIDENT, Scope::Own),
            allow(BLOCK_TEAM, Scope::OwnBlock),
            allow(
                &[
                    Role::SubdistrictDispatcher,
                    Role::DistrictAdmin,
                    Role::DepartmentOfficer,
                ],
                Scope::Jurisdiction,
            ),
            services(&["gateway"]),
        ])
        .writes(),
    // The reporter's contact is shown to those who need it. The Open311
    // gateway reads cases to answer civic apps' GET requests (a public 311
    // feed); it is shown no personal data (`access::visibility`) and
    // publishes only the matter, block, point, state, times and recorded
    // reasons of problems and hazards.
    rpc("GetCase")
        .grants(READ_A_CASE_OR_GATEWAY)
        .reads_personal_data(),
    rpc("ListCases")
        .grants(READ_A_CASE_OR_GATEWAY)
        .reads_personal_data(),
    // Counts per block over what the caller may list: no personal data.
    rpc("CountOpenCases").grants(READ_A_CASE_OR_GATEWAY),
    // The gateway's status_notes come from the recorded reasons.
    rpc("GetCaseHistory").grants(READ_A_CASE_OR_GATEWAY),
    rpc("ClassifyCase").grants(PLATFORM_DECIDES).writes(),
    rpc("AcceptCase").grants(HANDLE_A_CASE).writes(),
    rpc("StartWork").grants(HANDLE_A_CASE).writes(),
    rpc("ResolveCase").grants(HANDLE_A_CASE).writes(),
    // The block's supervisor verifies front-line work, the platform the
    // higher tiers; never whoever resolved it (the lifecycle checks that).
    rpc("VerifyCase")
        .grants(&[
            allow(&[Role::Supervisor], Scope::OwnBlock),
            allow(PLATFORM, Scope::Jurisdiction),
        ])
        .writes(),
    // The resident rates their own case; the supervisor or the platform
    // records a rating given on a return visit or by phone.
    rpc("RateCase")
        .grants(&[
            allow(RESIDENT, Scope::Own),
            allow(&[Role::Supervisor], Scope::OwnBlock),
            allow(PLATFORM, Scope::Jurisdiction),
        ])
        .writes(),
    rpc("CloseCase").grants(PLATFORM_DECIDES).writes(),
    // A governor may escalate a case they hold; the platform any case.
    rpc("EscalateCase")
        .grants(&[
            allow(&[Role::Governor], Scope::OwnBlock),
            allow(PLATFORM, Scope::Jurisdiction),
        ])
        .writes(),
    // The platform reassigns; a department holding a case hands it on.
    rpc("ReassignCase")
        .grants(&[
            allow(PLATFORM, Scope::Jurisdiction),
            allow(&[Role::DepartmentOfficer], Scope::Organisation),
        ])
        .writes(),
    rpc("RequestExtension").grants(HANDLE_A_CASE).writes(),
    rpc("DecideExtension").grants(PLATFORM_DECIDES).writes(),
    rpc("ParkCase").grants(PLATFORM_DECIDES).writes(),
    rpc("UnparkCase").grants(PLATFORM_DECIDES).writes(),
    rpc("ScheduleMeeting").grants(PLATFORM_DECIDES).writes(),
    rpc("RecordMeetingDecision")
        .grants(PLATFORM_DECIDES)
        .writes(),
    // The platform follows the meeting's actions through (督办) and records
    // each one done.
    rpc("CompleteMeetingAction")
        .grants(PLATFORM_DECIDES)
        .writes(),
    // Meetings are the staff's business: not the reporter's.
    rpc("ListMeetings").grants(&[
        allow(BLOCK_TEAM, Scope::OwnBlock),
        allow(
            &[
                Role::SubdistrictDispatcher,
                Role::DistrictAdmin,
                Role::Integrator,
            ],
            Scope::Jurisdiction,
        ),
        allow(HANDLING_ORGANISATIONS, Scope::Organisation),
    ]),
    // Indicators are counts, narrowed to what the caller may see.
    rpc("GetIndicators").grants(&[
        allow(&[Role::Governor, Role::Supervisor], Scope::OwnBlock),
        allow(
            &[
                Role::SubdistrictDispatcher,
                Role::DistrictAdmin,
                Role::Integrator,
            ],
            Scope::Jurisdiction,
        ),
        allow(&[Role::DepartmentOfficer], Scope::Organisation),
    ]),
    // Test deployments only (CASES_TEST_CONTROLS=enabled).
    rpc("AdvanceTestClock")
        .grants(&[allow(&[Role::DistrictAdmin], Scope::DistrictWide)])
        .writes(),
    // The claim check of the notices service: the reporter's contact, fetched
    // when a milestone message is sent, so events never carry it. No person
    // and no other service may call it; every call is recorded.
    rpc("GetReporterContact")
        .grants(&[services(&["notices"])])
        .reads_personal_data(),
    // An access request under PIPL art. 45 (everything held under one
    // phone, across jurisdictions): the district's administrators answer
    // it; every export is recorded with the cases it returned.
    rpc("ExportReporterData")
        .grants(&[allow(&[Role::DistrictAdmin], Scope::DistrictWide)])
        .reads_personal_data(),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_defects() {
        assert_eq!(POLICY.defects(), Vec::<String>::new());
    }

    #[test]
    fn only_the_notices_service_may_fetch_a_reporters_contact_and_every_fetch_is_recorded() {
        let rule = POLICY.rule("GetReporterContact").expect("a rule");
        assert_eq!(rule.grants, &[services(&["notices"])]);
        assert_eq!(rule.audit, flatgov_auth::policy::Audit::PersonalRead);
    }
}
