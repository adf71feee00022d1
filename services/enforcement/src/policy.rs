//! Who may call which RPC of `flatgov.enforcement.v1.JointEnforcement`,
//! in proto order. The chassis' layer enforces the roles before any
//! handler runs; handlers check the scopes that need data (the operation's
//! place, the agencies it summoned, the agency that holds a unit or
//! officer) once they have loaded the resource. See `docs/enforcement.md`
//! ("Authorization") and `docs/authz.md`.
//!
//! Scopes as this service applies them:
//! - `Jurisdiction`: an operation placed in a division the caller's claims
//!   cover (its block, or its subdistrict when it has no block).
//! - `Agency`: an operation that summoned the caller's agency (`org`
//!   claim); a whistle still resolving its agencies involves none.
//! - `Organisation`: a unit or officer of the caller's agency.
//! - `DistrictWide`: agencies, units and officers of every agency, for
//!   administrators whose claim is a whole district.

use flatgov_auth::Role;
use flatgov_auth::policy::{PUBLIC, Policy, Scope, allow, rpc};

/// District administrators.
const ADMINISTRATORS: &[Role] = &[Role::DistrictAdmin];

/// Those who run operations for a place: district administrators and the
/// subdistricts' dispatchers.
const COORDINATORS: &[Role] = &[Role::DistrictAdmin, Role::SubdistrictDispatcher];

/// Those who read operations of a place: coordinators and read-only
/// outside systems (integrators never see notes or people; see
/// `domain::visibility`).
const READERS_OF_A_PLACE: &[Role] = &[
    Role::DistrictAdmin,
    Role::SubdistrictDispatcher,
    Role::Integrator,
];

/// Officers of an agency (`org` claim = the agency code).
const OFFICERS: &[Role] = &[Role::DepartmentOfficer];

pub static POLICY: Policy = Policy {
    service: "flatgov.enforcement.v1.JointEnforcement",
    rules: &[
        // Which agencies exist binds every subdistrict's whistles.
        rpc("CreateAgency")
            .grants(&[allow(ADMINISTRATORS, Scope::DistrictWide)])
            .writes(),
        rpc("UpdateAgency")
            .grants(&[allow(ADMINISTRATORS, Scope::DistrictWide)])
            .writes(),
        // The agencies directory is published: residents and other systems
        // may learn who enforces what without credentials.
        rpc("GetAgency").grants(&[PUBLIC]),
        rpc("ListAgencies").grants(&[PUBLIC]),
        // An agency's own officers manage its units; administrators any
        // agency's.
        rpc("CreateUnit")
            .grants(&[
                allow(ADMINISTRATORS, Scope::DistrictWide),
                allow(OFFICERS, Scope::Organisation),
            ])
            .writes(),
        rpc("UpdateUnit")
            .grants(&[
                allow(ADMINISTRATORS, Scope::DistrictWide),
                allow(OFFICERS, Scope::Organisation),
            ])
            .writes(),
        // Units (squads stationed in subdistricts) are part of the public
        // directory; they name no person.
        rpc("GetUnit").grants(&[PUBLIC]),
        rpc("ListUnits").grants(&[PUBLIC]),
        rpc("CreateOfficer")
            .grants(&[
                allow(ADMINISTRATORS, Scope::DistrictWide),
                allow(OFFICERS, Scope::Organisation),
            ])
            .writes(),
        rpc("UpdateOfficer")
            .grants(&[
                allow(ADMINISTRATORS, Scope::DistrictWide),
                allow(OFFICERS, Scope::Organisation),
            ])
            .writes(),
        // Officers' names and phones are personal data. Dispatchers read
        // every agency's officers (names, not phones) because any agency's
        // officers may be sent to their subdistrict; officers read only
        // their own agency's; integrators none.
        rpc("GetOfficer")
            .grants(&[
                allow(COORDINATORS, Scope::Everything),
                allow(OFFICERS, Scope::Organisation),
            ])
            .reads_personal_data(),
        rpc("ListOfficers")
            .grants(&[
                allow(COORDINATORS, Scope::Everything),
                allow(OFFICERS, Scope::Organisation),
            ])
            .reads_personal_data(),
        // Whistles are blown for a place the caller coordinates. The cases
        // service escalates through events, not this call, so no service
        // is granted it.
        rpc("BlowWhistle")
            .grants(&[allow(COORDINATORS, Scope::Jurisdiction)])
            .writes(),
        // Coordinators of the place, or officers of a summoned agency (the
        // handler lets only the lead agency's officers summon).
        rpc("SummonAgency")
            .grants(&[
                allow(COORDINATORS, Scope::Jurisdiction),
                allow(OFFICERS, Scope::Agency),
            ])
            .writes(),
        rpc("ReportIn")
            .grants(&[allow(OFFICERS, Scope::Agency)])
            .writes(),
        rpc("RecordAction")
            .grants(&[allow(OFFICERS, Scope::Agency)])
            .writes(),
        // Only the lead agency concludes: the handler refuses the others.
        rpc("ConcludeOperation")
            .grants(&[allow(OFFICERS, Scope::Agency)])
            .writes(),
        rpc("CancelOperation")
            .grants(&[allow(COORDINATORS, Scope::Jurisdiction)])
            .writes(),
        rpc("RateAgency")
            .grants(&[allow(COORDINATORS, Scope::Jurisdiction)])
            .writes(),
        // Operations carry officers' names and agencies' notes (police
        // notes among them): every read is audited.
        rpc("GetOperation")
            .grants(&[
                allow(READERS_OF_A_PLACE, Scope::Jurisdiction),
                allow(OFFICERS, Scope::Agency),
            ])
            .reads_personal_data(),
        rpc("ListOperations")
            .grants(&[
                allow(READERS_OF_A_PLACE, Scope::Jurisdiction),
                allow(OFFICERS, Scope::Agency),
            ])
            .reads_personal_data(),
        // Figures only, no people: officers see their own agency's.
        rpc("GetIndicators").grants(&[
            allow(READERS_OF_A_PLACE, Scope::Jurisdiction),
            allow(OFFICERS, Scope::Agency),
        ]),
        // A unit's duty roster is kept like its unit: by the agency's own
        // officers and district administrators.
        rpc("CreateDutyShift")
            .grants(&[
                allow(ADMINISTRATORS, Scope::DistrictWide),
                allow(OFFICERS, Scope::Organisation),
            ])
            .writes(),
        // Rosters name the officers on duty: dispatchers read every
        // agency's (whom a whistle will reach in their subdistrict),
        // officers their own agency's; integrators none. Audited.
        rpc("ListDutyShifts")
            .grants(&[
                allow(COORDINATORS, Scope::Everything),
                allow(OFFICERS, Scope::Organisation),
            ])
            .reads_personal_data(),
        rpc("DeleteDutyShift")
            .grants(&[
                allow(ADMINISTRATORS, Scope::DistrictWide),
                allow(OFFICERS, Scope::Organisation),
            ])
            .writes(),
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
    fn no_service_is_trusted_and_integrators_only_read() {
        for rule in POLICY.rules {
            for grant in rule.grants {
                assert!(
                    !matches!(grant.scope, Scope::Services(_)),
                    "{} trusts a service",
                    rule.method
                );
                if grant.roles.contains(&Role::Integrator) {
                    assert_ne!(
                        rule.audit,
                        flatgov_auth::policy::Audit::Write,
                        "{} changes state",
                        rule.method
                    );
                }
            }
        }
    }
}
