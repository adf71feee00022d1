//! Applications to programmes.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, finish};
use super::words::{self, ProtoWord};
use crate::access;
use crate::application::applications::{
    self as app, ApplicationId, Applications, Handling, ListApplications, NewApplication,
};
use crate::domain::codes::Collection;
use crate::domain::kinds::ApplicationState;
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};

/// Applications as the caller may see them: the applicant sees no staff
/// ids (who decided, who recorded progress, who submitted for them).
fn render(access: &Access, applications: Applications) -> Result<Vec<proto::Application>> {
    let shows_staff = access::shows_staff_ids(access);
    let subject = access.caller().map(|caller| caller.subject.as_str());
    applications
        .rows
        .into_iter()
        .map(|row| {
            let staff_id = |id: String| if shows_staff { id } else { String::new() };
            let submitted_by = if shows_staff || subject == Some(row.submitted_by.as_str()) {
                row.submitted_by
            } else {
                String::new()
            };
            Ok(proto::Application {
                name: Collection::Programmes.child_name(
                    row.programme,
                    Collection::Applications,
                    row.id,
                ),
                programme: Collection::Programmes.name(row.programme),
                applicant_name: row.applicant_name,
                applicant_phone: row.applicant_phone,
                project_title: row.project_title,
                project_summary: row.project_summary,
                team_size: u32::try_from(row.team_size).unwrap_or(0),
                block_code: row.block_code.unwrap_or_default(),
                state: ApplicationState::from_stored(&row.state)?.to_proto(),
                decision_note: row.decision_note,
                decided_by: staff_id(row.decided_by.unwrap_or_default()),
                decide_time: optional_timestamp(row.decided_at),
                mentors: row
                    .mentors
                    .iter()
                    .map(|id| Collection::Mentors.name(*id))
                    .collect(),
                progress: applications
                    .progress
                    .iter()
                    .filter(|entry| entry.application == row.id)
                    .map(|entry| proto::ProgressEntry {
                        milestone: entry.milestone.clone(),
                        note: entry.note.clone(),
                        recorded_by: staff_id(entry.recorded_by.clone()),
                        record_time: Some(timestamp(entry.recorded_at)),
                        r#final: entry.final_entry,
                    })
                    .collect(),
                submitted_by,
                submit_time: Some(timestamp(row.submitted_at)),
            })
        })
        .collect()
}

fn render_one(access: &Access, applications: Applications) -> Result<proto::Application> {
    render(access, applications)?
        .pop()
        .ok_or_else(|| Error::Corrupt("an application read went missing".into()))
}

fn parse_application(value: &str) -> std::result::Result<ApplicationId, Invalid> {
    let (programme, id) = Collection::Programmes.parse_child(Collection::Applications, value)?;
    Ok(ApplicationId { programme, id })
}

impl TryFrom<proto::SubmitApplicationRequest> for NewApplication {
    type Error = Error;

    fn try_from(request: proto::SubmitApplicationRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let programme = violations.check("parent", Collection::Programmes.parse(&request.parent));
        let applicant_name = violations.check(
            "applicant_name",
            text::required(&request.applicant_name, 100),
        );
        let applicant_phone =
            violations.check("applicant_phone", text::phone(&request.applicant_phone));
        let project_title =
            violations.check("project_title", text::required(&request.project_title, 200));
        let project_summary = violations.check(
            "project_summary",
            text::optional(&request.project_summary, 4000),
        );
        if request.team_size == 0 || request.team_size > 1000 {
            violations.add(
                "team_size",
                format!("is {}; it must be 1 to 1000", request.team_size),
            );
        }
        let block_code = violations.check("block_code", parse::optional_block(&request.block_code));
        finish(violations, || {
            Some(NewApplication {
                programme: programme?,
                applicant_name: applicant_name?,
                applicant_phone: applicant_phone?,
                project_title: project_title?,
                project_summary: project_summary?,
                team_size: request.team_size,
                block_code: block_code?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::ListApplicationsRequest> for Listing<ListApplications> {
    type Error = Error;

    fn try_from(mut request: proto::ListApplicationsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let programme = violations.check("parent", Collection::Programmes.parse(&request.parent));
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("applications", &request),
            page_size,
            &page_token,
        );
        let state = violations.check("state", words::optional(request.state));
        let mentor = violations.check(
            "mentor",
            parse::optional(&request.mentor, |value| Collection::Mentors.parse(value)),
        );
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListApplications {
                    programme: programme?,
                    state: state?,
                    mentor: mentor?,
                    page,
                },
                paging,
            })
        })
    }
}

/// What the organisers do to the application named `name`, parsed with
/// its own fields.
fn handling(
    name: &str,
    build: impl FnOnce(&mut Violations) -> Option<Handling>,
) -> Result<(ApplicationId, Handling)> {
    let mut violations = Violations::new();
    let handling = build(&mut violations);
    let application = violations.check("name", parse_application(name));
    finish(violations, || Some((application?, handling?)))
}

pub async fn submit_application(
    service: &FederationService,
    access: &Access,
    request: proto::SubmitApplicationRequest,
) -> Result<proto::Application> {
    let application = NewApplication::try_from(request)?;
    render_one(
        access,
        app::submit(&service.app, access, application).await?,
    )
}

pub async fn decide_application(
    service: &FederationService,
    access: &Access,
    request: proto::DecideApplicationRequest,
) -> Result<proto::Application> {
    let (application, decision) = handling(&request.name, |violations| {
        let note = violations.check("note", text::optional(&request.note, 2000));
        Some(Handling::Decide {
            accept: request.accept,
            note: note?,
        })
    })?;
    render_one(
        access,
        app::handle(&service.app, access, application, decision).await?,
    )
}

pub async fn assign_mentor(
    service: &FederationService,
    access: &Access,
    request: proto::AssignMentorRequest,
) -> Result<proto::Application> {
    let (application, assignment) = handling(&request.name, |violations| {
        let mentor = violations.check("mentor", Collection::Mentors.parse(&request.mentor));
        Some(Handling::AssignMentor { mentor: mentor? })
    })?;
    render_one(
        access,
        app::handle(&service.app, access, application, assignment).await?,
    )
}

pub async fn record_progress(
    service: &FederationService,
    access: &Access,
    request: proto::RecordProgressRequest,
) -> Result<proto::Application> {
    let (application, progress) = handling(&request.name, |violations| {
        let milestone = violations.check("milestone", text::required(&request.milestone, 200));
        let note = violations.check("note", text::optional(&request.note, 2000));
        Some(Handling::RecordProgress {
            milestone: milestone?,
            note: note?,
            final_entry: request.r#final,
        })
    })?;
    render_one(
        access,
        app::handle(&service.app, access, application, progress).await?,
    )
}

pub async fn get_application(
    service: &FederationService,
    access: &Access,
    request: proto::GetApplicationRequest,
) -> Result<proto::Application> {
    let mut violations = Violations::new();
    let application = violations.check("name", parse_application(&request.name));
    let application = finish(violations, || application)?;
    render_one(access, app::get(&service.app, access, application).await?)
}

pub async fn list_applications(
    service: &FederationService,
    access: &Access,
    request: proto::ListApplicationsRequest,
) -> Result<proto::ListApplicationsResponse> {
    let listing = Listing::<ListApplications>::try_from(request)?;
    let mut applications = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut applications.rows, |row| row.id.to_string());
    Ok(proto::ListApplicationsResponse {
        applications: render(access, applications)?,
        next_page_token,
    })
}
