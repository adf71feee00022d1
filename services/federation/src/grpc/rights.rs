//! Joint rights-protection services (the third mechanism): requests routed
//! to the organisation that protects the group, tracked to an outcome,
//! linked to a case.
//!
//! The requester's name and phone are personal data: a request is visible
//! to the staff of the organisation handling it and of the one that
//! recorded it, and events carry only ids, codes and times.

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Checks, FederationService, ProtoWord, Retry, claim, commit, optional_word, recall,
    required_word,
};
use crate::access::{self, Actor};
use crate::domain::codes::{
    BlockCode, CaseName, Code, Collection, organisation_name, parse_organisation_reference,
    parse_request_id,
};
use crate::domain::kinds::{
    RightsActionKind, RightsCategory, RightsChannel, RightsOutcome, RightsRequestState,
    require_state,
};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::events::publish;
use crate::store::rights::{
    self as store, Change, NewRightsRequest, RightsActionRow, RightsFilter, RightsRequestRow,
};

fn to_proto(row: RightsRequestRow, actions: &[RightsActionRow]) -> Result<proto::RightsRequest> {
    let actions = actions
        .iter()
        .filter(|action| action.rights_request == row.id)
        .map(|action| {
            Ok(proto::RightsAction {
                kind: RightsActionKind::from_stored(&action.kind)?.to_proto(),
                organisation: organisation_name(&action.organisation),
                recorded_by: action.recorded_by.clone(),
                record_time: Some(timestamp(action.recorded_at)),
                note: action.note.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(proto::RightsRequest {
        name: Collection::RightsRequests.name(row.id),
        category: RightsCategory::from_stored(&row.category)?.to_proto(),
        channel: RightsChannel::from_stored(&row.channel)?.to_proto(),
        organisation: organisation_name(&row.organisation),
        recorded_by_organisation: organisation_name(&row.recorded_by_organisation),
        recorded_by: row.recorded_by,
        description: row.description,
        requester_name: row.requester_name,
        requester_phone: row.requester_phone,
        block_code: row.block_code.unwrap_or_default(),
        case: row.case_name.unwrap_or_default(),
        state: RightsRequestState::from_stored(&row.state)?.to_proto(),
        outcome: row
            .outcome
            .as_deref()
            .map(RightsOutcome::from_stored)
            .transpose()?
            .map_or(0, ProtoWord::to_proto),
        outcome_note: row.outcome_note,
        actions,
        receive_time: Some(timestamp(row.received_at)),
        resolve_time: optional_timestamp(row.resolved_at),
        update_time: Some(timestamp(row.updated_at)),
    })
}

/// The one answer for a request that does not exist or is out of reach.
fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!(
        "{} does not exist",
        Collection::RightsRequests.name(id)
    ))
}

/// A request (with the requester's contact) reaches the organisation
/// handling it and the one that recorded it.
fn reaches(access: &Access, row: &RightsRequestRow) -> bool {
    access::reaches_organisations(
        access,
        &[
            row.organisation.as_str(),
            row.recorded_by_organisation.as_str(),
        ],
    )
}

/// The request, NOT_FOUND unless the caller reaches it; noted in the
/// audit trail.
async fn reachable(
    connection: &mut PgConnection,
    access: &Access,
    id: Uuid,
) -> Result<proto::RightsRequest> {
    let row = store::get(connection, id)
        .await
        .map_err(Error::database("reading a rights request"))?
        .filter(|row| reaches(access, row))
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(Collection::RightsRequests.name(id));
    to_proto_with_actions(connection, row).await
}

async fn replay(
    service: &FederationService,
    access: &Access,
    name: &str,
) -> Result<proto::RightsRequest> {
    let id = Collection::RightsRequests
        .parse(name)
        .map_err(|invalid| Error::Corrupt(format!("remembered rights request: {invalid}")))?;
    let mut connection = service.connection("reading a rights request").await?;
    reachable(&mut connection, access, id).await
}

async fn load(connection: &mut PgConnection, id: Uuid) -> Result<proto::RightsRequest> {
    let row = store::get(connection, id)
        .await
        .map_err(Error::database("reading a rights request"))?
        .ok_or_else(|| not_found(id))?;
    to_proto_with_actions(connection, row).await
}

async fn to_proto_with_actions(
    connection: &mut PgConnection,
    row: RightsRequestRow,
) -> Result<proto::RightsRequest> {
    let id = row.id;
    let actions = store::actions(connection, &[id])
        .await
        .map_err(Error::database("reading a rights request"))?;
    to_proto(row, &actions)
}

pub async fn submit_rights_request(
    service: &FederationService,
    access: &Access,
    request: proto::SubmitRightsRequestRequest,
) -> Result<proto::RightsRequest> {
    let fingerprint = Fingerprint::of(&request);
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let category: Option<RightsCategory> =
        checks.check("category", required_word(request.category));
    let channel: Option<RightsChannel> = checks.check("channel", required_word(request.channel));
    let named_organisation = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    if category == Some(RightsCategory::Other) && request.organisation.trim().is_empty() {
        checks.fail(
            "organisation",
            "must name the handling organisation for RIGHTS_CATEGORY_OTHER",
        );
    }
    let description = checks.check("description", text::required(&request.description, 4000));
    let requester_name = checks.check(
        "requester_name",
        text::optional(&request.requester_name, 100),
    );
    let requester_phone = checks.check("requester_phone", text::phone(&request.requester_phone));
    let block_code = if request.block_code.trim().is_empty() {
        None
    } else {
        checks.check(
            "block_code",
            BlockCode::parse(&request.block_code).map(Some),
        )
    };
    let case_name = if request.case.trim().is_empty() {
        None
    } else {
        checks.check("case", CaseName::parse(&request.case).map(Some))
    };
    let (Some(category), Some(channel)) = (category, channel) else {
        checks.finish()?;
        return Err(Error::invalid("category", "must be set"));
    };
    // Only a request that passed its checks was remembered; a bad one goes
    // on to the checks that need the database, so one reply names all.
    let retry = Retry::of(request_id, fingerprint);
    if checks.passed()
        && let Some(name) = recall(service, access, retry.as_ref()).await?
    {
        return replay(service, access, &name).await;
    }

    let mut transaction = service.begin("recording a rights request").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let organisation = match named_organisation {
        Some(code) => Some(code),
        None => store::route(&mut transaction, category.as_str())
            .await
            .map_err(Error::database("routing a rights request"))?
            .map(|code| Code::parse(code.as_str()))
            .transpose()
            .map_err(|invalid| Error::Corrupt(format!("rights route: {invalid}")))?,
    };
    let Some(organisation) = organisation else {
        checks.fail(
            "organisation",
            format!("no organisation is routed for {category}; name one"),
        );
        return Err(checks
            .finish()
            .err()
            .unwrap_or_else(|| Error::invalid("organisation", "must be set")));
    };
    for (field, problem) in access::inactive_or_unknown(
        &mut transaction,
        &[("organisation".to_owned(), organisation.clone())],
    )
    .await?
    {
        checks.fail(field, problem);
    }
    checks.finish()?;
    let id = Uuid::now_v7();
    let name = Collection::RightsRequests.name(id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay(service, access, &winner).await;
    }
    let row = store::insert(
        &mut transaction,
        &NewRightsRequest {
            id,
            category: category.as_str(),
            channel: channel.as_str(),
            organisation: organisation.as_str(),
            recorded_by_organisation: actor.organisation.as_str(),
            recorded_by: &actor.subject,
            description: &description,
            requester_name: &requester_name,
            requester_phone: &requester_phone,
            block_code: block_code.as_ref().map(BlockCode::as_str),
            case_name: case_name.as_ref().map(CaseName::as_str),
        },
    )
    .await
    .map_err(Error::database("recording a rights request"))?;
    publish(
        &mut transaction,
        &name,
        &proto::RightsRequestReceived {
            rights_request: name.clone(),
            category: category.as_str().to_owned(),
            organisation: organisation.as_str().to_owned(),
            channel: channel.as_str().to_owned(),
            case: row.case_name.clone().unwrap_or_default(),
            block_code: row.block_code.clone().unwrap_or_default(),
            received_at: Some(timestamp(row.received_at)),
        },
    )
    .await?;
    let answer = load(&mut transaction, id).await?;
    access.audit().resource(name);
    commit(transaction, access, "recording a rights request").await?;
    tracing::info!(rights_request = %id, category = %category, organisation = %organisation, "rights request received");
    Ok(answer)
}

/// Locks a request the caller reaches (NOT_FOUND otherwise) and their
/// organisation handles (PERMISSION_DENIED for the recording one).
async fn handled(
    connection: &mut PgConnection,
    access: &Access,
    actor: &Actor,
    name: &str,
) -> Result<RightsRequestRow> {
    let id = Collection::RightsRequests
        .parse(name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let row = store::lock(connection, id)
        .await
        .map_err(Error::database("reading a rights request"))?
        .filter(|row| reaches(access, row))
        .ok_or_else(|| not_found(id))?;
    access.audit().resource(Collection::RightsRequests.name(id));
    if row.organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(format!(
            "only the organisation handling {} works on it",
            Collection::RightsRequests.name(id)
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

pub async fn record_rights_action(
    service: &FederationService,
    access: &Access,
    request: proto::RecordRightsActionRequest,
) -> Result<proto::RightsRequest> {
    let mut checks = Checks::new();
    let kind: Option<RightsActionKind> = checks.check("kind", required_word(request.kind));
    if kind.is_some_and(|kind| !kind.is_recordable()) {
        checks.fail(
            "kind",
            "must be NOTE, CONTACT, MEDIATION or LEGAL_CONSULTATION; transfers, case links and resolutions have their own calls",
        );
    }
    let note = checks.check("note", text::required(&request.note, 2000));
    checks.finish()?;
    let Some(kind) = kind else {
        return Err(Error::invalid("kind", "must be set"));
    };
    let mut transaction = service.begin("recording a rights action").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = handled(&mut transaction, access, &actor, &request.name).await?;
    require_open(&row, "worked on")?;
    store::insert_action(
        &mut transaction,
        row.id,
        kind.as_str(),
        actor.organisation.as_str(),
        &actor.subject,
        &note,
    )
    .await
    .map_err(Error::database("recording a rights action"))?;
    store::apply(&mut transaction, row.id, Change::Progress)
        .await
        .map_err(Error::database("recording a rights action"))?;
    let answer = load(&mut transaction, row.id).await?;
    commit(transaction, access, "recording a rights action").await?;
    Ok(answer)
}

pub async fn transfer_rights_request(
    service: &FederationService,
    access: &Access,
    request: proto::TransferRightsRequestRequest,
) -> Result<proto::RightsRequest> {
    let mut checks = Checks::new();
    let target = checks.check(
        "organisation",
        parse_organisation_reference(&request.organisation).map(Some),
    );
    let reason = checks.check("reason", text::required(&request.reason, 2000));
    checks.finish()?;
    let Some(target) = target else {
        return Err(Error::invalid("organisation", "must be set"));
    };
    let mut transaction = service.begin("transferring a rights request").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = handled(&mut transaction, access, &actor, &request.name).await?;
    require_open(&row, "transferred")?;
    if target == actor.organisation {
        return Err(Error::invalid(
            "organisation",
            format!("{target} handles the request already"),
        ));
    }
    let mut membership = Checks::new();
    for (field, problem) in access::inactive_or_unknown(
        &mut transaction,
        &[("organisation".to_owned(), target.clone())],
    )
    .await?
    {
        membership.fail(field, problem);
    }
    membership.finish()?;
    store::apply(
        &mut transaction,
        row.id,
        Change::Transfer {
            organisation: target.as_str(),
        },
    )
    .await
    .map_err(Error::database("transferring a rights request"))?;
    store::insert_action(
        &mut transaction,
        row.id,
        RightsActionKind::Transfer.as_str(),
        actor.organisation.as_str(),
        &actor.subject,
        &format!(
            "transferred from {} to {target}: {reason}",
            actor.organisation
        ),
    )
    .await
    .map_err(Error::database("transferring a rights request"))?;
    let answer = load(&mut transaction, row.id).await?;
    commit(transaction, access, "transferring a rights request").await?;
    tracing::info!(rights_request = %row.id, from = %actor.organisation, to = %target, "rights request transferred");
    Ok(answer)
}

pub async fn link_rights_request_case(
    service: &FederationService,
    access: &Access,
    request: proto::LinkRightsRequestCaseRequest,
) -> Result<proto::RightsRequest> {
    let case_name =
        CaseName::parse(&request.case).map_err(|invalid| Error::invalid("case", invalid.0))?;
    let mut transaction = service.begin("linking a case").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = handled(&mut transaction, access, &actor, &request.name).await?;
    if row.case_name.as_deref() == Some(case_name.as_str()) {
        return load(&mut transaction, row.id).await;
    }
    store::apply(
        &mut transaction,
        row.id,
        Change::LinkCase {
            case_name: case_name.as_str(),
        },
    )
    .await
    .map_err(Error::database("linking a case"))?;
    store::insert_action(
        &mut transaction,
        row.id,
        RightsActionKind::CaseLinked.as_str(),
        actor.organisation.as_str(),
        &actor.subject,
        case_name.as_str(),
    )
    .await
    .map_err(Error::database("linking a case"))?;
    let answer = load(&mut transaction, row.id).await?;
    commit(transaction, access, "linking a case").await?;
    Ok(answer)
}

pub async fn resolve_rights_request(
    service: &FederationService,
    access: &Access,
    request: proto::ResolveRightsRequestRequest,
) -> Result<proto::RightsRequest> {
    let mut checks = Checks::new();
    let outcome: Option<RightsOutcome> = checks.check("outcome", required_word(request.outcome));
    let note = checks.check("note", text::required(&request.note, 2000));
    checks.finish()?;
    let Some(outcome) = outcome else {
        return Err(Error::invalid("outcome", "must be set"));
    };
    let mut transaction = service.begin("resolving a rights request").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = handled(&mut transaction, access, &actor, &request.name).await?;
    require_open(&row, "resolved")?;
    let now = Utc::now();
    store::apply(
        &mut transaction,
        row.id,
        Change::Resolve {
            outcome: outcome.as_str(),
            note: &note,
            at: now,
        },
    )
    .await
    .map_err(Error::database("resolving a rights request"))?;
    store::insert_action(
        &mut transaction,
        row.id,
        RightsActionKind::Resolution.as_str(),
        actor.organisation.as_str(),
        &actor.subject,
        &format!("{outcome}: {note}"),
    )
    .await
    .map_err(Error::database("resolving a rights request"))?;
    let name = Collection::RightsRequests.name(row.id);
    publish(
        &mut transaction,
        &name,
        &proto::RightsRequestResolved {
            rights_request: name.clone(),
            category: row.category.clone(),
            organisation: row.organisation.clone(),
            outcome: outcome.as_str().to_owned(),
            case: row.case_name.clone().unwrap_or_default(),
            received_at: Some(timestamp(row.received_at)),
            resolved_at: Some(timestamp(now)),
        },
    )
    .await?;
    let answer = load(&mut transaction, row.id).await?;
    commit(transaction, access, "resolving a rights request").await?;
    tracing::info!(rights_request = %row.id, outcome = %outcome, organisation = %actor.organisation, "rights request resolved");
    Ok(answer)
}

pub async fn get_rights_request(
    service: &FederationService,
    access: &Access,
    request: proto::GetRightsRequestRequest,
) -> Result<proto::RightsRequest> {
    let id = Collection::RightsRequests
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a rights request").await?;
    reachable(&mut connection, access, id).await
}

pub async fn list_rights_requests(
    service: &FederationService,
    access: &Access,
    request: proto::ListRightsRequestsRequest,
) -> Result<proto::ListRightsRequestsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("rights_requests", &request);
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
    let category: Option<RightsCategory> =
        checks.check("category", optional_word(request.category));
    let state: Option<RightsRequestState> = checks.check("state", optional_word(request.state));
    let case_name = if request.case.trim().is_empty() {
        None
    } else {
        checks.check("case", CaseName::parse(&request.case).map(Some))
    };
    checks.finish()?;
    let mut connection = service.connection("listing rights requests").await?;
    let actor = access::actor(&mut connection, access).await?;
    let filter = RightsFilter {
        involving: actor.organisation.as_str().to_owned(),
        organisation: organisation.map(|code| code.as_str().to_owned()),
        category: category.map(|category| category.as_str().to_owned()),
        state: state.map(|state| state.as_str().to_owned()),
        case_name: case_name.map(|case| case.as_str().to_owned()),
        after,
    };
    let mut rows = store::list(&mut connection, &filter, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing rights requests"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    for id in &ids {
        access
            .audit()
            .resource(Collection::RightsRequests.name(*id));
    }
    let actions = store::actions(&mut connection, &ids)
        .await
        .map_err(Error::database("listing rights requests"))?;
    Ok(proto::ListRightsRequestsResponse {
        rights_requests: rows
            .into_iter()
            .map(|row| to_proto(row, &actions))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
