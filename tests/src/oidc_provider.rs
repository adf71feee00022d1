//! A real OpenID Connect provider as a process: panva's node-oidc-provider
//! (`tests/oidc-provider/provider.mjs`, installed from npm by
//! `ensure_oidc_provider` in `scripts/lib/infra.sh`), with one public client
//! for the command centre and a few accounts. It signs ID tokens and JWT
//! access tokens (audience `flatgov`) with a key of its own, publishes it
//! through discovery, requires PKCE with S256, redeems a code once, and serves
//! its own login page: a person signs in with an account's name (any
//! password).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running provider.
pub struct OidcProvider {
    /// `http://127.0.0.1:<port>`, as its tokens name it.
    pub issuer: String,
    child: Child,
    /// What it printed after the issuer line, shown when a test fails.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn script_directory() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

impl OidcProvider {
    /// Starts the provider with the client `client_id` (which may only come
    /// back to `redirect_uri`) and `accounts`: login name → the claims its
    /// access tokens carry (`realm_access.roles`, `jurisdiction`, `org`).
    pub async fn start(client_id: &str, redirect_uri: &str, accounts: &Value) -> Self {
        let directory = script_directory();
        assert!(
            directory.join("node_modules/oidc-provider").exists(),
            "{} has no node_modules: run scripts/test, or `source scripts/lib/infra.sh; \
             ensure_oidc_provider`",
            directory.display()
        );
        let mut child = Command::new("node")
            .arg(directory.join("provider.mjs"))
            .current_dir(&directory)
            .env("FLATGOV_OIDC_CLIENT_ID", client_id)
            .env("FLATGOV_OIDC_REDIRECT_URIS", redirect_uri)
            .env("FLATGOV_OIDC_ACCOUNTS", accounts.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start node ({error}); scripts/test installs nodejs")
            });
        let stdout = child.stdout.take().expect("the provider's stdout");
        let stderr = child.stderr.take().expect("the provider's stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let errors = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                errors.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let _ =
                sender.send(lines.find_map(|line| line.strip_prefix("issuer ").map(str::to_owned)));
            // Keep draining, so the provider never blocks on a full pipe.
            lines.for_each(drop);
        });
        let issuer = tokio::task::spawn_blocking(move || {
            receiver
                .recv_timeout(Duration::from_secs(30))
                .ok()
                .flatten()
        })
        .await
        .expect("waiting for the provider");
        let Some(issuer) = issuer else {
            let _ = child.kill();
            panic!(
                "the OpenID Connect provider did not start:\n{}",
                log.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
            );
        };
        Self { issuer, child, log }
    }

    /// The `AUTH_OIDC_*` settings under which the services and the gateway
    /// accept this provider's tokens, mapped as a Keycloak realm's would be.
    pub fn verifier_env(&self) -> Vec<(String, String)> {
        [
            ("AUTH_OIDC_ISSUER", self.issuer.as_str()),
            ("AUTH_OIDC_AUDIENCE", "flatgov"),
            ("AUTH_OIDC_SUBJECT_CLAIM", "preferred_username"),
            ("AUTH_OIDC_ROLES_CLAIM", "realm_access.roles"),
            ("AUTH_OIDC_ROLE_MAP", "dispatcher=subdistrict_dispatcher"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    /// What the provider wrote to stderr (its warnings and refusals).
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- the OpenID Connect provider's log ---\n{}", self.log());
        }
    }
}
