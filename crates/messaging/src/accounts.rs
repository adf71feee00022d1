//! Who may publish and read what on NATS: a user per service, whose permissions let it
//! publish only its own subjects (and dead letters under its own name) plus the
//! JetStream API its relay and consumers need, and read-only integrator users. Users
//! authenticate with nkeys; the server configuration is generated from a directory of
//! their seeds, so adding or revoking one is a file change and a reload.
//!
//! ```text
//! <dir>/users/service-<svc>.nk       a service's seed (its NATS_CREDENTIALS_FILE)
//! <dir>/users/integrator-<name>.nk   an integrator's seed
//! <dir>/nats-server.conf             generated: listener, TLS, JetStream, the users
//! ```
//!
//! Everything else is denied: a service publishing another's events (a forged
//! `CaseEscalated` summoning the police) is refused by the server and never reaches a
//! stream or a consumer; an integrator publishes nothing.

use std::path::{Path, PathBuf};

/// What one user may publish and subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
}

/// The stream of `service`'s events.
fn stream_of(service: &str) -> String {
    format!("FLATGOV_{}", service.to_uppercase())
}

/// A service: its own events, its dead letters, its stream, consumers anywhere.
pub fn service_permissions(service: &str) -> Permissions {
    let stream = stream_of(service);
    Permissions {
        publish: vec![
            format!("flatgov.{service}.>"),
            format!("flatgov.deadletter.{service}"),
            "$JS.API.INFO".into(),
            format!("$JS.API.STREAM.CREATE.{stream}"),
            format!("$JS.API.STREAM.UPDATE.{stream}"),
            "$JS.API.STREAM.CREATE.FLATGOV_DEADLETTER".into(),
            "$JS.API.STREAM.UPDATE.FLATGOV_DEADLETTER".into(),
            // Removing a dead letter once `flatgov deadletters redrive` applied it.
            // NATS cannot narrow a message delete to a subject, so this reaches
            // every service's dead letters; the service deletes only its own.
            "$JS.API.STREAM.MSG.DELETE.FLATGOV_DEADLETTER".into(),
            "$JS.API.STREAM.INFO.>".into(),
            "$JS.API.STREAM.NAMES".into(),
            "$JS.API.STREAM.LIST".into(),
            "$JS.API.CONSUMER.>".into(),
            "$JS.ACK.>".into(),
        ],
        subscribe: vec!["_INBOX.>".into()],
    }
}

/// An integrator named `name`: reads every stream through consumers named exactly
/// `name` (one per stream) and live subscriptions; publishes nothing — no event
/// subject, no dead letter, no stream change — and cannot touch another's consumers
/// (pulling from a service's durable consumer would take its messages).
pub fn integrator_permissions(name: &str) -> Permissions {
    Permissions {
        publish: vec![
            "$JS.API.INFO".into(),
            "$JS.API.STREAM.INFO.>".into(),
            "$JS.API.STREAM.NAMES".into(),
            "$JS.API.STREAM.LIST".into(),
            // Its own consumer on any stream, by the API of nats-server 2.9 and 2.10+.
            format!("$JS.API.CONSUMER.CREATE.*.{name}"),
            format!("$JS.API.CONSUMER.CREATE.*.{name}.>"),
            format!("$JS.API.CONSUMER.DURABLE.CREATE.*.{name}"),
            format!("$JS.API.CONSUMER.INFO.*.{name}"),
            format!("$JS.API.CONSUMER.MSG.NEXT.*.{name}"),
            format!("$JS.API.CONSUMER.DELETE.*.{name}"),
            // Acks of its own consumer's messages (both ack subject formats).
            format!("$JS.ACK.*.{name}.>"),
            format!("$JS.ACK.*.*.*.{name}.>"),
        ],
        subscribe: vec!["_INBOX.>".into(), "flatgov.>".into()],
    }
}

/// The HTTP gateway: hears the case events its command centre relays to
/// browsers (a plain subscription: no consumer, no stream, nothing stored or
/// acknowledged) and nothing else; publishes no event. Its publish list holds
/// only `$JS.API.INFO`, a read of the account's limits, because nats-server
/// reads an empty allow list as "allow everything".
pub fn gateway_permissions() -> Permissions {
    Permissions {
        publish: vec!["$JS.API.INFO".into()],
        subscribe: vec!["_INBOX.>".into(), "flatgov.cases.case.>".into()],
    }
}

/// The permissions of the service user named `service` (`service-<name>.nk`):
/// the gateway's own ([`gateway_permissions`]), a service's otherwise.
fn permissions_of_service(service: &str) -> Permissions {
    if service == "gateway" {
        gateway_permissions()
    } else {
        service_permissions(service)
    }
}

/// One NATS user: an nkey and its permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `service-cases`, `integrator-12345-hotline`.
    pub name: String,
    /// The user's public nkey (`U…`).
    pub nkey: String,
    pub permissions: Permissions,
}

/// The server's TLS files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// Require client certificates too.
    pub verify_clients: bool,
}

/// Where and how the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub store_dir: PathBuf,
    pub pid_file: PathBuf,
    pub tls: Option<ServerTlsFiles>,
    /// `sync_interval: always` (fsync every write, nats-server ≥ 2.10): production
    /// keeps acknowledged writes through an OS crash; Debian's 2.9 knows no such field.
    pub sync_always: bool,
}

/// Why the accounts directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an nkey user seed: {detail}")]
    Seed { path: PathBuf, detail: String },
    #[error("{0:?} is not a valid name: use lower-case letters, digits and hyphens")]
    Name(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AccountsError + '_ {
    move |source| AccountsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The users of a deployment, kept as seed files under one directory.
#[derive(Debug, Clone)]
pub struct AccountsDirectory {
    root: PathBuf,
}

impl AccountsDirectory {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn users_dir(&self) -> PathBuf {
        self.root.join("users")
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("nats-server.conf")
    }

    /// A service's credentials file (its `NATS_CREDENTIALS_FILE`).
    pub fn service_seed(&self, service: &str) -> PathBuf {
        self.users_dir().join(format!("service-{service}.nk"))
    }

    /// An integrator's credentials file.
    pub fn integrator_seed(&self, name: &str) -> PathBuf {
        self.users_dir().join(format!("integrator-{name}.nk"))
    }

    /// Creates a seed for each service that has none; existing ones are kept.
    pub fn ensure_services(&self, services: &[&str]) -> Result<(), AccountsError> {
        for service in services {
            let path = self.service_seed(service);
            if !path.exists() {
                write_seed(&path)?;
            }
        }
        Ok(())
    }

    /// Adds an integrator (a new seed; an existing one is kept) and returns its file.
    pub fn add_integrator(&self, name: &str) -> Result<PathBuf, AccountsError> {
        check_name(name)?;
        let path = self.integrator_seed(name);
        if !path.exists() {
            write_seed(&path)?;
        }
        Ok(path)
    }

    /// Removes an integrator; false when there was none.
    pub fn revoke_integrator(&self, name: &str) -> Result<bool, AccountsError> {
        check_name(name)?;
        let path = self.integrator_seed(name);
        if !path.exists() {
            return Ok(false);
        }
        std::fs::remove_file(&path).map_err(io(&path))?;
        Ok(true)
    }

    /// Revokes a service's seed (a compromised pod): it is locked out at the next
    /// reload; `ensure_services` issues a new one.
    pub fn revoke_service(&self, service: &str) -> Result<bool, AccountsError> {
        let path = self.service_seed(service);
        if !path.exists() {
            return Ok(false);
        }
        std::fs::remove_file(&path).map_err(io(&path))?;
        Ok(true)
    }

    /// Every user whose seed is in the directory, with its permissions.
    pub fn users(&self) -> Result<Vec<User>, AccountsError> {
        let dir = self.users_dir();
        let mut users = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(users),
            Err(error) => return Err(io(&dir)(error)),
        };
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            let Some(stem) = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_suffix(".nk"))
            else {
                continue;
            };
            let permissions = if let Some(service) = stem.strip_prefix("service-") {
                permissions_of_service(service)
            } else if let Some(integrator) = stem.strip_prefix("integrator-") {
                integrator_permissions(integrator)
            } else {
                continue;
            };
            let seed = std::fs::read_to_string(&path).map_err(io(&path))?;
            let pair =
                nkeys::KeyPair::from_seed(seed.trim()).map_err(|error| AccountsError::Seed {
                    path: path.clone(),
                    detail: error.to_string(),
                })?;
            users.push(User {
                name: stem.to_owned(),
                nkey: pair.public_key(),
                permissions,
            });
        }
        users.sort_by(|left, right| left.name.cmp(&right.name));
        Ok(users)
    }

    /// Writes the server configuration for the users in the directory.
    pub fn write_config(&self, settings: &ServerSettings) -> Result<PathBuf, AccountsError> {
        let text = server_config(settings, &self.users()?);
        let path = self.config_file();
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        std::fs::write(&path, text).map_err(io(&path))?;
        Ok(path)
    }
}

fn check_name(name: &str) -> Result<(), AccountsError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(AccountsError::Name(name.to_owned()))
    }
}

fn write_seed(path: &Path) -> Result<(), AccountsError> {
    let pair = nkeys::KeyPair::new_user();
    let seed = pair.seed().map_err(|error| AccountsError::Seed {
        path: path.to_owned(),
        detail: error.to_string(),
    })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    use std::io::Write as _;
    options
        .open(path)
        .and_then(|mut file| file.write_all(format!("{seed}\n").as_bytes()))
        .map_err(io(path))
}

fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The nats-server configuration: one account with JetStream, the users and their
/// permissions, TLS when given.
pub fn server_config(settings: &ServerSettings, users: &[User]) -> String {
    let mut text = format!(
        "# Generated by flatgov (`flatgov nats config`); edits are overwritten.\n\
         host: \"{host}\"\nport: {port}\npid_file: \"{pid}\"\n\
         jetstream {{\n  store_dir: \"{store}\"\n{sync}}}\n",
        host = settings.host,
        port = settings.port,
        pid = settings.pid_file.display(),
        store = settings.store_dir.display(),
        sync = if settings.sync_always {
            "  sync_interval: always\n"
        } else {
            ""
        },
    );
    if let Some(tls) = &settings.tls {
        text.push_str(&format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify: {}\n  timeout: 2\n}}\n",
            tls.cert.display(),
            tls.key.display(),
            tls.ca.display(),
            tls.verify_clients,
        ));
    }
    text.push_str(&accounts_block(users));
    text
}

/// The `accounts { … }` block alone: the one account with its users and their
/// permissions, for deployments whose server configuration includes it.
pub fn accounts_block(users: &[User]) -> String {
    let mut text = String::from("accounts {\n  FLATGOV {\n    jetstream: enabled\n    users: [\n");
    for user in users {
        text.push_str(&format!(
            "      # {name}\n      {{ nkey: \"{nkey}\", permissions: {{ publish: {{ allow: {publish} }}, subscribe: {{ allow: {subscribe} }} }} }}\n",
            name = user.name,
            nkey = user.nkey,
            publish = quoted_list(&user.permissions.publish),
            subscribe = quoted_list(&user.permissions.subscribe),
        ));
    }
    text.push_str("    ]\n  }\n}\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_publishes_only_its_own_subjects_and_an_integrator_none() {
        let cases = service_permissions("cases");
        assert!(cases.publish.contains(&"flatgov.cases.>".to_owned()));
        assert!(
            !cases
                .publish
                .iter()
                .any(|subject| subject.starts_with("flatgov.enforcement"))
        );
        assert!(
            cases
                .publish
                .contains(&"$JS.API.STREAM.CREATE.FLATGOV_CASES".to_owned())
        );
        assert!(
            !cases
                .publish
                .contains(&"$JS.API.STREAM.CREATE.FLATGOV_ENFORCEMENT".to_owned())
        );
        let integrator = integrator_permissions("hotline");
        assert!(
            !integrator
                .publish
                .iter()
                .any(|subject| subject.starts_with("flatgov."))
        );
        // It deletes and pulls from its own consumer only: never a service's.
        assert!(
            integrator
                .publish
                .iter()
                .filter(|subject| subject.contains("DELETE") || subject.contains("MSG.NEXT"))
                .all(|subject| subject.ends_with(".hotline"))
        );
        assert!(
            !integrator
                .publish
                .iter()
                .any(|subject| subject.contains("STREAM.DELETE")
                    || subject.contains("STREAM.CREATE"))
        );
    }

    #[test]
    fn the_gateway_hears_case_events_only_and_publishes_nothing() {
        let gateway = gateway_permissions();
        assert!(
            gateway
                .publish
                .iter()
                .all(|subject| !subject.starts_with("flatgov.") && !subject.contains("CONSUMER")),
            "{:?}",
            gateway.publish
        );
        assert!(
            !gateway.publish.is_empty(),
            "an empty allow list allows all"
        );
        assert_eq!(
            gateway.subscribe,
            ["_INBOX.>".to_owned(), "flatgov.cases.case.>".to_owned()]
        );
        assert_eq!(permissions_of_service("gateway"), gateway);
        assert_eq!(
            permissions_of_service("cases"),
            service_permissions("cases")
        );
    }

    #[test]
    fn users_come_from_their_seeds_and_revoked_ones_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = AccountsDirectory::new(dir.path());
        accounts.ensure_services(&["cases", "enforcement"]).unwrap();
        let feed = accounts.add_integrator("hotline-12345").unwrap();
        assert!(feed.exists());
        assert_eq!(accounts.users().unwrap().len(), 3);
        assert!(accounts.revoke_integrator("hotline-12345").unwrap());
        let names: Vec<String> = accounts
            .users()
            .unwrap()
            .into_iter()
            .map(|user| user.name)
            .collect();
        assert_eq!(names, ["service-cases", "service-enforcement"]);
        assert!(accounts.add_integrator("Not Valid").is_err());
    }
}
