//! What the federation publishes and the one list of what it consumes.
//!
//! Published (stream `FLATGOV_FEDERATION`), always through the outbox in
//! the transaction that makes the change, carrying ids, codes, states and
//! times only: `referral.accepted`, `referral.declined` (the contract the
//! cases service consumes), `activity.published`, `activity.cancelled`,
//! `activity.held`, `registration.changed`, `support_plan.created`,
//! `support_plan.closed`, `measure.delivered`, `rights_request.received`,
//! `rights_request.resolved`, `proposal.submitted`, `proposal.answered`.
//!
//! Consumed: `flatgov.cases.case.referred` (durable consumer
//! `federation-on-case-referred`), which opens a pending referral.
//!
//! The use cases announce through the functions below, which know the
//! event contracts; the use cases know only their rows.

use chrono::{DateTime, Utc};
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_messaging::{ConsumerSpec, Envelope, Event, EventHandler, HandlerError};
use flatgov_proto::cases::v1::{CaseKind, CaseReferred};
use flatgov_proto::federation::v1 as proto;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::codes::{CaseName, Collection, series_name};
use crate::domain::kinds::RegistrationStatus;
use crate::error::{Error, Result};
use crate::store::activities::{ActivityRow, RegistrationRow};
use crate::store::proposals::ProposalRow;
use crate::store::rights::RightsRequestRow;

/// Every subject the federation consumes, with its durable consumer.
pub const CONSUMED: &[(&str, &str)] = &[(CaseReferred::SUBJECT, CASE_REFERRED_CONSUMER)];

pub const CASE_REFERRED_CONSUMER: &str = "federation-on-case-referred";

/// The consumer of case referrals.
pub fn case_referred_consumer() -> ConsumerSpec {
    ConsumerSpec::new(
        CASE_REFERRED_CONSUMER,
        "cases",
        CaseReferred::SUBJECT,
        "federation",
    )
}

/// Records `event` about `resource` in the outbox of `transaction`.
async fn publish<E: Event>(connection: &mut PgConnection, resource: &str, event: &E) -> Result<()> {
    flatgov_messaging::outbox::enqueue(connection, resource, event)
        .await
        .map_err(Error::database("recording an event"))?;
    Ok(())
}

fn count(value: impl TryInto<u32>) -> u32 {
    value.try_into().unwrap_or(u32::MAX)
}

/// `ActivityPublished`: announced and open for registration.
pub async fn activity_published(
    connection: &mut PgConnection,
    row: &ActivityRow,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Activities.name(row.id);
    publish(
        connection,
        &name,
        &proto::ActivityPublished {
            activity: name.clone(),
            lead_organisation: row.lead_organisation.clone(),
            co_organisers: row.co_organisers.clone(),
            series: row.series.as_deref().map(series_name).unwrap_or_default(),
            block_code: row.block_code.clone().unwrap_or_default(),
            starts_at: Some(timestamp(row.starts_at)),
            ends_at: Some(timestamp(row.ends_at)),
            capacity: u32::try_from(row.capacity).unwrap_or(0),
            audiences: row.audiences.clone(),
            published_at: Some(timestamp(at)),
        },
    )
    .await
}

/// `ActivityCancelled`, with how many live registrations went with it.
pub async fn activity_cancelled(
    connection: &mut PgConnection,
    row: &ActivityRow,
    reason: &str,
    registrations_cancelled: u64,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Activities.name(row.id);
    publish(
        connection,
        &name,
        &proto::ActivityCancelled {
            activity: name.clone(),
            lead_organisation: row.lead_organisation.clone(),
            reason: reason.to_owned(),
            registrations_cancelled: count(registrations_cancelled),
            cancelled_at: Some(timestamp(at)),
        },
    )
    .await
}

/// `ActivityHeld`: attendance is final.
pub async fn activity_held(
    connection: &mut PgConnection,
    row: &ActivityRow,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Activities.name(row.id);
    publish(
        connection,
        &name,
        &proto::ActivityHeld {
            activity: name.clone(),
            lead_organisation: row.lead_organisation.clone(),
            co_organisers: row.co_organisers.clone(),
            series: row.series.as_deref().map(series_name).unwrap_or_default(),
            block_code: row.block_code.clone().unwrap_or_default(),
            registered: count(row.confirmed),
            attended: count(row.attended),
            held_at: Some(timestamp(at)),
        },
    )
    .await
}

/// `RegistrationChanged`: a registration's new status (participants stay
/// out of the event).
pub async fn registration_changed(
    connection: &mut PgConnection,
    row: &RegistrationRow,
    previous: Option<RegistrationStatus>,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Activities.child_name(row.activity, Collection::Registrations, row.id);
    publish(
        connection,
        &name,
        &proto::RegistrationChanged {
            registration: name.clone(),
            activity: Collection::Activities.name(row.activity),
            status: row.status.clone(),
            previous_status: previous
                .map(|status| status.as_str().to_owned())
                .unwrap_or_default(),
            waitlist_position: count(row.waitlist_position),
            changed_at: Some(timestamp(at)),
        },
    )
    .await
}

/// A support plan created: who leads, which organisations commit what.
pub struct PlanCreated<'a> {
    /// When the plan was made.
    pub at: DateTime<Utc>,
    pub plan: Uuid,
    pub person: Uuid,
    pub lead_organisation: &'a str,
    /// The referral the plan answers and its case, if any.
    pub referral: Option<(Uuid, &'a str)>,
    pub measure_organisations: Vec<String>,
    pub measure_kinds: Vec<String>,
}

/// `SupportPlanCreated` (ids and codes only).
pub async fn support_plan_created(
    connection: &mut PgConnection,
    created: PlanCreated<'_>,
) -> Result<()> {
    let name = Collection::SupportPlans.name(created.plan);
    publish(
        connection,
        &name,
        &proto::SupportPlanCreated {
            support_plan: name.clone(),
            person: Collection::People.name(created.person),
            lead_organisation: created.lead_organisation.to_owned(),
            referral: created
                .referral
                .map(|(referral, _)| Collection::Referrals.name(referral))
                .unwrap_or_default(),
            case: created
                .referral
                .map(|(_, case)| case.to_owned())
                .unwrap_or_default(),
            measure_organisations: created.measure_organisations,
            measure_kinds: created.measure_kinds,
            created_at: Some(timestamp(created.at)),
        },
    )
    .await
}

/// `MeasureDelivered`, with whether the delivery completed the measure.
pub struct Delivered<'a> {
    pub plan: Uuid,
    pub measure: Uuid,
    pub organisation: &'a str,
    pub kind: &'a str,
    pub completed: bool,
    pub at: DateTime<Utc>,
}

pub async fn measure_delivered(
    connection: &mut PgConnection,
    delivered: Delivered<'_>,
) -> Result<()> {
    let name = Collection::SupportPlans.child_name(
        delivered.plan,
        Collection::Measures,
        delivered.measure,
    );
    publish(
        connection,
        &name,
        &proto::MeasureDelivered {
            measure: name.clone(),
            support_plan: Collection::SupportPlans.name(delivered.plan),
            organisation: delivered.organisation.to_owned(),
            kind: delivered.kind.to_owned(),
            measure_completed: delivered.completed,
            delivered_at: Some(timestamp(delivered.at)),
        },
    )
    .await
}

/// A support plan closed, with what became of its measures.
pub struct PlanClosed<'a> {
    pub plan: Uuid,
    pub lead_organisation: &'a str,
    pub case: Option<&'a str>,
    pub state: &'a str,
    pub measures_delivered: usize,
    pub measures_withdrawn: usize,
    pub at: DateTime<Utc>,
}

pub async fn support_plan_closed(
    connection: &mut PgConnection,
    closed: PlanClosed<'_>,
) -> Result<()> {
    let name = Collection::SupportPlans.name(closed.plan);
    publish(
        connection,
        &name,
        &proto::SupportPlanClosed {
            support_plan: name.clone(),
            lead_organisation: closed.lead_organisation.to_owned(),
            case: closed.case.unwrap_or_default().to_owned(),
            state: closed.state.to_owned(),
            measures_delivered: count(closed.measures_delivered),
            measures_withdrawn: count(closed.measures_withdrawn),
            closed_at: Some(timestamp(closed.at)),
        },
    )
    .await
}

/// `ReferralAccepted`: the case leaves dispatch for the federation.
pub async fn referral_accepted(
    connection: &mut PgConnection,
    referral: Uuid,
    case: &str,
    organisation: &str,
    support_plan: Option<Uuid>,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Referrals.name(referral);
    publish(
        connection,
        &name,
        &proto::ReferralAccepted {
            referral: name.clone(),
            case: case.to_owned(),
            organisation: organisation.to_owned(),
            support_plan: support_plan
                .map(|plan| Collection::SupportPlans.name(plan))
                .unwrap_or_default(),
            accepted_at: Some(timestamp(at)),
        },
    )
    .await
}

/// `ReferralDeclined`: the case returns to dispatch with the reason.
pub async fn referral_declined(
    connection: &mut PgConnection,
    referral: Uuid,
    case: &str,
    organisation: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Referrals.name(referral);
    publish(
        connection,
        &name,
        &proto::ReferralDeclined {
            referral: name.clone(),
            case: case.to_owned(),
            organisation: organisation.to_owned(),
            reason: reason.to_owned(),
            declined_at: Some(timestamp(at)),
        },
    )
    .await
}

/// `RightsRequestReceived` (no requester data).
pub async fn rights_request_received(
    connection: &mut PgConnection,
    row: &RightsRequestRow,
) -> Result<()> {
    let name = Collection::RightsRequests.name(row.id);
    publish(
        connection,
        &name,
        &proto::RightsRequestReceived {
            rights_request: name.clone(),
            category: row.category.clone(),
            organisation: row.organisation.clone(),
            channel: row.channel.clone(),
            case: row.case_name.clone().unwrap_or_default(),
            block_code: row.block_code.clone().unwrap_or_default(),
            received_at: Some(timestamp(row.received_at)),
        },
    )
    .await
}

/// `RightsRequestResolved` with its outcome.
pub async fn rights_request_resolved(
    connection: &mut PgConnection,
    row: &RightsRequestRow,
    outcome: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::RightsRequests.name(row.id);
    publish(
        connection,
        &name,
        &proto::RightsRequestResolved {
            rights_request: name.clone(),
            category: row.category.clone(),
            organisation: row.organisation.clone(),
            outcome: outcome.to_owned(),
            case: row.case_name.clone().unwrap_or_default(),
            received_at: Some(timestamp(row.received_at)),
            resolved_at: Some(timestamp(at)),
        },
    )
    .await
}

/// `ProposalSubmitted` with its co-signers.
pub async fn proposal_submitted(
    connection: &mut PgConnection,
    row: &ProposalRow,
    co_signers: Vec<String>,
    at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Proposals.name(row.id);
    publish(
        connection,
        &name,
        &proto::ProposalSubmitted {
            proposal: name.clone(),
            drafting_organisation: row.drafting_organisation.clone(),
            co_signers,
            addressee: row.addressee.clone(),
            submitted_at: Some(timestamp(at)),
        },
    )
    .await
}

/// `ProposalAnswered` with how it was answered.
pub async fn proposal_answered(
    connection: &mut PgConnection,
    row: &ProposalRow,
    response: &str,
    answered_at: DateTime<Utc>,
) -> Result<()> {
    let name = Collection::Proposals.name(row.id);
    publish(
        connection,
        &name,
        &proto::ProposalAnswered {
            proposal: name.clone(),
            drafting_organisation: row.drafting_organisation.clone(),
            response: response.to_owned(),
            submitted_at: optional_timestamp(row.submitted_at),
            answered_at: Some(timestamp(answered_at)),
        },
    )
    .await
}

/// Opens a pending referral for each `CaseReferred`. The event carries ids
/// only; staff read the case itself from the cases service.
///
/// Safe against replays: the inbox drops a redelivered event, and the
/// unique indexes drop the same referral published twice (same case and
/// referral time) and a second pending referral of one case.
pub struct CaseReferredHandler;

impl EventHandler for CaseReferredHandler {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let referred: CaseReferred = event.decode()?;
        let case = CaseName::parse(&referred.case).map_err(|invalid| {
            HandlerError::Reject(format!(
                "case referral without a usable case name: {invalid}"
            ))
        })?;
        let kind = CaseKind::try_from(referred.kind)
            .map(|kind| kind.as_str_name().to_owned())
            .unwrap_or_else(|_| format!("CASE_KIND_{}", referred.kind));
        let referred_at = referred
            .referred_at
            .as_ref()
            .and_then(|time| {
                chrono::DateTime::<Utc>::from_timestamp(
                    time.seconds,
                    u32::try_from(time.nanos).unwrap_or(0),
                )
            })
            .or(event.time)
            .unwrap_or_else(Utc::now);
        let inserted = sqlx::query(
            "insert into referrals (id, case_name, case_kind, matter_code, block_code, subdistrict_code,
                                    referred_at, event_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict do nothing",
        )
        .bind(Uuid::now_v7())
        .bind(case.as_str())
        .bind(&kind)
        .bind(referred.matter_code.trim())
        .bind(referred.block_code.trim())
        .bind(referred.subdistrict_code.trim())
        .bind(referred_at)
        .bind(&event.id)
        .execute(connection)
        .await?
        .rows_affected();
        if inserted == 0 {
            tracing::info!(case = case.as_str(), event_id = %event.id, "referral already open or recorded; skipped");
        } else {
            tracing::info!(case = case.as_str(), event_id = %event.id, "referral received");
        }
        Ok(())
    }
}
