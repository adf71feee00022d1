//! Signed webhooks for SMS providers and 12345 hotline systems, by the
//! Standard Webhooks convention: a JSON body with the headers `webhook-id`
//! (the message's stable id, the same on every retry, so the receiver can
//! drop a repeat), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`
//! keyed with the gateway's secret.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::SendOutcome;
use crate::domain::{GatewayUrl, WebhookSecret};

/// Who the message is for.
#[derive(serde::Serialize)]
pub struct Recipient<'a> {
    pub name: &'a str,
    pub phone: &'a str,
}

/// The body of a feedback message.
#[derive(serde::Serialize)]
pub struct FeedbackPayload<'a> {
    pub r#type: &'static str,
    /// `cases/{uuid}`.
    pub case: String,
    pub milestone: &'static str,
    pub recipient: Recipient<'a>,
    /// The message in zh-CN.
    pub text: &'a str,
}

/// The `webhook-signature` value of `body` sent as message `id` at `timestamp`.
pub fn signature(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.key())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Posts `payload` to the gateway and says what came of it: 2xx delivered;
/// 429 and 5xx (and no answer) worth a retry, honouring `Retry-After`; any
/// other answer a refusal.
pub async fn send(
    http: &reqwest::Client,
    url: &GatewayUrl,
    secret: &WebhookSecret,
    id: &str,
    payload: &FeedbackPayload<'_>,
    rate_limit_pause: Duration,
) -> SendOutcome {
    let body = match serde_json::to_vec(payload) {
        Ok(body) => body,
        Err(error) => return SendOutcome::Refused(format!("cannot encode the message: {error}")),
    };
    let timestamp = chrono::Utc::now().timestamp();
    let response = http
        .post(url.expose())
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature(secret, id, timestamp, &body))
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            return SendOutcome::Retry {
                note: transport_note(&error),
                after: None,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return SendOutcome::Delivered;
    }
    if status.as_u16() == 429 {
        let after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(rate_limit_pause);
        return SendOutcome::Retry {
            note: "HTTP 429 (rate limited)".into(),
            after: Some(after),
        };
    }
    if status.is_server_error() || status.as_u16() == 408 {
        return SendOutcome::Retry {
            note: format!("HTTP {}", status.as_u16()),
            after: None,
        };
    }
    SendOutcome::Refused(format!("HTTP {} (refused)", status.as_u16()))
}

/// A transport failure without the URL (which may hold a key).
pub(super) fn transport_note(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        "the connection failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn the_signature_matches_the_standard_webhooks_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
