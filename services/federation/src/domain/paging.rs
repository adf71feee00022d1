//! Pages of list results: a bounded page size and an opaque token that
//! carries the sort key of the last row returned (keyset pagination, so a
//! page never skips or repeats rows when others are inserted meanwhile).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Invalid;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

const TOKEN_PREFIX: &str = "fed1:";

/// 0 means the default (50); larger than 500 is lowered to 500, as AIP-158
/// asks; negative is an error.
pub fn page_size(requested: i32) -> Result<i64, Invalid> {
    match requested {
        size if size < 0 => Err(Invalid::new(format!("is {size}; it must not be negative"))),
        0 => Ok(DEFAULT_PAGE_SIZE),
        size => Ok(i64::from(size).min(MAX_PAGE_SIZE)),
    }
}

/// The token for the page after the row whose sort key is `key`.
pub fn encode_token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{key}"))
}

/// The sort key inside a token; `None` for the first page.
pub fn decode_token(token: &str) -> Result<Option<String>, Invalid> {
    let token = token.trim();
    if token.is_empty() {
        return Ok(None);
    }
    let malformed = || Invalid::new("is not a token this service returned");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let key = text.strip_prefix(TOKEN_PREFIX).ok_or_else(malformed)?;
    Ok(Some(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_caps_and_refuses_negatives() {
        assert_eq!(page_size(0).unwrap(), 50);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(5000).unwrap(), 500);
        assert!(page_size(-1).unwrap_err().0.contains("negative"));
    }

    #[test]
    fn a_token_carries_its_key_and_a_forged_one_is_refused() {
        let token = encode_token("2026-11-28T08:00:00Z|0193a3c2");
        assert_eq!(
            decode_token(&token).unwrap().as_deref(),
            Some("2026-11-28T08:00:00Z|0193a3c2")
        );
        assert_eq!(decode_token("").unwrap(), None);
        assert!(decode_token("not base64!").is_err());
        assert!(decode_token(&URL_SAFE_NO_PAD.encode("other:key")).is_err());
    }
}
