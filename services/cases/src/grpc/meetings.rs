//! Coordination meetings (协调会) of cases at the meeting tier: scheduling, recording
//! what was decided, listing a case's meetings.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::{self, Fingerprint, IdempotencyError};
use flatgov_grpc::request_id::RequestId;
use flatgov_messaging::outbox;
use flatgov_proto::cases::v1 as proto;
use uuid::Uuid;

use super::CaseService;
use super::parse;
use crate::access;
use crate::convert;
use crate::domain::lifecycle::Tier;
use crate::domain::units::{assignee_name, parse_assignee};
use crate::domain::values::CaseId;
use crate::error::Error;
use crate::policy::POLICY;
use crate::render;
use crate::store::{self, MeetingRow};

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

/// What a meeting decided.
struct Decision {
    case: CaseId,
    meeting: Uuid,
    decision: String,
    actions: Vec<(String, String, DateTime<Utc>)>,
    attendees: Vec<String>,
}

impl Decision {
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
                actions.push((description.to_owned(), assignee_name(&owner), due));
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
        violations.finish()?;
        let (case, meeting) =
            names.ok_or_else(|| Error::Internal("a parsed meeting name went missing".into()))?;
        Ok(Self {
            case,
            meeting,
            decision,
            actions,
            attendees,
        })
    }
}

pub(super) async fn record_meeting_decision(
    service: &CaseService,
    access: &Access,
    request: proto::RecordMeetingDecisionRequest,
) -> Result<proto::Meeting, Error> {
    let now = service.shared.clock.now();
    let decided = Decision::parse(&request, now)?;
    let mut transaction = service.begin().await?;
    let stored = store::load_case(&mut transaction, decided.case, false)
        .await?
        .ok_or_else(|| Error::NotFound(request.name.clone()))?;
    // A meeting of a case the caller does not reach does not exist for them.
    access::require_visible(access, &stored).map_err(|_| Error::NotFound(request.name.clone()))?;
    let mut meeting = store::load_meeting(&mut transaction, decided.meeting, true)
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
    store::decide_meeting(&mut transaction, &meeting).await?;
    let event = proto::MeetingDecided {
        meeting: meeting.name(),
        case: decided.case.resource_name(),
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
    access.audit().resource(stored.name());
    access.audit().resource(meeting.name());
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
