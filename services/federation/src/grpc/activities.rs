//! Joint theme activities.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, count, finish, outcome};
use super::words::{self, ProtoWord};
use crate::access;
use crate::application::Checked;
use crate::application::activities::{
    self as app, ActivityFields, ActivityReferences, Change, Cursor, ListActivities, NewActivity,
};
use crate::domain::activity;
use crate::domain::codes::{
    Collection, OrganisationCode, organisation_name, parse_organisation_reference,
    parse_series_name, series_name,
};
use crate::domain::kinds::{ActivityState, Audience};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::activities::ActivityRow;

/// The activity as the caller may see it: who created it is named to staff
/// and administrators only.
fn render(access: &Access, row: ActivityRow) -> Result<proto::Activity> {
    let shows_staff = access::shows_staff_ids(access);
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
        audiences: words::stored(&row.audiences, Audience::from_stored)?,
        state: ActivityState::from_stored(&row.state)?.to_proto(),
        confirmed: count(row.confirmed),
        waitlisted: count(row.waitlisted),
        attended: count(row.attended),
        created_by: if shows_staff {
            row.created_by
        } else {
            String::new()
        },
        create_time: Some(timestamp(row.created_at)),
        publish_time: optional_timestamp(row.published_at),
        held_time: optional_timestamp(row.held_at),
        cancel_time: optional_timestamp(row.cancelled_at),
        cancel_reason: row.cancel_reason,
        summary: row.summary,
    })
}

impl TryFrom<proto::CreateActivityRequest> for NewActivity {
    type Error = Error;

    fn try_from(request: proto::CreateActivityRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let title = violations.check("title", text::required(&request.title, 200));
        let description =
            violations.check("description", text::optional(&request.description, 4000));
        let series = violations
            .check(
                "series",
                parse::optional(&request.series, parse_series_name),
            )
            .flatten();
        let mut co_organisers: Vec<(String, OrganisationCode)> = Vec::new();
        for (index, value) in request.co_organisers.iter().enumerate() {
            let field = format!("co_organisers[{index}]");
            if let Some(code) = violations.check(&field, parse_organisation_reference(value))
                && !co_organisers.iter().any(|(_, known)| *known == code)
            {
                co_organisers.push((field, code));
            }
        }
        let place = request.place.clone().unwrap_or_default();
        let block_code =
            violations.check("place.block_code", parse::optional_block(&place.block_code));
        let venue = violations.check("place.venue", text::optional(&place.venue, 200));
        if place.block_code.trim().is_empty() && venue.as_deref().is_some_and(str::is_empty) {
            violations.add("place", "needs a block code, a venue, or both");
        }
        let starts_at = violations.check(
            "start_time",
            parse::required_time(request.start_time.as_ref()),
        );
        let ends_at = violations.check("end_time", parse::required_time(request.end_time.as_ref()));
        if let (Some(start), Some(end)) = (starts_at, ends_at) {
            violations.check("end_time", activity::check_schedule(start, end));
        }
        let capacity = violations.check("capacity", activity::check_capacity(request.capacity));
        let audiences: Option<Vec<Audience>> =
            violations.check("audiences", words::list(&request.audiences));
        let fields = outcome(violations, || {
            Some(ActivityFields {
                title: title?,
                description: description?,
                block_code: block_code?,
                venue: venue?,
                starts_at: starts_at?,
                ends_at: ends_at?,
                capacity: capacity?,
                audiences: audiences?,
            })
        });
        Ok(NewActivity {
            activity: Checked {
                fields,
                references: ActivityReferences {
                    co_organisers,
                    series,
                },
            },
            retry,
        })
    }
}

impl TryFrom<proto::ListActivitiesRequest> for Listing<ListActivities> {
    type Error = Error;

    fn try_from(mut request: proto::ListActivitiesRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Cursor>(
            &mut violations,
            ListQuery::of_request("activities", &request),
            page_size,
            &page_token,
        );
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        let series = violations.check(
            "series",
            parse::optional(&request.series, parse_series_name),
        );
        let state = violations.check("state", words::optional(request.state));
        let division = violations.check(
            "division_code",
            parse::optional_division(&request.division_code),
        );
        let start_after = violations.check(
            "start_after",
            parse::optional_time(request.start_after.as_ref()),
        );
        let start_before = violations.check(
            "start_before",
            parse::optional_time(request.start_before.as_ref()),
        );
        let audience = violations.check("audience", words::optional(request.audience));
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListActivities {
                    organisation: organisation?,
                    series: series?,
                    state: state?,
                    division: division?,
                    start_after: start_after?,
                    start_before: start_before?,
                    audience: audience?,
                    page,
                },
                paging,
            })
        })
    }
}

/// The activity a request names in `name`.
fn named(name: &str) -> Result<Uuid> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::Activities.parse(name));
    finish(violations, || id)
}

pub async fn create_activity(
    service: &FederationService,
    access: &Access,
    request: proto::CreateActivityRequest,
) -> Result<proto::Activity> {
    let activity = NewActivity::try_from(request)?;
    render(access, app::create(&service.app, access, activity).await?)
}

pub async fn publish_activity(
    service: &FederationService,
    access: &Access,
    request: proto::PublishActivityRequest,
) -> Result<proto::Activity> {
    let id = named(&request.name)?;
    render(
        access,
        app::change(&service.app, access, id, Change::Publish).await?,
    )
}

pub async fn cancel_activity(
    service: &FederationService,
    access: &Access,
    request: proto::CancelActivityRequest,
) -> Result<proto::Activity> {
    let mut violations = Violations::new();
    let reason = violations.check("reason", text::required(&request.reason, 1000));
    let id = violations.check("name", Collection::Activities.parse(&request.name));
    let (id, reason) = finish(violations, || Some((id?, reason?)))?;
    render(
        access,
        app::change(&service.app, access, id, Change::Cancel { reason }).await?,
    )
}

pub async fn complete_activity(
    service: &FederationService,
    access: &Access,
    request: proto::CompleteActivityRequest,
) -> Result<proto::Activity> {
    let mut violations = Violations::new();
    let summary = violations.check("summary", text::optional(&request.summary, 4000));
    let id = violations.check("name", Collection::Activities.parse(&request.name));
    let (id, summary) = finish(violations, || Some((id?, summary?)))?;
    render(
        access,
        app::change(&service.app, access, id, Change::Complete { summary }).await?,
    )
}

pub async fn get_activity(
    service: &FederationService,
    access: &Access,
    request: proto::GetActivityRequest,
) -> Result<proto::Activity> {
    let id = named(&request.name)?;
    render(access, app::get(&service.app, access, id).await?)
}

pub async fn list_activities(
    service: &FederationService,
    access: &Access,
    request: proto::ListActivitiesRequest,
) -> Result<proto::ListActivitiesResponse> {
    let listing = Listing::<ListActivities>::try_from(request)?;
    let mut rows = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| Cursor::of(row).to_string());
    Ok(proto::ListActivitiesResponse {
        activities: rows
            .into_iter()
            .map(|row| render(access, row))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
