//! Who is acting, for which organisation, and with which permissions.
//!
//! Federation staff present a token with role `federation_staff` and the
//! `org` claim naming their organisation's code; the organisation must be
//! an active member. The register of people in difficulty needs more than
//! the role: the staff member must be on their organisation's staff list
//! (table `staff`, keyed by organisation and token subject) with the
//! `people_register` or `people_register_all` permission. Permissions live
//! here rather than in the token so they can be granted and withdrawn at
//! once, and the token issuer needs to know nothing about the federation.

use flatgov_auth::{Caller, Role};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::codes::{Code, OrganisationCode};
use crate::domain::kinds::StaffPermission;
use crate::error::{Error, Result};

/// A staff member acting for their member organisation.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The token subject, recorded as who did what.
    pub subject: String,
    pub organisation: OrganisationCode,
}

/// Whether `code` is an active member organisation; `None` when it is not a
/// member at all.
pub async fn membership(connection: &mut PgConnection, code: &str) -> Result<Option<bool>> {
    sqlx::query_scalar("select active from organisations where code = $1")
        .bind(code)
        .fetch_optional(connection)
        .await
        .map_err(Error::database("checking membership"))
}

/// The caller as a staff member of an active member organisation.
pub async fn actor(connection: &mut PgConnection, caller: &Caller) -> Result<Actor> {
    caller.require_any_role(&[Role::FederationStaff])?;
    let claimed = caller.require_organisation()?;
    let organisation = Code::parse(claimed).map_err(|_| {
        Error::PermissionDenied(format!(
            "the token's organisation `{claimed}` is not an organisation code"
        ))
    })?;
    match membership(connection, organisation.as_str()).await? {
        Some(true) => Ok(Actor {
            subject: caller.subject.clone(),
            organisation,
        }),
        Some(false) => Err(Error::PermissionDenied(format!(
            "organisation `{organisation}` is inactive in the federation"
        ))),
        None => Err(Error::PermissionDenied(format!(
            "organisation `{organisation}` is not a member of the federation"
        ))),
    }
}

/// The permissions of an active staff member; none when they are not on
/// the list or inactive.
pub async fn permissions(
    connection: &mut PgConnection,
    actor: &Actor,
) -> Result<Vec<StaffPermission>> {
    let stored: Option<Vec<String>> = sqlx::query_scalar(
        "select permissions from staff where organisation = $1 and staff_id = $2 and active",
    )
    .bind(actor.organisation.as_str())
    .bind(&actor.subject)
    .fetch_optional(connection)
    .await
    .map_err(Error::database("reading staff permissions"))?;
    stored
        .unwrap_or_default()
        .iter()
        .map(|word| StaffPermission::from_stored(word).map_err(Error::from))
        .collect()
}

/// How much of the register of people in difficulty a staff member sees.
#[derive(Debug, Clone)]
pub enum RegisterAccess {
    /// People their organisation registered, leads a plan for or commits a
    /// measure to.
    Involved(Actor),
    /// The whole register.
    All(Actor),
}

impl RegisterAccess {
    pub fn actor(&self) -> &Actor {
        match self {
            RegisterAccess::Involved(actor) | RegisterAccess::All(actor) => actor,
        }
    }

    /// The organisation whose involvement limits what is seen; `None` for
    /// the whole register. Bound to [`PERSON_VISIBLE`].
    pub fn limited_to(&self) -> Option<&str> {
        match self {
            RegisterAccess::Involved(actor) => Some(actor.organisation.as_str()),
            RegisterAccess::All(_) => None,
        }
    }

    /// PERMISSION_DENIED unless the person exists and is visible; NOT_FOUND
    /// only for those who see the whole register (AIP-211: others must not
    /// learn whether a person they may not see exists).
    pub async fn require_person(&self, connection: &mut PgConnection, person: Uuid) -> Result<()> {
        let visible: Option<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select {} from people p where p.id = $1",
            person_visible("p.id", 2)
        )))
        .bind(person)
        .bind(self.limited_to())
        .fetch_optional(connection)
        .await
        .map_err(Error::database("checking access to a person"))?;
        match (visible, self) {
            (Some(true), _) => Ok(()),
            (None, RegisterAccess::All(_)) => {
                Err(Error::NotFound(format!("people/{person} does not exist")))
            }
            _ => Err(Error::PermissionDenied(format!(
                "people/{person} is not visible to {}: it has not registered this person nor commits support to them",
                self.actor().organisation
            ))),
        }
    }
}

/// SQL that is true when the person whose id is `person_column` is visible
/// to the organisation bound at `$parameter` (null: everyone is visible).
pub fn person_visible(person_column: &str, parameter: usize) -> String {
    format!(
        "(${parameter}::text is null
          or exists (select 1 from person_registrations pr
                     where pr.person = {person_column} and pr.organisation = ${parameter})
          or exists (select 1 from support_plans sp
                     where sp.person = {person_column}
                       and (sp.lead_organisation = ${parameter}
                            or exists (select 1 from support_measures sm
                                       where sm.plan = sp.id and sm.organisation = ${parameter}))))"
    )
}

/// The caller's access to the register, or PERMISSION_DENIED explaining
/// which permission is missing.
pub async fn register_access(
    connection: &mut PgConnection,
    caller: &Caller,
) -> Result<RegisterAccess> {
    let actor = actor(connection, caller).await?;
    let held = permissions(connection, &actor).await?;
    if held.contains(&StaffPermission::PeopleRegisterAll) {
        return Ok(RegisterAccess::All(actor));
    }
    if held.contains(&StaffPermission::PeopleRegister) {
        return Ok(RegisterAccess::Involved(actor));
    }
    Err(Error::PermissionDenied(format!(
        "staff member `{}` of {} may not use the register of people in difficulty: \
         it needs STAFF_PERMISSION_PEOPLE_REGISTER on the organisation's staff list",
        actor.subject, actor.organisation
    )))
}

/// District administrators manage every organisation's staff list; a staff
/// member with `manage_staff` manages their own organisation's.
pub async fn require_staff_manager(
    connection: &mut PgConnection,
    caller: &Caller,
    organisation: &OrganisationCode,
) -> Result<()> {
    if caller.has_role(Role::DistrictAdmin) {
        return Ok(());
    }
    if !caller.has_role(Role::FederationStaff) {
        caller.require_any_role(&[Role::DistrictAdmin, Role::FederationStaff])?;
    }
    let actor = actor(connection, caller).await?;
    if actor.organisation != *organisation {
        return Err(Error::PermissionDenied(format!(
            "staff of {} cannot manage the staff of {organisation}",
            actor.organisation
        )));
    }
    if !permissions(connection, &actor)
        .await?
        .contains(&StaffPermission::ManageStaff)
    {
        return Err(Error::PermissionDenied(format!(
            "staff member `{}` of {organisation} needs STAFF_PERMISSION_MANAGE_STAFF to manage its staff list",
            actor.subject
        )));
    }
    Ok(())
}

/// Checks that every code names an active member organisation; the
/// violations name the fields (`co_organisers[1]`) of those that do not.
pub async fn inactive_or_unknown(
    connection: &mut PgConnection,
    codes: &[(String, OrganisationCode)],
) -> Result<Vec<(String, String)>> {
    let mut problems = Vec::new();
    for (field, code) in codes {
        match membership(connection, code.as_str()).await? {
            Some(true) => {}
            Some(false) => problems.push((
                field.clone(),
                format!("{code} is inactive in the federation"),
            )),
            None => problems.push((
                field.clone(),
                format!("{code} is not a member organisation of the federation"),
            )),
        }
    }
    Ok(problems)
}
