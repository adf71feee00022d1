//! A local HTTP server that behaves like the gateways: a WeCom group robot
//! (`POST /cgi-bin/webhook/send?key=…`, answering `{"errcode":…,"errmsg":…}`:
//! 93000 for a key it does not know, 45009 when told to rate-limit) and an
//! SMS provider's Standard Webhooks endpoint (`POST /sms`, checking the
//! signature, answering 500 when told to fail). It records what it took.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The robot key the stand-in knows; it also knows every key starting
/// `valid-` (one robot per block group).
pub const ROBOT_KEY: &str = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa";
/// The SMS provider's signing secret (32 bytes of 0x2a).
pub const SMS_SECRET: &str = "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// One message a gateway took (or refused).
#[derive(Debug, Clone)]
pub struct Received {
    /// `wecom` or `sms`.
    pub gateway: &'static str,
    /// The robot's key (WeCom only).
    pub key: String,
    pub body: serde_json::Value,
    /// The `webhook-id` of an SMS message.
    pub webhook_id: String,
    /// Whether the signature of an SMS message checked out.
    pub signature_valid: bool,
    /// Whether it answered success.
    pub accepted: bool,
    /// When it arrived.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// WeCom answers the next this many messages with errcode 45009.
    rate_limit_next: AtomicUsize,
    /// The SMS endpoint answers the next this many messages with HTTP 500.
    fail_next: AtomicUsize,
    /// Milliseconds each robot call takes, as a distant server's would.
    robot_delay_ms: std::sync::atomic::AtomicU64,
}

/// The running stand-in.
pub struct GatewayStandIn {
    pub base_url: String,
    shared: Arc<Shared>,
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

async fn wecom(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let json = [("content-type", "application/json")];
    let delay = shared.robot_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let key = query
        .as_deref()
        .and_then(|query| query.strip_prefix("key="))
        .unwrap_or_default()
        .to_owned();
    let (errcode, errmsg) = if key != ROBOT_KEY && !key.starts_with("valid-") {
        (93000, "invalid webhook url")
    } else if body["msgtype"] != "text" && body["msgtype"] != "markdown" {
        (40008, "invalid message type")
    } else if take_one(&shared.rate_limit_next) {
        (45009, "api freq out of limit")
    } else {
        (0, "ok")
    };
    shared.received.lock().unwrap().push(Received {
        gateway: "wecom",
        key,
        body,
        webhook_id: String::new(),
        signature_valid: false,
        accepted: errcode == 0,
        at: std::time::Instant::now(),
    });
    (
        StatusCode::OK,
        json,
        serde_json::json!({"errcode": errcode, "errmsg": errmsg}).to_string(),
    )
}

async fn sms(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = header("webhook-id");
    let timestamp = header("webhook-timestamp");
    let key = base64::engine::general_purpose::STANDARD
        .decode(SMS_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    let signature_valid = header("webhook-signature")
        .split(' ')
        .any(|signature| signature == expected);
    let fail = take_one(&shared.fail_next);
    shared.received.lock().unwrap().push(Received {
        gateway: "sms",
        key: String::new(),
        body: serde_json::from_slice(&body).unwrap_or_default(),
        webhook_id: id,
        signature_valid,
        accepted: signature_valid && !fail,
        at: std::time::Instant::now(),
    });
    if !signature_valid {
        StatusCode::UNAUTHORIZED
    } else if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

impl GatewayStandIn {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/cgi-bin/webhook/send", post(wecom))
            .route("/sms", post(sms))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base_url, shared }
    }

    pub fn robot_url(&self, key: &str) -> String {
        format!("{}/cgi-bin/webhook/send?key={key}", self.base_url)
    }

    pub fn sms_url(&self) -> String {
        format!("{}/sms", self.base_url)
    }

    pub fn rate_limit_next(&self, messages: usize) {
        self.shared
            .rate_limit_next
            .store(messages, Ordering::SeqCst);
    }

    /// Each robot call takes `milliseconds` from now on.
    pub fn slow_robots(&self, milliseconds: u64) {
        self.shared
            .robot_delay_ms
            .store(milliseconds, Ordering::SeqCst);
    }

    /// How many messages robots took (answered errcode 0) so far.
    pub fn robot_messages_taken(&self) -> usize {
        self.shared
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|message| message.gateway == "wecom" && message.accepted)
            .count()
    }

    /// How many messages `gateway` (`wecom` or `sms`) took so far.
    pub fn accepted_count(&self, gateway: &str) -> usize {
        self.shared
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|message| message.gateway == gateway && message.accepted)
            .count()
    }

    pub fn fail_next(&self, messages: usize) {
        self.shared.fail_next.store(messages, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The messages taken that concern `case` (its id appears in the text).
    pub fn taken_about(&self, case: &str) -> Vec<Received> {
        let id = case.trim_start_matches("cases/");
        self.received()
            .into_iter()
            .filter(|received| received.accepted && received.body.to_string().contains(id))
            .collect()
    }
}
