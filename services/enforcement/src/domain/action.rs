//! What agencies record in an operation: the action kinds, their details,
//! and attachments kept elsewhere by reference.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::codes::{AgencyCode, InvalidValue};

/// The kinds of action, with the codes stored and published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    Inspection,
    RectificationOrder,
    PenaltyDecision,
    Seizure,
    Referral,
    RectificationCheck,
}

impl ActionKind {
    pub const ALL: [ActionKind; 6] = [
        ActionKind::Inspection,
        ActionKind::RectificationOrder,
        ActionKind::PenaltyDecision,
        ActionKind::Seizure,
        ActionKind::Referral,
        ActionKind::RectificationCheck,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Inspection => "inspection",
            ActionKind::RectificationOrder => "rectification_order",
            ActionKind::PenaltyDecision => "penalty_decision",
            ActionKind::Seizure => "seizure",
            ActionKind::Referral => "referral",
            ActionKind::RectificationCheck => "rectification_check",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == code)
    }
}

/// The kind-specific part of an action, stored as JSON beside the action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionDetails {
    Inspection {
        findings: String,
        violation_found: bool,
    },
    RectificationOrder {
        requirement: String,
        deadline: DateTime<Utc>,
        document_number: String,
    },
    PenaltyDecision {
        legal_basis: String,
        penalty: String,
        fine_fen: i64,
        decision_number: String,
    },
    Seizure {
        items: String,
        legal_basis: String,
        document_number: String,
    },
    Referral {
        referred_to: String,
        reason: String,
    },
    RectificationCheck {
        /// The checked order's action id (same operation and agency).
        rectification_order: Uuid,
        complied: bool,
        findings: String,
    },
}

impl ActionDetails {
    pub fn kind(&self) -> ActionKind {
        match self {
            ActionDetails::Inspection { .. } => ActionKind::Inspection,
            ActionDetails::RectificationOrder { .. } => ActionKind::RectificationOrder,
            ActionDetails::PenaltyDecision { .. } => ActionKind::PenaltyDecision,
            ActionDetails::Seizure { .. } => ActionKind::Seizure,
            ActionDetails::Referral { .. } => ActionKind::Referral,
            ActionDetails::RectificationCheck { .. } => ActionKind::RectificationCheck,
        }
    }

    /// The details without what an agency may restrict to itself:
    /// findings (of inspections and checks) and penalty details (of penalty
    /// decisions and seizures). What others need to follow the operation
    /// stays: the kind, a rectification order's requirement and deadline,
    /// a referral, whether a check found the order complied with.
    pub fn without_restricted_parts(&self) -> Self {
        match self {
            ActionDetails::Inspection { .. } => ActionDetails::Inspection {
                findings: String::new(),
                violation_found: false,
            },
            ActionDetails::PenaltyDecision { .. } => ActionDetails::PenaltyDecision {
                legal_basis: String::new(),
                penalty: String::new(),
                fine_fen: 0,
                decision_number: String::new(),
            },
            ActionDetails::Seizure { .. } => ActionDetails::Seizure {
                items: String::new(),
                legal_basis: String::new(),
                document_number: String::new(),
            },
            ActionDetails::RectificationCheck {
                rectification_order,
                complied,
                ..
            } => ActionDetails::RectificationCheck {
                rectification_order: *rectification_order,
                complied: *complied,
                findings: String::new(),
            },
            open @ (ActionDetails::RectificationOrder { .. } | ActionDetails::Referral { .. }) => {
                open.clone()
            }
        }
    }

    /// The deadline of a rectification order.
    pub fn rectification_deadline(&self) -> Option<DateTime<Utc>> {
        match self {
            ActionDetails::RectificationOrder { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }
}

/// The deadline of a new rectification order: it must lie in the future,
/// and within a year (a longer one is a typing mistake, not an order).
pub fn rectification_deadline(
    deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, InvalidValue> {
    let deadline = deadline.ok_or(InvalidValue::Empty {
        what: "rectification deadline",
    })?;
    if deadline <= now {
        return Err(InvalidValue::Malformed {
            what: "rectification deadline",
            value: deadline.to_rfc3339(),
            expected: "a time in the future",
        });
    }
    if deadline > now + chrono::TimeDelta::days(366) {
        return Err(InvalidValue::Malformed {
            what: "rectification deadline",
            value: deadline.to_rfc3339(),
            expected: "a time within a year",
        });
    }
    Ok(deadline)
}

/// A fine in fen (0.01 yuan): not negative, at most 100 million yuan.
pub fn fine_fen(value: i64) -> Result<i64, InvalidValue> {
    const MAX_FEN: i64 = 100_000_000 * 100;
    if !(0..=MAX_FEN).contains(&value) {
        return Err(InvalidValue::Malformed {
            what: "fine",
            value: value.to_string(),
            expected: "fen between 0 and 10,000,000,000 (100 million yuan)",
        });
    }
    Ok(value)
}

/// An action an agency records, validated: what the operation aggregate
/// and the store take.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    /// The action's id (`operations/{operation}/actions/{id}`).
    pub id: Uuid,
    /// The agency recording it (the caller's).
    pub agency: AgencyCode,
    /// What was done, visible to everyone who sees the operation.
    pub summary: String,
    /// Free notes.
    pub notes: String,
    /// Notes visible only to the recording agency.
    pub notes_sensitive: bool,
    /// Findings and penalty details visible only to the recording agency.
    pub details_restricted: bool,
    /// The kind-specific part, which decides the kind.
    pub details: ActionDetails,
    /// Files kept elsewhere, by reference.
    pub attachments: Vec<Attachment>,
}

/// How an officer marks an action's notes, or its findings and penalty
/// details: as the agency does by default, restricted to the agency, or
/// open to everyone who sees the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Marking {
    #[default]
    AgencyDefault,
    Restricted,
    Open,
}

impl Marking {
    /// Whether the part is restricted, given the agency's default.
    pub fn restricts(self, agency_default: bool) -> bool {
        match self {
            Marking::AgencyDefault => agency_default,
            Marking::Restricted => true,
            Marking::Open => false,
        }
    }
}

/// Where a rectification order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RectificationStatus {
    Pending,
    Overdue,
    Complied,
    NotComplied,
}

impl RectificationStatus {
    /// From the order's recorded facts: a check decides; otherwise an
    /// order marked overdue by the deadline worker is overdue.
    pub fn of(checked_complied: Option<bool>, marked_overdue: bool) -> Self {
        match (checked_complied, marked_overdue) {
            (Some(true), _) => RectificationStatus::Complied,
            (Some(false), _) => RectificationStatus::NotComplied,
            (None, true) => RectificationStatus::Overdue,
            (None, false) => RectificationStatus::Pending,
        }
    }
}

/// A file kept elsewhere, by reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub uri: String,
    pub media_type: String,
    pub description: String,
    pub sha256: String,
}

/// Why an attachment was refused, naming the part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAttachment {
    #[error("{0}")]
    Uri(String),
    #[error("{0}")]
    MediaType(String),
    #[error("{0}")]
    Description(String),
    #[error("{0}")]
    Sha256(String),
}

impl InvalidAttachment {
    /// The attachment field the problem is in.
    pub fn field(&self) -> &'static str {
        match self {
            InvalidAttachment::Uri(_) => "uri",
            InvalidAttachment::MediaType(_) => "media_type",
            InvalidAttachment::Description(_) => "description",
            InvalidAttachment::Sha256(_) => "sha256",
        }
    }
}

impl Attachment {
    pub const MAX_PER_ACTION: usize = 20;

    pub fn parse(
        uri: &str,
        media_type: &str,
        description: &str,
        sha256: &str,
    ) -> Result<Self, InvalidAttachment> {
        Ok(Self {
            uri: parse_uri(uri)?,
            media_type: parse_media_type(media_type)?,
            description: super::text::Text::optional("attachment description", description, 500)
                .map_err(|error| InvalidAttachment::Description(error.to_string()))?
                .into_string(),
            sha256: parse_sha256(sha256)?,
        })
    }
}

/// An absolute URI: a scheme of letters, digits, `+`, `-`, `.`, then `:`
/// and a reference without spaces; at most 2,048 characters.
fn parse_uri(uri: &str) -> Result<String, InvalidAttachment> {
    let refuse = |why: &str| {
        InvalidAttachment::Uri(format!(
            "attachment uri {uri:?} {why}; expected an absolute URI such as https://files.example.gov.cn/1.jpg or s3://bucket/key"
        ))
    };
    if uri.is_empty() {
        return Err(refuse("is empty"));
    }
    if uri.len() > 2048 {
        return Err(refuse("is longer than 2048 characters"));
    }
    let (scheme, rest) = uri.split_once(':').ok_or_else(|| refuse("has no scheme"))?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(refuse("has no valid scheme"));
    }
    if rest.is_empty() || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse("is not a reference without spaces"));
    }
    Ok(uri.to_owned())
}

fn parse_media_type(media_type: &str) -> Result<String, InvalidAttachment> {
    if media_type.is_empty() {
        return Ok(String::new());
    }
    let valid = media_type.len() <= 127
        && media_type.split_once('/').is_some_and(|(kind, subtype)| {
            let token = |part: &str| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
            };
            token(kind) && token(subtype)
        });
    if !valid {
        return Err(InvalidAttachment::MediaType(format!(
            "attachment media type {media_type:?} is not a type/subtype such as image/jpeg"
        )));
    }
    Ok(media_type.to_ascii_lowercase())
}

fn parse_sha256(sha256: &str) -> Result<String, InvalidAttachment> {
    if sha256.is_empty() {
        return Ok(String::new());
    }
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InvalidAttachment::Sha256(format!(
            "attachment sha256 {sha256:?} is not 64 hexadecimal digits"
        )));
    }
    Ok(sha256.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn action_kinds_round_trip_through_their_codes() {
        for kind in ActionKind::ALL {
            assert_eq!(ActionKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ActionKind::parse("arrest"), None);
    }

    #[test]
    fn details_are_stored_as_json_tagged_with_their_kind() {
        let details = ActionDetails::RectificationOrder {
            requirement: "remove the illegal extension".into(),
            deadline: at("2026-03-09T09:00:00Z"),
            document_number: "雨城管责改〔2026〕17号".into(),
        };
        let json = serde_json::to_value(&details).unwrap();
        assert_eq!(json["kind"], "rectification_order");
        let back: ActionDetails = serde_json::from_value(json).unwrap();
        assert_eq!(back, details);
        assert_eq!(back.kind(), ActionKind::RectificationOrder);
        assert_eq!(
            back.rectification_deadline(),
            Some(at("2026-03-09T09:00:00Z"))
        );
    }

    #[test]
    fn a_rectification_deadline_must_lie_in_the_coming_year() {
        let now = at("2026-03-02T09:00:00Z");
        assert!(rectification_deadline(Some(at("2026-03-09T09:00:00Z")), now).is_ok());
        assert!(rectification_deadline(Some(now), now).is_err());
        assert!(rectification_deadline(Some(at("2026-03-01T09:00:00Z")), now).is_err());
        assert!(rectification_deadline(Some(at("2027-04-01T09:00:00Z")), now).is_err());
        assert_eq!(
            rectification_deadline(None, now).unwrap_err(),
            InvalidValue::Empty {
                what: "rectification deadline"
            }
        );
    }

    #[test]
    fn a_fine_is_never_negative_nor_absurd() {
        assert_eq!(fine_fen(0), Ok(0));
        assert_eq!(fine_fen(200_000), Ok(200_000));
        assert!(fine_fen(-1).is_err());
        assert!(fine_fen(i64::MAX).is_err());
    }

    #[test]
    fn a_check_decides_an_orders_status_before_the_overdue_mark() {
        assert_eq!(
            RectificationStatus::of(None, false),
            RectificationStatus::Pending
        );
        assert_eq!(
            RectificationStatus::of(None, true),
            RectificationStatus::Overdue
        );
        assert_eq!(
            RectificationStatus::of(Some(true), true),
            RectificationStatus::Complied
        );
        assert_eq!(
            RectificationStatus::of(Some(false), false),
            RectificationStatus::NotComplied
        );
    }

    #[test]
    fn an_attachment_is_an_absolute_uri_with_optional_type_and_digest() {
        let attachment = Attachment::parse(
            "s3://evidence/2026/03/photo-1.jpg",
            "Image/JPEG",
            "front of the shop",
            &"AB".repeat(32),
        )
        .unwrap();
        assert_eq!(attachment.media_type, "image/jpeg");
        assert_eq!(attachment.sha256, "ab".repeat(32));
        assert!(Attachment::parse("https://files.example.gov.cn/a.pdf", "", "", "").is_ok());
    }

    #[test]
    fn a_bad_attachment_names_the_part_that_is_wrong() {
        for (uri, media_type, sha, field) in [
            ("photo.jpg", "", "", "uri"),
            ("", "", "", "uri"),
            ("https://x/a b.jpg", "", "", "uri"),
            ("1http://x", "", "", "uri"),
            ("https://x/a.jpg", "jpeg", "", "media_type"),
            ("https://x/a.jpg", "", "abc", "sha256"),
        ] {
            let error = Attachment::parse(uri, media_type, "", sha).unwrap_err();
            assert_eq!(error.field(), field, "{uri} {media_type} {sha}: {error}");
        }
        let long = format!("https://x/{}", "a".repeat(2048));
        assert!(Attachment::parse(&long, "", "", "").is_err());
    }
}
