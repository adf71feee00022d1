//! Logging in to the command centre through the OpenID Connect provider: the
//! authorization code flow with PKCE (S256), the gateway acting as a public
//! client (RFC 6749 §4.1, RFC 7636, OpenID Connect Core §3.1).
//!
//! 1. `GET /command/oidc/start` makes a fresh `state`, `nonce` and PKCE
//!    verifier, keeps them in a short-lived HttpOnly cookie of this browser
//!    (`__Host-flatgov-login`), and sends the browser to the provider's
//!    authorization endpoint with the `code_challenge`.
//! 2. The provider sends the browser back to `GET /command/oidc/callback`
//!    with `code` and `state`. The gateway refuses a `state` that is not the
//!    cookie's (a forged or tampered callback), a callback with no login
//!    pending in this browser (one already completed — a replayed code — or
//!    expired), and clears the cookie whatever happens: a login completes once.
//! 3. It exchanges the code at the token endpoint with the verifier; the
//!    provider refuses a used code or a verifier that is not this login's.
//! 4. It checks the ID token (the provider's key, issuer, client, times,
//!    `nonce`) and the access token with the same [`Verifier`] that checks a
//!    pasted token, staff roles included, then hands the access token to the
//!    page in a one-minute HttpOnly cookie (`__Host-flatgov-handoff`) and
//!    sends the browser to `/command/?login=oidc`.
//! 5. The page collects it once with `POST /command/oidc/session` (the
//!    answer clears the cookie) and keeps it where it keeps a pasted token.
//!
//! Why cookies and not the gateway's memory: several gateway replicas serve
//! one district, and the callback may reach another replica than the start.
//! No token ever goes into a URL, and the page never keeps one in
//! `localStorage`. Failures send the browser to `/command/?login_error=<reason>`
//! — a reason code, nothing secret — and the page says what went wrong.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use flatgov_auth::Verifier;
use flatgov_config::{ConfigError, Env};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::Value;
use sha2::Digest as _;

use super::{Refusal, STAFF_ROLES};
use crate::Gateway;

/// The path the provider sends the browser back to; the configured redirect
/// URL must end with it.
pub const CALLBACK_PATH: &str = "/command/oidc/callback";

/// How long a started login may take at the provider.
const LOGIN_SECONDS: u64 = 600;

/// How long the page has to collect its token after the callback.
const HANDOFF_SECONDS: u64 = 60;

/// What the command centre's login through the provider needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginConfig {
    /// The provider's issuer, the same `AUTH_OIDC_ISSUER` whose tokens the
    /// verifier accepts.
    pub issuer: String,
    /// The command centre's client id at the provider.
    pub client_id: String,
    /// The callback URL as the browser reaches it, registered at the provider.
    pub redirect_url: String,
    /// The scopes asked for; `openid` is always among them.
    pub scopes: String,
}

impl LoginConfig {
    /// `None` unless `COMMAND_OIDC_CLIENT_ID` is set; then the issuer and the
    /// redirect URL are required.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(client_id) = env.maybe::<String>(
            "COMMAND_OIDC_CLIENT_ID",
            "the command centre's client id at the OpenID Connect provider (unset: no login button)",
        )?
        else {
            return Ok(None);
        };
        let issuer: Option<String> = env.maybe(
            "AUTH_OIDC_ISSUER",
            "the OpenID Connect provider's issuer URL, e.g. https://sso.example.gov.cn/realms/yuhu",
        )?;
        let Some(issuer) = issuer else {
            return Err(ConfigError::Missing {
                name: "AUTH_OIDC_ISSUER",
                expected: "the provider's issuer URL: COMMAND_OIDC_CLIENT_ID logs in through it",
            });
        };
        let redirect_url: String = env.required(
            "COMMAND_OIDC_REDIRECT_URL",
            "the command centre's callback URL as browsers reach it, registered at the provider, \
             e.g. https://flatgov.example.gov.cn/command/oidc/callback",
        )?;
        let well_formed = (redirect_url.starts_with("https://")
            || redirect_url.starts_with("http://"))
            && redirect_url.ends_with(CALLBACK_PATH)
            && !redirect_url.contains(['?', '#', ' ', '"', '\'']);
        if !well_formed {
            return Err(ConfigError::Malformed {
                name: "COMMAND_OIDC_REDIRECT_URL",
                value: redirect_url,
                reason: format!("must be an http(s) URL ending in {CALLBACK_PATH}"),
                expected: "e.g. https://flatgov.example.gov.cn/command/oidc/callback",
            });
        }
        let scopes: String = env.optional(
            "COMMAND_OIDC_SCOPES",
            "openid".to_owned(),
            "the scopes the command centre asks the provider for, space-separated",
        )?;
        let mut asked: Vec<&str> = vec!["openid"];
        asked.extend(scopes.split_whitespace().filter(|scope| *scope != "openid"));
        let scopes = asked.join(" ");
        Ok(Some(Self {
            issuer,
            client_id,
            redirect_url,
            scopes,
        }))
    }

    /// Cookies with the `__Host-` prefix (Secure, whole site, this host only)
    /// where the browser reaches the gateway over HTTPS.
    fn secure(&self) -> bool {
        self.redirect_url.starts_with("https://")
    }
}

/// The provider's endpoints, from its discovery document.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: String,
    token: String,
}

/// The login through the provider, ready to use.
pub struct Login {
    config: LoginConfig,
    endpoints: Endpoints,
    http: reqwest::Client,
}

impl Login {
    /// Reads the provider's discovery document (failing start-up naming the
    /// provider when it cannot).
    pub async fn connect(config: LoginConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| error.to_string())?;
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let answer = http
            .get(&discovery_url)
            .send()
            .await
            .map_err(|error| format!("{discovery_url}: {error}"))?;
        if !answer.status().is_success() {
            return Err(format!("{discovery_url} answered {}", answer.status()));
        }
        let discovery: Value = serde_json::from_str(
            &answer
                .text()
                .await
                .map_err(|error| format!("{discovery_url}: {error}"))?,
        )
        .map_err(|error| format!("{discovery_url}: {error}"))?;
        let endpoint = |name: &str| {
            discovery
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("{discovery_url} names no {name}"))
        };
        if discovery.get("issuer").and_then(Value::as_str) != Some(config.issuer.as_str()) {
            return Err(format!(
                "{discovery_url} names another issuer than AUTH_OIDC_ISSUER"
            ));
        }
        let supports_s256 = discovery
            .get("code_challenge_methods_supported")
            .and_then(Value::as_array)
            .is_none_or(|methods| methods.iter().any(|method| method == "S256"));
        if !supports_s256 {
            return Err(format!(
                "{discovery_url}: the provider does not support PKCE S256"
            ));
        }
        let endpoints = Endpoints {
            authorization: endpoint("authorization_endpoint")?,
            token: endpoint("token_endpoint")?,
        };
        Ok(Self {
            config,
            endpoints,
            http,
        })
    }

    fn login_cookie(&self) -> &'static str {
        if self.config.secure() {
            "__Host-flatgov-login"
        } else {
            "flatgov-login"
        }
    }

    fn handoff_cookie(&self) -> &'static str {
        if self.config.secure() {
            "__Host-flatgov-handoff"
        } else {
            "flatgov-handoff"
        }
    }

    /// `Set-Cookie` for `name`, HttpOnly, SameSite=Lax (sent when the
    /// provider sends the browser back), whole site.
    fn set_cookie(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.config.secure() { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("flatgov-invalid=; Max-Age=0"))
    }

    /// The authorization URL for a pending login.
    fn authorization_url(&self, pending: &PendingLogin) -> String {
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", self.config.redirect_url.as_str()),
            ("scope", self.config.scopes.as_str()),
            ("state", pending.state.as_str()),
            ("nonce", pending.nonce.as_str()),
            ("code_challenge", pending.challenge().as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap_or_default();
        let separator = if self.endpoints.authorization.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{separator}{query}", self.endpoints.authorization)
    }

    /// Exchanges `code` at the token endpoint with the login's verifier.
    async fn exchange(&self, code: &str, verifier: &str) -> Result<Tokens, LoginFailure> {
        let answer = self
            .http
            .post(&self.endpoints.token)
            .header(header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.config.redirect_url.as_str()),
                ("client_id", self.config.client_id.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, "the identity provider's token endpoint is unreachable");
                LoginFailure::ProviderUnreachable
            })?;
        let status = answer.status();
        let body: Value = answer
            .text()
            .await
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null);
        if !status.is_success() {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("");
            let description = body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("");
            tracing::info!(%status, error, description, "the identity provider refused the code");
            return Err(if error == "invalid_grant" {
                LoginFailure::CodeRefused
            } else {
                LoginFailure::Provider(error_code(error))
            });
        }
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        match (text("access_token"), text("id_token")) {
            (Some(access_token), Some(id_token)) => Ok(Tokens {
                access_token,
                id_token,
            }),
            _ => {
                tracing::warn!("the identity provider's token answer lacks an access or ID token");
                Err(LoginFailure::TokenInvalid)
            }
        }
    }
}

/// What the token endpoint answered.
struct Tokens {
    access_token: String,
    id_token: String,
}

/// A login started in this browser and not yet completed, as its cookie holds
/// it: `state.nonce.verifier`, each 32 random bytes in base64url.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingLogin {
    state: String,
    nonce: String,
    verifier: String,
}

impl PendingLogin {
    fn new() -> Self {
        let random =
            || base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        Self {
            state: random(),
            nonce: random(),
            verifier: random(),
        }
    }

    /// BASE64URL(SHA256(verifier)), RFC 7636 §4.2.
    fn challenge(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(self.verifier.as_bytes()))
    }

    fn to_cookie(&self) -> String {
        format!("{}.{}.{}", self.state, self.nonce, self.verifier)
    }

    fn from_cookie(value: &str) -> Option<Self> {
        let mut parts = value.split('.');
        let (state, nonce, verifier) = (parts.next()?, parts.next()?, parts.next()?);
        let well_formed = |part: &str| {
            (43..=128).contains(&part.len())
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        };
        if parts.next().is_some() || ![state, nonce, verifier].into_iter().all(well_formed) {
            return None;
        }
        Some(Self {
            state: state.to_owned(),
            nonce: nonce.to_owned(),
            verifier: verifier.to_owned(),
        })
    }
}

/// Why a login through the provider failed, as the page is told
/// (`/command/?login_error=<reason>`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum LoginFailure {
    /// The callback's `state` is not the one this browser's login started with.
    StateMismatch,
    /// No login is pending in this browser: completed already (a replayed
    /// callback), expired, or started elsewhere.
    NotPending,
    /// The provider refused the code: used already, expired, or not issued for
    /// this login's PKCE verifier.
    CodeRefused,
    /// The callback names another issuer (RFC 9207).
    WrongIssuer,
    /// The ID token or the access token did not pass the checks.
    TokenInvalid,
    /// The person is not staff.
    NotStaff,
    /// The provider could not be reached.
    ProviderUnreachable,
    /// The provider reported an error (its OAuth error code).
    Provider(String),
}

impl LoginFailure {
    fn reason(&self) -> String {
        match self {
            Self::StateMismatch => "state_mismatch".to_owned(),
            Self::NotPending => "not_pending".to_owned(),
            Self::CodeRefused => "code_refused".to_owned(),
            Self::WrongIssuer => "wrong_issuer".to_owned(),
            Self::TokenInvalid => "token_invalid".to_owned(),
            Self::NotStaff => "not_staff".to_owned(),
            Self::ProviderUnreachable => "provider_unreachable".to_owned(),
            Self::Provider(code) => format!("provider:{code}"),
        }
    }
}

/// An OAuth error code as the provider sent it, if it is one (`access_denied`),
/// else `error`: nothing else goes back into a URL.
fn error_code(error: &str) -> String {
    let plain = !error.is_empty()
        && error.len() <= 40
        && error
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte == b'_');
    if plain {
        error.to_owned()
    } else {
        "error".to_owned()
    }
}

/// The value of cookie `name` in `headers`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn see_other(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie.clone());
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn not_configured() -> Response {
    Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        reason: "not_configured",
        message: "this gateway has no login through an identity provider \
                  (COMMAND_OIDC_CLIENT_ID); paste a token instead"
            .to_owned(),
    }
    .into_response()
}

/// `GET /command/oidc`: whether the page offers the login button.
pub async fn options(State(gateway): State<Arc<Gateway>>) -> Response {
    let enabled = gateway.command.login.is_some() && gateway.command.verifier.is_some();
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::json!({ "enabled": enabled })),
    )
        .into_response()
}

/// `GET /command/oidc/start`: to the provider, with a fresh pending login.
pub async fn start(State(gateway): State<Arc<Gateway>>) -> Response {
    let Some(login) = &gateway.command.login else {
        return not_configured();
    };
    let pending = PendingLogin::new();
    see_other(
        &login.authorization_url(&pending),
        &[login.set_cookie(login.login_cookie(), &pending.to_cookie(), LOGIN_SECONDS)],
    )
}

/// The callback's query.
#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /command/oidc/callback`: completes the login, or says why not.
pub async fn callback(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(login) = &gateway.command.login else {
        return not_configured();
    };
    // A login completes once, whatever happens here.
    let clear_pending = login.set_cookie(login.login_cookie(), "", 0);
    match complete(&gateway, login, &headers, &callback).await {
        Ok(access_token) => see_other(
            "/command/?login=oidc",
            &[
                clear_pending,
                login.set_cookie(login.handoff_cookie(), &access_token, HANDOFF_SECONDS),
            ],
        ),
        Err(failure) => {
            tracing::info!(reason = %failure.reason(), "a command centre login was refused");
            let location = format!(
                "/command/?{}",
                serde_urlencoded::to_string([("login_error", failure.reason())])
                    .unwrap_or_default()
            );
            see_other(&location, &[clear_pending])
        }
    }
}

async fn complete(
    gateway: &Gateway,
    login: &Login,
    headers: &HeaderMap,
    callback: &Callback,
) -> Result<String, LoginFailure> {
    let pending = cookie(headers, login.login_cookie())
        .and_then(PendingLogin::from_cookie)
        .ok_or(LoginFailure::NotPending)?;
    let state_matches = callback.state.as_deref().is_some_and(|state| {
        state.len() == pending.state.len()
            && state
                .bytes()
                .zip(pending.state.bytes())
                .fold(0_u8, |difference, (a, b)| difference | (a ^ b))
                == 0
    });
    if !state_matches {
        return Err(LoginFailure::StateMismatch);
    }
    if let Some(iss) = &callback.iss
        && iss != &login.config.issuer
    {
        return Err(LoginFailure::WrongIssuer);
    }
    if let Some(error) = &callback.error {
        return Err(LoginFailure::Provider(error_code(error)));
    }
    let code = callback
        .code
        .as_deref()
        .filter(|code| !code.is_empty())
        .ok_or_else(|| LoginFailure::Provider("no_code".to_owned()))?;
    let tokens = login.exchange(code, &pending.verifier).await?;
    let verifier: &Verifier = gateway
        .command
        .verifier
        .as_ref()
        .ok_or(LoginFailure::ProviderUnreachable)?;
    verifier
        .verify_id_token(&tokens.id_token, &login.config.client_id, &pending.nonce)
        .map_err(|error| {
            tracing::warn!(%error, "the identity provider's ID token was refused");
            LoginFailure::TokenInvalid
        })?;
    let caller = verifier.verify(&tokens.access_token).map_err(|error| {
        tracing::warn!(%error, "the identity provider's access token was refused");
        LoginFailure::TokenInvalid
    })?;
    if !caller.has_any_role(&STAFF_ROLES) {
        return Err(LoginFailure::NotStaff);
    }
    Ok(tokens.access_token)
}

/// `POST /command/oidc/session`: the token of the login just completed, once.
pub async fn session(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let Some(login) = &gateway.command.login else {
        return not_configured();
    };
    let Some(token) = cookie(&headers, login.handoff_cookie()).filter(|token| !token.is_empty())
    else {
        return Refusal {
            status: StatusCode::UNAUTHORIZED,
            reason: "no_login",
            message: "no login through the identity provider is waiting to be collected".to_owned(),
        }
        .into_response();
    };
    let mut response = (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::json!({ "token": token })),
    )
        .into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        login.set_cookie(login.handoff_cookie(), "", 0),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(name, value)| (*name, *value)))
    }

    #[test]
    fn without_a_client_id_there_is_no_login_button() {
        assert_eq!(LoginConfig::from_env(&env(&[])).expect("config"), None);
    }

    #[test]
    fn a_client_id_needs_the_issuer_and_a_callback_url_each_named_when_missing() {
        let error = LoginConfig::from_env(&env(&[("COMMAND_OIDC_CLIENT_ID", "flatgov-command")]))
            .expect_err("no issuer");
        assert!(error.to_string().contains("AUTH_OIDC_ISSUER"), "{error}");
        let error = LoginConfig::from_env(&env(&[
            ("COMMAND_OIDC_CLIENT_ID", "flatgov-command"),
            ("AUTH_OIDC_ISSUER", "https://sso.example.gov.cn/realms/yuhu"),
        ]))
        .expect_err("no redirect");
        assert!(
            error.to_string().contains("COMMAND_OIDC_REDIRECT_URL"),
            "{error}"
        );
        let error = LoginConfig::from_env(&env(&[
            ("COMMAND_OIDC_CLIENT_ID", "flatgov-command"),
            ("AUTH_OIDC_ISSUER", "https://sso.example.gov.cn/realms/yuhu"),
            (
                "COMMAND_OIDC_REDIRECT_URL",
                "https://flatgov.example.gov.cn/elsewhere",
            ),
        ]))
        .expect_err("not the callback");
        assert!(error.to_string().contains(CALLBACK_PATH), "{error}");
    }

    #[test]
    fn openid_is_always_asked_for() {
        let config = LoginConfig::from_env(&env(&[
            ("COMMAND_OIDC_CLIENT_ID", "flatgov-command"),
            ("AUTH_OIDC_ISSUER", "https://sso.example.gov.cn/realms/yuhu"),
            (
                "COMMAND_OIDC_REDIRECT_URL",
                "https://flatgov.example.gov.cn/command/oidc/callback",
            ),
            ("COMMAND_OIDC_SCOPES", "profile  roles"),
        ]))
        .expect("config")
        .expect("configured");
        assert_eq!(config.scopes, "openid profile roles");
        assert!(config.secure());
    }

    #[test]
    fn the_challenge_is_the_rfc_7636_s256_of_the_verifier() {
        // RFC 7636, Appendix B.
        let pending = PendingLogin {
            state: String::new(),
            nonce: String::new(),
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned(),
        };
        assert_eq!(
            pending.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_pending_login_survives_its_cookie_and_a_tampered_cookie_does_not() {
        let pending = PendingLogin::new();
        assert_ne!(pending.state, pending.nonce);
        assert_eq!(
            PendingLogin::from_cookie(&pending.to_cookie()),
            Some(pending.clone())
        );
        for tampered in [
            String::new(),
            format!("{}.{}", pending.state, pending.nonce),
            format!("{}.x", pending.to_cookie()),
            pending.to_cookie().replacen('.', ".<script>", 1),
        ] {
            assert_eq!(PendingLogin::from_cookie(&tampered), None, "{tampered}");
        }
    }

    #[test]
    fn only_a_plain_oauth_error_code_goes_back_to_the_page() {
        assert_eq!(error_code("access_denied"), "access_denied");
        assert_eq!(error_code("<b>x</b>"), "error");
        assert_eq!(error_code(""), "error");
    }

    #[test]
    fn cookies_are_found_by_name_among_several() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; flatgov-login=abc"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, "flatgov-login"), Some("abc"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "login"), None);
    }
}
