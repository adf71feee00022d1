//! Joint rights-protection services (the third mechanism): requests routed
//! to the organisation that protects the group, tracked to an outcome,
//! linked to a case.
//!
//! The requester's name and phone are personal data: a request reaches the
//! organisation handling it and the one that recorded it (anyone else is
//! answered as if it did not exist); only the handler works on it. Events
//! carry only ids, codes and times.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{App, Page, Retry, claim, commit, recall};
use crate::access::{self, Actor};
use crate::domain::codes::{BlockCode, CaseName, Collection, OrganisationCode};
use crate::domain::kinds::{
    RightsActionKind, RightsCategory, RightsChannel, RightsOutcome, RightsRequestState,
    require_state,
};
use crate::error::{Error, Result};
use crate::events;
use crate::store::rights::{
    self as store, Change, RightsActionRow, RightsFilter, RightsRequestRow,
};

/// A rights-protection request recorded by the caller's organisation.
#[derive(Debug)]
pub struct NewRightsRequest {
    pub category: RightsCategory,
    pub channel: RightsChannel,
    /// The handling organisation named; `None` routes by category.
    pub organisation: Option<OrganisationCode>,
    pub description: String,
    pub requester_name: String,
    pub requester_phone: String,
    pub block_code: Option<BlockCode>,
    pub case: Option<CaseName>,
    pub retry: Option<Retry>,
}

/// What the handling organisation does to a request.
#[derive(Debug)]
pub enum Step {
    /// A note, contact, mediation or legal consultation.
    Action {
        kind: RightsActionKind,
        note: String,
    },
    /// Pass it to another member organisation.
    Transfer {
        organisation: OrganisationCode,
        reason: String,
    },
    /// Link a case of the cases service.
    LinkCase { case: CaseName },
    /// Record the outcome.
    Resolve {
        outcome: RightsOutcome,
        note: String,
    },
}

/// A page of the requests the caller's organisation handles or recorded.
#[derive(Debug)]
pub struct ListRightsRequests {
    pub organisation: Option<OrganisationCode>,
    pub category: Option<RightsCategory>,
    pub state: Option<RightsRequestState>,
    pub case: Option<CaseName>,
    pub page: Page<Uuid>,
}

/// Requests with their actions.
#[derive(Debug)]
pub struct RightsRequests {
    pub rows: Vec<RightsRequestRow>,
    pub actions: Vec<RightsActionRow>,
}

fn name(id: Uuid) -> String {
    Collection::RightsRequests.name(id)
}

/// The one answer for a request that does not exist or is out of reach.
fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", name(id)))
}

fn reaches(access: &Access, row: &RightsRequestRow) -> bool {
    access::reaches_organisations(
        access,
        &[
            row.organisation.as_str(),
            row.recorded_by_organisation.as_str(),
        ],
    )
}

async fn with_actions(
    connection: &mut PgConnection,
    rows: Vec<RightsRequestRow>,
) -> Result<RightsRequests> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let actions = store::actions(connection, &ids).await?;
    Ok(RightsRequests { rows, actions })
}

async fn load(connection: &mut PgConnection, id: Uuid) -> Result<RightsRequests> {
    let row = store::get(connection, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    with_actions(connection, vec![row]).await
}

/// The request, NOT_FOUND unless the caller reaches it; noted in the
/// audit trail.
async fn reachable(
    connection: &mut PgConnection,
    access: &Access,
    id: Uuid,
) -> Result<RightsRequests> {
    let row = store::get(connection, id)
        .await?
        .filter(|row| reaches(access, row))
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(name(id));
    with_actions(connection, vec![row]).await
}

async fn replay(app: &App, access: &Access, remembered: &str) -> Result<RightsRequests> {
    let id = Collection::RightsRequests
        .parse(remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered rights request: {invalid}")))?;
    let mut connection = app.connection("reading a rights request").await?;
    reachable(&mut connection, access, id).await
}

pub async fn submit(
    app: &App,
    access: &Access,
    request: NewRightsRequest,
) -> Result<RightsRequests> {
    if let Some(remembered) = recall(app, access, request.retry.as_ref()).await? {
        return replay(app, access, &remembered).await;
    }
    let mut transaction = app.begin("recording a rights request").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let organisation = match &request.organisation {
        Some(code) => code.clone(),
        None => store::route(&mut transaction, request.category.as_str())
            .await?
            .map(|code| OrganisationCode::parse(&code))
            .transpose()
            .map_err(|invalid| Error::Corrupt(format!("rights route: {invalid}")))?
            .ok_or_else(|| {
                Error::invalid(
                    "organisation",
                    format!(
                        "no organisation is routed for {}; name one",
                        request.category
                    ),
                )
            })?,
    };
    let mut membership = Violations::new();
    for (field, problem) in access::inactive_or_unknown(
        &mut transaction,
        &[("organisation".to_owned(), organisation.clone())],
    )
    .await?
    {
        membership.add(field, problem);
    }
    membership.finish()?;
    let id = Uuid::now_v7();
    if let Some(winner) = claim(
        app,
        &mut transaction,
        access,
        request.retry.as_ref(),
        &name(id),
    )
    .await?
    {
        drop(transaction);
        return replay(app, access, &winner).await;
    }
    let row = store::insert(
        &mut transaction,
        &store::NewRightsRequest {
            id,
            category: request.category.as_str(),
            channel: request.channel.as_str(),
            organisation: organisation.as_str(),
            recorded_by_organisation: actor.organisation.as_str(),
            recorded_by: &actor.subject,
            description: &request.description,
            requester_name: &request.requester_name,
            requester_phone: &request.requester_phone,
            block_code: request.block_code.as_ref().map(BlockCode::as_str),
            case_name: request.case.as_ref().map(CaseName::as_str),
        },
    )
    .await?;
    events::rights_request_received(&mut transaction, &row).await?;
    let answer = load(&mut transaction, id).await?;
    access.audit().resource(name(id));
    commit(transaction, access, "recording a rights request").await?;
    tracing::info!(rights_request = %id, category = %request.category, organisation = %organisation, "rights request received");
    Ok(answer)
}

/// Locks a request the caller reaches (NOT_FOUND otherwise) and their
/// organisation handles (PERMISSION_DENIED for the recording one).
async fn handled(
    connection: &mut PgConnection,
    access: &Access,
    actor: &Actor,
    id: Uuid,
) -> Result<RightsRequestRow> {
    let row = store::lock(connection, id)
        .await?
        .filter(|row| reaches(access, row))
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(name(id));
    if row.organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(format!(
            "only the organisation handling {} works on it",
            name(id)
        )));
    }
    Ok(row)
}

fn require_open(row: &RightsRequestRow, action: &str) -> Result<()> {
    require_state(
        "rights request",
        RightsRequestState::from_stored(&row.state)?,
        &[RightsRequestState::Received, RightsRequestState::InProgress],
        action,
    )
    .map_err(Error::FailedPrecondition)
}

/// The handling organisation records a step, transfers, links a case or
/// resolves.
pub async fn work(app: &App, access: &Access, id: Uuid, step: Step) -> Result<RightsRequests> {
    let context = match step {
        Step::Action { .. } => "recording a rights action",
        Step::Transfer { .. } => "transferring a rights request",
        Step::LinkCase { .. } => "linking a case",
        Step::Resolve { .. } => "resolving a rights request",
    };
    let mut transaction = app.begin(context).await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = handled(&mut transaction, access, &actor, id).await?;
    let (kind, note) = match step {
        Step::Action { kind, note } => {
            require_open(&row, "worked on")?;
            store::apply(&mut transaction, id, Change::Progress).await?;
            (kind, note)
        }
        Step::Transfer {
            organisation,
            reason,
        } => {
            require_open(&row, "transferred")?;
            if organisation == actor.organisation {
                return Err(Error::invalid(
                    "organisation",
                    format!("{organisation} handles the request already"),
                ));
            }
            let mut membership = Violations::new();
            for (field, problem) in access::inactive_or_unknown(
                &mut transaction,
                &[("organisation".to_owned(), organisation.clone())],
            )
            .await?
            {
                membership.add(field, problem);
            }
            membership.finish()?;
            store::apply(
                &mut transaction,
                id,
                Change::Transfer {
                    organisation: organisation.as_str(),
                },
            )
            .await?;
            tracing::info!(rights_request = %id, from = %actor.organisation, to = %organisation, "rights request transferred");
            (
                RightsActionKind::Transfer,
                format!(
                    "transferred from {} to {organisation}: {reason}",
                    actor.organisation
                ),
            )
        }
        Step::LinkCase { case } => {
            if row.case_name.as_deref() == Some(case.as_str()) {
                return load(&mut transaction, id).await;
            }
            store::apply(
                &mut transaction,
                id,
                Change::LinkCase {
                    case_name: case.as_str(),
                },
            )
            .await?;
            (RightsActionKind::CaseLinked, case.as_str().to_owned())
        }
        Step::Resolve { outcome, note } => {
            require_open(&row, "resolved")?;
            let now = app.clock.now();
            store::apply(
                &mut transaction,
                id,
                Change::Resolve {
                    outcome: outcome.as_str(),
                    note: &note,
                    at: now,
                },
            )
            .await?;
            events::rights_request_resolved(&mut transaction, &row, outcome.as_str(), now).await?;
            tracing::info!(rights_request = %id, outcome = %outcome, organisation = %actor.organisation, "rights request resolved");
            (RightsActionKind::Resolution, format!("{outcome}: {note}"))
        }
    };
    store::insert_action(
        &mut transaction,
        id,
        kind.as_str(),
        actor.organisation.as_str(),
        &actor.subject,
        &note,
    )
    .await?;
    let answer = load(&mut transaction, id).await?;
    commit(transaction, access, context).await?;
    Ok(answer)
}

pub async fn get(app: &App, access: &Access, id: Uuid) -> Result<RightsRequests> {
    let mut connection = app.connection("reading a rights request").await?;
    reachable(&mut connection, access, id).await
}

pub async fn list(
    app: &App,
    access: &Access,
    query: &ListRightsRequests,
) -> Result<RightsRequests> {
    let mut connection = app.connection("listing rights requests").await?;
    let actor = access::actor(&mut connection, access).await?;
    let filter = RightsFilter {
        involving: actor.organisation.as_str().to_owned(),
        organisation: query
            .organisation
            .as_ref()
            .map(|code| code.as_str().to_owned()),
        category: query.category.map(|category| category.as_str().to_owned()),
        state: query.state.map(|state| state.as_str().to_owned()),
        case_name: query.case.as_ref().map(|case| case.as_str().to_owned()),
        after: query.page.after,
    };
    let rows = store::list(&mut connection, &filter, query.page.limit).await?;
    for row in &rows {
        access.audit().resource(name(row.id));
    }
    with_actions(&mut connection, rows).await
}
