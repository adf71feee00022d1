//! People's tokens from the government's single sign-on: an OpenID Connect provider
//! (Keycloak, say) whose keys come from its JWKS (found through discovery, or given as
//! a URL or a file) and whose claims are mapped onto flatgov's roles, organisation and
//! jurisdiction by configuration. The provider never vouches for the `service` role.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use flatgov_config::{ConfigError, Env};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::verifier::{caller_from, check_times, describe_jwt_error};
use crate::{AuthError, Caller, Role};

/// Where the provider's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `{issuer}/.well-known/openid-configuration` names the JWKS URL.
    Discovery,
    Url(String),
    File(PathBuf),
}

/// How the provider's claims become a flatgov caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// The claim holding the stable person id (`sub`, or e.g. `preferred_username`
    /// when staff ids live there).
    pub subject: String,
    /// Dotted path of the roles claim: `roles`, or Keycloak's `realm_access.roles`.
    pub roles: String,
    /// Provider role name → flatgov role; names not listed are taken as flatgov role
    /// names when they are one, and ignored otherwise (providers carry many roles).
    pub role_names: HashMap<String, Role>,
    /// Dotted path of the organisation claim.
    pub organisation: String,
    /// Dotted path of the jurisdiction claim (a division name or a list of them).
    pub jurisdiction: String,
}

/// The provider's settings.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
    pub keys: KeySource,
    pub mapping: ClaimMapping,
    /// How often the keys are fetched again (and at most how often an unknown key
    /// makes them fetched early).
    pub refresh: Duration,
    /// The longest a person's token may live.
    pub max_token: Duration,
}

impl OidcConfig {
    /// `None` unless `AUTH_OIDC_ISSUER` is set.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = env.maybe::<String>(
            "AUTH_OIDC_ISSUER",
            "the OpenID Connect provider's issuer URL, e.g. https://sso.example.gov.cn/realms/yuhu",
        )?
        else {
            return Ok(None);
        };
        let url: Option<String> = env.maybe(
            "AUTH_OIDC_JWKS_URL",
            "the provider's JWKS URL (default: discovery)",
        )?;
        let file: Option<PathBuf> = env.maybe(
            "AUTH_OIDC_JWKS_FILE",
            "a file holding the provider's JWKS, for networks that cannot reach it",
        )?;
        let keys = match (url, file) {
            (Some(url), _) => KeySource::Url(url),
            (None, Some(file)) => KeySource::File(file),
            (None, None) => KeySource::Discovery,
        };
        let role_map: String = env.optional(
            "AUTH_OIDC_ROLE_MAP",
            String::new(),
            "provider role=flatgov role pairs, comma-separated, e.g. dispatcher=subdistrict_dispatcher",
        )?;
        let role_names = parse_role_map(&role_map).map_err(|reason| ConfigError::Malformed {
            name: "AUTH_OIDC_ROLE_MAP",
            value: role_map.clone(),
            reason,
            expected: "provider role=flatgov role pairs, comma-separated",
        })?;
        Ok(Some(Self {
            issuer,
            audience: env.optional(
                "AUTH_OIDC_AUDIENCE",
                "flatgov".to_owned(),
                "the aud (client id) the provider's tokens carry for flatgov",
            )?,
            keys,
            mapping: ClaimMapping {
                subject: env.optional(
                    "AUTH_OIDC_SUBJECT_CLAIM",
                    "sub".to_owned(),
                    "the claim holding the person's id",
                )?,
                roles: env.optional(
                    "AUTH_OIDC_ROLES_CLAIM",
                    "roles".to_owned(),
                    "dotted path of the roles claim, e.g. realm_access.roles",
                )?,
                role_names,
                organisation: env.optional(
                    "AUTH_OIDC_ORG_CLAIM",
                    "org".to_owned(),
                    "dotted path of the organisation claim",
                )?,
                jurisdiction: env.optional(
                    "AUTH_OIDC_JURISDICTION_CLAIM",
                    "jurisdiction".to_owned(),
                    "dotted path of the jurisdiction claim",
                )?,
            },
            refresh: Duration::from_secs(env.optional(
                "AUTH_OIDC_REFRESH_SECONDS",
                300,
                "how often the provider's keys are fetched again, in seconds",
            )?),
            max_token: Duration::from_secs(env.optional(
                "AUTH_MAX_PERSON_TOKEN_SECONDS",
                36_000,
                "the longest a person's token may live, in seconds (a working day)",
            )?),
        }))
    }
}

/// `dispatcher=subdistrict_dispatcher,gov=governor`.
pub fn parse_role_map(text: &str) -> Result<HashMap<String, Role>, String> {
    let mut map = HashMap::new();
    for pair in text
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        let (name, role) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not name=role"))?;
        let role: Role = role.trim().parse()?;
        if role == Role::Service {
            return Err("the service role cannot come from the identity provider".into());
        }
        map.insert(name.trim().to_owned(), role);
    }
    Ok(map)
}

struct ProviderKeys {
    keys: HashMap<String, DecodingKey>,
    fetched: Instant,
}

/// The provider's keys, fetched and refreshed, and the mapping of its claims.
#[derive(Clone)]
pub struct OidcKeys {
    config: Arc<OidcConfig>,
    keys: Arc<RwLock<ProviderKeys>>,
    /// Wakes the refresher early when a token names an unknown key.
    wake: Arc<tokio::sync::Notify>,
}

impl OidcKeys {
    /// Fetches the keys once (failing start-up naming the provider when it cannot) and
    /// refreshes them in the background.
    pub async fn connect(config: OidcConfig) -> Result<Self, String> {
        let keys = fetch(&config).await?;
        let this = Self {
            config: Arc::new(config),
            keys: Arc::new(RwLock::new(ProviderKeys {
                keys,
                fetched: Instant::now(),
            })),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        let refresher = this.clone();
        tokio::spawn(async move { refresher.refresh_forever().await });
        Ok(this)
    }

    async fn refresh_forever(self) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.config.refresh) => {}
                _ = self.wake.notified() => {}
            }
            match fetch(&self.config).await {
                Ok(keys) => {
                    let mut current = self
                        .keys
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    current.keys = keys;
                    current.fetched = Instant::now();
                }
                Err(error) => tracing::warn!(%error, "cannot refresh the identity provider's keys"),
            }
            // An unknown kid wakes this at most once per ten seconds.
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The claims of an ID token the provider issued to `client_id` for the login
    /// that sent `nonce` (OpenID Connect Core 3.1.3.7): signed by one of the
    /// provider's keys, its issuer, for that client, within its times, and
    /// carrying that nonce — so a token from another login is refused.
    pub fn verify_id_token(
        &self,
        token: &str,
        client_id: &str,
        nonce: &str,
    ) -> Result<Value, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::InvalidToken("the ID token cannot be decoded".into()))?;
        let claims = self.decode(token, &header, client_id)?;
        let carried = claims.get("nonce").and_then(Value::as_str);
        if carried != Some(nonce) {
            return Err(AuthError::InvalidToken(
                "the ID token does not carry this login's nonce".into(),
            ));
        }
        Ok(claims)
    }

    /// The caller a provider's token proves.
    pub fn verify(&self, token: &str, header: &jsonwebtoken::Header) -> Result<Caller, AuthError> {
        let claims = self.decode(token, header, &self.config.audience)?;
        map_claims(&self.config.mapping, &claims)
    }

    /// A provider's token's claims, checked: a public-key signature by one of
    /// the provider's keys, its issuer, `audience`, and its times.
    fn decode(
        &self,
        token: &str,
        header: &jsonwebtoken::Header,
        audience: &str,
    ) -> Result<Value, AuthError> {
        let allowed = [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ];
        if !allowed.contains(&header.alg) {
            return Err(AuthError::InvalidToken(
                "the identity provider's token must be signed with a public-key algorithm".into(),
            ));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| AuthError::InvalidToken("the token names no key (kid)".into()))?;
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(key) = keys.keys.get(kid) else {
            self.wake.notify_one();
            return Err(AuthError::InvalidToken(
                "the token's key is not (yet) among the identity provider's keys".into(),
            ));
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "iat"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<Value>(token, key, &validation)
            .map_err(|error| AuthError::InvalidToken(describe_jwt_error(&error)))?
            .claims;
        let iat = claims.get("iat").and_then(Value::as_u64).unwrap_or(0);
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        check_times(iat, exp, self.config.max_token)?;
        Ok(claims)
    }
}

/// A claim at a dotted path.
fn claim_at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(claims, |value, segment| value.get(segment))
}

/// Strings of a claim that is a string (space-separated), or a list of strings.
fn strings_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The flatgov caller of a provider's verified claims.
pub fn map_claims(mapping: &ClaimMapping, claims: &Value) -> Result<Caller, AuthError> {
    let subject = claim_at(claims, &mapping.subject)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            AuthError::InvalidClaims(format!("the {} claim is missing", mapping.subject))
        })?
        .to_owned();
    let mut roles: Vec<String> = Vec::new();
    for name in strings_of(claim_at(claims, &mapping.roles)) {
        let role = match mapping.role_names.get(&name) {
            Some(role) => Some(*role),
            None => name.parse::<Role>().ok(),
        };
        match role {
            Some(Role::Service) => {
                return Err(AuthError::InvalidClaims(
                    "the service role is never accepted from the identity provider".into(),
                ));
            }
            Some(role) if !roles.contains(&role.as_str().to_owned()) => {
                roles.push(role.as_str().to_owned())
            }
            _ => {}
        }
    }
    if roles.is_empty() {
        return Err(AuthError::InvalidClaims(
            "the token carries no flatgov role".into(),
        ));
    }
    let organisation = claim_at(claims, &mapping.organisation)
        .and_then(Value::as_str)
        .map(str::to_owned);
    let jurisdictions = strings_of(claim_at(claims, &mapping.jurisdiction));
    caller_from(subject, &roles, organisation, &jurisdictions)
}

async fn fetch(config: &OidcConfig) -> Result<HashMap<String, DecodingKey>, String> {
    let document = match &config.keys {
        KeySource::File(path) => std::fs::read_to_string(path)
            .map_err(|error| format!("AUTH_OIDC_JWKS_FILE {}: {error}", path.display()))?,
        KeySource::Url(url) => get(url).await?,
        KeySource::Discovery => {
            let discovery_url = format!(
                "{}/.well-known/openid-configuration",
                config.issuer.trim_end_matches('/')
            );
            let discovery: Value = serde_json::from_str(&get(&discovery_url).await?)
                .map_err(|error| format!("{discovery_url}: {error}"))?;
            let jwks_uri = discovery
                .get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{discovery_url} names no jwks_uri"))?;
            get(jwks_uri).await?
        }
    };
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&document)
        .map_err(|error| format!("the identity provider's JWKS: {error}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        // Keys for encryption, or of kinds jsonwebtoken cannot use, are skipped.
        if matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            keys.insert(kid, key);
        }
    }
    if keys.is_empty() {
        return Err("the identity provider's JWKS holds no usable signing key".into());
    }
    Ok(keys)
}

async fn get(url: &str) -> Result<String, String> {
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|error| error.to_string())?
        .get(url)
        .send()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    response
        .text()
        .await
        .map_err(|error| format!("{url}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> ClaimMapping {
        ClaimMapping {
            subject: "preferred_username".into(),
            roles: "realm_access.roles".into(),
            role_names: parse_role_map("dispatcher=subdistrict_dispatcher").unwrap(),
            organisation: "org".into(),
            jurisdiction: "jurisdiction".into(),
        }
    }

    #[test]
    fn provider_claims_map_onto_a_caller_ignoring_roles_flatgov_does_not_know() {
        let claims = serde_json::json!({
            "sub": "8c0e…",
            "preferred_username": "disp-001",
            "realm_access": {"roles": ["offline_access", "dispatcher", "uma_authorization"]},
            "jurisdiction": "subdistricts/430302001",
        });
        let caller = map_claims(&mapping(), &claims).unwrap();
        assert_eq!(caller.subject, "disp-001");
        assert!(caller.has_role(Role::SubdistrictDispatcher));
        assert_eq!(caller.roles.len(), 1);
        assert!(caller.covers(&crate::DivisionCode::parse("430302001004017").unwrap()));
    }

    #[test]
    fn the_provider_can_never_vouch_for_the_service_role_nor_for_nobody() {
        let service = serde_json::json!({
            "preferred_username": "x",
            "realm_access": {"roles": ["service"]},
        });
        assert!(
            map_claims(&mapping(), &service)
                .unwrap_err()
                .to_string()
                .contains("never accepted")
        );
        let nobody = serde_json::json!({
            "preferred_username": "x",
            "realm_access": {"roles": ["offline_access"]},
        });
        assert!(map_claims(&mapping(), &nobody).is_err());
        assert!(parse_role_map("svc=service").is_err());
        assert!(parse_role_map("nonsense").is_err());
    }
}
