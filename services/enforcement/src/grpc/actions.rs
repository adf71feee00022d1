//! What agencies record in an operation: inspections, rectification
//! orders and their checks, penalty decisions, seizures, referrals.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::time;
use flatgov_proto::enforcement::v1 as api;
use flatgov_proto::enforcement::v1::record_action_request::Details;

use super::parse::{finish, optional, retry};
use super::{EnforcementService, render};
use crate::access;
use crate::application::actions::RecordAction;
use crate::domain::action::{self, ActionDetails, Attachment};
use crate::domain::{ActionName, Marking, OperationName, Text, parse_agency};
use crate::error::Error;
use flatgov_grpc::clock::Received;

/// The request as a command, every field checked. A rectification
/// deadline must lie ahead of `now`, the time of the service's clock when
/// the request arrived: the one time the parse depends on, so it is handed
/// in rather than read from the system clock.
impl TryFrom<Received<api::RecordActionRequest>> for RecordAction {
    type Error = Error;

    fn try_from(received: Received<api::RecordActionRequest>) -> Result<Self, Error> {
        let Received { request, at: now } = received;
        let fingerprint = Fingerprint::of(&request);
        let mut violations = Violations::new();
        let operation = violations.check("operation", OperationName::parse(&request.operation));
        let retry = retry(&mut violations, &request.request_id, fingerprint);
        let agency = optional(&mut violations, "agency", &request.agency, parse_agency);
        let summary =
            violations.check("summary", Text::required("summary", &request.summary, 2000));
        let notes = violations.check("notes", Text::optional("notes", &request.notes, 4000));
        let notes_marking = marking(&mut violations, "notes_marking", request.notes_marking);
        let details_marking = marking(&mut violations, "details_marking", request.details_marking);
        // The older flag says the same as RESTRICTED; with OPEN it
        // contradicts itself.
        let notes_marking = match notes_marking {
            Some(Marking::Open) if request.notes_sensitive => {
                violations.add(
                    "notes_marking",
                    "notes marked open cannot also be notes_sensitive",
                );
                None
            }
            Some(_) if request.notes_sensitive => Some(Marking::Restricted),
            other => other,
        };
        if request.attachments.len() > Attachment::MAX_PER_ACTION {
            violations.add(
                "attachments",
                format!(
                    "at most {} attachments per action",
                    Attachment::MAX_PER_ACTION
                ),
            );
        }
        let attachments: Vec<Option<Attachment>> = request
            .attachments
            .iter()
            .enumerate()
            .map(|(index, attachment)| {
                Attachment::parse(
                    &attachment.uri,
                    &attachment.media_type,
                    &attachment.description,
                    &attachment.sha256,
                )
                .map_err(|error| {
                    violations.add(format!("attachments[{index}].{}", error.field()), &error)
                })
                .ok()
            })
            .collect();
        let details = details(
            &mut violations,
            request.details.as_ref(),
            operation.as_ref(),
            now,
        );
        finish(violations, || {
            Some(RecordAction {
                operation: operation?,
                retry: retry?,
                agency: agency?,
                summary: summary?,
                notes: notes?,
                notes_marking: notes_marking?,
                details_marking: details_marking?,
                details: details?,
                attachments: attachments.into_iter().collect::<Option<_>>()?,
            })
        })
    }
}

/// A marking as sent: unspecified (the agency's default), restricted or
/// open.
fn marking(violations: &mut Violations, field: &str, value: i32) -> Option<Marking> {
    match api::Marking::try_from(value) {
        Ok(api::Marking::Unspecified) => Some(Marking::AgencyDefault),
        Ok(api::Marking::Restricted) => Some(Marking::Restricted),
        Ok(api::Marking::Open) => Some(Marking::Open),
        Err(_) => {
            violations.add(field, format!("unknown marking {value}"));
            None
        }
    }
}

/// The kind-specific part of an action, each field checked. A check must
/// name an action of `operation` (the one the request is about).
fn details(
    violations: &mut Violations,
    details: Option<&Details>,
    operation: Option<&OperationName>,
    now: DateTime<Utc>,
) -> Option<ActionDetails> {
    let Some(details) = details else {
        violations.add(
            "details",
            "exactly one of inspection, rectification_order, penalty_decision, seizure, referral or rectification_check is required",
        );
        return None;
    };
    match details {
        Details::Inspection(inspection) => {
            let findings = violations.check(
                "inspection.findings",
                Text::optional("findings", &inspection.findings, 2000),
            );
            Some(ActionDetails::Inspection {
                findings: findings?.into_string(),
                violation_found: inspection.violation_found,
            })
        }
        Details::RectificationOrder(order) => {
            let requirement = violations.check(
                "rectification_order.requirement",
                Text::required("requirement", &order.requirement, 2000),
            );
            let deadline = violations.check(
                "rectification_order.deadline",
                action::rectification_deadline(
                    order
                        .deadline
                        .as_ref()
                        .and_then(|deadline| time::instant(deadline).ok()),
                    now,
                ),
            );
            let document = violations.check(
                "rectification_order.document_number",
                Text::optional("document number", &order.document_number, 64),
            );
            Some(ActionDetails::RectificationOrder {
                requirement: requirement?.into_string(),
                deadline: deadline?,
                document_number: document?.into_string(),
            })
        }
        Details::PenaltyDecision(decision) => {
            let legal_basis = violations.check(
                "penalty_decision.legal_basis",
                Text::required("legal basis", &decision.legal_basis, 500),
            );
            let penalty = violations.check(
                "penalty_decision.penalty",
                Text::optional("penalty", &decision.penalty, 200),
            );
            let fine = violations.check(
                "penalty_decision.fine_fen",
                action::fine_fen(decision.fine_fen),
            );
            let number = violations.check(
                "penalty_decision.decision_number",
                Text::optional("decision number", &decision.decision_number, 64),
            );
            Some(ActionDetails::PenaltyDecision {
                legal_basis: legal_basis?.into_string(),
                penalty: penalty?.into_string(),
                fine_fen: fine?,
                decision_number: number?.into_string(),
            })
        }
        Details::Seizure(seizure) => {
            let items = violations.check(
                "seizure.items",
                Text::required("items", &seizure.items, 2000),
            );
            let legal_basis = violations.check(
                "seizure.legal_basis",
                Text::required("legal basis", &seizure.legal_basis, 500),
            );
            let document = violations.check(
                "seizure.document_number",
                Text::optional("document number", &seizure.document_number, 64),
            );
            Some(ActionDetails::Seizure {
                items: items?.into_string(),
                legal_basis: legal_basis?.into_string(),
                document_number: document?.into_string(),
            })
        }
        Details::Referral(referral) => {
            let referred_to = violations.check(
                "referral.referred_to",
                Text::required("referred to", &referral.referred_to, 200),
            );
            let reason = violations.check(
                "referral.reason",
                Text::optional("reason", &referral.reason, 1000),
            );
            Some(ActionDetails::Referral {
                referred_to: referred_to?.into_string(),
                reason: reason?.into_string(),
            })
        }
        Details::RectificationCheck(check) => {
            let order = violations.check(
                "rectification_check.rectification_order",
                ActionName::parse(&check.rectification_order),
            );
            if let (Some(order), Some(operation)) = (&order, operation)
                && order.operation != *operation
            {
                violations.add(
                    "rectification_check.rectification_order",
                    format!("{order} is an action of another operation"),
                );
            }
            let findings = violations.check(
                "rectification_check.findings",
                Text::optional("findings", &check.findings, 2000),
            );
            Some(ActionDetails::RectificationCheck {
                rectification_order: order?.id,
                complied: check.complied,
                findings: findings?.into_string(),
            })
        }
    }
}

pub(super) async fn record_action(
    service: &EnforcementService,
    access: &Access,
    request: api::RecordActionRequest,
) -> Result<api::Action, Error> {
    let command = RecordAction::try_from(Received::now(&service.app.clock, request))?;
    let recorded = service.app.record_action(access, command).await?;
    Ok(render::action(&recorded, &access::viewer(access)))
}
