//! What can be asked of a case: the commands and the facts a report brings.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::geo::GeoPoint;
use crate::domain::values::{BlockName, CaseId, Matter, MatterCode, Reason};

use super::{
    Actor, Assignment, CaseKind, CaseState, Channel, CommandKind, DeadlineKind, Rating, Tier,
};

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
    /// An action a coordination meeting decided passed its due date undone; the case
    /// checks that it did.
    MeetingActionOverdue {
        /// When the action was due.
        due: DateTime<Utc>,
    },
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
    /// A coordination meeting moves the resolution deadline: no request comes first,
    /// because the meeting is the body that decides (with a handler).
    ExtendByDecision {
        /// The new resolution deadline, later than the current one.
        until: DateTime<Utc>,
        /// Why (which meeting decided).
        reason: Reason,
    },
    /// Put the case in the 挂账 register (from triaged or with a handler → parked), or,
    /// reviewing a parked case, keep it there with a new reason and review date.
    Park {
        /// Why it cannot be solved now.
        reason: Reason,
        /// When to review it (after today, China time).
        review_on: NaiveDate,
    },
    /// Take the case out of the register, back to the state it was parked from: by a
    /// staff member at any time, by the system once the review date has come.
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
            Command::ExtendByDecision { .. } => CommandKind::ExtendByDecision,
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
