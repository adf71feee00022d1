//! Why a command was refused, in words the API passes on.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::values::BlockName;

use super::{Actor, Assignee, CaseState, CommandKind, DeadlineKind};

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
    /// The system returns a parked case only once its review date has come.
    #[error("the review date {review_on} has not come yet (today is {today})")]
    ReviewDateNotReached {
        /// The register's review date.
        review_on: NaiveDate,
        /// Today in China.
        today: NaiveDate,
    },
    /// A meeting action escalates the case only once its due date has passed.
    #[error("the meeting action due {due} has not passed at {at}")]
    ActionNotOverdue {
        /// When the action is due.
        due: DateTime<Utc>,
        /// The instant of the command.
        at: DateTime<Utc>,
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
