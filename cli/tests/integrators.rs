//! `flatgov certs init`, `flatgov nats config` and `flatgov integrator
//! credentials|revoke` as an operator runs them: the real binary writes the
//! configuration a real nats-server runs on (accounts, TLS), issues an outside
//! system read-only credentials while the server runs, and revokes them so they
//! no longer connect — the server reloading each time without a restart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use flatgov_messaging::accounts::AccountsDirectory;

const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `flatgov <arguments>` in English; answers (succeeded, stdout, stderr).
fn flatgov(arguments: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_flatgov"))
        .args(arguments)
        .env("FLATGOV_LANG", "en")
        .env_remove("FLATGOV_OUTPUT")
        .output()
        .expect("the flatgov binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn succeeds(arguments: &[&str]) -> serde_json::Value {
    let (ok, stdout, stderr) = flatgov(arguments);
    assert!(ok, "flatgov {arguments:?} failed:\n{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The nats-server process, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(config_file: &str, port: u16) -> Server {
    let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
    let server = Server(
        Command::new(binary)
            .args(["-c", config_file])
            .spawn()
            .expect("nats-server runs"),
    );
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Connects with the nkey seed in `credentials` over TLS trusting `ca_file`.
async fn connect(
    url: &str,
    credentials: &Path,
    ca_file: &Path,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let seed = std::fs::read_to_string(credentials).expect("the credentials file");
    async_nats::ConnectOptions::with_nkey(seed.trim().to_owned())
        .require_tls(true)
        .add_root_certificates(ca_file.to_owned())
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
}

/// Waits until `credentials` connect (`wanted`) or are refused (`!wanted`): the server
/// applies a reload a moment after the signal.
async fn until_connects(url: &str, credentials: &Path, ca_file: &Path, wanted: bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let attempt = tokio::time::timeout(Duration::from_secs(3), async {
            let client = connect(url, credentials, ca_file).await.ok()?;
            client.flush().await.ok()
        })
        .await;
        let connected = matches!(attempt, Ok(Some(())));
        if connected == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the credentials {} connecting stayed {connected}",
            credentials.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_issues_an_integrator_read_only_credentials_and_revokes_them_on_a_running_server()
 {
    let directory = tempfile::tempdir().unwrap();
    let tls = directory.path().join("tls");
    let nats = directory.path().join("nats");

    // Credentials before there is a configuration: the error says what to run first.
    let (ok, _, stderr) = flatgov(&[
        "integrator",
        "credentials",
        "--name",
        "hotline-12345",
        "--dir",
        text(&nats),
    ]);
    assert!(!ok);
    assert!(stderr.contains("flatgov nats config"), "{stderr}");

    let (ok, stdout, stderr) = flatgov(&["certs", "init", "--dir", text(&tls)]);
    assert!(ok, "{stdout}\n{stderr}");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let config = succeeds(&[
        "--output",
        "json",
        "nats",
        "config",
        "--dir",
        text(&nats),
        "--listen",
        &listen,
        "--tls-dir",
        text(&tls),
    ]);
    let config_file = config["config_file"].as_str().expect("the config file");
    assert_eq!(config["nats_url"], format!("tls://localhost:{port}"));
    let _server = start_server(config_file, port);

    // Issued while the server runs: it reloads and the new user connects at once.
    let issue = [
        "--output",
        "json",
        "integrator",
        "credentials",
        "--name",
        "hotline-12345",
        "--dir",
        text(&nats),
    ];
    let issued = succeeds(&issue);
    let url = issued["nats_url"].as_str().expect("nats_url").to_owned();
    let credentials = PathBuf::from(issued["credentials_file"].as_str().expect("credentials"));
    let ca_file = PathBuf::from(issued["ca_file"].as_str().expect("ca_file"));
    assert_eq!(ca_file, tls.join("ca.pem"));
    until_connects(&url, &credentials, &ca_file, true).await;

    // Asking again keeps the same credentials (an integrator's seed is not rotated by
    // accident).
    let seed = std::fs::read_to_string(&credentials).unwrap();
    let again = succeeds(&issue);
    assert_eq!(again["credentials_file"], issued["credentials_file"]);
    assert_eq!(std::fs::read_to_string(&credentials).unwrap(), seed);

    // The cases service publishes an event; the integrator reads it but cannot publish.
    let accounts = AccountsDirectory::new(&nats);
    let cases = connect(&url, &accounts.service_seed("cases"), &ca_file)
        .await
        .expect("the cases service connects with the seed `nats config` wrote");
    let cases = async_nats::jetstream::new(cases);
    cases
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: "FLATGOV_CASES".into(),
            subjects: vec!["flatgov.cases.>".into()],
            ..Default::default()
        })
        .await
        .expect("the cases service creates its stream");
    cases
        .publish("flatgov.cases.case.reported", vec![7].into())
        .await
        .expect("published")
        .await
        .expect("stored");
    let integrator = async_nats::jetstream::new(
        connect(&url, &credentials, &ca_file)
            .await
            .expect("connects"),
    );
    let stream = integrator
        .get_stream("FLATGOV_CASES")
        .await
        .expect("an integrator reads the stream");
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("hotline-12345".into()),
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("an integrator pulls through the consumer named after it");
    let mut messages = consumer.fetch().max_messages(1).messages().await.unwrap();
    let first = futures::StreamExt::next(&mut messages)
        .await
        .expect("a message")
        .expect("readable");
    assert_eq!(first.payload.as_ref(), [7]);
    let forged = tokio::time::timeout(
        Duration::from_secs(5),
        integrator.publish("flatgov.cases.case.reported", vec![9].into()),
    )
    .await;
    let stored = match forged {
        Ok(Ok(acknowledgement)) => tokio::time::timeout(Duration::from_secs(5), acknowledgement)
            .await
            .is_ok_and(|stored| stored.is_ok()),
        _ => false,
    };
    assert!(!stored, "an integrator's publication is never stored");

    // Revoked: the credentials no longer open a connection. An unknown name is an error
    // that names it.
    let revoke = [
        "integrator",
        "revoke",
        "--name",
        "hotline-12345",
        "--dir",
        text(&nats),
    ];
    let (ok, stdout, stderr) = flatgov(&revoke);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("revoked hotline-12345"), "{stdout}");
    assert!(
        !credentials.exists(),
        "the platform keeps no copy of a revoked seed"
    );
    // The outside system still holds its copy: it no longer opens a connection.
    let kept = directory.path().join("hotline-12345-copy.nk");
    std::fs::write(&kept, &seed).unwrap();
    until_connects(&url, &kept, &ca_file, false).await;
    let (ok, _, stderr) = flatgov(&revoke);
    assert!(!ok, "revoking twice is an error");
    assert!(stderr.contains("hotline-12345"), "{stderr}");
}
