//! Joint innovation and entrepreneurship promotion (the fourth mechanism):
//! programmes, applications, mentors and progress.

use chrono::Utc;
use flatgov_auth::{Caller, Role};
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use sqlx::PgConnection;
use tonic::Request;
use uuid::Uuid;

use super::activities::count;
use super::{
    Checks, FederationService, ProtoWord, optional_word, required_time, required_word, split,
    stored_words, word_list,
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

fn require_organiser(actor: &Actor, programme: &ProgrammeRow) -> Result<()> {
    if programme
        .organisers()
        .any(|code| code == actor.organisation.as_str())
    {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "{} is organised by {}; staff of {} do not organise it",
        Collection::Programmes.name(programme.id),
        programme.organisers().collect::<Vec<_>>().join(", "),
        actor.organisation
    )))
}

pub async fn create_programme(
    service: &FederationService,
    request: Request<proto::CreateProgrammeRequest>,
) -> Result<proto::Programme> {
    let (caller, request) = split(request)?;
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
    let mut transaction = service.begin("creating a programme").await?;
    let actor = access::actor(&mut transaction, &caller).await?;
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
    if let Some(request_id) = &request_id
        && let Some(existing) = store::programme_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("creating a programme"))?
    {
        return programme_to_proto(existing);
    }
    let id = Uuid::now_v7();
    let audience_words: Vec<String> = audiences
        .iter()
        .map(|audience| audience.as_str().to_owned())
        .collect();
    let inserted = store::insert_programme(
        &mut transaction,
        &NewProgramme {
            id,
            request_id,
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
    if !inserted {
        return Err(Error::FailedPrecondition(
            "a programme with this request id is being created; retry".into(),
        ));
    }
    let codes: Vec<String> = co_organisers
        .iter()
        .map(|(_, code)| code.as_str().to_owned())
        .collect();
    store::insert_programme_co_organisers(&mut transaction, id, &codes)
        .await
        .map_err(Error::database("creating a programme"))?;
    let row = load_programme(&mut transaction, id).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("creating a programme"))?;
    programme_to_proto(row)
}

pub async fn close_programme(
    service: &FederationService,
    request: Request<proto::CloseProgrammeRequest>,
) -> Result<proto::Programme> {
    let (caller, request) = split(request)?;
    let id = Collection::Programmes
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut transaction = service.begin("closing a programme").await?;
    let actor = access::actor(&mut transaction, &caller).await?;
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
    if row.lead_organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(format!(
            "the programme is led by {}; only its lead closes it",
            row.lead_organisation
        )));
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
    transaction
        .commit()
        .await
        .map_err(Error::database("closing a programme"))?;
    programme_to_proto(row)
}

pub async fn get_programme(
    service: &FederationService,
    request: Request<proto::GetProgrammeRequest>,
) -> Result<proto::Programme> {
    let (_caller, request) = split(request)?;
    let id = Collection::Programmes
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a programme").await?;
    programme_to_proto(load_programme(&mut connection, id).await?)
}

pub async fn list_programmes(
    service: &FederationService,
    request: Request<proto::ListProgrammesRequest>,
) -> Result<proto::ListProgrammesResponse> {
    let (_caller, mut request) = split(request)?;
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
            .map(programme_to_proto)
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
    request: Request<proto::CreateMentorRequest>,
) -> Result<proto::Mentor> {
    let (caller, request) = split(request)?;
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let display_name = checks.check("display_name", text::required(&request.display_name, 100));
    let expertise = checks.check("expertise", parse_expertise(&request.expertise));
    let phone = checks.check("phone", text::phone(&request.phone));
    let biography = checks.check("biography", text::optional(&request.biography, 2000));
    checks.finish()?;
    let mut transaction = service.begin("adding a mentor").await?;
    let actor = access::actor(&mut transaction, &caller).await?;
    if let Some(request_id) = &request_id
        && let Some(existing) = store::mentor_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("adding a mentor"))?
    {
        return Ok(mentor_to_proto(existing));
    }
    let row = store::insert_mentor(
        &mut transaction,
        &NewMentor {
            id: Uuid::now_v7(),
            request_id,
            display_name: &display_name,
            expertise: &expertise,
            organisation: actor.organisation.as_str(),
            phone: &phone,
            biography: &biography,
        },
    )
    .await
    .map_err(Error::database("adding a mentor"))?
    .ok_or_else(|| {
        Error::FailedPrecondition("a mentor with this request id is being added; retry".into())
    })?;
    transaction
        .commit()
        .await
        .map_err(Error::database("adding a mentor"))?;
    Ok(mentor_to_proto(row))
}

pub async fn get_mentor(
    service: &FederationService,
    request: Request<proto::GetMentorRequest>,
) -> Result<proto::Mentor> {
    let (caller, request) = split(request)?;
    caller.require_any_role(&[Role::FederationStaff])?;
    let id = Collection::Mentors
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a mentor").await?;
    let row = store::get_mentor(&mut connection, id)
        .await
        .map_err(Error::database("reading a mentor"))?
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", Collection::Mentors.name(id)))
        })?;
    Ok(mentor_to_proto(row))
}

pub async fn list_mentors(
    service: &FederationService,
    request: Request<proto::ListMentorsRequest>,
) -> Result<proto::ListMentorsResponse> {
    let (caller, mut request) = split(request)?;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("mentors", &request);
    caller.require_any_role(&[Role::FederationStaff])?;
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

async fn load_application(
    connection: &mut PgConnection,
    programme: Uuid,
    id: Uuid,
) -> Result<proto::Application> {
    let row = store::get_application(connection, id)
        .await
        .map_err(Error::database("reading an application"))?
        .filter(|row| row.programme == programme)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} does not exist",
                Collection::Programmes.child_name(programme, Collection::Applications, id)
            ))
        })?;
    let progress = store::progress(connection, &[id])
        .await
        .map_err(Error::database("reading an application"))?;
    application_to_proto(row, &progress)
}

pub async fn submit_application(
    service: &FederationService,
    request: Request<proto::SubmitApplicationRequest>,
) -> Result<proto::Application> {
    let (caller, request) = split(request)?;
    caller.require_any_role(&[Role::FederationStaff, Role::Resident])?;
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
    let mut transaction = service.begin("submitting an application").await?;
    if caller.has_role(Role::FederationStaff) {
        access::actor(&mut transaction, &caller).await?;
    }
    if let Some(request_id) = &request_id
        && let Some(existing) = store::application_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("submitting an application"))?
    {
        return load_application(&mut transaction, existing.programme, existing.id).await;
    }
    let row = load_programme(&mut transaction, programme).await?;
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
    let inserted = store::insert_application(
        &mut transaction,
        &NewApplication {
            id,
            programme,
            request_id,
            applicant_name: &applicant_name,
            applicant_phone: &applicant_phone,
            project_title: &project_title,
            project_summary: &project_summary,
            team_size: i32::try_from(request.team_size).unwrap_or(i32::MAX),
            block_code: block_code.as_ref().map(BlockCode::as_str),
            submitted_by: &caller.subject,
        },
    )
    .await
    .map_err(Error::database("submitting an application"))?;
    if !inserted {
        return Err(Error::FailedPrecondition(
            "an application with this request id is being submitted; retry".into(),
        ));
    }
    let answer = load_application(&mut transaction, programme, id).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("submitting an application"))?;
    Ok(answer)
}

/// Locks an application of a programme the caller's organisation organises.
async fn organised_application(
    connection: &mut PgConnection,
    caller: &Caller,
    name: &str,
) -> Result<(Actor, ProgrammeRow, ApplicationRow)> {
    let (programme_id, id) = Collection::Programmes
        .parse_child(Collection::Applications, name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let actor = access::actor(connection, caller).await?;
    if !store::lock_programme(connection, programme_id)
        .await
        .map_err(Error::database("reading a programme"))?
    {
        return Err(Error::NotFound(format!(
            "{} does not exist",
            Collection::Programmes.name(programme_id)
        )));
    }
    let programme = load_programme(connection, programme_id).await?;
    require_organiser(&actor, &programme)?;
    store::lock_application(connection, id)
        .await
        .map_err(Error::database("reading an application"))?;
    let application = store::get_application(connection, id)
        .await
        .map_err(Error::database("reading an application"))?
        .filter(|row| row.programme == programme_id)
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", name.trim())))?;
    Ok((actor, programme, application))
}

pub async fn decide_application(
    service: &FederationService,
    request: Request<proto::DecideApplicationRequest>,
) -> Result<proto::Application> {
    let (caller, request) = split(request)?;
    let note =
        text::optional(&request.note, 2000).map_err(|invalid| Error::invalid("note", invalid.0))?;
    let mut transaction = service.begin("deciding an application").await?;
    let (actor, programme, application) =
        organised_application(&mut transaction, &caller, &request.name).await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("deciding an application"))?;
    Ok(answer)
}

pub async fn assign_mentor(
    service: &FederationService,
    request: Request<proto::AssignMentorRequest>,
) -> Result<proto::Application> {
    let (caller, request) = split(request)?;
    let mentor = Collection::Mentors
        .parse(&request.mentor)
        .map_err(|invalid| Error::invalid("mentor", invalid.0))?;
    let mut transaction = service.begin("assigning a mentor").await?;
    let (actor, programme, application) =
        organised_application(&mut transaction, &caller, &request.name).await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("assigning a mentor"))?;
    Ok(answer)
}

pub async fn record_progress(
    service: &FederationService,
    request: Request<proto::RecordProgressRequest>,
) -> Result<proto::Application> {
    let (caller, request) = split(request)?;
    let mut checks = Checks::new();
    let milestone = checks.check("milestone", text::required(&request.milestone, 200));
    let note = checks.check("note", text::optional(&request.note, 2000));
    checks.finish()?;
    let mut transaction = service.begin("recording progress").await?;
    let (actor, programme, application) =
        organised_application(&mut transaction, &caller, &request.name).await?;
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
    transaction
        .commit()
        .await
        .map_err(Error::database("recording progress"))?;
    Ok(answer)
}

pub async fn get_application(
    service: &FederationService,
    request: Request<proto::GetApplicationRequest>,
) -> Result<proto::Application> {
    let (caller, request) = split(request)?;
    caller.require_any_role(&[Role::FederationStaff, Role::Resident])?;
    let (programme_id, id) = Collection::Programmes
        .parse_child(Collection::Applications, &request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading an application").await?;
    let programme = load_programme(&mut connection, programme_id).await?;
    let answer = load_application(&mut connection, programme_id, id).await?;
    if caller.has_role(Role::FederationStaff) {
        let actor = access::actor(&mut connection, &caller).await?;
        require_organiser(&actor, &programme)?;
    } else if answer.submitted_by != caller.subject {
        return Err(Error::PermissionDenied(
            "a resident sees only the applications they submitted".into(),
        ));
    }
    Ok(answer)
}

pub async fn list_applications(
    service: &FederationService,
    request: Request<proto::ListApplicationsRequest>,
) -> Result<proto::ListApplicationsResponse> {
    let (caller, mut request) = split(request)?;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("applications", &request);
    caller.require_any_role(&[Role::FederationStaff, Role::Resident])?;
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
    let submitted_by = if caller.has_role(Role::FederationStaff) {
        let actor = access::actor(&mut connection, &caller).await?;
        require_organiser(&actor, &programme)?;
        None
    } else {
        Some(caller.subject.clone())
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
    let progress = store::progress(&mut connection, &ids)
        .await
        .map_err(Error::database("listing applications"))?;
    Ok(proto::ListApplicationsResponse {
        applications: rows
            .into_iter()
            .map(|row| application_to_proto(row, &progress))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
