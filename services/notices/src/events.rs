//! What the service publishes, and the one list of what it consumes.
//!
//! Published (through the outbox, in the transaction that records the
//! delivery): `flatgov.notices.feedback.sent` (FeedbackSent).
//!
//! Consumed, from the cases service, one durable consumer per subject:
//! each milestone's case event records one message due to the case's
//! reporter ([`MilestoneHandler`]). The row's key (case, milestone) and the
//! inbox make a redelivered or replayed event, or a later event of the same
//! milestone (a second dispatch), change nothing. A verification also starts
//! the wait for a rating that ends in a return visit ([`crate::return_visits`]);
//! a rating, a reopening or a closure settles it.

use std::sync::Arc;

use chrono::Utc;
use flatgov_messaging::{ConsumerSpec, Envelope, EventHandler, HandlerError};
use flatgov_proto::cases::v1::{
    CaseAccepted, CaseClosed, CaseDispatched, CaseRated, CaseReworked, CaseTransition,
    CaseVerified, Closure, ReworkTrigger,
};
use sqlx::PgConnection;
use tokio::sync::Notify;

use crate::domain::{Closure as ClosureKind, Milestone};
use crate::return_visits::ReturnVisitRules;
use crate::store::feedback::{self, NewFeedback};
use crate::store::return_visits::{self, Verified};

/// The cases events that mark milestones, with their consumers' names.
pub const CONSUMED: [(&str, &str); 6] = [
    (
        "flatgov.cases.case.dispatched",
        "notices-on-case-dispatched",
    ),
    ("flatgov.cases.case.accepted", "notices-on-case-accepted"),
    ("flatgov.cases.case.verified", "notices-on-case-verified"),
    ("flatgov.cases.case.rated", "notices-on-case-rated"),
    ("flatgov.cases.case.closed", "notices-on-case-closed"),
    ("flatgov.cases.case.reworked", "notices-on-case-reworked"),
];

/// Pullers per consumed subject in each process, sharing its durable
/// consumer: each applies one event per transaction (inbox row and message
/// together), so several at once keep up with a burst of case events — one
/// alone records a few dozen a second on a busy machine. Events of one
/// subject may then be applied out of order, as across replicas: the
/// handlers are written for that (the message's key, the earliest event's
/// details while unsent, sequence-guarded follow-ups).
pub const PULLERS_PER_SUBJECT: usize = 4;

/// The consumers of [`CONSUMED`].
pub fn consumers() -> Vec<ConsumerSpec> {
    CONSUMED
        .iter()
        .map(|(subject, durable)| ConsumerSpec::new(*durable, "cases", subject, "notices"))
        .collect()
}

/// Records the message a milestone's case event makes due, and wakes the
/// delivery worker.
pub struct MilestoneHandler {
    /// Notified as a message is recorded (just before the inbox commits):
    /// the worker looks at once, and again within its poll interval if it
    /// looked too early.
    pub wake: Arc<Notify>,
    /// When a verified case's return visit falls due.
    pub return_visits: Arc<ReturnVisitRules>,
}

/// A milestone read from a case event.
struct Marked {
    milestone: Milestone,
    transition: Option<CaseTransition>,
    handler: String,
    closure: Option<ClosureKind>,
}

fn read(event: &Envelope) -> Result<Option<Marked>, HandlerError> {
    let marked = if event.is::<CaseDispatched>() {
        let dispatched: CaseDispatched = event.decode()?;
        Marked {
            milestone: Milestone::Received,
            transition: dispatched.transition,
            handler: dispatched.assignee,
            closure: None,
        }
    } else if event.is::<CaseAccepted>() {
        let accepted: CaseAccepted = event.decode()?;
        Marked {
            milestone: Milestone::Accepted,
            transition: accepted.transition,
            handler: accepted.assignee,
            closure: None,
        }
    } else if event.is::<CaseVerified>() {
        let verified: CaseVerified = event.decode()?;
        Marked {
            milestone: Milestone::Resolved,
            transition: verified.transition,
            handler: String::new(),
            closure: None,
        }
    } else if event.is::<CaseClosed>() {
        let closed: CaseClosed = event.decode()?;
        let closure = match closed.closure() {
            Closure::Rated => Some(ClosureKind::Rated),
            Closure::Unsatisfied => Some(ClosureKind::Unsatisfied),
            Closure::Unrated => Some(ClosureKind::Unrated),
            Closure::Dismissed => Some(ClosureKind::Dismissed),
            Closure::Unspecified => None,
        };
        Marked {
            milestone: Milestone::Closed,
            transition: closed.transition,
            handler: String::new(),
            closure,
        }
    } else if event.is::<CaseReworked>() {
        let reworked: CaseReworked = event.decode()?;
        // Only the reopening after an unsatisfied rating concerns the
        // reporter; a failed verification is the handlers' business.
        if reworked.trigger() != ReworkTrigger::UnsatisfiedRating {
            return Ok(None);
        }
        Marked {
            milestone: Milestone::Reopened,
            transition: reworked.transition,
            handler: String::new(),
            closure: None,
        }
    } else {
        return Err(HandlerError::Reject(format!(
            "the notices service does not consume {}",
            event.event_type
        )));
    };
    Ok(Some(marked))
}

impl EventHandler for MilestoneHandler {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        if event.is::<CaseRated>() {
            let rated: CaseRated = event.decode()?;
            let transition = rated
                .transition
                .ok_or_else(|| HandlerError::Reject("the event carries no transition".into()))?;
            let case_id = case_id(&transition)?;
            return_visits::settle(connection, case_id, sequence(&transition)).await?;
            return Ok(());
        }
        let Some(marked) = read(event)? else {
            return Ok(());
        };
        let transition = marked
            .transition
            .ok_or_else(|| HandlerError::Reject("the event carries no transition".into()))?;
        let case_id = case_id(&transition)?;
        let sequence = sequence(&transition);
        let occurred_time = transition
            .occurred_at
            .as_ref()
            .and_then(|time| flatgov_grpc::time::instant(time).ok())
            .or(event.time)
            .unwrap_or_else(Utc::now);
        let follow_up = match marked.milestone {
            Milestone::Resolved => {
                let verified = Verified {
                    case_id,
                    sequence,
                    block_code: transition.block_code.clone(),
                    subdistrict_code: transition.subdistrict_code.clone(),
                    verified_time: occurred_time,
                    visit_due_time: self
                        .return_visits
                        .deadline(occurred_time, self.return_visits.after),
                };
                return_visits::record_verified(connection, &verified).await
            }
            Milestone::Closed | Milestone::Reopened => {
                return_visits::settle(connection, case_id, sequence).await
            }
            Milestone::Received | Milestone::Accepted | Milestone::ReturnVisit => Ok(()),
        };
        follow_up?;
        let due = NewFeedback {
            case_id,
            milestone: marked.milestone,
            block_code: transition.block_code,
            subdistrict_code: transition.subdistrict_code,
            handler: marked.handler,
            closure: marked.closure,
            occurred_time,
        };
        let new = feedback::insert_if_absent(connection, &due).await?;
        if new {
            tracing::info!(case = %case_id, milestone = %marked.milestone, "feedback due");
            self.wake.notify_one();
        } else {
            tracing::debug!(case = %case_id, milestone = %marked.milestone, "feedback already due or sent");
        }
        Ok(())
    }
}

fn case_id(transition: &CaseTransition) -> Result<uuid::Uuid, HandlerError> {
    flatgov_vocabulary::parse_id::<uuid::Uuid>(&transition.case, "cases")
        .map_err(|error| HandlerError::Reject(format!("case: {error}")))
}

/// The case's record number, as the store keeps it.
fn sequence(transition: &CaseTransition) -> i32 {
    i32::try_from(transition.sequence).unwrap_or(i32::MAX)
}
