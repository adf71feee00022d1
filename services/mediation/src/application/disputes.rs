//! Disputes and their track: registration, the stages' work, hand-overs
//! and consultations (agreements are in [`super::agreements`]).

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::request_id::RequestId;
use flatgov_vocabulary::CommunityCode;
use uuid::Uuid;

use super::{Mediation, record_audit};
use crate::domain::{
    Conclusion, DisputeState, DisputeType, Level, MANY_PARTIES, Outcome, PartyRole, Resolution,
    RiskKind, Trigger, dispute_name, justice_office, mediation_committee,
};
use crate::error::Error;
use crate::events;
use crate::policy::reaches_dispute;
use crate::store::{
    self, DatabaseContext as _, DisputeFilter, DisputeRow, PartyRow, SessionRow, StageRow,
    StoredDispute,
};
use flatgov_auth::policy::Reach;

pub(super) type Transaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// A party as registered.
#[derive(Debug, Clone)]
pub struct NewParty {
    pub role: PartyRole,
    pub name: String,
    pub phone: String,
    pub id_number: Option<String>,
}

/// Who mediates a new stage, as the caller named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mediator {
    /// People's mediation: the community's committee.
    Committee,
    /// Administrative mediation by a named department.
    Department(String),
    /// Administrative mediation by no department named: the competent
    /// department from the duty lists, or the subdistrict's justice office
    /// when the lists name none.
    Competent,
    /// Administrative mediation by the subdistrict's justice office.
    JusticeOffice,
    /// Judicial mediation or referral: the court.
    Court(String),
}

impl Mediator {
    pub fn level(&self) -> Level {
        match self {
            Mediator::Committee => Level::Peoples,
            Mediator::Department(_) | Mediator::Competent | Mediator::JusticeOffice => {
                Level::Administrative
            }
            Mediator::Court(_) => Level::Judicial,
        }
    }

    fn organisation(&self, community: &CommunityCode) -> String {
        match self {
            Mediator::Committee => mediation_committee(community),
            Mediator::Department(code) | Mediator::Court(code) => code.clone(),
            Mediator::Competent | Mediator::JusticeOffice => {
                justice_office(&community.subdistrict())
            }
        }
    }

    /// The mediator itself: a `Competent` one becomes the department the
    /// duty lists name for the dispute's type, or the justice office.
    async fn resolved(
        self,
        mediation: &Mediation,
        kind: DisputeType,
        community: &CommunityCode,
    ) -> Mediator {
        match self {
            Mediator::Competent => {
                match mediation.duties.competent_department(kind, community).await {
                    Some(department) => Mediator::Department(department),
                    None => Mediator::JusticeOffice,
                }
            }
            other => other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RegisterDispute {
    pub case: Option<String>,
    pub kind: DisputeType,
    pub community: CommunityCode,
    pub summary: String,
    pub parties: Vec<NewParty>,
    pub first: Mediator,
    pub retry: Option<(RequestId, Fingerprint)>,
}

fn id_of(stored: &StoredDispute) -> Uuid {
    stored.dispute.id
}

fn reaches(access: &Access, stored: &StoredDispute) -> Result<bool, Error> {
    let current = stored.current()?;
    Ok(reaches_dispute(
        access,
        &stored.dispute.community_code,
        &current.organisation,
    ))
}

pub async fn register(
    mediation: &Mediation,
    access: &Access,
    command: RegisterDispute,
) -> Result<StoredDispute, Error> {
    let first = command
        .first
        .clone()
        .resolved(mediation, command.kind, &command.community)
        .await;
    let first_organisation = first.organisation(&command.community);
    let community_text = command.community.to_string();
    if !reaches_dispute(access, &community_text, &first_organisation) {
        // The caller may not register disputes there: the same answer as
        // for a place that does not exist.
        return Err(Error::NotFound(format!(
            "community {community_text} is not one the caller registers disputes in"
        )));
    }
    if let Some((request_id, fingerprint)) = &command.retry {
        let mut connection = mediation
            .pool
            .acquire()
            .await
            .context("recalling a request id")?;
        if let Some(first) =
            idempotency::recall(&mut connection, access, request_id, *fingerprint).await?
        {
            drop(connection);
            return get(mediation, access, &first).await;
        }
    }
    let now = mediation.clock.now();
    let id = Uuid::now_v7();
    let level = command.first.level();
    let dispute = DisputeRow {
        id,
        case_name: command.case,
        dispute_type: command.kind.as_str().to_owned(),
        community_code: community_text,
        subdistrict_code: command.community.subdistrict().to_string(),
        summary: command.summary,
        party_count: i32::try_from(command.parties.len()).unwrap_or(i32::MAX),
        state: DisputeState::Mediating.as_str().to_owned(),
        resolution: None,
        current_stage: 1,
        register_time: now,
        close_time: None,
        registered_by: access.subject().to_owned(),
    };
    let parties: Vec<PartyRow> = command
        .parties
        .into_iter()
        .zip(1..)
        .map(|(party, number)| PartyRow {
            number,
            role: party.role.as_str().to_owned(),
            name: party.name,
            phone: party.phone,
            id_number: party.id_number,
        })
        .collect();
    let stage = StageRow {
        number: 1,
        level: level.as_str().to_owned(),
        organisation: first_organisation,
        mediator: None,
        trigger: Trigger::Registered.as_str().to_owned(),
        hand_over_reason: None,
        start_time: now,
        due_time: mediation.due(level, now)?,
        outcome: None,
        conclude_time: None,
        overdue_time: None,
        mediator_adviser: None,
    };
    let name = dispute_name(id);
    let mut transaction = mediation
        .pool
        .begin()
        .await
        .context("registering a dispute")?;
    if let Some((request_id, fingerprint)) = &command.retry
        && let Err(error) =
            idempotency::remember(&mut transaction, access, request_id, *fingerprint, &name).await
    {
        transaction
            .rollback()
            .await
            .context("registering a dispute")?;
        if flatgov_grpc::error::is_unique_violation(&error) {
            // Another call with the same id won the race: answer with its
            // dispute.
            let mut connection = mediation
                .pool
                .acquire()
                .await
                .context("recalling a request id")?;
            let first = idempotency::recall(&mut connection, access, request_id, *fingerprint)
                .await?
                .ok_or_else(|| Error::corrupt("a remembered request id vanished"))?;
            drop(connection);
            return get(mediation, access, &first).await;
        }
        return Err(Error::database("remembering a request id", error));
    }
    store::insert_dispute(&mut transaction, &dispute, &parties).await?;
    store::insert_stage(&mut transaction, id, &stage).await?;
    events::dispute_registered(&mut transaction, &dispute).await?;
    events::stage_started(&mut transaction, &dispute, &stage, Trigger::Registered).await?;
    flag_registration_risks(&mut transaction, &dispute, &parties, now).await?;
    access.audit().resource(name);
    record_audit(&mut transaction, access, "registering a dispute").await?;
    transaction
        .commit()
        .await
        .context("registering a dispute")?;
    tracing::info!(dispute = %id, level = %level, "dispute registered");
    reload(mediation, id).await
}

/// Flags what registration reveals: many parties, and repeats between the
/// same parties within the subdistrict (linked to the earlier disputes).
async fn flag_registration_risks(
    transaction: &mut Transaction,
    dispute: &DisputeRow,
    parties: &[PartyRow],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if parties.len() >= MANY_PARTIES {
        store::insert_risk(transaction, dispute.id, RiskKind::ManyParties, now).await?;
        events::risk_flagged(transaction, dispute, RiskKind::ManyParties, &[], now).await?;
    }
    let phones: Vec<String> = parties.iter().map(|party| party.phone.clone()).collect();
    let earlier = store::earlier_between_same_parties(
        transaction,
        dispute.id,
        &dispute.subdistrict_code,
        &phones,
    )
    .await?;
    if !earlier.is_empty() {
        store::insert_links(transaction, dispute.id, &earlier).await?;
        store::insert_risk(transaction, dispute.id, RiskKind::Repeat, now).await?;
        events::risk_flagged(transaction, dispute, RiskKind::Repeat, &earlier, now).await?;
        tracing::info!(dispute = %dispute.id, earlier = earlier.len(), "repeat dispute linked");
    }
    Ok(())
}

/// Flags a threat (violence, self-harm, a mass petition); once.
pub async fn flag_threat(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "flagging a threat";
    let (mut transaction, stored) = open(mediation, access, id, CONTEXT).await?;
    if stored.state()? == DisputeState::Closed {
        return Err(Error::FailedPrecondition("the dispute is closed".into()));
    }
    let now = mediation.clock.now();
    if store::insert_risk(&mut transaction, id, RiskKind::Threat, now).await? {
        events::risk_flagged(
            &mut transaction,
            &stored.dispute,
            RiskKind::Threat,
            &[],
            now,
        )
        .await?;
    }
    finish(mediation, access, transaction, id, CONTEXT).await
}

async fn reload(mediation: &Mediation, id: Uuid) -> Result<StoredDispute, Error> {
    let mut connection = mediation
        .pool
        .acquire()
        .await
        .context("reading a dispute")?;
    store::load(&mut connection, id, false)
        .await?
        .ok_or_else(|| Error::corrupt(format!("dispute {id} vanished")))
}

/// The dispute named `name`, if the caller reaches it.
pub async fn get(
    mediation: &Mediation,
    access: &Access,
    name: &str,
) -> Result<StoredDispute, Error> {
    let id = flatgov_vocabulary::parse_id::<Uuid>(name, "disputes")
        .map_err(|_| Error::not_found(name))?;
    let mut connection = mediation
        .pool
        .acquire()
        .await
        .context("reading a dispute")?;
    let stored = store::load(&mut connection, id, false)
        .await?
        .ok_or_else(|| Error::not_found(name))?;
    if !reaches(access, &stored)? {
        return Err(Error::not_found(name));
    }
    access.audit().resource(name.to_owned());
    Ok(stored)
}

/// Disputes newest first, filtered, of those the caller reaches.
#[derive(Debug, Clone)]
pub struct ListDisputes {
    pub filter: DisputeFilter,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub fetch_limit: i64,
}

pub async fn list(
    mediation: &Mediation,
    access: &Access,
    command: &ListDisputes,
) -> Result<Vec<DisputeRow>, Error> {
    let reach = Reach::of(access);
    let mut connection = mediation.pool.acquire().await.context("listing disputes")?;
    Ok(store::list(
        &mut connection,
        &command.filter,
        reach.as_ref(),
        command.after,
        command.fetch_limit,
    )
    .await?)
}

/// Takes the dispute for a change: locked, within the caller's reach.
pub(super) async fn open(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    context: &'static str,
) -> Result<(Transaction, StoredDispute), Error> {
    let mut transaction = mediation.pool.begin().await.context(context)?;
    let name = dispute_name(id);
    let stored = store::load(&mut transaction, id, true)
        .await?
        .ok_or_else(|| Error::not_found(&name))?;
    if !reaches(access, &stored)? {
        return Err(Error::not_found(&name));
    }
    access.audit().resource(name);
    Ok((transaction, stored))
}

/// Records the audit, commits and reads the dispute back.
pub(super) async fn finish(
    mediation: &Mediation,
    access: &Access,
    mut transaction: Transaction,
    id: Uuid,
    context: &'static str,
) -> Result<StoredDispute, Error> {
    record_audit(&mut transaction, access, context).await?;
    transaction.commit().await.context(context)?;
    reload(mediation, id).await
}

/// The adviser `id`, or a violation of `field` naming no adviser.
async fn adviser(
    transaction: &mut Transaction,
    field: &str,
    id: Uuid,
) -> Result<crate::store::AdviserRow, Error> {
    store::get_adviser(transaction, id)
        .await?
        .ok_or_else(|| Error::invalid(field, "names no registered adviser"))
}

pub async fn assign_mediator(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    mediator: String,
    mediator_adviser: Option<Uuid>,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "assigning a mediator";
    let (mut transaction, stored) = open(mediation, access, id, CONTEXT).await?;
    stored.track()?.work_on_stage("naming a mediator")?;
    let mut stage = stored.current()?.clone();
    if let Some(adviser_id) = mediator_adviser {
        adviser(&mut transaction, "adviser", adviser_id).await?;
        let advised = stored.consultations.iter().any(|consultation| {
            consultation.stage_number == stage.number && consultation.adviser_id == adviser_id
        });
        if advised {
            return Err(Error::FailedPrecondition(
                "the adviser advised on this stage, and an adviser never mediates the stage they advise on".into(),
            ));
        }
    }
    stage.mediator = Some(mediator);
    stage.mediator_adviser = mediator_adviser;
    store::update_stage(&mut transaction, id, &stage).await?;
    finish(mediation, access, transaction, id, CONTEXT).await
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub time: DateTime<Utc>,
    pub attendees: Vec<String>,
    pub notes: String,
}

pub async fn record_session(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    session: NewSession,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "recording a session";
    let (mut transaction, stored) = open(mediation, access, id, CONTEXT).await?;
    stored.track()?.work_on_stage("recording a session")?;
    let stage = stored.current()?;
    let number = stored
        .sessions
        .iter()
        .filter(|session| session.stage_number == stage.number)
        .count();
    let row = SessionRow {
        stage_number: stage.number,
        number: i32::try_from(number).unwrap_or(i32::MAX - 1) + 1,
        session_time: session.time,
        attendees: session.attendees,
        notes: session.notes,
    };
    store::insert_session(
        &mut transaction,
        id,
        &row,
        access.subject(),
        mediation.clock.now(),
    )
    .await?;
    finish(mediation, access, transaction, id, CONTEXT).await
}

/// Ends the current stage with `outcome` at `now` and applies what it leads
/// to, in the caller's transaction.
pub(super) async fn end_stage(
    transaction: &mut Transaction,
    stored: &mut StoredDispute,
    outcome: Outcome,
    conclusion: Conclusion,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let id = id_of(stored);
    let mut stage = stored.current()?.clone();
    stage.outcome = Some(outcome.as_str().to_owned());
    stage.conclude_time = Some(now);
    store::update_stage(transaction, id, &stage).await?;
    events::stage_concluded(transaction, &stored.dispute, &stage, outcome, now).await?;
    if let Some(last) = stored.stages.last_mut() {
        *last = stage;
    }
    match conclusion {
        Conclusion::AwaitHandOver => {
            stored.dispute.state = DisputeState::AwaitingHandOver.as_str().to_owned();
            store::update_dispute(transaction, &stored.dispute).await?;
        }
        Conclusion::AwaitPerformance => {
            stored.dispute.state = DisputeState::Performing.as_str().to_owned();
            store::update_dispute(transaction, &stored.dispute).await?;
        }
        Conclusion::Close(resolution) => close(transaction, stored, resolution, now).await?,
    }
    Ok(())
}

pub(super) async fn close(
    transaction: &mut Transaction,
    stored: &mut StoredDispute,
    resolution: Resolution,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    stored.dispute.state = DisputeState::Closed.as_str().to_owned();
    stored.dispute.resolution = Some(resolution.as_str().to_owned());
    stored.dispute.close_time = Some(now);
    store::update_dispute(transaction, &stored.dispute).await?;
    events::dispute_closed(transaction, &stored.dispute, resolution, now).await?;
    tracing::info!(dispute = %stored.dispute.id, %resolution, "dispute closed");
    Ok(())
}

/// The stage a dispute moves on to.
#[derive(Debug, Clone)]
pub(crate) struct NextStage {
    pub level: Level,
    pub organisation: String,
    pub trigger: Trigger,
    /// Why the stage before handed over (hand-overs only).
    pub reason: Option<String>,
}

/// Starts the next stage (number one more than the current) in the
/// caller's transaction.
pub(crate) async fn start_stage(
    mediation: &Mediation,
    transaction: &mut Transaction,
    stored: &mut StoredDispute,
    next: NextStage,
    now: DateTime<Utc>,
) -> Result<StageRow, Error> {
    let NextStage {
        level,
        organisation,
        trigger,
        reason,
    } = next;
    let id = id_of(stored);
    let stage = StageRow {
        number: stored.dispute.current_stage + 1,
        level: level.as_str().to_owned(),
        organisation,
        mediator: None,
        trigger: trigger.as_str().to_owned(),
        hand_over_reason: reason,
        start_time: now,
        due_time: mediation.due(level, now)?,
        outcome: None,
        conclude_time: None,
        overdue_time: None,
        mediator_adviser: None,
    };
    store::insert_stage(transaction, id, &stage).await?;
    stored.dispute.current_stage = stage.number;
    stored.dispute.state = DisputeState::Mediating.as_str().to_owned();
    store::update_dispute(transaction, &stored.dispute).await?;
    events::stage_started(transaction, &stored.dispute, &stage, trigger).await?;
    stored.stages.push(stage.clone());
    tracing::info!(dispute = %id, stage = stage.number, %level, %trigger, "stage started");
    Ok(stage)
}

pub async fn conclude(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    outcome: Outcome,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "concluding a stage";
    let (mut transaction, mut stored) = open(mediation, access, id, CONTEXT).await?;
    let conclusion = stored.track()?.conclude(outcome)?;
    let now = mediation.clock.now();
    end_stage(&mut transaction, &mut stored, outcome, conclusion, now).await?;
    finish(mediation, access, transaction, id, CONTEXT).await
}

#[derive(Debug, Clone)]
pub struct HandOver {
    pub to: Mediator,
    pub reason: String,
}

pub async fn hand_over(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    command: HandOver,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "handing a dispute over";
    let (mut transaction, mut stored) = open(mediation, access, id, CONTEXT).await?;
    let level = command.to.level();
    let ends_running_stage = stored.track()?.hand_over(level)?;
    let now = mediation.clock.now();
    if ends_running_stage {
        end_stage(
            &mut transaction,
            &mut stored,
            Outcome::Failed,
            Conclusion::AwaitHandOver,
            now,
        )
        .await?;
    }
    let community = CommunityCode::parse(&stored.dispute.community_code)
        .map_err(|error| Error::corrupt(format!("community code: {error}")))?;
    let kind = DisputeType::parse(&stored.dispute.dispute_type)
        .ok_or_else(|| Error::corrupt(format!("dispute type {}", stored.dispute.dispute_type)))?;
    let organisation = command
        .to
        .resolved(mediation, kind, &community)
        .await
        .organisation(&community);
    start_stage(
        mediation,
        &mut transaction,
        &mut stored,
        NextStage {
            level,
            organisation,
            trigger: Trigger::HandedOver,
            reason: Some(command.reason),
        },
        now,
    )
    .await?;
    finish(mediation, access, transaction, id, CONTEXT).await
}

#[derive(Debug, Clone)]
pub struct NewConsultation {
    pub adviser: Uuid,
    pub time: DateTime<Utc>,
    pub notes: String,
}

/// Records an adviser's consultation on the running stage, unless the
/// adviser mediates it.
pub async fn record_consultation(
    mediation: &Mediation,
    access: &Access,
    id: Uuid,
    command: NewConsultation,
) -> Result<StoredDispute, Error> {
    const CONTEXT: &str = "recording a consultation";
    let (mut transaction, stored) = open(mediation, access, id, CONTEXT).await?;
    stored.track()?.work_on_stage("recording a consultation")?;
    let stage = stored.current()?;
    adviser(&mut transaction, "adviser", command.adviser).await?;
    if stage.mediator_adviser == Some(command.adviser) {
        return Err(Error::FailedPrecondition(
            "the adviser mediates this stage, and an adviser never advises on the stage they mediate".into(),
        ));
    }
    let consultation = crate::store::ConsultationRow {
        stage_number: stage.number,
        adviser_id: command.adviser,
        consultation_time: command.time,
        notes: command.notes,
    };
    store::insert_consultation(
        &mut transaction,
        id,
        &consultation,
        access.subject(),
        mediation.clock.now(),
    )
    .await?;
    finish(mediation, access, transaction, id, CONTEXT).await
}
