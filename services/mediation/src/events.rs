//! What the service publishes, each event enqueued in the transaction of the
//! change it reports (the chassis' relay publishes it), all about
//! `disputes/{id}` so one dispute's events keep their order. No event
//! carries personal data: parties are counted, never named; summaries,
//! notes, terms, reasons and mediators stay in the database.
//!
//! The service consumes nothing: a dispute that arrives as a case is
//! registered by the cases service through `RegisterDispute`.

use chrono::{DateTime, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_proto::mediation::v1 as proto;
use sqlx::PgConnection;

use crate::contract;
use crate::domain::{
    DisputeType, Outcome, Resolution, RiskKind, Trigger, agreement_name, dispute_name,
};
use crate::store::{
    AgreementRow, DatabaseContext as _, DisputeRow, LapsedWindow, StageRow, StoreError, parse_level,
};
use uuid::Uuid;

async fn enqueue<E: flatgov_messaging::Event>(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    event: &E,
    context: &'static str,
) -> Result<(), StoreError> {
    flatgov_messaging::outbox::enqueue(connection, &dispute_name(dispute.id), event)
        .await
        .context(context)?;
    Ok(())
}

fn case(dispute: &DisputeRow) -> String {
    dispute.case_name.clone().unwrap_or_default()
}

fn stage_number(stage: &StageRow) -> u32 {
    u32::try_from(stage.number).unwrap_or_default()
}

fn level(stage: &StageRow) -> Result<i32, StoreError> {
    Ok(contract::level(parse_level(&stage.level)?) as i32)
}

pub async fn dispute_registered(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
) -> Result<(), StoreError> {
    let kind = DisputeType::parse(&dispute.dispute_type)
        .ok_or_else(|| StoreError::Corrupt(format!("dispute type {:?}", dispute.dispute_type)))?;
    let event = proto::DisputeRegistered {
        dispute: dispute_name(dispute.id),
        case: case(dispute),
        r#type: contract::dispute_type(kind) as i32,
        subdistrict_code: dispute.subdistrict_code.clone(),
        community_code: dispute.community_code.clone(),
        parties: u32::try_from(dispute.party_count).unwrap_or_default(),
        registered_at: Some(timestamp(dispute.register_time)),
    };
    enqueue(connection, dispute, &event, "publishing a registration").await
}

pub async fn stage_started(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    stage: &StageRow,
    trigger: Trigger,
) -> Result<(), StoreError> {
    let kind = DisputeType::parse(&dispute.dispute_type)
        .ok_or_else(|| StoreError::Corrupt(format!("dispute type {:?}", dispute.dispute_type)))?;
    let event = proto::StageStarted {
        dispute: dispute_name(dispute.id),
        case: case(dispute),
        stage: stage_number(stage),
        level: level(stage)?,
        organisation: stage.organisation.clone(),
        subdistrict_code: dispute.subdistrict_code.clone(),
        community_code: dispute.community_code.clone(),
        r#type: contract::dispute_type(kind) as i32,
        due: Some(timestamp(stage.due_time)),
        previous_stage: stage_number(stage).saturating_sub(1),
        trigger: contract::trigger(trigger) as i32,
        started_at: Some(timestamp(stage.start_time)),
    };
    enqueue(connection, dispute, &event, "publishing a stage start").await
}

pub async fn stage_concluded(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    stage: &StageRow,
    outcome: Outcome,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = proto::StageConcluded {
        dispute: dispute_name(dispute.id),
        case: case(dispute),
        stage: stage_number(stage),
        level: level(stage)?,
        organisation: stage.organisation.clone(),
        outcome: contract::outcome(outcome) as i32,
        subdistrict_code: dispute.subdistrict_code.clone(),
        concluded_at: Some(timestamp(at)),
    };
    enqueue(connection, dispute, &event, "publishing a stage's end").await
}

pub async fn stage_overdue(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    stage: &StageRow,
    escalated_to: Option<u32>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = proto::StageOverdue {
        dispute: dispute_name(dispute.id),
        case: case(dispute),
        stage: stage_number(stage),
        level: level(stage)?,
        organisation: stage.organisation.clone(),
        subdistrict_code: dispute.subdistrict_code.clone(),
        due: Some(timestamp(stage.due_time)),
        escalated_to_stage: escalated_to.unwrap_or_default(),
        marked_at: Some(timestamp(at)),
    };
    enqueue(connection, dispute, &event, "publishing a passed limit").await
}

pub async fn agreement_signed(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    stage: &StageRow,
    agreement: &AgreementRow,
    parties: u32,
) -> Result<(), StoreError> {
    let event = proto::AgreementSigned {
        dispute: dispute_name(dispute.id),
        case: case(dispute),
        agreement: agreement_name(dispute.id, stage_number(stage)),
        stage: stage_number(stage),
        level: level(stage)?,
        subdistrict_code: dispute.subdistrict_code.clone(),
        parties,
        performance_deadline: Some(timestamp(agreement.performance_deadline)),
        confirmation_window_closes: Some(timestamp(agreement.confirmation_window_closes)),
        signed_at: Some(timestamp(agreement.sign_time)),
    };
    enqueue(connection, dispute, &event, "publishing an agreement").await
}

/// The follow-up visit's finding: performed or breached.
pub async fn agreement_followed_up(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    agreement: &AgreementRow,
    performed: bool,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let stage = u32::try_from(agreement.stage_number).unwrap_or_default();
    let name = agreement_name(dispute.id, stage);
    if performed {
        let event = proto::AgreementPerformed {
            dispute: dispute_name(dispute.id),
            case: case(dispute),
            agreement: name,
            stage,
            subdistrict_code: dispute.subdistrict_code.clone(),
            checked_at: Some(timestamp(at)),
        };
        enqueue(connection, dispute, &event, "publishing a performance").await
    } else {
        let event = proto::AgreementBreached {
            dispute: dispute_name(dispute.id),
            case: case(dispute),
            agreement: name,
            stage,
            subdistrict_code: dispute.subdistrict_code.clone(),
            checked_at: Some(timestamp(at)),
        };
        enqueue(connection, dispute, &event, "publishing a breach").await
    }
}

pub async fn dispute_closed(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    resolution: Resolution,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = proto::DisputeClosed {
        dispute: dispute_name(dispute.id),
        case: case(dispute),
        resolution: contract::resolution(resolution) as i32,
        subdistrict_code: dispute.subdistrict_code.clone(),
        closed_at: Some(timestamp(at)),
    };
    enqueue(connection, dispute, &event, "publishing a closure").await
}

pub async fn agreement_confirmed(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    stage_number: i32,
    court: &str,
    confirmed: bool,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = proto::AgreementConfirmed {
        dispute: dispute_name(dispute.id),
        case: case(dispute),
        agreement: agreement_name(dispute.id, u32::try_from(stage_number).unwrap_or_default()),
        court: court.to_owned(),
        confirmed,
        subdistrict_code: dispute.subdistrict_code.clone(),
        decided_at: Some(timestamp(at)),
    };
    enqueue(connection, dispute, &event, "publishing a confirmation").await
}

pub async fn confirmation_lapsed(
    connection: &mut PgConnection,
    lapsed: &LapsedWindow,
) -> Result<(), StoreError> {
    let name = dispute_name(lapsed.dispute_id);
    let event = proto::AgreementConfirmationLapsed {
        dispute: name.clone(),
        case: lapsed.case_name.clone().unwrap_or_default(),
        agreement: agreement_name(
            lapsed.dispute_id,
            u32::try_from(lapsed.stage_number).unwrap_or_default(),
        ),
        subdistrict_code: lapsed.subdistrict_code.clone(),
        window_closed_at: Some(timestamp(lapsed.confirmation_window_closes)),
    };
    flatgov_messaging::outbox::enqueue(connection, &name, &event)
        .await
        .context("publishing a lapsed window")?;
    Ok(())
}

pub async fn risk_flagged(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    kind: RiskKind,
    linked: &[Uuid],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = proto::RiskFlagged {
        dispute: dispute_name(dispute.id),
        case: case(dispute),
        kind: contract::risk_kind(kind) as i32,
        subdistrict_code: dispute.subdistrict_code.clone(),
        community_code: dispute.community_code.clone(),
        linked_disputes: linked.iter().map(|id| dispute_name(*id)).collect(),
        parties: u32::try_from(dispute.party_count).unwrap_or_default(),
        flagged_at: Some(timestamp(at)),
    };
    enqueue(connection, dispute, &event, "publishing a risk").await
}
