//! The NATS connection, subject naming and stream provisioning.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream;
use flatgov_config::{ConfigError, Env};

/// How long JetStream keeps events: integrators replay from a point in time
/// within this window; beyond it they rebuild from the services' APIs.
pub const STREAM_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);

/// JetStream drops a re-published message whose `Nats-Msg-Id` it saw within
/// this window; older duplicates are caught by the consumers' inbox.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// NATS settings shared by every service.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// `nats://host:port` (comma-separated for a cluster).
    pub url: String,
    /// Prepended to every subject and stream name. Empty in deployments;
    /// tests set a unique value so they can share one NATS server.
    pub subject_prefix: String,
    /// JetStream replicas for the streams this service provisions (3 in a
    /// production cluster).
    pub stream_replicas: usize,
    /// The user's credentials: an nkey seed file (`SU…`) or a `.creds` file.
    /// Each service has its own, whose permissions let it publish only its own
    /// subjects; integrators' may only read.
    pub credentials_file: Option<PathBuf>,
    /// The authority the server's certificate must chain to (TLS required when set).
    pub tls_ca_file: Option<PathBuf>,
    /// A client certificate and key, for servers that require mTLS.
    pub tls_client_identity: Option<(PathBuf, PathBuf)>,
}

impl BusConfig {
    /// A plain connection to `url` (tests, tools): no credentials, no TLS.
    pub fn plain(url: impl Into<String>, subject_prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            subject_prefix: subject_prefix.into(),
            stream_replicas: 1,
            credentials_file: None,
            tls_ca_file: None,
            tls_client_identity: None,
        }
    }
}

impl BusConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let subject_prefix: String = env.optional(
            "NATS_SUBJECT_PREFIX",
            String::new(),
            "subject tokens ending in a dot, e.g. t1a2b3. (tests only)",
        )?;
        if !subject_prefix.is_empty() && !valid_prefix(&subject_prefix) {
            return Err(ConfigError::Malformed {
                name: "NATS_SUBJECT_PREFIX",
                value: subject_prefix,
                reason: "must be lower-case letters, digits and dots, ending in a dot".into(),
                expected: "subject tokens ending in a dot, e.g. t1a2b3.",
            });
        }
        let client_cert: Option<PathBuf> = env.maybe(
            "NATS_TLS_CLIENT_CERT_FILE",
            "a PEM client certificate, for a NATS server that requires mTLS",
        )?;
        let client_key: Option<PathBuf> = env.maybe(
            "NATS_TLS_CLIENT_KEY_FILE",
            "the PEM key of NATS_TLS_CLIENT_CERT_FILE",
        )?;
        let tls_client_identity = match (client_cert, client_key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Malformed {
                    name: "NATS_TLS_CLIENT_CERT_FILE",
                    value: "[one of certificate and key]".into(),
                    reason: "set both NATS_TLS_CLIENT_CERT_FILE and NATS_TLS_CLIENT_KEY_FILE, or neither".into(),
                    expected: "a PEM client certificate and its key",
                });
            }
        };
        Ok(Self {
            url: env.required(
                "NATS_URL",
                "a nats:// or tls:// URL such as tls://nats:4222",
            )?,
            subject_prefix,
            stream_replicas: env.optional("NATS_STREAM_REPLICAS", 1, "1, 3 or 5")?,
            credentials_file: env.maybe(
                "NATS_CREDENTIALS_FILE",
                "this service's NATS credentials: an nkey seed file or a .creds file",
            )?,
            tls_ca_file: env.maybe(
                "NATS_TLS_CA_FILE",
                "the PEM authority the NATS server's certificate chains to (TLS required when set)",
            )?,
            tls_client_identity,
        })
    }
}

fn valid_prefix(prefix: &str) -> bool {
    prefix.ends_with('.')
        && !prefix.starts_with('.')
        && !prefix.contains("..")
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.')
}

/// Why NATS could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to nats at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot provision stream {stream}: {reason}")]
    Stream { stream: String, reason: String },
}

/// A connected NATS client with JetStream, and the naming rules for
/// subjects and streams. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    prefix: String,
    stream_replicas: usize,
}

impl EventBus {
    /// Connects without waiting for NATS to be up: the client keeps
    /// reconnecting in the background, so a service starts (and takes
    /// requests that need only its database) while NATS is away.
    pub async fn connect(config: &BusConfig, connection_name: &str) -> Result<Self, BusError> {
        let refused = |reason: String| BusError::Connect {
            url: config.url.clone(),
            reason,
        };
        let mut options = async_nats::ConnectOptions::new();
        if let Some(path) = &config.credentials_file {
            let text = std::fs::read_to_string(path).map_err(|error| {
                refused(format!("NATS_CREDENTIALS_FILE {}: {error}", path.display()))
            })?;
            options = if text.contains("BEGIN NATS USER JWT") {
                async_nats::ConnectOptions::with_credentials(&text).map_err(|error| {
                    refused(format!("NATS_CREDENTIALS_FILE {}: {error}", path.display()))
                })?
            } else {
                async_nats::ConnectOptions::with_nkey(text.trim().to_owned())
            };
        }
        if let Some(ca_file) = &config.tls_ca_file {
            options = options
                .require_tls(true)
                .add_root_certificates(ca_file.clone());
        }
        if let Some((cert, key)) = &config.tls_client_identity {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let client = options
            .name(connection_name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(3))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("nats connected"),
                    async_nats::Event::Disconnected => tracing::warn!("nats disconnected"),
                    other => tracing::debug!(event = %other, "nats event"),
                }
            })
            .connect(config.url.as_str())
            .await
            .map_err(|error| BusError::Connect {
                url: config.url.clone(),
                reason: error.to_string(),
            })?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .build(client.clone());
        Ok(Self {
            client,
            jetstream,
            prefix: config.subject_prefix.clone(),
            stream_replicas: config.stream_replicas.max(1),
        })
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// The test-isolation prefix (empty in deployments).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// True while the client holds a live connection.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The wire subject for a canonical one (`flatgov.cases.case.dispatched`).
    pub fn subject(&self, canonical: &str) -> String {
        format!("{}{canonical}", self.prefix)
    }

    /// The canonical subject of a wire subject, or `None` if it does not
    /// carry this bus's prefix.
    pub fn canonical<'a>(&self, wire: &'a str) -> Option<&'a str> {
        wire.strip_prefix(self.prefix.as_str())
    }

    /// `FLATGOV_CASES` for `cases` (with the test prefix folded in).
    pub fn stream_name(&self, service: &str) -> String {
        format!(
            "{}{}",
            self.stream_name_prefix(),
            service.to_ascii_uppercase()
        )
    }

    /// What the name of every stream of this bus's subject prefix starts with.
    pub fn stream_name_prefix(&self) -> String {
        let prefix = self.prefix.to_ascii_uppercase().replace('.', "_");
        format!("{prefix}FLATGOV_")
    }

    /// The dead-letter subject for messages a service's consumers gave up on.
    pub fn deadletter_subject(&self, service: &str) -> String {
        self.subject(&format!("flatgov.deadletter.{service}"))
    }

    /// Creates (or updates) `service`'s stream. Publishers call it for their
    /// own stream and consumers for the streams they read, so start order
    /// does not matter.
    pub async fn ensure_stream(&self, service: &str) -> Result<(), BusError> {
        self.ensure(
            self.stream_name(service),
            self.subject(&format!("flatgov.{service}.>")),
            format!("events published by the flatgov {service} service"),
        )
        .await
    }

    /// Creates (or updates) `FLATGOV_DEADLETTER`.
    pub async fn ensure_deadletter_stream(&self) -> Result<(), BusError> {
        self.ensure(
            self.stream_name("deadletter"),
            self.subject("flatgov.deadletter.>"),
            "messages a flatgov consumer gave up on, with the reason".to_owned(),
        )
        .await
    }

    async fn ensure(
        &self,
        name: String,
        subject: String,
        description: String,
    ) -> Result<(), BusError> {
        let config = jetstream::stream::Config {
            name: name.clone(),
            description: Some(description),
            subjects: vec![subject],
            storage: jetstream::stream::StorageType::File,
            retention: jetstream::stream::RetentionPolicy::Limits,
            max_age: STREAM_MAX_AGE,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: self.stream_replicas,
            ..Default::default()
        };
        self.jetstream
            .create_or_update_stream(config)
            .await
            .map(|_| ())
            .map_err(|error| BusError::Stream {
                stream: name,
                reason: error.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_must_be_dot_terminated_subject_tokens() {
        assert!(valid_prefix("t1a2b3."));
        assert!(valid_prefix("ci.run7."));
        assert!(!valid_prefix("t1a2b3"));
        assert!(!valid_prefix(".t1."));
        assert!(!valid_prefix("a..b."));
        assert!(!valid_prefix("T1."));
        assert!(!valid_prefix("a>b."));
    }

    #[test]
    fn a_bad_prefix_is_refused_naming_the_variable() {
        let env = Env::from_pairs([
            ("NATS_URL", "nats://127.0.0.1:4222"),
            ("NATS_SUBJECT_PREFIX", "Test"),
        ]);
        let error = BusConfig::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("NATS_SUBJECT_PREFIX"), "{error}");
    }
}
