//! Joint innovation and entrepreneurship promotion (the fourth mechanism):
//! programmes, applications, mentors and progress.

use chrono::Utc;
use flatgov_auth::policy::{Access, Resource, Scope};
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use sqlx::PgConnection;
use uuid::Uuid;

use super::activities::count;
use super::{
    Checks, FederationService, ProtoWord, Retry, claim, commit, optional_word, recall,
    required_time, required_word, stored_words, word_list,
};
use crate::access::{self, Actor};
use crate::domain::codes::{
    BlockCode, Code, Collection, organisation_name, parse_organisation_reference, parse_request_id,
};
use crate::domain::kinds::{
    ApplicationState, Audience, ProgrammeKind, ProgrammeState, require_state,
};
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};
use crate::store::innovation::{
    self as store, ApplicationRow, MentorRow, NewApplication, NewMentor, NewProgramme,
    ProgrammeFilter, ProgrammeRow, ProgressRow,
};

const MAX_PLACES: u32 = 10_000;

// -------------------------------------------------------------- programmes

fn programme_to_proto(row: ProgrammeRow) -> Result<proto::Programme> {
    let audiences = stored_words(&row.audiences, Audience::from_stored)?;
    Ok(proto::Programme {
        name: Collection::Programmes.name(row.id),
        title: row.title,
        description: row.description,
        kind: ProgrammeKind::from_stored(&row.kind)?.to_proto(),
        lead_organisation: organisation_name(&row.lead_organisation),
        co_organisers: row
            .co_organisers
            .iter()
            .map(|code| organisation_name(code))
            .collect(),
        audiences: audiences.into_iter().map(ProtoWord::to_proto).collect(),
        application_open_time: Some(timestamp(row.applications_open)),
        application_close_time: Some(timestamp(row.applications_close)),
        places: u32::try_from(row.places).unwrap_or(0),
        state: ProgrammeState::from_stored(&row.state)?.to_proto(),
        applications: count(row.applications),
        accepted: count(row.accepted),
        created_by: row.created_by,
        create_time: Some(timestamp(row.created_at)),
    })
}

async fn load_programme(connection: &mut PgConnection, id: Uuid) -> Result<ProgrammeRow> {
    store::get_programme(connection, id)
        .await
        .map_err(Error::database("reading a programme"))?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} does not exist",
                Collection::Programmes.name(id)
            ))
        })
}

/// The programme as the caller may see it: who created it is named to
/// staff and administrators only.
fn render_programme(access: &Access, row: ProgrammeRow) -> Result<proto::Programme> {
    let mut programme = programme_to_proto(row)?;
    if !access::shows_staff_ids(access) {
        programme.created_by.clear();
    }
    Ok(programme)
}

/// True when the caller's organisation organises the programme.
fn organises(access: &Access, programme: &ProgrammeRow) -> bool {
    let organisers: Vec<&str> = programme.organisers().collect();
    access::reaches_organisations(access, &organisers)
}

/// PERMISSION_DENIED unless the caller's organisation organises the
/// (public) programme.
fn require_organiser(access: &Access, programme: &ProgrammeRow) -> Result<()> {
    if organises(access, programme) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "only the organisers of {} handle its applications",
        Collection::Programmes.name(programme.id)
    )))
}

async fn replay_programme(
    service: &FederationService,
    access: &Access,
    name: &str,
) -> Result<proto::Programme> {
    let id = Collection::Programmes
        .parse(name)
        .map_err(|invalid| Error::Corrupt(format!("remembered programme: {invalid}")))?;
    let mut connection = service.connection("reading a programme").await?;
    access.audit().resource(name);
    render_programme(access, load_programme(&mut connection, id).await?)
}

pub async fn create_programme(
    service: &FederationService,
    access: &Access,
    request: proto::CreateProgrammeRequest,
) -> Result<proto::Programme> {
    let fingerprint = Fingerprint::of(&request);
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let title = checks.check("title", text::required(&request.title, 200));
    let description = checks.check("description", text::optional(&request.description, 4000));
    let kind: Option<ProgrammeKind> = checks.check("kind", required_word(request.kind));
    let mut co_organisers: Vec<(String, Code)> = Vec::new();
    for (index, value) in request.co_organisers.iter().enumerate() {
        let field = format!("co_organisers[{index}]");
        if let Some(code) = checks.check(&field, parse_organisation_reference(value).map(Some))
            && !co_organisers.iter().any(|(_, known)| *known == code)
        {
            co_organisers.push((field, code));
        }
    }
    let audiences: Vec<Audience> = if request.audiences.is_empty() {
        Vec::new()
    } else {
        checks.check("audiences", word_list(&request.audiences))
    };
    let opens = checks.check(
        "application_open_time",
        required_time(request.application_open_time.as_ref()).map(Some),
    );
    let closes = checks.check(
        "application_close_time",
        required_time(request.application_close_time.as_ref()).map(Some),
    );
    if let (Some(opens), Some(closes)) = (opens, closes)
        && closes <= opens
    {
        checks.fail("application_close_time", "must be after the open time");
    }
    if request.places == 0 || request.places > MAX_PLACES {
        checks.fail(
            "places",
            format!("is {}; it must be 1 to {MAX_PLACES}", request.places),
        );
    }
    let (Some(kind), Some(opens), Some(closes)) = (kind, opens, closes) else {
        checks.finish()?;
        return Err(Error::invalid("kind", "must be set"));
    };
    // Only a request that passed its checks was remembered; a bad one goes
    // on to the checks that need the database, so one reply names all.
    let retry = Retry::of(request_id, fingerprint);
    if checks.passed()
        && let Some(name) = recall(service, access, retry.as_ref()).await?
    {
        return replay_programme(service, access, &name).await;
    }
    let mut transaction = service.begin("creating a programme").await?;
    let actor = access::actor(&mut transaction, access).await?;
    if let Some((field, _)) = co_organisers
        .iter()
        .find(|(_, code)| *code == actor.organisation)
    {
        checks.fail(
            field.clone(),
            format!(
                "{} leads the programme; it is not also a co-organiser",
                actor.organisation
            ),
        );
    }
    for (field, problem) in access::inactive_or_unknown(&mut transaction, &co_organisers).await? {
        checks.fail(field, problem);
    }
    checks.finish()?;
    let id = Uuid::now_v7();
    let name = Collection::Programmes.name(id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_programme(service, access, &winner).await;
    }
    let audience_words: Vec<String> = audiences
        .iter()
        .map(|audience| audience.as_str().to_owned())
        .collect();
    store::insert_programme(
        &mut transaction,
        &NewProgramme {
            id,
            title: &title,
            description: &description,
            kind: kind.as_str(),
            lead_organisation: actor.organisation.as_str(),
            audiences: &audience_words,
            applications_open: opens,
            applications_close: closes,
            places: i32::try_from(request.places).unwrap_or(i32::MAX),
            created_by: &actor.subject,
        },
    )
    .await
    .map_err(Error::database("creating a programme"))?;
    let codes: Vec<String> = co_organisers
        .iter()
        .map(|(_, code)| code.as_str().to_owned())
        .collect();
    store::insert_programme_co_organisers(&mut transaction, id, &codes)
        .await
        .map_err(Error::database("creating a programme"))?;
    let row = load_programme(&mut transaction, id).await?;
    access.audit().resource(name);
    commit(transaction, access, "creating a programme").await?;
    render_programme(access, row)
}

pub async fn close_programme(
    service: &FederationService,
    access: &Access,
    request: proto::CloseProgrammeRequest,
) -> Result<proto::Programme> {
    let id = Collection::Programmes
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut transaction = service.begin("closing a programme").await?;
    let actor = access::actor(&mut transaction, access).await?;
    if !store::lock_programme(&mut transaction, id)
        .await
        .map_err(Error::database("closing a programme"))?
    {
        return Err(Error::NotFound(format!(
            "{} does not exist",
            Collection::Programmes.name(id)
        )));
    }
    let row = load_programme(&mut transaction, id).await?;
    access.audit().resource(Collection::Programmes.name(id));
    if row.lead_organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(
            "only the organisation leading a programme closes it".into(),
        ));
    }
    require_state(
        "programme",
        ProgrammeState::from_stored(&row.state)?,
        &[ProgrammeState::Open],
        "closed",
    )
    .map_err(Error::FailedPrecondition)?;
    store::close_programme(&mut transaction, id)
        .await
        .map_err(Error::database("closing a programme"))?;
    let row = load_programme(&mut transaction, id).await?;
    commit(transaction, access, "closing a programme").await?;
    render_programme(access, row)
}

pub async fn get_programme(
    service: &FederationService,
    access: &Access,
    request: proto::GetProgrammeRequest,
) -> Result<proto::Programme> {
    let id = Collection::Programmes
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a programme").await?;
    render_programme(access, load_programme(&mut connection, id).await?)
}

pub async fn list_programmes(
    service: &FederationService,
    access: &Access,
    request: proto::ListProgrammesRequest,
) -> Result<proto::ListProgrammesResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("programmes", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let organisation = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    let state: Option<ProgrammeState> = checks.check("state", optional_word(request.state));
    let kind: Option<ProgrammeKind> = checks.check("kind", optional_word(request.kind));
    checks.finish()?;
    let filter = ProgrammeFilter {
        organisation: organisation.map(|code| code.as_str().to_owned()),
        state: state.map(|state| state.as_str().to_owned()),
        kind: kind.map(|kind| kind.as_str().to_owned()),
        after,
    };
    let mut connection = service.connection("listing programmes").await?;
    let mut rows = store::list_programmes(&mut connection, &filter, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing programmes"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    Ok(proto::ListProgrammesResponse {
        programmes: rows
            .into_iter()
            .map(|row| render_programme(access, row))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}

// ----------------------------------------------------------------- mentors

fn mentor_to_proto(row: MentorRow) -> proto::Mentor {
    proto::Mentor {
        name: Collection::Mentors.name(row.id),
        display_name: row.display_name,
        expertise: row.expertise,
        organisation: organisation_name(&row.organisation),
        phone: row.phone,
        biography: row.biography,
        active: row.active,
        create_time: Some(timestamp(row.created_at)),
    }
}

fn parse_expertise(values: &[String]) -> std::result::Result<Vec<String>, Invalid> {
    if values.len() > 20 {
        return Err(Invalid::new(format!(
            "has {} entries; at most 20",
            values.len()
        )));
    }
    let mut expertise: Vec<String> = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let entry = text::required(value, 50)
            .map_err(|invalid| Invalid::new(format!("[{index}] {invalid}")))?;
        if !expertise.contains(&entry) {
            expertise.push(entry);
        }
    }
    Ok(expertise)
}

pub async fn create_mentor(
    service: &FederationService,
    access: &Access,
    request: proto::CreateMentorRequest,
) -> Result<proto::Mentor> {
    let fingerprint = Fingerprint::of(&request);
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let display_name = checks.check("display_name", text::required(&request.display_name, 100));
    let expertise = checks.check("expertise", parse_expertise(&request.expertise));
    let phone = checks.check("phone", text::phone(&request.phone));
    let biography = checks.check("biography", text::optional(&request.biography, 2000));
    checks.finish()?;
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        return replay_mentor(service, access, &name).await;
    }
    let mut transaction = service.begin("adding a mentor").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let id = Uuid::now_v7();
    let name = Collection::Mentors.name(id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_mentor(service, access, &winner).await;
    }
    let row = store::insert_mentor(
        &mut transaction,
        &NewMentor {
            id,
            display_name: &display_name,
            expertise: &expertise,
            organisation: actor.organisation.as_str(),
            phone: &phone,
            biography: &biography,
        },
    )
    .await
    .map_err(Error::database("adding a mentor"))?;
    access.audit().resource(name);
    commit(transaction, access, "adding a mentor").await?;
    Ok(mentor_to_proto(row))
}

async fn replay_mentor(
    service: &FederationService,
    access: &Access,
    name: &str,
) -> Result<proto::Mentor> {
    let id = Collection::Mentors
        .parse(name)
        .map_err(|invalid| Error::Corrupt(format!("remembered mentor: {invalid}")))?;
    let mut connection = service.connection("reading a mentor").await?;
    load_mentor(&mut connection, access, id).await
}

/// A mentor of the federation's pool; noted in the audit trail (the
/// phone is personal data).
async fn load_mentor(
    connection: &mut PgConnection,
    access: &Access,
    id: Uuid,
) -> Result<proto::Mentor> {
    let row = store::get_mentor(connection, id)
        .await
        .map_err(Error::database("reading a mentor"))?
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", Collection::Mentors.name(id)))
        })?;
    access.audit().resource(Collection::Mentors.name(id));
    Ok(mentor_to_proto(row))
}

pub async fn get_mentor(
    service: &FederationService,
    access: &Access,
    request: proto::GetMentorRequest,
) -> Result<proto::Mentor> {
    let id = Collection::Mentors
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a mentor").await?;
    load_mentor(&mut connection, access, id).await
}

pub async fn list_mentors(
    service: &FederationService,
    access: &Access,
    request: proto::ListMentorsRequest,
) -> Result<proto::ListMentorsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("mentors", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let organisation = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    let expertise = checks.check("expertise", text::optional(&request.expertise, 50));
    checks.finish()?;
    let mut connection = service.connection("listing mentors").await?;
    let mut rows = store::list_mentors(
        &mut connection,
        organisation.as_ref().map(Code::as_str),
        (!expertise.is_empty()).then_some(expertise.as_str()),
        after,
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing mentors"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    for row in &rows {
        access.audit().resource(Collection::Mentors.name(row.id));
    }
    Ok(proto::ListMentorsResponse {
        mentors: rows.into_iter().map(mentor_to_proto).collect(),
        next_page_token,
    })
}

// ------------------------------------------------------------ applications

fn application_to_proto(
    row: ApplicationRow,
    progress: &[ProgressRow],
) -> Result<proto::Application> {
    Ok(proto::Application {
        name: Collection::Programmes.child_name(row.programme, Collection::Applications, row.id),
        programme: Collection::Programmes.name(row.programme),
        applicant_name: row.applicant_name,
        applicant_phone: row.applicant_phone,
        project_title: row.project_title,
        project_summary: row.project_summary,
        team_size: u32::try_from(row.team_size).unwrap_or(0),
        block_code: row.block_code.unwrap_or_default(),
        state: ApplicationState::from_stored(&row.state)?.to_proto(),
        decision_note: row.decision_note,
        decided_by: row.decided_by.unwrap_or_default(),
        decide_time: optional_timestamp(row.decided_at),
        mentors: row
            .mentors
            .iter()
            .map(|id| Collection::Mentors.name(*id))
            .collect(),
        progress: progress
            .iter()
            .filter(|entry| entry.application == row.id)
            .map(|entry| proto::ProgressEntry {
                milestone: entry.milestone.clone(),
                note: entry.note.clone(),
                recorded_by: entry.recorded_by.clone(),
                record_time: Some(timestamp(entry.recorded_at)),
                r#final: entry.final_entry,
            })
            .collect(),
        submitted_by: row.submitted_by,
        submit_time: Some(timestamp(row.submitted_at)),
    })
}

fn application_name(programme: Uuid, id: Uuid) -> String {
    Collection::Programmes.child_name(programme, Collection::Applications, id)
}

/// The one answer for an application that does not exist or is out of
/// reach.
fn application_not_found(programme: Uuid, id: Uuid) -> Error {
    Error::NotFound(format!(
        "{} does not exist",
        application_name(programme, id)
    ))
}

/// The application as the caller may see it: the applicant sees no staff
/// ids (who decided, who recorded progress, who submitted for them).
fn render_application(access: &Access, mut application: proto::Application) -> proto::Application {
    if access::shows_staff_ids(access) {
        return application;
    }
    let subject = access.caller().map(|caller| caller.subject.as_str());
    if subject != Some(application.submitted_by.as_str()) {
        application.submitted_by.clear();
    }
    application.decided_by.clear();
    for entry in &mut application.progress {
        entry.recorded_by.clear();
    }
    application
}

async fn load_application(
    connection: &mut PgConnection,
    programme: Uuid,
    id: Uuid,
) -> Result<proto::Application> {
    let row = store::get_application(connection, id)
        .await
        .map_err(Error::database("reading an application"))?
        .filter(|row| row.programme == programme)
        .ok_or_else(|| application_not_found(programme, id))?;
    let progress = store::progress(connection, &[id])
        .await
        .map_err(Error::database("reading an application"))?;
    application_to_proto(row, &progress)
}

/// An application reaches its applicant (who submitted it) and its
/// programme's organisers; NOT_FOUND otherwise. Noted in the audit trail.
async fn reachable_application(
    connection: &mut PgConnection,
    access: &Access,
    programme_id: Uuid,
    id: Uuid,
) -> Result<proto::Application> {
    let not_found = || application_not_found(programme_id, id);
    let programme = store::get_programme(connection, programme_id)
        .await
        .map_err(Error::database("reading a programme"))?
        .ok_or_else(not_found)?;
    let row = store::get_application(connection, id)
        .await
        .map_err(Error::database("reading an application"))?
        .filter(|row| row.programme == programme_id)
        .ok_or_else(not_found)?;
    let organisers: Vec<&str> = programme.organisers().collect();
    let resource = Resource::default()
        .owned_by(Some(&row.submitted_by))
        .held_by(&organisers);
    if !access.reaches(&resource) {
        return Err(not_found());
    }
    access.audit().resource(application_name(programme_id, id));
    let progress = store::progress(connection, &[id])
        .await
        .map_err(Error::database("reading an application"))?;
    Ok(render_application(
        access,
        application_to_proto(row, &progress)?,
    ))
}

async fn replay_application(
    service: &FederationService,
    access: &Access,
    name: &str,
) -> Result<proto::Application> {
    let (programme, id) = Collection::Programmes
        .parse_child(Collection::Applications, name)
        .map_err(|invalid| Error::Corrupt(format!("remembered application: {invalid}")))?;
    let mut connection = service.connection("reading an application").await?;
    reachable_application(&mut connection, access, programme, id).await
}

pub async fn submit_application(
    service: &FederationService,
    access: &Access,
    request: proto::SubmitApplicationRequest,
) -> Result<proto::Application> {
    let fingerprint = Fingerprint::of(&request);
    // Organisers' staff apply for a resident at the desk; a resident
    // applies for themselves.
    let acting_as_staff = access.has_scope(Scope::Organisation);
    let mut checks = Checks::new();
    let programme = checks.check(
        "parent",
        Collection::Programmes.parse(&request.parent).map(Some),
    );
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let applicant_name = checks.check(
        "applicant_name",
        text::required(&request.applicant_name, 100),
    );
    let applicant_phone = checks.check("applicant_phone", text::phone(&request.applicant_phone));
    let project_title = checks.check("project_title", text::required(&request.project_title, 200));
    let project_summary = checks.check(
        "project_summary",
        text::optional(&request.project_summary, 4000),
    );
    if request.team_size == 0 || request.team_size > 1000 {
        checks.fail(
            "team_size",
            format!("is {}; it must be 1 to 1000", request.team_size),
        );
    }
    let block_code = if request.block_code.trim().is_empty() {
        None
    } else {
        checks.check(
            "block_code",
            BlockCode::parse(&request.block_code).map(Some),
        )
    };
    checks.finish()?;
    let Some(programme) = programme else {
        return Err(Error::invalid("parent", "must be set"));
    };
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        return replay_application(service, access, &name).await;
    }
    let mut transaction = service.begin("submitting an application").await?;
    if acting_as_staff {
        access::actor(&mut transaction, access).await?;
    }
    let row = load_programme(&mut transaction, programme).await?;
    if acting_as_staff {
        require_organiser(access, &row)?;
    }
    require_state(
        "programme",
        ProgrammeState::from_stored(&row.state)?,
        &[ProgrammeState::Open],
        "applied to",
    )
    .map_err(Error::FailedPrecondition)?;
    let now = Utc::now();
    if now < row.applications_open || now >= row.applications_close {
        return Err(Error::FailedPrecondition(format!(
            "applications are taken from {} until {}",
            row.applications_open.to_rfc3339(),
            row.applications_close.to_rfc3339()
        )));
    }
    let id = Uuid::now_v7();
    let name = application_name(programme, id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_application(service, access, &winner).await;
    }
    let subject = access
        .caller()
        .map(|caller| caller.subject.clone())
        .unwrap_or_default();
    store::insert_application(
        &mut transaction,
        &NewApplication {
            id,
            programme,
            applicant_name: &applicant_name,
            applicant_phone: &applicant_phone,
            project_title: &project_title,
            project_summary: &project_summary,
            team_size: i32::try_from(request.team_size).unwrap_or(i32::MAX),
            block_code: block_code.as_ref().map(BlockCode::as_str),
            submitted_by: &subject,
        },
    )
    .await
    .map_err(Error::database("submitting an application"))?;
    let answer = load_application(&mut transaction, programme, id).await?;
    access.audit().resource(name);
    commit(transaction, access, "submitting an application").await?;
    Ok(render_application(access, answer))
}

/// Locks an application of a programme the caller's organisation organises
/// (the programme is public: PERMISSION_DENIED for others, before anything
/// about the application is told).
async fn organised_application(
    connection: &mut PgConnection,
    access: &Access,
    name: &str,
) -> Result<(Actor, ProgrammeRow, ApplicationRow)> {
    let (programme_id, id) = Collection::Programmes
        .parse_child(Collection::Applications, name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let actor = access::actor(connection, access).await?;
    if !store::lock_programme(connection, programme_id)
        .await
        .map_err(Error::database("reading a programme"))?
    {
        return Err(application_not_found(programme_id, id));
    }
    let programme = load_programme(connection, programme_id).await?;
    require_organiser(access, &programme)?;
    store::lock_application(connection, id)
        .await
        .map_err(Error::database("reading an application"))?;
    let application = store::get_application(connection, id)
        .await
        .map_err(Error::database("reading an application"))?
        .filter(|row| row.programme == programme_id)
        .ok_or_else(|| application_not_found(programme_id, id))?;
    access.audit().resource(application_name(programme_id, id));
    Ok((actor, programme, application))
}
pub async fn decide_application(
    service: &FederationService,
    access: &Access,
    request: proto::DecideApplicationRequest,
) -> Result<proto::Application> {
    let note =
        text::optional(&request.note, 2000).map_err(|invalid| Error::invalid("note", invalid.0))?;
    let mut transaction = service.begin("deciding an application").await?;
    let (actor, programme, application) =
        organised_application(&mut transaction, access, &request.name).await?;
    require_state(
        "application",
        ApplicationState::from_stored(&application.state)?,
        &[ApplicationState::Submitted],
        "decided",
    )
    .map_err(Error::FailedPrecondition)?;
    if request.accept {
        let taken = store::places_taken(&mut transaction, programme.id)
            .await
            .map_err(Error::database("deciding an application"))?;
        if taken >= i64::from(programme.places) {
            return Err(Error::FailedPrecondition(format!(
                "all {} places of the programme are taken; reject or wait for a place",
                programme.places
            )));
        }
    }
    let state = if request.accept {
        ApplicationState::Accepted
    } else {
        ApplicationState::Rejected
    };
    store::decide(
        &mut transaction,
        application.id,
        state.as_str(),
        &note,
        &actor.subject,
        Utc::now(),
    )
    .await
    .map_err(Error::database("deciding an application"))?;
    let answer = load_application(&mut transaction, programme.id, application.id).await?;
    commit(transaction, access, "deciding an application").await?;
    Ok(answer)
}

pub async fn assign_mentor(
    service: &FederationService,
    access: &Access,
    request: proto::AssignMentorRequest,
) -> Result<proto::Application> {
    let mentor = Collection::Mentors
        .parse(&request.mentor)
        .map_err(|invalid| Error::invalid("mentor", invalid.0))?;
    let mut transaction = service.begin("assigning a mentor").await?;
    let (actor, programme, application) =
        organised_application(&mut transaction, access, &request.name).await?;
    require_state(
        "application",
        ApplicationState::from_stored(&application.state)?,
        &[ApplicationState::Accepted],
        "given a mentor",
    )
    .map_err(Error::FailedPrecondition)?;
    let mentor_row = store::get_mentor(&mut transaction, mentor)
        .await
        .map_err(Error::database("assigning a mentor"))?;
    match mentor_row {
        None => {
            return Err(Error::invalid(
                "mentor",
                format!("{} does not exist", Collection::Mentors.name(mentor)),
            ));
        }
        Some(row) if !row.active => {
            return Err(Error::FailedPrecondition(format!(
                "{} is inactive",
                Collection::Mentors.name(mentor)
            )));
        }
        Some(_) => {}
    }
    store::assign_mentor(&mut transaction, application.id, mentor, &actor.subject)
        .await
        .map_err(Error::database("assigning a mentor"))?;
    let answer = load_application(&mut transaction, programme.id, application.id).await?;
    commit(transaction, access, "assigning a mentor").await?;
    Ok(answer)
}

pub async fn record_progress(
    service: &FederationService,
    access: &Access,
    request: proto::RecordProgressRequest,
) -> Result<proto::Application> {
    let mut checks = Checks::new();
    let milestone = checks.check("milestone", text::required(&request.milestone, 200));
    let note = checks.check("note", text::optional(&request.note, 2000));
    checks.finish()?;
    let mut transaction = service.begin("recording progress").await?;
    let (actor, programme, application) =
        organised_application(&mut transaction, access, &request.name).await?;
    require_state(
        "application",
        ApplicationState::from_stored(&application.state)?,
        &[ApplicationState::Accepted],
        "given progress",
    )
    .map_err(Error::FailedPrecondition)?;
    store::insert_progress(
        &mut transaction,
        application.id,
        &milestone,
        &note,
        request.r#final,
        &actor.subject,
    )
    .await
    .map_err(Error::database("recording progress"))?;
    let answer = load_application(&mut transaction, programme.id, application.id).await?;
    commit(transaction, access, "recording progress").await?;
    Ok(answer)
}

pub async fn get_application(
    service: &FederationService,
    access: &Access,
    request: proto::GetApplicationRequest,
) -> Result<proto::Application> {
    let (programme_id, id) = Collection::Programmes
        .parse_child(Collection::Applications, &request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading an application").await?;
    reachable_application(&mut connection, access, programme_id, id).await
}

pub async fn list_applications(
    service: &FederationService,
    access: &Access,
    request: proto::ListApplicationsRequest,
) -> Result<proto::ListApplicationsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("applications", &request);
    let mut checks = Checks::new();
    let programme_id = checks.check(
        "parent",
        Collection::Programmes.parse(&request.parent).map(Some),
    );
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let state: Option<ApplicationState> = checks.check("state", optional_word(request.state));
    let mentor = if request.mentor.trim().is_empty() {
        None
    } else {
        checks.check(
            "mentor",
            Collection::Mentors.parse(&request.mentor).map(Some),
        )
    };
    checks.finish()?;
    let Some(programme_id) = programme_id else {
        return Err(Error::invalid("parent", "must be set"));
    };
    let mut connection = service.connection("listing applications").await?;
    let programme = load_programme(&mut connection, programme_id).await?;
    // Organisers see every application; an applicant their own; another
    // organisation's staff none.
    let submitted_by = if organises(access, &programme) {
        None
    } else if access.has_scope(Scope::Own) {
        access.caller().map(|caller| caller.subject.clone())
    } else {
        return Err(Error::PermissionDenied(format!(
            "only the organisers of {} see its applications",
            Collection::Programmes.name(programme_id)
        )));
    };
    let mut rows = store::list_applications(
        &mut connection,
        programme_id,
        state.map(ApplicationState::as_str),
        mentor,
        submitted_by.as_deref(),
        after,
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing applications"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    for id in &ids {
        access.audit().resource(application_name(programme_id, *id));
    }
    let progress = store::progress(&mut connection, &ids)
        .await
        .map_err(Error::database("listing applications"))?;
    Ok(proto::ListApplicationsResponse {
        applications: rows
            .into_iter()
            .map(|row| {
                application_to_proto(row, &progress)
                    .map(|application| render_application(access, application))
            })
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
