//! Page sizes and opaque page tokens for list calls.
//!
//! A token carries the last key of the page it follows and a fingerprint of the
//! query (its filters), so a token reused with other filters is refused instead
//! of silently skipping or repeating rows. Tokens are hex text: safe in URLs and
//! headers, and stable across replicas and releases (FNV-1a, not a randomly
//! keyed hash).

use crate::error::Error;

/// Page size when the request gives none.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page size accepted; larger requests are clamped.
pub const MAX_PAGE_SIZE: usize = 500;

/// What one page of a list asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to return.
    pub size: usize,
    /// Return rows whose key sorts after this one.
    pub after: Option<String>,
}

/// 64-bit FNV-1a of `text`: a stable fingerprint.
pub fn fnv1a(text: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Reads `page_size` and `page_token` of a list request whose filters are `query`.
pub fn page_request(page_size: i32, page_token: &str, query: &str) -> Result<PageRequest, Error> {
    let size = match page_size {
        size if size < 0 => {
            return Err(Error::invalid(
                "page_size",
                format!("must not be negative, found {size}"),
            ));
        }
        0 => DEFAULT_PAGE_SIZE,
        // i32 fits usize on every platform we build for.
        size => (size as usize).min(MAX_PAGE_SIZE),
    };
    if page_token.is_empty() {
        return Ok(PageRequest { size, after: None });
    }
    let refuse = || {
        Error::invalid(
            "page_token",
            "is not a token returned by this list with these filters",
        )
    };
    let (fingerprint, key) = page_token.split_once('.').ok_or_else(refuse)?;
    if fingerprint != format!("{:016x}", fnv1a(query.as_bytes())) {
        return Err(refuse());
    }
    let key = hex_decode(key).ok_or_else(refuse)?;
    Ok(PageRequest {
        size,
        after: Some(key),
    })
}

/// The token for the page after the one ending with `last_key`.
pub fn next_token(query: &str, last_key: &str) -> String {
    let hex: String = last_key
        .as_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{:016x}.{hex}", fnv1a(query.as_bytes()))
}

/// Cuts rows fetched with a limit of `size + 1` to one page and returns the
/// token of the next page (empty when this is the last).
pub fn finish_page<T>(
    query: &str,
    mut rows: Vec<T>,
    size: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, String) {
    if rows.len() <= size {
        return (rows, String::new());
    }
    rows.truncate(size);
    let token = rows
        .last()
        .map(|last| next_token(query, &key(last)))
        .unwrap_or_default();
    (rows, token)
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

    #[test]
    fn a_token_resumes_after_its_key_for_the_same_query() {
        let token = next_token("parent=subdistricts/430302001", "430302001002017");
        let request = page_request(10, &token, "parent=subdistricts/430302001").expect("valid");
        assert_eq!(request.after.as_deref(), Some("430302001002017"));
        assert_eq!(request.size, 10);
    }

    #[test]
    fn a_token_from_another_query_or_a_forged_one_is_refused() {
        let token = next_token("parent=subdistricts/430302001", "430302001002017");
        let error = page_request(10, &token, "parent=subdistricts/430302002").expect_err("other");
        assert!(error.to_string().contains("page_token"));
        assert!(page_request(10, "garbage", "").is_err());
        assert!(page_request(10, "0000000000000000.zz", "").is_err());
    }

    #[test]
    fn page_sizes_default_clamp_and_refuse_negatives() {
        assert_eq!(page_request(0, "", "").expect("default").size, 50);
        assert_eq!(page_request(100_000, "", "").expect("clamped").size, 500);
        assert!(page_request(-1, "", "").is_err());
    }

    #[test]
    fn only_a_page_with_rows_beyond_it_has_a_next_token() {
        let keys = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let (page, token) = finish_page("q", keys.clone(), 2, Clone::clone);
        assert_eq!(page, vec!["a", "b"]);
        let next = page_request(2, &token, "q").expect("valid");
        assert_eq!(next.after.as_deref(), Some("b"));
        let (page, token) = finish_page("q", keys, 3, Clone::clone);
        assert_eq!(page.len(), 3);
        assert!(token.is_empty(), "the last page has no token");
    }
}
