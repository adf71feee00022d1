//! Support plans: a person's plan, led by one member organisation, in
//! which member organisations commit measures, deliver them and visit.
//!
//! A plan is seen by whoever reaches its person; what may be done to it
//! is the aggregate's to decide (`crate::domain::support_plan`): the use
//! cases here load it, hand it the command, save the records it returns
//! with their events and audit record in one transaction.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{App, Page, Retry, claim, commit, recall};
use crate::access::{self, RegisterAccess};
use crate::domain::codes::{Collection, OrganisationCode};
use crate::domain::kinds::{MeasureKind, MeasureState, ReferralState, SupportPlanState, VisitKind};
use crate::domain::support_plan::{self, Actor, Command, NewMeasure, Plan, Record, Refusal};
use crate::error::{Error, Result};
use crate::events::{self, Delivered, PlanClosed, PlanCreated};
use crate::store::plans::{self as store, DeliveryRow, MeasureRow, PlanFilter, PlanRow, VisitRow};
use crate::store::{people, referrals};

/// A measure of a request: the organisation committing it (and the field
/// that named it, for violations found in the database), what and by when.
#[derive(Debug, Clone)]
pub struct MeasureInput {
    pub field: String,
    pub organisation: OrganisationCode,
    pub kind: MeasureKind,
    pub description: String,
    pub due_at: Option<DateTime<Utc>>,
}

/// What a new plan consists of. `prefix` names its field in the request
/// (`plan`, `support_plan`).
#[derive(Debug, Clone)]
pub struct PlanInput {
    pub prefix: String,
    pub person: Uuid,
    pub assessment: Option<Uuid>,
    pub goal: String,
    pub review_at: Option<DateTime<Utc>>,
    pub measures: Vec<MeasureInput>,
}

/// A plan created on its own, optionally for a referral the caller's
/// organisation accepted.
#[derive(Debug)]
pub struct NewPlan {
    pub plan: PlanInput,
    pub referral: Option<Uuid>,
    pub retry: Option<Retry>,
}

/// A further measure committed to a plan.
#[derive(Debug)]
pub struct AddMeasure {
    pub plan: Uuid,
    pub measure: MeasureInput,
    pub retry: Option<Retry>,
}

/// A delivery of a measure.
#[derive(Debug)]
pub struct RecordDelivery {
    pub plan: Uuid,
    pub measure: Uuid,
    pub description: String,
    pub amount_fen: i64,
    pub delivered_at: DateTime<Utc>,
    pub completes_measure: bool,
    pub retry: Option<Retry>,
}

/// A visit under a plan.
#[derive(Debug)]
pub struct LogVisit {
    pub plan: Uuid,
    pub kind: VisitKind,
    pub visited_at: DateTime<Utc>,
    pub notes: String,
    pub retry: Option<Retry>,
}

/// Closing a plan as completed or ended.
#[derive(Debug)]
pub struct ClosePlan {
    pub plan: Uuid,
    pub state: SupportPlanState,
    pub note: String,
}

/// A page of the plans the caller's organisation works with.
#[derive(Debug)]
pub struct ListPlans {
    pub person: Option<Uuid>,
    pub organisation: Option<OrganisationCode>,
    pub state: Option<SupportPlanState>,
    pub page: Page<Uuid>,
}

/// A page of one plan's visits.
#[derive(Debug)]
pub struct ListVisits {
    pub plan: Uuid,
    pub page: Page<Uuid>,
}

/// Plans with their measures and the measures' deliveries.
#[derive(Debug, Default)]
pub struct Plans {
    pub rows: Vec<PlanRow>,
    pub measures: Vec<MeasureRow>,
    pub deliveries: Vec<DeliveryRow>,
}

/// One measure with its deliveries.
pub type MeasureView = (MeasureRow, Vec<DeliveryRow>);

pub fn plan_name(id: Uuid) -> String {
    Collection::SupportPlans.name(id)
}

pub fn measure_name(plan: Uuid, id: Uuid) -> String {
    Collection::SupportPlans.child_name(plan, Collection::Measures, id)
}

fn visit_name(plan: Uuid, id: Uuid) -> String {
    Collection::SupportPlans.child_name(plan, Collection::Visits, id)
}

/// The one answer for a plan that does not exist or is out of reach.
fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", plan_name(id)))
}

/// What the aggregate's refusal tells the caller.
fn refused(plan: Uuid, refusal: Refusal, prefix: &str) -> Error {
    match refusal {
        Refusal::NoMeasures => Error::invalid(format!("{prefix}.measures"), refusal.to_string()),
        Refusal::State(message) => Error::FailedPrecondition(message),
        Refusal::CommitsForAnother | Refusal::NotTheCommitter | Refusal::NotTheLead => {
            Error::PermissionDenied(refusal.to_string())
        }
        Refusal::NoSuchMeasure(measure) => {
            Error::NotFound(format!("{} does not exist", measure_name(plan, measure)))
        }
        Refusal::NotAClosingState => Error::invalid(
            "state",
            "must be SUPPORT_PLAN_STATE_COMPLETED or SUPPORT_PLAN_STATE_ENDED",
        ),
    }
}

/// Plans with their measures and deliveries.
async fn with_measures(connection: &mut PgConnection, rows: Vec<PlanRow>) -> Result<Plans> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let measures = store::measures(connection, &ids).await?;
    let measure_ids: Vec<Uuid> = measures.iter().map(|measure| measure.id).collect();
    let deliveries = store::deliveries(connection, &measure_ids).await?;
    Ok(Plans {
        rows,
        measures,
        deliveries,
    })
}

/// The plan, NOT_FOUND unless the caller reaches its person (a plan is
/// seen by whoever sees the person it supports); noted in the audit trail.
async fn reachable(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    id: Uuid,
) -> Result<PlanRow> {
    let row = store::get_plan(connection, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if !register.reaches_person(connection, row.person).await? {
        return Err(not_found(id));
    }
    access.audit().resource(plan_name(id));
    Ok(row)
}

/// Locks a plan the caller reaches and loads it as the aggregate.
async fn aggregate(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    id: Uuid,
) -> Result<(PlanRow, Plan)> {
    if !store::lock_plan(connection, id).await? {
        return Err(not_found(id));
    }
    let row = reachable(connection, access, register, id).await?;
    access::require_processable(connection, row.person).await?;
    let measures = store::measures(connection, &[id])
        .await?
        .into_iter()
        .map(|measure| {
            Ok(support_plan::Measure {
                id: measure.id,
                kind: MeasureKind::from_stored(&measure.kind)?,
                state: MeasureState::from_stored(&measure.state)?,
                organisation: measure.organisation,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let plan = Plan {
        id,
        lead: row.lead_organisation.clone(),
        state: SupportPlanState::from_stored(&row.state)?,
        measures,
    };
    Ok((row, plan))
}

/// One plan with its measures and deliveries.
pub async fn load(connection: &mut PgConnection, id: Uuid) -> Result<Plans> {
    let row = store::get_plan(connection, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    with_measures(connection, vec![row]).await
}

async fn load_measure(connection: &mut PgConnection, plan: Uuid, id: Uuid) -> Result<MeasureView> {
    let row = store::get_measure(connection, id)
        .await?
        .filter(|row| row.plan == plan)
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", measure_name(plan, id))))?;
    let deliveries = store::deliveries(connection, &[id]).await?;
    Ok((row, deliveries))
}

async fn replay_plan(
    app: &App,
    access: &Access,
    register: &RegisterAccess,
    remembered: &str,
) -> Result<Plans> {
    let id = Collection::SupportPlans
        .parse(remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered support plan: {invalid}")))?;
    let mut connection = app.connection("reading a support plan").await?;
    reachable(&mut connection, access, register, id).await?;
    load(&mut connection, id).await
}

/// A retried measure or delivery answered again (the measure as it is now).
async fn replay_measure(
    app: &App,
    access: &Access,
    register: &RegisterAccess,
    remembered: &str,
) -> Result<MeasureView> {
    let (plan, measure) = Collection::SupportPlans
        .parse_child(Collection::Measures, remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered measure: {invalid}")))?;
    let mut connection = app.connection("reading a measure").await?;
    reachable(&mut connection, access, register, plan).await?;
    access.audit().resource(remembered);
    load_measure(&mut connection, plan, measure).await
}

async fn replay_visit(
    app: &App,
    access: &Access,
    register: &RegisterAccess,
    remembered: &str,
) -> Result<VisitRow> {
    let (plan, visit) = Collection::SupportPlans
        .parse_child(Collection::Visits, remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered visit: {invalid}")))?;
    let mut connection = app.connection("reading a visit").await?;
    reachable(&mut connection, access, register, plan).await?;
    let row = store::get_visit(&mut connection, visit)
        .await?
        .filter(|row| row.plan == plan)
        .ok_or_else(|| Error::NotFound(format!("{remembered} does not exist")))?;
    access.audit().resource(remembered);
    Ok(row)
}

/// The referral a new plan answers: accepted by the caller's organisation
/// and without a plan yet. Its id and case.
async fn referral_for_plan(
    connection: &mut PgConnection,
    id: Uuid,
    organisation: &str,
) -> Result<(Uuid, String)> {
    let referral_name = Collection::Referrals.name(id);
    if !referrals::lock(connection, id).await? {
        return Err(Error::NotFound(format!("{referral_name} does not exist")));
    }
    let row = referrals::get(connection, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{referral_name} does not exist")))?;
    if row.state != ReferralState::Accepted.as_str()
        || row.organisation.as_deref() != Some(organisation)
    {
        return Err(Error::FailedPrecondition(format!(
            "{referral_name} is {} and not accepted by {organisation}; accept it first",
            row.state
        )));
    }
    if let Some(plan) = row.support_plan {
        return Err(Error::AlreadyExists {
            message: format!(
                "{referral_name} already has a support plan ({})",
                plan_name(plan)
            ),
            resource: Some(plan_name(plan)),
        });
    }
    Ok((row.id, row.case_name))
}

/// Creates a plan with the id `id` for the caller's organisation as lead
/// (with its measures and its SupportPlanCreated event) inside
/// `transaction`, after the checks that need the database: the person is
/// reached, the assessment is theirs, every measure's organisation an
/// active member.
pub(super) async fn create_plan(
    transaction: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    id: Uuid,
    plan: &PlanInput,
    referral: Option<(Uuid, &str)>,
    now: DateTime<Utc>,
) -> Result<()> {
    let actor = register.actor();
    let prefix = &plan.prefix;
    register
        .require_processable(transaction, plan.person)
        .await?;
    let mut found = Violations::new();
    if let Some(assessment) = plan.assessment
        && people::get_assessment(transaction, assessment)
            .await?
            .is_none_or(|row| row.person != plan.person)
    {
        found.add(format!("{prefix}.assessment"), "does not exist");
    }
    let organisations: Vec<(String, OrganisationCode)> = plan
        .measures
        .iter()
        .map(|measure| (measure.field.clone(), measure.organisation.clone()))
        .collect();
    for (field, problem) in access::inactive_or_unknown(transaction, &organisations).await? {
        found.add(field, problem);
    }
    found.finish()?;
    let measures: Vec<NewMeasure> = plan
        .measures
        .iter()
        .map(|measure| NewMeasure {
            id: Uuid::now_v7(),
            organisation: measure.organisation.as_str().to_owned(),
            kind: measure.kind,
            description: measure.description.clone(),
            due_at: measure.due_at,
        })
        .collect();
    let acting = Actor {
        organisation: actor.organisation.as_str(),
        subject: &actor.subject,
    };
    let (_, records) =
        Plan::open(id, acting, measures).map_err(|refusal| refused(id, refusal, prefix))?;
    store::insert_plan(
        transaction,
        &store::NewPlan {
            id,
            person: plan.person,
            lead_organisation: actor.organisation.as_str(),
            referral: referral.map(|(referral, _)| referral),
            assessment: plan.assessment,
            goal: &plan.goal,
            review_at: plan.review_at,
            created_by: &actor.subject,
        },
    )
    .await?;
    store::save(transaction, id, &records).await?;
    events::support_plan_created(
        transaction,
        PlanCreated {
            at: now,
            plan: id,
            person: plan.person,
            lead_organisation: actor.organisation.as_str(),
            referral,
            measure_organisations: plan
                .measures
                .iter()
                .map(|measure| measure.organisation.as_str().to_owned())
                .collect(),
            measure_kinds: plan
                .measures
                .iter()
                .map(|measure| measure.kind.as_str().to_owned())
                .collect(),
        },
    )
    .await?;
    access
        .audit()
        .resource(Collection::People.name(plan.person));
    access.audit().resource(plan_name(id));
    tracing::info!(
        support_plan = %id,
        organisation = %actor.organisation,
        measures = plan.measures.len(),
        "support plan created"
    );
    Ok(())
}

pub async fn create(app: &App, access: &Access, new: NewPlan) -> Result<Plans> {
    let mut transaction = app.begin("creating a support plan").await?;
    let register = access::register_access(&mut transaction, access).await?;
    if let Some(remembered) = recall(app, access, new.retry.as_ref()).await? {
        drop(transaction);
        return replay_plan(app, access, &register, &remembered).await;
    }
    let referral = match new.referral {
        None => None,
        Some(referral) => {
            Some(referral_for_plan(&mut transaction, referral, register.organisation()).await?)
        }
    };
    let id = Uuid::now_v7();
    if let Some(winner) = claim(
        app,
        &mut transaction,
        access,
        new.retry.as_ref(),
        &plan_name(id),
    )
    .await?
    {
        drop(transaction);
        return replay_plan(app, access, &register, &winner).await;
    }
    create_plan(
        &mut transaction,
        access,
        &register,
        id,
        &new.plan,
        referral
            .as_ref()
            .map(|(referral, case)| (*referral, case.as_str())),
        app.clock.now(),
    )
    .await?;
    let answer = load(&mut transaction, id).await?;
    commit(transaction, access, "creating a support plan").await?;
    Ok(answer)
}

pub async fn add_measure(app: &App, access: &Access, add: AddMeasure) -> Result<MeasureView> {
    let mut transaction = app.begin("adding a measure").await?;
    let register = access::register_access(&mut transaction, access).await?;
    if let Some(remembered) = recall(app, access, add.retry.as_ref()).await? {
        drop(transaction);
        return replay_measure(app, access, &register, &remembered).await;
    }
    let actor = register.actor().clone();
    let (_, plan) = aggregate(&mut transaction, access, &register, add.plan).await?;
    let id = Uuid::now_v7();
    let command = Command::AddMeasure(NewMeasure {
        id,
        organisation: add.measure.organisation.as_str().to_owned(),
        kind: add.measure.kind,
        description: add.measure.description.clone(),
        due_at: add.measure.due_at,
    });
    let acting = Actor {
        organisation: actor.organisation.as_str(),
        subject: &actor.subject,
    };
    let records = plan
        .apply(acting, command)
        .map_err(|refusal| refused(add.plan, refusal, "measure"))?;
    let mut membership = Violations::new();
    for (field, problem) in access::inactive_or_unknown(
        &mut transaction,
        &[(add.measure.field.clone(), add.measure.organisation.clone())],
    )
    .await?
    {
        membership.add(field, problem);
    }
    membership.finish()?;
    let name = measure_name(add.plan, id);
    if let Some(winner) = claim(app, &mut transaction, access, add.retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_measure(app, access, &register, &winner).await;
    }
    store::save(&mut transaction, add.plan, &records).await?;
    let answer = load_measure(&mut transaction, add.plan, id).await?;
    access.audit().resource(name);
    commit(transaction, access, "adding a measure").await?;
    tracing::info!(support_plan = %add.plan, measure = %id, organisation = %add.measure.organisation, "measure committed");
    Ok(answer)
}

pub async fn record_delivery(
    app: &App,
    access: &Access,
    delivery: RecordDelivery,
) -> Result<MeasureView> {
    let mut transaction = app.begin("recording a delivery").await?;
    let register = access::register_access(&mut transaction, access).await?;
    if let Some(remembered) = recall(app, access, delivery.retry.as_ref()).await? {
        drop(transaction);
        return replay_measure(app, access, &register, &remembered).await;
    }
    let actor = register.actor().clone();
    let (_, plan) = aggregate(&mut transaction, access, &register, delivery.plan).await?;
    let name = measure_name(delivery.plan, delivery.measure);
    access.audit().resource(name.clone());
    let acting = Actor {
        organisation: actor.organisation.as_str(),
        subject: &actor.subject,
    };
    let records = plan
        .apply(
            acting,
            Command::RecordDelivery {
                measure: delivery.measure,
                delivered_at: delivery.delivered_at,
                description: delivery.description.clone(),
                amount_fen: delivery.amount_fen,
                completes_measure: delivery.completes_measure,
            },
        )
        .map_err(|refusal| refused(delivery.plan, refusal, "measure"))?;
    if let Some(winner) = claim(
        app,
        &mut transaction,
        access,
        delivery.retry.as_ref(),
        &name,
    )
    .await?
    {
        drop(transaction);
        return replay_measure(app, access, &register, &winner).await;
    }
    store::save(&mut transaction, delivery.plan, &records).await?;
    for record in &records {
        if let Record::Delivered {
            measure,
            organisation,
            kind,
            delivered_at,
            completes_measure,
            ..
        } = record
        {
            events::measure_delivered(
                &mut transaction,
                Delivered {
                    plan: delivery.plan,
                    measure: *measure,
                    organisation,
                    kind: kind.as_str(),
                    completed: *completes_measure,
                    at: *delivered_at,
                },
            )
            .await?;
        }
    }
    let answer = load_measure(&mut transaction, delivery.plan, delivery.measure).await?;
    commit(transaction, access, "recording a delivery").await?;
    tracing::info!(measure = %delivery.measure, organisation = %actor.organisation, completed = delivery.completes_measure, "delivery recorded");
    Ok(answer)
}

pub async fn log_visit(app: &App, access: &Access, visit: LogVisit) -> Result<VisitRow> {
    let mut transaction = app.begin("logging a visit").await?;
    let register = access::register_access(&mut transaction, access).await?;
    if let Some(remembered) = recall(app, access, visit.retry.as_ref()).await? {
        drop(transaction);
        return replay_visit(app, access, &register, &remembered).await;
    }
    let actor = register.actor().clone();
    let (_, plan) = aggregate(&mut transaction, access, &register, visit.plan).await?;
    let id = Uuid::now_v7();
    let acting = Actor {
        organisation: actor.organisation.as_str(),
        subject: &actor.subject,
    };
    let records = plan
        .apply(
            acting,
            Command::LogVisit {
                id,
                kind: visit.kind,
                visited_at: visit.visited_at,
                notes: visit.notes.clone(),
            },
        )
        .map_err(|refusal| refused(visit.plan, refusal, "visit"))?;
    let name = visit_name(visit.plan, id);
    if let Some(winner) = claim(app, &mut transaction, access, visit.retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_visit(app, access, &register, &winner).await;
    }
    store::save(&mut transaction, visit.plan, &records).await?;
    let row = store::get_visit(&mut transaction, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{name} does not exist")))?;
    access.audit().resource(name);
    commit(transaction, access, "logging a visit").await?;
    Ok(row)
}

pub async fn list_visits(app: &App, access: &Access, query: &ListVisits) -> Result<Vec<VisitRow>> {
    let mut connection = app.connection("listing visits").await?;
    let register = access::register_access(&mut connection, access).await?;
    reachable(&mut connection, access, &register, query.plan).await?;
    let rows = store::list_visits(
        &mut connection,
        query.plan,
        query.page.after,
        query.page.limit,
    )
    .await?;
    for row in &rows {
        access.audit().resource(visit_name(row.plan, row.id));
    }
    Ok(rows)
}

pub async fn close(app: &App, access: &Access, close: ClosePlan) -> Result<Plans> {
    let mut transaction = app.begin("closing a support plan").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let actor = register.actor().clone();
    let (row, plan) = aggregate(&mut transaction, access, &register, close.plan).await?;
    let acting = Actor {
        organisation: actor.organisation.as_str(),
        subject: &actor.subject,
    };
    close_aggregate(
        &mut transaction,
        &row,
        &plan,
        acting,
        close.state,
        &close.note,
        app.clock.now(),
    )
    .await?;
    let answer = load(&mut transaction, close.plan).await?;
    commit(transaction, access, "closing a support plan").await?;
    tracing::info!(support_plan = %close.plan, state = %close.state, "support plan closed");
    Ok(answer)
}

/// Closes a loaded plan as `acting`, with its records and SupportPlanClosed.
async fn close_aggregate(
    transaction: &mut PgConnection,
    row: &PlanRow,
    plan: &Plan,
    acting: Actor<'_>,
    state: SupportPlanState,
    note: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let records = plan
        .apply(
            acting,
            Command::Close {
                state,
                note: note.to_owned(),
                at: now,
            },
        )
        .map_err(|refusal| refused(row.id, refusal, "plan"))?;
    store::save(transaction, row.id, &records).await?;
    for record in &records {
        if let Record::Closed {
            state,
            at,
            measures_delivered,
            measures_withdrawn,
            ..
        } = record
        {
            events::support_plan_closed(
                transaction,
                PlanClosed {
                    plan: row.id,
                    lead_organisation: &row.lead_organisation,
                    case: row.case_name.as_deref(),
                    state: state.as_str(),
                    measures_delivered: *measures_delivered,
                    measures_withdrawn: *measures_withdrawn,
                    at: *at,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Ends every active plan for `person`, whose consent was withdrawn, as
/// their lead organisation would (undelivered measures withdrawn,
/// SupportPlanClosed published): support cannot go on without consent.
/// `subject` is the staff member who recorded the withdrawal.
pub(super) async fn end_for_withdrawal(
    transaction: &mut PgConnection,
    access: &Access,
    person: Uuid,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let plans = crate::store::privacy::active_plans(transaction, person).await?;
    for id in &plans {
        if !store::lock_plan(transaction, *id).await? {
            return Err(not_found(*id));
        }
        let row = store::get_plan(transaction, *id)
            .await?
            .ok_or_else(|| not_found(*id))?;
        let measures = store::measures(transaction, &[*id])
            .await?
            .into_iter()
            .map(|measure| {
                Ok(support_plan::Measure {
                    id: measure.id,
                    kind: MeasureKind::from_stored(&measure.kind)?,
                    state: MeasureState::from_stored(&measure.state)?,
                    organisation: measure.organisation,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let plan = Plan {
            id: *id,
            lead: row.lead_organisation.clone(),
            state: SupportPlanState::from_stored(&row.state)?,
            measures,
        };
        let acting = Actor {
            organisation: row.lead_organisation.as_str(),
            subject,
        };
        close_aggregate(
            transaction,
            &row,
            &plan,
            acting,
            SupportPlanState::Ended,
            CONSENT_WITHDRAWN_NOTE,
            now,
        )
        .await?;
        access.audit().resource(plan_name(*id));
    }
    Ok(plans.len())
}

/// The closing note of a plan ended by a withdrawal of consent.
const CONSENT_WITHDRAWN_NOTE: &str = "本人撤回同意，帮扶终止";

pub async fn get(app: &App, access: &Access, id: Uuid) -> Result<Plans> {
    let mut connection = app.connection("reading a support plan").await?;
    let register = access::register_access(&mut connection, access).await?;
    let row = reachable(&mut connection, access, &register, id).await?;
    with_measures(&mut connection, vec![row]).await
}

pub async fn list(app: &App, access: &Access, query: &ListPlans) -> Result<Plans> {
    let mut connection = app.connection("listing support plans").await?;
    let register = access::register_access(&mut connection, access).await?;
    let filter = PlanFilter {
        visible_to: register.organisation().to_owned(),
        person: query.person,
        organisation: query
            .organisation
            .as_ref()
            .map(|code| code.as_str().to_owned()),
        state: query.state.map(|state| state.as_str().to_owned()),
        after: query.page.after,
    };
    let rows = store::list_plans(&mut connection, &filter, query.page.limit).await?;
    for row in &rows {
        access.audit().resource(plan_name(row.id));
    }
    with_measures(&mut connection, rows).await
}
