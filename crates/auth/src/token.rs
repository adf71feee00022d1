//! Ed25519-signed JWTs: verification for servers, minting for the CLI,
//! tests and service-to-service calls.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use flatgov_config::{ConfigError, Env};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{AuthError, Caller, Jurisdiction, Role};

/// Verification settings every service reads.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Ed25519 public key (PEM, SPKI) that callers' tokens must be signed with.
    pub public_key_file: PathBuf,
    /// Expected `iss` claim.
    pub issuer: String,
    /// Expected `aud` claim.
    pub audience: String,
}

impl AuthConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            public_key_file: env.required(
                "AUTH_PUBLIC_KEY_FILE",
                "path to the Ed25519 public key (PEM) that verifies callers' tokens",
            )?,
            issuer: env.optional("AUTH_ISSUER", "flatgov".to_owned(), "the tokens' iss claim")?,
            audience: env.optional(
                "AUTH_AUDIENCE",
                "flatgov".to_owned(),
                "the tokens' aud claim",
            )?,
        })
    }
}

/// The JWT claims flatgov reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jurisdiction: Vec<String>,
}

impl Claims {
    fn into_caller(self) -> Result<Caller, AuthError> {
        if self.sub.trim().is_empty() {
            return Err(AuthError::InvalidClaims("sub is empty".into()));
        }
        let roles = self
            .roles
            .iter()
            .map(|role| role.parse::<Role>().map_err(AuthError::InvalidClaims))
            .collect::<Result<_, _>>()?;
        let jurisdictions = self
            .jurisdiction
            .iter()
            .map(|name| {
                name.parse::<Jurisdiction>()
                    .map_err(AuthError::InvalidClaims)
            })
            .collect::<Result<_, _>>()?;
        Ok(Caller {
            subject: self.sub,
            roles,
            organisation: self.org.filter(|org| !org.trim().is_empty()),
            jurisdictions,
        })
    }
}

/// Checks bearer tokens. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
}

impl Verifier {
    /// Reads the public key named by `config`.
    pub fn from_config(config: &AuthConfig) -> Result<Self, String> {
        let pem = std::fs::read(&config.public_key_file).map_err(|error| {
            format!(
                "cannot read AUTH_PUBLIC_KEY_FILE {}: {error}",
                config.public_key_file.display()
            )
        })?;
        Self::from_public_pem(&pem, &config.issuer, &config.audience).map_err(|error| {
            format!(
                "AUTH_PUBLIC_KEY_FILE {} is not an Ed25519 public key in PEM: {error}",
                config.public_key_file.display()
            )
        })
    }

    pub fn from_public_pem(pem: &[u8], issuer: &str, audience: &str) -> Result<Self, String> {
        let key = DecodingKey::from_ed_pem(pem).map_err(|error| error.to_string())?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Ok(Self {
            key: Arc::new(key),
            validation: Arc::new(validation),
        })
    }

    /// The caller a token proves, or why it proves nothing.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|error| AuthError::InvalidToken(describe_jwt_error(&error)))?;
        data.claims.into_caller()
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

fn describe_jwt_error(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::InvalidIssuer => "the token's issuer is not trusted".into(),
        ErrorKind::InvalidAudience => "the token is not meant for flatgov".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token must be signed with EdDSA".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the {claim} claim"),
        _ => format!("the token cannot be decoded ({error})"),
    }
}

/// What a new token should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub subject: String,
    pub roles: Vec<Role>,
    pub organisation: Option<String>,
    pub jurisdictions: Vec<Jurisdiction>,
    pub ttl: Duration,
}

impl TokenRequest {
    pub fn new(subject: impl Into<String>, roles: &[Role]) -> Self {
        Self {
            subject: subject.into(),
            roles: roles.to_vec(),
            organisation: None,
            jurisdictions: Vec::new(),
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
}

/// Mints tokens with the private key. Held by the CLI, by tests, and by
/// services that call other services on their own behalf.
#[derive(Clone)]
pub struct Signer {
    key: Arc<EncodingKey>,
    issuer: String,
    audience: String,
}

impl Signer {
    pub fn from_private_pem(pem: &[u8], issuer: &str, audience: &str) -> Result<Self, String> {
        let key = EncodingKey::from_ed_pem(pem).map_err(|error| error.to_string())?;
        Ok(Self {
            key: Arc::new(key),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// Reads a PKCS#8 PEM private key file.
    pub fn from_file(path: &Path, issuer: &str, audience: &str) -> Result<Self, String> {
        let pem = std::fs::read(path)
            .map_err(|error| format!("cannot read signing key {}: {error}", path.display()))?;
        Self::from_private_pem(&pem, issuer, audience).map_err(|error| {
            format!(
                "signing key {} is not an Ed25519 private key in PKCS#8 PEM: {error}",
                path.display()
            )
        })
    }

    pub fn mint(&self, request: &TokenRequest) -> String {
        let now = unix_seconds(SystemTime::now());
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: request.subject.clone(),
            iat: now,
            exp: now + request.ttl.as_secs(),
            roles: request
                .roles
                .iter()
                .map(|role| role.as_str().to_owned())
                .collect(),
            org: request.organisation.clone(),
            jurisdiction: request
                .jurisdictions
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        // Encoding an in-memory struct with a valid key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.key)
            .unwrap_or_else(|error| panic!("jwt encoding failed: {error}"))
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// A service's own short-lived `service` token for calls to other services,
/// re-minted before it expires.
#[derive(Clone)]
pub struct ServiceCredentials {
    signer: Signer,
    service_name: String,
    cached: Arc<Mutex<Option<(String, SystemTime)>>>,
}

impl ServiceCredentials {
    const TTL: Duration = Duration::from_secs(600);

    pub fn new(signer: Signer, service_name: impl Into<String>) -> Self {
        Self {
            signer,
            service_name: service_name.into(),
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// Reads AUTH_SIGNING_KEY_FILE (with AUTH_ISSUER / AUTH_AUDIENCE).
    pub fn from_env(env: &Env, service_name: &str) -> Result<Self, String> {
        let path: PathBuf = env
            .required(
                "AUTH_SIGNING_KEY_FILE",
                "path to the Ed25519 private key (PKCS#8 PEM) this service signs its own calls with",
            )
            .map_err(|error| error.to_string())?;
        let config = AuthConfig {
            public_key_file: PathBuf::new(),
            issuer: env
                .optional("AUTH_ISSUER", "flatgov".to_owned(), "the tokens' iss claim")
                .map_err(|error| error.to_string())?,
            audience: env
                .optional(
                    "AUTH_AUDIENCE",
                    "flatgov".to_owned(),
                    "the tokens' aud claim",
                )
                .map_err(|error| error.to_string())?,
        };
        let signer = Signer::from_file(&path, &config.issuer, &config.audience)?;
        Ok(Self::new(signer, service_name))
    }

    /// `Bearer <jwt>` for the `authorization` header.
    pub fn bearer(&self) -> String {
        let now = SystemTime::now();
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((token, expires)) = cached.as_ref()
            && expires.duration_since(now).unwrap_or_default() > Duration::from_secs(60)
        {
            return format!("Bearer {token}");
        }
        let token = self
            .signer
            .mint(&TokenRequest::new(self.service_name.clone(), &[Role::Service]).ttl(Self::TTL));
        *cached = Some((token.clone(), now + Self::TTL));
        format!("Bearer {token}")
    }
}

/// An Ed25519 key pair in PEM: PKCS#8 private key and SPKI public key.
#[derive(Clone)]
pub struct KeyPair {
    pub private_pem: String,
    pub public_pem: String,
}

pub fn generate_key_pair() -> KeyPair {
    let signing_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    // Encoding a freshly generated key into PEM cannot fail.
    let private_pem = signing_key
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap_or_else(|error| panic!("pkcs8 encoding failed: {error}"))
        .to_string();
    let public_pem = signing_key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap_or_else(|error| panic!("spki encoding failed: {error}"));
    KeyPair {
        private_pem,
        public_pem,
    }
}

/// Writes `signing-key.pem` (mode 0600) and `public-key.pem` into `dir`
/// unless a signing key is already there; returns the two paths.
pub fn write_key_pair_if_missing(dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    let private_path = dir.join("signing-key.pem");
    let public_path = dir.join("public-key.pem");
    if private_path.exists() && public_path.exists() {
        return Ok((private_path, public_path));
    }
    std::fs::create_dir_all(dir)?;
    let pair = generate_key_pair();
    write_private(&private_path, pair.private_pem.as_bytes())?;
    std::fs::write(&public_path, pair.public_pem.as_bytes())?;
    Ok((private_path, public_path))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer_and_verifier() -> (Signer, Verifier) {
        let pair = generate_key_pair();
        let signer =
            Signer::from_private_pem(pair.private_pem.as_bytes(), "flatgov", "flatgov").unwrap();
        let verifier =
            Verifier::from_public_pem(pair.public_pem.as_bytes(), "flatgov", "flatgov").unwrap();
        (signer, verifier)
    }

    #[test]
    fn a_minted_token_verifies_into_the_same_caller() {
        let (signer, verifier) = signer_and_verifier();
        let token = signer.mint(
            &TokenRequest::new("staff-7", &[Role::Governor])
                .organisation("yuhu")
                .jurisdiction("blocks/430302001004017".parse().unwrap()),
        );
        let caller = verifier
            .verify_header(Some(&format!("Bearer {token}")))
            .unwrap();
        assert_eq!(caller.subject, "staff-7");
        assert!(caller.has_role(Role::Governor));
        assert_eq!(caller.organisation.as_deref(), Some("yuhu"));
        assert!(caller.covers("430302001004017"));
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let (signer, _) = signer_and_verifier();
        let (_, other_verifier) = signer_and_verifier();
        let token = signer.mint(&TokenRequest::new("staff-7", &[Role::Governor]));
        let error = other_verifier.verify(&token).unwrap_err();
        assert_eq!(
            error,
            AuthError::InvalidToken("the token's signature does not verify".into())
        );
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let (signer, verifier) = signer_and_verifier();
        let now = unix_seconds(SystemTime::now());
        let claims = Claims {
            iss: "flatgov".into(),
            aud: "flatgov".into(),
            sub: "staff-7".into(),
            iat: now - 7200,
            exp: now - 3600,
            roles: vec!["governor".into()],
            org: None,
            jurisdiction: vec![],
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &signer.key).unwrap();
        assert_eq!(
            verifier.verify(&token).unwrap_err(),
            AuthError::InvalidToken("the token has expired".into())
        );
    }

    #[test]
    fn a_token_for_another_audience_or_issuer_is_refused() {
        let pair = generate_key_pair();
        let verifier =
            Verifier::from_public_pem(pair.public_pem.as_bytes(), "flatgov", "flatgov").unwrap();
        let foreign =
            Signer::from_private_pem(pair.private_pem.as_bytes(), "flatgov", "payroll").unwrap();
        let token = foreign.mint(&TokenRequest::new("x", &[Role::Integrator]));
        assert!(
            verifier
                .verify(&token)
                .unwrap_err()
                .to_string()
                .contains("not meant for flatgov")
        );
        let foreign =
            Signer::from_private_pem(pair.private_pem.as_bytes(), "someone", "flatgov").unwrap();
        let token = foreign.mint(&TokenRequest::new("x", &[Role::Integrator]));
        assert!(
            verifier
                .verify(&token)
                .unwrap_err()
                .to_string()
                .contains("issuer")
        );
    }

    #[test]
    fn a_header_without_bearer_or_without_a_token_is_named_as_such() {
        let (_, verifier) = signer_and_verifier();
        assert_eq!(
            verifier.verify_header(None).unwrap_err(),
            AuthError::MissingToken
        );
        assert_eq!(
            verifier.verify_header(Some("Basic abc")).unwrap_err(),
            AuthError::MalformedHeader
        );
    }

    #[test]
    fn a_token_with_an_unknown_role_is_refused_naming_it() {
        let pair = generate_key_pair();
        let signer =
            Signer::from_private_pem(pair.private_pem.as_bytes(), "flatgov", "flatgov").unwrap();
        let verifier =
            Verifier::from_public_pem(pair.public_pem.as_bytes(), "flatgov", "flatgov").unwrap();
        let now = unix_seconds(SystemTime::now());
        let claims = Claims {
            iss: "flatgov".into(),
            aud: "flatgov".into(),
            sub: "x".into(),
            iat: now,
            exp: now + 60,
            roles: vec!["mayor".into()],
            org: None,
            jurisdiction: vec![],
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &signer.key).unwrap();
        assert!(
            verifier
                .verify(&token)
                .unwrap_err()
                .to_string()
                .contains("\"mayor\"")
        );
    }

    #[test]
    fn keys_are_written_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (private_path, public_path) = write_key_pair_if_missing(dir.path()).unwrap();
        let first = std::fs::read(&private_path).unwrap();
        write_key_pair_if_missing(dir.path()).unwrap();
        assert_eq!(std::fs::read(&private_path).unwrap(), first);
        let signer = Signer::from_file(&private_path, "flatgov", "flatgov").unwrap();
        let verifier = Verifier::from_config(&AuthConfig {
            public_key_file: public_path,
            issuer: "flatgov".into(),
            audience: "flatgov".into(),
        })
        .unwrap();
        let token = signer.mint(&TokenRequest::new("x", &[Role::Service]));
        assert!(verifier.verify(&token).unwrap().has_role(Role::Service));
    }
}
