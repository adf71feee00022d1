//! The case aggregate: its states and the transitions between them, as a pure state machine.
//!
//! A case is created by [`Case::report`] and changed only by [`Case::apply`], which takes
//! who acts ([`Actor`]), what they ask ([`Command`]) and when, checks the guards, and
//! returns the [`TransitionRecord`]s the store persists and publishes (one per state step;
//! only a rating that reopens or closes the case takes two). A refused command returns a
//! [`TransitionError`] naming the current state, the attempted command and the rule it
//! broke, and leaves the case exactly as it was.
//!
//! ```text
//!   reported ──triage──▶ triaged ──dispatch──▶ dispatched ──accept──▶ accepted ──start_work──▶ in_progress
//!      │                  ▲   │ (refuse_dispatch:                                                  │
//!      │ flag_location_   │   │  stays triaged)                                                resolve
//!      ▼ outside_blocks   │   ▼                                                                    ▼
//!   awaiting_manual_ ─────┘  closed (dismiss)          in_progress ◀──fail_verification── resolved
//!   location (triage by hand)                               ▲                                      │
//!                                                           │ first unsatisfied            pass_verification
//!                                                           │ rating (rework, once)                ▼
//!   closed ◀──close── rated ◀──rate (satisfied / basically satisfied / unsatisfied)──── verified
//!      ▲                │ second unsatisfied rating                                         │
//!      └────────────────┘                               verified ──close_unrated──▶ closed
//! ```
//!
//! Side moves while the case is with its handler (dispatched, accepted, in progress):
//! `escalate` (front line → coordination meeting → whistle; overdue or manual) and
//! `reassign` (an override, with a reason) send it back to `dispatched` with a new
//! assignment; `reclassify` sends it back to `triaged`; `request_extension`, then
//! `approve_extension` or `deny_extension`, move the resolution deadline or not;
//! `mark_overdue` flags a passed deadline once; `extend_by_decision` moves the resolution
//! deadline on a coordination meeting's word. `park` (from triaged or with a handler)
//! puts it in the 挂账 register, `park` again while parked (a review) keeps it there with a
//! new reason and review date, and `unpark` returns it to where it was. `rehome` follows a
//! block boundary change in any open state. `record_me_too` counts a linked report.
//!
//! # Guards
//!
//! - Accept, start work, resolve and request an extension: only the current assignee (the
//!   staff member, or a member of the assigned unit, or the system relaying that unit's
//!   own service's events).
//! - Verify (pass or fail): a staff member who neither resolved the case nor is its
//!   personal assignee. Which staff may verify where (the block's supervisor, the platform)
//!   is the API's jurisdiction check.
//! - Rate: only a verified case; the resident, or a staff member recording the resident's
//!   rating who did not resolve or handle it; never the system.
//! - Extension decisions: a staff member other than the one who asked.
//! - Dispatching, escalating and reassigning check the new deadlines are after `at` and
//!   that resolution is not due before acceptance. An overdue escalation or flag checks the
//!   deadline really passed, and each deadline is flagged at most once.
//! - Overrides (reclassify, manual escalation), parking, unparking, dismissal and placing a
//!   case by hand need a staff member and a reason. The system unparks too, but only once
//!   the register's review date has come (China time).
//! - An escalation because a meeting action is overdue checks the action's due date passed.
//! - A meeting's extension needs a staff member and a later deadline; it replaces any
//!   pending request. A reassignment needs a reason and a
//!   staff member or the system (which hands a case over on another service's word: a
//!   federation organisation accepted a referral, a joint operation was cancelled).
//! - The duty-list gate's refusal is recorded while the case is triaged (a refused
//!   dispatch) or with a handler (a refused reassignment); the case does not move.

mod command;
mod record;
mod refusal;
mod transitions;
mod vocabulary;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use command::{Command, EscalationTrigger, ExtensionRequest, NewCase, Parking, Place};
pub use record::{Action, Actor, Assignee, Assignment, EscalationCause, TransitionRecord};
pub use refusal::{Refusal, TransitionError};
pub use vocabulary::{
    CaseKind, CaseState, Channel, Closure, CommandKind, DeadlineKind, Rating, ReworkTrigger, Tier,
};

use crate::domain::geo::GeoPoint;
use crate::domain::values::{BlockName, CaseId, Matter, Reason};

/// The case aggregate. Build it with [`Case::report`] (or [`Case::restore`] from storage)
/// and change it with [`Case::apply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CaseSnapshot", into = "CaseSnapshot")]
pub struct Case {
    /// The snapshot's fields are the case's fields; `Case` only guards who changes them.
    inner: CaseSnapshot,
}

/// Every field of a case, for the store to save and load. [`Case::restore`] checks the
/// fields agree with each other before a snapshot becomes a case again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSnapshot {
    /// The case's id.
    pub id: CaseId,
    /// How many records the case has produced (the sequence of the last): the store's
    /// optimistic-concurrency version.
    pub version: u32,
    /// Where it stands.
    pub state: CaseState,
    /// What kind of case.
    pub kind: CaseKind,
    /// Which channel it came by.
    pub channel: Channel,
    /// What matter (classified at triage at the latest).
    pub matter: Matter,
    /// The reported point, if any.
    pub location: Option<GeoPoint>,
    /// The block, once known.
    pub block: Option<BlockName>,
    /// The tier, once triaged.
    pub tier: Option<Tier>,
    /// The current handler and deadlines, once dispatched (cleared by reclassification).
    pub assignment: Option<Assignment>,
    /// Who resolved it, while it is resolved or later.
    pub resolved_by: Option<Actor>,
    /// Reworks so far (failed verifications plus the reopening).
    pub rework_count: u32,
    /// Whether the one reopening after an unsatisfied rating has been used.
    pub reopened_after_rating: bool,
    /// Extensions granted so far.
    pub extensions_granted: u32,
    /// An extension waiting for a decision.
    pub pending_extension: Option<ExtensionRequest>,
    /// The register entry, while parked.
    pub parking: Option<Parking>,
    /// Deadlines of the current assignment already flagged overdue.
    pub overdue_marked: BTreeSet<DeadlineKind>,
    /// The duty-list gate's last refusal, shown until a dispatch succeeds.
    pub dispatch_refusal: Option<Reason>,
    /// "Me too" reports linked to the case.
    pub me_too_count: u32,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// The latest rating.
    pub rating: Option<Rating>,
    /// How it was closed, once closed.
    pub closure: Option<Closure>,
}

/// A snapshot whose fields contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case {id} in state {state} is inconsistent: {problem}")]
pub struct InconsistentCase {
    /// The case.
    pub id: CaseId,
    /// Its recorded state.
    pub state: CaseState,
    /// What contradicts it.
    pub problem: &'static str,
}

impl TryFrom<CaseSnapshot> for Case {
    type Error = InconsistentCase;

    fn try_from(snapshot: CaseSnapshot) -> Result<Self, Self::Error> {
        Case::restore(snapshot)
    }
}

impl From<Case> for CaseSnapshot {
    fn from(case: Case) -> Self {
        case.inner
    }
}

/// The states a case can be parked from.
fn is_parkable(state: CaseState) -> bool {
    state == CaseState::Triaged || state.is_with_handler()
}

impl Case {
    /// Receives a report: the case starts in `reported`, with its first record.
    pub fn report(new_case: NewCase, actor: Actor, at: DateTime<Utc>) -> (Case, TransitionRecord) {
        let (location, block) = match new_case.place {
            Place::Point(point) => (Some(point), None),
            Place::Block(block) => (None, Some(block)),
            Place::PointInBlock { point, block } => (Some(point), Some(block)),
        };
        let inner = CaseSnapshot {
            id: new_case.id,
            version: 1,
            state: CaseState::Reported,
            kind: new_case.kind,
            channel: new_case.channel,
            matter: new_case.matter,
            location,
            block,
            tier: None,
            assignment: None,
            resolved_by: None,
            rework_count: 0,
            reopened_after_rating: false,
            extensions_granted: 0,
            pending_extension: None,
            parking: None,
            overdue_marked: BTreeSet::new(),
            dispatch_refusal: None,
            me_too_count: 0,
            reported_at: at,
            rating: None,
            closure: None,
        };
        let record = TransitionRecord {
            case_id: inner.id,
            sequence: 1,
            from: None,
            to: CaseState::Reported,
            action: Action::Reported {
                kind: inner.kind,
                channel: inner.channel,
                matter: inner.matter.clone(),
                block: inner.block.clone(),
            },
            actor,
            reason: None,
            at,
        };
        (Case { inner }, record)
    }

    /// Rebuilds a case from a stored snapshot, checking its fields agree.
    pub fn restore(snapshot: CaseSnapshot) -> Result<Case, InconsistentCase> {
        let state = snapshot.state;
        let inconsistent = |problem| InconsistentCase {
            id: snapshot.id,
            state,
            problem,
        };
        let dispatched_or_later = state.is_with_handler()
            || matches!(
                state,
                CaseState::Resolved | CaseState::Verified | CaseState::Rated
            );
        if snapshot.version == 0 {
            return Err(inconsistent(
                "version 0: every case has at least its report record",
            ));
        }
        if (state == CaseState::Triaged || dispatched_or_later)
            && (snapshot.block.is_none()
                || snapshot.tier.is_none()
                || snapshot.matter.code().is_none())
        {
            return Err(inconsistent(
                "a triaged case needs a block, a tier and a classified matter",
            ));
        }
        if dispatched_or_later && snapshot.assignment.is_none() {
            return Err(inconsistent("a dispatched case needs an assignment"));
        }
        let resolved_or_later = matches!(
            state,
            CaseState::Resolved | CaseState::Verified | CaseState::Rated
        );
        if resolved_or_later && snapshot.resolved_by.is_none() {
            return Err(inconsistent("a resolved case needs its resolver"));
        }
        if snapshot.pending_extension.is_some() && !state.is_with_handler() {
            return Err(inconsistent(
                "only a case with a handler can have a pending extension",
            ));
        }
        match (&snapshot.parking, state) {
            (None, CaseState::Parked) => {
                return Err(inconsistent("a parked case needs its register entry"));
            }
            (Some(parking), CaseState::Parked) if !is_parkable(parking.resume_to) => {
                return Err(inconsistent(
                    "a parked case must resume to triaged or a handler state",
                ));
            }
            (Some(_), other) if other != CaseState::Parked => {
                return Err(inconsistent("only a parked case has a register entry"));
            }
            _ => {}
        }
        if (snapshot.closure.is_some()) != (state == CaseState::Closed) {
            return Err(inconsistent(
                "a case has a closure exactly when it is closed",
            ));
        }
        if state == CaseState::Rated && snapshot.rating.is_none() {
            return Err(inconsistent("a rated case needs its rating"));
        }
        Ok(Case { inner: snapshot })
    }

    /// Every field, for the store.
    pub fn snapshot(&self) -> &CaseSnapshot {
        &self.inner
    }

    /// The case's id.
    pub fn id(&self) -> CaseId {
        self.inner.id
    }

    /// How many records the case has produced.
    pub fn version(&self) -> u32 {
        self.inner.version
    }

    /// Where the case stands.
    pub fn state(&self) -> CaseState {
        self.inner.state
    }

    /// What kind of case.
    pub fn kind(&self) -> CaseKind {
        self.inner.kind
    }

    /// Which channel it came by.
    pub fn channel(&self) -> Channel {
        self.inner.channel
    }

    /// What matter.
    pub fn matter(&self) -> &Matter {
        &self.inner.matter
    }

    /// The reported point, if any.
    pub fn location(&self) -> Option<&GeoPoint> {
        self.inner.location.as_ref()
    }

    /// The block, once known.
    pub fn block(&self) -> Option<&BlockName> {
        self.inner.block.as_ref()
    }

    /// The tier, once triaged.
    pub fn tier(&self) -> Option<Tier> {
        self.inner.tier
    }

    /// The current handler and deadlines.
    pub fn assignment(&self) -> Option<&Assignment> {
        self.inner.assignment.as_ref()
    }

    /// Who resolved it (while resolved, verified or rated).
    pub fn resolved_by(&self) -> Option<&Actor> {
        self.inner.resolved_by.as_ref()
    }

    /// Reworks so far.
    pub fn rework_count(&self) -> u32 {
        self.inner.rework_count
    }

    /// Whether the one reopening after an unsatisfied rating has been used.
    pub fn reopened_after_rating(&self) -> bool {
        self.inner.reopened_after_rating
    }

    /// Extensions granted so far.
    pub fn extensions_granted(&self) -> u32 {
        self.inner.extensions_granted
    }

    /// An extension waiting for a decision.
    pub fn pending_extension(&self) -> Option<&ExtensionRequest> {
        self.inner.pending_extension.as_ref()
    }

    /// The register entry, while parked.
    pub fn parking(&self) -> Option<&Parking> {
        self.inner.parking.as_ref()
    }

    /// Whether `deadline` of the current assignment has been flagged overdue.
    pub fn is_marked_overdue(&self, deadline: DeadlineKind) -> bool {
        self.inner.overdue_marked.contains(&deadline)
    }

    /// The duty-list gate's last refusal, until a dispatch succeeds.
    pub fn dispatch_refusal(&self) -> Option<&Reason> {
        self.inner.dispatch_refusal.as_ref()
    }

    /// Whether the case waits for a dispatcher to place it by hand (its point is outside
    /// every block).
    pub fn needs_manual_location(&self) -> bool {
        self.inner.state == CaseState::AwaitingManualLocation
    }

    /// "Me too" reports linked to the case.
    pub fn me_too_count(&self) -> u32 {
        self.inner.me_too_count
    }

    /// When it was reported.
    pub fn reported_at(&self) -> DateTime<Utc> {
        self.inner.reported_at
    }

    /// The latest rating.
    pub fn rating(&self) -> Option<Rating> {
        self.inner.rating
    }

    /// How it was closed.
    pub fn closure(&self) -> Option<Closure> {
        self.inner.closure
    }

    /// Performs `command` for `actor` at `at`, returning the records of the transition
    /// (one, or two for a rating that reopens or closes the case). On refusal the case is
    /// unchanged.
    pub fn apply(
        &mut self,
        actor: Actor,
        command: Command,
        at: DateTime<Utc>,
    ) -> Result<Vec<TransitionRecord>, TransitionError> {
        let mut next = self.clone();
        let attempted = command.kind();
        let state = self.inner.state;
        let records = next
            .inner
            .decide(actor, command, at)
            .map_err(|refusal| TransitionError {
                state,
                attempted,
                refusal,
            })?;
        *self = next;
        Ok(records)
    }
}

#[cfg(test)]
mod tests;
