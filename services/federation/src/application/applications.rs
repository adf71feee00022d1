//! Applications to programmes: residents apply for themselves, organisers'
//! staff apply for a resident at the desk; organisers accept within the
//! places, assign mentors and record progress.
//!
//! An application (with the applicant's contact) reaches its applicant and
//! the programme's organisers; anyone else is answered as if it did not
//! exist. The programme itself is public, so another organisation's staff
//! acting on its applications are refused before anything about them is
//! told.

use flatgov_auth::policy::{Access, Resource, Scope};
use sqlx::PgConnection;
use uuid::Uuid;

use super::programmes::{organises, require_organiser};
use super::{App, Page, Retry, claim, commit, recall, subject};
use crate::access::{self, Actor};
use crate::domain::codes::{BlockCode, Collection};
use crate::domain::kinds::{ApplicationState, ProgrammeState, require_state};
use crate::error::{Error, Result};
use crate::store::innovation::{self as store, ApplicationRow, ProgrammeRow, ProgressRow};

/// An application to a programme.
#[derive(Debug)]
pub struct NewApplication {
    pub programme: Uuid,
    pub applicant_name: String,
    pub applicant_phone: String,
    pub project_title: String,
    pub project_summary: String,
    pub team_size: u32,
    pub block_code: Option<BlockCode>,
    pub retry: Option<Retry>,
}

/// An application by its programme and id.
#[derive(Debug, Clone, Copy)]
pub struct ApplicationId {
    pub programme: Uuid,
    pub id: Uuid,
}

impl ApplicationId {
    pub fn name(&self) -> String {
        Collection::Programmes.child_name(self.programme, Collection::Applications, self.id)
    }
}

/// What the organisers do with an application.
#[derive(Debug)]
pub enum Handling {
    Decide {
        accept: bool,
        note: String,
    },
    AssignMentor {
        mentor: Uuid,
    },
    RecordProgress {
        milestone: String,
        note: String,
        final_entry: bool,
    },
}

/// A page of one programme's applications.
#[derive(Debug)]
pub struct ListApplications {
    pub programme: Uuid,
    pub state: Option<ApplicationState>,
    pub mentor: Option<Uuid>,
    pub page: Page<Uuid>,
}

/// Applications with their progress entries.
#[derive(Debug)]
pub struct Applications {
    pub rows: Vec<ApplicationRow>,
    pub progress: Vec<ProgressRow>,
}

/// The one answer for an application that does not exist or is out of
/// reach.
fn not_found(application: ApplicationId) -> Error {
    Error::NotFound(format!("{} does not exist", application.name()))
}

async fn load(connection: &mut PgConnection, application: ApplicationId) -> Result<Applications> {
    let row = store::get_application(connection, application.id)
        .await?
        .filter(|row| row.programme == application.programme)
        .ok_or_else(|| not_found(application))?;
    let progress = store::progress(connection, &[application.id]).await?;
    Ok(Applications {
        rows: vec![row],
        progress,
    })
}

/// The application, NOT_FOUND unless the caller is its applicant or an
/// organiser. Noted in the audit trail.
async fn reachable(
    connection: &mut PgConnection,
    access: &Access,
    application: ApplicationId,
) -> Result<Applications> {
    let programme = store::get_programme(connection, application.programme)
        .await?
        .ok_or_else(|| not_found(application))?;
    let row = store::get_application(connection, application.id)
        .await?
        .filter(|row| row.programme == application.programme)
        .ok_or_else(|| not_found(application))?;
    let organisers: Vec<&str> = programme.organisers().collect();
    let resource = Resource::default()
        .owned_by(Some(&row.submitted_by))
        .held_by(&organisers);
    if !access.reaches(&resource) {
        return Err(not_found(application));
    }
    access.audit().resource(application.name());
    let progress = store::progress(connection, &[application.id]).await?;
    Ok(Applications {
        rows: vec![row],
        progress,
    })
}

async fn replay(app: &App, access: &Access, remembered: &str) -> Result<Applications> {
    let (programme, id) = Collection::Programmes
        .parse_child(Collection::Applications, remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered application: {invalid}")))?;
    let mut connection = app.connection("reading an application").await?;
    reachable(&mut connection, access, ApplicationId { programme, id }).await
}

async fn programme(connection: &mut PgConnection, id: Uuid) -> Result<ProgrammeRow> {
    store::get_programme(connection, id)
        .await?
        .ok_or_else(|| super::programmes::not_found(id))
}

pub async fn submit(
    app: &App,
    access: &Access,
    application: NewApplication,
) -> Result<Applications> {
    // Organisers' staff apply for a resident at the desk; a resident
    // applies for themselves.
    let acting_as_staff = access.has_scope(Scope::Organisation);
    if let Some(remembered) = recall(app, access, application.retry.as_ref()).await? {
        return replay(app, access, &remembered).await;
    }
    let mut transaction = app.begin("submitting an application").await?;
    if acting_as_staff {
        access::actor(&mut transaction, access).await?;
    }
    let row = programme(&mut transaction, application.programme).await?;
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
    let now = app.clock.now();
    if now < row.applications_open || now >= row.applications_close {
        return Err(Error::FailedPrecondition(format!(
            "applications are taken from {} until {}",
            row.applications_open.to_rfc3339(),
            row.applications_close.to_rfc3339()
        )));
    }
    let id = ApplicationId {
        programme: application.programme,
        id: Uuid::now_v7(),
    };
    if let Some(winner) = claim(
        app,
        &mut transaction,
        access,
        application.retry.as_ref(),
        &id.name(),
    )
    .await?
    {
        drop(transaction);
        return replay(app, access, &winner).await;
    }
    store::insert_application(
        &mut transaction,
        &store::NewApplication {
            id: id.id,
            programme: application.programme,
            applicant_name: &application.applicant_name,
            applicant_phone: &application.applicant_phone,
            project_title: &application.project_title,
            project_summary: &application.project_summary,
            team_size: i32::try_from(application.team_size).unwrap_or(i32::MAX),
            block_code: application.block_code.as_ref().map(BlockCode::as_str),
            submitted_by: &subject(access),
        },
    )
    .await?;
    let answer = load(&mut transaction, id).await?;
    access.audit().resource(id.name());
    commit(transaction, access, "submitting an application").await?;
    Ok(answer)
}

/// Locks an application of a programme the caller's organisation
/// organises (PERMISSION_DENIED for others, before anything about the
/// application is told).
async fn organised(
    connection: &mut PgConnection,
    access: &Access,
    application: ApplicationId,
) -> Result<(Actor, ProgrammeRow, ApplicationRow)> {
    let actor = access::actor(connection, access).await?;
    if !store::lock_programme(connection, application.programme).await? {
        return Err(not_found(application));
    }
    let row = programme(connection, application.programme).await?;
    require_organiser(access, &row)?;
    store::lock_application(connection, application.id).await?;
    let found = store::get_application(connection, application.id)
        .await?
        .filter(|found| found.programme == application.programme)
        .ok_or_else(|| not_found(application))?;
    access.audit().resource(application.name());
    Ok((actor, row, found))
}

/// The organisers decide, assign a mentor or record progress.
pub async fn handle(
    app: &App,
    access: &Access,
    application: ApplicationId,
    handling: Handling,
) -> Result<Applications> {
    let context = match handling {
        Handling::Decide { .. } => "deciding an application",
        Handling::AssignMentor { .. } => "assigning a mentor",
        Handling::RecordProgress { .. } => "recording progress",
    };
    let mut transaction = app.begin(context).await?;
    let (actor, programme, found) = organised(&mut transaction, access, application).await?;
    let state = ApplicationState::from_stored(&found.state)?;
    match handling {
        Handling::Decide { accept, note } => {
            require_state(
                "application",
                state,
                &[ApplicationState::Submitted],
                "decided",
            )
            .map_err(Error::FailedPrecondition)?;
            if accept {
                let taken = store::places_taken(&mut transaction, programme.id).await?;
                if taken >= i64::from(programme.places) {
                    return Err(Error::FailedPrecondition(format!(
                        "all {} places of the programme are taken; reject or wait for a place",
                        programme.places
                    )));
                }
            }
            let decided = if accept {
                ApplicationState::Accepted
            } else {
                ApplicationState::Rejected
            };
            store::decide(
                &mut transaction,
                application.id,
                decided.as_str(),
                &note,
                &actor.subject,
                app.clock.now(),
            )
            .await?;
        }
        Handling::AssignMentor { mentor } => {
            require_state(
                "application",
                state,
                &[ApplicationState::Accepted],
                "given a mentor",
            )
            .map_err(Error::FailedPrecondition)?;
            match store::get_mentor(&mut transaction, mentor).await? {
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
            store::assign_mentor(&mut transaction, application.id, mentor, &actor.subject).await?;
        }
        Handling::RecordProgress {
            milestone,
            note,
            final_entry,
        } => {
            require_state(
                "application",
                state,
                &[ApplicationState::Accepted],
                "given progress",
            )
            .map_err(Error::FailedPrecondition)?;
            store::insert_progress(
                &mut transaction,
                application.id,
                &milestone,
                &note,
                final_entry,
                &actor.subject,
            )
            .await?;
        }
    }
    let answer = load(&mut transaction, application).await?;
    commit(transaction, access, context).await?;
    Ok(answer)
}

pub async fn get(app: &App, access: &Access, application: ApplicationId) -> Result<Applications> {
    let mut connection = app.connection("reading an application").await?;
    reachable(&mut connection, access, application).await
}

/// Organisers list every application; an applicant their own; another
/// organisation's staff none.
pub async fn list(app: &App, access: &Access, query: &ListApplications) -> Result<Applications> {
    let mut connection = app.connection("listing applications").await?;
    let row = programme(&mut connection, query.programme).await?;
    let submitted_by = if organises(access, &row) {
        None
    } else if access.has_scope(Scope::Own) {
        Some(subject(access))
    } else {
        return Err(Error::PermissionDenied(format!(
            "only the organisers of {} see its applications",
            Collection::Programmes.name(query.programme)
        )));
    };
    let rows = store::list_applications(
        &mut connection,
        query.programme,
        query.state.map(ApplicationState::as_str),
        query.mentor,
        submitted_by.as_deref(),
        query.page.after,
        query.page.limit,
    )
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    for id in &ids {
        access.audit().resource(
            ApplicationId {
                programme: query.programme,
                id: *id,
            }
            .name(),
        );
    }
    let progress = store::progress(&mut connection, &ids).await?;
    Ok(Applications { rows, progress })
}
