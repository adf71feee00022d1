//! WeCom group robots (企业微信群机器人): `POST {webhook}` with
//! `{"msgtype":"text","text":{"content":…,"mentioned_mobile_list":[…]}}`.
//! WeCom answers HTTP 200 with `{"errcode":…,"errmsg":…}`: 0 is delivered,
//! 45009 is its rate limit (20 messages a minute per robot: retry later),
//! 93000 an invalid webhook key (given up: the robot must be set anew);
//! anything else is retried.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::SendOutcome;
use crate::domain::GatewayUrl;

/// The most WeCom takes in one text message's content, in UTF-8 bytes.
pub const MAX_CONTENT_BYTES: usize = 2048;

/// WeCom's rate limit.
const ERRCODE_RATE_LIMITED: i64 = 45009;
/// The webhook's key is not (or no longer) valid.
const ERRCODE_INVALID_WEBHOOK: i64 = 93000;

/// How a refusal for an invalid key starts, so a block's robot is marked broken.
pub const INVALID_WEBHOOK_NOTE: &str = "errcode 93000";

#[derive(serde::Deserialize)]
struct Answer {
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

/// `content` cut at a character boundary to WeCom's limit.
pub fn fit_content(content: &str) -> &str {
    if content.len() <= MAX_CONTENT_BYTES {
        return content;
    }
    let mut end = MAX_CONTENT_BYTES;
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    &content[..end]
}

/// WeCom's documented limit: messages a robot takes per minute.
pub const ROBOT_MESSAGES_PER_MINUTE: usize = 20;

/// A per-robot token bucket keeping each robot within
/// [`ROBOT_MESSAGES_PER_MINUTE`], so WeCom's 45009 is the exception rather
/// than the way the limit is found. Each of a robot's 20 tokens comes back
/// a minute after it was spent (and a second more, so a message's journey
/// cannot carry 21 into one of WeCom's minutes): no minute ever sees more
/// than 20, which a bucket refilled at a steady 20 a minute would allow
/// after a burst. It is per process: replicas each keep their own.
#[derive(Default)]
pub struct RobotThrottle {
    spent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RobotThrottle {
    const WINDOW: Duration = Duration::from_secs(61);

    /// Waits until `url`'s robot has a token, and spends it.
    pub async fn wait_turn(&self, url: &GatewayUrl) {
        while let Err(wait) = self.try_turn(url) {
            tokio::time::sleep(wait).await;
        }
    }

    /// Spends a token of `url`'s robot if it has one; else answers how
    /// long until it has. For a worker that should not wait holding others'
    /// messages (the feedback worker's batch).
    pub fn try_turn(&self, url: &GatewayUrl) -> Result<(), Duration> {
        let mut spent = self
            .spent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        // Robots idle for a minute hold no tokens worth keeping.
        spent.retain(|_, times| {
            times
                .back()
                .is_some_and(|last| now.duration_since(*last) < Self::WINDOW)
        });
        let times = spent.entry(url.expose().to_owned()).or_default();
        while times
            .front()
            .is_some_and(|first| now.duration_since(*first) >= Self::WINDOW)
        {
            times.pop_front();
        }
        if times.len() < ROBOT_MESSAGES_PER_MINUTE {
            times.push_back(now);
            return Ok(());
        }
        Err(times
            .front()
            .map(|first| Self::WINDOW.saturating_sub(now.duration_since(*first)))
            .unwrap_or_default())
    }
}

/// Posts a text message mentioning `mobiles` (members of the group), once
/// the robot has a token.
pub async fn send_text(
    http: &reqwest::Client,
    throttle: &RobotThrottle,
    url: &GatewayUrl,
    content: &str,
    mobiles: &[&str],
    rate_limit_pause: Duration,
) -> SendOutcome {
    throttle.wait_turn(url).await;
    post_text(http, url, content, mobiles, rate_limit_pause).await
}

/// Posts a text message mentioning `mobiles` now: the caller has spent the
/// robot's token ([`RobotThrottle::try_turn`]).
pub async fn post_text(
    http: &reqwest::Client,
    url: &GatewayUrl,
    content: &str,
    mobiles: &[&str],
    rate_limit_pause: Duration,
) -> SendOutcome {
    let body = serde_json::json!({
        "msgtype": "text",
        "text": {
            "content": fit_content(content),
            "mentioned_mobile_list": mobiles,
        }
    });
    let request = http
        .post(url.expose())
        .header("content-type", "application/json")
        .body(body.to_string());
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            return SendOutcome::Retry {
                note: super::webhook::transport_note(&error),
                after: None,
            };
        }
    };
    let status = response.status();
    if !status.is_success() {
        return SendOutcome::Retry {
            note: format!("HTTP {}", status.as_u16()),
            after: None,
        };
    }
    let answer = response
        .bytes()
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Answer>(&bytes).ok());
    let answer = match answer {
        Some(answer) => answer,
        None => {
            return SendOutcome::Retry {
                note: "WeCom answered without an errcode".into(),
                after: None,
            };
        }
    };
    match answer.errcode {
        0 => SendOutcome::Delivered,
        ERRCODE_RATE_LIMITED => SendOutcome::Retry {
            note: format!("errcode {ERRCODE_RATE_LIMITED} (rate limited)"),
            after: Some(rate_limit_pause),
        },
        ERRCODE_INVALID_WEBHOOK => {
            SendOutcome::Refused(format!("{INVALID_WEBHOOK_NOTE} (invalid webhook key)"))
        }
        other => SendOutcome::Retry {
            note: format!("errcode {other} ({})", short(&answer.errmsg)),
            after: None,
        },
    }
}

/// WeCom's message, cut short: it may name a hint URL but never the key.
fn short(message: &str) -> String {
    message.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_robot_gets_twenty_turns_and_then_is_told_how_long_to_wait() {
        let throttle = RobotThrottle::default();
        let url = GatewayUrl::parse("http://127.0.0.1:9/cgi-bin/webhook/send?key=a").unwrap();
        let other = GatewayUrl::parse("http://127.0.0.1:9/cgi-bin/webhook/send?key=b").unwrap();
        for _ in 0..ROBOT_MESSAGES_PER_MINUTE {
            assert_eq!(throttle.try_turn(&url), Ok(()));
        }
        let wait = throttle.try_turn(&url).unwrap_err();
        assert!(wait > Duration::from_secs(59) && wait <= RobotThrottle::WINDOW);
        assert_eq!(throttle.try_turn(&other), Ok(()), "each robot has its own");
    }

    #[test]
    fn long_content_is_cut_at_a_character_boundary_within_the_limit() {
        let long = "防汛".repeat(500);
        let cut = fit_content(&long);
        assert!(cut.len() <= MAX_CONTENT_BYTES);
        assert!(long.starts_with(cut));
        assert_eq!(fit_content("短消息"), "短消息");
    }
}
