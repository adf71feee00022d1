//! Domain ⇄ proto conversions shared by the API and the events: enums, times, units.

use chrono::{DateTime, TimeDelta, Utc};
use flatgov_proto::cases::v1 as proto;
use flatgov_proto::flatgov::r#type::v1 as types;

use crate::domain::calendar::WorkingDuration;
use crate::domain::lifecycle::{
    Actor, CaseKind, CaseState, Channel, Closure, DeadlineKind, Rating, ReworkTrigger, Tier,
};
use crate::domain::units::{BlockCode, CommunityCode, DepartmentCode, DutyUnit, SubdistrictCode};

pub use flatgov_grpc::time::timestamp;

/// A proto timestamp as an instant, truncated to the microsecond like the database.
pub fn instant(
    timestamp: &prost_types::Timestamp,
) -> Result<DateTime<Utc>, flatgov_grpc::time::InvalidTimestamp> {
    flatgov_grpc::time::instant(timestamp).map(crate::clock::truncate_to_micros)
}

pub fn duration(delta: TimeDelta) -> prost_types::Duration {
    prost_types::Duration {
        seconds: delta.num_seconds(),
        nanos: delta.subsec_nanos(),
    }
}

pub fn time_delta(duration: &prost_types::Duration) -> Option<TimeDelta> {
    let nanos = u32::try_from(duration.nanos.max(0)).ok()?;
    TimeDelta::new(duration.seconds, nanos)
}

pub fn case_state(state: CaseState) -> proto::CaseState {
    match state {
        CaseState::Reported => proto::CaseState::Reported,
        CaseState::AwaitingManualLocation => proto::CaseState::AwaitingManualLocation,
        CaseState::Triaged => proto::CaseState::Triaged,
        CaseState::Dispatched => proto::CaseState::Dispatched,
        CaseState::Accepted => proto::CaseState::Accepted,
        CaseState::InProgress => proto::CaseState::InProgress,
        CaseState::Resolved => proto::CaseState::Resolved,
        CaseState::Verified => proto::CaseState::Verified,
        CaseState::Rated => proto::CaseState::Rated,
        CaseState::Parked => proto::CaseState::Parked,
        CaseState::Closed => proto::CaseState::Closed,
    }
}

pub fn case_state_from_proto(state: proto::CaseState) -> Option<CaseState> {
    CaseState::ALL
        .iter()
        .copied()
        .find(|candidate| case_state(*candidate) == state)
}

pub fn kind(kind: CaseKind) -> proto::CaseKind {
    match kind {
        CaseKind::Problem => proto::CaseKind::Problem,
        CaseKind::SafetyHazard => proto::CaseKind::Hazard,
        CaseKind::Dispute => proto::CaseKind::Dispute,
        CaseKind::Errand => proto::CaseKind::Errand,
        CaseKind::NeedyPersonSupport => proto::CaseKind::NeedySupport,
    }
}

pub fn kind_from_proto(value: proto::CaseKind) -> Option<CaseKind> {
    CaseKind::ALL
        .iter()
        .copied()
        .find(|candidate| kind(*candidate) == value)
}

pub fn channel(channel: Channel) -> proto::Channel {
    match channel {
        Channel::ResidentApp => proto::Channel::ResidentApp,
        Channel::Hotline12345 => proto::Channel::Hotline12345,
        Channel::Patrol => proto::Channel::Patrol,
        Channel::VideoAlert => proto::Channel::VideoAlert,
        Channel::WalkIn => proto::Channel::WalkIn,
        Channel::Referral => proto::Channel::Referral,
    }
}

pub fn channel_from_proto(value: proto::Channel) -> Option<Channel> {
    Channel::ALL
        .iter()
        .copied()
        .find(|candidate| channel(*candidate) == value)
}

pub fn tier(tier: Tier) -> types::HandlingTier {
    match tier {
        Tier::FrontLine => types::HandlingTier::FrontLine,
        Tier::CoordinationMeeting => types::HandlingTier::CoordinationMeeting,
        Tier::Whistle => types::HandlingTier::Whistle,
    }
}

pub fn tier_from_proto(value: types::HandlingTier) -> Option<Tier> {
    Tier::ALL
        .iter()
        .copied()
        .find(|candidate| tier(*candidate) == value)
}

pub fn optional_tier(value: Option<Tier>) -> i32 {
    value.map(tier).unwrap_or(types::HandlingTier::Unspecified) as i32
}

pub fn rating(rating: Rating) -> proto::Rating {
    match rating {
        Rating::Satisfied => proto::Rating::Satisfied,
        Rating::BasicallySatisfied => proto::Rating::BasicallySatisfied,
        Rating::Unsatisfied => proto::Rating::Unsatisfied,
    }
}

pub fn rating_from_proto(value: proto::Rating) -> Option<Rating> {
    Rating::ALL
        .iter()
        .copied()
        .find(|candidate| rating(*candidate) == value)
}

pub fn closure(closure: Closure) -> proto::Closure {
    match closure {
        Closure::Rated => proto::Closure::Rated,
        Closure::Unsatisfied => proto::Closure::Unsatisfied,
        Closure::Unrated => proto::Closure::Unrated,
        Closure::Dismissed => proto::Closure::Dismissed,
    }
}

pub fn deadline_kind(deadline: DeadlineKind) -> proto::DeadlineKind {
    match deadline {
        DeadlineKind::Acceptance => proto::DeadlineKind::Acceptance,
        DeadlineKind::Resolution => proto::DeadlineKind::Resolution,
    }
}

pub fn rework_trigger(trigger: ReworkTrigger) -> proto::ReworkTrigger {
    match trigger {
        ReworkTrigger::FailedVerification => proto::ReworkTrigger::FailedVerification,
        ReworkTrigger::UnsatisfiedRating => proto::ReworkTrigger::UnsatisfiedRating,
    }
}

pub fn actor(actor: &Actor) -> proto::Actor {
    match actor {
        Actor::Staff { id, unit } => proto::Actor {
            kind: proto::ActorKind::Staff as i32,
            staff: id.to_string(),
            unit: unit.to_string(),
        },
        Actor::Resident => proto::Actor {
            kind: proto::ActorKind::Resident as i32,
            ..Default::default()
        },
        Actor::System => proto::Actor {
            kind: proto::ActorKind::System as i32,
            ..Default::default()
        },
    }
}

pub fn unit(unit: &DutyUnit) -> types::Unit {
    let (kind, code) = match unit {
        DutyUnit::Department(code) => (types::UnitKind::Department, code.to_string()),
        DutyUnit::Subdistrict(code) => (types::UnitKind::Subdistrict, code.to_string()),
        DutyUnit::Community(code) => (types::UnitKind::Community, code.to_string()),
        DutyUnit::BlockTeam(code) => (types::UnitKind::BlockTeam, code.to_string()),
    };
    types::Unit {
        kind: kind as i32,
        code,
    }
}

/// A unit from another service, if it is well formed.
pub fn unit_from_proto(unit: &types::Unit) -> Option<DutyUnit> {
    match types::UnitKind::try_from(unit.kind).ok()? {
        types::UnitKind::Department => DepartmentCode::parse(&unit.code)
            .ok()
            .map(DutyUnit::Department),
        types::UnitKind::Subdistrict => SubdistrictCode::parse(&unit.code)
            .ok()
            .map(DutyUnit::Subdistrict),
        types::UnitKind::Community => CommunityCode::parse(&unit.code)
            .ok()
            .map(DutyUnit::Community),
        types::UnitKind::BlockTeam => BlockCode::parse(&unit.code).ok().map(DutyUnit::BlockTeam),
        types::UnitKind::Unspecified => None,
    }
}

/// A time limit from the duty lists, if it is one this service can count.
pub fn working_duration(value: &types::WorkingDuration) -> Option<WorkingDuration> {
    match value.amount? {
        types::working_duration::Amount::WorkingHours(hours) => WorkingDuration::hours(hours).ok(),
        types::working_duration::Amount::WorkingDays(days) => WorkingDuration::days(days).ok(),
        types::working_duration::Amount::WorkingMinutes(minutes) => {
            WorkingDuration::minutes(minutes).ok()
        }
    }
}

pub fn geo_point(point: &crate::domain::geo::GeoPoint) -> types::GeoPoint {
    types::GeoPoint {
        longitude: point.longitude(),
        latitude: point.latitude(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_code_has_a_distinct_proto_value_that_reads_back() {
        for state in CaseState::ALL {
            assert_eq!(case_state_from_proto(case_state(*state)), Some(*state));
        }
        for value in CaseKind::ALL {
            assert_eq!(kind_from_proto(kind(*value)), Some(*value));
        }
        for value in Channel::ALL {
            assert_eq!(channel_from_proto(channel(*value)), Some(*value));
        }
        for value in Tier::ALL {
            assert_eq!(tier_from_proto(tier(*value)), Some(*value));
        }
        for value in Rating::ALL {
            assert_eq!(rating_from_proto(rating(*value)), Some(*value));
        }
        assert_eq!(case_state_from_proto(proto::CaseState::Unspecified), None);
        assert_eq!(kind_from_proto(proto::CaseKind::Unspecified), None);
    }

    #[test]
    fn an_instant_survives_a_proto_round_trip_to_the_microsecond() {
        let now = crate::clock::truncate_to_micros(Utc::now());
        assert_eq!(instant(&timestamp(now)), Ok(now));
        assert!(
            instant(&prost_types::Timestamp {
                seconds: 0,
                nanos: -1
            })
            .is_err()
        );
    }

    #[test]
    fn units_from_other_services_are_checked() {
        let department = types::Unit {
            kind: types::UnitKind::Department as i32,
            code: "urban_management".into(),
        };
        assert_eq!(unit(&unit_from_proto(&department).unwrap()), department);
        let malformed = types::Unit {
            kind: types::UnitKind::BlockTeam as i32,
            code: "17".into(),
        };
        assert_eq!(unit_from_proto(&malformed), None);
    }
}
