//! Registrations for activities: residents register themselves,
//! organisers' staff register participants at the desk; past capacity a
//! registration waits its turn, a cancelled place goes to the first in
//! line, check-in makes attendance.
//!
//! A registration is its participant's and its activity's organisers':
//! anyone else is answered as if it did not exist. The activity row is
//! locked for every registration, cancellation and check-in, so capacity
//! holds under concurrency.

use flatgov_auth::policy::{Access, Resource, Scope};
use sqlx::PgConnection;
use uuid::Uuid;

use super::activities::{lock_visible, organises, require_organiser, visible};
use super::{App, Page, Retry, claim, commit, recall, subject};
use crate::access;
use crate::domain::activity::{self, CheckIn, Placement};
use crate::domain::codes::Collection;
use crate::domain::kinds::{ActivityState, RegistrationStatus};
use crate::error::{Error, Result};
use crate::events;
use crate::store::activities::{self as store, ActivityRow, RegistrationRow};

/// A registration for an activity. A resident registers themselves
/// (`participant` is then their token subject).
#[derive(Debug)]
pub struct Register {
    pub activity: Uuid,
    /// The participant as the caller named them; `None` for "myself".
    pub participant: Option<String>,
    pub display_name: String,
    pub retry: Option<Retry>,
}

/// A registration of an activity, by their ids.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationId {
    pub activity: Uuid,
    pub id: Uuid,
}

impl RegistrationId {
    pub fn name(&self) -> String {
        name(self.activity, self.id)
    }
}

/// A page of one activity's registrations.
#[derive(Debug)]
pub struct ListRegistrations {
    pub activity: Uuid,
    pub status: Option<RegistrationStatus>,
    pub page: Page<Uuid>,
}

fn name(activity: Uuid, id: Uuid) -> String {
    Collection::Activities.child_name(activity, Collection::Registrations, id)
}

/// The one answer for a registration that does not exist or is out of
/// reach.
fn not_found(registration: RegistrationId) -> Error {
    Error::NotFound(format!("{} does not exist", registration.name()))
}

fn reaches(access: &Access, activity: &ActivityRow, registration: &RegistrationRow) -> bool {
    let organisers: Vec<&str> = activity.organisers().collect();
    access.reaches(
        &Resource::default()
            .owned_by(Some(&registration.participant))
            .held_by(&organisers),
    )
}

/// The activity and the registration, NOT_FOUND (worded for the
/// registration) unless both exist and the caller reaches the registration.
async fn reachable(
    connection: &mut PgConnection,
    access: &Access,
    registration: RegistrationId,
) -> Result<(ActivityRow, RegistrationRow)> {
    let activity = store::get_activity(connection, registration.activity)
        .await?
        .ok_or_else(|| not_found(registration))?;
    let row = store::get_registration(connection, registration.id)
        .await?
        .filter(|row| row.activity == registration.activity)
        .filter(|row| reaches(access, &activity, row))
        .ok_or_else(|| not_found(registration))?;
    Ok((activity, row))
}

async fn load(
    connection: &mut PgConnection,
    registration: RegistrationId,
) -> Result<RegistrationRow> {
    store::get_registration(connection, registration.id)
        .await?
        .filter(|row| row.activity == registration.activity)
        .ok_or_else(|| not_found(registration))
}

async fn replay(app: &App, access: &Access, remembered: &str) -> Result<RegistrationRow> {
    let (activity, id) = Collection::Activities
        .parse_child(Collection::Registrations, remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered registration: {invalid}")))?;
    let mut connection = app.connection("reading a registration").await?;
    let (_, row) = reachable(&mut connection, access, RegistrationId { activity, id }).await?;
    access.audit().resource(remembered);
    Ok(row)
}

pub async fn register(app: &App, access: &Access, register: Register) -> Result<RegistrationRow> {
    // Staff register participants at the desk; a resident registers
    // themselves.
    let acting_as_staff = access.has_scope(Scope::Organisation);
    let caller = subject(access);
    let participant = match (&register.participant, acting_as_staff) {
        (Some(participant), _) => participant.clone(),
        (None, false) => caller.clone(),
        (None, true) => return Err(Error::invalid("participant", "must not be empty")),
    };
    if !acting_as_staff && participant != caller {
        return Err(Error::PermissionDenied(
            "a resident registers only themselves: leave participant empty or use your own account id".into(),
        ));
    }
    if let Some(remembered) = recall(app, access, register.retry.as_ref()).await? {
        return replay(app, access, &remembered).await;
    }
    let mut transaction = app.begin("registering for an activity").await?;
    if acting_as_staff {
        access::actor(&mut transaction, access).await?;
    }
    let activity = lock_visible(&mut transaction, access, register.activity).await?;
    if acting_as_staff {
        require_organiser(access, &activity)?;
    }
    let now = app.clock.now();
    activity::check_registration_open(
        ActivityState::from_stored(&activity.state)?,
        activity.ends_at,
        now,
    )
    .map_err(Error::FailedPrecondition)?;
    if let Some(existing) =
        store::live_registration(&mut transaction, register.activity, &participant).await?
    {
        let existing_name = name(register.activity, existing.id);
        return Err(Error::AlreadyExists {
            message: format!(
                "the participant is already registered ({}) as {existing_name}",
                existing.status
            ),
            resource: Some(existing_name),
        });
    }
    let registration = RegistrationId {
        activity: register.activity,
        id: Uuid::now_v7(),
    };
    if let Some(winner) = claim(
        app,
        &mut transaction,
        access,
        register.retry.as_ref(),
        &registration.name(),
    )
    .await?
    {
        drop(transaction);
        return replay(app, access, &winner).await;
    }
    let taken = store::places_taken(&mut transaction, register.activity).await?;
    let capacity = u32::try_from(activity.capacity).unwrap_or(0);
    let placement = activity::placement(capacity, u32::try_from(taken).unwrap_or(u32::MAX));
    store::insert_registration(
        &mut transaction,
        &store::NewRegistration {
            id: registration.id,
            activity: register.activity,
            participant: &participant,
            participant_display_name: &register.display_name,
            status: placement.status().as_str(),
            registered_by: &caller,
        },
    )
    .await?;
    let row = load(&mut transaction, registration).await?;
    events::registration_changed(&mut transaction, &row, None, now).await?;
    access.audit().resource(registration.name());
    commit(transaction, access, "registering for an activity").await?;
    tracing::info!(
        activity = %register.activity,
        registration = %registration.id,
        waitlisted = placement == Placement::Waitlisted,
        "registration recorded"
    );
    Ok(row)
}

/// Cancels a registration the caller reaches; a confirmed place freed goes
/// to the first on the waitlist in the same transaction.
pub async fn cancel(
    app: &App,
    access: &Access,
    registration: RegistrationId,
    reason: &str,
) -> Result<RegistrationRow> {
    let mut transaction = app.begin("cancelling a registration").await?;
    if !store::lock_activity(&mut transaction, registration.activity).await? {
        return Err(not_found(registration));
    }
    let (activity, row) = reachable(&mut transaction, access, registration).await?;
    if access.has_scope(Scope::Organisation) {
        access::actor(&mut transaction, access).await?;
    }
    access.audit().resource(registration.name());
    let previous = RegistrationStatus::from_stored(&row.status)?;
    activity::check_cancellation(ActivityState::from_stored(&activity.state)?, previous)
        .map_err(Error::FailedPrecondition)?;
    let now = app.clock.now();
    store::cancel_registration(&mut transaction, registration.id, now, reason).await?;
    let cancelled = load(&mut transaction, registration).await?;
    events::registration_changed(&mut transaction, &cancelled, Some(previous), now).await?;
    if previous == RegistrationStatus::Confirmed {
        let taken = store::places_taken(&mut transaction, registration.activity).await?;
        let capacity = u32::try_from(activity.capacity).unwrap_or(0);
        if activity::placement(capacity, u32::try_from(taken).unwrap_or(u32::MAX))
            == Placement::Confirmed
            && let Some(promoted) =
                store::promote_first_waitlisted(&mut transaction, registration.activity, now)
                    .await?
        {
            let promoted = RegistrationId {
                activity: registration.activity,
                id: promoted,
            };
            let promoted_row = load(&mut transaction, promoted).await?;
            events::registration_changed(
                &mut transaction,
                &promoted_row,
                Some(RegistrationStatus::Waitlisted),
                now,
            )
            .await?;
            access.audit().resource(promoted.name());
            tracing::info!(activity = %registration.activity, registration = %promoted.id, "promoted from the waitlist");
        }
    }
    commit(transaction, access, "cancelling a registration").await?;
    Ok(cancelled)
}

/// Records the attendance of a participant holding a confirmed
/// registration; checking in twice changes nothing.
pub async fn check_in(
    app: &App,
    access: &Access,
    activity_id: Uuid,
    participant: &str,
) -> Result<RegistrationRow> {
    let mut transaction = app.begin("checking in").await?;
    access::actor(&mut transaction, access).await?;
    let activity = lock_visible(&mut transaction, access, activity_id).await?;
    require_organiser(access, &activity)?;
    let registration = store::live_registration(&mut transaction, activity_id, participant).await?;
    let status = registration
        .as_ref()
        .map(|row| RegistrationStatus::from_stored(&row.status))
        .transpose()?;
    let now = app.clock.now();
    let decision = activity::check_in(
        ActivityState::from_stored(&activity.state)?,
        activity.starts_at,
        now,
        status,
    )
    .map_err(Error::FailedPrecondition)?;
    let Some(registration) = registration else {
        return Err(Error::FailedPrecondition(
            "the participant is not registered for this activity".into(),
        ));
    };
    let id = RegistrationId {
        activity: activity_id,
        id: registration.id,
    };
    access.audit().resource(id.name());
    if decision == CheckIn::AlreadyCheckedIn {
        return Ok(registration);
    }
    store::mark_attended(&mut transaction, registration.id, now).await?;
    let attended = load(&mut transaction, id).await?;
    events::registration_changed(
        &mut transaction,
        &attended,
        Some(RegistrationStatus::Confirmed),
        now,
    )
    .await?;
    commit(transaction, access, "checking in").await?;
    Ok(attended)
}

pub async fn get(
    app: &App,
    access: &Access,
    registration: RegistrationId,
) -> Result<RegistrationRow> {
    let mut connection = app.connection("reading a registration").await?;
    let (_, row) = reachable(&mut connection, access, registration).await?;
    access.audit().resource(registration.name());
    Ok(row)
}

/// Organisers (and administrators) list every registration; a resident
/// only their own; another organisation's staff none.
pub async fn list(
    app: &App,
    access: &Access,
    query: &ListRegistrations,
) -> Result<Vec<RegistrationRow>> {
    let mut connection = app.connection("listing registrations").await?;
    let activity = visible(&mut connection, access, query.activity).await?;
    let participant = if organises(access, &activity) || access.has_scope(Scope::DistrictWide) {
        None
    } else if access.has_scope(Scope::Own) {
        Some(subject(access))
    } else {
        return Err(Error::PermissionDenied(format!(
            "only the organisers of {} see its registrations",
            Collection::Activities.name(query.activity)
        )));
    };
    let rows = store::list_registrations(
        &mut connection,
        query.activity,
        query.status.map(RegistrationStatus::as_str),
        participant.as_deref(),
        query.page.after,
        query.page.limit,
    )
    .await?;
    for row in &rows {
        access.audit().resource(name(row.activity, row.id));
    }
    Ok(rows)
}
