//! Moving a case: accept, start, resolve, verify, rate, close, escalate, reassign,
//! extensions and the 挂账 register. Each handler parses its request into a command
//! (every field violation at once, before any I/O), locks the case the caller reaches,
//! applies the command through the lifecycle and saves it with its records, events and
//! audit record in one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use flatgov_auth::Role;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_proto::cases::v1 as proto;
use uuid::Uuid;

use super::CaseService;
use super::parse;
use crate::access;
use crate::convert;
use crate::domain::lifecycle::{Actor, Assignee, CaseState, Command, EscalationTrigger, Tier};
use crate::domain::units::{DepartmentCode, DutyUnit, assignee_name, parse_assignee};
use crate::domain::values::{CaseId, Comment, Reason};
use crate::error::Error;
use crate::events;
use crate::store::{StoredCase, TriageStatus};

/// The longest resolution note, in characters.
const MAX_NOTE_CHARS: usize = 2000;

/// A request that names only its case.
fn named_case(name: &str) -> Result<CaseId, Error> {
    let mut violations = Violations::new();
    let id = violations.check("name", parse::case_id(name));
    violations.finish()?;
    id.ok_or_else(|| Error::Internal("a parsed case id went missing".into()))
}

/// Every field of a parsed request: `Ok` when nothing was wrong.
fn finish<T>(violations: Violations, value: Option<T>) -> Result<T, Error> {
    violations.finish()?;
    value.ok_or_else(|| Error::Internal("a parsed request went missing".into()))
}

pub(super) async fn accept_case(
    service: &CaseService,
    access: &Access,
    request: proto::AcceptCaseRequest,
) -> Result<proto::Case, Error> {
    let id = named_case(&request.name)?;
    service
        .transition(access, id, |_, _| Ok(Command::Accept))
        .await
}

pub(super) async fn start_work(
    service: &CaseService,
    access: &Access,
    request: proto::StartWorkRequest,
) -> Result<proto::Case, Error> {
    let id = named_case(&request.name)?;
    service
        .transition(access, id, |_, _| Ok(Command::StartWork))
        .await
}

/// A resolution: the case and the handler's note.
struct Resolution {
    id: CaseId,
    note: Option<String>,
}

impl TryFrom<proto::ResolveCaseRequest> for Resolution {
    type Error = Error;

    fn try_from(request: proto::ResolveCaseRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let note = request.resolution_note.trim().to_owned();
        let chars = note.chars().count();
        if chars > MAX_NOTE_CHARS {
            violations.add(
                "resolution_note",
                format!("is {chars} characters long; at most {MAX_NOTE_CHARS} are allowed"),
            );
        }
        let id = finish(violations, id)?;
        Ok(Self {
            id,
            note: (!note.is_empty()).then_some(note),
        })
    }
}

pub(super) async fn resolve_case(
    service: &CaseService,
    access: &Access,
    request: proto::ResolveCaseRequest,
) -> Result<proto::Case, Error> {
    let resolution = Resolution::try_from(request)?;
    let mut work = service.open(access, resolution.id).await?;
    let actor = access::actor_on(access, Some(&work.stored))?;
    work.apply(actor, Command::Resolve)?;
    if let Some(note) = resolution.note {
        work.stored.resolution_note = Some(note);
    }
    work.finish().await
}

/// A verification: passed, or failed with the reason the work goes back.
struct Verification {
    id: CaseId,
    failed_because: Option<Reason>,
}

impl TryFrom<proto::VerifyCaseRequest> for Verification {
    type Error = Error;

    fn try_from(request: proto::VerifyCaseRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let failed_because = if request.passed {
            None
        } else {
            violations.check("reason", parse::reason(&request.reason))
        };
        let id = finish(violations, id)?;
        Ok(Self { id, failed_because })
    }
}

/// Who verifies at a tier: the block's supervisor the front line, the subdistrict
/// platform the higher tiers, the district any.
fn verifying_roles(stored: &StoredCase) -> &'static [Role] {
    match stored.case.tier() {
        Some(Tier::FrontLine) | None => &[Role::Supervisor, Role::DistrictAdmin],
        Some(Tier::CoordinationMeeting | Tier::Whistle) => {
            &[Role::SubdistrictDispatcher, Role::DistrictAdmin]
        }
    }
}

pub(super) async fn verify_case(
    service: &CaseService,
    access: &Access,
    request: proto::VerifyCaseRequest,
) -> Result<proto::Case, Error> {
    let verification = Verification::try_from(request)?;
    let mut work = service.open(access, verification.id).await?;
    let actor = access::actor_on(access, Some(&work.stored))?;
    let command = match verification.failed_because {
        None => Command::PassVerification,
        Some(reason) => Command::FailVerification {
            reason,
            rework_due: service.shared.rework_due(&work.stored.case, work.now)?,
        },
    };
    // The state speaks first, then who may verify at this tier.
    work.try_command(&actor, &command)?;
    let may_verify = verifying_roles(&work.stored)
        .iter()
        .any(|role| access::role_reaches(access, *role, &work.stored));
    if !may_verify {
        return Err(Error::PermissionDenied(
            "front-line work is verified by the block's supervisor, higher tiers by the subdistrict platform"
                .into(),
        ));
    }
    let passed = matches!(command, Command::PassVerification);
    work.apply(actor, command)?;
    if passed {
        let has_contact = crate::store::load_contact(&mut work.transaction, verification.id)
            .await?
            .is_some();
        if !work.stored.has_rater(has_contact) {
            let why = if work.stored.anonymous {
                "anonymous report: no resident to rate the result"
            } else {
                "no resident reported it (patrol, video or referral): nobody to rate the result"
            };
            let reason = parse::reason(why).map_err(Error::Internal)?;
            work.apply(Actor::System, Command::CloseUnrated { reason })?;
        }
    }
    work.finish().await
}

/// A rating with an optional comment.
struct RatingGiven {
    id: CaseId,
    rating: crate::domain::lifecycle::Rating,
    comment: Option<Comment>,
}

impl TryFrom<proto::RateCaseRequest> for RatingGiven {
    type Error = Error;

    fn try_from(request: proto::RateCaseRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let rating = violations.check(
            "rating",
            proto::Rating::try_from(request.rating)
                .ok()
                .and_then(convert::rating_from_proto)
                .ok_or("must be satisfied, basically satisfied or unsatisfied"),
        );
        let comment = if request.comment.trim().is_empty() {
            None
        } else {
            violations.check(
                "comment",
                Comment::parse(&request.comment).map_err(|error| error.to_string()),
            )
        };
        violations.finish()?;
        match (id, rating) {
            (Some(id), Some(rating)) => Ok(Self {
                id,
                rating,
                comment,
            }),
            _ => Err(Error::Internal("a parsed rating went missing".into())),
        }
    }
}

pub(super) async fn rate_case(
    service: &CaseService,
    access: &Access,
    request: proto::RateCaseRequest,
) -> Result<proto::Case, Error> {
    let given = RatingGiven::try_from(request)?;
    let mut work = service.open(access, given.id).await?;
    // The reporter rates as the resident; staff record a rating given to them.
    let actor = if access::role_reaches(access, Role::Resident, &work.stored) {
        Actor::Resident
    } else {
        access::actor_on(access, Some(&work.stored))?
    };
    let command = Command::Rate {
        rating: given.rating,
        due_if_reopened: service.shared.rework_due(&work.stored.case, work.now)?,
    };
    work.apply(actor, command)?;
    if let Some(comment) = given.comment {
        work.stored.rating_comment = Some(comment.to_string());
    }
    if work.stored.case.state() == CaseState::Rated {
        work.apply(Actor::System, Command::Close)?;
    }
    work.finish().await
}

/// A closure, with the reason a dismissal or an unrated closure needs.
struct Closing {
    id: CaseId,
    reason_text: String,
}

pub(super) async fn close_case(
    service: &CaseService,
    access: &Access,
    request: proto::CloseCaseRequest,
) -> Result<proto::Case, Error> {
    let closing = Closing {
        id: named_case(&request.name)?,
        reason_text: request.reason,
    };
    let needs_reason = |text: &str| {
        parse::reason(text).map_err(|description| {
            Error::Invalid(vec![flatgov_grpc::error::FieldViolation::new(
                "reason",
                description,
            )])
        })
    };
    service
        .transition(access, closing.id, move |stored, _| {
            Ok(match stored.case.state() {
                CaseState::Verified => Command::CloseUnrated {
                    reason: needs_reason(&closing.reason_text)?,
                },
                CaseState::Reported | CaseState::AwaitingManualLocation | CaseState::Triaged => {
                    Command::Dismiss {
                        reason: needs_reason(&closing.reason_text)?,
                    }
                }
                _ => Command::Close,
            })
        })
        .await
}

/// An escalation: why, and which agencies the whistle should summon.
struct Escalation {
    id: CaseId,
    reason: Reason,
    agencies: Vec<DepartmentCode>,
}

impl TryFrom<proto::EscalateCaseRequest> for Escalation {
    type Error = Error;

    fn try_from(request: proto::EscalateCaseRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let reason = violations.check("reason", parse::reason(&request.reason));
        let agencies: Vec<DepartmentCode> = request
            .agencies
            .iter()
            .enumerate()
            .filter_map(|(index, code)| {
                violations.check(
                    format!("agencies[{index}]"),
                    DepartmentCode::parse(code).map_err(|error| error.to_string()),
                )
            })
            .collect();
        violations.finish()?;
        match (id, reason) {
            (Some(id), Some(reason)) => Ok(Self {
                id,
                reason,
                agencies,
            }),
            _ => Err(Error::Internal("a parsed escalation went missing".into())),
        }
    }
}

pub(super) async fn escalate_case(
    service: &CaseService,
    access: &Access,
    request: proto::EscalateCaseRequest,
) -> Result<proto::Case, Error> {
    let escalation = Escalation::try_from(request)?;
    let mut work = service.open(access, escalation.id).await?;
    let actor = access::actor_on(access, Some(&work.stored))?;
    let Some(to) = work.stored.case.tier().and_then(Tier::next) else {
        // Let the lifecycle name the state (or the highest tier).
        let current = work.stored.case.assignment().cloned().ok_or_else(|| {
            Error::Precondition(format!(
                "cannot escalate a case that is {}",
                work.stored.case.state()
            ))
        })?;
        work.try_command(
            &actor,
            &Command::Escalate {
                trigger: EscalationTrigger::Manual(escalation.reason),
                assignment: current,
            },
        )?;
        return Err(Error::Precondition("the case cannot be escalated".into()));
    };
    let by_platform = [Role::SubdistrictDispatcher, Role::DistrictAdmin]
        .iter()
        .any(|role| access::role_reaches(access, *role, &work.stored));
    let governor_holds_it = work
        .stored
        .case
        .assignment()
        .is_some_and(|assignment| assignment.assignee.admits(&actor));
    if !by_platform && !governor_holds_it {
        return Err(Error::PermissionDenied(
            "a governor escalates only a case they hold".into(),
        ));
    }
    let (assignee, named) = service
        .shared
        .tier_handler(
            &mut work.transaction,
            &work.stored,
            to,
            Some(escalation.agencies),
        )
        .await?;
    let assignment = service
        .shared
        .assignment(&work.stored.case, to, assignee, work.now)?;
    if to == Tier::Whistle {
        work.stored.extras.escalation_agencies = named;
    }
    work.apply(
        actor,
        Command::Escalate {
            trigger: EscalationTrigger::Manual(escalation.reason),
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

/// A reassignment: to whom, why, optionally at another tier.
struct Reassignment {
    id: CaseId,
    assignee: Assignee,
    reason: Reason,
    tier: Option<Tier>,
}

impl TryFrom<proto::ReassignCaseRequest> for Reassignment {
    type Error = Error;

    fn try_from(request: proto::ReassignCaseRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let assignee = violations.check(
            "assignee",
            parse_assignee(&request.assignee).map_err(|error| error.to_string()),
        );
        let reason = violations.check("reason", parse::reason(&request.reason));
        let tier = violations.check("tier", parse::optional_tier(request.tier));
        violations.finish()?;
        match (id, assignee, reason, tier) {
            (Some(id), Some(assignee), Some(reason), Some(tier)) => Ok(Self {
                id,
                assignee,
                reason,
                tier,
            }),
            _ => Err(Error::Internal("a parsed reassignment went missing".into())),
        }
    }
}

/// What the duty-list gate says about handing `seen` to `assignee`: `None` when it
/// allows it (or need not be asked: same unit, no matter yet). Asked outside any
/// transaction, because it is a call to another service.
pub(super) async fn gate_refusal(
    service: &CaseService,
    access: &Access,
    seen: &StoredCase,
    assignee: &Assignee,
) -> Result<Option<crate::store::RefusalDetails>, Error> {
    let from = access::holder_unit(seen).or_else(|| {
        seen.extras
            .responsibility
            .as_ref()
            .map(|responsibility| responsibility.lead.clone())
    });
    let to = receiving_unit(seen, assignee);
    let refusal = match (seen.case.matter().code(), from, to) {
        (Some(matter), Some(from), Some(to)) if from != to => {
            let attempted_by = access
                .caller()
                .map(|caller| caller.subject.clone())
                .unwrap_or_default();
            let check_id = Uuid::now_v7().to_string();
            let answer = service
                .directory
                .check_assignment(
                    matter,
                    &from,
                    &to,
                    seen.block().as_ref(),
                    &attempted_by,
                    &seen.name(),
                    &check_id,
                )
                .await
                .map_err(|error| Error::from_call("the duty lists", error))?;
            answer.map(|mut refusal| {
                refusal.attempted_assignee = assignee_name(assignee);
                refusal
            })
        }
        _ => None,
    };
    Ok(refusal)
}

/// The caller's message for a refusal of the gate.
pub(super) fn refusal_message(refusal: &crate::store::RefusalDetails) -> String {
    format!(
        "the duty lists refuse assigning this case to {}: {} ({}){}",
        refusal.attempted_assignee,
        refusal.reason,
        refusal.reason_code,
        refusal
            .responsible_instead
            .as_ref()
            .map(|unit| format!("; responsible instead: {unit}"))
            .unwrap_or_default()
    )
}

pub(super) async fn reassign_case(
    service: &CaseService,
    access: &Access,
    request: proto::ReassignCaseRequest,
) -> Result<proto::Case, Error> {
    let reassignment = Reassignment::try_from(request)?;
    let id = reassignment.id;
    // Ask the gate first, outside any transaction.
    let (seen, _) = service.read(access, id).await?;
    let refusal = gate_refusal(service, access, &seen, &reassignment.assignee).await?;
    let mut work = service.open(access, id).await?;
    if work.stored.case.version() != seen.case.version() {
        return Err(Error::Precondition(
            "the case changed while the duty lists were asked; retry".into(),
        ));
    }
    let actor = access::actor_on(access, Some(&work.stored))?;
    if let Some(refusal) = refusal {
        let message = refusal_message(&refusal);
        let gate_said =
            crate::triage::reason_text(&format!("{}: {}", refusal.reason_code, refusal.reason));
        work.stored.extras.refusal = Some(refusal);
        work.apply(actor, Command::RefuseDispatch { reason: gate_said })?;
        work.finish().await?;
        return Err(Error::Precondition(message));
    }
    let state = work.stored.case.state();
    let current_tier = work.stored.case.tier();
    let new_tier = reassignment
        .tier
        .or(current_tier)
        .unwrap_or(Tier::FrontLine);
    let assignment = service.shared.assignment(
        &work.stored.case,
        new_tier,
        reassignment.assignee.clone(),
        work.now,
    )?;
    if state == CaseState::Triaged {
        if reassignment.tier.is_some() && reassignment.tier != current_tier {
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
                    reason: reassignment.reason,
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
                tier: reassignment.tier,
                reason: reassignment.reason,
            },
        )?;
    }
    let now_at_whistle = new_tier == Tier::Whistle && current_tier != Some(Tier::Whistle);
    if now_at_whistle {
        if let Assignee::Unit(unit) = &reassignment.assignee
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

/// An extension asked for: until when, and why.
struct ExtensionAsked {
    id: CaseId,
    until: DateTime<Utc>,
    reason: Reason,
}

impl TryFrom<proto::RequestExtensionRequest> for ExtensionAsked {
    type Error = Error;

    fn try_from(request: proto::RequestExtensionRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let until = violations.check("until", parse::required_instant(request.until.as_ref()));
        let reason = violations.check("reason", parse::reason(&request.reason));
        violations.finish()?;
        match (id, until, reason) {
            (Some(id), Some(until), Some(reason)) => Ok(Self { id, until, reason }),
            _ => Err(Error::Internal("a parsed extension went missing".into())),
        }
    }
}

pub(super) async fn request_extension(
    service: &CaseService,
    access: &Access,
    request: proto::RequestExtensionRequest,
) -> Result<proto::Case, Error> {
    let asked = ExtensionAsked::try_from(request)?;
    service
        .transition(access, asked.id, move |_, _| {
            Ok(Command::RequestExtension {
                until: asked.until,
                reason: asked.reason.clone(),
            })
        })
        .await
}

/// The decision on an extension.
struct ExtensionDecided {
    id: CaseId,
    command: Command,
}

impl TryFrom<proto::DecideExtensionRequest> for ExtensionDecided {
    type Error = Error;

    fn try_from(request: proto::DecideExtensionRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let command = if request.approve {
            Some(Command::ApproveExtension)
        } else {
            violations
                .check("reason", parse::reason(&request.reason))
                .map(|reason| Command::DenyExtension { reason })
        };
        violations.finish()?;
        match (id, command) {
            (Some(id), Some(command)) => Ok(Self { id, command }),
            _ => Err(Error::Internal("a parsed decision went missing".into())),
        }
    }
}

pub(super) async fn decide_extension(
    service: &CaseService,
    access: &Access,
    request: proto::DecideExtensionRequest,
) -> Result<proto::Case, Error> {
    let decided = ExtensionDecided::try_from(request)?;
    service
        .transition(access, decided.id, move |_, _| Ok(decided.command.clone()))
        .await
}

/// A case put in the 挂账 register until a review date.
struct Parking {
    id: CaseId,
    reason: Reason,
    review_on: NaiveDate,
}

impl TryFrom<proto::ParkCaseRequest> for Parking {
    type Error = Error;

    fn try_from(request: proto::ParkCaseRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let reason = violations.check("reason", parse::reason(&request.reason));
        let review_on = violations.check(
            "review_on",
            NaiveDate::parse_from_str(request.review_on.trim(), "%Y-%m-%d")
                .map_err(|_| "must be a date YYYY-MM-DD"),
        );
        violations.finish()?;
        match (id, reason, review_on) {
            (Some(id), Some(reason), Some(review_on)) => Ok(Self {
                id,
                reason,
                review_on,
            }),
            _ => Err(Error::Internal("a parsed parking went missing".into())),
        }
    }
}

pub(super) async fn park_case(
    service: &CaseService,
    access: &Access,
    request: proto::ParkCaseRequest,
) -> Result<proto::Case, Error> {
    let parking = Parking::try_from(request)?;
    service
        .transition(access, parking.id, move |_, _| {
            Ok(Command::Park {
                reason: parking.reason.clone(),
                review_on: parking.review_on,
            })
        })
        .await
}

/// A case taken out of the register, optionally with a new resolution deadline.
struct Unparking {
    id: CaseId,
    reason: Reason,
    resolution_due: Option<DateTime<Utc>>,
}

impl TryFrom<proto::UnparkCaseRequest> for Unparking {
    type Error = Error;

    fn try_from(request: proto::UnparkCaseRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let reason = violations.check("reason", parse::reason(&request.reason));
        let resolution_due = match request.resolution_due.as_ref() {
            None => None,
            Some(due) => violations.check(
                "resolution_due",
                convert::instant(due).map_err(|error| error.to_string()),
            ),
        };
        violations.finish()?;
        match (id, reason) {
            (Some(id), Some(reason)) => Ok(Self {
                id,
                reason,
                resolution_due,
            }),
            _ => Err(Error::Internal("a parsed unparking went missing".into())),
        }
    }
}

pub(super) async fn unpark_case(
    service: &CaseService,
    access: &Access,
    request: proto::UnparkCaseRequest,
) -> Result<proto::Case, Error> {
    let unparking = Unparking::try_from(request)?;
    let shared = service.shared.clone();
    service
        .transition(access, unparking.id, move |stored, now| {
            let resumes_with_handler = stored
                .case
                .parking()
                .is_some_and(|parking| parking.resume_to.is_with_handler());
            let resolution_due = match (
                unparking.resolution_due,
                resumes_with_handler,
                stored.case.tier(),
            ) {
                (Some(due), _, _) => Some(due),
                (None, true, Some(tier)) => Some(
                    shared
                        .deadlines(&stored.case, tier, now, None)?
                        .resolution_due,
                ),
                _ => None,
            };
            Ok(Command::Unpark {
                reason: unparking.reason.clone(),
                resolution_due,
            })
        })
        .await
}
