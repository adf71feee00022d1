//! Domain words as the proto enums the API and the events share, and back.

use flatgov_proto::mediation::v1 as proto;

use crate::domain::{
    DisputeState, DisputeType, Level, Outcome, PartyRole, Resolution, RiskKind, Trigger,
};

pub fn level(level: Level) -> proto::MediationLevel {
    match level {
        Level::Peoples => proto::MediationLevel::Peoples,
        Level::Administrative => proto::MediationLevel::Administrative,
        Level::Judicial => proto::MediationLevel::Judicial,
    }
}

pub fn level_from(value: i32) -> Option<Level> {
    match proto::MediationLevel::try_from(value).ok()? {
        proto::MediationLevel::Peoples => Some(Level::Peoples),
        proto::MediationLevel::Administrative => Some(Level::Administrative),
        proto::MediationLevel::Judicial => Some(Level::Judicial),
        proto::MediationLevel::Unspecified => None,
    }
}

pub fn outcome(outcome: Outcome) -> proto::StageOutcome {
    match outcome {
        Outcome::Agreement => proto::StageOutcome::Agreement,
        Outcome::Failed => proto::StageOutcome::Failed,
        Outcome::Withdrawn => proto::StageOutcome::Withdrawn,
    }
}

pub fn outcome_from(value: i32) -> Option<Outcome> {
    match proto::StageOutcome::try_from(value).ok()? {
        proto::StageOutcome::Agreement => Some(Outcome::Agreement),
        proto::StageOutcome::Failed => Some(Outcome::Failed),
        proto::StageOutcome::Withdrawn => Some(Outcome::Withdrawn),
        proto::StageOutcome::Unspecified => None,
    }
}

pub fn trigger(trigger: Trigger) -> proto::StageTrigger {
    match trigger {
        Trigger::Registered => proto::StageTrigger::Registered,
        Trigger::HandedOver => proto::StageTrigger::HandedOver,
        Trigger::Overdue => proto::StageTrigger::Overdue,
        Trigger::Reopened => proto::StageTrigger::Reopened,
    }
}

pub fn dispute_type(kind: DisputeType) -> proto::DisputeType {
    match kind {
        DisputeType::Neighbour => proto::DisputeType::Neighbour,
        DisputeType::Family => proto::DisputeType::Family,
        DisputeType::PropertyManagement => proto::DisputeType::PropertyManagement,
        DisputeType::Wages => proto::DisputeType::Wages,
        DisputeType::Consumer => proto::DisputeType::Consumer,
        DisputeType::LandAndHousing => proto::DisputeType::LandAndHousing,
        DisputeType::Other => proto::DisputeType::Other,
    }
}

pub fn dispute_type_from(value: i32) -> Option<DisputeType> {
    match proto::DisputeType::try_from(value).ok()? {
        proto::DisputeType::Neighbour => Some(DisputeType::Neighbour),
        proto::DisputeType::Family => Some(DisputeType::Family),
        proto::DisputeType::PropertyManagement => Some(DisputeType::PropertyManagement),
        proto::DisputeType::Wages => Some(DisputeType::Wages),
        proto::DisputeType::Consumer => Some(DisputeType::Consumer),
        proto::DisputeType::LandAndHousing => Some(DisputeType::LandAndHousing),
        proto::DisputeType::Other => Some(DisputeType::Other),
        proto::DisputeType::Unspecified => None,
    }
}

pub fn state(state: DisputeState) -> proto::DisputeState {
    match state {
        DisputeState::Mediating => proto::DisputeState::Mediating,
        DisputeState::AwaitingHandOver => proto::DisputeState::AwaitingHandOver,
        DisputeState::Performing => proto::DisputeState::Performing,
        DisputeState::Closed => proto::DisputeState::Closed,
    }
}

pub fn state_from(value: i32) -> Option<DisputeState> {
    match proto::DisputeState::try_from(value).ok()? {
        proto::DisputeState::Mediating => Some(DisputeState::Mediating),
        proto::DisputeState::AwaitingHandOver => Some(DisputeState::AwaitingHandOver),
        proto::DisputeState::Performing => Some(DisputeState::Performing),
        proto::DisputeState::Closed => Some(DisputeState::Closed),
        proto::DisputeState::Unspecified => None,
    }
}

pub fn resolution(resolution: Resolution) -> proto::DisputeResolution {
    match resolution {
        Resolution::Performed => proto::DisputeResolution::Performed,
        Resolution::Withdrawn => proto::DisputeResolution::Withdrawn,
        Resolution::Litigation => proto::DisputeResolution::Litigation,
    }
}

pub fn party_role(role: PartyRole) -> proto::PartyRole {
    match role {
        PartyRole::Applicant => proto::PartyRole::Applicant,
        PartyRole::Respondent => proto::PartyRole::Respondent,
    }
}

pub fn party_role_from(value: i32) -> Option<PartyRole> {
    match proto::PartyRole::try_from(value).ok()? {
        proto::PartyRole::Applicant => Some(PartyRole::Applicant),
        proto::PartyRole::Respondent => Some(PartyRole::Respondent),
        proto::PartyRole::Unspecified => None,
    }
}

pub fn risk_kind(kind: RiskKind) -> proto::RiskKind {
    match kind {
        RiskKind::Threat => proto::RiskKind::Threat,
        RiskKind::ManyParties => proto::RiskKind::ManyParties,
        RiskKind::Repeat => proto::RiskKind::Repeat,
    }
}
