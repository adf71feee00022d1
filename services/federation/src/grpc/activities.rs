//! Joint theme activities (the first mechanism): series, activities,
//! registrations with a waitlist, check-in.

use chrono::{DateTime, Utc};
use flatgov_auth::{Caller, Role};
use flatgov_grpc::paging::{ListQuery, PageRequest, PagingError};
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use tonic::Request;
use uuid::Uuid;

use super::{
    Checks, FederationService, ProtoWord, optional_word, required_time, split, stored_words,
    word_list,
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
    request: Request<proto::CreateSeriesRequest>,
) -> Result<proto::Series> {
    let (caller, request) = split(request)?;
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
    let actor = access::actor(&mut transaction, &caller).await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("creating a series"))?;
    Ok(series_to_proto(row))
}

pub async fn get_series(
    service: &FederationService,
    request: Request<proto::GetSeriesRequest>,
) -> Result<proto::Series> {
    let (_caller, request) = split(request)?;
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
    request: Request<proto::ListSeriesRequest>,
) -> Result<proto::ListSeriesResponse> {
    let (_caller, mut request) = split(request)?;
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

/// The lead organisation's staff act on the activity itself.
fn require_lead(actor: &Actor, activity: &ActivityRow) -> Result<()> {
    if activity.lead_organisation == actor.organisation.as_str() {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "{} is led by {}; staff of {} cannot change it",
        Collection::Activities.name(activity.id),
        activity.lead_organisation,
        actor.organisation
    )))
}

/// The lead's and the co-organisers' staff handle registrations and check-in.
fn require_organiser(actor: &Actor, activity: &ActivityRow) -> Result<()> {
    if activity
        .organisers()
        .any(|code| code == actor.organisation.as_str())
    {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "{} is organised by {}; staff of {} do not organise it",
        Collection::Activities.name(activity.id),
        activity.organisers().collect::<Vec<_>>().join(", "),
        actor.organisation
    )))
}

/// Drafts are seen by the organisers' staff and district administrators;
/// everything else by every authenticated caller.
fn may_see(caller: &Caller, activity: &ActivityRow) -> bool {
    activity.state != ActivityState::Draft.as_str()
        || caller.has_any_role(&[Role::DistrictAdmin, Role::Service])
        || (caller.has_role(Role::FederationStaff)
            && caller
                .organisation
                .as_deref()
                .is_some_and(|organisation| activity.organisers().any(|code| code == organisation)))
}

pub async fn create_activity(
    service: &FederationService,
    request: Request<proto::CreateActivityRequest>,
) -> Result<proto::Activity> {
    let (caller, request) = split(request)?;
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

    let mut transaction = service.begin("creating an activity").await?;
    let actor = access::actor(&mut transaction, &caller).await?;
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
    if let Some(request_id) = &request_id
        && let Some(existing) = store::activity_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("creating an activity"))?
    {
        return activity_to_proto(existing);
    }

    let id = Uuid::now_v7();
    let audience_words: Vec<String> = audiences
        .iter()
        .map(|audience| audience.as_str().to_owned())
        .collect();
    let inserted = store::insert_activity(
        &mut transaction,
        &NewActivity {
            id,
            request_id: request_id.clone(),
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
    if !inserted {
        // A concurrent retry with the same request id won the race.
        transaction
            .rollback()
            .await
            .map_err(Error::database("creating an activity"))?;
        let mut connection = service.connection("creating an activity").await?;
        let existing =
            store::activity_by_request(&mut connection, request_id.as_deref().unwrap_or_default())
                .await
                .map_err(Error::database("creating an activity"))?
                .ok_or_else(|| {
                    Error::FailedPrecondition(
                        "the activity with this request id vanished; retry".into(),
                    )
                })?;
        return activity_to_proto(existing);
    }
    let codes: Vec<String> = co_organisers
        .iter()
        .map(|(_, code)| code.as_str().to_owned())
        .collect();
    store::insert_co_organisers(&mut transaction, id, &codes)
        .await
        .map_err(Error::database("creating an activity"))?;
    let row = load_activity(&mut transaction, id).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("creating an activity"))?;
    tracing::info!(activity = %id, organisation = %actor.organisation, "activity drafted");
    activity_to_proto(row)
}

/// Locks the activity, loads it, and checks the caller leads it.
async fn lead_transaction(
    service: &FederationService,
    caller: &Caller,
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
    let actor = access::actor(&mut transaction, caller).await?;
    if !store::lock_activity(&mut transaction, id)
        .await
        .map_err(Error::database(context))?
    {
        return Err(Error::NotFound(format!(
            "{} does not exist",
            Collection::Activities.name(id)
        )));
    }
    let row = load_activity(&mut transaction, id).await?;
    require_lead(&actor, &row)?;
    Ok((transaction, actor, row))
}

pub async fn publish_activity(
    service: &FederationService,
    request: Request<proto::PublishActivityRequest>,
) -> Result<proto::Activity> {
    let (caller, request) = split(request)?;
    let (mut transaction, actor, row) =
        lead_transaction(service, &caller, &request.name, "publishing an activity").await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("publishing an activity"))?;
    tracing::info!(activity = %row.id, organisation = %actor.organisation, "activity published");
    activity_to_proto(row)
}

pub async fn cancel_activity(
    service: &FederationService,
    request: Request<proto::CancelActivityRequest>,
) -> Result<proto::Activity> {
    let (caller, request) = split(request)?;
    let reason = text::required(&request.reason, 1000)
        .map_err(|invalid| Error::invalid("reason", invalid.0))?;
    let (mut transaction, actor, row) =
        lead_transaction(service, &caller, &request.name, "cancelling an activity").await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("cancelling an activity"))?;
    tracing::info!(activity = %row.id, organisation = %actor.organisation, registrations_cancelled, "activity cancelled");
    activity_to_proto(row)
}

pub async fn complete_activity(
    service: &FederationService,
    request: Request<proto::CompleteActivityRequest>,
) -> Result<proto::Activity> {
    let (caller, request) = split(request)?;
    let summary = text::optional(&request.summary, 4000)
        .map_err(|invalid| Error::invalid("summary", invalid.0))?;
    let (mut transaction, actor, row) =
        lead_transaction(service, &caller, &request.name, "marking an activity held").await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("marking an activity held"))?;
    tracing::info!(activity = %row.id, organisation = %actor.organisation, attended = row.attended, "activity held");
    activity_to_proto(row)
}

pub async fn get_activity(
    service: &FederationService,
    request: Request<proto::GetActivityRequest>,
) -> Result<proto::Activity> {
    let (caller, request) = split(request)?;
    let id = Collection::Activities
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading an activity").await?;
    let row = load_activity(&mut connection, id).await?;
    if !may_see(&caller, &row) {
        return Err(Error::PermissionDenied(format!(
            "{} is a draft; only its organisers see it",
            Collection::Activities.name(id)
        )));
    }
    activity_to_proto(row)
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
    request: Request<proto::ListActivitiesRequest>,
) -> Result<proto::ListActivitiesResponse> {
    let (caller, mut request) = split(request)?;
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

    // Drafts only for organisers' staff and administrators: others get the
    // announced ones, whatever filter they ask for.
    let sees_drafts = caller.has_any_role(&[Role::DistrictAdmin, Role::Service])
        || (caller.has_role(Role::FederationStaff)
            && organisation
                .as_ref()
                .is_some_and(|code| caller.organisation.as_deref() == Some(code.as_str())));
    let visible_states = (!sees_drafts).then(|| {
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
            .map(activity_to_proto)
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

/// Who is registering: a resident for themselves, or an organiser's staff
/// member for a participant.
enum Registrant {
    Resident(String),
    Staff(Actor),
}

impl Registrant {
    fn subject(&self) -> &str {
        match self {
            Registrant::Resident(subject) => subject,
            Registrant::Staff(actor) => &actor.subject,
        }
    }
}

pub async fn register_for_activity(
    service: &FederationService,
    request: Request<proto::RegisterForActivityRequest>,
) -> Result<proto::Registration> {
    let (caller, request) = split(request)?;
    caller.require_any_role(&[Role::Resident, Role::FederationStaff])?;
    let acting_as_staff = caller.has_role(Role::FederationStaff);
    let mut checks = Checks::new();
    let activity_id = checks.check(
        "activity",
        Collection::Activities.parse(&request.activity).map(Some),
    );
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let participant = if !acting_as_staff && request.participant.trim().is_empty() {
        caller.subject.clone()
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
    if !acting_as_staff && participant != caller.subject {
        return Err(Error::PermissionDenied(
            "a resident registers only themselves: leave participant empty or use your own account id".into(),
        ));
    }

    let mut transaction = service.begin("registering for an activity").await?;
    let registrant = if acting_as_staff {
        Registrant::Staff(access::actor(&mut transaction, &caller).await?)
    } else {
        Registrant::Resident(caller.subject.clone())
    };
    if !store::lock_activity(&mut transaction, activity_id)
        .await
        .map_err(Error::database("registering for an activity"))?
    {
        return Err(Error::NotFound(format!(
            "{} does not exist",
            Collection::Activities.name(activity_id)
        )));
    }
    // After the lock, so a concurrent retry sees the first attempt's row.
    if let Some(request_id) = &request_id
        && let Some(existing) = store::registration_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("registering for an activity"))?
    {
        return registration_to_proto(existing);
    }
    let activity = load_activity(&mut transaction, activity_id).await?;
    if let Registrant::Staff(actor) = &registrant {
        require_organiser(actor, &activity)?;
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
        let name =
            Collection::Activities.child_name(activity_id, Collection::Registrations, existing.id);
        return Err(Error::AlreadyExists {
            message: format!(
                "the participant is already registered ({}) as {name}",
                existing.status
            ),
            resource: Some(name),
        });
    }
    let taken = store::places_taken(&mut transaction, activity_id)
        .await
        .map_err(Error::database("registering for an activity"))?;
    let capacity = u32::try_from(activity.capacity).unwrap_or(0);
    let placement = activity::placement(capacity, count(taken));
    let id = Uuid::now_v7();
    store::insert_registration(
        &mut transaction,
        &NewRegistration {
            id,
            activity: activity_id,
            request_id,
            participant: &participant,
            participant_display_name: &display_name,
            status: placement.status().as_str(),
            registered_by: registrant.subject(),
        },
    )
    .await
    .map_err(Error::database("registering for an activity"))?;
    let row = load_registration(&mut transaction, activity_id, id).await?;
    registration_changed(&mut transaction, &row, None, now).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("registering for an activity"))?;
    tracing::info!(
        activity = %activity_id,
        registration = %id,
        waitlisted = placement == Placement::Waitlisted,
        "registration recorded"
    );
    registration_to_proto(row)
}

/// Residents act on their own registrations; organisers' staff on any.
async fn require_registration_access(
    connection: &mut sqlx::PgConnection,
    caller: &Caller,
    activity: &ActivityRow,
    registration: &RegistrationRow,
) -> Result<Option<Actor>> {
    if caller.has_role(Role::FederationStaff) {
        let actor = access::actor(connection, caller).await?;
        require_organiser(&actor, activity)?;
        return Ok(Some(actor));
    }
    if caller.has_role(Role::Resident) && registration.participant == caller.subject {
        return Ok(None);
    }
    if caller.has_role(Role::DistrictAdmin) {
        return Ok(None);
    }
    Err(Error::PermissionDenied(
        "only the participant and the activity's organisers may see or change this registration"
            .into(),
    ))
}

pub async fn cancel_registration(
    service: &FederationService,
    request: Request<proto::CancelRegistrationRequest>,
) -> Result<proto::Registration> {
    let (caller, request) = split(request)?;
    caller.require_any_role(&[Role::Resident, Role::FederationStaff])?;
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
        return Err(Error::NotFound(format!(
            "{} does not exist",
            Collection::Activities.name(activity_id)
        )));
    }
    let activity = load_activity(&mut transaction, activity_id).await?;
    let registration = load_registration(&mut transaction, activity_id, registration_id).await?;
    require_registration_access(&mut transaction, &caller, &activity, &registration).await?;
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
            tracing::info!(activity = %activity_id, registration = %promoted.id, "promoted from the waitlist");
        }
    }
    transaction
        .commit()
        .await
        .map_err(Error::database("cancelling a registration"))?;
    registration_to_proto(cancelled)
}

pub async fn check_in(
    service: &FederationService,
    request: Request<proto::CheckInRequest>,
) -> Result<proto::Registration> {
    let (caller, request) = split(request)?;
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
    let actor = access::actor(&mut transaction, &caller).await?;
    if !store::lock_activity(&mut transaction, activity_id)
        .await
        .map_err(Error::database("checking in"))?
    {
        return Err(Error::NotFound(format!(
            "{} does not exist",
            Collection::Activities.name(activity_id)
        )));
    }
    let activity = load_activity(&mut transaction, activity_id).await?;
    require_organiser(&actor, &activity)?;
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
    if decision == CheckIn::AlreadyCheckedIn {
        return registration_to_proto(registration);
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
    transaction
        .commit()
        .await
        .map_err(Error::database("checking in"))?;
    registration_to_proto(attended)
}

pub async fn get_registration(
    service: &FederationService,
    request: Request<proto::GetRegistrationRequest>,
) -> Result<proto::Registration> {
    let (caller, request) = split(request)?;
    let (activity_id, registration_id) = Collection::Activities
        .parse_child(Collection::Registrations, &request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a registration").await?;
    let activity = load_activity(&mut connection, activity_id).await?;
    let registration = load_registration(&mut connection, activity_id, registration_id).await?;
    require_registration_access(&mut connection, &caller, &activity, &registration).await?;
    registration_to_proto(registration)
}

pub async fn list_registrations(
    service: &FederationService,
    request: Request<proto::ListRegistrationsRequest>,
) -> Result<proto::ListRegistrationsResponse> {
    let (caller, mut request) = split(request)?;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("registrations", &request);
    caller.require_any_role(&[Role::Resident, Role::FederationStaff, Role::DistrictAdmin])?;
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
    let activity = load_activity(&mut connection, activity_id).await?;
    // Residents see only their own registrations.
    let participant = if caller.has_role(Role::FederationStaff) {
        let actor = access::actor(&mut connection, &caller).await?;
        require_organiser(&actor, &activity)?;
        None
    } else if caller.has_role(Role::DistrictAdmin) {
        None
    } else {
        Some(caller.subject.clone())
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
    Ok(proto::ListRegistrationsResponse {
        registrations: rows
            .into_iter()
            .map(registration_to_proto)
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
