//! Minting tokens: people's tokens for the CLI and tests (with the platform's people
//! key), and each service's own short-lived `service` tokens for its calls to other
//! services (with its own key, which verifiers accept for nothing else).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flatgov_config::Env;
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;

use crate::keys::{KeyError, SigningKey};
use crate::verifier::audience_of;
use crate::{Jurisdiction, Role};

/// The audiences of every flatgov service: a person's token from the CLI is good at
/// each of them.
pub const PLATFORM_AUDIENCES: [&str; 9] = [
    "flatgov.blocks",
    "flatgov.duties",
    "flatgov.cases",
    "flatgov.enforcement",
    "flatgov.federation",
    "flatgov.notices",
    "flatgov.mediation",
    "flatgov.errands",
    "flatgov.gateway",
];

/// What a new token should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub subject: String,
    pub roles: Vec<Role>,
    pub organisation: Option<String>,
    pub jurisdictions: Vec<Jurisdiction>,
    /// Where the token is good: one or more `flatgov.<svc>`.
    pub audiences: Vec<String>,
    pub ttl: Duration,
}

impl TokenRequest {
    /// A token for every service of the platform, valid one hour.
    pub fn new(subject: impl Into<String>, roles: &[Role]) -> Self {
        Self {
            subject: subject.into(),
            roles: roles.to_vec(),
            organisation: None,
            jurisdictions: Vec::new(),
            audiences: PLATFORM_AUDIENCES
                .iter()
                .map(|audience| (*audience).to_owned())
                .collect(),
            ttl: Duration::from_secs(3600),
        }
    }

    pub fn organisation(mut self, organisation: impl Into<String>) -> Self {
        self.organisation = Some(organisation.into());
        self
    }

    pub fn jurisdiction(mut self, jurisdiction: Jurisdiction) -> Self {
        self.jurisdictions.push(jurisdiction);
        self
    }

    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Only for these audiences.
    pub fn audiences(mut self, audiences: &[&str]) -> Self {
        self.audiences = audiences
            .iter()
            .map(|audience| (*audience).to_owned())
            .collect();
        self
    }
}

/// The claims flatgov writes.
#[derive(Debug, Clone, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a [String],
    sub: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    roles: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    jurisdiction: Vec<String>,
}

/// Mints tokens with one key, naming it by `kid`.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
    encoding: Arc<jsonwebtoken::EncodingKey>,
    issuer: String,
}

impl Signer {
    pub fn new(key: SigningKey, issuer: &str) -> Self {
        let encoding = Arc::new(key.encoding_key());
        Self {
            key,
            encoding,
            issuer: issuer.to_owned(),
        }
    }

    /// Reads a PKCS#8 PEM private key file.
    pub fn from_file(path: &Path, issuer: &str) -> Result<Self, KeyError> {
        Ok(Self::new(SigningKey::read(path)?, issuer))
    }

    pub fn kid(&self) -> String {
        self.key.kid()
    }

    pub fn mint(&self, request: &TokenRequest) -> String {
        let now = unix_seconds(SystemTime::now());
        let claims = Claims {
            iss: &self.issuer,
            aud: &request.audiences,
            sub: &request.subject,
            iat: now,
            nbf: now,
            exp: now + request.ttl.as_secs(),
            roles: request.roles.iter().map(|role| role.as_str()).collect(),
            org: request.organisation.as_deref(),
            jurisdiction: request
                .jurisdictions
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.kid());
        // Encoding an in-memory struct with a valid key cannot fail.
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .unwrap_or_else(|error| panic!("jwt encoding failed: {error}"))
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// A service's own key, re-read when its file changes (a rotation needs no restart),
/// and the short-lived `service` tokens it mints per audience.
#[derive(Clone)]
pub struct ServiceCredentials {
    service_name: String,
    issuer: String,
    key_file: PathBuf,
    state: Arc<Mutex<CredentialState>>,
}

struct CredentialState {
    signer: Signer,
    modified: Option<SystemTime>,
    checked: SystemTime,
    /// Minted tokens per audience and when they expire.
    cached: HashMap<String, (String, SystemTime)>,
}

impl ServiceCredentials {
    /// How long a service token lives.
    pub const TTL: Duration = Duration::from_secs(600);
    /// How often the key file is looked at for a rotation.
    const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

    /// `service_name`'s credentials from its key file.
    pub fn from_file(key_file: &Path, service_name: &str, issuer: &str) -> Result<Self, KeyError> {
        let signer = Signer::from_file(key_file, issuer)?;
        let modified = std::fs::metadata(key_file)
            .and_then(|metadata| metadata.modified())
            .ok();
        Ok(Self {
            service_name: service_name.to_owned(),
            issuer: issuer.to_owned(),
            key_file: key_file.to_owned(),
            state: Arc::new(Mutex::new(CredentialState {
                signer,
                modified,
                checked: SystemTime::now(),
                cached: HashMap::new(),
            })),
        })
    }

    /// Reads `AUTH_SIGNING_KEY_FILE` (this service's own key) and `AUTH_ISSUER`.
    pub fn from_env(env: &Env, service_name: &str) -> Result<Self, String> {
        let path: PathBuf = env
            .required(
                "AUTH_SIGNING_KEY_FILE",
                "path to this service's own Ed25519 private key (PKCS#8 PEM); it signs only its service tokens",
            )
            .map_err(|error| error.to_string())?;
        let issuer: String = env
            .optional("AUTH_ISSUER", "flatgov".to_owned(), "the tokens' iss claim")
            .map_err(|error| error.to_string())?;
        Self::from_file(&path, service_name, &issuer).map_err(|error| error.to_string())
    }

    /// The key id tokens are signed with now.
    pub fn kid(&self) -> String {
        self.lock().signer.kid()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CredentialState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Bearer <jwt>` for calls to `service` (audience `flatgov.<service>`).
    pub fn bearer_for(&self, service: &str) -> String {
        let audience = audience_of(service);
        let now = SystemTime::now();
        let mut state = self.lock();
        if now.duration_since(state.checked).unwrap_or_default() >= Self::RELOAD_INTERVAL {
            state.checked = now;
            let modified = std::fs::metadata(&self.key_file)
                .and_then(|metadata| metadata.modified())
                .ok();
            if modified.is_some() && modified != state.modified {
                match Signer::from_file(&self.key_file, &self.issuer) {
                    Ok(signer) => {
                        tracing::info!(kid = %signer.kid(), "signing with a new key");
                        state.signer = signer;
                        state.modified = modified;
                        state.cached.clear();
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the rotated signing key; keeping the last one")
                    }
                }
            }
        }
        if let Some((token, expires)) = state.cached.get(&audience)
            && expires.duration_since(now).unwrap_or_default() > Duration::from_secs(60)
        {
            return format!("Bearer {token}");
        }
        let token = state.signer.mint(
            &TokenRequest::new(self.service_name.clone(), &[Role::Service])
                .audiences(&[&audience])
                .ttl(Self::TTL),
        );
        state
            .cached
            .insert(audience, (token.clone(), now + Self::TTL));
        format!("Bearer {token}")
    }
}
