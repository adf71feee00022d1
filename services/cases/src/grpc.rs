//! `flatgov.cases.v1.CaseDispatch`: auth and jurisdiction checks, proto ⇄ domain, and one
//! transaction per call that changes something.
//!
//! Every call that moves a case: checks the caller may see it, tries the command on a
//! copy (so an illegal transition is FAILED_PRECONDITION naming the state, whoever asks),
//! checks the caller's role and jurisdiction, then applies it and saves the case, its
//! records and their events in one transaction.

use flatgov_grpc::request_id::RequestId;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use flatgov_auth::{Caller, Role};
use flatgov_grpc::error::FieldViolation;
use flatgov_grpc::paging::{ListQuery, PageRequest, PageSize, PagingError};
use flatgov_messaging::outbox;
use flatgov_proto::cases::v1 as proto;
use flatgov_proto::cases::v1::case_dispatch_server::CaseDispatch;
use flatgov_proto::flatgov::r#type::v1::HandlingTier;
use sqlx::{Postgres, Transaction};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::access::{self, Visibility};
use crate::convert;
use crate::directory::Directory;
use crate::domain::indicators::{IndicatorQuery, Period, compute_indicators};
use crate::domain::lifecycle::{
    Action, Actor, Assignee, Case, CaseState, Command, EscalationTrigger, Tier, TransitionRecord,
};
use crate::domain::units::{
    BlockCode, DutyUnit, OrgCode, SubdistrictCode, assignee_name, parse_assignee,
};
use crate::domain::values::{CaseId, Comment, MatterCode, Reason};
use crate::error::Error;
use crate::events::{self, EventContext};
use crate::intake;
use crate::ops::{self, Shared};
use crate::render;
use crate::store::{self, Instructions, ListFilter, MeetingRow, StoredCase, TriageStatus};

/// Roles that handle cases (accept, start, resolve, ask for more time).
const HANDLERS: &[Role] = &[
    Role::Governor,
    Role::Assistant,
    Role::SubdistrictDispatcher,
    Role::DepartmentOfficer,
    Role::FederationStaff,
    Role::DistrictAdmin,
    Role::Service,
];

/// Roles that run a subdistrict's platform.
const DISPATCHERS: &[Role] = &[
    Role::SubdistrictDispatcher,
    Role::DistrictAdmin,
    Role::Service,
];

/// The longest resolution note, in characters.
const MAX_NOTE_CHARS: usize = 2000;

/// The service.
pub struct CaseService {
    shared: Arc<Shared>,
    directory: Directory,
}

impl CaseService {
    pub fn new(shared: Arc<Shared>, directory: Directory) -> Self {
        Self { shared, directory }
    }
}

/// A case locked for a change, with what the change needs.
struct Working {
    transaction: Transaction<'static, Postgres>,
    stored: StoredCase,
    before: Case,
    records: Vec<TransitionRecord>,
    now: DateTime<Utc>,
    visibility: Visibility,
    context: EventContext,
    /// A `CaseEscalated` to publish after the records' events (a reassignment to the
    /// whistle).
    escalation: Option<proto::CaseEscalated>,
}

impl Working {
    /// Applies `command` for `actor`.
    fn apply(&mut self, actor: Actor, command: Command) -> Result<(), Error> {
        ops::apply(
            &mut self.stored,
            actor,
            command,
            self.now,
            &mut self.records,
        )?;
        Ok(())
    }

    /// Saves, publishes, commits and renders the case.
    async fn finish(mut self) -> Result<proto::Case, Error> {
        if self.context.previous_assignee.is_none() && self.context.previous_matter.is_none() {
            let generation = self.context.generation.take();
            let me_too_channel = self.context.me_too_channel.take();
            self.context = EventContext::from_before(&self.before);
            self.context.generation = generation;
            self.context.me_too_channel = me_too_channel;
        }
        ops::persist(
            &mut self.transaction,
            &mut self.stored,
            &self.records,
            &self.context,
            self.now,
        )
        .await?;
        if let Some(event) = &self.escalation {
            outbox::enqueue(&mut self.transaction, &self.stored.name(), event).await?;
        }
        let contact = if self.visibility == Visibility::Full {
            store::load_contact(&mut self.transaction, self.stored.case.id()).await?
        } else {
            None
        };
        self.transaction.commit().await?;
        Ok(render::case(
            &self.stored,
            self.visibility,
            contact.as_ref(),
            self.now,
        ))
    }
}

fn case_id(field: &str, name: &str) -> Result<CaseId, Error> {
    CaseId::parse_resource_name(name.trim())
        .map_err(|error| Error::invalid(field, error.to_string()))
}

fn reason(field: &str, text: &str) -> Result<Reason, Error> {
    Reason::parse(text).map_err(|error| Error::invalid(field, error.to_string()))
}

fn optional_tier(field: &str, value: i32) -> Result<Option<Tier>, Error> {
    match HandlingTier::try_from(value) {
        Ok(HandlingTier::Unspecified) => Ok(None),
        Ok(tier) => Ok(convert::tier_from_proto(tier)),
        Err(_) => Err(Error::invalid(
            field,
            format!("{value} is not a handling tier"),
        )),
    }
}

fn required_instant(
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, Error> {
    value
        .ok_or_else(|| Error::invalid(field, "is required"))
        .and_then(|timestamp| {
            convert::instant(timestamp).map_err(|error| Error::invalid(field, error.to_string()))
        })
}

fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    flatgov_auth::caller(request).cloned()
}

impl CaseService {
    async fn begin(&self) -> Result<Transaction<'static, Postgres>, Error> {
        Ok(self.shared.pool.begin().await?)
    }

    /// Loads a case without locking it, checking the caller may see it.
    async fn read(&self, caller: &Caller, id: CaseId) -> Result<(StoredCase, Visibility), Error> {
        let mut connection = self.shared.pool.acquire().await?;
        let stored = store::load_case(&mut connection, id, false)
            .await?
            .ok_or_else(|| Error::NotFound(id.resource_name()))?;
        let visibility = access::require_visible(caller, &stored)?;
        Ok((stored, visibility))
    }

    /// Locks a case for a change, checking the caller may see it.
    async fn open(&self, caller: &Caller, id: CaseId) -> Result<Working, Error> {
        let mut transaction = self.begin().await?;
        let stored = store::load_case(&mut transaction, id, true)
            .await?
            .ok_or_else(|| Error::NotFound(id.resource_name()))?;
        let visibility = access::require_visible(caller, &stored)?;
        Ok(Working {
            transaction,
            before: stored.case.clone(),
            stored,
            records: Vec::new(),
            now: self.shared.clock.now(),
            visibility,
            context: EventContext::default(),
            escalation: None,
        })
    }

    /// The common path of a lifecycle call: lock, dry-run for a clear state error, check
    /// the role over the case, apply, save.
    async fn transition(
        &self,
        caller: &Caller,
        name: &str,
        roles: &[Role],
        command: impl Fn(&StoredCase, DateTime<Utc>) -> Result<Command, Error>,
    ) -> Result<proto::Case, Error> {
        let id = case_id("name", name)?;
        let mut work = self.open(caller, id).await?;
        let actor = access::actor_on(caller, Some(&work.stored))?;
        let command = command(&work.stored, work.now)?;
        work.stored
            .case
            .clone()
            .apply(actor.clone(), command.clone(), work.now)?;
        access::require_role_over(caller, roles, &work.stored)?;
        work.apply(actor, command)?;
        work.finish().await
    }

    /// Fails with FAILED_PRECONDITION when the caller's token is not allowed to move
    /// a case it may otherwise see at this tier (verification).
    fn verifier_roles(stored: &StoredCase) -> &'static [Role] {
        match stored.case.tier() {
            Some(Tier::FrontLine) | None => &[Role::Supervisor, Role::DistrictAdmin],
            Some(Tier::CoordinationMeeting | Tier::Whistle) => {
                &[Role::SubdistrictDispatcher, Role::DistrictAdmin]
            }
        }
    }

    /// Validates a matter code against the local catalogue (when one arrived).
    async fn known_matter(&self, field: &str, text: &str) -> Result<MatterCode, Error> {
        let code =
            MatterCode::parse(text).map_err(|error| Error::invalid(field, error.to_string()))?;
        let mut connection = self.shared.pool.acquire().await?;
        if store::matter_in_catalogue(&mut connection, code.as_str()).await? == Some(false) {
            return Err(Error::invalid(
                field,
                format!("{code} is not a matter in the duty lists' catalogue"),
            ));
        }
        Ok(code)
    }

    async fn report_case(
        &self,
        caller: &Caller,
        request: proto::ReportCaseRequest,
    ) -> Result<proto::ReportCaseResponse, Error> {
        access::require_role(
            caller,
            &[
                Role::Resident,
                Role::Governor,
                Role::Assistant,
                Role::Supervisor,
                Role::SubdistrictDispatcher,
                Role::DepartmentOfficer,
                Role::DistrictAdmin,
                Role::Service,
            ],
        )?;
        let report = intake::validate(&request).map_err(Error::Invalid)?;
        intake::check_channel(caller, report.channel)?;
        let staff_without_reach = !caller.has_any_role(&[Role::Service, Role::Resident])
            && report
                .block
                .as_ref()
                .is_some_and(|block| !caller.covers(block.as_str()));
        if staff_without_reach {
            return Err(Error::PermissionDenied(
                "the named block lies outside the caller's jurisdiction".into(),
            ));
        }
        let received = intake::receive(&self.shared, caller, report).await?;
        Ok(intake::response(caller, &received, self.shared.clock.now()))
    }

    async fn classify_case(
        &self,
        caller: &Caller,
        request: proto::ClassifyCaseRequest,
    ) -> Result<proto::Case, Error> {
        access::require_role(caller, DISPATCHERS)?;
        let id = case_id("name", &request.name)?;
        let mut violations = Vec::new();
        let block = if request.block.trim().is_empty() {
            None
        } else {
            match BlockCode::parse_name(&request.block) {
                Ok(block) => Some(block),
                Err(error) => {
                    violations.push(FieldViolation::new("block", error.to_string()));
                    None
                }
            }
        };
        let tier = optional_tier("tier", request.tier)?;
        if request.matter_code.trim().is_empty() && block.is_none() {
            violations.push(FieldViolation::new(
                "matter_code",
                "a matter code or a block is required",
            ));
        }
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        let matter = if request.matter_code.trim().is_empty() {
            None
        } else {
            Some(
                self.known_matter("matter_code", &request.matter_code)
                    .await?,
            )
        };
        let mut transaction = self.begin().await?;
        let mut stored = store::load_case(&mut transaction, id, true)
            .await?
            .ok_or_else(|| Error::NotFound(id.resource_name()))?;
        let placing_unlocated = stored.block().is_none()
            && block
                .as_ref()
                .is_some_and(|block| caller.covers(block.as_str()));
        if !placing_unlocated {
            access::require_role_over(caller, DISPATCHERS, &stored)?;
        }
        if let Some(block) = &block
            && !caller.has_role(Role::Service)
            && !caller.covers(block.as_str())
        {
            return Err(Error::PermissionDenied(format!(
                "block {block} lies outside the caller's jurisdiction"
            )));
        }
        let state = stored.case.state();
        let recategorising = state == CaseState::Triaged || state.is_with_handler();
        let classifiable = matches!(
            state,
            CaseState::Reported | CaseState::AwaitingManualLocation
        ) || recategorising;
        if !classifiable {
            return Err(Error::Precondition(format!(
                "cannot classify a case that is {state}"
            )));
        }
        if state == CaseState::AwaitingManualLocation && block.is_none() {
            return Err(Error::invalid(
                "block",
                "is required: the case's point lies outside every block",
            ));
        }
        let reason_text = request.reason.trim();
        if recategorising && reason_text.is_empty() {
            return Err(Error::invalid(
                "reason",
                "is required to recategorise a triaged or dispatched case",
            ));
        }
        let why = if reason_text.is_empty() {
            None
        } else {
            Some(reason("reason", reason_text)?.to_string())
        };
        let actor = access::actor_on(caller, Some(&stored))?;
        let now = self.shared.clock.now();
        let instructions = Instructions {
            matter_code: matter.map(|code| code.to_string()),
            block_code: block.map(|block| block.to_string()),
            tier: tier.map(|tier| tier.to_string()),
            reason: why,
        };
        store::enqueue_triage(&mut transaction, id, &instructions, &actor, now).await?;
        if matches!(
            state,
            CaseState::Reported | CaseState::AwaitingManualLocation
        ) {
            stored.triage_status = TriageStatus::Pending;
        }
        stored.triage_note = Some(format!(
            "classification by {} queued for triage",
            actor
                .staff_id()
                .map(ToString::to_string)
                .unwrap_or_else(|| "the system".into())
        ));
        ops::persist(
            &mut transaction,
            &mut stored,
            &[],
            &EventContext::default(),
            now,
        )
        .await?;
        transaction.commit().await?;
        Ok(render::case(
            &stored,
            access::visibility(caller, &stored).max(Visibility::WithoutPersonalData),
            None,
            now,
        ))
    }

    async fn verify_case(
        &self,
        caller: &Caller,
        request: proto::VerifyCaseRequest,
    ) -> Result<proto::Case, Error> {
        let id = case_id("name", &request.name)?;
        let mut work = self.open(caller, id).await?;
        let actor = access::actor_on(caller, Some(&work.stored))?;
        let command = if request.passed {
            Command::PassVerification
        } else {
            Command::FailVerification {
                reason: reason("reason", &request.reason)?,
                rework_due: self.shared.rework_due(&work.stored.case, work.now)?,
            }
        };
        work.stored
            .case
            .clone()
            .apply(actor.clone(), command.clone(), work.now)?;
        access::require_role_over(caller, Self::verifier_roles(&work.stored), &work.stored)?;
        work.apply(actor, command)?;
        if request.passed {
            let has_contact = store::load_contact(&mut work.transaction, id)
                .await?
                .is_some();
            if !work.stored.has_rater(has_contact) {
                let why = if work.stored.anonymous {
                    "anonymous report: no resident to rate the result"
                } else {
                    "no resident reported it (patrol, video or referral): nobody to rate the result"
                };
                work.apply(
                    Actor::System,
                    Command::CloseUnrated {
                        reason: reason("reason", why)?,
                    },
                )?;
            }
        }
        work.finish().await
    }

    async fn rate_case(
        &self,
        caller: &Caller,
        request: proto::RateCaseRequest,
    ) -> Result<proto::Case, Error> {
        let id = case_id("name", &request.name)?;
        let rating = proto::Rating::try_from(request.rating)
            .ok()
            .and_then(convert::rating_from_proto)
            .ok_or_else(|| {
                Error::invalid(
                    "rating",
                    "must be satisfied, basically satisfied or unsatisfied",
                )
            })?;
        let comment = if request.comment.trim().is_empty() {
            None
        } else {
            Some(
                Comment::parse(&request.comment)
                    .map_err(|error| Error::invalid("comment", error.to_string()))?,
            )
        };
        let mut work = self.open(caller, id).await?;
        let relays_the_resident = caller.has_role(Role::Service)
            || (caller.has_role(Role::Resident)
                && work.stored.reporter_subject.as_deref() == Some(caller.subject.as_str()));
        let actor = if relays_the_resident {
            Actor::Resident
        } else {
            access::actor_on(caller, Some(&work.stored))?
        };
        let command = Command::Rate {
            rating,
            due_if_reopened: self.shared.rework_due(&work.stored.case, work.now)?,
        };
        work.stored
            .case
            .clone()
            .apply(actor.clone(), command.clone(), work.now)?;
        if !relays_the_resident {
            access::require_role_over(
                caller,
                &[
                    Role::SubdistrictDispatcher,
                    Role::Supervisor,
                    Role::DistrictAdmin,
                ],
                &work.stored,
            )?;
        }
        work.apply(actor, command)?;
        if let Some(comment) = comment {
            work.stored.rating_comment = Some(comment.to_string());
        }
        if work.stored.case.state() == CaseState::Rated {
            work.apply(Actor::System, Command::Close)?;
        }
        work.finish().await
    }

    async fn close_case(
        &self,
        caller: &Caller,
        request: proto::CloseCaseRequest,
    ) -> Result<proto::Case, Error> {
        let text = request.reason.clone();
        self.transition(caller, &request.name, DISPATCHERS, move |stored, _| {
            Ok(match stored.case.state() {
                CaseState::Verified => Command::CloseUnrated {
                    reason: reason("reason", &text)?,
                },
                CaseState::Reported | CaseState::AwaitingManualLocation | CaseState::Triaged => {
                    Command::Dismiss {
                        reason: reason("reason", &text)?,
                    }
                }
                _ => Command::Close,
            })
        })
        .await
    }

    async fn escalate_case(
        &self,
        caller: &Caller,
        request: proto::EscalateCaseRequest,
    ) -> Result<proto::Case, Error> {
        let id = case_id("name", &request.name)?;
        let why = reason("reason", &request.reason)?;
        let mut agencies = Vec::new();
        for (index, code) in request.agencies.iter().enumerate() {
            agencies.push(OrgCode::parse(code).map_err(|error| {
                Error::invalid(format!("agencies[{index}]"), error.to_string())
            })?);
        }
        let mut work = self.open(caller, id).await?;
        let actor = access::actor_on(caller, Some(&work.stored))?;
        let current = work.stored.case.tier();
        let Some(to) = current.and_then(Tier::next) else {
            // Let the lifecycle name the state (or the highest tier).
            let placeholder = work.stored.case.assignment().cloned().ok_or_else(|| {
                Error::Precondition(format!(
                    "cannot escalate a case that is {}",
                    work.stored.case.state()
                ))
            })?;
            work.stored.case.clone().apply(
                actor,
                Command::Escalate {
                    trigger: EscalationTrigger::Manual(why),
                    assignment: placeholder,
                },
                work.now,
            )?;
            return Err(Error::Precondition("the case cannot be escalated".into()));
        };
        let governor_on_own_case = caller.has_role(Role::Governor)
            && work
                .stored
                .case
                .assignment()
                .is_some_and(|assignment| assignment.assignee.admits(&actor));
        if !governor_on_own_case {
            access::require_role_over(caller, DISPATCHERS, &work.stored)?;
        }
        let (assignee, named) = self
            .shared
            .tier_handler(&mut work.transaction, &work.stored, to, Some(agencies))
            .await?;
        let assignment = self
            .shared
            .assignment(&work.stored.case, to, assignee, work.now)?;
        if to == Tier::Whistle {
            work.stored.extras.escalation_agencies = named;
        }
        work.apply(
            actor,
            Command::Escalate {
                trigger: EscalationTrigger::Manual(why),
                assignment,
            },
        )?;
        work.finish().await
    }

    /// The unit the gate sees receiving a case assigned to `assignee`.
    fn receiving_unit(stored: &StoredCase, assignee: &Assignee) -> Option<DutyUnit> {
        match assignee {
            Assignee::Unit(unit) => DutyUnit::of_unit_name(unit),
            Assignee::Staff(id) => {
                let team = stored.extras.team.as_ref()?;
                let in_team = team.governor.as_deref() == Some(id.as_str())
                    || team.supervisor.as_deref() == Some(id.as_str());
                if in_team {
                    stored.block().map(DutyUnit::BlockTeam)
                } else {
                    None
                }
            }
        }
    }

    async fn reassign_case(
        &self,
        caller: &Caller,
        request: proto::ReassignCaseRequest,
    ) -> Result<proto::Case, Error> {
        let id = case_id("name", &request.name)?;
        let mut violations = Vec::new();
        let assignee = parse_assignee(&request.assignee)
            .map_err(|error| violations.push(FieldViolation::new("assignee", error.to_string())))
            .ok();
        let why = Reason::parse(&request.reason)
            .map_err(|error| violations.push(FieldViolation::new("reason", error.to_string())))
            .ok();
        let tier = optional_tier("tier", request.tier)?;
        let (Some(assignee), Some(why)) = (assignee, why) else {
            return Err(Error::Invalid(violations));
        };
        // Ask the gate first, outside any transaction.
        let (seen, _) = self.read(caller, id).await?;
        let department_holds_it = caller.has_role(Role::DepartmentOfficer)
            && access::holder_unit(&seen).is_some_and(|holder| {
                matches!(&holder, DutyUnit::Department(code) if Some(code.as_str()) == caller.organisation.as_deref())
            });
        if !department_holds_it {
            access::require_role_over(caller, DISPATCHERS, &seen)?;
        }
        let from = access::holder_unit(&seen).or_else(|| {
            seen.extras
                .responsibility
                .as_ref()
                .map(|responsibility| responsibility.lead.clone())
        });
        let to = Self::receiving_unit(&seen, &assignee);
        let refusal = match (seen.case.matter().code(), from, to) {
            (Some(matter), Some(from), Some(to)) if from != to => {
                let attempted_by = caller.subject.clone();
                let request_id = Uuid::now_v7().to_string();
                let answer = self
                    .directory
                    .check_assignment(
                        matter,
                        &from,
                        &to,
                        seen.block().as_ref(),
                        &attempted_by,
                        &seen.name(),
                        &request_id,
                    )
                    .await
                    .map_err(|error| Error::from_call("the duty lists", error))?;
                answer.map(|mut refusal| {
                    refusal.attempted_assignee = assignee_name(&assignee);
                    refusal
                })
            }
            _ => None,
        };
        let mut work = self.open(caller, id).await?;
        if work.stored.case.version() != seen.case.version() {
            return Err(Error::Precondition(
                "the case changed while the duty lists were asked; retry".into(),
            ));
        }
        let actor = access::actor_on(caller, Some(&work.stored))?;
        if let Some(refusal) = refusal {
            let message = format!(
                "the duty lists refuse assigning this case to {}: {} ({}){}",
                refusal.attempted_assignee,
                refusal.reason,
                refusal.reason_code,
                refusal
                    .responsible_instead
                    .as_ref()
                    .map(|unit| format!("; responsible instead: {unit}"))
                    .unwrap_or_default()
            );
            let gate_said =
                crate::triage::reason_text(&format!("{}: {}", refusal.reason_code, refusal.reason));
            work.stored.extras.refusal = Some(refusal);
            work.apply(actor, Command::RefuseDispatch { reason: gate_said })?;
            work.finish().await?;
            return Err(Error::Precondition(message));
        }
        let state = work.stored.case.state();
        let current_tier = work.stored.case.tier();
        let new_tier = tier.or(current_tier).unwrap_or(Tier::FrontLine);
        let assignment =
            self.shared
                .assignment(&work.stored.case, new_tier, assignee.clone(), work.now)?;
        if state == CaseState::Triaged {
            if tier.is_some() && tier != current_tier {
                let matter = work
                    .stored
                    .case
                    .matter()
                    .code()
                    .cloned()
                    .ok_or_else(|| Error::Precondition("the case has no matter yet".into()))?;
                work.apply(
                    actor.clone(),
                    Command::Reclassify {
                        matter,
                        tier: new_tier,
                        reason: why,
                    },
                )?;
            }
            work.stored.extras.refusal = None;
            work.stored.extras.dispatch_fallback = false;
            work.apply(actor, Command::Dispatch { assignment })?;
            work.stored.triage_status = TriageStatus::Complete;
            work.stored.triage_note = None;
        } else {
            work.apply(
                actor,
                Command::Reassign {
                    assignment,
                    tier,
                    reason: why,
                },
            )?;
        }
        let now_at_whistle = new_tier == Tier::Whistle && current_tier != Some(Tier::Whistle);
        if now_at_whistle {
            if let Assignee::Unit(unit) = &assignee
                && let Some(DutyUnit::Department(code)) = DutyUnit::of_unit_name(unit)
            {
                work.stored.extras.escalation_agencies = vec![code];
            }
            let event = work.records.last().map(|record| {
                events::escalated(
                    &work.stored,
                    record,
                    current_tier,
                    Tier::Whistle,
                    proto::EscalationReason::Manual,
                    work.stored.case.assignment(),
                )
            });
            work.escalation = event;
        }
        work.finish().await
    }

    async fn request_extension(
        &self,
        caller: &Caller,
        request: proto::RequestExtensionRequest,
    ) -> Result<proto::Case, Error> {
        let until = required_instant("until", request.until.as_ref())?;
        let why = reason("reason", &request.reason)?;
        self.transition(caller, &request.name, HANDLERS, move |_, _| {
            Ok(Command::RequestExtension {
                until,
                reason: why.clone(),
            })
        })
        .await
    }

    async fn decide_extension(
        &self,
        caller: &Caller,
        request: proto::DecideExtensionRequest,
    ) -> Result<proto::Case, Error> {
        let decision = if request.approve {
            Command::ApproveExtension
        } else {
            Command::DenyExtension {
                reason: reason("reason", &request.reason)?,
            }
        };
        self.transition(caller, &request.name, DISPATCHERS, move |_, _| {
            Ok(decision.clone())
        })
        .await
    }

    async fn park_case(
        &self,
        caller: &Caller,
        request: proto::ParkCaseRequest,
    ) -> Result<proto::Case, Error> {
        let why = reason("reason", &request.reason)?;
        let review_on = NaiveDate::parse_from_str(request.review_on.trim(), "%Y-%m-%d")
            .map_err(|_| Error::invalid("review_on", "must be a date YYYY-MM-DD"))?;
        self.transition(caller, &request.name, DISPATCHERS, move |_, _| {
            Ok(Command::Park {
                reason: why.clone(),
                review_on,
            })
        })
        .await
    }

    async fn unpark_case(
        &self,
        caller: &Caller,
        request: proto::UnparkCaseRequest,
    ) -> Result<proto::Case, Error> {
        let why = reason("reason", &request.reason)?;
        let given = request
            .resolution_due
            .as_ref()
            .map(|due| {
                convert::instant(due)
                    .map_err(|error| Error::invalid("resolution_due", error.to_string()))
            })
            .transpose()?;
        let shared = self.shared.clone();
        self.transition(caller, &request.name, DISPATCHERS, move |stored, now| {
            let resumes_with_handler = stored
                .case
                .parking()
                .is_some_and(|parking| parking.resume_to.is_with_handler());
            let resolution_due = match (given, resumes_with_handler, stored.case.tier()) {
                (Some(due), _, _) => Some(due),
                (None, true, Some(tier)) => Some(
                    shared
                        .deadlines(&stored.case, tier, now, None)?
                        .resolution_due,
                ),
                _ => None,
            };
            Ok(Command::Unpark {
                reason: why.clone(),
                resolution_due,
            })
        })
        .await
    }

    async fn schedule_meeting(
        &self,
        caller: &Caller,
        request: proto::ScheduleMeetingRequest,
    ) -> Result<proto::Meeting, Error> {
        let id = case_id("case", &request.case)?;
        let mut violations = Vec::new();
        let scheduled_for = required_instant("scheduled_for", request.scheduled_for.as_ref())
            .map_err(|_| {
                violations.push(FieldViolation::new(
                    "scheduled_for",
                    "a valid time is required",
                ))
            })
            .ok();
        let location = request.location.trim().to_owned();
        if location.chars().count() > 200 || location.chars().any(char::is_control) {
            violations.push(FieldViolation::new(
                "location",
                "at most 200 characters, no control characters",
            ));
        }
        let agenda = request.agenda.trim().to_owned();
        if agenda.chars().count() > 2000 {
            violations.push(FieldViolation::new("agenda", "at most 2,000 characters"));
        }
        if request.participants.is_empty() || request.participants.len() > 50 {
            violations.push(FieldViolation::new(
                "participants",
                "between 1 and 50 are required",
            ));
        }
        let mut participants = Vec::new();
        for (index, participant) in request.participants.iter().enumerate() {
            match parse_assignee(participant) {
                Ok(assignee) => participants.push(assignee_name(&assignee)),
                Err(error) => violations.push(FieldViolation::new(
                    format!("participants[{index}]"),
                    error.to_string(),
                )),
            }
        }
        let request_id = match RequestId::parse_optional(&request.request_id) {
            Ok(request_id) => request_id,
            Err(error) => {
                violations.push(FieldViolation::new("request_id", error.to_string()));
                None
            }
        };
        let Some(scheduled_for) = scheduled_for.filter(|_| violations.is_empty()) else {
            return Err(Error::Invalid(violations));
        };
        let mut transaction = self.begin().await?;
        let stored = store::load_case(&mut transaction, id, true)
            .await?
            .ok_or_else(|| Error::NotFound(id.resource_name()))?;
        access::require_visible(caller, &stored)?;
        access::require_role_over(caller, DISPATCHERS, &stored)?;
        let at_meeting = stored.case.tier() == Some(Tier::CoordinationMeeting)
            && stored.case.state().is_with_handler();
        if !at_meeting {
            return Err(Error::Precondition(format!(
                "a meeting is scheduled for a case with its handler at the coordination-meeting tier; this case is {} at {}",
                stored.case.state(),
                stored
                    .case
                    .tier()
                    .map(|tier| tier.to_string())
                    .unwrap_or_else(|| "no tier".into())
            )));
        }
        let subdistrict = stored
            .block()
            .map(|block| block.subdistrict_code().to_owned())
            .ok_or_else(|| Error::Precondition("the case has no block".into()))?;
        let now = self.shared.clock.now();
        let meeting = MeetingRow {
            id: Uuid::now_v7(),
            case_id: id,
            subdistrict_code: subdistrict,
            scheduled_for,
            location,
            participants,
            agenda,
            state: "scheduled".into(),
            decision: None,
            attendees: Vec::new(),
            decided_at: None,
            scheduled_by: caller.subject.clone(),
            created_at: now,
            actions: Vec::new(),
        };
        let saved = store::insert_meeting(
            &mut transaction,
            &meeting,
            request_id.as_ref().map(RequestId::as_str),
        )
        .await?;
        if saved.id == meeting.id {
            let event = proto::MeetingScheduled {
                meeting: saved.name(),
                case: id.resource_name(),
                subdistrict_code: saved.subdistrict_code.clone(),
                scheduled_for: Some(convert::timestamp(saved.scheduled_for)),
                participants: saved.participants.clone(),
            };
            outbox::enqueue(&mut transaction, &saved.name(), &event).await?;
        }
        transaction.commit().await?;
        Ok(render::meeting(&saved))
    }

    async fn record_meeting_decision(
        &self,
        caller: &Caller,
        request: proto::RecordMeetingDecisionRequest,
    ) -> Result<proto::Meeting, Error> {
        let malformed = || {
            Error::invalid(
                "name",
                format!(
                    "`{}` is not `cases/{{uuid}}/meetings/{{uuid}}`",
                    request.name
                ),
            )
        };
        let (case_part, meeting_part) = request
            .name
            .trim()
            .split_once("/meetings/")
            .ok_or_else(malformed)?;
        let id = CaseId::parse_resource_name(case_part).map_err(|_| malformed())?;
        let meeting_id = Uuid::try_parse(meeting_part).map_err(|_| malformed())?;
        let now = self.shared.clock.now();
        let mut violations = Vec::new();
        let decision = request.decision.trim().to_owned();
        if decision.is_empty() || decision.chars().count() > 4000 {
            violations.push(FieldViolation::new(
                "decision",
                "1 to 4,000 characters are required",
            ));
        }
        if request.actions.len() > 50 {
            violations.push(FieldViolation::new("actions", "at most 50 are allowed"));
        }
        let mut actions = Vec::new();
        for (index, action) in request.actions.iter().enumerate() {
            let description = action.description.trim();
            if description.is_empty() || description.chars().count() > 500 {
                violations.push(FieldViolation::new(
                    format!("actions[{index}].description"),
                    "1 to 500 characters",
                ));
            }
            let owner = parse_assignee(&action.owner)
                .map_err(|error| {
                    violations.push(FieldViolation::new(
                        format!("actions[{index}].owner"),
                        error.to_string(),
                    ))
                })
                .ok();
            let due = action
                .due
                .as_ref()
                .and_then(|due| convert::instant(due).ok());
            match due {
                Some(due) if due > now => {}
                _ => violations.push(FieldViolation::new(
                    format!("actions[{index}].due"),
                    "a time after now is required",
                )),
            }
            if let (Some(owner), Some(due)) = (owner, due) {
                actions.push((description.to_owned(), assignee_name(&owner), due));
            }
        }
        let mut attendees = Vec::new();
        for (index, attendee) in request.attendees.iter().enumerate().take(100) {
            match parse_assignee(attendee) {
                Ok(attendee) => attendees.push(assignee_name(&attendee)),
                Err(error) => violations.push(FieldViolation::new(
                    format!("attendees[{index}]"),
                    error.to_string(),
                )),
            }
        }
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        let mut transaction = self.begin().await?;
        let mut meeting = store::load_meeting(&mut transaction, meeting_id, true)
            .await?
            .filter(|meeting| meeting.case_id == id)
            .ok_or_else(|| Error::NotFound(request.name.clone()))?;
        let stored = store::load_case(&mut transaction, id, false)
            .await?
            .ok_or_else(|| Error::NotFound(id.resource_name()))?;
        access::require_visible(caller, &stored)?;
        access::require_role_over(caller, DISPATCHERS, &stored)?;
        if meeting.state != "scheduled" {
            return Err(Error::Precondition(format!(
                "the meeting is already {}",
                meeting.state
            )));
        }
        meeting.state = "decided".into();
        meeting.decision = Some(decision);
        meeting.attendees = attendees;
        meeting.decided_at = Some(now);
        meeting.actions = actions;
        store::decide_meeting(&mut transaction, &meeting).await?;
        let event = proto::MeetingDecided {
            meeting: meeting.name(),
            case: id.resource_name(),
            subdistrict_code: meeting.subdistrict_code.clone(),
            action_owners: meeting
                .actions
                .iter()
                .map(|(_, owner, _)| owner.clone())
                .collect(),
            action_due: meeting
                .actions
                .iter()
                .map(|(_, _, due)| convert::timestamp(*due))
                .collect(),
            decided_at: Some(convert::timestamp(now)),
        };
        outbox::enqueue(&mut transaction, &meeting.name(), &event).await?;
        transaction.commit().await?;
        Ok(render::meeting(&meeting))
    }

    async fn list_cases(
        &self,
        caller: &Caller,
        request: proto::ListCasesRequest,
    ) -> Result<proto::ListCasesResponse, Error> {
        let mut request = request;
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        // A token is bound to the filters it was issued with.
        let query = ListQuery::of_request("cases", &request);
        let mut violations = Vec::new();
        let mut filter = ListFilter::default();
        let mut page_size_read = PageSize::default();
        match PageRequest::parse(page_size, &page_token, &query) {
            Ok(page) => {
                page_size_read = page.size;
                if let Some(after) = page.after {
                    match Uuid::try_parse(&after) {
                        Ok(before) => filter.before = Some(before),
                        Err(_) => violations.push(PagingError::ForeignToken.into()),
                    }
                }
            }
            Err(paging) => violations.extend(paging),
        }
        match proto::CaseState::try_from(request.state) {
            Ok(proto::CaseState::Unspecified) => {}
            Ok(state) => {
                filter.state = convert::case_state_from_proto(state).map(|state| state.to_string())
            }
            Err(_) => violations.push(FieldViolation::new("state", "is not a case state")),
        }
        match optional_tier("tier", request.tier) {
            Ok(tier) => filter.tier = tier.map(|tier| tier.to_string()),
            Err(_) => violations.push(FieldViolation::new("tier", "is not a handling tier")),
        }
        if !request.block.trim().is_empty() {
            match BlockCode::parse_name(&request.block) {
                Ok(block) => filter.block_code = Some(block.to_string()),
                Err(error) => violations.push(FieldViolation::new("block", error.to_string())),
            }
        }
        if !request.subdistrict_code.trim().is_empty() {
            match SubdistrictCode::parse(&request.subdistrict_code) {
                Ok(code) => filter.subdistrict_code = Some(code.to_string()),
                Err(error) => {
                    violations.push(FieldViolation::new("subdistrict_code", error.to_string()))
                }
            }
        }
        if !request.assignee.trim().is_empty() {
            match parse_assignee(&request.assignee) {
                Ok(assignee) => filter.assignee = Some(assignee_name(&assignee)),
                Err(error) => violations.push(FieldViolation::new("assignee", error.to_string())),
            }
        }
        match proto::CaseKind::try_from(request.kind) {
            Ok(proto::CaseKind::Unspecified) => {}
            Ok(kind) => filter.kind = convert::kind_from_proto(kind).map(|kind| kind.to_string()),
            Err(_) => violations.push(FieldViolation::new("kind", "is not a case kind")),
        }
        match proto::TriageStatus::try_from(request.triage_status) {
            Ok(proto::TriageStatus::Unspecified) => {}
            Ok(status) => {
                filter.triage_status =
                    render::triage_status_from_proto(status).map(|status| status.to_string())
            }
            Err(_) => violations.push(FieldViolation::new(
                "triage_status",
                "is not a triage status",
            )),
        }
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        let now = self.shared.clock.now();
        if request.overdue_only {
            filter.overdue_at = Some(now);
        }
        let scope = access::list_scope(caller);
        let mut connection = self.shared.pool.acquire().await?;
        let mut cases = store::list_cases(
            &mut connection,
            &scope,
            &filter,
            page_size_read.fetch_limit(),
        )
        .await?;
        let next_page_token = page_size_read.next_page_token(&mut cases, &query, |stored| {
            stored.case.id().as_uuid().to_string()
        });
        Ok(proto::ListCasesResponse {
            cases: cases
                .iter()
                .map(|stored| {
                    let visibility = access::visibility(caller, stored).max(Visibility::Summary);
                    render::case(stored, visibility, None, now)
                })
                .collect(),
            next_page_token,
        })
    }

    async fn get_indicators(
        &self,
        caller: &Caller,
        request: proto::GetIndicatorsRequest,
    ) -> Result<proto::GetIndicatorsResponse, Error> {
        access::require_role(
            caller,
            &[
                Role::DistrictAdmin,
                Role::SubdistrictDispatcher,
                Role::Integrator,
                Role::Supervisor,
                Role::Governor,
                Role::DepartmentOfficer,
                Role::Service,
            ],
        )?;
        let start = required_instant("period_start", request.period_start.as_ref())?;
        let end = required_instant("period_end", request.period_end.as_ref())?;
        let period = Period::new(start, end)
            .map_err(|error| Error::invalid("period_end", error.to_string()))?;
        let now = self.shared.clock.now();
        let as_of = match &request.as_of {
            Some(timestamp) => convert::instant(timestamp)
                .map_err(|error| Error::invalid("as_of", error.to_string()))?,
            None => now,
        };
        let grouping = proto::IndicatorGrouping::try_from(request.group_by)
            .map_err(|_| Error::invalid("group_by", "is not a grouping"))?;
        let subdistrict = if request.subdistrict_code.trim().is_empty() {
            None
        } else {
            Some(
                SubdistrictCode::parse(&request.subdistrict_code)
                    .map_err(|error| Error::invalid("subdistrict_code", error.to_string()))?,
            )
        };
        let scope = access::list_scope(caller);
        let mut connection = self.shared.pool.acquire().await?;
        let records = store::records_for_indicators(
            &mut connection,
            &scope,
            subdistrict.as_ref().map(SubdistrictCode::as_str),
            period.start(),
            period.end(),
            as_of,
        )
        .await?;
        let keys = group_keys(&records, grouping);
        let query = IndicatorQuery { period, as_of };
        let groups = compute_indicators(&records, &query, |case| keys.get(&case).cloned());
        Ok(proto::GetIndicatorsResponse {
            groups: groups
                .into_iter()
                .map(|(key, indicators)| render::indicator_group(key, &indicators))
                .collect(),
            as_of: Some(convert::timestamp(as_of)),
        })
    }
}

/// Each case's group key, from its records (so a past period groups as it stood).
fn group_keys(
    records: &[TransitionRecord],
    grouping: proto::IndicatorGrouping,
) -> HashMap<CaseId, String> {
    let mut ordered: Vec<&TransitionRecord> = records.iter().collect();
    ordered.sort_by_key(|record| (record.case_id, record.sequence));
    let mut keys: HashMap<CaseId, String> = HashMap::new();
    let block_code = |name: &crate::domain::values::BlockName| BlockCode::of_block_name(name);
    for record in ordered {
        let key = match (&record.action, grouping) {
            (_, proto::IndicatorGrouping::Unspecified | proto::IndicatorGrouping::Total) => {
                Some("total".to_owned())
            }
            (
                Action::Reported {
                    block: Some(block), ..
                }
                | Action::Triaged { block, .. }
                | Action::Rehomed {
                    to_block: block, ..
                },
                proto::IndicatorGrouping::Block
                | proto::IndicatorGrouping::Community
                | proto::IndicatorGrouping::Subdistrict,
            ) => block_code(block).map(|code| match grouping {
                proto::IndicatorGrouping::Community => code.community_code().to_owned(),
                proto::IndicatorGrouping::Subdistrict => code.subdistrict_code().to_owned(),
                _ => code.to_string(),
            }),
            (
                Action::Dispatched { assignment, .. }
                | Action::Reassigned { assignment, .. }
                | Action::Escalated { assignment, .. }
                | Action::Rehomed {
                    assignment: Some(assignment),
                    ..
                },
                proto::IndicatorGrouping::Department | proto::IndicatorGrouping::Staff,
            ) => match (&assignment.assignee, grouping) {
                (Assignee::Unit(unit), proto::IndicatorGrouping::Department) => {
                    match DutyUnit::of_unit_name(unit) {
                        Some(DutyUnit::Department(code)) => Some(code.to_string()),
                        _ => None,
                    }
                }
                (Assignee::Staff(id), proto::IndicatorGrouping::Staff) => Some(id.to_string()),
                _ => None,
            },
            _ => None,
        };
        if let Some(key) = key {
            keys.insert(record.case_id, key);
        }
    }
    keys
}

fn respond<T>(result: Result<T, Error>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl CaseDispatch for CaseService {
    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn report_case(
        &self,
        request: Request<proto::ReportCaseRequest>,
    ) -> Result<Response<proto::ReportCaseResponse>, Status> {
        let caller = caller(&request)?;
        respond(self.report_case(&caller, request.into_inner()).await)
    }

    async fn get_case(
        &self,
        request: Request<proto::GetCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        let result = async {
            let id = case_id("name", &request.get_ref().name)?;
            let (stored, visibility) = self.read(&caller, id).await?;
            let contact = if visibility == Visibility::Full {
                let mut connection = self.shared.pool.acquire().await?;
                store::load_contact(&mut connection, id).await?
            } else {
                None
            };
            Ok(render::case(
                &stored,
                visibility,
                contact.as_ref(),
                self.shared.clock.now(),
            ))
        }
        .await;
        respond(result)
    }

    async fn list_cases(
        &self,
        request: Request<proto::ListCasesRequest>,
    ) -> Result<Response<proto::ListCasesResponse>, Status> {
        let caller = caller(&request)?;
        respond(self.list_cases(&caller, request.into_inner()).await)
    }

    async fn get_case_history(
        &self,
        request: Request<proto::GetCaseHistoryRequest>,
    ) -> Result<Response<proto::GetCaseHistoryResponse>, Status> {
        let caller = caller(&request)?;
        let result = async {
            let id = case_id("name", &request.get_ref().name)?;
            self.read(&caller, id).await?;
            let mut connection = self.shared.pool.acquire().await?;
            let records = store::load_records(&mut connection, id).await?;
            Ok(proto::GetCaseHistoryResponse {
                records: records.iter().map(render::record).collect(),
            })
        }
        .await;
        respond(result)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn classify_case(
        &self,
        request: Request<proto::ClassifyCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.classify_case(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn accept_case(
        &self,
        request: Request<proto::AcceptCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(
            self.transition(&caller, &request.get_ref().name, HANDLERS, |_, _| {
                Ok(Command::Accept)
            })
            .await,
        )
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn start_work(
        &self,
        request: Request<proto::StartWorkRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(
            self.transition(&caller, &request.get_ref().name, HANDLERS, |_, _| {
                Ok(Command::StartWork)
            })
            .await,
        )
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn resolve_case(
        &self,
        request: Request<proto::ResolveCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let result = async {
            let note = request.resolution_note.trim().to_owned();
            if note.chars().count() > MAX_NOTE_CHARS {
                return Err(Error::invalid(
                    "resolution_note",
                    format!(
                        "is {} characters long; at most {MAX_NOTE_CHARS} are allowed",
                        note.chars().count()
                    ),
                ));
            }
            let id = case_id("name", &request.name)?;
            let mut work = self.open(&caller, id).await?;
            let actor = access::actor_on(&caller, Some(&work.stored))?;
            work.stored
                .case
                .clone()
                .apply(actor.clone(), Command::Resolve, work.now)?;
            access::require_role_over(&caller, HANDLERS, &work.stored)?;
            work.apply(actor, Command::Resolve)?;
            if !note.is_empty() {
                work.stored.resolution_note = Some(note);
            }
            work.finish().await
        }
        .await;
        respond(result)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn verify_case(
        &self,
        request: Request<proto::VerifyCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.verify_case(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn rate_case(
        &self,
        request: Request<proto::RateCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.rate_case(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn close_case(
        &self,
        request: Request<proto::CloseCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.close_case(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn escalate_case(
        &self,
        request: Request<proto::EscalateCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.escalate_case(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn reassign_case(
        &self,
        request: Request<proto::ReassignCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.reassign_case(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn request_extension(
        &self,
        request: Request<proto::RequestExtensionRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.request_extension(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn decide_extension(
        &self,
        request: Request<proto::DecideExtensionRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.decide_extension(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn park_case(
        &self,
        request: Request<proto::ParkCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.park_case(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn unpark_case(
        &self,
        request: Request<proto::UnparkCaseRequest>,
    ) -> Result<Response<proto::Case>, Status> {
        let caller = caller(&request)?;
        respond(self.unpark_case(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn schedule_meeting(
        &self,
        request: Request<proto::ScheduleMeetingRequest>,
    ) -> Result<Response<proto::Meeting>, Status> {
        let caller = caller(&request)?;
        respond(self.schedule_meeting(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn record_meeting_decision(
        &self,
        request: Request<proto::RecordMeetingDecisionRequest>,
    ) -> Result<Response<proto::Meeting>, Status> {
        let caller = caller(&request)?;
        respond(
            self.record_meeting_decision(&caller, request.into_inner())
                .await,
        )
    }

    async fn list_meetings(
        &self,
        request: Request<proto::ListMeetingsRequest>,
    ) -> Result<Response<proto::ListMeetingsResponse>, Status> {
        let caller = caller(&request)?;
        let result = async {
            let id = case_id("case", &request.get_ref().case)?;
            self.read(&caller, id).await?;
            let mut connection = self.shared.pool.acquire().await?;
            let meetings = store::list_meetings(&mut connection, id).await?;
            Ok(proto::ListMeetingsResponse {
                meetings: meetings.iter().map(render::meeting).collect(),
            })
        }
        .await;
        respond(result)
    }

    async fn get_indicators(
        &self,
        request: Request<proto::GetIndicatorsRequest>,
    ) -> Result<Response<proto::GetIndicatorsResponse>, Status> {
        let caller = caller(&request)?;
        respond(self.get_indicators(&caller, request.into_inner()).await)
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    async fn advance_test_clock(
        &self,
        request: Request<proto::AdvanceTestClockRequest>,
    ) -> Result<Response<proto::AdvanceTestClockResponse>, Status> {
        let caller = caller(&request)?;
        let result = async {
            access::require_role(&caller, &[Role::DistrictAdmin, Role::Service])?;
            let by = request
                .get_ref()
                .by
                .as_ref()
                .and_then(convert::time_delta)
                .filter(|by| *by > TimeDelta::zero() && *by <= TimeDelta::days(400))
                .ok_or_else(|| {
                    Error::invalid("by", "a positive duration of at most 400 days is required")
                })?;
            let offset = self.shared.clock.advance(&self.shared.pool, by).await?;
            Ok(proto::AdvanceTestClockResponse {
                now: Some(convert::timestamp(self.shared.clock.now())),
                offset: Some(convert::duration(offset)),
            })
        }
        .await;
        respond(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::geo::GeoPoint;
    use crate::domain::lifecycle::{Assignment, CaseKind, Channel, NewCase, Place};
    use crate::domain::values::{Matter, UnitName};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_741_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn records_of_a_case_moved_between_blocks() -> (CaseId, Vec<TransitionRecord>) {
        let (mut case, first) = Case::report(
            NewCase {
                id: CaseId::new_v7(),
                kind: CaseKind::Problem,
                channel: Channel::Patrol,
                matter: Matter::Classified(MatterCode::parse("M-1").unwrap()),
                place: Place::Point(GeoPoint::new(27.8, 112.9).unwrap()),
            },
            Actor::System,
            at(0),
        );
        let mut records = vec![first];
        let old_block = BlockCode::parse("430302001004017").unwrap().block_name();
        let new_block = BlockCode::parse("430302002001003").unwrap().block_name();
        records.extend(
            case.apply(
                Actor::System,
                Command::Triage {
                    block: old_block,
                    matter: MatterCode::parse("M-1").unwrap(),
                    tier: Tier::FrontLine,
                },
                at(1),
            )
            .unwrap(),
        );
        let assignment = Assignment {
            assignee: Assignee::Unit(UnitName::parse("departments/urban_management").unwrap()),
            acceptance_due: at(100),
            resolution_due: at(1000),
        };
        records.extend(
            case.apply(Actor::System, Command::Dispatch { assignment }, at(2))
                .unwrap(),
        );
        records.extend(
            case.apply(
                Actor::System,
                Command::Rehome {
                    block: new_block,
                    assignment: None,
                    reason: Reason::parse("generation 2").unwrap(),
                },
                at(3),
            )
            .unwrap(),
        );
        (case.id(), records)
    }

    #[test]
    fn cases_are_grouped_by_their_latest_block_community_and_subdistrict() {
        let (id, records) = records_of_a_case_moved_between_blocks();
        let by_block = group_keys(&records, proto::IndicatorGrouping::Block);
        assert_eq!(by_block[&id], "430302002001003");
        let by_community = group_keys(&records, proto::IndicatorGrouping::Community);
        assert_eq!(by_community[&id], "430302002001");
        let by_subdistrict = group_keys(&records, proto::IndicatorGrouping::Subdistrict);
        assert_eq!(by_subdistrict[&id], "430302002");
        let total = group_keys(&records, proto::IndicatorGrouping::Total);
        assert_eq!(total[&id], "total");
    }

    #[test]
    fn cases_are_grouped_by_the_department_they_were_assigned_to_and_staff_only_if_assigned_personally()
     {
        let (id, records) = records_of_a_case_moved_between_blocks();
        assert_eq!(
            group_keys(&records, proto::IndicatorGrouping::Department)[&id],
            "urban_management"
        );
        assert!(!group_keys(&records, proto::IndicatorGrouping::Staff).contains_key(&id));
    }
}
