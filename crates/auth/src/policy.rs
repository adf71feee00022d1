//! Who may call which RPC, declared in one table per service and enforced
//! in one place before any handler runs.
//!
//! Every RPC a service serves has a [`Rule`] in its [`Policy`]: the roles
//! it grants and, for each, the [`Scope`] of resources that role reaches.
//! The chassis' authorization layer looks the called method up, refuses a
//! method with no rule (default deny) and a caller none of whose roles is
//! granted, and hands the handler an [`Access`]: the caller and the scopes
//! their roles earned on this RPC. Scope rules that need data (the case's
//! block, the operation's summoned agencies) are checked by the handler
//! through [`Access::reaches`] once it has loaded the resource, so every
//! service asks the same question the same way.
//!
//! Refusals reveal nothing: a role the table does not grant gets
//! `PERMISSION_DENIED` naming only the method and the caller's own roles;
//! a resource outside the caller's scope is answered exactly as a resource
//! that does not exist (`NOT_FOUND`), so ids cannot be probed
//! (see `docs/authz.md`).

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::{Caller, DivisionCode, DivisionLevel, Role};

/// Which resources a granted role reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Anyone, with or without a token: the published duty lists, the
    /// active block map, the directories of departments, agencies and
    /// organisations. A deliberate line in the table, never a default.
    Public,
    /// Everything the service holds, whatever its place: reference data a
    /// staff role reads district-wide (the roster of departments, say).
    Everything,
    /// District-wide reference data (duty lists, departments, the boundary
    /// generations) for callers whose jurisdiction is a whole district: a
    /// district-level claim is required, so an administrator scoped to one
    /// subdistrict cannot change what binds the others. Checked by the
    /// layer from the token alone.
    DistrictWide,
    /// Resources the caller is the subject of: a resident's own reports.
    Own,
    /// Resources in the caller's block (a block-level jurisdiction claim):
    /// the governor, assistants and supervisor of a 1+N+1 team.
    OwnBlock,
    /// Resources in a division the caller's jurisdiction claims cover.
    Jurisdiction,
    /// Resources held by the caller's organisation (`org` claim): a
    /// department's cases, a mass organisation's register.
    Organisation,
    /// Resources that involve the caller's agency (`org` claim): the joint
    /// operations that summoned it.
    Agency,
    /// Only the named flatgov services, calling on their own behalf with a
    /// `service` token whose subject is the service's name.
    Services(&'static [&'static str]),
}

impl Scope {
    /// How the scope reads in `docs/authz.md`.
    pub fn describe(&self) -> String {
        match self {
            Scope::Public => "public".into(),
            Scope::Everything => "everything".into(),
            Scope::DistrictWide => "district-wide".into(),
            Scope::Own => "own".into(),
            Scope::OwnBlock => "own block".into(),
            Scope::Jurisdiction => "jurisdiction".into(),
            Scope::Organisation => "organisation".into(),
            Scope::Agency => "agency".into(),
            Scope::Services(names) => format!("service: {}", names.join(", ")),
        }
    }
}

/// One line of a rule: these roles, reaching this scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub roles: &'static [Role],
    pub scope: Scope,
}

/// What an RPC does with personal data and state, which decides what the
/// audit trail records of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Reads nothing personal: not recorded.
    No,
    /// Changes state: every call is recorded, refused ones included.
    Write,
    /// Reads personal data (contacts, staff phones, needy-person records,
    /// sensitive police notes): every call is recorded.
    PersonalRead,
}

/// The rule of one RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The method's name as in the proto, e.g. `ReportCase`.
    pub method: &'static str,
    pub grants: &'static [Grant],
    pub audit: Audit,
    /// Requests of this RPC may be as large as the service's import limit;
    /// every other RPC keeps to the small default.
    pub bulk: bool,
}

/// Starts the rule of `method`; chain [`Rule::allow`], [`Rule::public`],
/// [`Rule::service`] and the audit markers.
pub const fn rpc(method: &'static str) -> Rule {
    Rule {
        method,
        grants: &[],
        audit: Audit::No,
        bulk: false,
    }
}

impl Rule {
    /// The grants of this rule (a `const` builder can only replace the
    /// slice, so a rule lists its grants in one place).
    pub const fn grants(mut self, grants: &'static [Grant]) -> Self {
        self.grants = grants;
        self
    }

    /// Recorded in the audit trail as a write.
    pub const fn writes(mut self) -> Self {
        self.audit = Audit::Write;
        self
    }

    /// Recorded in the audit trail as a read of personal data.
    pub const fn reads_personal_data(mut self) -> Self {
        self.audit = Audit::PersonalRead;
        self
    }

    /// May carry an import-sized request.
    pub const fn bulk(mut self) -> Self {
        self.bulk = true;
        self
    }
}

/// `roles` reaching `scope`.
pub const fn allow(roles: &'static [Role], scope: Scope) -> Grant {
    Grant { roles, scope }
}

/// Anyone, with or without a token.
pub const PUBLIC: Grant = Grant {
    roles: &[],
    scope: Scope::Public,
};

/// The named flatgov services, on their own behalf.
pub const fn services(names: &'static [&'static str]) -> Grant {
    Grant {
        roles: &[Role::Service],
        scope: Scope::Services(names),
    }
}

/// Every rule of one gRPC service.
#[derive(Debug)]
pub struct Policy {
    /// Fully-qualified gRPC service, e.g. `flatgov.cases.v1.CaseDispatch`.
    pub service: &'static str,
    pub rules: &'static [Rule],
}

impl Policy {
    /// The rule of `method`, if the table has one.
    pub fn rule(&self, method: &str) -> Option<&'static Rule> {
        self.rules.iter().find(|rule| rule.method == method)
    }

    /// Problems with the table itself: a method listed twice, a rule that
    /// grants nothing, the `service` role outside a named-services grant
    /// (which would trust every service), a named-services grant for other
    /// roles, a public grant that names roles. Checked by each service's
    /// tests and at start.
    pub fn defects(&self) -> Vec<String> {
        let mut defects = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let name = format!("{}/{}", self.service, rule.method);
            if self.rules[..index]
                .iter()
                .any(|earlier| earlier.method == rule.method)
            {
                defects.push(format!("{name} is listed twice"));
            }
            if rule.grants.is_empty() {
                defects.push(format!("{name} grants nothing"));
            }
            for grant in rule.grants {
                let problem = match grant.scope {
                    Scope::Public if !grant.roles.is_empty() => Some("a public grant names roles"),
                    Scope::Public => None,
                    Scope::Services(names)
                        if grant.roles != [Role::Service] || names.is_empty() =>
                    {
                        Some(
                            "a services grant must be for the service role and name at least one service",
                        )
                    }
                    Scope::Services(_) => None,
                    _ if grant.roles.contains(&Role::Service) => {
                        Some("the service role may be granted only to named services")
                    }
                    _ if grant.roles.is_empty() => Some("a grant without roles"),
                    _ => None,
                };
                if let Some(problem) = problem {
                    defects.push(format!("{name}: {problem}"));
                }
            }
        }
        defects
    }
}

/// Why the authorization layer refused a call before its handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The method has no rule: nobody may call it.
    #[error("{method} is not granted to anyone")]
    Unlisted { method: String },
    /// None of the caller's roles is granted the method.
    #[error("{method} is not granted to the caller's roles [{roles}]")]
    RoleNotGranted { method: String, roles: String },
    /// The role is granted, but only to callers whose jurisdiction is a whole district.
    #[error(
        "{method} is granted to the caller's role only with a district-wide jurisdiction; the token's jurisdiction is narrower"
    )]
    NeedsDistrictWideJurisdiction { method: String },
}

/// The scopes a caller's roles earn on one rule; `None` when no role is
/// granted. A caller without a token earns only public grants.
pub fn earned(rule: &Rule, caller: Option<&Caller>) -> Option<Vec<Scope>> {
    let mut scopes: Vec<Scope> = Vec::new();
    for grant in rule.grants {
        let granted = match (grant.scope, caller) {
            (Scope::Public, _) => true,
            (_, None) => false,
            (Scope::Services(names), Some(caller)) => {
                caller.has_role(Role::Service) && names.contains(&caller.subject.as_str())
            }
            (Scope::DistrictWide, Some(caller)) => {
                holds_role(grant, caller)
                    && caller
                        .jurisdictions
                        .iter()
                        .any(|claim| claim.level() == DivisionLevel::District)
            }
            (_, Some(caller)) => holds_role(grant, caller),
        };
        if granted && !scopes.contains(&grant.scope) {
            scopes.push(grant.scope);
        }
    }
    (!scopes.is_empty()).then_some(scopes)
}

fn holds_role(grant: &Grant, caller: &Caller) -> bool {
    grant
        .roles
        .iter()
        .any(|role| *role != Role::Service && caller.has_role(*role))
}

/// The rule behind [`Access::internal`].
static INTERNAL: Rule = Rule {
    method: "internal",
    grants: &[],
    audit: Audit::No,
    bulk: false,
};

/// The facts about a resource that scope rules test. Fields a resource
/// does not have stay empty; a rule whose fact is missing does not reach.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resource<'a> {
    /// The division code the resource lies in (a block, community,
    /// subdistrict or district code), if it has a place.
    pub division: Option<&'a str>,
    /// The subject who owns it (the reporting resident).
    pub owner: Option<&'a str>,
    /// The organisations that hold it (a handling department, a mass
    /// organisation), as the codes of their `org` claims.
    pub organisations: &'a [&'a str],
    /// The agencies it involves (those summoned), as `org` codes.
    pub agencies: &'a [&'a str],
}

impl<'a> Resource<'a> {
    /// A resource placed in the division with `code`.
    pub fn in_division(code: &'a str) -> Self {
        Self {
            division: Some(code),
            ..Self::default()
        }
    }

    /// The division the resource lies in, if it has one and its code is
    /// one: a malformed stored code places the resource nowhere.
    fn division(&self) -> Option<DivisionCode> {
        self.division
            .and_then(|code| DivisionCode::parse(code).ok())
    }

    pub fn owned_by(mut self, subject: Option<&'a str>) -> Self {
        self.owner = subject;
        self
    }

    pub fn held_by(mut self, organisations: &'a [&'a str]) -> Self {
        self.organisations = organisations;
        self
    }

    pub fn involving(mut self, agencies: &'a [&'a str]) -> Self {
        self.agencies = agencies;
        self
    }
}

/// What a limited caller reaches, for narrowing a list in SQL the way
/// [`Access::reaches`] decides for one record: division codes (a record's
/// division starts with one of them) and the caller's own organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// Division code prefixes from the caller's jurisdiction claims; empty
    /// when no place scope was earned.
    pub division_prefixes: Vec<String>,
    /// The caller's `org` claim, when the organisation scope was earned.
    pub organisation: Option<String>,
}

impl Reach {
    /// `None` when the caller's grant is not limited (public, district-wide,
    /// a named service): the list is not narrowed.
    pub fn of(access: &Access) -> Option<Self> {
        if access.unlimited() {
            return None;
        }
        let organisation = access
            .has_scope(Scope::Organisation)
            .then(|| {
                access
                    .caller()
                    .and_then(|caller| caller.organisation.clone())
            })
            .flatten();
        Some(Self {
            division_prefixes: access.division_prefixes(),
            organisation,
        })
    }
}

/// The verified caller of one RPC and what the policy granted them on it;
/// put into the request's extensions by the authorization layer.
#[derive(Debug, Clone)]
pub struct Access {
    caller: Option<Caller>,
    method: &'static str,
    /// The rule's grants, for asking what one role of the caller reaches.
    grants: &'static [Grant],
    scopes: Vec<Scope>,
    audit: AuditNote,
}

/// What a handler tells the audit trail about its call: the resources it
/// touched, and whether it already wrote the record in its own
/// transaction. Shared between the handler's [`Access`] and the layer.
#[derive(Debug, Clone, Default)]
pub struct AuditNote(Arc<Mutex<AuditNoteInner>>);

#[derive(Debug, Clone, Default)]
struct AuditNoteInner {
    resources: Vec<String>,
    recorded: bool,
    /// A read of an RPC that *can* return personal data returned none this time.
    nothing_personal: bool,
}

impl AuditNote {
    fn with<T>(&self, work: impl FnOnce(&mut AuditNoteInner) -> T) -> T {
        let mut inner = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut inner)
    }

    /// Names a resource the call touched.
    pub fn resource(&self, name: impl Into<String>) {
        let name = name.into();
        self.with(|inner| {
            if !inner.resources.contains(&name) {
                inner.resources.push(name);
            }
        });
    }

    /// The resources named so far.
    pub fn resources(&self) -> Vec<String> {
        self.with(|inner| inner.resources.clone())
    }

    /// Marks the call's record as written inside the handler's transaction
    /// (so the layer does not write a second one when the call succeeds).
    pub fn mark_recorded(&self) {
        self.with(|inner| inner.recorded = true);
    }

    pub fn is_recorded(&self) -> bool {
        self.with(|inner| inner.recorded)
    }

    /// Marks a successful read that returned no personal data (a lookup without
    /// contacts): there is nothing to record.
    pub fn nothing_personal(&self) {
        self.with(|inner| inner.nothing_personal = true);
    }

    /// Whether a successful call needs no record: written in the handler's
    /// transaction already, or a read that showed nothing personal.
    pub fn needs_no_record(&self) -> bool {
        self.with(|inner| inner.recorded || inner.nothing_personal)
    }
}

impl Access {
    /// The access of a caller on `rule`'s method with the scopes earned.
    pub fn new(caller: Option<Caller>, rule: &'static Rule, scopes: Vec<Scope>) -> Self {
        Self {
            caller,
            method: rule.method,
            grants: rule.grants,
            scopes,
            audit: AuditNote::default(),
        }
    }

    /// Access for in-process callers that bypass the layer (workers and
    /// tests of domain code): everything, as the service itself.
    pub fn internal(service: &'static str) -> Self {
        Self::new(
            Some(Caller {
                subject: service.to_owned(),
                roles: [Role::Service].into_iter().collect(),
                organisation: None,
                jurisdictions: Vec::new(),
            }),
            &INTERNAL,
            vec![Scope::Everything],
        )
    }

    /// The verified caller; `None` for an anonymous call to a public RPC.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The caller's token subject, as recorded beside what they did; empty
    /// for an anonymous call.
    pub fn subject(&self) -> &str {
        self.caller
            .as_ref()
            .map_or("", |caller| caller.subject.as_str())
    }

    /// The method called, e.g. `ReportCase`.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The scopes the caller's roles earned on this method.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// The audit note of this call.
    pub fn audit(&self) -> &AuditNote {
        &self.audit
    }

    /// True when the caller holds `role` and a grant of this method to
    /// `role` reaches `resource`: for answers shaped by which of a
    /// caller's roles reaches a resource (a supervisor verifies front-line
    /// work, a dispatcher the higher tiers).
    pub fn role_reaches(&self, role: Role, resource: &Resource<'_>) -> bool {
        let Some(caller) = &self.caller else {
            return false;
        };
        caller.has_role(role)
            && self
                .grants
                .iter()
                .filter(|grant| grant.roles.contains(&role))
                .filter(|grant| self.scopes.contains(&grant.scope))
                .any(|grant| scope_reaches(grant.scope, Some(caller), resource))
    }

    /// True when the caller is a flatgov service the table names for this
    /// method.
    pub fn is_named_service(&self) -> bool {
        self.scopes
            .iter()
            .any(|scope| matches!(scope, Scope::Services(_)))
    }

    /// True when one of the earned scopes reaches `resource`.
    pub fn reaches(&self, resource: &Resource<'_>) -> bool {
        self.scopes
            .iter()
            .any(|scope| scope_reaches(*scope, self.caller.as_ref(), resource))
    }

    /// True when the caller's grant on this method is not limited by place,
    /// owner or organisation (public, everything, a named service).
    pub fn unlimited(&self) -> bool {
        self.scopes.iter().any(|scope| {
            matches!(
                scope,
                Scope::Public | Scope::Everything | Scope::DistrictWide | Scope::Services(_)
            )
        })
    }

    /// True when the caller earned `scope` on this method.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// The division codes a place-limited caller reaches (their
    /// jurisdictions, or only the block-level ones when the grant is
    /// "own block"); empty when no place scope was earned. For filtering
    /// lists in SQL the same way [`Access::reaches`] filters one resource.
    pub fn division_prefixes(&self) -> Vec<String> {
        let Some(caller) = &self.caller else {
            return Vec::new();
        };
        let jurisdiction = self.has_scope(Scope::Jurisdiction);
        let own_block = self.has_scope(Scope::OwnBlock);
        caller
            .jurisdictions
            .iter()
            .filter(|claim| jurisdiction || (own_block && claim.level() == DivisionLevel::Block))
            .map(|claim| claim.code().to_owned())
            .collect()
    }
}

fn scope_reaches(scope: Scope, caller: Option<&Caller>, resource: &Resource<'_>) -> bool {
    match scope {
        Scope::Public | Scope::Everything | Scope::DistrictWide | Scope::Services(_) => true,
        _ => {
            let Some(caller) = caller else {
                return false;
            };
            match scope {
                Scope::Own => resource.owner == Some(caller.subject.as_str()),
                Scope::Jurisdiction => resource.division().is_some_and(|code| caller.covers(&code)),
                Scope::OwnBlock => resource.division().is_some_and(|code| {
                    caller
                        .jurisdictions
                        .iter()
                        .any(|claim| claim.level() == DivisionLevel::Block && claim.covers(&code))
                }),
                Scope::Organisation => caller
                    .organisation
                    .as_deref()
                    .is_some_and(|own| resource.organisations.contains(&own)),
                Scope::Agency => caller
                    .organisation
                    .as_deref()
                    .is_some_and(|own| resource.agencies.contains(&own)),
                Scope::Public | Scope::Everything | Scope::DistrictWide | Scope::Services(_) => {
                    true
                }
            }
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let roles: Vec<&str> = self.roles.iter().map(|role| role.as_str()).collect();
        if let Scope::Services(names) = self.scope {
            write!(formatter, "services: {}", names.join(", "))
        } else if roles.is_empty() {
            write!(formatter, "anyone: {}", self.scope.describe())
        } else {
            write!(formatter, "{}: {}", roles.join(", "), self.scope.describe())
        }
    }
}

/// The policy as a Markdown section: one table per service, a row per RPC
/// with the roles granted and their scopes. `docs/authz.md` is made of
/// these and checked against the code by the tests.
pub fn markdown(policy: &Policy) -> String {
    let mut text = format!(
        "## `{}`\n\n| RPC | granted to | audited |\n|---|---|---|\n",
        policy.service
    );
    for rule in policy.rules {
        let grants: Vec<String> = rule.grants.iter().map(ToString::to_string).collect();
        let audit = match rule.audit {
            Audit::No => "",
            Audit::Write => "write",
            Audit::PersonalRead => "personal data read",
        };
        let bulk = if rule.bulk { " (bulk)" } else { "" };
        text.push_str(&format!(
            "| `{}`{bulk} | {} | {audit} |\n",
            rule.method,
            grants.join("; ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str, roles: &[Role], org: Option<&str>, jurisdictions: &[&str]) -> Caller {
        Caller {
            subject: subject.into(),
            roles: roles.iter().copied().collect(),
            organisation: org.map(Into::into),
            jurisdictions: jurisdictions
                .iter()
                .map(|name| name.parse().unwrap())
                .collect(),
        }
    }

    const CASE_RULE: Rule = rpc("GetCase")
        .grants(&[
            allow(&[Role::Resident], Scope::Own),
            allow(&[Role::Governor, Role::Supervisor], Scope::OwnBlock),
            allow(&[Role::SubdistrictDispatcher], Scope::Jurisdiction),
            allow(&[Role::DepartmentOfficer], Scope::Organisation),
            services(&["notices"]),
        ])
        .reads_personal_data();

    #[test]
    fn a_role_the_rule_does_not_name_earns_nothing() {
        let integrator = caller("feed", &[Role::Integrator], None, &["districts/430302"]);
        assert_eq!(earned(&CASE_RULE, Some(&integrator)), None);
        assert_eq!(earned(&CASE_RULE, None), None);
    }

    #[test]
    fn the_service_role_reaches_only_rules_that_name_that_service() {
        let notices = caller("notices", &[Role::Service], None, &[]);
        assert_eq!(
            earned(&CASE_RULE, Some(&notices)),
            Some(vec![Scope::Services(&["notices"])])
        );
        let cases = caller("cases", &[Role::Service], None, &[]);
        assert_eq!(earned(&CASE_RULE, Some(&cases)), None);
    }

    #[test]
    fn a_resident_reaches_only_their_own_resources() {
        let resident = caller("wx-1", &[Role::Resident], None, &[]);
        let scopes = earned(&CASE_RULE, Some(&resident)).unwrap();
        let access = Access::new(Some(resident), &CASE_RULE, scopes);
        assert!(access.reaches(&Resource::in_division("430302001004017").owned_by(Some("wx-1"))));
        assert!(!access.reaches(&Resource::in_division("430302001004017").owned_by(Some("wx-2"))));
        assert!(!access.reaches(&Resource::in_division("430302001004017")));
    }

    #[test]
    fn own_block_needs_a_block_level_claim_while_jurisdiction_takes_any_level() {
        let governor = caller(
            "gov-17",
            &[Role::Governor],
            None,
            &["subdistricts/430302001", "blocks/430302001004017"],
        );
        let access = Access::new(
            Some(governor.clone()),
            &CASE_RULE,
            earned(&CASE_RULE, Some(&governor)).unwrap(),
        );
        assert!(access.reaches(&Resource::in_division("430302001004017")));
        assert!(!access.reaches(&Resource::in_division("430302001004018")));
        assert_eq!(access.division_prefixes(), ["430302001004017"]);

        let dispatcher = caller(
            "disp",
            &[Role::SubdistrictDispatcher],
            None,
            &["subdistricts/430302001"],
        );
        let access = Access::new(
            Some(dispatcher.clone()),
            &CASE_RULE,
            earned(&CASE_RULE, Some(&dispatcher)).unwrap(),
        );
        assert!(access.reaches(&Resource::in_division("430302001004018")));
        assert!(!access.reaches(&Resource::in_division("430302002004018")));
        assert!(!access.reaches(&Resource::default()));
    }

    #[test]
    fn organisation_and_agency_scopes_compare_the_org_claim() {
        let officer = caller(
            "off-1",
            &[Role::DepartmentOfficer],
            Some("urban_management"),
            &[],
        );
        let access = Access::new(
            Some(officer.clone()),
            &CASE_RULE,
            earned(&CASE_RULE, Some(&officer)).unwrap(),
        );
        assert!(access.reaches(&Resource::default().held_by(&["urban_management"])));
        assert!(!access.reaches(&Resource::default().held_by(&["police"])));
        assert!(!access.reaches(&Resource::default().involving(&["urban_management"])));
        assert!(access.role_reaches(
            Role::DepartmentOfficer,
            &Resource::default().held_by(&["urban_management"])
        ));
        assert!(!access.role_reaches(
            Role::Governor,
            &Resource::default().held_by(&["urban_management"])
        ));
    }

    #[test]
    fn district_wide_needs_a_district_level_claim() {
        const RULE: Rule = rpc("PublishList")
            .grants(&[allow(&[Role::DistrictAdmin], Scope::DistrictWide)])
            .writes();
        let district = caller("a", &[Role::DistrictAdmin], None, &["districts/430302"]);
        let subdistrict = caller(
            "b",
            &[Role::DistrictAdmin],
            None,
            &["subdistricts/430302001"],
        );
        assert_eq!(
            earned(&RULE, Some(&district)),
            Some(vec![Scope::DistrictWide])
        );
        assert_eq!(earned(&RULE, Some(&subdistrict)), None);
    }

    #[test]
    fn a_table_with_defects_says_what_they_are() {
        static BROKEN: Policy = Policy {
            service: "flatgov.test.v1.Broken",
            rules: &[
                rpc("A").grants(&[allow(&[Role::Service], Scope::Jurisdiction)]),
                rpc("A").grants(&[PUBLIC]),
                rpc("B"),
                rpc("C").grants(&[Grant {
                    roles: &[Role::Governor],
                    scope: Scope::Services(&["cases"]),
                }]),
            ],
        };
        let defects = BROKEN.defects();
        assert!(
            defects.iter().any(|d| d.contains("only to named services")),
            "{defects:?}"
        );
        assert!(
            defects.iter().any(|d| d.contains("listed twice")),
            "{defects:?}"
        );
        assert!(
            defects.iter().any(|d| d.contains("B grants nothing")),
            "{defects:?}"
        );
        assert!(
            defects.iter().any(|d| d.contains("services grant must be")),
            "{defects:?}"
        );
        static SOUND: Policy = Policy {
            service: "flatgov.test.v1.Sound",
            rules: &[CASE_RULE, rpc("ListMatters").grants(&[PUBLIC])],
        };
        assert!(SOUND.defects().is_empty());
    }

    #[test]
    fn the_markdown_table_lists_every_rule_with_its_grants() {
        static SOUND: Policy = Policy {
            service: "flatgov.test.v1.Sound",
            rules: &[CASE_RULE, rpc("ListMatters").grants(&[PUBLIC])],
        };
        let text = markdown(&SOUND);
        assert!(text.contains("## `flatgov.test.v1.Sound`"));
        assert!(text.contains(
            "| `GetCase` | resident: own; governor, supervisor: own block; subdistrict_dispatcher: jurisdiction; department_officer: organisation; services: notices | personal data read |"
        ), "{text}");
        assert!(text.contains("| `ListMatters` | anyone: public |  |"));
    }
}
