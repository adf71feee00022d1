//! What every request parser shares: finishing a parse once every field
//! violation is known, timestamps, request ids, paging.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{ListQuery, PageSize};
use prost_types::Timestamp;

use crate::application::{Page, Retry};
use crate::domain::Invalid;
use crate::domain::codes::{
    BlockCode, DivisionCode, OrganisationCode, parse_organisation_reference, parse_request_id,
};
use crate::error::{Error, Result};

/// A parsed request: the value `build` makes of its fields once no
/// violation was recorded; INVALID_ARGUMENT naming every one otherwise.
/// (`build` reads the fields' `Option`s with `?`: each is `Some` when its
/// parse recorded no violation.)
pub fn finish<T>(violations: Violations, build: impl FnOnce() -> Option<T>) -> Result<T> {
    violations.finish()?;
    build().ok_or_else(|| Error::Corrupt("a parsed request lost a field".into()))
}

/// The parse's outcome, kept for a use case that checks references first
/// (see [`crate::application::Checked`]).
pub fn outcome<T>(
    violations: Violations,
    build: impl FnOnce() -> Option<T>,
) -> std::result::Result<T, Violations> {
    if !violations.is_empty() {
        return Err(violations);
    }
    match build() {
        Some(value) => Ok(value),
        None => {
            let mut lost = Violations::new();
            lost.add("", "the request could not be read");
            Err(lost)
        }
    }
}

/// The request id of a create and the request's fingerprint, for retries.
pub fn retry(
    violations: &mut Violations,
    request_id: &str,
    fingerprint: Fingerprint,
) -> Option<Retry> {
    violations
        .check("request_id", parse_request_id(request_id))
        .and_then(|request_id| Retry::of(request_id, fingerprint))
}

/// An optional field: `None` when empty, else what `parse` makes of it.
pub fn optional<T, E: Into<Invalid>>(
    value: &str,
    parse: impl FnOnce(&str) -> std::result::Result<T, E>,
) -> std::result::Result<Option<T>, Invalid> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    parse(value).map(Some).map_err(Into::into)
}

/// An organisation named by `organisations/{code}` or its code, if given.
pub fn optional_organisation(
    value: &str,
) -> std::result::Result<Option<OrganisationCode>, Invalid> {
    optional(value, parse_organisation_reference)
}

/// A division code filter, if given.
pub fn optional_division(value: &str) -> std::result::Result<Option<DivisionCode>, Invalid> {
    optional(value, DivisionCode::parse)
}

/// A block code, if given.
pub fn optional_block(value: &str) -> std::result::Result<Option<BlockCode>, Invalid> {
    optional(value, BlockCode::parse)
}

/// A set timestamp within the years the platform can mean (1900–9999).
pub fn required_time(value: Option<&Timestamp>) -> std::result::Result<DateTime<Utc>, Invalid> {
    match value {
        None => Err(Invalid::new("must be set")),
        Some(value) => time(value),
    }
}

pub fn optional_time(
    value: Option<&Timestamp>,
) -> std::result::Result<Option<DateTime<Utc>>, Invalid> {
    value.map(time).transpose()
}

fn time(value: &Timestamp) -> std::result::Result<DateTime<Utc>, Invalid> {
    let time =
        flatgov_grpc::time::instant(value).map_err(|error| Invalid::new(error.to_string()))?;
    let earliest = DateTime::<Utc>::from_timestamp(-2_208_988_800, 0).unwrap_or(time);
    if time < earliest {
        return Err(Invalid::new("lies before 1900"));
    }
    Ok(time)
}

/// When something happened: unset means now; the future is refused (with
/// five minutes' grace for clocks that run ahead).
pub fn past_time(
    value: Option<&Timestamp>,
    now: DateTime<Utc>,
) -> std::result::Result<DateTime<Utc>, Invalid> {
    let time = optional_time(value)?.unwrap_or(now);
    if time > now + chrono::Duration::minutes(5) {
        return Err(Invalid::new("lies in the future"));
    }
    Ok(time)
}

/// How a list's pages are cut and chained: the query its tokens are bound
/// to and the page size.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// The list and its filters, which a page token must come from.
    query: ListQuery,
    /// Rows per page.
    size: PageSize,
}

impl Paging {
    /// Cuts the fetched rows to one page; the token of the next page, or
    /// empty on the last.
    pub fn next_page_token<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        self.size.next_page_token(rows, &self.query, key)
    }
}

/// A parsed list request: the use case's query and the paging the answer
/// is cut by.
#[derive(Debug)]
pub struct Listing<Q> {
    /// What the use case lists.
    pub query: Q,
    /// How the answer is paged.
    pub paging: Paging,
}

/// Reads `page_size` and `page_token` of a list request whose filters make
/// `query`: the paging, and the page the use case fetches (resuming after
/// the key in the token, read as the list's key type `K`).
pub fn page<K: FromStr>(
    violations: &mut Violations,
    query: ListQuery,
    page_size: i32,
    page_token: &str,
) -> Option<(Paging, Page<K>)> {
    let size = violations.check("page_size", PageSize::parse(page_size));
    let after = violations
        .check("page_token", query.key_in(page_token))
        .and_then(|key| {
            violations.check(
                "page_token",
                flatgov_grpc::paging::parse_key::<K>(key.as_deref()),
            )
        });
    let size = size?;
    Some((
        Paging { query, size },
        Page {
            after: after?,
            limit: size.fetch_limit(),
        },
    ))
}

/// Counts as the protos carry them.
pub fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}
