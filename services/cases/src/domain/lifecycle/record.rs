//! Who acts on a case, who it is assigned to, and the record every transition leaves.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::vocabulary::{
    CaseKind, CaseState, Channel, Closure, DeadlineKind, Rating, ReworkTrigger, Tier,
};
use crate::domain::values::{BlockName, CaseId, Matter, MatterCode, Reason, StaffId, UnitName};

/// Who performs a transition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// A staff member, as authenticated: their id and the unit their token says they
    /// belong to (a block team, a subdistrict platform, an agency…). The unit lets a
    /// member act on a case assigned to their unit as a whole.
    Staff {
        /// The staff member's id (the token subject).
        id: StaffId,
        /// The unit they act for.
        unit: UnitName,
    },
    /// The resident who reported (rating the result). Never identified in a record:
    /// residents' identities are personal data.
    Resident,
    /// The service itself: triage, the deadline worker, handlers of other services'
    /// events (joint enforcement's conclusion, the federation's acceptance).
    System,
}

impl Actor {
    /// A staff member acting for `unit`.
    pub fn staff(id: StaffId, unit: UnitName) -> Self {
        Actor::Staff { id, unit }
    }

    /// The staff id, if a staff member acts.
    pub fn staff_id(&self) -> Option<&StaffId> {
        match self {
            Actor::Staff { id, .. } => Some(id),
            Actor::Resident | Actor::System => None,
        }
    }

    /// Whether this is the same person as `other` (staff compare by id, whatever unit they
    /// act for; the resident and the system are never "the same person" as anyone).
    pub fn is_same_staff_member(&self, other: &Actor) -> bool {
        match (self.staff_id(), other.staff_id()) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => false,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Staff { id, unit } => write!(formatter, "staff {id} of {unit}"),
            Actor::Resident => formatter.write_str("the resident"),
            Actor::System => formatter.write_str("the system"),
        }
    }
}

/// Who a case is assigned to: one staff member (a block governor at the front line) or a
/// unit as a whole (a subdistrict's coordination platform, an agency, a federation member,
/// the subdistrict as fallback owner 兜底).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignee {
    /// One staff member.
    Staff(StaffId),
    /// Every member of a unit; one of them (or the system, relaying the unit's own
    /// service's events) acts for it.
    Unit(UnitName),
}

impl Assignee {
    /// Whether `actor` may act as this assignee: the staff member themself; for a unit,
    /// any staff member acting for that unit, or the system relaying the unit's events.
    pub fn admits(&self, actor: &Actor) -> bool {
        match (self, actor) {
            (Assignee::Staff(assigned), Actor::Staff { id, .. }) => assigned == id,
            (Assignee::Unit(assigned), Actor::Staff { unit, .. }) => assigned == unit,
            (Assignee::Unit(_), Actor::System) => true,
            _ => false,
        }
    }

    /// Whether `actor` is the staff member this case is assigned to personally.
    pub fn is_personally(&self, actor: &Actor) -> bool {
        matches!((self, actor.staff_id()), (Assignee::Staff(assigned), Some(id)) if assigned == id)
    }
}

impl fmt::Display for Assignee {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Assignee::Staff(id) => write!(formatter, "staff {id}"),
            Assignee::Unit(unit) => write!(formatter, "unit {unit}"),
        }
    }
}

/// A handler with the two deadlines they were given (computed by [`crate::domain::sla`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Assignment {
    /// Who handles the case.
    pub assignee: Assignee,
    /// When they must have accepted it.
    pub acceptance_due: DateTime<Utc>,
    /// When they must have resolved it; moved by an approved extension, a rework or an
    /// unparking.
    pub resolution_due: DateTime<Utc>,
}

/// Why a case was escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EscalationCause {
    /// A deadline passed (the deadline worker escalates).
    Overdue {
        /// Which deadline.
        deadline: DeadlineKind,
    },
    /// A dispatcher decided; the record's reason says why.
    Manual,
    /// An action a coordination meeting decided passed its due date undone (the
    /// deadline worker escalates).
    MeetingActionOverdue {
        /// When the action was due.
        due: DateTime<Utc>,
    },
}

/// What a transition did, with the facts the indicators and events need. Free text a
/// resident wrote (description, rating comment) is never here: records are published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// The case was received.
    Reported {
        /// What kind of case.
        kind: CaseKind,
        /// Which channel it came by.
        channel: Channel,
        /// The matter, if the channel classified it.
        matter: Matter,
        /// The block, if the report named one.
        block: Option<BlockName>,
    },
    /// Triage found the reported point outside every block.
    LocationOutsideBlocks,
    /// Triage placed the case: block, matter and tier.
    Triaged {
        /// The block responsible.
        block: BlockName,
        /// The matter from the duty catalogue.
        matter: MatterCode,
        /// The tier responsibility resolution chose.
        tier: Tier,
    },
    /// The duty-list gate refused the dispatch; the record's reason says why.
    DispatchRefused,
    /// The case was assigned.
    Dispatched {
        /// The tier it is handled at.
        tier: Tier,
        /// The handler and deadlines.
        assignment: Assignment,
    },
    /// The matter or tier was changed by hand; the case goes back to dispatch.
    Reclassified {
        /// The new matter.
        matter: MatterCode,
        /// The new tier.
        tier: Tier,
    },
    /// The handler accepted.
    Accepted,
    /// The handler started work.
    WorkStarted,
    /// The handler resolved it.
    Resolved,
    /// Verification confirmed the solution.
    Verified,
    /// The case went back to its handler for rework (返工) with a new resolution deadline.
    Reworked {
        /// Failed verification or the one unsatisfied rating that reopens.
        trigger: ReworkTrigger,
        /// The rework's resolution deadline.
        resolution_due: DateTime<Utc>,
    },
    /// The resident rated the result (verified → rated). An unsatisfied rating is followed,
    /// in the same command, by a `Reworked` record (rated → in_progress) the first time and
    /// by a `Closed { closure: unsatisfied }` record (rated → closed) the second time.
    Rated {
        /// The rating.
        rating: Rating,
    },
    /// The loop closed.
    Closed {
        /// How.
        closure: Closure,
    },
    /// The handler asked for more time (延期); the record's reason says why.
    ExtensionRequested {
        /// The resolution deadline asked for.
        until: DateTime<Utc>,
    },
    /// The extension was granted: the resolution deadline moved.
    ExtensionApproved {
        /// The new resolution deadline.
        resolution_due: DateTime<Utc>,
    },
    /// The extension was refused; the deadline stands.
    ExtensionDenied,
    /// Put in the 挂账 register; the record's reason says why.
    Parked {
        /// When the register reviews it again.
        review_on: NaiveDate,
    },
    /// Taken out of the register, back to the state it was parked from.
    Unparked {
        /// A new resolution deadline, if one was set.
        resolution_due: Option<DateTime<Utc>>,
    },
    /// Moved up a tier and re-assigned.
    Escalated {
        /// The tier before.
        from_tier: Tier,
        /// The tier after.
        to_tier: Tier,
        /// Overdue or manual.
        cause: EscalationCause,
        /// The new handler and deadlines.
        assignment: Assignment,
    },
    /// Re-assigned by hand (override), possibly at another tier.
    Reassigned {
        /// The tier after.
        tier: Tier,
        /// The new handler and deadlines.
        assignment: Assignment,
    },
    /// The block changed when the block registry activated a new boundary generation.
    Rehomed {
        /// The old block.
        from_block: BlockName,
        /// The new block.
        to_block: BlockName,
        /// The new block's team, if the case was with the old block's team.
        assignment: Option<Assignment>,
    },
    /// A deadline passed with no escalation possible or wanted (e.g. at the whistle tier).
    MarkedOverdue {
        /// Which deadline.
        deadline: DeadlineKind,
        /// When it was due.
        due: DateTime<Utc>,
    },
    /// Another report of the same matter nearby was linked to this case ("me too").
    MeTooLinked,
}

/// The record of one transition: what the store persists and publishes. Records of a case
/// are numbered 1, 2, 3… by `sequence`, which orders them even when two share an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionRecord {
    /// The case.
    pub case_id: CaseId,
    /// 1 for the report, then one more per transition: the case's version after it.
    pub sequence: u32,
    /// The state before; `None` for the report, which creates the case.
    pub from: Option<CaseState>,
    /// The state after (equal to `from` for transitions that change no state, such as an
    /// extension request or a "me too" link).
    pub to: CaseState,
    /// What happened.
    pub action: Action,
    /// Who did it.
    pub actor: Actor,
    /// Why, where the transition needs one (overrides, parking, refusals…).
    pub reason: Option<Reason>,
    /// When.
    pub at: DateTime<Utc>,
}
