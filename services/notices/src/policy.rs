//! Who may call which RPC of `flatgov.notices.v1.Notices`: the service's
//! policy table, in proto order, enforced by the chassis' authorization
//! layer before any handler runs (`docs/authz.md` is generated from it).
//!
//! - Gateways are the district's: only district administrators whose
//!   jurisdiction is the whole district register or list them. Their URLs
//!   and secrets are never returned to anyone.
//! - A case's feedback record (milestones, gateway, state, attempts — no
//!   contact, no text) is read by the case's block team and by the
//!   administrators, dispatchers and integrators over its place; the use
//!   case checks the place of the rows it loaded with [`Access::reaches`].
//!
//! - Block robots and notices follow the reform's reach: a governor for
//!   their own block, subdistrict dispatchers and district administrators
//!   within their jurisdiction (so a subdistrict sends to its blocks); the
//!   use cases check the block or audience with [`Access::reaches`] and
//!   answer NOT_FOUND for one out of reach.
//!
//! - A district-wide notice is approved by a second district administrator
//!   of the whole district (`ApproveNotice`), never by its author.
//! - Feedback templates are the district's: its administrators, whose
//!   jurisdiction covers the district, switch a milestone's message off or on and set its
//!   text (`SetFeedbackTemplate`, audited) and list them.
//! - The indicators (counts, no personal data) are read by administrators,
//!   dispatchers and integrators for the divisions they reach.
//!
//! The reporter's contact is not this service's: it is fetched from the
//! cases service (`GetReporterContact`, granted there to this service alone)
//! when a message is sent, and never kept.

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Grant, Policy, Resource, Scope, allow, rpc};

/// District administrators whose jurisdiction is the whole district.
const DISTRICT_ADMINS: Grant = allow(&[Role::DistrictAdmin], Scope::DistrictWide);

/// District administrators, for resources of a district their
/// jurisdiction covers (a district's feedback templates).
const TEMPLATE_ADMINS: Grant = allow(&[Role::DistrictAdmin], Scope::Jurisdiction);

/// Who works with a block's group: its governor, and the platforms over it.
const BLOCK_GROUPS: &[Grant] = &[
    allow(&[Role::Governor], Scope::OwnBlock),
    allow(
        &[Role::SubdistrictDispatcher, Role::DistrictAdmin],
        Scope::Jurisdiction,
    ),
];

/// Who reads notices and their delivery: the block's team and the
/// platforms and integrators over it.
const NOTICE_READERS: &[Grant] = &[
    allow(
        &[Role::Governor, Role::Assistant, Role::Supervisor],
        Scope::OwnBlock,
    ),
    allow(
        &[
            Role::SubdistrictDispatcher,
            Role::DistrictAdmin,
            Role::Integrator,
        ],
        Scope::Jurisdiction,
    ),
];

pub static POLICY: Policy = Policy {
    service: "flatgov.notices.v1.Notices",
    rules: &[
        rpc("SetGateway").grants(&[DISTRICT_ADMINS]).writes(),
        rpc("ListGateways").grants(&[DISTRICT_ADMINS]),
        rpc("ListFeedback").grants(&[
            allow(&[Role::Governor, Role::Supervisor], Scope::OwnBlock),
            allow(
                &[
                    Role::DistrictAdmin,
                    Role::SubdistrictDispatcher,
                    Role::Integrator,
                ],
                Scope::Jurisdiction,
            ),
        ]),
        rpc("SetBlockRobot").grants(BLOCK_GROUPS).writes(),
        rpc("ListBlockRobots").grants(BLOCK_GROUPS),
        rpc("CreateNotice").grants(BLOCK_GROUPS).writes(),
        rpc("GetNotice").grants(NOTICE_READERS),
        rpc("ListNotices").grants(NOTICE_READERS),
        // The second person: a district administrator of the whole district
        // (the use case refuses the notice's author).
        rpc("ApproveNotice").grants(&[DISTRICT_ADMINS]).writes(),
        // Counts only, no personal data: the platforms and integrators
        // over the division asked about.
        rpc("GetIndicators").grants(&[allow(
            &[
                Role::DistrictAdmin,
                Role::SubdistrictDispatcher,
                Role::Integrator,
            ],
            Scope::Jurisdiction,
        )]),
        // Templates are the district's: its administrators, whose
        // jurisdiction covers the whole district (the use case checks the
        // district with `Access::reaches`; a subdistrict's administrator or
        // another district's finds no such district).
        rpc("ListFeedbackTemplates").grants(&[TEMPLATE_ADMINS]),
        rpc("SetFeedbackTemplate")
            .grants(&[TEMPLATE_ADMINS])
            .writes(),
    ],
};

/// Whether the caller reaches a case placed in `block_code` (or, before
/// triage placed it, `subdistrict_code`).
pub fn reaches_place(access: &Access, block_code: &str, subdistrict_code: &str) -> bool {
    let division = if block_code.is_empty() {
        subdistrict_code
    } else {
        block_code
    };
    !division.is_empty() && access.reaches(&Resource::in_division(division))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_no_defects() {
        assert_eq!(POLICY.defects(), Vec::<String>::new());
    }

    #[test]
    fn no_one_but_district_wide_administrators_touches_gateways_or_approves_notices() {
        for method in ["SetGateway", "ListGateways", "ApproveNotice"] {
            let rule = POLICY.rule(method).expect("a rule");
            assert_eq!(rule.grants, &[DISTRICT_ADMINS], "{method}");
        }
    }

    #[test]
    fn feedback_templates_are_the_district_administrators_of_the_district_alone() {
        for method in ["ListFeedbackTemplates", "SetFeedbackTemplate"] {
            let rule = POLICY.rule(method).expect("a rule");
            assert_eq!(rule.grants, &[TEMPLATE_ADMINS], "{method}");
        }
    }
}
