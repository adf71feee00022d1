//! Pages of list results: `page_size` and an opaque `page_token`, as every
//! list call takes them (architecture.md: default 50, at most 500).
//!
//! Lists page by key (keyset pagination): a token carries the sort key of
//! the last row returned, so a page never skips or repeats rows when others
//! are inserted meanwhile. A token is also bound to the [`ListQuery`] it was
//! issued for (the list and its filters), so a token reused with other
//! filters is refused instead of silently resuming somewhere meaningless.
//!
//! Tokens are `{fingerprint}.{key in hex}`: safe in URLs and headers, and
//! stable across replicas and releases (FNV-1a, not a randomly keyed hash).
//! They are opaque, not secret: a caller who forges one only chooses where
//! a list starts, never what it may see.
//!
//! ```
//! use flatgov_grpc::paging::{ListQuery, PageRequest};
//!
//! let query = ListQuery::new("staff division=430302001");
//! let page = PageRequest::parse(2, "", &query).expect("a first page");
//! // fetch `page.size.fetch_limit()` rows after `page.after`, then:
//! let mut rows = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
//! let next_page_token = page.size.next_page_token(&mut rows, &query, Clone::clone);
//! assert_eq!(rows, ["a", "b"]);
//! let next = PageRequest::parse(2, &next_page_token, &query).expect("the second page");
//! assert_eq!(next.after.as_deref(), Some("b"));
//! ```

use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::FieldViolation;

/// The page size when a request gives none (`page_size` 0).
pub const DEFAULT_PAGE_SIZE: u16 = 50;
/// The largest page returned; a larger `page_size` is lowered to it (AIP-158).
pub const MAX_PAGE_SIZE: u16 = 500;
/// The longest `page_token` read: far above any token a list issues, low
/// enough that decoding a hostile one costs nothing.
pub const MAX_PAGE_TOKEN_CHARS: usize = 1024;

/// Why a list request's paging fields are refused. The message reads after
/// the field name ([`PagingError::field`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    #[error("must not be negative, found {size}")]
    NegativeSize { size: i32 },
    /// Malformed, from another list, or from this list with other filters.
    #[error("is not a token returned by this list with these filters")]
    ForeignToken,
}

impl PagingError {
    /// The request field at fault: `page_size` or `page_token`.
    pub fn field(&self) -> &'static str {
        match self {
            PagingError::NegativeSize { .. } => "page_size",
            PagingError::ForeignToken => "page_token",
        }
    }
}

impl From<PagingError> for FieldViolation {
    fn from(error: PagingError) -> Self {
        FieldViolation::new(error.field(), error.to_string())
    }
}

/// How many rows a page holds: 1 to [`MAX_PAGE_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageSize(u16);

impl PageSize {
    /// A request's `page_size`: 0 means [`DEFAULT_PAGE_SIZE`], more than
    /// [`MAX_PAGE_SIZE`] is lowered to it, a negative size is refused.
    pub fn parse(requested: i32) -> Result<Self, PagingError> {
        match requested {
            size if size < 0 => Err(PagingError::NegativeSize { size }),
            0 => Ok(Self(DEFAULT_PAGE_SIZE)),
            size => Ok(Self(
                u16::try_from(size)
                    .unwrap_or(MAX_PAGE_SIZE)
                    .min(MAX_PAGE_SIZE),
            )),
        }
    }

    /// The number of rows on a full page.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }

    /// The SQL `LIMIT` to fetch a page with: one row more than the page,
    /// whose presence tells that another page follows.
    pub fn fetch_limit(self) -> i64 {
        i64::from(self.0) + 1
    }

    /// Cuts rows fetched with [`PageSize::fetch_limit`] to one page and
    /// returns the token of the next page: the key of the last row kept, or
    /// empty when no row lies beyond this page (the last page).
    pub fn next_page_token<T>(
        self,
        rows: &mut Vec<T>,
        query: &ListQuery,
        key: impl Fn(&T) -> String,
    ) -> String {
        if rows.len() <= self.get() {
            return String::new();
        }
        rows.truncate(self.get());
        rows.last()
            .map(|last| query.token_after(&key(last)))
            .unwrap_or_default()
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(DEFAULT_PAGE_SIZE)
    }
}

/// What a page token is bound to: the list and every filter that shapes
/// it, written as text, e.g. `"blocks generation=… parent=430302001"`.
/// Two queries with the same text accept each other's tokens, so start the
/// text with the collection and include every filter (parsed, so that
/// spellings of one filter agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    fingerprint: u64,
}

impl ListQuery {
    pub fn new(description: &str) -> Self {
        Self {
            fingerprint: fnv1a(description.as_bytes()),
        }
    }

    /// The query of a list request message, every filter included: `list`
    /// names the collection, `filters` is the request after its
    /// `page_size` and `page_token` were taken out (`std::mem::take`), so
    /// only the filters remain. Protobuf encodes unset fields as nothing,
    /// so a filter added to the message later leaves tokens valid.
    pub fn of_request(list: &str, filters: &impl prost::Message) -> Self {
        let mut description = list.as_bytes().to_vec();
        description.push(0);
        filters.encode_raw(&mut description);
        Self {
            fingerprint: fnv1a(&description),
        }
    }

    /// The token for the page after the row whose sort key is `last_key`.
    pub fn token_after(&self, last_key: &str) -> String {
        let hex: String = last_key.bytes().map(|byte| format!("{byte:02x}")).collect();
        format!("{:016x}.{hex}", self.fingerprint)
    }

    /// The sort key inside a token this query issued; `None` for an empty
    /// token (the first page).
    pub fn key_in(&self, page_token: &str) -> Result<Option<String>, PagingError> {
        if page_token.is_empty() {
            return Ok(None);
        }
        if page_token.len() > MAX_PAGE_TOKEN_CHARS {
            return Err(PagingError::ForeignToken);
        }
        let (fingerprint, hex) = page_token
            .split_once('.')
            .ok_or(PagingError::ForeignToken)?;
        if fingerprint != format!("{:016x}", self.fingerprint) {
            return Err(PagingError::ForeignToken);
        }
        hex_decode(hex).map(Some).ok_or(PagingError::ForeignToken)
    }
}

/// The paging fields of one list request, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to return.
    pub size: PageSize,
    /// Return rows whose key sorts after this one (`None`: from the start).
    pub after: Option<String>,
}

impl PageRequest {
    /// Reads `page_size` and `page_token` of a request for `query`, naming
    /// every field that is wrong.
    pub fn parse(
        page_size: i32,
        page_token: &str,
        query: &ListQuery,
    ) -> Result<Self, Vec<FieldViolation>> {
        match (PageSize::parse(page_size), query.key_in(page_token)) {
            (Ok(size), Ok(after)) => Ok(Self { size, after }),
            (size, after) => Err([size.err(), after.err()]
                .into_iter()
                .flatten()
                .map(FieldViolation::from)
                .collect()),
        }
    }

    /// [`PageRequest::parse`] with the token's key parsed as the list's key
    /// type too, every wrong field named.
    pub fn parse_keyed<K: FromStr>(
        page_size: i32,
        page_token: &str,
        query: &ListQuery,
    ) -> Result<(Self, Option<K>), Vec<FieldViolation>> {
        let page = Self::parse(page_size, page_token, query)?;
        let after = page.after_as::<K>().map_err(|violation| vec![violation])?;
        Ok((page, after))
    }

    /// The key parsed as the list's key type (a UUID, a number); a key
    /// that does not parse was forged, and is refused as a foreign token.
    pub fn after_as<K: FromStr>(&self) -> Result<Option<K>, FieldViolation> {
        parse_key(self.after.as_deref()).map_err(FieldViolation::from)
    }
}

/// A page key parsed as the list's key type; see [`PageRequest::after_as`].
pub fn parse_key<K: FromStr>(key: Option<&str>) -> Result<Option<K>, PagingError> {
    key.map(|key| key.parse().map_err(|_| PagingError::ForeignToken))
        .transpose()
}

/// The sort key of newest-first lists (refusals, opinions, errands,
/// disputes…): the row's time and id, written `{RFC 3339 to the nanosecond}|{uuid}`
/// in page tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeKey {
    pub time: DateTime<Utc>,
    pub id: Uuid,
}

impl TimeKey {
    /// As the store compares it.
    pub fn pair(self) -> (DateTime<Utc>, Uuid) {
        (self.time, self.id)
    }
}

impl std::fmt::Display for TimeKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time = self
            .time
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        write!(formatter, "{time}|{}", self.id)
    }
}

impl std::str::FromStr for TimeKey {
    type Err = ();

    fn from_str(key: &str) -> Result<Self, ()> {
        let (time, id) = key.split_once('|').ok_or(())?;
        let time = DateTime::parse_from_rfc3339(time)
            .map_err(|_| ())?
            .with_timezone(&Utc);
        Ok(Self {
            time,
            id: id.parse().map_err(|_| ())?,
        })
    }
}

/// 64-bit FNV-1a: a fingerprint that is the same on every replica and in
/// every release, unlike the standard library's randomly keyed hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn hex_decode(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|start| u8::from_str_radix(text.get(start..start + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> ListQuery {
        ListQuery::new("blocks parent=430302001")
    }

    #[test]
    fn page_sizes_default_to_50_are_lowered_to_500_and_negatives_are_refused() {
        assert_eq!(PageSize::parse(0).expect("default").get(), 50);
        assert_eq!(PageSize::parse(1).expect("one").get(), 1);
        assert_eq!(PageSize::parse(500).expect("max").get(), 500);
        assert_eq!(PageSize::parse(501).expect("lowered").get(), 500);
        assert_eq!(PageSize::parse(i32::MAX).expect("lowered").get(), 500);
        let refused = PageSize::parse(-1).expect_err("negative");
        assert_eq!(refused, PagingError::NegativeSize { size: -1 });
        assert_eq!(refused.field(), "page_size");
        assert_eq!(refused.to_string(), "must not be negative, found -1");
        assert_eq!(PageSize::default().get(), 50);
    }

    #[test]
    fn a_page_is_fetched_with_one_row_more_than_it_shows() {
        assert_eq!(PageSize::parse(10).expect("valid").fetch_limit(), 11);
        assert_eq!(PageSize::parse(0).expect("valid").fetch_limit(), 51);
    }

    #[test]
    fn a_token_resumes_after_its_key_for_the_same_query() {
        let token = query().token_after("430302001002017");
        let page = PageRequest::parse(10, &token, &query()).expect("valid");
        assert_eq!(page.after.as_deref(), Some("430302001002017"));
        assert_eq!(page.size.get(), 10);
        let unicode = query().token_after("雨湖区|2026-11-28T08:00:00Z");
        assert_eq!(
            query().key_in(&unicode).expect("valid").as_deref(),
            Some("雨湖区|2026-11-28T08:00:00Z")
        );
    }

    #[test]
    fn an_empty_token_is_the_first_page() {
        let page = PageRequest::parse(0, "", &query()).expect("valid");
        assert_eq!(page.after, None);
        assert_eq!(page.size.get(), 50);
    }

    #[test]
    fn a_token_from_other_filters_or_another_list_is_refused() {
        let token = query().token_after("430302001002017");
        let other_filters = ListQuery::new("blocks parent=430302002");
        assert_eq!(other_filters.key_in(&token), Err(PagingError::ForeignToken));
        let other_list = ListQuery::new("staff parent=430302001");
        assert_eq!(other_list.key_in(&token), Err(PagingError::ForeignToken));
    }

    #[test]
    fn a_request_message_binds_its_tokens_to_every_filter_it_sets() {
        // Any message will do; a timestamp has two fields to filter by.
        let filters = |seconds: i64, nanos: i32| prost_types::Timestamp { seconds, nanos };
        let query = ListQuery::of_request("activities", &filters(7, 0));
        let token = query.token_after("k");
        assert_eq!(
            ListQuery::of_request("activities", &filters(7, 0)).key_in(&token),
            Ok(Some("k".to_owned()))
        );
        for other in [
            ListQuery::of_request("activities", &filters(8, 0)),
            ListQuery::of_request("activities", &filters(7, 1)),
            ListQuery::of_request("series", &filters(7, 0)),
        ] {
            assert_eq!(other.key_in(&token), Err(PagingError::ForeignToken));
        }
    }

    #[test]
    fn a_malformed_or_oversized_token_is_refused_naming_page_token() {
        let fingerprint = query().token_after("");
        for forged in [
            "garbage".to_owned(),
            "forged".to_owned(),
            format!("{fingerprint}zz"),
            format!("{fingerprint}abc"),
            format!("{fingerprint}ff"),
            format!("{fingerprint}{}", "61".repeat(MAX_PAGE_TOKEN_CHARS)),
        ] {
            let error = query().key_in(&forged).expect_err(&forged);
            assert_eq!(error.field(), "page_token", "{forged}");
        }
        assert_eq!(
            PagingError::ForeignToken.to_string(),
            "is not a token returned by this list with these filters"
        );
    }

    #[test]
    fn both_paging_fields_wrong_are_both_named() {
        let violations = PageRequest::parse(-3, "forged", &query()).expect_err("both wrong");
        let fields: Vec<&str> = violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["page_size", "page_token"]);
        assert_eq!(violations[0].description, "must not be negative, found -3");
    }

    #[test]
    fn only_a_page_with_rows_beyond_it_has_a_next_token() {
        let size = PageSize::parse(2).expect("valid");
        let mut rows = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let token = size.next_page_token(&mut rows, &query(), Clone::clone);
        assert_eq!(rows, ["a", "b"]);
        assert_eq!(query().key_in(&token), Ok(Some("b".to_owned())));

        let mut last_page = vec!["c".to_owned(), "d".to_owned()];
        let token = size.next_page_token(&mut last_page, &query(), Clone::clone);
        assert_eq!(last_page, ["c", "d"]);
        assert!(token.is_empty(), "the last page has no token");
    }

    #[test]
    fn a_key_that_is_not_of_the_lists_type_was_forged() {
        let id = "0193a3c2-0000-7000-8000-000000000001";
        let page = PageRequest::parse(0, &query().token_after(id), &query()).expect("valid");
        let parsed: Option<u128> = PageRequest {
            after: Some("17".into()),
            ..page.clone()
        }
        .after_as()
        .expect("a number");
        assert_eq!(parsed, Some(17));
        let forged = page.after_as::<u32>().expect_err("not a number");
        assert_eq!(forged.field, "page_token");
        assert_eq!(parse_key::<u32>(Some("x")), Err(PagingError::ForeignToken));
        let first = PageRequest::parse(0, "", &query()).expect("valid");
        assert_eq!(first.after_as::<u32>(), Ok(None));
    }

    #[test]
    fn tokens_issued_before_the_chassis_owned_paging_still_resume() {
        // The blocks registry issued `{fnv1a(query):016x}.{hex key}`; its
        // callers' tokens stay valid across the upgrade.
        let query = ListQuery::new("districts");
        let token = format!(
            "{:016x}.{}",
            fnv1a(b"districts"),
            "343330333032" // "430302"
        );
        assert_eq!(query.key_in(&token), Ok(Some("430302".to_owned())));
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
