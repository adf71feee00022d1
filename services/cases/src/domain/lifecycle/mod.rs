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
//! `mark_overdue` flags a passed deadline once. `park` (from triaged or with a handler)
//! puts it in the 挂账 register and `unpark` returns it to where it was. `rehome` follows a
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
//!   case by hand need a staff member and a reason. A reassignment needs a reason and a
//!   staff member or the system (which hands a case over on another service's word: a
//!   federation organisation accepted a referral, a joint operation was cancelled).
//! - The duty-list gate's refusal is recorded while the case is triaged (a refused
//!   dispatch) or with a handler (a refused reassignment); the case does not move.

mod record;
mod vocabulary;

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use record::{Action, Actor, Assignee, Assignment, EscalationCause, TransitionRecord};
pub use vocabulary::{
    CaseKind, CaseState, Channel, Closure, CommandKind, DeadlineKind, Rating, ReworkTrigger, Tier,
};

use crate::domain::calendar::to_china_local;
use crate::domain::geo::GeoPoint;
use crate::domain::values::{BlockName, CaseId, Matter, MatterCode, Reason};

/// Where a report says the matter is: a point, a block, or both.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// A point; triage finds the block.
    Point(GeoPoint),
    /// A block named by the reporter (a governor on patrol); no point.
    Block(BlockName),
    /// A point and the block it is in.
    PointInBlock {
        /// The point.
        point: GeoPoint,
        /// Its block.
        block: BlockName,
    },
}

/// What a new report brings (personal data — contact, description — stays with the store).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    /// The id the store chose (a retried report with the same request id reuses it).
    pub id: CaseId,
    /// What kind of case.
    pub kind: CaseKind,
    /// Which channel.
    pub channel: Channel,
    /// The matter, or unclassified for triage.
    pub matter: Matter,
    /// Where.
    pub place: Place,
}

/// An extension the handler asked for and nobody has decided on yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequest {
    /// The resolution deadline asked for.
    pub until: DateTime<Utc>,
    /// Who asked (they may not decide on it).
    pub requested_by: Actor,
}

/// A case's entry in the 挂账 register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parking {
    /// Why it cannot be solved now.
    pub reason: Reason,
    /// When the register reviews it.
    pub review_on: NaiveDate,
    /// The state it returns to when unparked.
    pub resume_to: CaseState,
}

/// Why a case is escalated, as asked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscalationTrigger {
    /// A deadline passed; the case checks that it did.
    Overdue(DeadlineKind),
    /// A dispatcher decided, for this reason.
    Manual(Reason),
}

/// What someone asks a case to do. [`Case::apply`] checks and performs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Place the case: block, matter, tier (reported → triaged; from
    /// awaiting_manual_location by a staff member only).
    Triage {
        /// The block responsible.
        block: BlockName,
        /// The matter from the duty catalogue.
        matter: MatterCode,
        /// The tier.
        tier: Tier,
    },
    /// The reported point lies outside every block (reported → awaiting_manual_location).
    FlagLocationOutsideBlocks,
    /// Assign the triaged case (triaged → dispatched).
    Dispatch {
        /// Handler and deadlines.
        assignment: Assignment,
    },
    /// The duty-list gate refused a dispatch (the case stays triaged) or a reassignment
    /// (the case stays with its handler); the case shows why.
    RefuseDispatch {
        /// The gate's reason.
        reason: Reason,
    },
    /// Change matter and tier by hand; responsibility is resolved again (→ triaged).
    Reclassify {
        /// The new matter.
        matter: MatterCode,
        /// The new tier.
        tier: Tier,
        /// Why.
        reason: Reason,
    },
    /// The assignee accepts (dispatched → accepted).
    Accept,
    /// The assignee starts work (accepted → in_progress).
    StartWork,
    /// The assignee says it is solved (in_progress → resolved).
    Resolve,
    /// Verification confirms the solution (resolved → verified).
    PassVerification,
    /// Verification finds it not solved: rework (resolved → in_progress).
    FailVerification {
        /// What is still wrong.
        reason: Reason,
        /// The rework's resolution deadline.
        rework_due: DateTime<Utc>,
    },
    /// The resident's rating (verified → rated; unsatisfied: then → in_progress the first
    /// time, → closed the second).
    Rate {
        /// The rating.
        rating: Rating,
        /// The rework's resolution deadline, used only if an unsatisfied rating reopens
        /// the case (compute it with [`crate::domain::sla::SlaPolicy::rework_deadline`]).
        due_if_reopened: DateTime<Utc>,
    },
    /// Close after the rating and feedback (rated → closed).
    Close,
    /// Close a verified case that got no rating (verified → closed).
    CloseUnrated {
        /// Why there is no rating (anonymous report, no answer after N calls…).
        reason: Reason,
    },
    /// Close before dispatch as not a matter for the service (→ closed).
    Dismiss {
        /// Why.
        reason: Reason,
    },
    /// The assignee asks for a later resolution deadline (延期).
    RequestExtension {
        /// The deadline asked for.
        until: DateTime<Utc>,
        /// Why.
        reason: Reason,
    },
    /// Grant the pending extension: the resolution deadline moves to what was asked.
    ApproveExtension,
    /// Refuse the pending extension.
    DenyExtension {
        /// Why.
        reason: Reason,
    },
    /// Put the case in the 挂账 register (from triaged or with a handler → parked).
    Park {
        /// Why it cannot be solved now.
        reason: Reason,
        /// When to review it (after today, China time).
        review_on: NaiveDate,
    },
    /// Take the case out of the register, back to the state it was parked from.
    Unpark {
        /// Why now.
        reason: Reason,
        /// A new resolution deadline (the old one may have passed while parked).
        resolution_due: Option<DateTime<Utc>>,
    },
    /// Move the case up a tier to a new handler (with a handler → dispatched).
    Escalate {
        /// Overdue or manual.
        trigger: EscalationTrigger,
        /// The higher tier's handler and deadlines.
        assignment: Assignment,
    },
    /// Override the assignee and optionally the tier (with a handler → dispatched).
    Reassign {
        /// The new handler and deadlines.
        assignment: Assignment,
        /// A new tier, or `None` to keep the tier.
        tier: Option<Tier>,
        /// Why.
        reason: Reason,
    },
    /// Follow a block boundary change (any open state with a block).
    Rehome {
        /// The new block.
        block: BlockName,
        /// The new block's team, if the case was with the old block's team (only for a
        /// case with a handler; it goes back to dispatched).
        assignment: Option<Assignment>,
        /// Why (e.g. which boundary generation).
        reason: Reason,
    },
    /// Flag a passed deadline that does not (or cannot) escalate, once.
    MarkOverdue {
        /// Which deadline.
        deadline: DeadlineKind,
    },
    /// Count a "me too" report linked to this open case.
    RecordMeToo,
}

impl Command {
    /// The command's name, for errors and logs.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Triage { .. } => CommandKind::Triage,
            Command::FlagLocationOutsideBlocks => CommandKind::FlagLocationOutsideBlocks,
            Command::Dispatch { .. } => CommandKind::Dispatch,
            Command::RefuseDispatch { .. } => CommandKind::RefuseDispatch,
            Command::Reclassify { .. } => CommandKind::Reclassify,
            Command::Accept => CommandKind::Accept,
            Command::StartWork => CommandKind::StartWork,
            Command::Resolve => CommandKind::Resolve,
            Command::PassVerification => CommandKind::PassVerification,
            Command::FailVerification { .. } => CommandKind::FailVerification,
            Command::Rate { .. } => CommandKind::Rate,
            Command::Close => CommandKind::Close,
            Command::CloseUnrated { .. } => CommandKind::CloseUnrated,
            Command::Dismiss { .. } => CommandKind::Dismiss,
            Command::RequestExtension { .. } => CommandKind::RequestExtension,
            Command::ApproveExtension => CommandKind::ApproveExtension,
            Command::DenyExtension { .. } => CommandKind::DenyExtension,
            Command::Park { .. } => CommandKind::Park,
            Command::Unpark { .. } => CommandKind::Unpark,
            Command::Escalate { .. } => CommandKind::Escalate,
            Command::Reassign { .. } => CommandKind::Reassign,
            Command::Rehome { .. } => CommandKind::Rehome,
            Command::MarkOverdue { .. } => CommandKind::MarkOverdue,
            Command::RecordMeToo => CommandKind::RecordMeToo,
        }
    }
}

/// A command was refused. Names the case's state, the command and the broken rule; the API
/// maps it to FAILED_PRECONDITION.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {attempted} a case that is {state}: {refusal}")]
pub struct TransitionError {
    /// The case's state when the command came.
    pub state: CaseState,
    /// The command.
    pub attempted: CommandKind,
    /// Which rule it broke.
    pub refusal: Refusal,
}

/// The rule a refused command broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The command does not apply in the case's state.
    #[error("not allowed in this state")]
    WrongState,
    /// Only the current assignee may do this.
    #[error("only the assignee ({assignee}) may do this, not {actor}")]
    NotTheAssignee {
        /// The current assignee.
        assignee: Assignee,
        /// Who tried.
        actor: Actor,
    },
    /// Only a staff member may do this.
    #[error("only a staff member may do this, not {actor}")]
    StaffOnly {
        /// Who tried.
        actor: Actor,
    },
    /// Ratings come from the resident (or staff recording theirs), not the system.
    #[error("only the resident, or staff recording the resident's rating, may rate, not {actor}")]
    NotARater {
        /// Who tried.
        actor: Actor,
    },
    /// Whoever resolved or personally handles a case cannot verify or rate it.
    #[error("{actor} resolved or handles this case and cannot judge their own work")]
    OwnWork {
        /// Who tried.
        actor: Actor,
    },
    /// An extension is already waiting for a decision.
    #[error("an extension until {until} is already waiting for a decision")]
    ExtensionPending {
        /// The pending request's deadline.
        until: DateTime<Utc>,
    },
    /// There is no extension to decide on.
    #[error("no extension is waiting for a decision")]
    NoExtensionPending,
    /// The one who asked for an extension cannot decide on it.
    #[error("{actor} asked for this extension and cannot decide on it")]
    OwnExtension {
        /// Who tried.
        actor: Actor,
    },
    /// An extension must move the deadline later.
    #[error("the extension until {until} is not later than the current deadline {current_due}")]
    ExtensionNotLater {
        /// The deadline asked for.
        until: DateTime<Utc>,
        /// The current resolution deadline.
        current_due: DateTime<Utc>,
    },
    /// A new deadline must lie in the future.
    #[error("the {deadline} deadline {due} is not after {at}")]
    DeadlineNotInFuture {
        /// Which deadline.
        deadline: DeadlineKind,
        /// The deadline given.
        due: DateTime<Utc>,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// Resolution cannot be due before acceptance.
    #[error("resolution due {resolution_due} is before acceptance due {acceptance_due}")]
    ResolutionBeforeAcceptance {
        /// The acceptance deadline given.
        acceptance_due: DateTime<Utc>,
        /// The resolution deadline given.
        resolution_due: DateTime<Utc>,
    },
    /// A parked case is reviewed on a later day.
    #[error("the review date {review_on} is not after today, {today}")]
    ReviewDateNotInFuture {
        /// The date given.
        review_on: NaiveDate,
        /// Today in China.
        today: NaiveDate,
    },
    /// The whistle is the highest tier.
    #[error("the case is already at the whistle, the highest tier")]
    AlreadyAtHighestTier,
    /// The deadline does not run in this state (acceptance after the case was accepted).
    #[error("the {deadline} deadline does not run in this state")]
    DeadlineNotRunning {
        /// Which deadline.
        deadline: DeadlineKind,
    },
    /// The deadline has not passed.
    #[error("the {deadline} deadline {due} has not passed at {at}")]
    NotOverdue {
        /// Which deadline.
        deadline: DeadlineKind,
        /// When it is due.
        due: DateTime<Utc>,
        /// The instant of the command.
        at: DateTime<Utc>,
    },
    /// The deadline was already flagged.
    #[error("the {deadline} deadline is already marked overdue")]
    AlreadyMarkedOverdue {
        /// Which deadline.
        deadline: DeadlineKind,
    },
    /// The case has no handler whose deadline could move.
    #[error("the case has no assignment")]
    NoAssignment,
    /// The case has no block yet.
    #[error("the case has no block yet")]
    NoBlock,
    /// Re-homing to the block the case is in.
    #[error("the case is already in block {block}")]
    SameBlock {
        /// The block.
        block: BlockName,
    },
    /// A reassignment to the same assignee at the same tier changes nothing.
    #[error("the assignee and the tier are unchanged")]
    NothingToChange,
    /// A new handler is only given to a case that is with a handler.
    #[error("only a case with a handler gets a new assignment on re-homing")]
    NotWithHandler,
}

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

/// The checks shared by several commands.
fn require_staff(actor: &Actor) -> Result<(), Refusal> {
    match actor {
        Actor::Staff { .. } => Ok(()),
        Actor::Resident | Actor::System => Err(Refusal::StaffOnly {
            actor: actor.clone(),
        }),
    }
}

fn require_state(allowed: bool) -> Result<(), Refusal> {
    if allowed {
        Ok(())
    } else {
        Err(Refusal::WrongState)
    }
}

fn require_future(
    deadline: DeadlineKind,
    due: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(), Refusal> {
    if due > at {
        Ok(())
    } else {
        Err(Refusal::DeadlineNotInFuture { deadline, due, at })
    }
}

fn check_assignment(assignment: &Assignment, at: DateTime<Utc>) -> Result<(), Refusal> {
    require_future(DeadlineKind::Acceptance, assignment.acceptance_due, at)?;
    if assignment.resolution_due < assignment.acceptance_due {
        return Err(Refusal::ResolutionBeforeAcceptance {
            acceptance_due: assignment.acceptance_due,
            resolution_due: assignment.resolution_due,
        });
    }
    Ok(())
}

impl CaseSnapshot {
    /// Moves to `to` and writes the record.
    fn step(
        &mut self,
        to: CaseState,
        action: Action,
        actor: &Actor,
        reason: Option<Reason>,
        at: DateTime<Utc>,
    ) -> TransitionRecord {
        let from = self.state;
        self.state = to;
        self.version += 1;
        TransitionRecord {
            case_id: self.id,
            sequence: self.version,
            from: Some(from),
            to,
            action,
            actor: actor.clone(),
            reason,
            at,
        }
    }

    fn current_assignment(&self) -> Result<&Assignment, Refusal> {
        self.assignment.as_ref().ok_or(Refusal::NoAssignment)
    }

    fn require_assignee(&self, actor: &Actor) -> Result<(), Refusal> {
        let assignment = self.current_assignment()?;
        if assignment.assignee.admits(actor) {
            Ok(())
        } else {
            Err(Refusal::NotTheAssignee {
                assignee: assignment.assignee.clone(),
                actor: actor.clone(),
            })
        }
    }

    /// The resolver and the personal assignee may not judge their own work.
    fn require_not_own_work(&self, actor: &Actor) -> Result<(), Refusal> {
        let resolved_it = self
            .resolved_by
            .as_ref()
            .is_some_and(|resolver| resolver.is_same_staff_member(actor));
        let handles_it = self
            .assignment
            .as_ref()
            .is_some_and(|assignment| assignment.assignee.is_personally(actor));
        if resolved_it || handles_it {
            Err(Refusal::OwnWork {
                actor: actor.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Gives the case a new handler: fresh deadlines, nothing flagged, nothing pending.
    fn assign(&mut self, assignment: Assignment) {
        self.assignment = Some(assignment);
        self.overdue_marked.clear();
        self.pending_extension = None;
        self.resolved_by = None;
        self.dispatch_refusal = None;
    }

    /// Sends the case back to its handler with a new resolution deadline.
    fn rework(&mut self, resolution_due: DateTime<Utc>) -> Result<(), Refusal> {
        let assignment = self.assignment.as_mut().ok_or(Refusal::NoAssignment)?;
        assignment.resolution_due = resolution_due;
        self.overdue_marked.remove(&DeadlineKind::Resolution);
        self.rework_count += 1;
        self.resolved_by = None;
        Ok(())
    }

    fn decide(
        &mut self,
        actor: Actor,
        command: Command,
        at: DateTime<Utc>,
    ) -> Result<Vec<TransitionRecord>, Refusal> {
        let state = self.state;
        let record = match command {
            Command::Triage {
                block,
                matter,
                tier,
            } => {
                match state {
                    CaseState::Reported => {}
                    CaseState::AwaitingManualLocation => require_staff(&actor)?,
                    _ => return Err(Refusal::WrongState),
                }
                self.block = Some(block.clone());
                self.matter = Matter::Classified(matter.clone());
                self.tier = Some(tier);
                let action = Action::Triaged {
                    block,
                    matter,
                    tier,
                };
                self.step(CaseState::Triaged, action, &actor, None, at)
            }
            Command::FlagLocationOutsideBlocks => {
                require_state(state == CaseState::Reported)?;
                self.step(
                    CaseState::AwaitingManualLocation,
                    Action::LocationOutsideBlocks,
                    &actor,
                    None,
                    at,
                )
            }
            Command::Dispatch { assignment } => {
                require_state(state == CaseState::Triaged)?;
                check_assignment(&assignment, at)?;
                let tier = self.tier.ok_or(Refusal::WrongState)?;
                self.assign(assignment.clone());
                let action = Action::Dispatched { tier, assignment };
                self.step(CaseState::Dispatched, action, &actor, None, at)
            }
            Command::RefuseDispatch { reason } => {
                require_state(state == CaseState::Triaged || state.is_with_handler())?;
                self.dispatch_refusal = Some(reason.clone());
                self.step(state, Action::DispatchRefused, &actor, Some(reason), at)
            }
            Command::Reclassify {
                matter,
                tier,
                reason,
            } => {
                require_state(state == CaseState::Triaged || state.is_with_handler())?;
                require_staff(&actor)?;
                self.matter = Matter::Classified(matter.clone());
                self.tier = Some(tier);
                self.assignment = None;
                self.overdue_marked.clear();
                self.pending_extension = None;
                let action = Action::Reclassified { matter, tier };
                self.step(CaseState::Triaged, action, &actor, Some(reason), at)
            }
            Command::Accept => {
                require_state(state == CaseState::Dispatched)?;
                self.require_assignee(&actor)?;
                self.overdue_marked.remove(&DeadlineKind::Acceptance);
                self.step(CaseState::Accepted, Action::Accepted, &actor, None, at)
            }
            Command::StartWork => {
                require_state(state == CaseState::Accepted)?;
                self.require_assignee(&actor)?;
                self.step(CaseState::InProgress, Action::WorkStarted, &actor, None, at)
            }
            Command::Resolve => {
                require_state(state == CaseState::InProgress)?;
                self.require_assignee(&actor)?;
                self.resolved_by = Some(actor.clone());
                self.pending_extension = None;
                self.step(CaseState::Resolved, Action::Resolved, &actor, None, at)
            }
            Command::PassVerification => {
                require_state(state == CaseState::Resolved)?;
                require_staff(&actor)?;
                self.require_not_own_work(&actor)?;
                self.step(CaseState::Verified, Action::Verified, &actor, None, at)
            }
            Command::FailVerification { reason, rework_due } => {
                require_state(state == CaseState::Resolved)?;
                require_staff(&actor)?;
                self.require_not_own_work(&actor)?;
                require_future(DeadlineKind::Resolution, rework_due, at)?;
                self.rework(rework_due)?;
                let action = Action::Reworked {
                    trigger: ReworkTrigger::FailedVerification,
                    resolution_due: rework_due,
                };
                self.step(CaseState::InProgress, action, &actor, Some(reason), at)
            }
            Command::Rate {
                rating,
                due_if_reopened,
            } => return self.rate(actor, rating, due_if_reopened, at),
            Command::Close => {
                require_state(state == CaseState::Rated)?;
                self.closure = Some(Closure::Rated);
                let action = Action::Closed {
                    closure: Closure::Rated,
                };
                self.step(CaseState::Closed, action, &actor, None, at)
            }
            Command::CloseUnrated { reason } => {
                require_state(state == CaseState::Verified)?;
                if actor == Actor::Resident {
                    return Err(Refusal::StaffOnly { actor });
                }
                self.closure = Some(Closure::Unrated);
                let action = Action::Closed {
                    closure: Closure::Unrated,
                };
                self.step(CaseState::Closed, action, &actor, Some(reason), at)
            }
            Command::Dismiss { reason } => {
                require_state(matches!(
                    state,
                    CaseState::Reported | CaseState::AwaitingManualLocation | CaseState::Triaged
                ))?;
                require_staff(&actor)?;
                self.closure = Some(Closure::Dismissed);
                let action = Action::Closed {
                    closure: Closure::Dismissed,
                };
                self.step(CaseState::Closed, action, &actor, Some(reason), at)
            }
            Command::RequestExtension { until, reason } => {
                require_state(state.is_with_handler())?;
                self.require_assignee(&actor)?;
                if let Some(pending) = &self.pending_extension {
                    return Err(Refusal::ExtensionPending {
                        until: pending.until,
                    });
                }
                let current_due = self.current_assignment()?.resolution_due;
                if until <= current_due {
                    return Err(Refusal::ExtensionNotLater { until, current_due });
                }
                self.pending_extension = Some(ExtensionRequest {
                    until,
                    requested_by: actor.clone(),
                });
                let action = Action::ExtensionRequested { until };
                self.step(state, action, &actor, Some(reason), at)
            }
            Command::ApproveExtension => {
                let request = self.extension_to_decide(&actor)?;
                require_future(DeadlineKind::Resolution, request.until, at)?;
                let assignment = self.assignment.as_mut().ok_or(Refusal::NoAssignment)?;
                assignment.resolution_due = request.until;
                self.overdue_marked.remove(&DeadlineKind::Resolution);
                self.extensions_granted += 1;
                self.pending_extension = None;
                let action = Action::ExtensionApproved {
                    resolution_due: request.until,
                };
                self.step(state, action, &actor, None, at)
            }
            Command::DenyExtension { reason } => {
                self.extension_to_decide(&actor)?;
                self.pending_extension = None;
                self.step(state, Action::ExtensionDenied, &actor, Some(reason), at)
            }
            Command::Park { reason, review_on } => {
                require_state(is_parkable(state))?;
                require_staff(&actor)?;
                let today = to_china_local(at).date();
                if review_on <= today {
                    return Err(Refusal::ReviewDateNotInFuture { review_on, today });
                }
                self.parking = Some(Parking {
                    reason: reason.clone(),
                    review_on,
                    resume_to: state,
                });
                self.pending_extension = None;
                let action = Action::Parked { review_on };
                self.step(CaseState::Parked, action, &actor, Some(reason), at)
            }
            Command::Unpark {
                reason,
                resolution_due,
            } => {
                require_state(state == CaseState::Parked)?;
                require_staff(&actor)?;
                let parking = self.parking.take().ok_or(Refusal::WrongState)?;
                if let Some(due) = resolution_due {
                    require_future(DeadlineKind::Resolution, due, at)?;
                    let assignment = self.assignment.as_mut().ok_or(Refusal::NoAssignment)?;
                    assignment.resolution_due = due;
                    self.overdue_marked.remove(&DeadlineKind::Resolution);
                }
                let action = Action::Unparked { resolution_due };
                self.step(parking.resume_to, action, &actor, Some(reason), at)
            }
            Command::Escalate {
                trigger,
                assignment,
            } => {
                require_state(state.is_with_handler())?;
                let from_tier = self.tier.ok_or(Refusal::WrongState)?;
                let to_tier = from_tier.next().ok_or(Refusal::AlreadyAtHighestTier)?;
                let (cause, reason) = match trigger {
                    EscalationTrigger::Overdue(deadline) => {
                        self.require_overdue(deadline, at)?;
                        (EscalationCause::Overdue { deadline }, None)
                    }
                    EscalationTrigger::Manual(reason) => {
                        require_staff(&actor)?;
                        (EscalationCause::Manual, Some(reason))
                    }
                };
                check_assignment(&assignment, at)?;
                self.tier = Some(to_tier);
                self.assign(assignment.clone());
                let action = Action::Escalated {
                    from_tier,
                    to_tier,
                    cause,
                    assignment,
                };
                self.step(CaseState::Dispatched, action, &actor, reason, at)
            }
            Command::Reassign {
                assignment,
                tier,
                reason,
            } => {
                require_state(state.is_with_handler())?;
                if actor == Actor::Resident {
                    return Err(Refusal::StaffOnly { actor });
                }
                let current_tier = self.tier.ok_or(Refusal::WrongState)?;
                let new_tier = tier.unwrap_or(current_tier);
                let same_assignee = self
                    .assignment
                    .as_ref()
                    .is_some_and(|current| current.assignee == assignment.assignee);
                if same_assignee && new_tier == current_tier {
                    return Err(Refusal::NothingToChange);
                }
                check_assignment(&assignment, at)?;
                self.tier = Some(new_tier);
                self.assign(assignment.clone());
                let action = Action::Reassigned {
                    tier: new_tier,
                    assignment,
                };
                self.step(CaseState::Dispatched, action, &actor, Some(reason), at)
            }
            Command::Rehome {
                block,
                assignment,
                reason,
            } => {
                require_state(state.is_open())?;
                let from_block = self.block.clone().ok_or(Refusal::NoBlock)?;
                if from_block == block {
                    return Err(Refusal::SameBlock { block });
                }
                let to = match &assignment {
                    Some(new_assignment) => {
                        if !state.is_with_handler() {
                            return Err(Refusal::NotWithHandler);
                        }
                        check_assignment(new_assignment, at)?;
                        self.assign(new_assignment.clone());
                        CaseState::Dispatched
                    }
                    None => state,
                };
                self.block = Some(block.clone());
                let action = Action::Rehomed {
                    from_block,
                    to_block: block,
                    assignment,
                };
                self.step(to, action, &actor, Some(reason), at)
            }
            Command::MarkOverdue { deadline } => {
                let due = self.require_overdue(deadline, at)?;
                if self.overdue_marked.contains(&deadline) {
                    return Err(Refusal::AlreadyMarkedOverdue { deadline });
                }
                self.overdue_marked.insert(deadline);
                let action = Action::MarkedOverdue { deadline, due };
                self.step(state, action, &actor, None, at)
            }
            Command::RecordMeToo => {
                require_state(state.is_open())?;
                self.me_too_count += 1;
                self.step(state, Action::MeTooLinked, &actor, None, at)
            }
        };
        Ok(vec![record])
    }

    /// The pending extension, if `actor` may decide on it.
    fn extension_to_decide(&self, actor: &Actor) -> Result<ExtensionRequest, Refusal> {
        require_state(self.state.is_with_handler())?;
        require_staff(actor)?;
        let request = self
            .pending_extension
            .clone()
            .ok_or(Refusal::NoExtensionPending)?;
        if request.requested_by.is_same_staff_member(actor) {
            return Err(Refusal::OwnExtension {
                actor: actor.clone(),
            });
        }
        Ok(request)
    }

    /// Checks `deadline` runs in this state and has passed at `at`; returns when it was due.
    fn require_overdue(
        &self,
        deadline: DeadlineKind,
        at: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, Refusal> {
        let runs = match deadline {
            DeadlineKind::Acceptance => self.state == CaseState::Dispatched,
            DeadlineKind::Resolution => self.state.is_with_handler(),
        };
        if !runs {
            return Err(Refusal::DeadlineNotRunning { deadline });
        }
        let assignment = self.current_assignment()?;
        let due = match deadline {
            DeadlineKind::Acceptance => assignment.acceptance_due,
            DeadlineKind::Resolution => assignment.resolution_due,
        };
        if at <= due {
            return Err(Refusal::NotOverdue { deadline, due, at });
        }
        Ok(due)
    }

    fn rate(
        &mut self,
        actor: Actor,
        rating: Rating,
        due_if_reopened: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Vec<TransitionRecord>, Refusal> {
        require_state(self.state == CaseState::Verified)?;
        match actor {
            Actor::Resident => {}
            Actor::Staff { .. } => self.require_not_own_work(&actor)?,
            Actor::System => return Err(Refusal::NotARater { actor }),
        }
        let reopens = rating == Rating::Unsatisfied && !self.reopened_after_rating;
        if reopens {
            require_future(DeadlineKind::Resolution, due_if_reopened, at)?;
        }
        self.rating = Some(rating);
        let rated = self.step(CaseState::Rated, Action::Rated { rating }, &actor, None, at);
        if rating.counts_as_satisfied() {
            return Ok(vec![rated]);
        }
        let follow_up = if reopens {
            self.reopened_after_rating = true;
            self.rework(due_if_reopened)?;
            let action = Action::Reworked {
                trigger: ReworkTrigger::UnsatisfiedRating,
                resolution_due: due_if_reopened,
            };
            self.step(CaseState::InProgress, action, &actor, None, at)
        } else {
            self.closure = Some(Closure::Unsatisfied);
            let action = Action::Closed {
                closure: Closure::Unsatisfied,
            };
            self.step(CaseState::Closed, action, &actor, None, at)
        };
        Ok(vec![rated, follow_up])
    }
}

#[cfg(test)]
mod tests;
