//! Disputes as the API shows them.

use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::mediation::v1 as proto;

use crate::contract;
use crate::domain::{
    DisputeState, DisputeType, Level, Outcome, PartyRole, Resolution, RiskKind, Trigger,
    agreement_name, dispute_name, stage_name,
};
use crate::error::Error;
use crate::store::{DisputeRow, StageRow, StoredDispute};

fn corrupt(what: &str, value: &str) -> Error {
    Error::corrupt(format!("{what} {value:?}"))
}

fn number(value: i32) -> u32 {
    u32::try_from(value).unwrap_or_default()
}

/// A dispute without its personal data (parties, summary) or stages, as
/// lists show it.
pub fn summary(row: &DisputeRow) -> Result<proto::Dispute, Error> {
    let kind = DisputeType::parse(&row.dispute_type)
        .ok_or_else(|| corrupt("dispute type", &row.dispute_type))?;
    let state = DisputeState::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?;
    let resolution = match row.resolution.as_deref() {
        None => proto::DisputeResolution::Unspecified,
        Some(text) => contract::resolution(
            Resolution::parse(text).ok_or_else(|| corrupt("resolution", text))?,
        ),
    };
    Ok(proto::Dispute {
        name: dispute_name(row.id),
        case: row.case_name.clone().unwrap_or_default(),
        r#type: contract::dispute_type(kind) as i32,
        community_code: row.community_code.clone(),
        subdistrict_code: row.subdistrict_code.clone(),
        summary: String::new(),
        parties: Vec::new(),
        party_count: number(row.party_count),
        state: contract::state(state) as i32,
        resolution: resolution as i32,
        stages: Vec::new(),
        register_time: Some(timestamp(row.register_time)),
        close_time: optional_timestamp(row.close_time),
        risks: Vec::new(),
        linked_disputes: Vec::new(),
    })
}

fn stage(stored: &StoredDispute, row: &StageRow) -> Result<proto::Stage, Error> {
    let id = stored.dispute.id;
    let level = Level::parse(&row.level).ok_or_else(|| corrupt("level", &row.level))?;
    let trigger = Trigger::parse(&row.trigger).ok_or_else(|| corrupt("trigger", &row.trigger))?;
    let outcome = match row.outcome.as_deref() {
        None => proto::StageOutcome::Unspecified,
        Some(text) => {
            contract::outcome(Outcome::parse(text).ok_or_else(|| corrupt("outcome", text))?)
        }
    };
    let sessions = stored
        .sessions
        .iter()
        .filter(|session| session.stage_number == row.number)
        .map(|session| proto::Session {
            number: number(session.number),
            time: Some(timestamp(session.session_time)),
            attendees: session.attendees.clone(),
            notes: session.notes.clone(),
        })
        .collect();
    let agreement = stored
        .agreements
        .iter()
        .find(|agreement| agreement.stage_number == row.number)
        .map(|agreement| {
            let state = match agreement.state.as_str() {
                "awaiting_performance" => proto::AgreementState::AwaitingPerformance,
                "performed" => proto::AgreementState::Performed,
                "breached" => proto::AgreementState::Breached,
                other => return Err(corrupt("agreement state", other)),
            };
            Ok(proto::Agreement {
                name: agreement_name(id, number(row.number)),
                terms: agreement.terms.clone(),
                acceptances: stored
                    .acceptances
                    .iter()
                    .filter(|acceptance| acceptance.stage_number == row.number)
                    .map(|acceptance| proto::Acceptance {
                        party: number(acceptance.party_number),
                        accept_time: Some(timestamp(acceptance.accept_time)),
                    })
                    .collect(),
                performance_deadline: Some(timestamp(agreement.performance_deadline)),
                confirmation_window_closes: Some(timestamp(agreement.confirmation_window_closes)),
                sign_time: Some(timestamp(agreement.sign_time)),
                state: state as i32,
                follow_up_notes: agreement.follow_up_notes.clone().unwrap_or_default(),
                follow_up_time: optional_timestamp(agreement.follow_up_time),
                confirmation: match agreement.confirmation.as_deref() {
                    None => proto::ConfirmationState::Unspecified,
                    Some("confirmed") => proto::ConfirmationState::Confirmed,
                    Some("refused") => proto::ConfirmationState::Refused,
                    Some("lapsed") => proto::ConfirmationState::Lapsed,
                    Some(other) => return Err(corrupt("confirmation", other)),
                } as i32,
                confirmation_court: agreement.confirmation_court.clone().unwrap_or_default(),
                confirmation_time: optional_timestamp(agreement.confirmation_time),
            })
        })
        .transpose()?;
    Ok(proto::Stage {
        name: stage_name(id, number(row.number)),
        number: number(row.number),
        level: contract::level(level) as i32,
        organisation: row.organisation.clone(),
        mediator: row.mediator.clone().unwrap_or_default(),
        trigger: contract::trigger(trigger) as i32,
        hand_over_reason: row.hand_over_reason.clone().unwrap_or_default(),
        start_time: Some(timestamp(row.start_time)),
        due_time: Some(timestamp(row.due_time)),
        outcome: outcome as i32,
        conclude_time: optional_timestamp(row.conclude_time),
        overdue_time: optional_timestamp(row.overdue_time),
        sessions,
        agreement,
        mediator_adviser: row
            .mediator_adviser
            .map(crate::application::advisers::adviser_name)
            .unwrap_or_default(),
        consultations: stored
            .consultations
            .iter()
            .filter(|consultation| consultation.stage_number == row.number)
            .map(|consultation| proto::Consultation {
                adviser: crate::application::advisers::adviser_name(consultation.adviser_id),
                time: Some(timestamp(consultation.consultation_time)),
                notes: consultation.notes.clone(),
            })
            .collect(),
    })
}

/// A dispute with its parties, summary, stages, sessions and agreements.
pub fn full(stored: &StoredDispute) -> Result<proto::Dispute, Error> {
    let mut dispute = summary(&stored.dispute)?;
    dispute.summary = stored.dispute.summary.clone();
    dispute.parties = stored
        .parties
        .iter()
        .map(|party| {
            let role = PartyRole::parse(&party.role).ok_or_else(|| corrupt("role", &party.role))?;
            Ok(proto::Party {
                number: number(party.number),
                role: contract::party_role(role) as i32,
                name: party.name.clone(),
                phone: party.phone.clone(),
                id_number: party.id_number.clone().unwrap_or_default(),
            })
        })
        .collect::<Result<_, Error>>()?;
    dispute.stages = stored
        .stages
        .iter()
        .map(|row| stage(stored, row))
        .collect::<Result<_, Error>>()?;
    dispute.risks = stored
        .risks
        .iter()
        .map(|risk| {
            let kind = RiskKind::parse(&risk.kind).ok_or_else(|| corrupt("risk", &risk.kind))?;
            Ok(proto::RiskFlag {
                kind: contract::risk_kind(kind) as i32,
                flag_time: Some(timestamp(risk.flag_time)),
            })
        })
        .collect::<Result<_, Error>>()?;
    dispute.linked_disputes = stored.links.iter().map(|id| dispute_name(*id)).collect();
    Ok(dispute)
}
