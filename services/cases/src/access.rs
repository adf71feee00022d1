//! Which cases a caller reaches, how much of each they see, and who they are on a case.
//!
//! The policy table (`crate::policy`) decides which roles may call an RPC and with which
//! scope; this module supplies the facts of a case those scopes are tested against
//! ([`CaseFacts`]) and shapes answers by role:
//!
//! - a resident reaches the cases they reported (`Own`), and sees all of them;
//! - the block team reaches its block's cases (`OwnBlock`): the governor and supervisor
//!   see everything, an assistant personal data only of cases assigned to the team;
//! - dispatchers and administrators reach the cases their jurisdiction covers and see
//!   everything; integrators reach the same but see only codes, states and times;
//! - a department reaches the cases assigned to it (`Organisation`) and sees everything;
//! - a mass organisation reaches the cases referred to the federation (`Organisation`):
//!   a pending referral is offered to every member organisation without personal data,
//!   an accepted one only to the organisation that took it, with everything;
//! - a case not located yet lies somewhere in the district: callers with a
//!   district-level jurisdiction reach it.
//!
//! A case a caller does not reach is answered exactly as a case that does not exist.

use flatgov_auth::policy::{Access, Resource, Scope};
use flatgov_auth::{Caller, DivisionLevel, Role};

use crate::domain::lifecycle::{Actor, Assignee};
use crate::domain::units::{BlockCode, DepartmentCode, DutyUnit};
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

/// The facts of a case that scope rules test: where it lies, who reported it, which
/// organisations hold it.
pub struct CaseFacts {
    division: Option<String>,
    owner: Option<String>,
    organisations: Vec<String>,
}

impl CaseFacts {
    /// The facts of `stored` as `caller` meets them.
    pub fn of(stored: &StoredCase, caller: Option<&Caller>) -> Self {
        let division = match stored.block() {
            Some(block) => Some(block.as_str().to_owned()),
            // Not located yet: somewhere in the district of a district-wide caller.
            None => caller.and_then(|caller| {
                caller
                    .jurisdictions
                    .iter()
                    .find(|claim| claim.level() == DivisionLevel::District)
                    .map(|claim| claim.code().to_owned())
            }),
        };
        let mut organisations = Vec::new();
        if let Some(Assignee::Unit(unit)) = stored.case.assignment().map(|a| &a.assignee)
            && let Some(DutyUnit::Department(code)) = DutyUnit::of_unit_name(unit)
        {
            organisations.push(code.to_string());
        }
        if let Some(referral) = &stored.extras.referral {
            match referral.state {
                ReferralState::Accepted => organisations.extend(referral.organisation.clone()),
                // Offered to every member organisation until one accepts it.
                ReferralState::Pending => organisations.extend(
                    caller
                        .filter(|caller| caller.has_role(Role::FederationStaff))
                        .and_then(|caller| caller.organisation.clone()),
                ),
                _ => {}
            }
        }
        Self {
            division,
            owner: stored.reporter_subject.clone(),
            organisations,
        }
    }

    /// The facts as the chassis' scope rules read them.
    pub fn with<T>(&self, read: impl FnOnce(&Resource<'_>) -> T) -> T {
        let organisations: Vec<&str> = self.organisations.iter().map(String::as_str).collect();
        read(&Resource {
            division: self.division.as_deref(),
            owner: self.owner.as_deref(),
            organisations: &organisations,
            agencies: &[],
        })
    }
}

fn assigned_unit(stored: &StoredCase) -> Option<&UnitName> {
    match &stored.case.assignment()?.assignee {
        Assignee::Unit(unit) => Some(unit),
        Assignee::Staff(_) => None,
    }
}

fn organisation_unit(collection: &str, caller: &Caller) -> Option<UnitName> {
    let code = DepartmentCode::parse(caller.organisation.as_deref()?).ok()?;
    UnitName::parse(&format!("{collection}/{code}")).ok()
}

/// True when `role` of the caller reaches `stored` on this method.
pub fn role_reaches(access: &Access, role: Role, stored: &StoredCase) -> bool {
    CaseFacts::of(stored, access.caller()).with(|resource| access.role_reaches(role, resource))
}

/// How much of `stored` the caller sees on this method (the best any of their roles
/// that reaches it gives).
pub fn visibility(access: &Access, stored: &StoredCase) -> Visibility {
    if access.is_named_service() {
        // The Open311 gateway publishes what it reads to civic apps: it is never
        // shown personal data.
        if access
            .caller()
            .is_some_and(|caller| caller.subject == "gateway")
        {
            return Visibility::WithoutPersonalData;
        }
        return Visibility::Full;
    }
    let Some(caller) = access.caller() else {
        return Visibility::None;
    };
    let facts = CaseFacts::of(stored, Some(caller));
    let mut best = Visibility::None;
    for role in &caller.roles {
        if !facts.with(|resource| access.role_reaches(*role, resource)) {
            continue;
        }
        let level = match role {
            Role::Assistant => {
                let assigned_to_team = stored.block().is_some_and(|block| {
                    assigned_unit(stored).is_some_and(|unit| unit.as_str() == block.name())
                });
                if assigned_to_team {
                    Visibility::Full
                } else {
                    Visibility::WithoutPersonalData
                }
            }
            Role::Integrator => Visibility::Summary,
            Role::FederationStaff => {
                let accepted_by_own = stored.extras.referral.as_ref().is_some_and(|referral| {
                    referral.state == ReferralState::Accepted
                        && referral.organisation.is_some()
                        && referral.organisation == caller.organisation
                });
                if accepted_by_own {
                    Visibility::Full
                } else {
                    Visibility::WithoutPersonalData
                }
            }
            _ => Visibility::Full,
        };
        best = best.max(level);
    }
    best
}

/// The visibility of a case the caller reaches; a case they do not reach is
/// NOT_FOUND, exactly like a case that does not exist.
pub fn require_visible(access: &Access, stored: &StoredCase) -> Result<Visibility, Error> {
    match visibility(access, stored) {
        Visibility::None => Err(Error::NotFound(stored.name())),
        level => Ok(level),
    }
}

/// The caller's most specific jurisdiction that covers `block` (or, without a block, the
/// most specific one at all), as a unit name.
fn jurisdiction_unit(caller: &Caller, block: Option<&BlockCode>) -> Option<UnitName> {
    caller
        .jurisdictions
        .iter()
        .filter(|jurisdiction| block.is_none_or(|block| jurisdiction.covers(&block.division())))
        .max_by_key(|jurisdiction| jurisdiction.level())
        .and_then(|jurisdiction| UnitName::parse(&jurisdiction.to_string()).ok())
}

/// Who the caller is when acting on `stored`: the resident, the system (another service),
/// or a staff member acting for the unit that holds the case if they belong to it, else
/// for their organisation or their most specific jurisdiction over the case.
pub fn actor_on(access: &Access, stored: Option<&StoredCase>) -> Result<Actor, Error> {
    let staff_roles = [
        Role::DistrictAdmin,
        Role::SubdistrictDispatcher,
        Role::Governor,
        Role::Assistant,
        Role::Supervisor,
        Role::DepartmentOfficer,
        Role::FederationStaff,
    ];
    let caller = access
        .caller()
        .ok_or_else(|| Error::PermissionDenied("this call needs a verified caller".into()))?;
    if access.is_named_service() {
        return Ok(Actor::System);
    }
    if !caller.has_any_role(&staff_roles) {
        if caller.has_role(Role::Resident) {
            return Ok(Actor::Resident);
        }
        return Err(Error::PermissionDenied(
            "the caller acts for no staff role, resident or service".into(),
        ));
    }
    let id = StaffId::parse(&caller.subject).map_err(|_| {
        Error::PermissionDenied("the token's subject is not a usable staff id".into())
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

/// Which cases the caller may list on this method: the SQL form of the scopes it earned.
pub fn list_scope(access: &Access) -> ListScope {
    let mut scope = ListScope::default();
    if access.unlimited() {
        scope.everything = true;
        return scope;
    }
    let Some(caller) = access.caller() else {
        return scope;
    };
    scope.division_prefixes = access.division_prefixes();
    scope.unlocated = access.has_scope(Scope::Jurisdiction)
        && caller
            .jurisdictions
            .iter()
            .any(|jurisdiction| jurisdiction.level() == DivisionLevel::District);
    if access.has_scope(Scope::Organisation) {
        if caller.has_role(Role::DepartmentOfficer) {
            scope.assignee = organisation_unit("departments", caller).map(|unit| unit.to_string());
        }
        if caller.has_role(Role::FederationStaff) {
            scope.referrals_for = caller.organisation.clone();
        }
    }
    if access.has_scope(Scope::Own) {
        scope.reporter_subject = Some(caller.subject.clone());
    }
    scope
}
