//! What the service publishes (one event per recorded transition, plus the contract
//! events `CaseEscalated`, `CaseReferred` and `CaseOverdue`), and the one list of what it
//! consumes ([`CONSUMED`]).
//!
//! Events are written to the outbox in the transaction that makes the change, with the
//! case's resource name as the ordering key, so a case's events reach the stream in the
//! order of its records. They carry codes, states, staff ids and times; never the
//! reporter's contact, the description, the rating comment or (for needy-person and
//! errand cases, which are about a person) the location.

use chrono::{DateTime, Utc};
use flatgov_messaging::outbox;
use flatgov_proto::cases::v1 as proto;
use sqlx::PgConnection;

use crate::convert;
use crate::domain::lifecycle::{
    Action, Case, CaseKind, DeadlineKind, EscalationCause, TransitionRecord,
};
use crate::domain::units::{BlockCode, assignee_name};
use crate::store::StoredCase;

/// Every subject the service consumes, with its durable consumer name.
pub const CONSUMED: &[(&str, &str, &str)] = &[
    (
        "enforcement",
        "flatgov.enforcement.operation.concluded",
        "cases-on-operation-concluded",
    ),
    (
        "enforcement",
        "flatgov.enforcement.operation.cancelled",
        "cases-on-operation-cancelled",
    ),
    (
        "federation",
        "flatgov.federation.referral.accepted",
        "cases-on-referral-accepted",
    ),
    (
        "federation",
        "flatgov.federation.referral.declined",
        "cases-on-referral-declined",
    ),
    (
        "blocks",
        "flatgov.blocks.block_generation.activated",
        "cases-on-block-generation-activated",
    ),
    (
        "duties",
        "flatgov.duties.matter_catalogue.published",
        "cases-on-matter-catalogue-published",
    ),
    // The unrated closure after a return visit (crate::return_visits).
    (
        "notices",
        "flatgov.notices.return_visit.expired",
        "cases-on-return-visit-expired",
    ),
];

/// Facts a record does not hold that some events carry.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    /// The assignee before the transition (reassignments).
    pub previous_assignee: Option<String>,
    /// The matter before the transition (reclassification).
    pub previous_matter: Option<String>,
    /// The boundary generation behind a re-homing.
    pub generation: Option<String>,
    /// The channel of a linked "me too" report.
    pub me_too_channel: Option<crate::domain::lifecycle::Channel>,
}

impl EventContext {
    /// The context of a change from `before`.
    pub fn from_before(before: &Case) -> Self {
        Self {
            previous_assignee: before
                .assignment()
                .map(|assignment| assignee_name(&assignment.assignee)),
            previous_matter: before.matter().code().map(|code| code.to_string()),
            generation: None,
            me_too_channel: None,
        }
    }
}

/// Whether the case's location may be published: not for cases about a person.
fn publishable_location(
    stored: &StoredCase,
) -> Option<flatgov_proto::flatgov::r#type::v1::GeoPoint> {
    match stored.case.kind() {
        CaseKind::NeedyPersonSupport | CaseKind::Errand => None,
        CaseKind::Problem | CaseKind::SafetyHazard | CaseKind::Dispute => {
            stored.case.location().map(convert::geo_point)
        }
    }
}

fn transition(stored: &StoredCase, record: &TransitionRecord) -> proto::CaseTransition {
    let case = &stored.case;
    let block = stored.block();
    proto::CaseTransition {
        case: case.id().resource_name(),
        sequence: record.sequence,
        from_state: record
            .from
            .map(convert::case_state)
            .unwrap_or(proto::CaseState::Unspecified) as i32,
        to_state: convert::case_state(record.to) as i32,
        kind: convert::kind(case.kind()) as i32,
        matter_code: case
            .matter()
            .code()
            .map(|code| code.to_string())
            .unwrap_or_default(),
        block_code: block
            .as_ref()
            .map(|block| block.to_string())
            .unwrap_or_default(),
        community_code: block
            .as_ref()
            .map(|block| block.community().to_string())
            .unwrap_or_default(),
        subdistrict_code: block
            .as_ref()
            .map(|block| block.subdistrict().to_string())
            .unwrap_or_default(),
        tier: convert::optional_tier(case.tier()),
        actor: Some(convert::actor(&record.actor)),
        reason: record
            .reason
            .as_ref()
            .map(|reason| reason.to_string())
            .unwrap_or_default(),
        occurred_at: Some(convert::timestamp(record.at)),
    }
}

fn assignee_of(assignment: &crate::domain::lifecycle::Assignment) -> String {
    assignee_name(&assignment.assignee)
}

/// The `CaseEscalated` contract event for an escalation (or a triage straight to the
/// whistle).
pub fn escalated(
    stored: &StoredCase,
    record: &TransitionRecord,
    from_tier: Option<crate::domain::lifecycle::Tier>,
    to_tier: crate::domain::lifecycle::Tier,
    reason: proto::EscalationReason,
    assignment: Option<&crate::domain::lifecycle::Assignment>,
) -> proto::CaseEscalated {
    let block = stored.block();
    proto::CaseEscalated {
        case: stored.name(),
        from_tier: convert::optional_tier(from_tier),
        to_tier: convert::tier(to_tier) as i32,
        reason: reason as i32,
        matter_code: stored
            .case
            .matter()
            .code()
            .map(|code| code.to_string())
            .unwrap_or_default(),
        block_code: block.as_ref().map(BlockCode::to_string).unwrap_or_default(),
        subdistrict_code: block
            .as_ref()
            .map(|block| block.subdistrict().to_string())
            .unwrap_or_default(),
        location: publishable_location(stored),
        agencies: stored
            .extras
            .escalation_agencies
            .iter()
            .map(ToString::to_string)
            .collect(),
        urgent: stored.urgent,
        escalated_at: Some(convert::timestamp(record.at)),
        transition: Some(transition(stored, record)),
        assignee: assignment.map(assignee_of).unwrap_or_default(),
        acceptance_due: assignment.map(|assignment| convert::timestamp(assignment.acceptance_due)),
        resolution_due: assignment.map(|assignment| convert::timestamp(assignment.resolution_due)),
    }
}

/// `CaseReferred`: the federation may accept this needy-person case.
pub fn referred(stored: &StoredCase, at: DateTime<Utc>) -> proto::CaseReferred {
    let block = stored.block();
    proto::CaseReferred {
        case: stored.name(),
        kind: convert::kind(stored.case.kind()) as i32,
        matter_code: stored
            .case
            .matter()
            .code()
            .map(|code| code.to_string())
            .unwrap_or_default(),
        block_code: block.as_ref().map(BlockCode::to_string).unwrap_or_default(),
        subdistrict_code: block
            .as_ref()
            .map(|block| block.subdistrict().to_string())
            .unwrap_or_default(),
        referred_at: Some(convert::timestamp(at)),
        assignee: stored
            .case
            .assignment()
            .map(assignee_of)
            .unwrap_or_default(),
    }
}

/// `CaseOverdue` for the record of the escalation or the flag a passed deadline caused.
pub fn overdue(
    stored: &StoredCase,
    record: &TransitionRecord,
    deadline: DeadlineKind,
    due: DateTime<Utc>,
    previous_assignee: Option<String>,
    escalated: bool,
) -> proto::CaseOverdue {
    proto::CaseOverdue {
        transition: Some(transition(stored, record)),
        deadline: convert::deadline_kind(deadline) as i32,
        due: Some(convert::timestamp(due)),
        assignee: previous_assignee.unwrap_or_default(),
        escalated,
    }
}

/// `CaseParkingReviewReminded`: the register's review date returned the case (`record`).
pub fn parking_review_reminded(
    stored: &StoredCase,
    record: &TransitionRecord,
    review_on: &str,
) -> proto::CaseParkingReviewReminded {
    proto::CaseParkingReviewReminded {
        transition: Some(transition(stored, record)),
        review_on: review_on.to_owned(),
        platform: stored
            .block()
            .map(|block| format!("subdistricts/{}", block.subdistrict()))
            .unwrap_or_default(),
        assignee: stored
            .case
            .assignment()
            .map(assignee_of)
            .unwrap_or_default(),
    }
}

/// `MeetingActionOverdue` for an action found open after its deadline.
pub fn meeting_action_overdue(
    due: &crate::store::DueAction,
    meeting: &str,
    at: DateTime<Utc>,
    escalated: bool,
) -> proto::MeetingActionOverdue {
    proto::MeetingActionOverdue {
        action: due.action.name(meeting),
        meeting: meeting.to_owned(),
        case: due.case_id.resource_name(),
        subdistrict_code: due.subdistrict_code.clone(),
        owner: due.action.owner.clone(),
        due: Some(convert::timestamp(due.action.due)),
        overdue_at: Some(convert::timestamp(at)),
        escalated,
    }
}

/// Writes the events of `records` (already applied to `stored`) to the outbox.
pub async fn publish_records(
    connection: &mut PgConnection,
    stored: &StoredCase,
    records: &[TransitionRecord],
    context: &EventContext,
) -> Result<(), sqlx::Error> {
    let resource = stored.name();
    let resource = resource.as_str();
    for record in records {
        let header = || Some(transition(stored, record));
        match &record.action {
            Action::Reported { channel, .. } => {
                let event = proto::CaseReported {
                    transition: header(),
                    channel: convert::channel(*channel) as i32,
                    urgent: stored.urgent,
                    anonymous: stored.anonymous,
                    location: publishable_location(stored),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::LocationOutsideBlocks => {
                let event = proto::CaseLocationUnresolved {
                    transition: header(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Triaged { .. } => {
                let responsibility = stored.extras.responsibility.as_ref();
                let event = proto::CaseTriaged {
                    transition: header(),
                    lead: responsibility.map(|responsibility| convert::unit(&responsibility.lead)),
                    cooperating_departments: responsibility
                        .map(|responsibility| {
                            responsibility
                                .cooperating
                                .iter()
                                .map(ToString::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                    list_item_code: responsibility
                        .map(|responsibility| responsibility.list_item_code.clone())
                        .unwrap_or_default(),
                    manual: record.actor.staff_id().is_some(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::DispatchRefused => {
                let refusal = stored.extras.refusal.as_ref();
                let event = proto::CaseDispatchRefused {
                    transition: header(),
                    attempted_assignee: refusal
                        .map(|refusal| refusal.attempted_assignee.clone())
                        .unwrap_or_default(),
                    reason_code: refusal
                        .map(|refusal| refusal.reason_code.clone())
                        .unwrap_or_default(),
                    responsible_instead: refusal
                        .and_then(|refusal| refusal.responsible_instead.as_ref())
                        .map(convert::unit),
                    refusal: refusal
                        .map(|refusal| refusal.refusal.clone())
                        .unwrap_or_default(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Dispatched { assignment, .. } => {
                let event = proto::CaseDispatched {
                    transition: header(),
                    assignee: assignee_of(assignment),
                    acceptance_due: Some(convert::timestamp(assignment.acceptance_due)),
                    resolution_due: Some(convert::timestamp(assignment.resolution_due)),
                    fallback: stored.extras.dispatch_fallback,
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Reclassified { .. } => {
                let event = proto::CaseReclassified {
                    transition: header(),
                    previous_matter_code: context.previous_matter.clone().unwrap_or_default(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Accepted => {
                let event = proto::CaseAccepted {
                    transition: header(),
                    assignee: stored
                        .case
                        .assignment()
                        .map(assignee_of)
                        .unwrap_or_default(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::WorkStarted => {
                let event = proto::CaseWorkStarted {
                    transition: header(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Resolved => {
                let event = proto::CaseResolved {
                    transition: header(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Verified => {
                let event = proto::CaseVerified {
                    transition: header(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Reworked {
                trigger,
                resolution_due,
            } => {
                let event = proto::CaseReworked {
                    transition: header(),
                    trigger: convert::rework_trigger(*trigger) as i32,
                    resolution_due: Some(convert::timestamp(*resolution_due)),
                    rework_count: stored.case.rework_count(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Rated { rating } => {
                let event = proto::CaseRated {
                    transition: header(),
                    rating: convert::rating(*rating) as i32,
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Closed { closure } => {
                let event = proto::CaseClosed {
                    transition: header(),
                    closure: convert::closure(*closure) as i32,
                    rating: stored
                        .case
                        .rating()
                        .map(convert::rating)
                        .unwrap_or(proto::Rating::Unspecified) as i32,
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::ExtensionRequested { until } => {
                let event = proto::CaseExtensionRequested {
                    transition: header(),
                    requested_until: Some(convert::timestamp(*until)),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::ExtensionApproved { resolution_due } => {
                let event = proto::CaseExtensionDecided {
                    transition: header(),
                    approved: true,
                    resolution_due: Some(convert::timestamp(*resolution_due)),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::ExtensionDenied => {
                let event = proto::CaseExtensionDecided {
                    transition: header(),
                    approved: false,
                    resolution_due: stored
                        .case
                        .assignment()
                        .map(|assignment| convert::timestamp(assignment.resolution_due)),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Parked { review_on } => {
                let event = proto::CaseParked {
                    transition: header(),
                    review_on: review_on.format("%Y-%m-%d").to_string(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Unparked { resolution_due } => {
                let event = proto::CaseUnparked {
                    transition: header(),
                    resolution_due: resolution_due.map(convert::timestamp),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Escalated {
                from_tier,
                to_tier,
                cause,
                assignment,
            } => {
                let reason = match cause {
                    EscalationCause::Overdue { .. } => proto::EscalationReason::Overdue,
                    EscalationCause::Manual => proto::EscalationReason::Manual,
                    EscalationCause::MeetingActionOverdue { .. } => {
                        proto::EscalationReason::MeetingActionOverdue
                    }
                };
                let event = escalated(
                    stored,
                    record,
                    Some(*from_tier),
                    *to_tier,
                    reason,
                    Some(assignment),
                );
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Reassigned { assignment, .. } => {
                let event = proto::CaseReassigned {
                    transition: header(),
                    assignee: assignee_of(assignment),
                    previous_assignee: context.previous_assignee.clone().unwrap_or_default(),
                    acceptance_due: Some(convert::timestamp(assignment.acceptance_due)),
                    resolution_due: Some(convert::timestamp(assignment.resolution_due)),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::Rehomed {
                from_block,
                to_block,
                assignment,
            } => {
                let code = |name: &crate::domain::values::BlockName| {
                    name.code()
                        .map(|code| code.to_string())
                        .unwrap_or_else(|| name.to_string())
                };
                let event = proto::CaseRehomed {
                    transition: header(),
                    from_block_code: code(from_block),
                    to_block_code: code(to_block),
                    generation: context.generation.clone().unwrap_or_default(),
                    assignee: assignment.as_ref().map(assignee_of).unwrap_or_default(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::MarkedOverdue { deadline, due } => {
                let event = overdue(
                    stored,
                    record,
                    *deadline,
                    *due,
                    stored.case.assignment().map(assignee_of),
                    false,
                );
                outbox::enqueue(connection, resource, &event).await?;
            }
            Action::MeTooLinked => {
                let event = proto::CaseMeTooLinked {
                    transition: header(),
                    channel: convert::channel(
                        context.me_too_channel.unwrap_or(stored.case.channel()),
                    ) as i32,
                    me_too_count: stored.case.me_too_count(),
                };
                outbox::enqueue(connection, resource, &event).await?;
            }
        }
    }
    Ok(())
}
