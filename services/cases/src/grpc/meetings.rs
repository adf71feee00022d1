//! Coordination meetings (协调会) of cases at the meeting tier: scheduling, recording
//! what was decided, listing a case's meetings.

use chrono::{DateTime, NaiveDate, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::{self, Fingerprint, IdempotencyError};
use flatgov_grpc::request_id::RequestId;
use flatgov_messaging::outbox;
use flatgov_proto::cases::v1 as proto;
use uuid::Uuid;

use super::CaseService;
use super::lifecycle;
use super::parse;
use super::working::Working;
use crate::access;
use crate::convert;
use crate::domain::lifecycle::{Actor, Assignee, Command, EscalationTrigger, Tier};
use crate::domain::units::{DepartmentCode, DutyUnit, assignee_name, parse_assignee};
use crate::domain::values::{CaseId, Reason};
use crate::error::Error;
use crate::events;
use crate::policy::POLICY;
use crate::render;
use crate::store::{self, MeetingActionRow, MeetingRow};
use crate::triage::reason_text;

/// The longest location and agenda, in characters, and the most participants.
const MAX_LOCATION_CHARS: usize = 200;
const MAX_AGENDA_CHARS: usize = 2000;
const MAX_PARTICIPANTS: usize = 50;

/// A meeting to schedule.
struct NewMeeting {
    case: CaseId,
    scheduled_for: DateTime<Utc>,
    location: String,
    agenda: String,
    participants: Vec<String>,
    request_id: Option<RequestId>,
}

impl TryFrom<&proto::ScheduleMeetingRequest> for NewMeeting {
    type Error = Error;

    fn try_from(request: &proto::ScheduleMeetingRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let case = violations.check("case", parse::case_id(&request.case));
        let scheduled_for = violations.check(
            "scheduled_for",
            parse::required_instant(request.scheduled_for.as_ref())
                .map_err(|_| "a valid time is required"),
        );
        let location = request.location.trim().to_owned();
        if location.chars().count() > MAX_LOCATION_CHARS || location.chars().any(char::is_control) {
            violations.add(
                "location",
                format!("at most {MAX_LOCATION_CHARS} characters, no control characters"),
            );
        }
        let agenda = request.agenda.trim().to_owned();
        if agenda.chars().count() > MAX_AGENDA_CHARS {
            violations.add("agenda", "at most 2,000 characters");
        }
        if request.participants.is_empty() || request.participants.len() > MAX_PARTICIPANTS {
            violations.add("participants", "between 1 and 50 are required");
        }
        let participants: Vec<String> = request
            .participants
            .iter()
            .enumerate()
            .filter_map(|(index, participant)| {
                violations.check(
                    format!("participants[{index}]"),
                    parse_assignee(participant)
                        .map(|assignee| assignee_name(&assignee))
                        .map_err(|error| error.to_string()),
                )
            })
            .collect();
        let request_id = violations
            .check("request_id", RequestId::parse_optional(&request.request_id))
            .flatten();
        violations.finish()?;
        match (case, scheduled_for) {
            (Some(case), Some(scheduled_for)) => Ok(Self {
                case,
                scheduled_for,
                location,
                agenda,
                participants,
                request_id,
            }),
            _ => Err(Error::Internal("a parsed meeting went missing".into())),
        }
    }
}

fn idempotency_error(error: IdempotencyError) -> Error {
    match error.violation() {
        Some(violation) => Error::Invalid(vec![violation]),
        None => match error {
            IdempotencyError::Database(error) => Error::Database(error),
            IdempotencyError::Reused(id) => Error::Internal(format!("request id {id} reused")),
        },
    }
}

/// The meeting an earlier call of this caller scheduled under the same request id,
/// re-read through the caller's current reach.
async fn scheduled_before(
    service: &CaseService,
    access: &Access,
    request_id: &RequestId,
    fingerprint: Fingerprint,
) -> Result<Option<proto::Meeting>, Error> {
    let mut connection = service.shared.pool.acquire().await?;
    let Some(resource) = idempotency::recall(&mut connection, access, request_id, fingerprint)
        .await
        .map_err(idempotency_error)?
    else {
        return Ok(None);
    };
    let meeting_id = resource
        .rsplit_once("/meetings/")
        .and_then(|(_, id)| Uuid::try_parse(id).ok())
        .ok_or_else(|| {
            Error::Internal(format!("a remembered meeting name {resource} is malformed"))
        })?;
    let meeting = store::load_meeting(&mut connection, meeting_id, false)
        .await?
        .ok_or_else(|| Error::NotFound(resource.clone()))?;
    service.read(access, meeting.case_id).await?;
    Ok(Some(render::meeting(&meeting)))
}

pub(super) async fn schedule_meeting(
    service: &CaseService,
    access: &Access,
    request: proto::ScheduleMeetingRequest,
) -> Result<proto::Meeting, Error> {
    let fingerprint = Fingerprint::of(&request);
    let new = NewMeeting::try_from(&request)?;
    if let Some(request_id) = &new.request_id
        && let Some(first) = scheduled_before(service, access, request_id, fingerprint).await?
    {
        return Ok(first);
    }
    let mut transaction = service.begin().await?;
    let stored = store::load_case(&mut transaction, new.case, true)
        .await?
        .ok_or_else(|| Error::NotFound(new.case.resource_name()))?;
    access::require_visible(access, &stored)?;
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
        .map(|block| block.subdistrict().to_string())
        .ok_or_else(|| Error::Precondition("the case has no block".into()))?;
    let now = service.shared.clock.now();
    let meeting = MeetingRow {
        id: Uuid::now_v7(),
        case_id: new.case,
        subdistrict_code: subdistrict,
        scheduled_for: new.scheduled_for,
        location: new.location,
        participants: new.participants,
        agenda: new.agenda,
        state: "scheduled".into(),
        decision: None,
        attendees: Vec::new(),
        decided_at: None,
        scheduled_by: access
            .caller()
            .map(|caller| caller.subject.clone())
            .unwrap_or_default(),
        created_at: now,
        actions: Vec::new(),
    };
    if let Some(request_id) = &new.request_id
        && let Err(error) = idempotency::remember(
            &mut transaction,
            access,
            request_id,
            fingerprint,
            &meeting.name(),
        )
        .await
    {
        if flatgov_grpc::error::is_unique_violation(&error) {
            // A retry with the same id committed first: answer as it did.
            transaction.rollback().await?;
            return scheduled_before(service, access, request_id, fingerprint)
                .await?
                .ok_or_else(|| Error::Internal("a remembered request id vanished".into()));
        }
        return Err(Error::Database(error));
    }
    store::insert_meeting(&mut transaction, &meeting).await?;
    let event = proto::MeetingScheduled {
        meeting: meeting.name(),
        case: new.case.resource_name(),
        subdistrict_code: meeting.subdistrict_code.clone(),
        scheduled_for: Some(convert::timestamp(meeting.scheduled_for)),
        participants: meeting.participants.clone(),
    };
    outbox::enqueue(&mut transaction, &meeting.name(), &event).await?;
    access.audit().resource(stored.name());
    access.audit().resource(meeting.name());
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service).await?;
    transaction.commit().await?;
    Ok(render::meeting(&meeting))
}

/// The longest decision and action description, in characters, and the most actions.
const MAX_DECISION_CHARS: usize = 4000;
const MAX_ACTION_CHARS: usize = 500;
const MAX_ACTIONS: usize = 50;
const MAX_ATTENDEES: usize = 100;

/// A change to the case a meeting decided.
enum Outcome {
    /// Hand the case to another handler, optionally at another tier.
    Reassign {
        assignee: Assignee,
        tier: Option<Tier>,
    },
    /// Move the case up a tier, summoning these agencies at the whistle.
    Escalate { agencies: Vec<DepartmentCode> },
    /// Put the case in the 挂账 register until this date.
    Park { review_on: NaiveDate },
    /// Move the resolution deadline to this instant.
    Extend { until: DateTime<Utc> },
}

/// What a meeting decided.
struct Decision {
    case: CaseId,
    meeting: Uuid,
    decision: String,
    actions: Vec<MeetingActionRow>,
    attendees: Vec<String>,
    outcome: Option<Outcome>,
}

/// The outcome a request names, filed under `outcome.…` fields.
fn parse_outcome(
    outcome: Option<&proto::MeetingOutcome>,
    violations: &mut Violations,
) -> Option<Outcome> {
    use proto::meeting_outcome::Change;
    match outcome?.change.as_ref() {
        None => {
            violations.add(
                "outcome",
                "names one change: reassign, escalate, park or extend",
            );
            None
        }
        Some(Change::Reassign(reassign)) => {
            let assignee = violations.check(
                "outcome.reassign.assignee",
                parse_assignee(&reassign.assignee).map_err(|error| error.to_string()),
            );
            let tier =
                violations.check("outcome.reassign.tier", parse::optional_tier(reassign.tier));
            Some(Outcome::Reassign {
                assignee: assignee?,
                tier: tier?,
            })
        }
        Some(Change::Escalate(escalate)) => {
            let agencies = escalate
                .agencies
                .iter()
                .enumerate()
                .filter_map(|(index, code)| {
                    violations.check(
                        format!("outcome.escalate.agencies[{index}]"),
                        DepartmentCode::parse(code).map_err(|error| error.to_string()),
                    )
                })
                .collect();
            Some(Outcome::Escalate { agencies })
        }
        Some(Change::Park(park)) => violations
            .check(
                "outcome.park.review_on",
                NaiveDate::parse_from_str(park.review_on.trim(), "%Y-%m-%d")
                    .map_err(|_| "must be a date YYYY-MM-DD"),
            )
            .map(|review_on| Outcome::Park { review_on }),
        Some(Change::Extend(extend)) => violations
            .check(
                "outcome.extend.resolution_due",
                parse::required_instant(extend.resolution_due.as_ref()),
            )
            .map(|until| Outcome::Extend { until }),
    }
}

impl Decision {
    /// Parses the request; action deadlines must lie after `now` (the service's clock).
    fn parse(
        request: &proto::RecordMeetingDecisionRequest,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let names = request
            .name
            .trim()
            .split_once("/meetings/")
            .and_then(|(case, meeting)| {
                Some((
                    CaseId::parse_resource_name(case).ok()?,
                    Uuid::try_parse(meeting).ok()?,
                ))
            });
        if names.is_none() {
            violations.add(
                "name",
                format!(
                    "`{}` is not `cases/{{uuid}}/meetings/{{uuid}}`",
                    request.name
                ),
            );
        }
        let decision = request.decision.trim().to_owned();
        if decision.is_empty() || decision.chars().count() > MAX_DECISION_CHARS {
            violations.add("decision", "1 to 4,000 characters are required");
        }
        if request.actions.len() > MAX_ACTIONS {
            violations.add("actions", "at most 50 are allowed");
        }
        let mut actions = Vec::new();
        for (index, action) in request.actions.iter().enumerate() {
            let description = action.description.trim();
            if description.is_empty() || description.chars().count() > MAX_ACTION_CHARS {
                violations.add(
                    format!("actions[{index}].description"),
                    "1 to 500 characters",
                );
            }
            let owner = violations.check(
                format!("actions[{index}].owner"),
                parse_assignee(&action.owner).map_err(|error| error.to_string()),
            );
            let due = action
                .due
                .as_ref()
                .and_then(|due| convert::instant(due).ok())
                .filter(|due| *due > now);
            if due.is_none() {
                violations.add(
                    format!("actions[{index}].due"),
                    "a time after now is required",
                );
            }
            if let (Some(owner), Some(due)) = (owner, due) {
                actions.push(MeetingActionRow::open(
                    index,
                    description.to_owned(),
                    assignee_name(&owner),
                    due,
                ));
            }
        }
        let attendees: Vec<String> = request
            .attendees
            .iter()
            .enumerate()
            .take(MAX_ATTENDEES)
            .filter_map(|(index, attendee)| {
                violations.check(
                    format!("attendees[{index}]"),
                    parse_assignee(attendee)
                        .map(|attendee| assignee_name(&attendee))
                        .map_err(|error| error.to_string()),
                )
            })
            .collect();
        let outcome = parse_outcome(request.outcome.as_ref(), &mut violations);
        violations.finish()?;
        let (case, meeting) =
            names.ok_or_else(|| Error::Internal("a parsed meeting name went missing".into()))?;
        Ok(Self {
            case,
            meeting,
            decision,
            actions,
            attendees,
            outcome,
        })
    }
}

/// A NOT_FOUND about a case becomes one about the meeting named in the request: a
/// meeting of a case the caller does not reach does not exist for them.
fn as_meeting_not_found(name: &str) -> impl Fn(Error) -> Error + '_ {
    move |error| match error {
        Error::NotFound(_) => Error::NotFound(name.to_owned()),
        other => other,
    }
}

pub(super) async fn record_meeting_decision(
    service: &CaseService,
    access: &Access,
    request: proto::RecordMeetingDecisionRequest,
) -> Result<proto::Meeting, Error> {
    let now = service.shared.clock.now();
    let decided = Decision::parse(&request, now)?;
    let not_found = as_meeting_not_found(&request.name);
    // A reassignment asks the duty-list gate first, outside the transaction; a refused
    // one records nothing: the meeting decides again.
    if let Some(Outcome::Reassign { assignee, .. }) = &decided.outcome {
        let (seen, _) = service
            .read(access, decided.case)
            .await
            .map_err(&not_found)?;
        if let Some(refusal) = lifecycle::gate_refusal(service, access, &seen, assignee).await? {
            return Err(Error::Precondition(lifecycle::refusal_message(&refusal)));
        }
    }
    // The case is locked before its meeting and actions, as every writer does.
    let mut work = service
        .open(access, decided.case)
        .await
        .map_err(&not_found)?;
    let mut meeting = store::load_meeting(&mut work.transaction, decided.meeting, true)
        .await?
        .filter(|meeting| meeting.case_id == decided.case)
        .ok_or_else(|| Error::NotFound(request.name.clone()))?;
    if meeting.state != "scheduled" {
        return Err(Error::Precondition(format!(
            "the meeting is already {}",
            meeting.state
        )));
    }
    meeting.state = "decided".into();
    meeting.decision = Some(decided.decision);
    meeting.attendees = decided.attendees;
    meeting.decided_at = Some(now);
    meeting.actions = decided.actions;
    if let Some(outcome) = decided.outcome {
        let actor = access::actor_on(access, Some(&work.stored))?;
        let reason = reason_text(&format!(
            "coordination meeting {} decided (协调会决定)",
            meeting.name()
        ));
        apply_outcome(service, &mut work, actor, outcome, reason).await?;
    }
    store::decide_meeting(&mut work.transaction, &meeting).await?;
    let event = proto::MeetingDecided {
        meeting: meeting.name(),
        case: decided.case.resource_name(),
        subdistrict_code: meeting.subdistrict_code.clone(),
        action_owners: meeting
            .actions
            .iter()
            .map(|action| action.owner.clone())
            .collect(),
        action_due: meeting
            .actions
            .iter()
            .map(|action| convert::timestamp(action.due))
            .collect(),
        decided_at: Some(convert::timestamp(now)),
    };
    outbox::enqueue(&mut work.transaction, &meeting.name(), &event).await?;
    access.audit().resource(meeting.name());
    // Saves the case with the outcome's records and events, audits and commits: the
    // decision and the change it made stand or fall together.
    work.finish().await?;
    Ok(render::meeting(&meeting))
}

/// Applies what the meeting decided to the locked case.
async fn apply_outcome(
    service: &CaseService,
    work: &mut Working,
    actor: Actor,
    outcome: Outcome,
    reason: Reason,
) -> Result<(), Error> {
    match outcome {
        Outcome::Reassign { assignee, tier } => {
            let current_tier = work.stored.case.tier();
            let new_tier = tier.or(current_tier).unwrap_or(Tier::FrontLine);
            let assignment = service.shared.assignment(
                &work.stored.case,
                new_tier,
                assignee.clone(),
                work.now,
            )?;
            work.apply(
                actor,
                Command::Reassign {
                    assignment,
                    tier,
                    reason,
                },
            )?;
            if new_tier == Tier::Whistle && current_tier != Some(Tier::Whistle) {
                if let Assignee::Unit(unit) = &assignee
                    && let Some(DutyUnit::Department(code)) = DutyUnit::of_unit_name(unit)
                {
                    work.stored.extras.escalation_agencies = vec![code];
                }
                work.escalation = work.records.last().map(|record| {
                    events::escalated(
                        &work.stored,
                        record,
                        current_tier,
                        Tier::Whistle,
                        proto::EscalationReason::Manual,
                        work.stored.case.assignment(),
                    )
                });
            }
        }
        Outcome::Escalate { agencies } => {
            let Some(to) = work.stored.case.tier().and_then(Tier::next) else {
                return Err(Error::Precondition(
                    "the case is at the whistle already, the highest tier".into(),
                ));
            };
            let (assignee, named) = service
                .shared
                .tier_handler(&mut work.transaction, &work.stored, to, Some(agencies))
                .await?;
            let assignment =
                service
                    .shared
                    .assignment(&work.stored.case, to, assignee, work.now)?;
            if to == Tier::Whistle {
                work.stored.extras.escalation_agencies = named;
            }
            work.apply(
                actor,
                Command::Escalate {
                    trigger: EscalationTrigger::Manual(reason),
                    assignment,
                },
            )?;
        }
        Outcome::Park { review_on } => work.apply(actor, Command::Park { reason, review_on })?,
        Outcome::Extend { until } => {
            work.apply(actor, Command::ExtendByDecision { until, reason })?;
        }
    }
    Ok(())
}

/// `cases/{uuid}/meetings/{uuid}/actions/{n}`, n from 1: (case, meeting, position).
fn parse_action_name(name: &str) -> Result<(CaseId, Uuid, i32), String> {
    let malformed = || format!("`{name}` is not `cases/{{uuid}}/meetings/{{uuid}}/actions/{{n}}`");
    let (meeting_name, number) = name.trim().rsplit_once("/actions/").ok_or_else(malformed)?;
    let (case, meeting) = meeting_name
        .split_once("/meetings/")
        .ok_or_else(malformed)?;
    let case = CaseId::parse_resource_name(case).map_err(|_| malformed())?;
    let meeting = Uuid::try_parse(meeting).map_err(|_| malformed())?;
    let number: i32 = number
        .parse()
        .ok()
        .filter(|number| (1..=MAX_ACTIONS as i32).contains(number))
        .ok_or_else(malformed)?;
    Ok((case, meeting, number - 1))
}

pub(super) async fn complete_meeting_action(
    service: &CaseService,
    access: &Access,
    request: proto::CompleteMeetingActionRequest,
) -> Result<proto::Meeting, Error> {
    let mut violations = Violations::new();
    let parsed = violations.check("name", parse_action_name(&request.name));
    violations.finish()?;
    let (case, meeting_id, position) =
        parsed.ok_or_else(|| Error::Internal("a parsed action name went missing".into()))?;
    let not_found = || Error::NotFound(request.name.clone());
    let mut transaction = service.begin().await?;
    let stored = store::load_case(&mut transaction, case, true)
        .await?
        .ok_or_else(not_found)?;
    access::require_visible(access, &stored).map_err(|_| not_found())?;
    let meeting = store::load_meeting(&mut transaction, meeting_id, false)
        .await?
        .filter(|meeting| meeting.case_id == case)
        .ok_or_else(not_found)?;
    let action = meeting
        .actions
        .iter()
        .find(|action| action.position == position)
        .ok_or_else(not_found)?;
    if action.state == "done" {
        return Err(Error::Precondition("the action is already done".into()));
    }
    let done_by = access
        .caller()
        .map(|caller| caller.subject.clone())
        .unwrap_or_default();
    let now = service.shared.clock.now();
    store::complete_action(&mut transaction, meeting_id, position, &done_by, now).await?;
    let meeting = store::load_meeting(&mut transaction, meeting_id, false)
        .await?
        .ok_or_else(not_found)?;
    access.audit().resource(stored.name());
    access.audit().resource(request.name.clone());
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service).await?;
    transaction.commit().await?;
    Ok(render::meeting(&meeting))
}

pub(super) async fn list_meetings(
    service: &CaseService,
    access: &Access,
    request: proto::ListMeetingsRequest,
) -> Result<proto::ListMeetingsResponse, Error> {
    let mut violations = Violations::new();
    let id = violations.check("case", parse::case_id(&request.case));
    violations.finish()?;
    let id = id.ok_or_else(|| Error::Internal("a parsed case id went missing".into()))?;
    service.read(access, id).await?;
    let mut connection = service.shared.pool.acquire().await?;
    let meetings = store::list_meetings(&mut connection, id).await?;
    Ok(proto::ListMeetingsResponse {
        meetings: meetings.iter().map(render::meeting).collect(),
    })
}
