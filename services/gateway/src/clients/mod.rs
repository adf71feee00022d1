//! The registry of API clients: the civic apps and government systems that post
//! Open311 service requests. This is the gateway's only state.
//!
//! A client has a name, the channel its reports arrive through, an optional
//! jurisdiction (a division it may report in and read) and a rate limit. Its key is
//! 256 random bits shown once when it is made; only the key's SHA-256 is kept, so a
//! copy of the database holds no usable key. Revoking a client stops its key at
//! once (every use looks the key up).

mod store;

use std::fmt;

use base64::Engine as _;
use flatgov_proto::cases::v1::Channel;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

pub use store::{Registry, StoreError};

/// What every key starts with, so a leaked one is recognisable in logs and scans.
pub const KEY_PREFIX: &str = "fg311_";

/// A client's secret key: shown once, never stored, never printed by `Debug`.
pub struct ApiKey(String);

impl ApiKey {
    /// 256 random bits, URL-safe.
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!(
            "{KEY_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// The key as the client sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the registry keeps of it.
    pub fn digest(&self) -> [u8; 32] {
        digest(&self.0)
    }

    /// The first characters, so operators can tell keys apart.
    pub fn visible_prefix(&self) -> String {
        self.0.chars().take(KEY_PREFIX.len() + 6).collect()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ApiKey({}…)", self.visible_prefix())
    }
}

/// The SHA-256 of a presented key.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The cases service's channels a client may report through.
pub fn parse_channel(text: &str) -> Result<Channel, String> {
    let channel = match text {
        "resident_app" => Channel::ResidentApp,
        "hotline_12345" => Channel::Hotline12345,
        "patrol" => Channel::Patrol,
        "video_alert" => Channel::VideoAlert,
        "walk_in" => Channel::WalkIn,
        "referral" => Channel::Referral,
        _ => {
            return Err(format!(
                "channel {text:?} is not one of resident_app, hotline_12345, patrol, video_alert, walk_in, referral"
            ));
        }
    };
    Ok(channel)
}

/// A division code a client is limited to: a district (6 digits), subdistrict (9),
/// community (12) or block (15).
pub fn parse_jurisdiction(text: &str) -> Result<String, String> {
    let code = text
        .rsplit_once('/')
        .map(|(_, code)| code)
        .unwrap_or(text)
        .trim();
    if matches!(code.len(), 6 | 9 | 12 | 15) && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code.to_owned())
    } else {
        Err(format!(
            "jurisdiction {text:?} is not a division code of 6, 9, 12 or 15 digits"
        ))
    }
}

/// A client to register.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub channel: Channel,
    pub jurisdiction: Option<String>,
    pub rate_limit_per_minute: u32,
}

impl NewClient {
    /// Checks what an operator typed; every problem at once.
    pub fn parse(
        name: &str,
        channel: &str,
        jurisdiction: Option<&str>,
        rate_limit_per_minute: u32,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            problems.push("name must be 1–100 characters".to_owned());
        }
        let channel = parse_channel(channel).map_err(|problem| problems.push(problem));
        let jurisdiction = jurisdiction
            .map(parse_jurisdiction)
            .transpose()
            .map_err(|problem| problems.push(problem));
        if rate_limit_per_minute == 0 || rate_limit_per_minute > 100_000 {
            problems.push("rate limit must be 1–100000 requests a minute".to_owned());
        }
        match (channel, jurisdiction) {
            (Ok(channel), Ok(jurisdiction)) if problems.is_empty() => Ok(Self {
                name: name.to_owned(),
                channel,
                jurisdiction,
                rate_limit_per_minute,
            }),
            _ => Err(problems),
        }
    }
}

/// A registered client, as the gateway and operators see it (never the key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    /// The channel's name as the cases service spells it, e.g. `resident_app`.
    pub channel: String,
    pub jurisdiction: Option<String>,
    pub rate_limit_per_minute: u32,
    pub key_prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Client {
    /// The channel as the cases API takes it.
    pub fn channel(&self) -> Channel {
        parse_channel(&self.channel).unwrap_or(Channel::ResidentApp)
    }

    /// True when the client may act on `division_code` (a block, community, …).
    pub fn reaches(&self, division_code: &str) -> bool {
        self.jurisdiction
            .as_deref()
            .is_none_or(|jurisdiction| division_code.starts_with(jurisdiction))
    }
}

/// The channel's name as the cases service spells it.
pub fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Hotline12345 => "hotline_12345",
        Channel::Patrol => "patrol",
        Channel::VideoAlert => "video_alert",
        Channel::WalkIn => "walk_in",
        Channel::Referral => "referral",
        Channel::ResidentApp | Channel::Unspecified => "resident_app",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_long_random_and_never_printed_whole() {
        let first = ApiKey::generate();
        let second = ApiKey::generate();
        assert_ne!(first.expose(), second.expose());
        assert!(first.expose().starts_with(KEY_PREFIX));
        assert_eq!(first.expose().len(), KEY_PREFIX.len() + 43);
        let debug = format!("{first:?}");
        assert!(!debug.contains(first.expose()));
        assert_eq!(first.digest(), digest(first.expose()));
    }

    #[test]
    fn a_new_client_reports_every_problem_at_once() {
        let problems =
            NewClient::parse("", "carrier_pigeon", Some("yuhu"), 0).expect_err("all wrong");
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn a_jurisdiction_may_be_a_code_or_a_resource_name() {
        assert_eq!(
            parse_jurisdiction("subdistricts/430302001").as_deref(),
            Ok("430302001")
        );
        assert_eq!(parse_jurisdiction("430302").as_deref(), Ok("430302"));
        assert!(parse_jurisdiction("4303020").is_err());
    }

    #[test]
    fn a_limited_client_reaches_only_its_divisions() {
        let client = Client {
            id: Uuid::nil(),
            name: "app".into(),
            channel: "resident_app".into(),
            jurisdiction: Some("430302001".into()),
            rate_limit_per_minute: 60,
            key_prefix: "fg311_abcdef".into(),
            created_at: chrono::Utc::now(),
            revoked_at: None,
        };
        assert!(client.reaches("430302001004017"));
        assert!(!client.reaches("430302002001001"));
    }
}
