//! Joint theme activities (the first mechanism): series, activities,
//! registrations with a waitlist, check-in.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource, Scope};
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{ListQuery, PageRequest, PagingError};
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::{
    Checks, FederationService, ProtoWord, Retry, claim, commit, optional_word, recall,
    required_time, stored_words, word_list,
};
use crate::access::{self, Actor};
use crate::domain::activity::{self, CheckIn, Placement};
use crate::domain::codes::{
    BlockCode, Code, Collection, DivisionCode, organisation_name, parse_organisation_reference,
    parse_request_id, parse_series_name, series_name,
};
use crate::domain::kinds::{ActivityState, Audience, RegistrationStatus, require_state};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::events::publish;
use crate::store::activities::{
    self as store, ActivityFilter, ActivityRow, NewActivity, NewRegistration, RegistrationRow,
    SeriesRow,
};

// ------------------------------------------------------------------ series

fn series_to_proto(row: SeriesRow) -> proto::Series {
    proto::Series {
        name: series_name(&row.code),
        code: row.code,
        display_name: row.display_name,
        display_name_en: row.display_name_en,
        organisation: organisation_name(&row.organisation),
        description: row.description,
        create_time: Some(timestamp(row.created_at)),
    }
}

pub async fn create_series(
    service: &FederationService,
    access: &Access,
    request: proto::CreateSeriesRequest,
) -> Result<proto::Series> {
    let mut checks = Checks::new();
    let code = checks.check("code", Code::parse(&request.code).map(Some));
    let display_name = checks.check("display_name", text::required(&request.display_name, 100));
    let display_name_en = checks.check(
        "display_name_en",
        text::optional(&request.display_name_en, 200),
    );
    let description = checks.check("description", text::optional(&request.description, 2000));
    checks.finish()?;
    let Some(code) = code else {
        return Err(Error::invalid("code", "must be set"));
    };
    let mut transaction = service.begin("creating a series").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = store::insert_series(
        &mut transaction,
        code.as_str(),
        &display_name,
        &display_name_en,
        actor.organisation.as_str(),
        &description,
    )
    .await
    .map_err(Error::database("creating a series"))?
    .ok_or_else(|| Error::AlreadyExists {
        message: format!("series {code} exists already"),
        resource: Some(series_name(code.as_str())),
    })?;
    access.audit().resource(series_name(code.as_str()));
    commit(transaction, access, "creating a series").await?;
    Ok(series_to_proto(row))
}

pub async fn get_series(
    service: &FederationService,
    _access: &Access,
    request: proto::GetSeriesRequest,
) -> Result<proto::Series> {
    let code =
        parse_series_name(&request.name).map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a series").await?;
    let row = store::get_series(&mut connection, code.as_str())
        .await
        .map_err(Error::database("reading a series"))?
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", series_name(code.as_str()))))?;
    Ok(series_to_proto(row))
}

pub async fn list_series(
    service: &FederationService,
    _access: &Access,
    request: proto::ListSeriesRequest,
) -> Result<proto::ListSeriesResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("series", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let organisation = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    checks.finish()?;
    let mut connection = service.connection("listing series").await?;
    let mut rows = store::list_series(
        &mut connection,
        organisation.as_ref().map(Code::as_str),
        page.after.as_deref(),
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing series"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.code.clone());
    Ok(proto::ListSeriesResponse {
        series: rows.into_iter().map(series_to_proto).collect(),
        next_page_token,
    })
}

// -------------------------------------------------------------- activities

fn activity_to_proto(row: ActivityRow) -> Result<proto::Activity> {
    let audiences = stored_words(&row.audiences, Audience::from_stored)?;
    let state = ActivityState::from_stored(&row.state)?;
    Ok(proto::Activity {
        name: Collection::Activities.name(row.id),
        title: row.title,
        description: row.description,
        series: row.series.as_deref().map(series_name).unwrap_or_default(),
        lead_organisation: organisation_name(&row.lead_organisation),
        co_organisers: row
            .co_organisers
            .iter()
            .map(|code| organisation_name(code))
            .collect(),
        place: Some(proto::Place {
            block_code: row.block_code.unwrap_or_default(),
            venue: row.venue,
        }),
        start_time: Some(timestamp(row.starts_at)),
        end_time: Some(timestamp(row.ends_at)),
        capacity: u32::try_from(row.capacity).unwrap_or(0),
        audiences: audiences.into_iter().map(ProtoWord::to_proto).collect(),
        state: state.to_proto(),
        confirmed: count(row.confirmed),
        waitlisted: count(row.waitlisted),
        attended: count(row.attended),
        created_by: row.created_by,
        create_time: Some(timestamp(row.created_at)),
        publish_time: optional_timestamp(row.published_at),
        held_time: optional_timestamp(row.held_at),
        cancel_time: optional_timestamp(row.cancelled_at),
        cancel_reason: row.cancel_reason,
        summary: row.summary,
    })
}

pub(crate) fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

async fn load_activity(connection: &mut sqlx::PgConnection, id: Uuid) -> Result<ActivityRow> {
    store::get_activity(connection, id)
        .await
        .map_err(Error::database("reading an activity"))?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} does not exist",
                Collection::Activities.name(id)
            ))
        })
}

/// The activity as the caller may see it: who created it is named to
/// staff and administrators only.
fn render_activity(access: &Access, row: ActivityRow) -> Result<proto::Activity> {
    let mut activity = activity_to_proto(row)?;
    if !access::shows_staff_ids(access) {
        activity.created_by.clear();
    }
    Ok(activity)
}

/// Announced activities are seen by everyone; drafts by their organisers'
/// staff and administrators only.
fn sees(access: &Access, activity: &ActivityRow) -> bool {
    let organisers: Vec<&str> = activity.organisers().collect();
    activity.state != ActivityState::Draft.as_str()
        || access::reaches_beyond_public(access, &Resource::default().held_by(&organisers))
}

/// True when the caller's organisation organises the activity.
fn organises(access: &Access, activity: &ActivityRow) -> bool {
    let organisers: Vec<&str> = activity.organisers().collect();
    access::reaches_organisations(access, &organisers)
}

/// The one answer for an activity that does not exist or is out of sight.
fn activity_not_found(id: Uuid) -> Error {
    Error::NotFound(format!(
        "{} does not exist",
        Collection::Activities.name(id)
    ))
}

/// The activity, NOT_FOUND unless the caller sees it.
async fn visible_activity(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    id: Uuid,
) -> Result<ActivityRow> {
    let row = load_activity(connection, id).await?;
    if !sees(access, &row) {
        return Err(activity_not_found(id));
    }
    Ok(row)
}

/// PERMISSION_DENIED unless the caller's organisation leads the activity
/// (which the caller sees).
fn require_lead(actor: &Actor, activity: &ActivityRow) -> Result<()> {
    if activity.lead_organisation == actor.organisation.as_str() {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "only the organisation leading {} changes it",
        Collection::Activities.name(activity.id)
    )))
}

/// PERMISSION_DENIED unless the caller's organisation organises the
/// activity (which the caller sees).
fn require_organiser(access: &Access, activity: &ActivityRow) -> Result<()> {
    if organises(access, activity) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "only the organisers of {} handle its registrations",
        Collection::Activities.name(activity.id)
    )))
}

/// A retried create answered again, through the caller's current access.
async fn replay_activity(
    service: &FederationService,
    access: &Access,
    name: &str,
) -> Result<proto::Activity> {
    let id = Collection::Activities
        .parse(name)
        .map_err(|invalid| Error::Corrupt(format!("remembered activity: {invalid}")))?;
    let mut connection = service.connection("reading an activity").await?;
    let row = visible_activity(&mut connection, access, id).await?;
    access.audit().resource(name);
    render_activity(access, row)
}

pub async fn create_activity(
    service: &FederationService,
    access: &Access,
    request: proto::CreateActivityRequest,
) -> Result<proto::Activity> {
    let fingerprint = Fingerprint::of(&request);
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let title = checks.check("title", text::required(&request.title, 200));
    let description = checks.check("description", text::optional(&request.description, 4000));
    let series = if request.series.trim().is_empty() {
        None
    } else {
        checks.check("series", parse_series_name(&request.series).map(Some))
    };
    let mut co_organisers: Vec<(String, Code)> = Vec::new();
    for (index, value) in request.co_organisers.iter().enumerate() {
        let field = format!("co_organisers[{index}]");
        if let Some(code) = checks.check(&field, parse_organisation_reference(value).map(Some))
            && !co_organisers.iter().any(|(_, known)| *known == code)
        {
            co_organisers.push((field, code));
        }
    }
    let place = request.place.clone().unwrap_or_default();
    let block_code = if place.block_code.trim().is_empty() {
        None
    } else {
        checks.check(
            "place.block_code",
            BlockCode::parse(&place.block_code).map(Some),
        )
    };
    let venue = checks.check("place.venue", text::optional(&place.venue, 200));
    if place.block_code.trim().is_empty() && venue.is_empty() {
        checks.fail("place", "needs a block code, a venue, or both");
    }
    let starts_at = checks.check(
        "start_time",
        required_time(request.start_time.as_ref()).map(Some),
    );
    let ends_at = checks.check(
        "end_time",
        required_time(request.end_time.as_ref()).map(Some),
    );
    if let (Some(start), Some(end)) = (starts_at, ends_at) {
        checks.check("end_time", activity::check_schedule(start, end));
    }
    let capacity = checks.check("capacity", activity::check_capacity(request.capacity));
    let audiences: Vec<Audience> = checks.check("audiences", word_list(&request.audiences));
    let (Some(starts_at), Some(ends_at)) = (starts_at, ends_at) else {
        checks.finish()?;
        return Err(Error::invalid("start_time", "must be set"));
    };
    // Only a request that passed its checks was remembered; a bad one goes
    // on to the checks that need the database, so one reply names all.
    let retry = Retry::of(request_id, fingerprint);
    if checks.passed()
        && let Some(name) = recall(service, access, retry.as_ref()).await?
    {
        return replay_activity(service, access, &name).await;
    }

    let mut transaction = service.begin("creating an activity").await?;
    let actor = access::actor(&mut transaction, access).await?;
    if let Some((field, _)) = co_organisers
        .iter()
        .find(|(_, code)| *code == actor.organisation)
    {
        checks.fail(
            field.clone(),
            format!(
                "{} leads the activity; it is not also a co-organiser",
                actor.organisation
            ),
        );
    }
    for (field, problem) in access::inactive_or_unknown(&mut transaction, &co_organisers).await? {
        checks.fail(field, problem);
    }
    if let Some(series) = &series
        && store::get_series(&mut transaction, series.as_str())
            .await
            .map_err(Error::database("reading a series"))?
            .is_none()
    {
        checks.fail(
            "series",
            format!("{} does not exist", series_name(series.as_str())),
        );
    }
    checks.finish()?;
    let id = Uuid::now_v7();
    let name = Collection::Activities.name(id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_activity(service, access, &winner).await;
    }
    let audience_words: Vec<String> = audiences
        .iter()
        .map(|audience| audience.as_str().to_owned())
        .collect();
    store::insert_activity(
        &mut transaction,
        &NewActivity {
            id,
            title: &title,
            description: &description,
            series: series.as_ref().map(Code::as_str),
            lead_organisation: actor.organisation.as_str(),
            block_code: block_code.as_ref().map(BlockCode::as_str),
            venue: &venue,
            starts_at,
            ends_at,
            capacity: i32::try_from(capacity).unwrap_or(i32::MAX),
            audiences: &audience_words,
            created_by: &actor.subject,
        },
    )
    .await
    .map_err(Error::database("creating an activity"))?;
    let codes: Vec<String> = co_organisers
        .iter()
        .map(|(_, code)| code.as_str().to_owned())
        .collect();
    store::insert_co_organisers(&mut transaction, id, &codes)
        .await
        .map_err(Error::database("creating an activity"))?;
    let row = load_activity(&mut transaction, id).await?;
    access.audit().resource(name);
    commit(transaction, access, "creating an activity").await?;
    tracing::info!(activity = %id, organisation = %actor.organisation, "activity drafted");
    render_activity(access, row)
}

/// Locks the activity, loads it, and checks the caller sees it (NOT_FOUND
/// otherwise) and leads it (PERMISSION_DENIED otherwise).
async fn lead_transaction(
    service: &FederationService,
    access: &Access,
    name: &str,
    context: &'static str,
) -> Result<(
    sqlx::Transaction<'static, sqlx::Postgres>,
    Actor,
    ActivityRow,
)> {
    let id = Collection::Activities
        .parse(name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut transaction = service.begin(context).await?;
    let actor = access::actor(&mut transaction, access).await?;
    if !store::lock_activity(&mut transaction, id)
        .await
        .map_err(Error::database(context))?
    {
        return Err(activity_not_found(id));
    }
    let row = visible_activity(&mut transaction, access, id).await?;
    require_lead(&actor, &row)?;
    access.audit().resource(Collection::Activities.name(id));
    Ok((transaction, actor, row))
}

pub async fn publish_activity(
    service: &FederationService,
    access: &Access,
    request: proto::PublishActivityRequest,
) -> Result<proto::Activity> {
    let (mut transaction, actor, row) =
        lead_transaction(service, access, &request.name, "publishing an activity").await?;
    let state = ActivityState::from_stored(&row.state)?;
    require_state("activity", state, &[ActivityState::Draft], "published")
        .map_err(Error::FailedPrecondition)?;
    let now = Utc::now();
    if now >= row.ends_at {
        return Err(Error::FailedPrecondition(format!(
            "activity ended at {}; an activity in the past cannot be published",
            row.ends_at.to_rfc3339()
        )));
    }
    store::mark_published(&mut transaction, row.id, now)
        .await
        .map_err(Error::database("publishing an activity"))?;
    let name = Collection::Activities.name(row.id);
    publish(
        &mut transaction,
        &name,
        &proto::ActivityPublished {
            activity: name.clone(),
            lead_organisation: row.lead_organisation.clone(),
            co_organisers: row.co_organisers.clone(),
            series: row.series.as_deref().map(series_name).unwrap_or_default(),
            block_code: row.block_code.clone().unwrap_or_default(),
            starts_at: Some(timestamp(row.starts_at)),
            ends_at: Some(timestamp(row.ends_at)),
            capacity: u32::try_from(row.capacity).unwrap_or(0),
            audiences: row.audiences.clone(),
            published_at: Some(timestamp(now)),
        },
    )
    .await?;
    let row = load_activity(&mut transaction, row.id).await?;
    commit(transaction, access, "publishing an activity").await?;
    tracing::info!(activity = %row.id, organisation = %actor.organisation, "activity published");
    render_activity(access, row)
}

pub async fn cancel_activity(
    service: &FederationService,
    access: &Access,
    request: proto::CancelActivityRequest,
) -> Result<proto::Activity> {
    let reason = text::required(&request.reason, 1000)
        .map_err(|invalid| Error::invalid("reason", invalid.0))?;
    let (mut transaction, actor, row) =
        lead_transaction(service, access, &request.name, "cancelling an activity").await?;
    let state = ActivityState::from_stored(&row.state)?;
    require_state(
        "activity",
        state,
        &[ActivityState::Draft, ActivityState::Published],
        "cancelled",
    )
    .map_err(Error::FailedPrecondition)?;
    let now = Utc::now();
    let registrations_cancelled = store::mark_cancelled(&mut transaction, row.id, now, &reason)
        .await
        .map_err(Error::database("cancelling an activity"))?;
    let name = Collection::Activities.name(row.id);
    if state == ActivityState::Published {
        publish(
            &mut transaction,
            &name,
            &proto::ActivityCancelled {
                activity: name.clone(),
                lead_organisation: row.lead_organisation.clone(),
                reason: reason.clone(),
                registrations_cancelled: u32::try_from(registrations_cancelled).unwrap_or(u32::MAX),
                cancelled_at: Some(timestamp(now)),
            },
        )
        .await?;
    }
    let row = load_activity(&mut transaction, row.id).await?;
    commit(transaction, access, "cancelling an activity").await?;
    tracing::info!(activity = %row.id, organisation = %actor.organisation, registrations_cancelled, "activity cancelled");
    render_activity(access, row)
}

pub async fn complete_activity(
    service: &FederationService,
    access: &Access,
    request: proto::CompleteActivityRequest,
) -> Result<proto::Activity> {
    let summary = text::optional(&request.summary, 4000)
        .map_err(|invalid| Error::invalid("summary", invalid.0))?;
    let (mut transaction, actor, row) =
        lead_transaction(service, access, &request.name, "marking an activity held").await?;
    let state = ActivityState::from_stored(&row.state)?;
    let now = Utc::now();
    activity::check_completion(state, row.starts_at, now).map_err(Error::FailedPrecondition)?;
    store::mark_held(&mut transaction, row.id, now, &summary)
        .await
        .map_err(Error::database("marking an activity held"))?;
    let name = Collection::Activities.name(row.id);
    publish(
        &mut transaction,
        &name,
        &proto::ActivityHeld {
            activity: name.clone(),
            lead_organisation: row.lead_organisation.clone(),
            co_organisers: row.co_organisers.clone(),
            series: row.series.as_deref().map(series_name).unwrap_or_default(),
            block_code: row.block_code.clone().unwrap_or_default(),
            registered: count(row.confirmed),
            attended: count(row.attended),
            held_at: Some(timestamp(now)),
        },
    )
    .await?;
    let row = load_activity(&mut transaction, row.id).await?;
    commit(transaction, access, "marking an activity held").await?;
    tracing::info!(activity = %row.id, organisation = %actor.organisation, attended = row.attended, "activity held");
    render_activity(access, row)
}

pub async fn get_activity(
    service: &FederationService,
    access: &Access,
    request: proto::GetActivityRequest,
) -> Result<proto::Activity> {
    let id = Collection::Activities
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading an activity").await?;
    let row = visible_activity(&mut connection, access, id).await?;
    render_activity(access, row)
}

/// The sort key of activities: start (in microseconds since the epoch, as
/// stored) and id, written `{micros}|{uuid}`.
struct ActivityKey;

impl ActivityKey {
    fn of(starts_at: DateTime<Utc>, id: Uuid) -> String {
        format!("{}|{id}", starts_at.timestamp_micros())
    }

    /// Where a page request resumes; a key of another shape was forged.
    fn after(
        page: &PageRequest,
    ) -> std::result::Result<Option<(DateTime<Utc>, Uuid)>, PagingError> {
        let Some(key) = page.after.as_deref() else {
            return Ok(None);
        };
        let (micros, id) = key.split_once('|').ok_or(PagingError::ForeignToken)?;
        let micros: i64 = micros.parse().map_err(|_| PagingError::ForeignToken)?;
        let start =
            DateTime::<Utc>::from_timestamp_micros(micros).ok_or(PagingError::ForeignToken)?;
        let id = Uuid::parse_str(id).map_err(|_| PagingError::ForeignToken)?;
        Ok(Some((start, id)))
    }
}

pub async fn list_activities(
    service: &FederationService,
    access: &Access,
    request: proto::ListActivitiesRequest,
) -> Result<proto::ListActivitiesResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("activities", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.check("page_token", ActivityKey::after(&page));
    let organisation = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    let series = if request.series.trim().is_empty() {
        None
    } else {
        checks.check("series", parse_series_name(&request.series).map(Some))
    };
    let state: Option<ActivityState> = checks.check("state", optional_word(request.state));
    let division = if request.division_code.trim().is_empty() {
        None
    } else {
        checks.check(
            "division_code",
            DivisionCode::parse(&request.division_code).map(Some),
        )
    };
    let start_after = checks.check(
        "start_after",
        super::optional_time(request.start_after.as_ref()),
    );
    let start_before = checks.check(
        "start_before",
        super::optional_time(request.start_before.as_ref()),
    );
    let audience: Option<Audience> = checks.check("audience", optional_word(request.audience));
    checks.finish()?;

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
        organisation: organisation.map(|code| code.as_str().to_owned()),
        series: series.map(|code| code.as_str().to_owned()),
        state: state.map(|state| state.as_str().to_owned()),
        visible_states,
        drafts_of,
        division_prefix: division.map(|division| division.as_str().to_owned()),
        start_after,
        start_before,
        audience: audience.map(|audience| audience.as_str().to_owned()),
        after,
    };
    let mut connection = service.connection("listing activities").await?;
    let mut rows = store::list_activities(&mut connection, &filter, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing activities"))?;
    let next_page_token = page.size.next_page_token(&mut rows, &query, |row| {
        ActivityKey::of(row.starts_at, row.id)
    });
    Ok(proto::ListActivitiesResponse {
        activities: rows
            .into_iter()
            .map(|row| render_activity(access, row))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}

// ----------------------------------------------------------- registrations

fn registration_to_proto(row: RegistrationRow) -> Result<proto::Registration> {
    let status = RegistrationStatus::from_stored(&row.status)?;
    Ok(proto::Registration {
        name: Collection::Activities.child_name(row.activity, Collection::Registrations, row.id),
        activity: Collection::Activities.name(row.activity),
        participant: row.participant,
        participant_display_name: row.participant_display_name,
        status: status.to_proto(),
        waitlist_position: count(row.waitlist_position),
        registered_by: row.registered_by,
        register_time: Some(timestamp(row.registered_at)),
        promote_time: optional_timestamp(row.promoted_at),
        check_in_time: optional_timestamp(row.checked_in_at),
        cancel_time: optional_timestamp(row.cancelled_at),
        cancel_reason: row.cancel_reason,
    })
}

async fn load_registration(
    connection: &mut sqlx::PgConnection,
    activity: Uuid,
    id: Uuid,
) -> Result<RegistrationRow> {
    store::get_registration(connection, id)
        .await
        .map_err(Error::database("reading a registration"))?
        .filter(|row| row.activity == activity)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} does not exist",
                Collection::Activities.child_name(activity, Collection::Registrations, id)
            ))
        })
}

async fn registration_changed(
    connection: &mut sqlx::PgConnection,
    row: &RegistrationRow,
    previous: Option<RegistrationStatus>,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Activities.child_name(row.activity, Collection::Registrations, row.id);
    publish(
        connection,
        &name,
        &proto::RegistrationChanged {
            registration: name.clone(),
            activity: Collection::Activities.name(row.activity),
            status: row.status.clone(),
            previous_status: previous
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            waitlist_position: count(row.waitlist_position),
            changed_at: Some(timestamp(at)),
        },
    )
    .await
}

fn registration_name(activity: Uuid, id: Uuid) -> String {
    Collection::Activities.child_name(activity, Collection::Registrations, id)
}

/// The one answer for a registration that does not exist or is out of
/// reach.
fn registration_not_found(activity: Uuid, id: Uuid) -> Error {
    Error::NotFound(format!(
        "{} does not exist",
        registration_name(activity, id)
    ))
}

/// A registration is the participant's (a resident registered as
/// themselves) and its activity's organisers'.
fn reaches_registration(
    access: &Access,
    activity: &ActivityRow,
    registration: &RegistrationRow,
) -> bool {
    let organisers: Vec<&str> = activity.organisers().collect();
    access.reaches(
        &Resource::default()
            .owned_by(Some(&registration.participant))
            .held_by(&organisers),
    )
}

/// The registration as the caller may see it: who registered it (a staff
/// member at the desk) is named to staff and administrators only.
fn render_registration(access: &Access, row: RegistrationRow) -> Result<proto::Registration> {
    let mut registration = registration_to_proto(row)?;
    if !access::shows_staff_ids(access) {
        registration.registered_by.clear();
    }
    Ok(registration)
}

/// The activity and the registration, NOT_FOUND (worded for the
/// registration) unless both exist and the caller reaches the registration.
async fn reachable_registration(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    activity_id: Uuid,
    registration_id: Uuid,
) -> Result<(ActivityRow, RegistrationRow)> {
    let not_found = || registration_not_found(activity_id, registration_id);
    let activity = store::get_activity(connection, activity_id)
        .await
        .map_err(Error::database("reading an activity"))?
        .ok_or_else(not_found)?;
    let registration = store::get_registration(connection, registration_id)
        .await
        .map_err(Error::database("reading a registration"))?
        .filter(|row| row.activity == activity_id)
        .ok_or_else(not_found)?;
    if !reaches_registration(access, &activity, &registration) {
        return Err(not_found());
    }
    Ok((activity, registration))
}

/// A retried registration answered again, through the caller's current
/// access.
async fn replay_registration(
    service: &FederationService,
    access: &Access,
    name: &str,
) -> Result<proto::Registration> {
    let (activity_id, registration_id) = Collection::Activities
        .parse_child(Collection::Registrations, name)
        .map_err(|invalid| Error::Corrupt(format!("remembered registration: {invalid}")))?;
    let mut connection = service.connection("reading a registration").await?;
    let (_, registration) =
        reachable_registration(&mut connection, access, activity_id, registration_id).await?;
    access.audit().resource(name);
    render_registration(access, registration)
}

pub async fn register_for_activity(
    service: &FederationService,
    access: &Access,
    request: proto::RegisterForActivityRequest,
) -> Result<proto::Registration> {
    let fingerprint = Fingerprint::of(&request);
    // Staff register participants at the desk; a resident registers
    // themselves.
    let acting_as_staff = access.has_scope(Scope::Organisation);
    let subject = access
        .caller()
        .map(|caller| caller.subject.clone())
        .unwrap_or_default();
    let mut checks = Checks::new();
    let activity_id = checks.check(
        "activity",
        Collection::Activities.parse(&request.activity).map(Some),
    );
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let participant = if !acting_as_staff && request.participant.trim().is_empty() {
        subject.clone()
    } else {
        checks.check("participant", text::participant(&request.participant))
    };
    let display_name = checks.check(
        "participant_display_name",
        text::optional(&request.participant_display_name, 100),
    );
    checks.finish()?;
    let Some(activity_id) = activity_id else {
        return Err(Error::invalid("activity", "must be set"));
    };
    if !acting_as_staff && participant != subject {
        return Err(Error::PermissionDenied(
            "a resident registers only themselves: leave participant empty or use your own account id".into(),
        ));
    }
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        return replay_registration(service, access, &name).await;
    }

    let mut transaction = service.begin("registering for an activity").await?;
    if acting_as_staff {
        access::actor(&mut transaction, access).await?;
    }
    if !store::lock_activity(&mut transaction, activity_id)
        .await
        .map_err(Error::database("registering for an activity"))?
    {
        return Err(activity_not_found(activity_id));
    }
    let activity = visible_activity(&mut transaction, access, activity_id).await?;
    if acting_as_staff {
        require_organiser(access, &activity)?;
    }
    let now = Utc::now();
    activity::check_registration_open(
        ActivityState::from_stored(&activity.state)?,
        activity.ends_at,
        now,
    )
    .map_err(Error::FailedPrecondition)?;
    if let Some(existing) = store::live_registration(&mut transaction, activity_id, &participant)
        .await
        .map_err(Error::database("registering for an activity"))?
    {
        let name = registration_name(activity_id, existing.id);
        return Err(Error::AlreadyExists {
            message: format!(
                "the participant is already registered ({}) as {name}",
                existing.status
            ),
            resource: Some(name),
        });
    }
    let id = Uuid::now_v7();
    let name = registration_name(activity_id, id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_registration(service, access, &winner).await;
    }
    let taken = store::places_taken(&mut transaction, activity_id)
        .await
        .map_err(Error::database("registering for an activity"))?;
    let capacity = u32::try_from(activity.capacity).unwrap_or(0);
    let placement = activity::placement(capacity, count(taken));
    store::insert_registration(
        &mut transaction,
        &NewRegistration {
            id,
            activity: activity_id,
            participant: &participant,
            participant_display_name: &display_name,
            status: placement.status().as_str(),
            registered_by: &subject,
        },
    )
    .await
    .map_err(Error::database("registering for an activity"))?;
    let row = load_registration(&mut transaction, activity_id, id).await?;
    registration_changed(&mut transaction, &row, None, now).await?;
    access.audit().resource(name);
    commit(transaction, access, "registering for an activity").await?;
    tracing::info!(
        activity = %activity_id,
        registration = %id,
        waitlisted = placement == Placement::Waitlisted,
        "registration recorded"
    );
    render_registration(access, row)
}

pub async fn cancel_registration(
    service: &FederationService,
    access: &Access,
    request: proto::CancelRegistrationRequest,
) -> Result<proto::Registration> {
    let mut checks = Checks::new();
    let ids = checks.check(
        "name",
        Collection::Activities
            .parse_child(Collection::Registrations, &request.name)
            .map(Some),
    );
    let reason = checks.check("reason", text::optional(&request.reason, 1000));
    checks.finish()?;
    let Some((activity_id, registration_id)) = ids else {
        return Err(Error::invalid("name", "must be set"));
    };
    let mut transaction = service.begin("cancelling a registration").await?;
    if !store::lock_activity(&mut transaction, activity_id)
        .await
        .map_err(Error::database("cancelling a registration"))?
    {
        return Err(registration_not_found(activity_id, registration_id));
    }
    let (activity, registration) =
        reachable_registration(&mut transaction, access, activity_id, registration_id).await?;
    if access.has_scope(Scope::Organisation) {
        access::actor(&mut transaction, access).await?;
    }
    access
        .audit()
        .resource(registration_name(activity_id, registration_id));
    let previous = RegistrationStatus::from_stored(&registration.status)?;
    activity::check_cancellation(ActivityState::from_stored(&activity.state)?, previous)
        .map_err(Error::FailedPrecondition)?;
    let now = Utc::now();
    store::cancel_registration(&mut transaction, registration_id, now, &reason)
        .await
        .map_err(Error::database("cancelling a registration"))?;
    let cancelled = load_registration(&mut transaction, activity_id, registration_id).await?;
    registration_changed(&mut transaction, &cancelled, Some(previous), now).await?;
    if previous == RegistrationStatus::Confirmed {
        let taken = store::places_taken(&mut transaction, activity_id)
            .await
            .map_err(Error::database("cancelling a registration"))?;
        if activity::placement(u32::try_from(activity.capacity).unwrap_or(0), count(taken))
            == Placement::Confirmed
            && let Some(promoted) =
                store::promote_first_waitlisted(&mut transaction, activity_id, now)
                    .await
                    .map_err(Error::database("promoting from the waitlist"))?
        {
            let promoted = load_registration(&mut transaction, activity_id, promoted).await?;
            registration_changed(
                &mut transaction,
                &promoted,
                Some(RegistrationStatus::Waitlisted),
                now,
            )
            .await?;
            access
                .audit()
                .resource(registration_name(activity_id, promoted.id));
            tracing::info!(activity = %activity_id, registration = %promoted.id, "promoted from the waitlist");
        }
    }
    commit(transaction, access, "cancelling a registration").await?;
    render_registration(access, cancelled)
}

pub async fn check_in(
    service: &FederationService,
    access: &Access,
    request: proto::CheckInRequest,
) -> Result<proto::Registration> {
    let mut checks = Checks::new();
    let activity_id = checks.check(
        "activity",
        Collection::Activities.parse(&request.activity).map(Some),
    );
    let participant = checks.check("participant", text::required(&request.participant, 128));
    checks.finish()?;
    let Some(activity_id) = activity_id else {
        return Err(Error::invalid("activity", "must be set"));
    };
    let mut transaction = service.begin("checking in").await?;
    access::actor(&mut transaction, access).await?;
    if !store::lock_activity(&mut transaction, activity_id)
        .await
        .map_err(Error::database("checking in"))?
    {
        return Err(activity_not_found(activity_id));
    }
    let activity = visible_activity(&mut transaction, access, activity_id).await?;
    require_organiser(access, &activity)?;
    let registration = store::live_registration(&mut transaction, activity_id, &participant)
        .await
        .map_err(Error::database("checking in"))?;
    let status = registration
        .as_ref()
        .map(|row| RegistrationStatus::from_stored(&row.status))
        .transpose()?;
    let now = Utc::now();
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
    access
        .audit()
        .resource(registration_name(activity_id, registration.id));
    if decision == CheckIn::AlreadyCheckedIn {
        return render_registration(access, registration);
    }
    store::mark_attended(&mut transaction, registration.id, now)
        .await
        .map_err(Error::database("checking in"))?;
    let attended = load_registration(&mut transaction, activity_id, registration.id).await?;
    registration_changed(
        &mut transaction,
        &attended,
        Some(RegistrationStatus::Confirmed),
        now,
    )
    .await?;
    commit(transaction, access, "checking in").await?;
    render_registration(access, attended)
}

pub async fn get_registration(
    service: &FederationService,
    access: &Access,
    request: proto::GetRegistrationRequest,
) -> Result<proto::Registration> {
    let (activity_id, registration_id) = Collection::Activities
        .parse_child(Collection::Registrations, &request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a registration").await?;
    let (_, registration) =
        reachable_registration(&mut connection, access, activity_id, registration_id).await?;
    access
        .audit()
        .resource(registration_name(activity_id, registration_id));
    render_registration(access, registration)
}

pub async fn list_registrations(
    service: &FederationService,
    access: &Access,
    request: proto::ListRegistrationsRequest,
) -> Result<proto::ListRegistrationsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("registrations", &request);
    let mut checks = Checks::new();
    let activity_id = checks.check(
        "parent",
        Collection::Activities.parse(&request.parent).map(Some),
    );
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let status: Option<RegistrationStatus> = checks.check("status", optional_word(request.status));
    checks.finish()?;
    let Some(activity_id) = activity_id else {
        return Err(Error::invalid("parent", "must be set"));
    };
    let mut connection = service.connection("listing registrations").await?;
    let activity = visible_activity(&mut connection, access, activity_id).await?;
    // Organisers (and administrators) see every registration; a resident
    // only their own; another organisation's staff none.
    let participant = if organises(access, &activity) || access.has_scope(Scope::DistrictWide) {
        None
    } else if access.has_scope(Scope::Own) {
        access.caller().map(|caller| caller.subject.clone())
    } else {
        return Err(Error::PermissionDenied(format!(
            "only the organisers of {} see its registrations",
            Collection::Activities.name(activity_id)
        )));
    };
    let mut rows = store::list_registrations(
        &mut connection,
        activity_id,
        status.map(RegistrationStatus::as_str),
        participant.as_deref(),
        after,
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing registrations"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    for row in &rows {
        access
            .audit()
            .resource(registration_name(row.activity, row.id));
    }
    Ok(proto::ListRegistrationsResponse {
        registrations: rows
            .into_iter()
            .map(|row| render_registration(access, row))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
