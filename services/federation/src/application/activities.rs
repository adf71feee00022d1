//! Joint theme activities (the first mechanism): drafted by a lead
//! organisation with co-organisers, published, held or cancelled.
//!
//! Announced activities are public; a draft is seen by its organisers'
//! staff and by administrators only, and answered to anyone else as if it
//! did not exist. Only the lead changes an activity.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource, Scope};
use flatgov_grpc::error::Violations;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{App, Checked, Page, Retry, claim, commit, recall};
use crate::access::{self, Actor};
use crate::domain::activity;
use crate::domain::codes::{
    BlockCode, Collection, DivisionCode, OrganisationCode, SeriesCode, series_name,
};
use crate::domain::kinds::{ActivityState, Audience, require_state};
use crate::error::{Error, Result};
use crate::events;
use crate::store::activities::{self as store, ActivityFilter, ActivityRow};

/// What an activity is, as its creator described it.
#[derive(Debug)]
pub struct ActivityFields {
    pub title: String,
    pub description: String,
    pub block_code: Option<BlockCode>,
    pub venue: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: u32,
    pub audiences: Vec<Audience>,
}

/// What a new activity names elsewhere: its co-organisers (with the fields
/// that name them) and its series, checked against the database.
#[derive(Debug, Default)]
pub struct ActivityReferences {
    pub co_organisers: Vec<(String, OrganisationCode)>,
    pub series: Option<SeriesCode>,
}

/// A new activity, led by the caller's organisation.
#[derive(Debug)]
pub struct NewActivity {
    pub activity: Checked<ActivityFields, ActivityReferences>,
    pub retry: Option<Retry>,
}

/// What the lead does to its activity.
#[derive(Debug)]
pub enum Change {
    Publish,
    Cancel { reason: String },
    Complete { summary: String },
}

/// Filters of the activity list, and the page.
#[derive(Debug)]
pub struct ListActivities {
    pub organisation: Option<OrganisationCode>,
    pub series: Option<SeriesCode>,
    pub state: Option<ActivityState>,
    pub division: Option<DivisionCode>,
    pub start_after: Option<DateTime<Utc>>,
    pub start_before: Option<DateTime<Utc>>,
    pub audience: Option<Audience>,
    pub page: Page<Cursor>,
}

/// Where the activity list resumes: the start (in microseconds, as stored)
/// and id of the last activity of the previous page, `{micros}|{uuid}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub starts_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn of(row: &ActivityRow) -> Self {
        Self {
            starts_at: row.starts_at,
            id: row.id,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}|{}",
            self.starts_at.timestamp_micros(),
            self.id
        )
    }
}

/// A cursor that does not read back was not issued by this list.
#[derive(Debug, thiserror::Error)]
#[error("is not a cursor of the activity list")]
pub struct ForeignCursor;

impl FromStr for Cursor {
    type Err = ForeignCursor;

    fn from_str(text: &str) -> std::result::Result<Self, ForeignCursor> {
        let (micros, id) = text.split_once('|').ok_or(ForeignCursor)?;
        let micros: i64 = micros.parse().map_err(|_| ForeignCursor)?;
        Ok(Self {
            starts_at: DateTime::<Utc>::from_timestamp_micros(micros).ok_or(ForeignCursor)?,
            id: Uuid::parse_str(id).map_err(|_| ForeignCursor)?,
        })
    }
}

/// Announced activities are seen by everyone; drafts by their organisers'
/// staff and administrators only.
fn sees(access: &Access, activity: &ActivityRow) -> bool {
    let organisers: Vec<&str> = activity.organisers().collect();
    activity.state != ActivityState::Draft.as_str()
        || access::reaches_beyond_public(access, &Resource::default().held_by(&organisers))
}

/// True when the caller's organisation organises the activity.
pub(super) fn organises(access: &Access, activity: &ActivityRow) -> bool {
    let organisers: Vec<&str> = activity.organisers().collect();
    access::reaches_organisations(access, &organisers)
}

/// The one answer for an activity that does not exist or is out of sight.
pub(super) fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!(
        "{} does not exist",
        Collection::Activities.name(id)
    ))
}

/// The activity, NOT_FOUND unless the caller sees it.
pub(super) async fn visible(
    connection: &mut PgConnection,
    access: &Access,
    id: Uuid,
) -> Result<ActivityRow> {
    let row = store::get_activity(connection, id)
        .await?
        .filter(|row| sees(access, row))
        .ok_or_else(|| not_found(id))?;
    Ok(row)
}

/// Locks the activity, then reads it as the caller sees it.
pub(super) async fn lock_visible(
    connection: &mut PgConnection,
    access: &Access,
    id: Uuid,
) -> Result<ActivityRow> {
    if !store::lock_activity(connection, id).await? {
        return Err(not_found(id));
    }
    visible(connection, access, id).await
}

/// PERMISSION_DENIED unless the caller's organisation organises the
/// activity (which the caller sees).
pub(super) fn require_organiser(access: &Access, activity: &ActivityRow) -> Result<()> {
    if organises(access, activity) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "only the organisers of {} handle its registrations",
        Collection::Activities.name(activity.id)
    )))
}

/// PERMISSION_DENIED unless the caller's organisation leads the activity.
fn require_lead(actor: &Actor, activity: &ActivityRow) -> Result<()> {
    if activity.lead_organisation == actor.organisation.as_str() {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "only the organisation leading {} changes it",
        Collection::Activities.name(activity.id)
    )))
}

async fn replay(app: &App, access: &Access, name: &str) -> Result<ActivityRow> {
    let id = Collection::Activities
        .parse(name)
        .map_err(|invalid| Error::Corrupt(format!("remembered activity: {invalid}")))?;
    let mut connection = app.connection("reading an activity").await?;
    let row = visible(&mut connection, access, id).await?;
    access.audit().resource(name);
    Ok(row)
}

pub async fn create(app: &App, access: &Access, new: NewActivity) -> Result<ActivityRow> {
    // Only a request that parsed was remembered; a bad one goes on to the
    // checks that need the database, so one reply names every problem.
    if new.activity.fields.is_ok()
        && let Some(name) = recall(app, access, new.retry.as_ref()).await?
    {
        return replay(app, access, &name).await;
    }
    let mut transaction = app.begin("creating an activity").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let references = &new.activity.references;
    let mut found = Violations::new();
    if let Some((field, _)) = references
        .co_organisers
        .iter()
        .find(|(_, code)| *code == actor.organisation)
    {
        found.add(
            field.clone(),
            format!(
                "{} leads the activity; it is not also a co-organiser",
                actor.organisation
            ),
        );
    }
    for (field, problem) in
        access::inactive_or_unknown(&mut transaction, &references.co_organisers).await?
    {
        found.add(field, problem);
    }
    if let Some(series) = &references.series
        && store::get_series(&mut transaction, series.as_str())
            .await?
            .is_none()
    {
        found.add(
            "series",
            format!("{} does not exist", series_name(series.as_str())),
        );
    }
    let series = references.series.clone();
    let co_organisers: Vec<String> = references
        .co_organisers
        .iter()
        .map(|(_, code)| code.as_str().to_owned())
        .collect();
    let fields = new.activity.into_fields(found)?;
    let id = Uuid::now_v7();
    let name = Collection::Activities.name(id);
    if let Some(winner) = claim(app, &mut transaction, access, new.retry.as_ref(), &name).await? {
        drop(transaction);
        return replay(app, access, &winner).await;
    }
    let audiences: Vec<String> = fields
        .audiences
        .iter()
        .map(|audience| audience.as_str().to_owned())
        .collect();
    store::insert_activity(
        &mut transaction,
        &store::NewActivity {
            id,
            title: &fields.title,
            description: &fields.description,
            series: series.as_ref().map(SeriesCode::as_str),
            lead_organisation: actor.organisation.as_str(),
            block_code: fields.block_code.as_ref().map(BlockCode::as_str),
            venue: &fields.venue,
            starts_at: fields.starts_at,
            ends_at: fields.ends_at,
            capacity: i32::try_from(fields.capacity).unwrap_or(i32::MAX),
            audiences: &audiences,
            created_by: &actor.subject,
        },
    )
    .await?;
    store::insert_co_organisers(&mut transaction, id, &co_organisers).await?;
    let row = store::get_activity(&mut transaction, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(name);
    commit(transaction, access, "creating an activity").await?;
    tracing::info!(activity = %id, organisation = %actor.organisation, "activity drafted");
    Ok(row)
}

/// Publishes, cancels or completes an activity the caller sees (NOT_FOUND
/// otherwise) and leads (PERMISSION_DENIED otherwise).
pub async fn change(app: &App, access: &Access, id: Uuid, change: Change) -> Result<ActivityRow> {
    let context = match change {
        Change::Publish => "publishing an activity",
        Change::Cancel { .. } => "cancelling an activity",
        Change::Complete { .. } => "marking an activity held",
    };
    let mut transaction = app.begin(context).await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = lock_visible(&mut transaction, access, id).await?;
    require_lead(&actor, &row)?;
    access.audit().resource(Collection::Activities.name(id));
    let state = ActivityState::from_stored(&row.state)?;
    let now = app.clock.now();
    match &change {
        Change::Publish => {
            require_state("activity", state, &[ActivityState::Draft], "published")
                .map_err(Error::FailedPrecondition)?;
            if now >= row.ends_at {
                return Err(Error::FailedPrecondition(format!(
                    "activity ended at {}; an activity in the past cannot be published",
                    row.ends_at.to_rfc3339()
                )));
            }
            store::mark_published(&mut transaction, id, now).await?;
            events::activity_published(&mut transaction, &row, now).await?;
        }
        Change::Cancel { reason } => {
            require_state(
                "activity",
                state,
                &[ActivityState::Draft, ActivityState::Published],
                "cancelled",
            )
            .map_err(Error::FailedPrecondition)?;
            let registrations_cancelled =
                store::mark_cancelled(&mut transaction, id, now, reason).await?;
            if state == ActivityState::Published {
                events::activity_cancelled(
                    &mut transaction,
                    &row,
                    reason,
                    registrations_cancelled,
                    now,
                )
                .await?;
            }
            tracing::info!(activity = %id, registrations_cancelled, "activity cancelled");
        }
        Change::Complete { summary } => {
            activity::check_completion(state, row.starts_at, now)
                .map_err(Error::FailedPrecondition)?;
            store::mark_held(&mut transaction, id, now, summary).await?;
            events::activity_held(&mut transaction, &row, now).await?;
        }
    }
    let row = store::get_activity(&mut transaction, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    commit(transaction, access, context).await?;
    tracing::info!(activity = %id, organisation = %actor.organisation, state = %row.state, "activity changed");
    Ok(row)
}

pub async fn get(app: &App, access: &Access, id: Uuid) -> Result<ActivityRow> {
    let mut connection = app.connection("reading an activity").await?;
    visible(&mut connection, access, id).await
}

pub async fn list(app: &App, access: &Access, query: &ListActivities) -> Result<Vec<ActivityRow>> {
    // Drafts only for their organisers' staff and administrators: others
    // get the announced ones, whatever filter they ask for.
    let sees_every_draft = access.has_scope(Scope::DistrictWide);
    let drafts_of = (!sees_every_draft && access.has_scope(Scope::Organisation))
        .then(|| {
            access
                .caller()
                .and_then(|caller| caller.organisation.clone())
        })
        .flatten();
    let visible_states = (!sees_every_draft).then(|| {
        [
            ActivityState::Published,
            ActivityState::Held,
            ActivityState::Cancelled,
        ]
        .iter()
        .map(|state| state.as_str().to_owned())
        .collect()
    });
    let filter = ActivityFilter {
        organisation: query
            .organisation
            .as_ref()
            .map(|code| code.as_str().to_owned()),
        series: query.series.as_ref().map(|code| code.as_str().to_owned()),
        state: query.state.map(|state| state.as_str().to_owned()),
        visible_states,
        drafts_of,
        division_prefix: query
            .division
            .as_ref()
            .map(|division| division.as_str().to_owned()),
        start_after: query.start_after,
        start_before: query.start_before,
        audience: query.audience.map(|audience| audience.as_str().to_owned()),
        after: query.page.after.map(|cursor| (cursor.starts_at, cursor.id)),
    };
    let mut connection = app.connection("listing activities").await?;
    Ok(store::list_activities(&mut connection, &filter, query.page.limit).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_a_forged_one_does_not() {
        let cursor = Cursor {
            starts_at: DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
        assert!("forged".parse::<Cursor>().is_err());
        assert!("12|not-a-uuid".parse::<Cursor>().is_err());
    }
}
