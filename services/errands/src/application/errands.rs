//! Errands and their track: the request, materials against the checklist,
//! the one-time notice of what is missing, submission, the department's
//! result and the resident being told. Each step writes its transition
//! (who, in which role, when) with the change.

use chrono::{DateTime, Utc};
use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::request_id::RequestId;
use flatgov_vocabulary::BlockCode;
use uuid::Uuid;

use super::{Errands, record_audit, subject};
use crate::domain::{
    Action, Channel, DecisionResult, ErrandState, TellingChannel, TransitionError, errand_name,
};
use crate::error::Error;
use crate::events;
use crate::policy::{Reach, reaches_errand};
use crate::store::{
    self, DatabaseContext as _, DocumentRow, ErrandFilter, ErrandRow, NoticeRow, ReturnRow,
    StoredErrand, TransitionRow,
};

type Transaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// The resident as the request names them.
#[derive(Debug, Clone)]
pub struct NewResident {
    pub name: String,
    pub phone: String,
    pub id_number: Option<String>,
    pub account: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RequestErrand {
    pub matter: String,
    pub block: BlockCode,
    pub channel: Channel,
    pub proxy: bool,
    pub resident: NewResident,
    pub retry: Option<(RequestId, Fingerprint)>,
}

fn reaches(access: &Access, errand: &ErrandRow) -> bool {
    reaches_errand(
        access,
        &errand.block_code,
        errand.resident_account.as_deref(),
        &errand.deciding_department,
    )
}

/// The role the caller acted in: the first of theirs whose grant on this
/// method reaches the errand.
fn acting_role(access: &Access, errand: &ErrandRow) -> String {
    let departments = [errand.deciding_department.as_str()];
    let resource = Resource::in_division(&errand.block_code)
        .owned_by(errand.resident_account.as_deref())
        .held_by(&departments);
    Role::ALL
        .into_iter()
        .find(|role| access.role_reaches(*role, &resource))
        .map(|role| role.as_str().to_owned())
        .unwrap_or_default()
}

pub async fn request(
    errands: &Errands,
    access: &Access,
    command: RequestErrand,
) -> Result<StoredErrand, Error> {
    const CONTEXT: &str = "recording a request";
    if let Some((request_id, fingerprint)) = &command.retry {
        let mut connection = errands.pool.acquire().await.context(CONTEXT)?;
        if let Some(first) =
            idempotency::recall(&mut connection, access, request_id, *fingerprint).await?
        {
            drop(connection);
            return get(errands, access, &first).await;
        }
    }
    let mut transaction = errands.pool.begin().await.context(CONTEXT)?;
    let version = store::current_version(&mut transaction)
        .await?
        .ok_or_else(|| Error::invalid("matter", "no catalogue has been published"))?;
    let matter = store::load_catalogue(&mut transaction, version, Some(&command.matter))
        .await?
        .and_then(|(_, mut matters)| matters.pop())
        .ok_or_else(|| Error::invalid("matter", "is not a matter of the current catalogue"))?;
    if command.proxy && !matter.proxy_allowed {
        return Err(Error::invalid(
            "proxy",
            "this matter may not be handled on the resident's behalf",
        ));
    }
    let now = errands.clock.now();
    let id = Uuid::now_v7();
    let errand = ErrandRow {
        id,
        matter_code: matter.code.clone(),
        catalogue_version: version,
        block_code: command.block.to_string(),
        subdistrict_code: command.block.subdistrict().to_string(),
        channel: command.channel.as_str().to_owned(),
        proxy: command.proxy,
        deciding_department: matter.deciding_department.clone(),
        resident_name: command.resident.name,
        resident_phone: command.resident.phone,
        resident_id_number: command.resident.id_number,
        resident_account: command.resident.account,
        handler: subject(access),
        state: ErrandState::Collecting.as_str().to_owned(),
        result: None,
        refusal_reason: None,
        returns: 0,
        resident_trips: i32::try_from(command.channel.trips()).unwrap_or_default(),
        request_time: now,
        submit_time: None,
        statutory_due: None,
        promised_due: None,
        decide_time: None,
        told_time: None,
        told_by: None,
    };
    if !reaches(access, &errand) {
        // The same answer as for a block that does not exist.
        return Err(Error::NotFound(format!(
            "block {} is not one the caller handles errands in",
            errand.block_code
        )));
    }
    let name = errand_name(id);
    if let Some((request_id, fingerprint)) = &command.retry
        && let Err(error) =
            idempotency::remember(&mut transaction, access, request_id, *fingerprint, &name).await
    {
        transaction.rollback().await.context(CONTEXT)?;
        if flatgov_grpc::error::is_unique_violation(&error) {
            let mut connection = errands.pool.acquire().await.context(CONTEXT)?;
            let first = idempotency::recall(&mut connection, access, request_id, *fingerprint)
                .await?
                .ok_or_else(|| Error::corrupt("a remembered request id vanished"))?;
            drop(connection);
            return get(errands, access, &first).await;
        }
        return Err(Error::database("remembering a request id", error));
    }
    store::insert_errand(&mut transaction, &errand).await?;
    let role = acting_role(access, &errand);
    store::insert_transition(
        &mut transaction,
        id,
        &TransitionRow {
            number: 1,
            action: Action::Requested.as_str().to_owned(),
            from_state: None,
            to_state: errand.state.clone(),
            actor: errand.handler.clone(),
            actor_role: role,
            time: now,
        },
    )
    .await?;
    events::errand_requested(&mut transaction, &errand).await?;
    access.audit().resource(name);
    record_audit(&mut transaction, access, CONTEXT).await?;
    transaction.commit().await.context(CONTEXT)?;
    tracing::info!(errand = %id, matter = %errand.matter_code, "errand requested");
    reload(errands, id).await
}

async fn reload(errands: &Errands, id: Uuid) -> Result<StoredErrand, Error> {
    let mut connection = errands.pool.acquire().await.context("reading an errand")?;
    store::load_errand(&mut connection, id, false)
        .await?
        .ok_or_else(|| Error::corrupt(format!("errand {id} vanished")))
}

fn errand_id(name: &str) -> Result<Uuid, Error> {
    flatgov_vocabulary::parse_id::<Uuid>(name, "errands").map_err(|_| Error::not_found(name))
}

/// The errand named `name`, if the caller reaches it.
pub async fn get(errands: &Errands, access: &Access, name: &str) -> Result<StoredErrand, Error> {
    let id = errand_id(name)?;
    let mut connection = errands.pool.acquire().await.context("reading an errand")?;
    let stored = store::load_errand(&mut connection, id, false)
        .await?
        .ok_or_else(|| Error::not_found(name))?;
    if !reaches(access, &stored.errand) {
        return Err(Error::not_found(name));
    }
    access.audit().resource(name.to_owned());
    Ok(stored)
}

#[derive(Debug, Clone)]
pub struct ListErrands {
    pub filter: ErrandFilter,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub fetch_limit: i64,
}

/// Errands newest first, filtered, of those the caller reaches.
pub async fn list(
    errands: &Errands,
    access: &Access,
    command: &ListErrands,
) -> Result<Vec<ErrandRow>, Error> {
    let reach = Reach::of(access);
    let mut connection = errands.pool.acquire().await.context("listing errands")?;
    Ok(store::list(
        &mut connection,
        &command.filter,
        reach.as_ref(),
        command.after,
        command.fetch_limit,
    )
    .await?)
}

/// Takes the errand for a change: locked, within the caller's reach.
async fn open(
    errands: &Errands,
    access: &Access,
    id: Uuid,
    context: &'static str,
) -> Result<(Transaction, StoredErrand), Error> {
    let mut transaction = errands.pool.begin().await.context(context)?;
    let name = errand_name(id);
    let stored = store::load_errand(&mut transaction, id, true)
        .await?
        .ok_or_else(|| Error::not_found(&name))?;
    if !reaches(access, &stored.errand) {
        return Err(Error::not_found(&name));
    }
    access.audit().resource(name);
    Ok((transaction, stored))
}

/// Records the step's transition, writes the errand back, records the
/// audit, commits and reads the errand back.
async fn finish(
    errands: &Errands,
    access: &Access,
    mut transaction: Transaction,
    stored: &StoredErrand,
    changed: &ErrandRow,
    action: Action,
    context: &'static str,
) -> Result<StoredErrand, Error> {
    let number = stored
        .transitions
        .last()
        .map_or(1, |transition| transition.number + 1);
    store::insert_transition(
        &mut transaction,
        changed.id,
        &TransitionRow {
            number,
            action: action.as_str().to_owned(),
            from_state: Some(stored.errand.state.clone()),
            to_state: changed.state.clone(),
            actor: subject(access),
            actor_role: acting_role(access, changed),
            time: errands.clock.now(),
        },
    )
    .await?;
    store::update_errand(&mut transaction, changed).await?;
    record_audit(&mut transaction, access, context).await?;
    transaction.commit().await.context(context)?;
    reload(errands, changed.id).await
}

fn add_trip(errand: &mut ErrandRow, trip: bool) {
    if trip {
        errand.resident_trips += 1;
    }
}

/// A document collected for an item of the checklist.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub material: String,
    pub reference: String,
}

pub async fn collect(
    errands: &Errands,
    access: &Access,
    id: Uuid,
    documents: Vec<NewDocument>,
    resident_trip: bool,
) -> Result<StoredErrand, Error> {
    const CONTEXT: &str = "collecting materials";
    let (mut transaction, stored) = open(errands, access, id, CONTEXT).await?;
    let state = stored.errand.state()?;
    let next = state.after(Action::MaterialsCollected)?;
    let violations: Vec<_> = documents
        .iter()
        .enumerate()
        .filter(|(_, document)| !stored.matter.has_material(&document.material))
        .map(|(index, _)| {
            flatgov_grpc::error::FieldViolation::new(
                format!("documents[{index}].material"),
                "is not an item of the matter's checklist".to_owned(),
            )
        })
        .collect();
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let now = errands.clock.now();
    let collector = subject(access);
    let first_number = stored.documents.last().map_or(1, |last| last.number + 1);
    for (number, document) in (first_number..).zip(documents) {
        store::insert_document(
            &mut transaction,
            id,
            &DocumentRow {
                number,
                material: document.material,
                reference: document.reference,
                collect_time: now,
                collected_by: collector.clone(),
            },
        )
        .await?;
    }
    let mut changed = stored.errand.clone();
    changed.state = next.as_str().to_owned();
    add_trip(&mut changed, resident_trip);
    finish(
        errands,
        access,
        transaction,
        &stored,
        &changed,
        Action::MaterialsCollected,
        CONTEXT,
    )
    .await
}

/// The round of notices and submissions: the returns so far.
fn round(stored: &StoredErrand) -> i32 {
    stored.errand.returns
}

pub async fn notify_missing(
    errands: &Errands,
    access: &Access,
    id: Uuid,
) -> Result<StoredErrand, Error> {
    const CONTEXT: &str = "telling the missing materials";
    let (mut transaction, stored) = open(errands, access, id, CONTEXT).await?;
    let next = stored
        .errand
        .state()?
        .after(Action::MissingMaterialsNotified)?;
    if let Some(earlier) = stored
        .notices
        .iter()
        .find(|notice| notice.round == round(&stored))
    {
        return Err(TransitionError::AlreadyNotified(earlier.notice_time).into());
    }
    let missing = stored.missing();
    if missing.is_empty() {
        return Err(TransitionError::NothingMissing.into());
    }
    let now = errands.clock.now();
    let notice = NoticeRow {
        round: round(&stored),
        materials: missing,
        notice_time: now,
        noticed_by: subject(access),
    };
    store::insert_notice(&mut transaction, id, &notice).await?;
    events::missing_materials_notified(&mut transaction, &stored.errand, &notice).await?;
    let mut changed = stored.errand.clone();
    changed.state = next.as_str().to_owned();
    finish(
        errands,
        access,
        transaction,
        &stored,
        &changed,
        Action::MissingMaterialsNotified,
        CONTEXT,
    )
    .await
}

pub async fn submit(
    errands: &Errands,
    access: &Access,
    id: Uuid,
    resident_trip: bool,
) -> Result<StoredErrand, Error> {
    const CONTEXT: &str = "submitting an errand";
    let (mut transaction, stored) = open(errands, access, id, CONTEXT).await?;
    let next = stored.errand.state()?.after(Action::Submitted)?;
    let missing = stored.missing();
    if !missing.is_empty() {
        return Err(TransitionError::MaterialsMissing(missing.join(", ")).into());
    }
    let now = errands.clock.now();
    let mut changed = stored.errand.clone();
    changed.state = next.as_str().to_owned();
    add_trip(&mut changed, resident_trip);
    changed.submit_time = Some(now);
    // The limits run from the first acceptance: a return does not restart
    // them, so time spent on missing materials counts against the promise.
    if changed.statutory_due.is_none() {
        changed.statutory_due = Some(errands.due(now, stored.matter.statutory_limit_days)?);
        changed.promised_due = Some(errands.due(now, stored.matter.promised_limit_days)?);
    }
    events::errand_submitted(&mut transaction, &changed).await?;
    finish(
        errands,
        access,
        transaction,
        &stored,
        &changed,
        Action::Submitted,
        CONTEXT,
    )
    .await
}

/// The department's result as recorded.
#[derive(Debug, Clone)]
pub enum Outcome {
    Approved,
    Refused { reason: String },
    Returned { materials: Vec<String> },
}

impl Outcome {
    pub fn result(&self) -> DecisionResult {
        match self {
            Outcome::Approved => DecisionResult::Approved,
            Outcome::Refused { .. } => DecisionResult::Refused,
            Outcome::Returned { .. } => DecisionResult::Returned,
        }
    }
}

pub async fn record_result(
    errands: &Errands,
    access: &Access,
    id: Uuid,
    outcome: Outcome,
) -> Result<StoredErrand, Error> {
    const CONTEXT: &str = "recording a result";
    let (mut transaction, stored) = open(errands, access, id, CONTEXT).await?;
    let result = outcome.result();
    let next = stored.errand.state()?.after(Action::Decided(result))?;
    let now = errands.clock.now();
    let mut changed = stored.errand.clone();
    changed.state = next.as_str().to_owned();
    changed.result = Some(result.as_str().to_owned());
    let submit_time = stored
        .errand
        .submit_time
        .ok_or_else(|| Error::corrupt(format!("submitted errand {id} without a submit time")))?;
    let mut returned_items = 0;
    match outcome {
        Outcome::Approved => changed.decide_time = Some(now),
        Outcome::Refused { reason } => {
            changed.refusal_reason = Some(reason);
            changed.decide_time = Some(now);
        }
        Outcome::Returned { materials } => {
            let violations: Vec<_> = materials
                .iter()
                .enumerate()
                .filter(|(_, code)| !stored.matter.has_material(code))
                .map(|(index, _)| {
                    flatgov_grpc::error::FieldViolation::new(
                        format!("materials[{index}]"),
                        "is not an item of the matter's checklist".to_owned(),
                    )
                })
                .collect();
            if !violations.is_empty() {
                return Err(Error::InvalidArgument(violations));
            }
            changed.returns += 1;
            returned_items = materials.len();
            store::insert_return(
                &mut transaction,
                id,
                &ReturnRow {
                    round: changed.returns,
                    materials,
                    return_time: now,
                },
            )
            .await?;
        }
    }
    store::insert_decision(
        &mut transaction,
        id,
        stored.errand.returns + 1,
        &stored.errand.deciding_department,
        result.as_str(),
        submit_time,
        now,
    )
    .await?;
    events::errand_decided(&mut transaction, &changed, result, returned_items, now).await?;
    finish(
        errands,
        access,
        transaction,
        &stored,
        &changed,
        Action::Decided(result),
        CONTEXT,
    )
    .await
}

pub async fn tell_resident(
    errands: &Errands,
    access: &Access,
    id: Uuid,
    channel: TellingChannel,
    resident_trip: bool,
) -> Result<StoredErrand, Error> {
    const CONTEXT: &str = "recording the resident told";
    let (mut transaction, stored) = open(errands, access, id, CONTEXT).await?;
    let next = stored.errand.state()?.after(Action::ResidentTold)?;
    let now = errands.clock.now();
    let mut changed = stored.errand.clone();
    changed.state = next.as_str().to_owned();
    changed.told_time = Some(now);
    changed.told_by = Some(channel.as_str().to_owned());
    add_trip(&mut changed, resident_trip);
    events::errand_completed(&mut transaction, &changed, stored.matter.usual_trips, now).await?;
    finish(
        errands,
        access,
        transaction,
        &stored,
        &changed,
        Action::ResidentTold,
        CONTEXT,
    )
    .await
}
