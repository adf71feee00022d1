//! What the service publishes (see `proto/flatgov/enforcement/v1/events.proto`):
//! the operation's records as events, enqueued in the transaction that
//! saves them. What it consumes is in `crate::consumers`.
//!
//! Published, on `FLATGOV_ENFORCEMENT`, each about `operations/{id}` so one
//! operation's events keep their order:
//! `flatgov.enforcement.operation.whistle_blown`, `…agency.summoned`,
//! `…agency.reported_in`, `…agency.late`, `…action.recorded`,
//! `…rectification_order.overdue`, `…follow_up.opened`, `…follow_up.closed`,
//! `…operation.concluded`, `…operation.cancelled`, `…agency.rated`.
//!
//! No event carries an officer's name, badge number or phone, notes, or a
//! staff id: officers are counted, never named.

use chrono::{DateTime, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_messaging::outbox;
use flatgov_proto::enforcement::v1 as api;
use sqlx::PgConnection;

use crate::domain::duty::DutyGap;
use crate::domain::{ActionDetails, ConclusionKind, Facts, Outcome, Record};
use crate::store::{Context as _, LateSummons, StoreError};

/// The contract's word for an outcome.
pub fn api_outcome(outcome: Outcome) -> api::OperationOutcome {
    match outcome {
        Outcome::Resolved => api::OperationOutcome::Resolved,
        Outcome::PartiallyResolved => api::OperationOutcome::PartiallyResolved,
        Outcome::Referred => api::OperationOutcome::Referred,
        Outcome::NoViolation => api::OperationOutcome::NoViolation,
    }
}

/// Enqueues the events of `records` (saved at `at`), in order.
pub async fn publish(
    connection: &mut PgConnection,
    operation: &Facts,
    at: DateTime<Utc>,
    records: &[Record],
) -> Result<(), StoreError> {
    const CONTEXT: &str = "publishing the operation's events";
    let resource = operation.resource();
    let case = operation.case.clone().unwrap_or_default();
    let when = Some(timestamp(at));
    for record in records {
        let enqueued = match record {
            Record::Opened { lead, agencies, .. } => {
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::WhistleBlown {
                        operation: resource.clone(),
                        case: case.clone(),
                        subdistrict_code: operation.subdistrict.clone(),
                        block_code: operation.block.clone().unwrap_or_default(),
                        matter_code: operation.matter.clone().unwrap_or_default(),
                        agencies: agencies.iter().map(ToString::to_string).collect(),
                        lead_agency: lead.to_string(),
                        urgent: operation.urgent,
                        blown_at: Some(timestamp(operation.blown_at)),
                    },
                )
                .await
            }
            Record::Summoned {
                agency,
                lead,
                report_in_due,
                assignment,
                ..
            } => {
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::AgencySummoned {
                        operation: resource.clone(),
                        case: case.clone(),
                        agency: agency.to_string(),
                        subdistrict_code: operation.subdistrict.clone(),
                        urgent: operation.urgent,
                        lead: *lead,
                        summoned_at: when,
                        report_in_deadline: Some(timestamp(*report_in_due)),
                        // Ids only: a unit is a squad, never a person.
                        summoned_unit: assignment
                            .unit
                            .map(|unit| format!("agencies/{agency}/units/{unit}"))
                            .unwrap_or_default(),
                        duty_gap: match assignment.gap {
                            None => api::DutyGap::NoGap,
                            Some(DutyGap::NoneOnDuty) => api::DutyGap::NoneOnDuty,
                            Some(DutyGap::NotStationed) => api::DutyGap::NotStationed,
                        } as i32,
                    },
                )
                .await
            }
            Record::ReportedIn {
                agency,
                officers,
                report_in_due,
                on_time,
                ..
            } => {
                tracing::info!(operation = %resource, %agency, on_time, "agency reported in");
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::AgencyReportedIn {
                        operation: resource.clone(),
                        case: case.clone(),
                        agency: agency.to_string(),
                        subdistrict_code: operation.subdistrict.clone(),
                        officers: u32::try_from(officers.len()).unwrap_or(u32::MAX),
                        on_time: *on_time,
                        reported_at: when,
                        report_in_deadline: Some(timestamp(*report_in_due)),
                    },
                )
                .await
            }
            Record::ActionRecorded { action, .. } => {
                let complied = match &action.details {
                    ActionDetails::RectificationCheck { complied, .. } => *complied,
                    _ => false,
                };
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::ActionRecorded {
                        action: format!("{resource}/actions/{}", action.id),
                        operation: resource.clone(),
                        case: case.clone(),
                        agency: action.agency.to_string(),
                        subdistrict_code: operation.subdistrict.clone(),
                        kind: action.details.kind().as_str().to_owned(),
                        rectification_deadline: action
                            .details
                            .rectification_deadline()
                            .map(timestamp),
                        complied,
                        recorded_at: when,
                    },
                )
                .await
            }
            // The check is published with its action.
            Record::OrderChecked { .. } => continue,
            Record::Concluded {
                outcome,
                kind: ConclusionKind::First,
                ..
            } => {
                tracing::info!(operation = %resource, %outcome, "operation concluded");
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::OperationConcluded {
                        operation: resource.clone(),
                        case: case.clone(),
                        outcome: api_outcome(*outcome) as i32,
                        concluded_at: when,
                    },
                )
                .await
            }
            Record::Concluded {
                outcome,
                kind: ConclusionKind::FollowUpClosed,
                ..
            } => {
                tracing::info!(operation = %resource, %outcome, "follow-up closed");
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::FollowUpClosed {
                        operation: resource.clone(),
                        case: case.clone(),
                        subdistrict_code: operation.subdistrict.clone(),
                        outcome: api_outcome(*outcome) as i32,
                        closed_at: when,
                    },
                )
                .await
            }
            Record::Cancelled { reason, .. } => {
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::OperationCancelled {
                        operation: resource.clone(),
                        case: case.clone(),
                        reason: reason.clone(),
                        cancelled_at: when,
                    },
                )
                .await
            }
            Record::Rated { agency, score, .. } => {
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::AgencyRated {
                        operation: resource.clone(),
                        agency: agency.to_string(),
                        subdistrict_code: operation.subdistrict.clone(),
                        score: u32::try_from(*score).unwrap_or_default(),
                        matter_code: operation.matter.clone().unwrap_or_default(),
                        case: case.clone(),
                        rated_at: when,
                    },
                )
                .await
            }
            Record::OrderOverdue { order, agency, due } => {
                let action = format!("{resource}/actions/{order}");
                tracing::info!(%action, %agency, "rectification order overdue");
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::RectificationOrderOverdue {
                        action,
                        operation: resource.clone(),
                        case: case.clone(),
                        agency: agency.to_string(),
                        subdistrict_code: operation.subdistrict.clone(),
                        deadline: Some(timestamp(*due)),
                        marked_at: when,
                    },
                )
                .await
            }
            Record::FollowUpOpened { order } => {
                outbox::enqueue(
                    &mut *connection,
                    &resource,
                    &api::FollowUpOpened {
                        operation: resource.clone(),
                        case: case.clone(),
                        subdistrict_code: operation.subdistrict.clone(),
                        rectification_order: format!("{resource}/actions/{order}"),
                        opened_at: when,
                    },
                )
                .await
            }
        };
        enqueued.context(CONTEXT)?;
    }
    Ok(())
}

/// Enqueues `AgencyLate` for a summons the deadline worker marked late at
/// `at`.
pub async fn agency_late(
    connection: &mut PgConnection,
    late: &LateSummons,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let operation = format!("operations/{}", late.operation_id);
    tracing::info!(%operation, agency = %late.agency_code, "agency missed its report-in deadline");
    outbox::enqueue(
        connection,
        &operation,
        &api::AgencyLate {
            operation: operation.clone(),
            case: late.case_name.clone().unwrap_or_default(),
            agency: late.agency_code.clone(),
            subdistrict_code: late.subdistrict_code.clone(),
            block_code: late.block_code.clone().unwrap_or_default(),
            urgent: late.urgent,
            report_in_deadline: Some(timestamp(late.report_in_due)),
            marked_at: Some(timestamp(at)),
        },
    )
    .await
    .context("publishing a late summons")?;
    Ok(())
}
