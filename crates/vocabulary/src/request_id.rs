//! The `request_id` of create calls: one rule for every service.
//!
//! A caller that may retry a create call sends a `request_id`; a retry with
//! the same id returns the first result instead of creating a second
//! resource. Integrators call every service, so the id they may send is the
//! same everywhere: empty (no idempotency), or 1–128 visible ASCII
//! characters without spaces — a UUID, a ticket number such as
//! `12345-2026-000123`, a hash. Surrounding whitespace is ignored. How long a
//! service remembers an id and within what it is unique (per caller, per
//! agency, …) is the service's to document.
//!
//! ```
//! use flatgov_vocabulary::RequestId;
//!
//! let id = RequestId::parse_optional(" 12345-2026-000123 ").unwrap();
//! assert_eq!(id.unwrap().as_str(), "12345-2026-000123");
//! assert_eq!(RequestId::parse_optional("").unwrap(), None);
//! assert!(RequestId::parse_optional("两个字").is_err());
//! ```

use std::fmt;

/// The longest request id, in characters.
pub const MAX_CHARS: usize = 128;

/// A caller's idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);

/// Why a `request_id` is refused. The message reads after a field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequestId {
    #[error("{chars} characters is longer than the {MAX_CHARS} allowed")]
    TooLong { chars: usize },
    #[error(
        "{character:?} is not allowed: use visible ASCII characters without spaces (e.g. a UUID)"
    )]
    Character { character: char },
}

impl RequestId {
    /// An id sent in a request: `None` when empty (or only whitespace).
    pub fn parse_optional(text: &str) -> Result<Option<Self>, InvalidRequestId> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let chars = text.chars().count();
        if chars > MAX_CHARS {
            return Err(InvalidRequestId::TooLong { chars });
        }
        if let Some(character) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(InvalidRequestId::Character { character });
        }
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_blank_means_no_request_id() {
        assert_eq!(RequestId::parse_optional("").unwrap(), None);
        assert_eq!(RequestId::parse_optional("  \t").unwrap(), None);
    }

    #[test]
    fn a_uuid_a_ticket_number_and_the_longest_id_are_accepted_trimmed() {
        for id in [
            "0196f0a4-5b1e-7c3d-9e2f-0123456789ab",
            "12345-2026-000123",
            &"x".repeat(MAX_CHARS),
        ] {
            let parsed = RequestId::parse_optional(&format!(" {id} "))
                .unwrap()
                .unwrap();
            assert_eq!(parsed.as_str(), id);
        }
    }

    #[test]
    fn too_long_spaces_and_non_ascii_are_refused_saying_why() {
        assert_eq!(
            RequestId::parse_optional(&"x".repeat(MAX_CHARS + 1))
                .unwrap_err()
                .to_string(),
            "129 characters is longer than the 128 allowed"
        );
        assert_eq!(
            RequestId::parse_optional("retry 1").unwrap_err(),
            InvalidRequestId::Character { character: ' ' }
        );
        assert!(
            RequestId::parse_optional("重试-1")
                .unwrap_err()
                .to_string()
                .starts_with("'重' is not allowed")
        );
    }
}
