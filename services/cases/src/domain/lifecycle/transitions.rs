//! The guards and state changes behind [`Case::apply`](super::Case::apply): one arm per
//! command in [`CaseSnapshot::decide`], each checking its guards before it changes anything.

use chrono::{DateTime, Utc};

use crate::domain::calendar::to_china_local;
use crate::domain::values::{Matter, Reason};

use super::{
    Action, Actor, Assignment, CaseSnapshot, CaseState, Closure, Command, DeadlineKind,
    EscalationCause, EscalationTrigger, ExtensionRequest, Parking, Rating, Refusal, ReworkTrigger,
    TransitionRecord, is_parkable,
};

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

    pub(super) fn decide(
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
            Command::ExtendByDecision { until, reason } => {
                require_state(state.is_with_handler())?;
                require_staff(&actor)?;
                let current_due = self.current_assignment()?.resolution_due;
                if until <= current_due {
                    return Err(Refusal::ExtensionNotLater { until, current_due });
                }
                require_future(DeadlineKind::Resolution, until, at)?;
                let assignment = self.assignment.as_mut().ok_or(Refusal::NoAssignment)?;
                assignment.resolution_due = until;
                self.overdue_marked.remove(&DeadlineKind::Resolution);
                self.extensions_granted += 1;
                // The meeting's decision supersedes whatever the handler asked for.
                self.pending_extension = None;
                let action = Action::ExtensionApproved {
                    resolution_due: until,
                };
                self.step(state, action, &actor, Some(reason), at)
            }
            Command::DenyExtension { reason } => {
                self.extension_to_decide(&actor)?;
                self.pending_extension = None;
                self.step(state, Action::ExtensionDenied, &actor, Some(reason), at)
            }
            Command::Park { reason, review_on } => {
                // A review of a parked case may keep it in the register: new reason and
                // date, the same state to return to.
                let resume_to = match &self.parking {
                    Some(parking) if state == CaseState::Parked => parking.resume_to,
                    _ => {
                        require_state(is_parkable(state))?;
                        state
                    }
                };
                require_staff(&actor)?;
                let today = to_china_local(at).date();
                if review_on <= today {
                    return Err(Refusal::ReviewDateNotInFuture { review_on, today });
                }
                self.parking = Some(Parking {
                    reason: reason.clone(),
                    review_on,
                    resume_to,
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
                let review_on = self
                    .parking
                    .as_ref()
                    .map(|parking| parking.review_on)
                    .ok_or(Refusal::WrongState)?;
                match actor {
                    Actor::Staff { .. } => {}
                    // The register's review date returns the case by itself; before it,
                    // only a staff member takes a case out.
                    Actor::System => {
                        let today = to_china_local(at).date();
                        if today < review_on {
                            return Err(Refusal::ReviewDateNotReached { review_on, today });
                        }
                    }
                    Actor::Resident => return Err(Refusal::StaffOnly { actor }),
                }
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
                    EscalationTrigger::MeetingActionOverdue { due } => {
                        if at <= due {
                            return Err(Refusal::ActionNotOverdue { due, at });
                        }
                        (EscalationCause::MeetingActionOverdue { due }, None)
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
