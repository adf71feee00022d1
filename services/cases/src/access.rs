//! Who may see which case, how much of it, and who a caller is on a case.
//!
//! - Service callers and district administrators see everything in their jurisdiction
//!   (administrators and district-wide callers also see cases not located yet).
//! - Subdistrict dispatchers, governors, assistants, supervisors and integrators see the
//!   cases their jurisdiction covers.
//! - Department officers see only the cases assigned to their department.
//! - Federation staff see the cases referred to the federation (pending ones, and those
//!   their organisation accepted).
//! - Residents see the cases they reported.
//!
//! Personal data (the reporter's contact, the rating comment) is shown to those who need
//! it: administrators, dispatchers, the block's governor and supervisor, the case's
//! handler (a department, a federation organisation) and the reporting resident.
//! Integrators see neither personal data nor the description and attachments.

use flatgov_auth::{Caller, DivisionLevel, Role};

use crate::domain::lifecycle::{Actor, Assignee};
use crate::domain::units::{BlockCode, DutyUnit, OrgCode};
use crate::domain::values::{StaffId, UnitName};
use crate::error::Error;
use crate::store::{ListScope, ReferralState, StoredCase};

/// How much of a case a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Visibility {
    /// Nothing: the case is outside the caller's reach.
    None,
    /// Codes, states and times, without the description, attachments or personal data.
    Summary,
    /// Everything but personal data.
    WithoutPersonalData,
    /// Everything.
    Full,
}

/// Whether the caller's jurisdictions cover the case (or, for a case not located yet,
/// whether the caller is district-wide).
fn covers(caller: &Caller, stored: &StoredCase) -> bool {
    match stored.block() {
        Some(block) => caller.covers(block.as_str()),
        None => caller
            .jurisdictions
            .iter()
            .any(|jurisdiction| jurisdiction.level() == DivisionLevel::District),
    }
}

fn assigned_unit(stored: &StoredCase) -> Option<&UnitName> {
    match &stored.case.assignment()?.assignee {
        Assignee::Unit(unit) => Some(unit),
        Assignee::Staff(_) => None,
    }
}

fn organisation_unit(collection: &str, caller: &Caller) -> Option<UnitName> {
    let code = OrgCode::parse(caller.organisation.as_deref()?).ok()?;
    UnitName::parse(&format!("{collection}/{code}")).ok()
}

/// How much of `stored` the caller sees (the best any of their roles gives).
pub fn visibility(caller: &Caller, stored: &StoredCase) -> Visibility {
    let mut best = Visibility::None;
    let mut grant = |level: Visibility| best = best.max(level);
    let in_reach = covers(caller, stored);
    for role in &caller.roles {
        match role {
            Role::Service => grant(Visibility::Full),
            Role::DistrictAdmin
            | Role::SubdistrictDispatcher
            | Role::Governor
            | Role::Supervisor
                if in_reach =>
            {
                grant(Visibility::Full)
            }
            Role::Assistant if in_reach => {
                let assigned_to_team = stored.block().is_some_and(|block| {
                    assigned_unit(stored).is_some_and(|unit| unit.as_str() == block.name())
                });
                grant(if assigned_to_team {
                    Visibility::Full
                } else {
                    Visibility::WithoutPersonalData
                });
            }
            Role::Integrator if in_reach => grant(Visibility::Summary),
            Role::DepartmentOfficer => {
                let own = organisation_unit("departments", caller);
                if own.is_some() && assigned_unit(stored) == own.as_ref() {
                    grant(Visibility::Full);
                }
            }
            Role::FederationStaff => {
                let Some(referral) = &stored.extras.referral else {
                    continue;
                };
                let accepted_by_own = referral.state == ReferralState::Accepted
                    && referral.organisation.is_some()
                    && referral.organisation == caller.organisation;
                if accepted_by_own {
                    grant(Visibility::Full);
                } else if referral.state == ReferralState::Pending {
                    grant(Visibility::WithoutPersonalData);
                }
            }
            Role::Resident
                if stored.reporter_subject.as_deref() == Some(caller.subject.as_str()) =>
            {
                grant(Visibility::Full)
            }
            _ => {}
        }
    }
    best
}

/// PERMISSION_DENIED unless the caller sees the case at all.
pub fn require_visible(caller: &Caller, stored: &StoredCase) -> Result<Visibility, Error> {
    match visibility(caller, stored) {
        Visibility::None => Err(Error::PermissionDenied(format!(
            "{} is outside what the caller may see",
            stored.name()
        ))),
        level => Ok(level),
    }
}

/// PERMISSION_DENIED unless the caller holds one of `roles`.
pub fn require_role(caller: &Caller, roles: &[Role]) -> Result<(), Error> {
    caller
        .require_any_role(roles)
        .map_err(|status| Error::PermissionDenied(status.message().to_owned()))
}

/// PERMISSION_DENIED unless the caller holds one of `roles` and covers the case (service
/// callers are trusted district-wide).
pub fn require_role_over(
    caller: &Caller,
    roles: &[Role],
    stored: &StoredCase,
) -> Result<(), Error> {
    require_role(caller, roles)?;
    if caller.has_role(Role::Service) || covers(caller, stored) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "{} lies outside the caller's jurisdiction",
        stored.name()
    )))
}

/// The caller's most specific jurisdiction that covers `block` (or, without a block, the
/// most specific one at all), as a unit name.
fn jurisdiction_unit(caller: &Caller, block: Option<&BlockCode>) -> Option<UnitName> {
    caller
        .jurisdictions
        .iter()
        .filter(|jurisdiction| block.is_none_or(|block| jurisdiction.covers(block.as_str())))
        .max_by_key(|jurisdiction| jurisdiction.level())
        .and_then(|jurisdiction| UnitName::parse(&jurisdiction.to_string()).ok())
}

/// Who the caller is when acting on `stored`: the resident, the system (another service),
/// or a staff member acting for the unit that holds the case if they belong to it, else
/// for their organisation or their most specific jurisdiction over the case.
pub fn actor_on(caller: &Caller, stored: Option<&StoredCase>) -> Result<Actor, Error> {
    let staff_roles = [
        Role::DistrictAdmin,
        Role::SubdistrictDispatcher,
        Role::Governor,
        Role::Assistant,
        Role::Supervisor,
        Role::DepartmentOfficer,
        Role::FederationStaff,
    ];
    if !caller.has_any_role(&staff_roles) {
        if caller.has_role(Role::Service) {
            return Ok(Actor::System);
        }
        if caller.has_role(Role::Resident) {
            return Ok(Actor::Resident);
        }
        return Err(Error::PermissionDenied(
            "the caller acts for no staff role, resident or service".into(),
        ));
    }
    let id = StaffId::parse(&caller.subject).map_err(|error| {
        Error::PermissionDenied(format!(
            "the token's subject is not a usable staff id: {error}"
        ))
    })?;
    let block = stored.and_then(StoredCase::block);
    let mut units: Vec<UnitName> = Vec::new();
    if caller.has_role(Role::DepartmentOfficer) {
        units.extend(organisation_unit("departments", caller));
    }
    if caller.has_role(Role::FederationStaff) {
        units.extend(organisation_unit("organisations", caller));
    }
    for jurisdiction in &caller.jurisdictions {
        if let Ok(unit) = UnitName::parse(&jurisdiction.to_string()) {
            units.push(unit);
        }
    }
    let holder = stored.and_then(assigned_unit);
    let unit = holder
        .filter(|holder| units.contains(holder))
        .cloned()
        .or_else(|| {
            if caller.has_role(Role::DepartmentOfficer) {
                organisation_unit("departments", caller)
            } else if caller.has_role(Role::FederationStaff) {
                organisation_unit("organisations", caller)
            } else {
                None
            }
        })
        .or_else(|| jurisdiction_unit(caller, block.as_ref()))
        .or_else(|| jurisdiction_unit(caller, None))
        .ok_or_else(|| {
            Error::PermissionDenied(
                "the caller's token names no jurisdiction or organisation".into(),
            )
        })?;
    Ok(Actor::staff(id, unit))
}

/// The unit the caller hands a case from, for the duty-list gate: the unit holding the
/// case (the governor's block team for a personal assignment).
pub fn holder_unit(stored: &StoredCase) -> Option<DutyUnit> {
    match &stored.case.assignment()?.assignee {
        Assignee::Unit(unit) => DutyUnit::of_unit_name(unit),
        Assignee::Staff(_) => stored.block().map(DutyUnit::BlockTeam),
    }
}

/// Which cases the caller may list.
pub fn list_scope(caller: &Caller) -> ListScope {
    let mut scope = ListScope::default();
    if caller.has_role(Role::Service) {
        scope.everything = true;
        return scope;
    }
    let by_jurisdiction = caller.has_any_role(&[
        Role::DistrictAdmin,
        Role::SubdistrictDispatcher,
        Role::Governor,
        Role::Assistant,
        Role::Supervisor,
        Role::Integrator,
    ]);
    if by_jurisdiction {
        scope.division_prefixes = caller
            .jurisdictions
            .iter()
            .map(|jurisdiction| jurisdiction.code().to_owned())
            .collect();
        scope.unlocated = caller
            .jurisdictions
            .iter()
            .any(|jurisdiction| jurisdiction.level() == DivisionLevel::District);
    }
    if caller.has_role(Role::DepartmentOfficer) {
        scope.assignee = organisation_unit("departments", caller).map(|unit| unit.to_string());
    }
    if caller.has_role(Role::FederationStaff) {
        scope.referrals_for = caller.organisation.clone();
    }
    if caller.has_role(Role::Resident) {
        scope.reporter_subject = Some(caller.subject.clone());
    }
    scope
}
