//! The platform's signing keys and the key set verifiers trust.
//!
//! Every key is Ed25519 and named by its `kid`: the RFC 7638 thumbprint of its
//! public JWK, so a key's id follows from the key and no registry of ids can drift.
//! The key set (`jwks.json`, a standard JWKS) lists the public keys verifiers
//! trust. A key bound to a service carries the member `"flatgov_service": "cases"`:
//! it may sign only that service's own `service` tokens. A key without it signs
//! people's tokens (the platform's own issuer, used by the CLI and tests; in
//! production people's tokens come from the government's OpenID Connect provider
//! instead, and no such key need exist).
//!
//! On disk (`flatgov keys init --dir <dir>`):
//!
//! ```text
//! <dir>/jwks.json              public keys, with their bindings
//! <dir>/people.pem             the people-token key (development and tests)
//! <dir>/services/<svc>.pem     each service's own key, mounted only into its pods
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use serde_json::{Value, json};
use sha2::Digest as _;

/// The services that call others and so sign tokens, plus those a deployment adds.
pub const SIGNING_SERVICES: [&str; 9] = [
    "blocks",
    "duties",
    "cases",
    "enforcement",
    "federation",
    "notices",
    "mediation",
    "errands",
    "gateway",
];

/// The JWK member binding a key to the one service it may sign for.
pub const SERVICE_MEMBER: &str = "flatgov_service";

/// Why a key or key set could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an Ed25519 private key in PKCS#8 PEM: {detail}")]
    PrivateKey { path: PathBuf, detail: String },
    #[error("{path} is not a JWKS document: {detail}")]
    KeySet { path: PathBuf, detail: String },
}

/// An Ed25519 signing key.
#[derive(Clone)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "SigningKey(kid {})", self.kid())
    }
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self {
            key: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// Reads a PKCS#8 PEM private key file.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(&pem).map_err(|detail| KeyError::PrivateKey {
            path: path.to_owned(),
            detail,
        })
    }

    pub fn from_pem(pem: &str) -> Result<Self, String> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(|key| Self { key })
            .map_err(|error| error.to_string())
    }

    /// The PKCS#8 PEM form, for a key file.
    pub fn to_pem(&self) -> String {
        // Encoding a valid key into PEM cannot fail.
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap_or_else(|error| panic!("pkcs8 encoding failed: {error}"))
            .to_string()
    }

    /// The public key as a JWK (`kty` OKP, `crv` Ed25519), with its `kid`.
    pub fn public_jwk(&self) -> Value {
        let x = base64url(self.key.verifying_key().as_bytes());
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": x,
            "kid": thumbprint(&x),
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// The key's id: the RFC 7638 thumbprint of its public JWK.
    pub fn kid(&self) -> String {
        thumbprint(&base64url(self.key.verifying_key().as_bytes()))
    }

    /// The key as jsonwebtoken signs with it.
    pub(crate) fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        // The PKCS#8 DER of a valid key is what jsonwebtoken reads.
        let der = self
            .key
            .to_pkcs8_der()
            .unwrap_or_else(|error| panic!("pkcs8 encoding failed: {error}"));
        jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes())
    }

    /// Writes the key to `path` (mode 0600), replacing any file there atomically so a
    /// service reloading it never reads half a key.
    pub fn write(&self, path: &Path) -> Result<(), KeyError> {
        write_atomically(path, self.to_pem().as_bytes(), true)
    }
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638: SHA-256 over the required members in lexicographic order.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    base64url(&sha2::Sha256::digest(canonical.as_bytes()))
}

/// What a trusted key may sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// People's tokens (any role but `service`).
    People,
    /// Only the named service's own `service` token.
    Service(String),
}

/// The key set verifiers trust, as a JWKS document whose keys may carry a
/// service binding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySet {
    keys: Vec<Value>,
}

impl KeySet {
    /// Reads a JWKS file.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|detail| KeyError::KeySet {
            path: path.to_owned(),
            detail,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let document: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("it has no `keys` array")?
            .clone();
        for (index, key) in keys.iter().enumerate() {
            if key.get("kid").and_then(Value::as_str).is_none() {
                return Err(format!("keys[{index}] has no kid"));
            }
        }
        Ok(Self { keys })
    }

    /// The document to write.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&json!({ "keys": self.keys }))
            .unwrap_or_else(|error| panic!("a key set always serialises: {error}"))
    }

    /// Writes the key set atomically (verifiers reload it when it changes).
    pub fn write(&self, path: &Path) -> Result<(), KeyError> {
        write_atomically(path, self.to_json().as_bytes(), false)
    }

    /// Adds `key`'s public half with its binding (replacing an entry with its kid).
    pub fn add(&mut self, key: &SigningKey, binding: &Binding) {
        let mut jwk = key.public_jwk();
        if let Binding::Service(service) = binding {
            jwk[SERVICE_MEMBER] = Value::String(service.clone());
        }
        let kid = key.kid();
        self.keys
            .retain(|existing| existing.get("kid").and_then(Value::as_str) != Some(&kid));
        self.keys.push(jwk);
    }

    /// Removes the key with `kid`; false when there was none.
    pub fn retire(&mut self, kid: &str) -> bool {
        let before = self.keys.len();
        self.keys
            .retain(|existing| existing.get("kid").and_then(Value::as_str) != Some(kid));
        self.keys.len() != before
    }

    /// Every key's id and binding.
    pub fn bindings(&self) -> BTreeMap<String, Binding> {
        self.keys
            .iter()
            .filter_map(|key| {
                let kid = key.get("kid")?.as_str()?.to_owned();
                let binding = match key.get(SERVICE_MEMBER).and_then(Value::as_str) {
                    Some(service) => Binding::Service(service.to_owned()),
                    None => Binding::People,
                };
                Some((kid, binding))
            })
            .collect()
    }

    /// The raw JWKs, for decoding keys.
    pub(crate) fn jwks(&self) -> &[Value] {
        &self.keys
    }
}

/// The files of a platform's keys under one directory.
#[derive(Debug, Clone)]
pub struct KeyDirectory {
    root: PathBuf,
}

impl KeyDirectory {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn jwks_file(&self) -> PathBuf {
        self.root.join("jwks.json")
    }

    pub fn people_key_file(&self) -> PathBuf {
        self.root.join("people.pem")
    }

    pub fn service_key_file(&self, service: &str) -> PathBuf {
        self.root.join("services").join(format!("{service}.pem"))
    }

    /// Creates what is missing: a people key, a key per service in `services`, and
    /// the key set trusting them. Existing keys are kept. Returns the key set.
    pub fn init(&self, services: &[&str]) -> Result<KeySet, KeyError> {
        std::fs::create_dir_all(self.root.join("services")).map_err(|source| KeyError::Write {
            path: self.root.clone(),
            source,
        })?;
        let jwks_file = self.jwks_file();
        let mut set = if jwks_file.exists() {
            KeySet::read(&jwks_file)?
        } else {
            KeySet::default()
        };
        let mut owners: Vec<(PathBuf, Binding)> = vec![(self.people_key_file(), Binding::People)];
        owners.extend(services.iter().map(|service| {
            (
                self.service_key_file(service),
                Binding::Service((*service).to_owned()),
            )
        }));
        for (path, binding) in owners {
            let key = if path.exists() {
                SigningKey::read(&path)?
            } else {
                let key = SigningKey::generate();
                key.write(&path)?;
                key
            };
            if !set.bindings().contains_key(&key.kid()) {
                set.add(&key, &binding);
            }
        }
        set.write(&jwks_file)?;
        Ok(set)
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeyError> {
    let failed = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    write_file(&temporary, bytes, private).map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)
}

#[cfg(unix)]
fn write_file(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_file(path: &Path, bytes: &[u8], _private: bool) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_id_is_the_rfc_7638_thumbprint_of_its_public_jwk() {
        // RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let key = SigningKey::generate();
        assert_eq!(key.public_jwk()["kid"], key.kid());
    }

    #[test]
    fn a_key_survives_its_pem_form() {
        let key = SigningKey::generate();
        let read = SigningKey::from_pem(&key.to_pem()).unwrap();
        assert_eq!(read.kid(), key.kid());
    }

    #[test]
    fn a_key_directory_is_created_once_with_a_binding_per_key_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyDirectory::new(dir.path());
        let set = keys.init(&["cases", "enforcement"]).unwrap();
        let bindings = set.bindings();
        assert_eq!(bindings.len(), 3);
        let cases = SigningKey::read(&keys.service_key_file("cases")).unwrap();
        assert_eq!(bindings[&cases.kid()], Binding::Service("cases".to_owned()));
        let people = SigningKey::read(&keys.people_key_file()).unwrap();
        assert_eq!(bindings[&people.kid()], Binding::People);
        let again = keys.init(&["cases", "enforcement"]).unwrap();
        assert_eq!(again, set, "nothing changes the second time");
    }

    #[test]
    fn a_retired_key_leaves_the_set() {
        let mut set = KeySet::default();
        let old = SigningKey::generate();
        let new = SigningKey::generate();
        set.add(&old, &Binding::Service("cases".into()));
        set.add(&new, &Binding::Service("cases".into()));
        assert!(set.retire(&old.kid()));
        assert!(!set.retire(&old.kid()));
        assert_eq!(set.bindings().len(), 1);
        let reparsed = KeySet::parse(&set.to_json()).unwrap();
        assert_eq!(reparsed, set);
    }
}
