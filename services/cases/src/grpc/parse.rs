//! Reading request fields into the service's values: each parser returns the value or
//! what is wrong with it, for `Violations::check` to file under the field's name.

use chrono::{DateTime, Utc};
use flatgov_proto::flatgov::r#type::v1::HandlingTier;

use crate::convert;
use crate::domain::lifecycle::Tier;
use crate::domain::values::{CaseId, Reason};

/// `cases/{uuid}`.
pub fn case_id(name: &str) -> Result<CaseId, String> {
    CaseId::parse_resource_name(name.trim()).map_err(|error| error.to_string())
}

/// A recorded reason.
pub fn reason(text: &str) -> Result<Reason, String> {
    Reason::parse(text).map_err(|error| error.to_string())
}

/// A handling tier, unset allowed.
pub fn optional_tier(value: i32) -> Result<Option<Tier>, String> {
    match HandlingTier::try_from(value) {
        Ok(HandlingTier::Unspecified) => Ok(None),
        Ok(tier) => Ok(convert::tier_from_proto(tier)),
        Err(_) => Err(format!("{value} is not a handling tier")),
    }
}

/// A timestamp that must be given.
pub fn required_instant(value: Option<&prost_types::Timestamp>) -> Result<DateTime<Utc>, String> {
    let timestamp = value.ok_or_else(|| "is required".to_owned())?;
    convert::instant(timestamp).map_err(|error| error.to_string())
}
