//! The domain's values as the shared contract types (`flatgov.type.v1`):
//! tiers, working durations and units, written the same way in the API's
//! answers and in the events.

use flatgov_proto::flatgov::r#type::v1 as types;

use crate::domain::{Location, Responsible, Tier, WorkingDuration, WorkingUnit};

pub fn tier_to_proto(tier: Tier) -> types::HandlingTier {
    match tier {
        Tier::FrontLine => types::HandlingTier::FrontLine,
        Tier::CoordinationMeeting => types::HandlingTier::CoordinationMeeting,
        Tier::Whistle => types::HandlingTier::Whistle,
    }
}

/// A tier where one may be absent: unspecified then.
pub fn optional_tier_to_proto(tier: Option<Tier>) -> i32 {
    tier.map_or(types::HandlingTier::Unspecified, tier_to_proto) as i32
}

/// Exact, in the list's own unit: working minutes, hours or days.
pub fn duration_to_proto(duration: WorkingDuration) -> types::WorkingDuration {
    use types::working_duration::Amount;
    let amount = match duration.unit() {
        WorkingUnit::Minutes => Amount::WorkingMinutes(duration.amount()),
        WorkingUnit::Hours => Amount::WorkingHours(duration.amount()),
        WorkingUnit::Days => Amount::WorkingDays(duration.amount()),
    };
    types::WorkingDuration {
        amount: Some(amount),
    }
}

/// A role made concrete at a location: the block team of the location's
/// block, and so on; the code is empty when the location does not name
/// that division.
pub fn responsible_unit(responsible: &Responsible, location: &Location) -> types::Unit {
    let (kind, code) = match responsible {
        Responsible::BlockTeam => (
            types::UnitKind::BlockTeam,
            location.block().map(|code| code.to_string()),
        ),
        Responsible::Community => (
            types::UnitKind::Community,
            location.community().map(|code| code.to_string()),
        ),
        Responsible::SubdistrictPlatform => (
            types::UnitKind::Subdistrict,
            location.subdistrict().map(|code| code.to_string()),
        ),
        Responsible::Department(code) => (types::UnitKind::Department, Some(code.to_string())),
    };
    types::Unit {
        kind: kind as i32,
        code: code.unwrap_or_default(),
    }
}

/// A unit as stored (kind text and code, see `store::refusals::StoredUnit`).
pub fn unit_from_text(kind: &str, code: &str) -> types::Unit {
    let kind = match kind {
        "department" => types::UnitKind::Department,
        "subdistrict" => types::UnitKind::Subdistrict,
        "community" => types::UnitKind::Community,
        "block_team" => types::UnitKind::BlockTeam,
        _ => types::UnitKind::Unspecified,
    };
    types::Unit {
        kind: kind as i32,
        code: code.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatgov_vocabulary::{BlockCode, SubdistrictCode};

    #[test]
    fn a_minute_limit_stays_in_minutes_in_the_contract_duration() {
        use types::working_duration::Amount;
        let half_hour = duration_to_proto(WorkingDuration::parse("30m").unwrap());
        assert_eq!(half_hour.amount, Some(Amount::WorkingMinutes(30)));
        let days = duration_to_proto(WorkingDuration::parse("3d").unwrap());
        assert_eq!(days.amount, Some(Amount::WorkingDays(3)));
    }

    #[test]
    fn a_role_is_made_concrete_with_the_divisions_the_location_names() {
        let location = Location::in_block(BlockCode::parse("430302001004017").unwrap());
        let team = responsible_unit(&Responsible::BlockTeam, &location);
        assert_eq!(team.code, "430302001004017");
        let platform = responsible_unit(&Responsible::SubdistrictPlatform, &location);
        assert_eq!(platform.code, "430302001");
        let unknown_block = responsible_unit(
            &Responsible::BlockTeam,
            &Location::in_subdistrict(SubdistrictCode::parse("430302001").unwrap()),
        );
        assert_eq!(unknown_block.kind, types::UnitKind::BlockTeam as i32);
        assert_eq!(unknown_block.code, "");
    }
}
