//! Field parsers the requests share. Every parser records what is wrong
//! with its field in the request's [`Violations`] and goes on, so one
//! reply names every problem and nothing is read or written before the
//! whole request is known good.

use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_vocabulary::{PhoneError, PhoneNumber};
use uuid::Uuid;

use crate::application::Retry;
use crate::application::registry::Page;
use crate::domain::AgencyCode;
use crate::error::Error;

/// The parsed request once every field was checked: `Ok` when nothing was
/// wrong. `build` assembles it from the parsed fields (`field?` on each)
/// and yields `None` only when a field's violation was recorded.
pub fn finish<T>(violations: Violations, build: impl FnOnce() -> Option<T>) -> Result<T, Error> {
    violations.finish()?;
    build().ok_or_else(|| Error::Internal("a parsed request went missing".into()))
}

/// An optional field: `None` when empty, else the parsed value (or a
/// violation).
pub fn optional<T, E: std::fmt::Display>(
    violations: &mut Violations,
    field: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    if value.is_empty() {
        return Some(None);
    }
    violations.check(field, parse(value)).map(Some)
}

/// An agency named as `agencies/{code}` (a `name` or `parent` field).
pub fn agency_name(violations: &mut Violations, field: &str, value: &str) -> Option<AgencyCode> {
    violations.check(
        field,
        AgencyCode::parse(value.strip_prefix("agencies/").unwrap_or(""))
            .map_err(|error| format!("{error}; expected agencies/{{code}}")),
    )
}

/// The retry key of a create: its request id, if any, and the fingerprint
/// of the request as sent.
pub fn retry(
    violations: &mut Violations,
    request_id: &str,
    fingerprint: Fingerprint,
) -> Option<Option<Retry>> {
    violations
        .check("request_id", RequestId::parse_optional(request_id))
        .map(|request_id| {
            request_id.map(|request_id| Retry {
                request_id,
                fingerprint,
            })
        })
}

/// A point, when given: longitude and latitude in range, converted to WGS84
/// from the system it names (GCJ-02 from WeChat, BD-09 from Baidu).
pub fn location(
    violations: &mut Violations,
    point: Option<&GeoPoint>,
) -> Option<Option<(f64, f64)>> {
    let Some(point) = point else {
        return Some(None);
    };
    flatgov_grpc::geo::point_in_wgs84(violations, "location", point).map(Some)
}

/// A page of a list keyed by `K`, its token bound to `query`.
pub fn page<K>(
    violations: &mut Violations,
    size: i32,
    token: &str,
    query: ListQuery,
    key: impl FnOnce(&PageRequest) -> Result<Option<K>, flatgov_grpc::error::FieldViolation>,
) -> Option<Page<K>> {
    let request = match PageRequest::parse(size, token, &query) {
        Ok(request) => request,
        Err(found) => {
            violations.extend(found);
            return None;
        }
    };
    let after = match key(&request) {
        Ok(after) => after,
        Err(violation) => {
            violations.extend([violation]);
            return None;
        }
    };
    Some(Page {
        query,
        size: request.size,
        after,
    })
}

/// A page keyed by the uuid of the last item.
pub fn uuid_page(
    violations: &mut Violations,
    size: i32,
    token: &str,
    query: ListQuery,
) -> Option<Page<Uuid>> {
    page(
        violations,
        size,
        token,
        query,
        PageRequest::after_as::<Uuid>,
    )
}

/// A phone number (`flatgov_vocabulary`'s rule, which never repeats the
/// number in a refusal); empty for none.
pub fn phone(value: &str) -> Result<String, PhoneError> {
    if value.is_empty() {
        return Ok(String::new());
    }
    PhoneNumber::parse(value).map(|phone| phone.as_str().to_owned())
}

/// An enforcement badge number (执法证号): letters, digits and hyphens.
pub fn badge_number(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("badge number must not be empty".into());
    }
    if value.len() > 32 || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "badge number {value:?} must be at most 32 letters, digits or hyphens"
        ));
    }
    Ok(value.to_owned())
}
