//! Disputes: parse, call the use case, render. Violations name the field
//! and what is wrong with it, never the value: a party's name or number is
//! not echoed back.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{ListQuery, PageRequest, TimeKey};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::instant;
use flatgov_proto::mediation::v1 as proto;
use flatgov_vocabulary::{
    CommunityCode, DepartmentCode, DivisionCode, OrganisationCode, PhoneNumber,
};
use prost_types::Timestamp;
use uuid::Uuid;

use super::MediationService;
use super::render;
use crate::application::agreements::{self, FollowUp, RecordConfirmation, SignAgreement};
use crate::application::disputes::{
    self, HandOver, ListDisputes, Mediator, NewConsultation, NewParty, NewSession, RegisterDispute,
};
use crate::contract;
use crate::domain::{Level, Outcome};
use crate::error::Error;
use crate::store::DisputeFilter;

const MAX_PARTIES: usize = 200;
const MAX_NAME_CHARS: usize = 100;
const MAX_TEXT_CHARS: usize = 5000;
const MAX_ATTENDEES: usize = 100;

/// A text that must be there and at most `max_chars` long, trimmed. The
/// refusal describes the rule, never the text.
pub(super) fn required_text(value: &str, max_chars: usize) -> Result<String, String> {
    let text = value.trim();
    if text.is_empty() || text.chars().count() > max_chars {
        return Err(format!("must have 1-{max_chars} characters"));
    }
    Ok(text.to_owned())
}

/// A resident ID number (居民身份证号码): 17 digits and a check character
/// (a digit or X), whose ISO 7064 MOD 11-2 checksum holds.
fn id_number(value: &str) -> Result<Option<String>, &'static str> {
    let text = value.trim().to_ascii_uppercase();
    if text.is_empty() {
        return Ok(None);
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECKS: &[u8; 11] = b"10X98765432";
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
    if !well_formed {
        return Err("must be 18 characters: 17 digits and a digit or X");
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    if CHECKS[(sum % 11) as usize] != bytes[17] {
        return Err("has a wrong check character");
    }
    Ok(Some(text))
}

fn required_time(
    field: &str,
    value: Option<&Timestamp>,
    violations: &mut Violations,
) -> Option<DateTime<Utc>> {
    match value {
        None => {
            violations.add(field, "is required");
            None
        }
        Some(value) => violations.check(field, instant(value)),
    }
}

/// `disputes/{uuid}`; a name that cannot be one is answered as one that
/// does not exist.
fn dispute_id(name: &str) -> Result<Uuid, Error> {
    flatgov_vocabulary::parse_id::<Uuid>(name, "disputes").map_err(|_| Error::not_found(name))
}

/// `advisers/{uuid}`.
fn adviser_id(name: &str) -> Result<Uuid, &'static str> {
    flatgov_vocabulary::parse_id::<Uuid>(name, "advisers").map_err(|_| "must be advisers/{id}")
}

/// Who mediates a new stage of `level`, as `organisation` names them.
fn mediator(level: Level, organisation: &str) -> Result<Mediator, String> {
    let organisation = organisation.trim();
    match level {
        Level::Peoples if organisation.is_empty() => Ok(Mediator::Committee),
        Level::Peoples => {
            Err("must be empty for people's mediation: the community's committee mediates".into())
        }
        Level::Administrative if organisation.is_empty() => Ok(Mediator::Competent),
        Level::Administrative => DepartmentCode::parse(organisation)
            .map(|code| Mediator::Department(code.to_string()))
            .map_err(|error| error.to_string()),
        Level::Judicial if organisation.is_empty() => {
            Err("is required for judicial mediation: the court's code".into())
        }
        Level::Judicial => OrganisationCode::parse(organisation)
            .map(|code| Mediator::Court(code.to_string()))
            .map_err(|error| error.to_string()),
    }
}

impl TryFrom<proto::RegisterDisputeRequest> for RegisterDispute {
    type Error = Error;

    fn try_from(request: proto::RegisterDisputeRequest) -> Result<Self, Error> {
        let dispute = request
            .dispute
            .as_ref()
            .ok_or_else(|| Error::invalid("dispute", "a dispute is required"))?;
        let mut violations = Violations::new();
        let case = match dispute.case.trim() {
            "" => Some(None),
            name => violations.check(
                "dispute.case",
                flatgov_vocabulary::id_in(name, "cases")
                    .map(|_| Some(name.to_owned()))
                    .map_err(|_| "must be a case's name, cases/{id}"),
            ),
        };
        let kind = violations.check(
            "dispute.type",
            contract::dispute_type_from(dispute.r#type).ok_or(
                "must be one of DISPUTE_TYPE_NEIGHBOUR, _FAMILY, _PROPERTY_MANAGEMENT, _WAGES, _CONSUMER, _LAND_AND_HOUSING, _OTHER",
            ),
        );
        let community = violations.check(
            "dispute.community_code",
            CommunityCode::parse(&dispute.community_code),
        );
        let summary = violations.check(
            "dispute.summary",
            required_text(&dispute.summary, MAX_TEXT_CHARS),
        );
        if dispute.parties.len() < 2 || dispute.parties.len() > MAX_PARTIES {
            violations.add(
                "dispute.parties",
                format!("a dispute has 2-{MAX_PARTIES} parties"),
            );
        }
        let mut parties = Vec::new();
        for (index, party) in dispute.parties.iter().enumerate() {
            let field = |name: &str| format!("dispute.parties[{index}].{name}");
            let role = violations.check(
                field("role"),
                contract::party_role_from(party.role)
                    .ok_or("must be PARTY_ROLE_APPLICANT or PARTY_ROLE_RESPONDENT"),
            );
            let name = violations.check(field("name"), required_text(&party.name, MAX_NAME_CHARS));
            let phone = violations.check(field("phone"), PhoneNumber::parse(&party.phone));
            let id_number = violations.check(field("id_number"), id_number(&party.id_number));
            if let (Some(role), Some(name), Some(phone), Some(id_number)) =
                (role, name, phone, id_number)
            {
                parties.push(NewParty {
                    role,
                    name,
                    phone: phone.as_str().to_owned(),
                    id_number,
                });
            }
        }
        let level = match request.first_level {
            0 => Some(Level::Peoples),
            value => violations.check(
                "first_level",
                contract::level_from(value).ok_or("must be a MEDIATION_LEVEL"),
            ),
        };
        let first = level.and_then(|level| {
            violations.check("organisation", mediator(level, &request.organisation))
        });
        let request_id =
            violations.check("request_id", RequestId::parse_optional(&request.request_id));
        let (Some(case), Some(kind), Some(community), Some(summary), Some(first), Some(request_id)) =
            (case, kind, community, summary, first, request_id)
        else {
            return Err(Error::from(violations));
        };
        violations.finish()?;
        let fingerprint = Fingerprint::of(&request);
        Ok(Self {
            case,
            kind,
            community,
            summary,
            parties,
            first,
            retry: request_id.map(|id| (id, fingerprint)),
        })
    }
}

pub(super) async fn register_dispute(
    service: &MediationService,
    access: &Access,
    request: proto::RegisterDisputeRequest,
) -> Result<proto::Dispute, Error> {
    let command = RegisterDispute::try_from(request)?;
    let stored = disputes::register(&service.mediation, access, command).await?;
    render::full(&stored)
}

pub(super) async fn get_dispute(
    service: &MediationService,
    access: &Access,
    request: proto::GetDisputeRequest,
) -> Result<proto::Dispute, Error> {
    let stored = disputes::get(&service.mediation, access, request.name.trim()).await?;
    render::full(&stored)
}

pub(super) async fn list_disputes(
    service: &MediationService,
    access: &Access,
    request: proto::ListDisputesRequest,
) -> Result<proto::ListDisputesResponse, Error> {
    let mut violations = Violations::new();
    let division_prefix = match request.division_code.trim() {
        "" => Some(None),
        code => violations
            .check("division_code", DivisionCode::parse(code))
            .map(|code| Some(code.to_string())),
    };
    let state = match request.state {
        0 => Some(None),
        value => violations
            .check(
                "state",
                contract::state_from(value).ok_or("must be a DISPUTE_STATE"),
            )
            .map(Some),
    };
    let query = ListQuery::new(&format!(
        "disputes division={} state={}",
        request.division_code.trim(),
        request.state
    ));
    let page = violations.absorb(PageRequest::parse_keyed::<TimeKey>(
        request.page_size,
        &request.page_token,
        &query,
    ));
    let (Some(division_prefix), Some(state), Some((page, after))) = (division_prefix, state, page)
    else {
        return Err(Error::from(violations));
    };
    let command = ListDisputes {
        filter: DisputeFilter {
            division_prefix,
            state,
        },
        after: after.map(TimeKey::pair),
        fetch_limit: page.size.fetch_limit(),
    };
    let mut rows = disputes::list(&service.mediation, access, &command).await?;
    let next_page_token = page.size.next_page_token(&mut rows, &query, |row| {
        TimeKey {
            time: row.register_time,
            id: row.id,
        }
        .to_string()
    });
    Ok(proto::ListDisputesResponse {
        disputes: rows
            .iter()
            .map(render::summary)
            .collect::<Result<_, Error>>()?,
        next_page_token,
    })
}

pub(super) async fn assign_mediator(
    service: &MediationService,
    access: &Access,
    request: proto::AssignMediatorRequest,
) -> Result<proto::Dispute, Error> {
    let mut violations = Violations::new();
    let mediator = violations.check("mediator", required_text(&request.mediator, MAX_NAME_CHARS));
    let adviser = match request.adviser.trim() {
        "" => Some(None),
        name => violations.check("adviser", adviser_id(name)).map(Some),
    };
    let (Some(mediator), Some(adviser)) = (mediator, adviser) else {
        return Err(Error::from(violations));
    };
    let id = dispute_id(request.dispute.trim())?;
    let stored =
        disputes::assign_mediator(&service.mediation, access, id, mediator, adviser).await?;
    render::full(&stored)
}

pub(super) async fn record_session(
    service: &MediationService,
    access: &Access,
    request: proto::RecordSessionRequest,
) -> Result<proto::Dispute, Error> {
    let session = request
        .session
        .as_ref()
        .ok_or_else(|| Error::invalid("session", "a session is required"))?;
    let mut violations = Violations::new();
    let time = required_time("session.time", session.time.as_ref(), &mut violations);
    if session.attendees.is_empty() || session.attendees.len() > MAX_ATTENDEES {
        violations.add(
            "session.attendees",
            format!("a session has 1-{MAX_ATTENDEES} attendees"),
        );
    }
    let attendees: Vec<String> = session
        .attendees
        .iter()
        .enumerate()
        .filter_map(|(index, attendee)| {
            violations.check(
                format!("session.attendees[{index}]"),
                required_text(attendee, MAX_NAME_CHARS),
            )
        })
        .collect();
    let notes = violations.check(
        "session.notes",
        required_text(&session.notes, MAX_TEXT_CHARS),
    );
    let (Some(time), Some(notes)) = (time, notes) else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    let id = dispute_id(request.dispute.trim())?;
    let session = NewSession {
        time,
        attendees,
        notes,
    };
    let stored = disputes::record_session(&service.mediation, access, id, session).await?;
    render::full(&stored)
}

pub(super) async fn conclude_stage(
    service: &MediationService,
    access: &Access,
    request: proto::ConcludeStageRequest,
) -> Result<proto::Dispute, Error> {
    let outcome = match contract::outcome_from(request.outcome) {
        Some(outcome @ (Outcome::Failed | Outcome::Withdrawn)) => outcome,
        _ => {
            return Err(Error::invalid(
                "outcome",
                "must be STAGE_OUTCOME_FAILED or STAGE_OUTCOME_WITHDRAWN (an agreement is signed with SignAgreement)",
            ));
        }
    };
    let id = dispute_id(request.dispute.trim())?;
    let stored = disputes::conclude(&service.mediation, access, id, outcome).await?;
    render::full(&stored)
}

pub(super) async fn hand_over_dispute(
    service: &MediationService,
    access: &Access,
    request: proto::HandOverDisputeRequest,
) -> Result<proto::Dispute, Error> {
    let mut violations = Violations::new();
    let to = match contract::level_from(request.to_level) {
        Some(Level::Peoples) | None => {
            violations.add(
                "to_level",
                "must be MEDIATION_LEVEL_ADMINISTRATIVE or MEDIATION_LEVEL_JUDICIAL",
            );
            None
        }
        Some(level) => violations.check("organisation", mediator(level, &request.organisation)),
    };
    let reason = violations.check("reason", required_text(&request.reason, MAX_TEXT_CHARS));
    let (Some(to), Some(reason)) = (to, reason) else {
        return Err(Error::from(violations));
    };
    let id = dispute_id(request.dispute.trim())?;
    let stored =
        disputes::hand_over(&service.mediation, access, id, HandOver { to, reason }).await?;
    render::full(&stored)
}

pub(super) async fn sign_agreement(
    service: &MediationService,
    access: &Access,
    request: proto::SignAgreementRequest,
) -> Result<proto::Dispute, Error> {
    let mut violations = Violations::new();
    let terms = violations.check("terms", required_text(&request.terms, MAX_TEXT_CHARS));
    let deadline = required_time(
        "performance_deadline",
        request.performance_deadline.as_ref(),
        &mut violations,
    );
    if request.acceptances.is_empty() {
        violations.add("acceptances", "every party's acceptance is required");
    }
    let acceptances: Vec<(u32, DateTime<Utc>)> = request
        .acceptances
        .iter()
        .enumerate()
        .filter_map(|(index, acceptance)| {
            let time = required_time(
                &format!("acceptances[{index}].accept_time"),
                acceptance.accept_time.as_ref(),
                &mut violations,
            )?;
            Some((acceptance.party, time))
        })
        .collect();
    let (Some(terms), Some(performance_deadline)) = (terms, deadline) else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    let id = dispute_id(request.dispute.trim())?;
    let command = SignAgreement {
        terms,
        acceptances,
        performance_deadline,
    };
    let stored = agreements::sign(&service.mediation, access, id, command).await?;
    render::full(&stored)
}

pub(super) async fn record_follow_up(
    service: &MediationService,
    access: &Access,
    request: proto::RecordFollowUpRequest,
) -> Result<proto::Dispute, Error> {
    let notes = required_text(&request.notes, MAX_TEXT_CHARS)
        .map_err(|rule| Error::invalid("notes", rule))?;
    let id = dispute_id(request.dispute.trim())?;
    let command = FollowUp {
        performed: request.performed,
        notes,
    };
    let stored = agreements::follow_up(&service.mediation, access, id, command).await?;
    render::full(&stored)
}

pub(super) async fn record_confirmation(
    service: &MediationService,
    access: &Access,
    request: proto::RecordConfirmationRequest,
) -> Result<proto::Dispute, Error> {
    let court = OrganisationCode::parse(request.court.trim())
        .map_err(|error| Error::invalid("court", error))?;
    let id = dispute_id(request.dispute.trim())?;
    let command = RecordConfirmation {
        court: court.to_string(),
        confirmed: request.confirmed,
    };
    let stored = agreements::record_confirmation(&service.mediation, access, id, command).await?;
    render::full(&stored)
}

pub(super) async fn record_consultation(
    service: &MediationService,
    access: &Access,
    request: proto::RecordConsultationRequest,
) -> Result<proto::Dispute, Error> {
    let mut violations = Violations::new();
    let adviser = violations.check("adviser", adviser_id(request.adviser.trim()));
    let time = required_time("time", request.time.as_ref(), &mut violations);
    let notes = violations.check("notes", required_text(&request.notes, MAX_TEXT_CHARS));
    let (Some(adviser), Some(time), Some(notes)) = (adviser, time, notes) else {
        return Err(Error::from(violations));
    };
    let id = dispute_id(request.dispute.trim())?;
    let command = NewConsultation {
        adviser,
        time,
        notes,
    };
    let stored = disputes::record_consultation(&service.mediation, access, id, command).await?;
    render::full(&stored)
}

pub(super) async fn flag_threat(
    service: &MediationService,
    access: &Access,
    request: proto::FlagThreatRequest,
) -> Result<proto::Dispute, Error> {
    let id = dispute_id(request.dispute.trim())?;
    let stored = disputes::flag_threat(&service.mediation, access, id).await?;
    render::full(&stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_number_must_carry_its_check_character() {
        assert_eq!(
            id_number("11010519491231002x"),
            Ok(Some("11010519491231002X".to_owned()))
        );
        assert!(id_number("110105194912310021").is_err());
        assert!(id_number("1101051949").is_err());
        assert_eq!(id_number(" "), Ok(None));
    }

    #[test]
    fn only_judicial_mediation_names_a_court_and_only_administrative_a_department() {
        assert_eq!(mediator(Level::Peoples, ""), Ok(Mediator::Committee));
        assert!(mediator(Level::Peoples, "housing").is_err());
        assert_eq!(mediator(Level::Administrative, ""), Ok(Mediator::Competent));
        assert_eq!(
            mediator(Level::Administrative, "human_resources"),
            Ok(Mediator::Department("human_resources".into()))
        );
        assert!(mediator(Level::Judicial, "").is_err());
        assert_eq!(
            mediator(Level::Judicial, "yuhu_court"),
            Ok(Mediator::Court("yuhu_court".into()))
        );
    }
}
