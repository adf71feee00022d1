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
//! - `GET /command/events`: server-sent events, one per case event the viewer
//!   may hear of, fed by a live NATS subscription to the cases stream as a
//!   read-only user. An event names the case, its block and what happened —
//!   never personal data; the page then asks the API, under the viewer's own
//!   token, for what changed.
//!
//! Who hears of an event follows the cases service's scopes: staff who see
//! cases by where they lie (administrators, dispatchers, block teams) hear of
//! the cases in their divisions; department officers and federation staff,
//! who see the cases their organisation holds, hear only of those — the
//! gateway remembers which organisation holds each case from the events that
//! name an assignee ([`Holders`]).
//!
//! People log in by pasting a token or, with `COMMAND_OIDC_CLIENT_ID` set,
//! through the OpenID Connect provider ([`login`]: authorization code with
//! PKCE); both end in the same token checked by the same [`Verifier`].

pub mod login;

use std::collections::HashMap;
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
use crate::command::login::{Login, LoginConfig};

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
/// anything from elsewhere cannot leak a token there either. A configured
/// tile layer adds its origin to `img-src` only ([`TileLayer::policy`]).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// A map tile layer drawn under the block polygons where the network allows
/// one (`COMMAND_TILE_URL`): an XYZ template in Web Mercator, e.g.
/// `https://tiles.example.gov.cn/{z}/{x}/{y}.png`. Off by default — the
/// polygons are the map and nothing leaves the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileLayer {
    /// The template, with `{z}`, `{x}` and `{y}`.
    pub template: String,
    /// `scheme://host[:port]`, the one origin the page may load images from.
    pub origin: String,
}

impl std::str::FromStr for TileLayer {
    type Err = String;

    fn from_str(template: &str) -> Result<Self, Self::Err> {
        let rest = template
            .strip_prefix("https://")
            .map(|rest| ("https://", rest))
            .or_else(|| {
                template
                    .strip_prefix("http://")
                    .map(|rest| ("http://", rest))
            });
        let Some((scheme, rest)) = rest else {
            return Err("must start with https:// (or http://)".to_owned());
        };
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains(['{', '}', '?', '#', '@', ' ', '\'', '"', ';']) {
            return Err("must name a host before the first /".to_owned());
        }
        for placeholder in ["{z}", "{x}", "{y}"] {
            if !template.contains(placeholder) {
                return Err(format!("must contain {placeholder}"));
            }
        }
        if template.contains(['\'', '"', ' ', ';', '<', '>']) {
            return Err("must be a plain URL".to_owned());
        }
        Ok(Self {
            template: template.to_owned(),
            origin: format!("{scheme}{host}"),
        })
    }
}

impl TileLayer {
    /// The page's Content-Security-Policy with the tile origin allowed for
    /// images (and nothing else).
    fn policy(&self) -> String {
        CONTENT_SECURITY_POLICY.replace(
            "img-src 'self' data:;",
            &format!("img-src 'self' data: {};", self.origin),
        )
    }
}

/// What the command centre reads from the environment.
pub struct CommandConfig {
    /// Verifies the tokens people paste (the platform's JWKS, audience
    /// `flatgov.gateway`); without `AUTH_JWKS_FILE` the page opens for no one
    /// (it says why) and the rest of the gateway is unaffected.
    pub auth: Option<AuthConfig>,
    /// Where case events come from; without `NATS_URL` the page works without
    /// live updates (it says so).
    pub bus: Option<BusConfig>,
    /// Map tiles under the polygons; `None` (the default) draws none.
    pub tiles: Option<TileLayer>,
    /// The tile provider's credit line, shown under the map.
    pub tile_attribution: String,
    /// Login through the OpenID Connect provider; `None` (no
    /// `COMMAND_OIDC_CLIENT_ID`) hides the page's login button.
    pub login: Option<LoginConfig>,
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
        let tiles: Option<TileLayer> = env.maybe(
            "COMMAND_TILE_URL",
            "an XYZ tile URL template drawn under the command centre's map, \
             e.g. https://tiles.example.gov.cn/{z}/{x}/{y}.png (unset: no tiles)",
        )?;
        let tile_attribution = env.optional(
            "COMMAND_TILE_ATTRIBUTION",
            String::new(),
            "the tile provider's credit line, shown under the map",
        )?;
        let login = LoginConfig::from_env(env)?;
        if login.is_some() && jwks.is_none() {
            return Err(ConfigError::Missing {
                name: "AUTH_JWKS_FILE",
                expected: "the platform's key set: the command centre's login \
                           (COMMAND_OIDC_CLIENT_ID) checks tokens with it",
            });
        }
        Ok(Self {
            tiles,
            tile_attribution,
            login,
            auth: jwks
                .map(|_| AuthConfig::from_env(env, "gateway"))
                .transpose()?,
            bus: nats.map(|_| BusConfig::from_env(env)).transpose()?,
        })
    }
}

/// Roles that see cases anywhere in their jurisdictions (the cases
/// service's jurisdiction scope).
const JURISDICTION_ROLES: [Role; 2] = [Role::DistrictAdmin, Role::SubdistrictDispatcher];

/// Roles that see the cases of their own blocks only (the cases service's
/// own-block scope): only their block-level claims count, whatever wider
/// claim their token carries.
const BLOCK_TEAM_ROLES: [Role; 3] = [Role::Governor, Role::Assistant, Role::Supervisor];

/// Roles that see the cases their organisation holds (the cases service's
/// organisation scope), whatever their district claim says.
const ORGANISATION_ROLES: [Role; 2] = [Role::DepartmentOfficer, Role::FederationStaff];

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
    /// The department or member organisation holding the case, as far as the
    /// gateway has heard; decides which officers hear of it, never sent.
    #[serde(skip)]
    pub holder: Option<String>,
}

impl LiveEvent {
    /// Reads the event's case, block and subdistrict from its payload (the
    /// `transition` every case event carries, or its own fields), and the
    /// assignee the event names, if it names one.
    fn from_envelope(envelope: &Envelope) -> Option<(Self, Option<String>)> {
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
        // Only the event's own `assignee` (dispatched, accepted, reassigned,
        // escalated, rehomed, overdue): a transition never names one.
        let assignee = message
            .get_field_by_name("assignee")
            .and_then(|value| value.as_str().map(str::to_owned))
            .filter(|value| !value.is_empty());
        let event = Self {
            kind,
            block_code: text("block_code"),
            subdistrict_code: text("subdistrict_code"),
            case,
            holder: None,
        };
        Some((event, assignee))
    }

    /// True when `caller` may hear of it: those who see cases by place, for
    /// the cases in their divisions; officers of an organisation, for the
    /// cases it holds; federation staff also for a referral, which is offered
    /// to every member organisation until one accepts it.
    pub fn reaches(&self, caller: &Caller) -> bool {
        let division = if self.block_code.is_empty() {
            &self.subdistrict_code
        } else {
            &self.block_code
        };
        // An event whose code does not parse reaches no one.
        let code = flatgov_auth::DivisionCode::parse(division).ok();
        let in_divisions = || code.is_some_and(|code| caller.covers(&code));
        let in_own_blocks = || {
            code.is_some_and(|code| {
                caller.jurisdictions.iter().any(|claim| {
                    claim.level() == flatgov_auth::DivisionLevel::Block && claim.covers(&code)
                })
            })
        };
        if caller.has_any_role(&JURISDICTION_ROLES) && in_divisions() {
            return true;
        }
        if caller.has_any_role(&BLOCK_TEAM_ROLES) && in_own_blocks() {
            return true;
        }
        if !caller.has_any_role(&ORGANISATION_ROLES) {
            return false;
        }
        let held = caller
            .organisation
            .as_deref()
            .is_some_and(|own| self.holder.as_deref() == Some(own));
        let offered = self.kind == "referred" && caller.has_role(Role::FederationStaff);
        held || (offered && in_divisions())
    }
}

/// How many cases' holders the gateway remembers; past it the memory starts
/// again (an officer then misses live updates of older cases until their
/// next assignment — the page still shows them when it reloads).
const HOLDERS_REMEMBERED: usize = 100_000;

/// Which organisation holds each open case, learnt from the events that name
/// an assignee: `departments/{code}` or `organisations/{code}`. Events that
/// name none (resolved, verified, closed, …) take the last one heard. A
/// gateway that starts later has heard nothing of older assignments.
#[derive(Debug, Default)]
pub struct Holders {
    by_case: HashMap<String, String>,
}

impl Holders {
    /// Sets `event.holder` from `assignee` (the event's own, if it names one)
    /// or from what was heard before.
    pub fn fill(&mut self, event: &mut LiveEvent, assignee: Option<&str>) {
        if let Some(assignee) = assignee {
            match organisation_of(assignee) {
                Some(code) => {
                    if self.by_case.len() >= HOLDERS_REMEMBERED
                        && !self.by_case.contains_key(&event.case)
                    {
                        self.by_case.clear();
                    }
                    self.by_case.insert(event.case.clone(), code.to_owned());
                }
                // A person or a subdistrict: no organisation holds it now.
                None => {
                    self.by_case.remove(&event.case);
                }
            }
        }
        event.holder = self.by_case.get(&event.case).cloned();
        if event.kind == "closed" {
            self.by_case.remove(&event.case);
        }
    }
}

/// The organisation code in an assignee's resource name, if it is one.
fn organisation_of(assignee: &str) -> Option<&str> {
    ["departments/", "organisations/"]
        .into_iter()
        .find_map(|prefix| assignee.strip_prefix(prefix))
        .filter(|code| !code.is_empty() && !code.contains('/'))
}

/// The command centre's shared state.
pub struct CommandCentre {
    verifier: Option<Verifier>,
    /// Login through the OpenID Connect provider, if configured.
    login: Option<Login>,
    /// The tile layer the page draws, if configured.
    tiles: Option<TileLayer>,
    tile_attribution: String,
    /// The page's Content-Security-Policy (the tile origin added, if any).
    policy: HeaderValue,
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
        let login = match config.login {
            Some(login) => Some(
                Login::connect(login)
                    .await
                    .map_err(|error| format!("the identity provider's login: {error}"))?,
            ),
            None => None,
        };
        let policy = match &config.tiles {
            Some(tiles) => HeaderValue::from_str(&tiles.policy())
                .map_err(|_| "COMMAND_TILE_URL cannot go into a header".to_owned())?,
            None => HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        };
        Ok(Self {
            verifier,
            login,
            live,
            tiles: config.tiles,
            tile_attribution: config.tile_attribution,
            policy,
        })
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
        let mut holders = Holders::default();
        while let Some(message) = subscription.next().await {
            let Some(canonical) = bus.canonical(message.subject.as_str()) else {
                continue;
            };
            match Envelope::parse(canonical, message.headers.as_ref(), message.payload.clone()) {
                Ok(envelope) => {
                    if let Some((mut event, assignee)) = LiveEvent::from_envelope(&envelope) {
                        holders.fill(&mut event, assignee.as_deref());
                        // No page listening is not an error.
                        let _ = sender.send(event);
                    }
                }
                Err(error) => tracing::debug!(%error, canonical, "an unreadable case event"),
            }
        }
    }
}

fn asset(policy: &HeaderValue, content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, policy.clone()),
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
pub async fn index(State(gateway): State<Arc<Gateway>>) -> Response {
    asset(
        &gateway.command.policy,
        "text/html; charset=utf-8",
        INDEX_HTML,
    )
}

/// `GET /command/app.js`.
pub async fn script(State(gateway): State<Arc<Gateway>>) -> Response {
    asset(
        &gateway.command.policy,
        "text/javascript; charset=utf-8",
        APP_JS,
    )
}

/// `GET /command/app.css`.
pub async fn styles(State(gateway): State<Arc<Gateway>>) -> Response {
    asset(&gateway.command.policy, "text/css; charset=utf-8", APP_CSS)
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
            "tiles": gateway.command.tiles.as_ref().map(|tiles| serde_json::json!({
                "url": tiles.template,
                "attribution": gateway.command.tile_attribution,
            })),
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

    /// A department officer (or federation staff) as the demo's tokens make
    /// them: a district-wide claim and their organisation.
    fn member_of(role: Role, organisation: &str) -> Caller {
        Caller {
            subject: format!("officer-{organisation}"),
            roles: [role].into_iter().collect(),
            organisation: Some(organisation.into()),
            jurisdictions: vec!["districts/430302".parse().expect("a jurisdiction")],
        }
    }

    fn event(block_code: &str, subdistrict_code: &str) -> LiveEvent {
        LiveEvent {
            kind: "dispatched".into(),
            case: "cases/1".into(),
            block_code: block_code.into(),
            subdistrict_code: subdistrict_code.into(),
            holder: None,
        }
    }

    fn heard(holders: &mut Holders, kind: &str, assignee: Option<&str>) -> LiveEvent {
        let mut live = LiveEvent {
            kind: kind.into(),
            ..event("430302001004017", "430302001")
        };
        holders.fill(&mut live, assignee);
        live
    }

    #[test]
    fn a_block_team_member_hears_only_of_their_own_blocks_even_with_a_wider_claim() {
        let team_member = |claims: &[&str]| Caller {
            subject: "gov-017".into(),
            roles: [Role::Governor].into_iter().collect(),
            organisation: None,
            jurisdictions: claims
                .iter()
                .map(|claim| claim.parse().expect("a jurisdiction"))
                .collect(),
        };
        let own_block = event("430302001004017", "430302001");
        let neighbour = event("430302001004018", "430302001");
        let governor = team_member(&["blocks/430302001004017", "subdistricts/430302001"]);
        assert!(own_block.reaches(&governor));
        assert!(
            !neighbour.reaches(&governor),
            "the subdistrict claim does not widen a governor's own-block scope"
        );
        assert!(!own_block.reaches(&team_member(&["subdistricts/430302001"])));
        // A dispatcher with the same subdistrict claim hears both.
        assert!(neighbour.reaches(&caller("subdistricts/430302001")));
    }

    #[test]
    fn a_department_officer_hears_only_of_the_cases_their_department_holds() {
        let officer = member_of(Role::DepartmentOfficer, "urban_management");
        let other = member_of(Role::DepartmentOfficer, "market_supervision");
        let mut holders = Holders::default();

        let front_line = heard(&mut holders, "dispatched", Some("staff/gov-017"));
        assert!(
            !front_line.reaches(&officer),
            "a block's case is not theirs"
        );

        let whistled = heard(
            &mut holders,
            "escalated",
            Some("departments/urban_management"),
        );
        assert!(whistled.reaches(&officer));
        assert!(!whistled.reaches(&other));
        // Later events that name no assignee follow the last one heard.
        let resolved = heard(&mut holders, "resolved", None);
        assert!(resolved.reaches(&officer));
        assert!(!resolved.reaches(&other));

        let handed_on = heard(
            &mut holders,
            "reassigned",
            Some("departments/market_supervision"),
        );
        assert!(!handed_on.reaches(&officer), "no longer theirs");
        assert!(handed_on.reaches(&other));

        let closed = heard(&mut holders, "closed", None);
        assert!(closed.reaches(&other), "the holder hears it closed");
        assert!(
            !heard(&mut holders, "rated", None).reaches(&other),
            "a closed case is forgotten"
        );
    }

    #[test]
    fn federation_staff_hear_of_referrals_and_of_what_their_organisation_holds() {
        let staff = member_of(Role::FederationStaff, "womens_federation");
        let mut holders = Holders::default();
        assert!(heard(&mut holders, "referred", Some("staff/gov-017")).reaches(&staff));
        assert!(!heard(&mut holders, "accepted", Some("staff/gov-017")).reaches(&staff));
        assert!(
            heard(
                &mut holders,
                "reassigned",
                Some("organisations/womens_federation")
            )
            .reaches(&staff)
        );
    }

    #[test]
    fn the_holder_is_never_sent_to_the_page() {
        let mut holders = Holders::default();
        let live = heard(
            &mut holders,
            "dispatched",
            Some("departments/urban_management"),
        );
        let json = serde_json::to_string(&live).expect("json");
        assert!(!json.contains("urban_management"), "{json}");
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
    fn a_tile_layer_is_an_xyz_template_whose_origin_alone_is_allowed_for_images() {
        let tiles: TileLayer = "https://tiles.example.gov.cn:8443/yuhu/{z}/{x}/{y}.png"
            .parse()
            .expect("a template");
        assert_eq!(tiles.origin, "https://tiles.example.gov.cn:8443");
        let policy = tiles.policy();
        assert!(
            policy.contains("img-src 'self' data: https://tiles.example.gov.cn:8443;"),
            "{policy}"
        );
        assert!(policy.contains("connect-src 'self';"), "{policy}");
        for refused in [
            "tiles.example.gov.cn/{z}/{x}/{y}.png",
            "https://tiles.example.gov.cn/{z}/{x}.png",
            "https:///{z}/{x}/{y}.png",
            "https://tiles.example.gov.cn/{z}/{x}/{y}.png; script-src *",
            "javascript:{z}{x}{y}",
        ] {
            assert!(refused.parse::<TileLayer>().is_err(), "{refused}");
        }
    }

    #[test]
    fn without_a_tile_url_the_map_has_no_tiles() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let config = CommandConfig::from_env(&env).expect("config");
        assert_eq!(config.tiles, None);
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
