//! Checking bearer tokens: the platform's own (keys chosen by `kid` from a JWKS file
//! that is reloaded when it changes) and, optionally, people's tokens from the
//! government's OpenID Connect provider (keys from its JWKS, claims mapped).
//!
//! A token proves a caller only when: its key is trusted and its signature holds;
//! its issuer and audience are the expected ones; `exp`, `nbf` and `iat` hold (with
//! 30 s leeway) and it lives no longer than allowed (short for services, a working
//! day for people); and its key may sign what it claims — a service's key signs only
//! that service's own `service` token, no other key signs the `service` role.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flatgov_config::{ConfigError, Env};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::keys::{Binding, KeySet};
use crate::oidc::{OidcConfig, OidcKeys};
use crate::{AuthError, Caller, Jurisdiction, Role};

/// How long a token may be valid in the future of its `iat`, and clock skew.
const LEEWAY_SECONDS: u64 = 30;
/// How often the key file is looked at for changes.
const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// Verification settings every service reads.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The platform's key set (JWKS), reloaded when it changes.
    pub jwks_file: PathBuf,
    /// The platform's `iss`.
    pub issuer: String,
    /// The audiences this verifier accepts (a service accepts its own,
    /// `flatgov.<svc>`).
    pub audiences: Vec<String>,
    /// The longest a `service` token may live.
    pub max_service_token: Duration,
    /// The longest a person's token may live.
    pub max_person_token: Duration,
    /// People's tokens from an OpenID Connect provider, when one is configured.
    pub oidc: Option<OidcConfig>,
}

impl AuthConfig {
    /// Reads the variables; `service` names the default audience (`flatgov.<service>`).
    pub fn from_env(env: &Env, service: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            jwks_file: env.required(
                "AUTH_JWKS_FILE",
                "path to the platform's key set (JWKS) that verifies tokens",
            )?,
            issuer: env.optional("AUTH_ISSUER", "flatgov".to_owned(), "the tokens' iss claim")?,
            audiences: vec![env.optional(
                "AUTH_AUDIENCE",
                audience_of(service),
                "the aud claim tokens for this service carry",
            )?],
            max_service_token: Duration::from_secs(env.optional(
                "AUTH_MAX_SERVICE_TOKEN_SECONDS",
                900,
                "the longest a service token may live, in seconds",
            )?),
            max_person_token: Duration::from_secs(env.optional(
                "AUTH_MAX_PERSON_TOKEN_SECONDS",
                36_000,
                "the longest a person's token may live, in seconds (a working day)",
            )?),
            oidc: OidcConfig::from_env(env)?,
        })
    }
}

/// The audience of tokens meant for `service`: `flatgov.cases`.
pub fn audience_of(service: &str) -> String {
    format!("flatgov.{service}")
}

/// The claims of the platform's own tokens.
#[derive(Debug, Clone, Deserialize)]
struct PlatformClaims {
    sub: String,
    iat: u64,
    exp: u64,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    jurisdiction: Vec<String>,
}

/// A decoded trusted key.
struct TrustedKey {
    key: DecodingKey,
    binding: Binding,
}

/// The key set as last read, and when the file was last looked at.
struct Ring {
    keys: HashMap<String, TrustedKey>,
    modified: Option<SystemTime>,
    checked: Instant,
}

impl Ring {
    fn load(path: &Path) -> Result<Self, String> {
        let set = KeySet::read(path).map_err(|error| error.to_string())?;
        let modified = std::fs::metadata(path)
            .and_then(|metadata| metadata.modified())
            .ok();
        let bindings = set.bindings();
        let mut keys = HashMap::new();
        for jwk in set.jwks() {
            let Some(kid) = jwk.get("kid").and_then(Value::as_str) else {
                continue;
            };
            let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone())
                .map_err(|error| format!("key {kid}: {error}"))?;
            let key =
                DecodingKey::from_jwk(&parsed).map_err(|error| format!("key {kid}: {error}"))?;
            let binding = bindings.get(kid).cloned().unwrap_or(Binding::People);
            keys.insert(kid.to_owned(), TrustedKey { key, binding });
        }
        Ok(Self {
            keys,
            modified,
            checked: Instant::now(),
        })
    }
}

/// Checks bearer tokens. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    config: Arc<AuthConfig>,
    ring: Arc<RwLock<Ring>>,
    oidc: Option<OidcKeys>,
}

impl Verifier {
    /// Reads the key set (and, with an OpenID Connect provider configured, fetches its
    /// keys). Fails naming the file or the provider that cannot be read.
    pub async fn new(config: AuthConfig) -> Result<Self, String> {
        let ring = Ring::load(&config.jwks_file)
            .map_err(|error| format!("AUTH_JWKS_FILE {}: {error}", config.jwks_file.display()))?;
        let oidc = match &config.oidc {
            Some(oidc) => Some(OidcKeys::connect(oidc.clone()).await?),
            None => None,
        };
        Ok(Self {
            config: Arc::new(config),
            ring: Arc::new(RwLock::new(ring)),
            oidc,
        })
    }

    /// Re-reads the key file when it changed (looked at every couple of seconds), so
    /// a rotation needs no restart. A file that cannot be read keeps the last keys.
    fn refresh(&self) {
        let due = self
            .ring
            .read()
            .map(|ring| ring.checked.elapsed() >= RELOAD_INTERVAL)
            .unwrap_or(true);
        if !due {
            return;
        }
        let path = &self.config.jwks_file;
        let modified = std::fs::metadata(path)
            .and_then(|metadata| metadata.modified())
            .ok();
        let mut ring = self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        ring.checked = Instant::now();
        if modified.is_none() || modified == ring.modified {
            return;
        }
        match Ring::load(path) {
            Ok(loaded) => {
                tracing::info!(keys = loaded.keys.len(), file = %path.display(), "reloaded the key set");
                *ring = loaded;
            }
            Err(error) => {
                tracing::warn!(%error, file = %path.display(), "cannot reload the key set; keeping the last one")
            }
        }
    }

    /// The caller a token proves, or why it proves nothing.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::InvalidToken("the token cannot be decoded".into()))?;
        let issuer = unverified_issuer(token)?;
        if let Some(oidc) = &self.oidc
            && issuer == oidc.issuer()
        {
            return oidc.verify(token, &header);
        }
        if issuer != self.config.issuer {
            return Err(AuthError::InvalidToken(
                "the token's issuer is not trusted".into(),
            ));
        }
        self.verify_platform(token, &header)
    }

    fn verify_platform(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
    ) -> Result<Caller, AuthError> {
        self.refresh();
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| AuthError::InvalidToken("the token names no key (kid)".into()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::InvalidToken(
                "the token must be signed with EdDSA".into(),
            ));
        }
        let ring = self
            .ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let trusted = ring
            .keys
            .get(kid)
            .ok_or_else(|| AuthError::InvalidToken("the token's key is not trusted".into()))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&self.config.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "iat"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<PlatformClaims>(token, &trusted.key, &validation)
            .map_err(|error| AuthError::InvalidToken(describe_jwt_error(&error)))?
            .claims;
        let is_service = claims
            .roles
            .iter()
            .any(|role| role == Role::Service.as_str());
        match &trusted.binding {
            Binding::Service(service) => {
                let only_its_own = claims.sub == *service
                    && claims.roles == [Role::Service.as_str()]
                    && claims.org.is_none()
                    && claims.jurisdiction.is_empty();
                if !only_its_own {
                    return Err(AuthError::InvalidClaims(
                        "a service's key signs only that service's own service token".into(),
                    ));
                }
            }
            Binding::People if is_service => {
                return Err(AuthError::InvalidClaims(
                    "the service role is accepted only from a service's own key".into(),
                ));
            }
            Binding::People => {}
        }
        let longest = if is_service {
            self.config.max_service_token
        } else {
            self.config.max_person_token
        };
        check_times(claims.iat, claims.exp, longest)?;
        caller_from(claims.sub, &claims.roles, claims.org, &claims.jurisdiction)
    }

    /// The claims of an ID token the OpenID Connect provider issued to
    /// `client_id` for the login that sent `nonce` (see
    /// [`OidcKeys::verify_id_token`]); refused when no provider is configured.
    pub fn verify_id_token(
        &self,
        token: &str,
        client_id: &str,
        nonce: &str,
    ) -> Result<serde_json::Value, AuthError> {
        let Some(oidc) = &self.oidc else {
            return Err(AuthError::InvalidToken(
                "no identity provider is configured (AUTH_OIDC_ISSUER)".into(),
            ));
        };
        oidc.verify_id_token(token, client_id, nonce)
    }

    /// Verifies an `authorization` header value (`Bearer <jwt>`).
    pub fn verify_header(&self, header: Option<&str>) -> Result<Caller, AuthError> {
        let header = header.ok_or(AuthError::MissingToken)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthError::MalformedHeader)?;
        self.verify(token.trim())
    }
}

/// `iat` not in the future, and a lifetime no longer than `longest`.
pub(crate) fn check_times(iat: u64, exp: u64, longest: Duration) -> Result<(), AuthError> {
    let now = unix_now();
    if iat > now + LEEWAY_SECONDS {
        return Err(AuthError::InvalidToken(
            "the token was issued in the future".into(),
        ));
    }
    if exp.saturating_sub(iat) > longest.as_secs() {
        return Err(AuthError::InvalidToken(format!(
            "the token lives longer than the {} seconds allowed",
            longest.as_secs()
        )));
    }
    Ok(())
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// The `iss` claim, read before the signature is checked only to choose which keys
/// check it.
fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    use base64::Engine as _;
    let malformed = || AuthError::InvalidToken("the token cannot be decoded".into());
    let payload = token.split('.').nth(1).ok_or_else(malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| malformed())?;
    let claims: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    claims
        .get("iss")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| AuthError::InvalidToken("the token lacks the iss claim".into()))
}

/// The caller of verified claims, refusing unknown roles and malformed jurisdictions.
pub(crate) fn caller_from(
    subject: String,
    roles: &[String],
    organisation: Option<String>,
    jurisdictions: &[String],
) -> Result<Caller, AuthError> {
    if subject.trim().is_empty() {
        return Err(AuthError::InvalidClaims("sub is empty".into()));
    }
    let roles = roles
        .iter()
        .map(|role| role.parse::<Role>().map_err(AuthError::InvalidClaims))
        .collect::<Result<_, _>>()?;
    let jurisdictions = jurisdictions
        .iter()
        .map(|name| {
            name.parse::<Jurisdiction>()
                .map_err(AuthError::InvalidClaims)
        })
        .collect::<Result<_, _>>()?;
    Ok(Caller {
        subject,
        roles,
        organisation: organisation.filter(|org| !org.trim().is_empty()),
        jurisdictions,
    })
}

pub(crate) fn describe_jwt_error(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not trusted".into(),
        ErrorKind::InvalidAudience => "the token is not meant for this service".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its key".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the {claim} claim"),
        _ => format!("the token cannot be decoded ({error})"),
    }
}
