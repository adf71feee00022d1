//! Who is acting, for which organisation, and what they reach.
//!
//! The policy table (`crate::policy`) has decided the caller's role before
//! a handler runs; what is left here are the data scopes. Federation staff
//! act for the organisation their token's `org` claim names, which must be
//! an active member. The register of people in difficulty needs more than
//! the role: the staff member must be on their organisation's staff list
//! (table `staff`, keyed by organisation and token subject) with the
//! `people_register` or `people_register_all` permission. Permissions live
//! here rather than in the token so they can be granted and withdrawn at
//! once, and the token issuer needs to know nothing about the federation.
//!
//! A resource the caller does not reach is answered exactly as one that
//! does not exist: callers use the same NOT_FOUND message for both.

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Resource, Scope};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::codes::OrganisationCode;
use crate::domain::kinds::StaffPermission;
use crate::error::{Error, Result};
use crate::store;

/// A staff member acting for their member organisation.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The token subject, recorded as who did what.
    pub subject: String,
    /// The caller's organisation (their `org` claim), an active member.
    pub organisation: OrganisationCode,
}

/// Whether `code` is an active member organisation; `None` when it is not a
/// member at all.
pub async fn membership(connection: &mut PgConnection, code: &str) -> Result<Option<bool>> {
    Ok(store::organisations::membership(connection, code).await?)
}

/// The caller as a staff member of an active member organisation.
/// PERMISSION_DENIED (naming only the caller's own claim) when the token
/// names no organisation or one that is not an active member.
pub async fn actor(connection: &mut PgConnection, access: &Access) -> Result<Actor> {
    let Some(caller) = access.caller() else {
        return Err(Error::PermissionDenied(
            "this call needs a federation staff member's token".into(),
        ));
    };
    let Some(claimed) = caller.organisation.as_deref() else {
        return Err(Error::PermissionDenied(
            "the token names no organisation (`org` claim); staff act for their member organisation"
                .into(),
        ));
    };
    let organisation = OrganisationCode::parse(claimed).map_err(|_| {
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
    let stored =
        store::organisations::permissions(connection, actor.organisation.as_str(), &actor.subject)
            .await?;
    stored
        .unwrap_or_default()
        .iter()
        .map(|word| StaffPermission::from_stored(word).map_err(Error::from))
        .collect()
}

/// True when the caller reaches a resource held by `organisations`
/// (their organisation is one of them, or their grant is not limited).
pub fn reaches_organisations(access: &Access, organisations: &[&str]) -> bool {
    access.reaches(&Resource::default().held_by(organisations))
}

/// True when a scope other than `Public` reaches `resource`. On RPCs that
/// are public for what is announced (activities), this is whether the
/// caller also reaches what is not announced (a draft): its organisers'
/// staff and administrators do.
pub fn reaches_beyond_public(access: &Access, resource: &Resource<'_>) -> bool {
    // A public grant names no role, so only the role grants count here.
    Role::ALL
        .iter()
        .any(|role| access.role_reaches(*role, resource))
}

/// Whether responses may name staff members (the token subjects recorded
/// as creators, registrars, deciders): federation staff and district
/// administrators see them; residents, integrators and anonymous callers
/// get them blank.
pub fn shows_staff_ids(access: &Access) -> bool {
    access
        .caller()
        .is_some_and(|caller| caller.has_any_role(&[Role::FederationStaff, Role::DistrictAdmin]))
}

/// PERMISSION_DENIED unless the caller, a staff member of `organisation`,
/// holds `manage_staff` there. Administrators (district-wide) need not.
pub async fn require_staff_manager(
    connection: &mut PgConnection,
    access: &Access,
    organisation: &OrganisationCode,
) -> Result<()> {
    if access.has_scope(Scope::DistrictWide) {
        return Ok(());
    }
    let actor = actor(connection, access).await?;
    if actor.organisation != *organisation {
        return Err(Error::PermissionDenied(
            "a staff list is managed by its own organisation's staff managers".into(),
        ));
    }
    if !permissions(connection, &actor)
        .await?
        .contains(&StaffPermission::ManageStaff)
    {
        return Err(Error::PermissionDenied(format!(
            "managing the staff list of {organisation} needs STAFF_PERMISSION_MANAGE_STAFF on it"
        )));
    }
    Ok(())
}

/// A staff member's access to the register of people in difficulty: they
/// reach the people their organisation registered, leads a plan for or
/// commits a measure to. (`people_register_all` once opened the whole
/// register to coordinators; a record is now shared with another
/// organisation only through a sharing request the person consented to,
/// so it reaches what `people_register` does.)
#[derive(Debug, Clone)]
pub struct RegisterAccess {
    /// Who acts.
    actor: Actor,
    /// What the policy granted on this call.
    access: Access,
}

impl RegisterAccess {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The organisation whose involvement limits what is seen. Bound to
    /// [`crate::store::people::person_visible`].
    pub fn organisation(&self) -> &str {
        self.actor.organisation.as_str()
    }

    /// True when the person exists and the caller reaches them.
    pub async fn reaches_person(
        &self,
        connection: &mut PgConnection,
        person: Uuid,
    ) -> Result<bool> {
        let organisations = store::people::person_organisations(connection, person).await?;
        let codes: Vec<&str> = organisations.iter().map(String::as_str).collect();
        Ok(!codes.is_empty() && reaches_organisations(&self.access, &codes))
    }

    /// NOT_FOUND, worded as for a person that does not exist, unless the
    /// caller reaches the person (AIP-211: callers must not learn whether a
    /// person they may not see is on the register).
    pub async fn require_person(&self, connection: &mut PgConnection, person: Uuid) -> Result<()> {
        if self.reaches_person(connection, person).await? {
            return Ok(());
        }
        Err(person_not_found(person))
    }

    /// [`Self::require_person`], and the person may still be processed:
    /// FAILED_PRECONDITION once they withdrew their consent or their record
    /// was erased (PIPL art. 47: processing stops).
    pub async fn require_processable(
        &self,
        connection: &mut PgConnection,
        person: Uuid,
    ) -> Result<()> {
        self.require_person(connection, person).await?;
        require_processable(connection, person).await
    }
}

/// FAILED_PRECONDITION when the person withdrew their consent or their
/// record was erased: nothing new is recorded about them.
pub async fn require_processable(connection: &mut PgConnection, person: Uuid) -> Result<()> {
    let stopped: Option<bool> = sqlx::query_scalar(
        "select consent_withdrawn_at is not null or erased_at is not null from people where id = $1",
    )
    .bind(person)
    .fetch_optional(connection)
    .await
    .map_err(Error::database("reading whether a person may be processed"))?;
    if stopped == Some(true) {
        return Err(Error::Precondition {
            kind: "PERSON_CONSENT_WITHDRAWN",
            subject: "people",
            message: format!(
                "people/{person} withdrew their consent to the register or their record was \
                 erased: nothing more is recorded about them"
            ),
        });
    }
    Ok(())
}

/// The one answer for a person who does not exist or is out of reach.
pub fn person_not_found(person: Uuid) -> Error {
    Error::NotFound(format!("people/{person} does not exist"))
}

/// The caller's access to the register, or PERMISSION_DENIED naming the
/// permission that is missing (the same answer whatever is asked for, so
/// it reveals nothing about the register).
pub async fn register_access(
    connection: &mut PgConnection,
    access: &Access,
) -> Result<RegisterAccess> {
    let actor = actor(connection, access).await?;
    let held = permissions(connection, &actor).await?;
    if !held.contains(&StaffPermission::PeopleRegister)
        && !held.contains(&StaffPermission::PeopleRegisterAll)
    {
        return Err(Error::PermissionDenied(
            "the register of people in difficulty needs STAFF_PERMISSION_PEOPLE_REGISTER \
             on your organisation's staff list"
                .into(),
        ));
    }
    Ok(RegisterAccess {
        actor,
        access: access.clone(),
    })
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
