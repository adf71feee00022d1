//! Innovation and entrepreneurship programmes (the fourth mechanism):
//! public calls for applications, led by one organisation with
//! co-organisers, closed by the lead.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use uuid::Uuid;

use super::{App, Checked, Page, Retry, claim, commit, recall};
use crate::access;
use crate::domain::codes::{Collection, OrganisationCode};
use crate::domain::kinds::{Audience, ProgrammeKind, ProgrammeState, require_state};
use crate::error::{Error, Result};
use crate::store::innovation::{self as store, ProgrammeFilter, ProgrammeRow};

/// What a programme is, as its creator described it.
#[derive(Debug)]
pub struct ProgrammeFields {
    pub title: String,
    pub description: String,
    pub kind: ProgrammeKind,
    pub audiences: Vec<Audience>,
    pub applications_open: DateTime<Utc>,
    pub applications_close: DateTime<Utc>,
    pub places: u32,
}

/// A new programme, led by the caller's organisation; its co-organisers
/// (with the fields naming them) are checked against the database.
#[derive(Debug)]
pub struct NewProgramme {
    pub programme: Checked<ProgrammeFields, Vec<(String, OrganisationCode)>>,
    pub retry: Option<Retry>,
}

/// A page of programmes, filtered.
#[derive(Debug)]
pub struct ListProgrammes {
    pub organisation: Option<OrganisationCode>,
    pub state: Option<ProgrammeState>,
    pub kind: Option<ProgrammeKind>,
    pub page: Page<Uuid>,
}

pub(super) fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!(
        "{} does not exist",
        Collection::Programmes.name(id)
    ))
}

/// True when the caller's organisation organises the programme.
pub(super) fn organises(access: &Access, programme: &ProgrammeRow) -> bool {
    let organisers: Vec<&str> = programme.organisers().collect();
    access::reaches_organisations(access, &organisers)
}

/// PERMISSION_DENIED unless the caller's organisation organises the
/// (public) programme.
pub(super) fn require_organiser(access: &Access, programme: &ProgrammeRow) -> Result<()> {
    if organises(access, programme) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "only the organisers of {} handle its applications",
        Collection::Programmes.name(programme.id)
    )))
}

async fn replay(app: &App, access: &Access, remembered: &str) -> Result<ProgrammeRow> {
    let id = Collection::Programmes
        .parse(remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered programme: {invalid}")))?;
    access.audit().resource(remembered);
    get(app, id).await
}

pub async fn create(app: &App, access: &Access, new: NewProgramme) -> Result<ProgrammeRow> {
    // Only a request that parsed was remembered; a bad one goes on to the
    // checks that need the database, so one reply names every problem.
    if new.programme.fields.is_ok()
        && let Some(remembered) = recall(app, access, new.retry.as_ref()).await?
    {
        return replay(app, access, &remembered).await;
    }
    let mut transaction = app.begin("creating a programme").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let co_organisers = &new.programme.references;
    let mut found = Violations::new();
    if let Some((field, _)) = co_organisers
        .iter()
        .find(|(_, code)| *code == actor.organisation)
    {
        found.add(
            field.clone(),
            format!(
                "{} leads the programme; it is not also a co-organiser",
                actor.organisation
            ),
        );
    }
    for (field, problem) in access::inactive_or_unknown(&mut transaction, co_organisers).await? {
        found.add(field, problem);
    }
    let codes: Vec<String> = co_organisers
        .iter()
        .map(|(_, code)| code.as_str().to_owned())
        .collect();
    let fields = new.programme.into_fields(found)?;
    let id = Uuid::now_v7();
    let name = Collection::Programmes.name(id);
    if let Some(winner) = claim(app, &mut transaction, access, new.retry.as_ref(), &name).await? {
        drop(transaction);
        return replay(app, access, &winner).await;
    }
    let audiences: Vec<String> = fields
        .audiences
        .iter()
        .map(|audience| audience.as_str().to_owned())
        .collect();
    store::insert_programme(
        &mut transaction,
        &store::NewProgramme {
            id,
            title: &fields.title,
            description: &fields.description,
            kind: fields.kind.as_str(),
            lead_organisation: actor.organisation.as_str(),
            audiences: &audiences,
            applications_open: fields.applications_open,
            applications_close: fields.applications_close,
            places: i32::try_from(fields.places).unwrap_or(i32::MAX),
            created_by: &actor.subject,
        },
    )
    .await?;
    store::insert_programme_co_organisers(&mut transaction, id, &codes).await?;
    let row = store::get_programme(&mut transaction, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(name);
    commit(transaction, access, "creating a programme").await?;
    Ok(row)
}

/// Closes a programme to new applications: only its lead.
pub async fn close(app: &App, access: &Access, id: Uuid) -> Result<ProgrammeRow> {
    let mut transaction = app.begin("closing a programme").await?;
    let actor = access::actor(&mut transaction, access).await?;
    if !store::lock_programme(&mut transaction, id).await? {
        return Err(not_found(id));
    }
    let row = store::get_programme(&mut transaction, id)
        .await?
        .ok_or_else(|| not_found(id))?;
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
    store::close_programme(&mut transaction, id).await?;
    let row = store::get_programme(&mut transaction, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    commit(transaction, access, "closing a programme").await?;
    Ok(row)
}

pub async fn get(app: &App, id: Uuid) -> Result<ProgrammeRow> {
    let mut connection = app.connection("reading a programme").await?;
    store::get_programme(&mut connection, id)
        .await?
        .ok_or_else(|| not_found(id))
}

pub async fn list(app: &App, query: &ListProgrammes) -> Result<Vec<ProgrammeRow>> {
    let filter = ProgrammeFilter {
        organisation: query
            .organisation
            .as_ref()
            .map(|code| code.as_str().to_owned()),
        state: query.state.map(|state| state.as_str().to_owned()),
        kind: query.kind.map(|kind| kind.as_str().to_owned()),
        after: query.page.after,
    };
    let mut connection = app.connection("listing programmes").await?;
    Ok(store::list_programmes(&mut connection, &filter, query.page.limit).await?)
}
