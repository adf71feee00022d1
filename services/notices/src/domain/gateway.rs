//! The gateways reporters are reached through, and the rules for their
//! addresses and secrets. A gateway's URL may hold a key (a WeCom robot's
//! `?key=` is its only credential) and a signed webhook's secret signs every
//! message, so neither is ever shown: [`GatewayUrl::hint`] masks the query,
//! and `Debug` of both hides them.

use base64::Engine as _;
use flatgov_proto::notices::v1 as proto;

flatgov_vocabulary::snake_code!(
    /// A gateway: `default`, or the case channel it serves, e.g. `hotline_12345`.
    GatewayCode, "gateway code", 32, "hotline_12345"
);

/// The gateway feedback falls back to when none serves the case's channel.
pub const DEFAULT_GATEWAY: &str = "default";

/// How a gateway is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayKind {
    /// An HTTP endpoint called with Standard Webhooks signatures.
    SignedWebhook,
    /// A WeCom group robot.
    WecomRobot,
}

impl GatewayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::SignedWebhook => "signed_webhook",
            GatewayKind::WecomRobot => "wecom_robot",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "signed_webhook" => Some(GatewayKind::SignedWebhook),
            "wecom_robot" => Some(GatewayKind::WecomRobot),
            _ => None,
        }
    }

    pub fn from_proto(value: i32) -> Option<Self> {
        match proto::GatewayKind::try_from(value).ok()? {
            proto::GatewayKind::SignedWebhook => Some(GatewayKind::SignedWebhook),
            proto::GatewayKind::WecomRobot => Some(GatewayKind::WecomRobot),
            proto::GatewayKind::Unspecified => None,
        }
    }

    pub fn to_proto(self) -> proto::GatewayKind {
        match self {
            GatewayKind::SignedWebhook => proto::GatewayKind::SignedWebhook,
            GatewayKind::WecomRobot => proto::GatewayKind::WecomRobot,
        }
    }
}

/// Where a gateway listens: `https://…`, or plain `http://` to this machine
/// only (a local sink, a test's stand-in), so nothing secret crosses a
/// network in the clear.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayUrl(String);

impl GatewayUrl {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const LOCAL_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];
        if text.len() > 2048 {
            return Err("is longer than 2,048 characters");
        }
        if text
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            return Err("must not contain spaces or control characters");
        }
        let (scheme, rest) = text.split_once("://").ok_or("must be an https:// URL")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let host_without_port = if host.starts_with('[') {
            host.split_inclusive(']').next().unwrap_or(host)
        } else {
            host.split(':').next().unwrap_or(host)
        };
        if host_without_port.is_empty() {
            return Err("names no host");
        }
        match scheme {
            "https" => Ok(Self(text.to_owned())),
            "http" if LOCAL_HOSTS.contains(&host_without_port) => Ok(Self(text.to_owned())),
            "http" => {
                Err("must use https:// (plain http:// only to 127.0.0.1, localhost or [::1])")
            }
            _ => Err("must be an https:// URL"),
        }
    }

    /// The URL itself, for sending only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its query (which may hold a key) and any credentials
    /// masked, e.g. `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`.
    pub fn hint(&self) -> String {
        let (before_query, query) = match self.0.split_once('?') {
            Some((before, query)) => (before, Some(query)),
            None => (self.0.as_str(), None),
        };
        let without_credentials = match before_query.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('/') {
                Some((authority, path)) => {
                    let host = authority
                        .rsplit_once('@')
                        .map_or(authority, |(_, host)| host);
                    format!("{scheme}://{host}/{path}")
                }
                None => {
                    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                    format!("{scheme}://{host}")
                }
            },
            None => before_query.to_owned(),
        };
        match query {
            None => without_credentials,
            Some(query) => {
                let masked: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) => format!("{key}=…"),
                        None => "…".to_owned(),
                    })
                    .collect();
                format!("{without_credentials}?{}", masked.join("&"))
            }
        }
    }
}

impl std::fmt::Debug for GatewayUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "GatewayUrl({})", self.hint())
    }
}

/// A Standard Webhooks signing secret: `whsec_` followed by base64 of 24 to
/// 64 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    /// As given, for storing.
    text: String,
    /// The decoded key the HMAC is keyed with.
    key: Vec<u8>,
}

impl WebhookSecret {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let encoded = text
            .strip_prefix("whsec_")
            .ok_or("must start with whsec_ followed by base64")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "must be whsec_ followed by standard base64")?;
        if !(24..=64).contains(&key.len()) {
            return Err("must hold 24 to 64 bytes");
        }
        Ok(Self {
            text: text.to_owned(),
            key,
        })
    }

    /// As stored.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The HMAC key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WebhookSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_and_local_http_urls_are_accepted() {
        assert!(
            GatewayUrl::parse("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc").is_ok()
        );
        assert!(GatewayUrl::parse("http://127.0.0.1:9999/sms").is_ok());
        assert!(GatewayUrl::parse("http://localhost/sms").is_ok());
        assert!(GatewayUrl::parse("http://[::1]:80/sms").is_ok());
    }

    #[test]
    fn plain_http_to_another_host_and_other_schemes_are_refused() {
        assert!(GatewayUrl::parse("http://sms.example.com/send").is_err());
        assert!(GatewayUrl::parse("http://127.0.0.1.example.com/send").is_err());
        assert!(GatewayUrl::parse("ftp://example.com").is_err());
        assert!(GatewayUrl::parse("https://").is_err());
        assert!(GatewayUrl::parse("https://example.com/a b").is_err());
    }

    #[test]
    fn the_hint_masks_the_key_and_credentials() {
        let url = GatewayUrl::parse(
            "https://user:pass@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx",
        )
        .unwrap();
        assert_eq!(
            url.hint(),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"
        );
        assert!(!format!("{url:?}").contains("693a91f6"));
    }

    #[test]
    fn a_secret_needs_its_prefix_and_enough_bytes() {
        let good = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        assert_eq!(WebhookSecret::parse(&good).unwrap().key(), &[7u8; 32]);
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(WebhookSecret::parse(&good[6..]).is_err());
        assert!(!format!("{:?}", WebhookSecret::parse(&good).unwrap()).contains(&good[6..]));
    }
}
