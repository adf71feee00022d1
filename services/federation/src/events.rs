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

use chrono::Utc;
use flatgov_messaging::{ConsumerSpec, Envelope, Event, EventHandler, HandlerError};
use flatgov_proto::cases::v1::{CaseKind, CaseReferred};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::codes::CaseName;
use crate::error::{Error, Result};

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
pub async fn publish<E: Event>(
    connection: &mut PgConnection,
    resource: &str,
    event: &E,
) -> Result<()> {
    flatgov_messaging::outbox::enqueue(connection, resource, event)
        .await
        .map_err(Error::database("recording an event"))?;
    Ok(())
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
