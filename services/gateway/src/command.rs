//! The command centre (指挥中心): a browser view for the district's dispatchers and
//! leaders at `/command/`, and the two endpoints only it needs.
//!
//! The page itself (HTML, JavaScript, CSS in `services/gateway/command/`) is
//! compiled into the binary, so nothing is fetched from elsewhere at run time. It
//! calls the HTTP/JSON API ([`crate::api`]) with the bearer token the person
//! pasted, so the services' policy tables decide everything it shows and does.
//! The gateway adds:
//!
//! - `GET /command/session`: who the token is, refused unless it is staff's (a
//!   resident, an integrator or a service has no business on this screen);
//! - `GET /command/events`: server-sent events, one per case event in the
//!   viewer's jurisdiction, fed by a live NATS subscription to the cases stream
//!   as a read-only integrator. An event names the case, its block and what
//!   happened — never personal data; the page then asks the API, under the
//!   viewer's own token, for what changed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use flatgov_auth::{AuthConfig, Caller, Role, Verifier};
use flatgov_config::{ConfigError, Env};
use flatgov_messaging::{BusConfig, Envelope, EventBus};
use futures::{Stream, StreamExt as _};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use prost_reflect::DynamicMessage;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::Gateway;

/// The roles the command centre opens for: the people who work cases.
pub const STAFF_ROLES: [Role; 7] = [
    Role::DistrictAdmin,
    Role::SubdistrictDispatcher,
    Role::Governor,
    Role::Assistant,
    Role::Supervisor,
    Role::DepartmentOfficer,
    Role::FederationStaff,
];

/// The page's files, embedded at build time.
const INDEX_HTML: &str = include_str!("../command/index.html");
const APP_JS: &str = include_str!("../command/app.js");
const APP_CSS: &str = include_str!("../command/app.css");

/// Only the gateway's own scripts, styles and API: a page that cannot load
/// anything from elsewhere cannot leak a token there either.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// What the command centre reads from the environment.
pub struct CommandConfig {
    /// Verifies the tokens people paste (the platform's JWKS, audience
    /// `flatgov.gateway`); without `AUTH_JWKS_FILE` the page opens for no one
    /// (it says why) and the rest of the gateway is unaffected.
    pub auth: Option<AuthConfig>,
    /// Where case events come from; without `NATS_URL` the page works without
    /// live updates (it says so).
    pub bus: Option<BusConfig>,
}

impl CommandConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let nats: Option<String> = env.maybe(
            "NATS_URL",
            "the NATS server the command centre's live updates read case events from",
        )?;
        let jwks: Option<String> = env.maybe(
            "AUTH_JWKS_FILE",
            "path to the platform's key set (JWKS) that verifies the command centre's tokens",
        )?;
        Ok(Self {
            auth: jwks
                .map(|_| AuthConfig::from_env(env, "gateway"))
                .transpose()?,
            bus: nats.map(|_| BusConfig::from_env(env)).transpose()?,
        })
    }
}

/// One case event as the page receives it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiveEvent {
    /// The last part of the subject: `dispatched`, `escalated`, `overdue`, …
    pub kind: String,
    /// `cases/{id}`.
    pub case: String,
    /// 15 digits, empty until the block is known.
    pub block_code: String,
    /// 9 digits, empty until known.
    pub subdistrict_code: String,
}

impl LiveEvent {
    /// Reads the event's case, block and subdistrict from its payload (the
    /// `transition` every case event carries, or its own fields).
    fn from_envelope(envelope: &Envelope) -> Option<Self> {
        let kind = envelope
            .subject
            .strip_prefix("flatgov.cases.case.")?
            .to_owned();
        let descriptor = crate::api::pool().get_message_by_name(&envelope.event_type)?;
        let message = DynamicMessage::decode(descriptor, envelope.payload.clone()).ok()?;
        let transition = message
            .get_field_by_name("transition")
            .and_then(|value| value.as_message().cloned());
        let text = |name: &str| -> String {
            let own = message
                .get_field_by_name(name)
                .and_then(|value| value.as_str().map(str::to_owned))
                .filter(|value| !value.is_empty());
            own.or_else(|| {
                transition
                    .as_ref()
                    .and_then(|transition| transition.get_field_by_name(name))
                    .and_then(|value| value.as_str().map(str::to_owned))
            })
            .unwrap_or_default()
        };
        let case = text("case");
        if case.is_empty() {
            return None;
        }
        Some(Self {
            kind,
            block_code: text("block_code"),
            subdistrict_code: text("subdistrict_code"),
            case,
        })
    }

    /// True when `caller` may hear of it: district administrators everywhere in
    /// their jurisdiction, everyone else only for their own divisions.
    pub fn reaches(&self, caller: &Caller) -> bool {
        let division = if self.block_code.is_empty() {
            &self.subdistrict_code
        } else {
            &self.block_code
        };
        // An event whose code does not parse reaches no one.
        flatgov_auth::DivisionCode::parse(division).is_ok_and(|code| caller.covers(&code))
    }
}

/// The command centre's shared state.
pub struct CommandCentre {
    verifier: Option<Verifier>,
    /// Case events as they arrive; `None` without NATS.
    live: Option<broadcast::Sender<LiveEvent>>,
}

impl CommandCentre {
    /// Loads the key set and, with NATS configured, starts listening for case
    /// events (reconnecting in the background while NATS is away).
    pub async fn start(config: CommandConfig) -> Result<Self, String> {
        let verifier = match config.auth {
            Some(auth) => Some(Verifier::new(auth).await?),
            None => None,
        };
        let live = match config.bus {
            None => None,
            Some(bus) => {
                let bus = EventBus::connect(&bus, "flatgov-gateway-command")
                    .await
                    .map_err(|error| error.to_string())?;
                let (sender, _) = broadcast::channel(1024);
                tokio::spawn(listen(bus, sender.clone()));
                Some(sender)
            }
        };
        Ok(Self { verifier, live })
    }

    /// The staff member behind `headers`' bearer token, or the refusal to send.
    fn staff(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let Some(verifier) = &self.verifier else {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                reason: "not_configured",
                message: "this gateway cannot check people's tokens (no AUTH_JWKS_FILE), so \
                          the command centre is closed"
                    .to_owned(),
            });
        };
        let caller = verifier.verify_header(header).map_err(|error| Refusal {
            status: StatusCode::UNAUTHORIZED,
            reason: "unauthenticated",
            message: error.to_string(),
        })?;
        if caller.has_any_role(&STAFF_ROLES) {
            Ok(caller)
        } else {
            Err(Refusal {
                status: StatusCode::FORBIDDEN,
                reason: "not_staff",
                message: "the command centre is for staff: dispatchers, administrators, block \
                          teams, department and federation staff"
                    .to_owned(),
            })
        }
    }
}

/// Why a request is refused, answered as
/// `{"error": {"code": 403, "reason": "not_staff", "message": …}}`.
struct Refusal {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({"error": {
                "code": self.status.as_u16(),
                "reason": self.reason,
                "message": self.message,
            }})),
        )
            .into_response()
    }
}

/// Follows `flatgov.cases.case.>` for as long as the gateway runs.
async fn listen(bus: EventBus, sender: broadcast::Sender<LiveEvent>) {
    let subject = bus.subject("flatgov.cases.case.>");
    loop {
        let mut subscription = match bus.client().subscribe(subject.clone()).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to case events; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        while let Some(message) = subscription.next().await {
            let Some(canonical) = bus.canonical(message.subject.as_str()) else {
                continue;
            };
            match Envelope::parse(canonical, message.headers.as_ref(), message.payload.clone()) {
                Ok(envelope) => {
                    if let Some(event) = LiveEvent::from_envelope(&envelope) {
                        // No page listening is not an error.
                        let _ = sender.send(event);
                    }
                }
                Err(error) => tracing::debug!(%error, canonical, "an unreadable case event"),
            }
        }
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /command` → `/command/`, so relative asset paths resolve.
pub async fn redirect() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, HeaderValue::from_static("/command/"))],
    )
        .into_response()
}

/// `GET /command/`.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /command/app.js`.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /command/app.css`.
pub async fn styles() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// `GET /command/session`: the viewer, or why the token is refused.
pub async fn session(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    match gateway.command.staff(&headers) {
        Ok(caller) => axum::Json(serde_json::json!({
            "subject": caller.subject,
            "roles": caller.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
            "organisation": caller.organisation,
            "jurisdictions": caller
                .jurisdictions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            "live": gateway.command.live.is_some(),
        }))
        .into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// `GET /command/events`: the viewer's case events as they happen.
pub async fn events(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let caller = match gateway.command.staff(&headers) {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    let Some(live) = &gateway.command.live else {
        return Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: "no_live_updates",
            message: "this gateway has no NATS connection (NATS_URL), so no live updates"
                .to_owned(),
        }
        .into_response();
    };
    Sse::new(stream_for(caller, live.subscribe()))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn stream_for(
    caller: Caller,
    receiver: broadcast::Receiver<LiveEvent>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let opened = futures::stream::once(async { Ok(Event::default().event("open").data("{}")) });
    let events = tokio_stream::wrappers::BroadcastStream::new(receiver).filter_map(move |item| {
        let event = match item {
            Ok(event) if event.reaches(&caller) => Event::default()
                .event("case")
                .json_data(&event)
                .ok()
                .map(Ok),
            Ok(_) => None,
            // The page fell behind: it reloads everything.
            Err(_) => Some(Ok(Event::default().event("lagged").data("{}"))),
        };
        std::future::ready(event)
    });
    opened.chain(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(jurisdiction: &str) -> Caller {
        Caller {
            subject: "dispatcher".into(),
            roles: [Role::SubdistrictDispatcher].into_iter().collect(),
            organisation: None,
            jurisdictions: vec![jurisdiction.parse().expect("a jurisdiction")],
        }
    }

    fn event(block_code: &str, subdistrict_code: &str) -> LiveEvent {
        LiveEvent {
            kind: "dispatched".into(),
            case: "cases/1".into(),
            block_code: block_code.into(),
            subdistrict_code: subdistrict_code.into(),
        }
    }

    #[test]
    fn a_viewer_hears_only_of_cases_in_their_own_divisions() {
        let dispatcher = caller("subdistricts/430302001");
        assert!(event("430302001004017", "430302001").reaches(&dispatcher));
        assert!(event("", "430302001").reaches(&dispatcher));
        assert!(!event("430302002001001", "430302002").reaches(&dispatcher));
        // Not yet placed anywhere: only the district sees it.
        assert!(!event("", "").reaches(&dispatcher));
        assert!(event("", "430302002").reaches(&caller("districts/430302")));
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for text in [INDEX_HTML, APP_JS, APP_CSS] {
            // The SVG namespace is a name, not an address the browser fetches.
            let text = text.replace("http://www.w3.org/2000/svg", "");
            assert!(!text.contains("http://"), "an absolute http URL");
            assert!(!text.contains("https://"), "an absolute https URL");
            assert!(!text.contains("//cdn"), "a CDN");
        }
    }
}
