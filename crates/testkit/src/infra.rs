//! Private nats-server and PostgreSQL instances that a test may kill and
//! restart without touching the shared ones.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where ports come from: below Linux's default ephemeral range
/// (32768–60999), so no socket the kernel numbers by itself — an outgoing
/// connection, another test's `bind(0)` — can take one between the moment it
/// is handed out and the moment the process it is meant for binds it.
const HANDED_OUT_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// How long a port stays reserved for the process it was handed to. Longer
/// than any test holds a platform; a port still bound after that is skipped
/// by the bind check anyway.
const PORT_RESERVATION: Duration = Duration::from_secs(15 * 60);

/// A port on 127.0.0.1 that is free and that no other caller — in this
/// process or in any test process running beside it — will be handed while
/// this one is in use.
///
/// Binding port 0 and releasing it is not enough: the kernel may give the
/// same number to the next `bind(0)` before the service that was meant to
/// have it starts, and then two services of one platform race for one port.
/// So each port is reserved by creating a file named after it in a shared
/// directory (`create_new` is atomic across processes), and checked free by
/// binding it once.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};

    let reservations = std::env::temp_dir().join("flatgov-test-ports");
    std::fs::create_dir_all(&reservations)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", reservations.display()));
    // A per-process random seed, so processes started together do not walk
    // the range in the same order.
    let seed = std::collections::hash_map::RandomState::new();
    let span = u64::from(HANDED_OUT_PORTS.end - HANDED_OUT_PORTS.start);
    for attempt in 0..span {
        let mut hasher = seed.build_hasher();
        hasher.write_u64(attempt);
        hasher.write_u32(std::process::id());
        let port = HANDED_OUT_PORTS.start
            + u16::try_from(hasher.finish() % span).expect("span fits in u16");
        if reserve_port(&reservations, port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!(
        "no free port left in {HANDED_OUT_PORTS:?}; remove {} if no tests are running",
        reservations.display()
    );
}

/// Takes the reservation of `port`, reclaiming one older than
/// [`PORT_RESERVATION`] (left by a test process that has ended).
fn reserve_port(reservations: &Path, port: u16) -> bool {
    let path = reservations.join(port.to_string());
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .is_ok()
    };
    if create() {
        return true;
    }
    let stale = std::fs::metadata(&path)
        .and_then(|metadata| metadata.modified())
        .is_ok_and(|modified| modified.elapsed().unwrap_or_default() > PORT_RESERVATION);
    stale && std::fs::remove_file(&path).is_ok() && create()
}

fn wait_for_port(port: u16, timeout: Duration, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < timeout,
            "{what} did not open port {port} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut process) = child.take() {
        let _ = process.kill();
        let _ = process.wait();
    }
}

/// A JetStream-enabled nats-server on its own port and store directory.
/// `stop` kills it like a crash; `start` brings it back with its data.
pub struct PrivateNats {
    port: u16,
    store: tempfile::TempDir,
    process: Option<Child>,
    /// The users and their permissions, when the server runs with accounts.
    accounts: Option<flatgov_messaging::accounts::AccountsDirectory>,
    /// Whether the server speaks TLS only.
    tls: Option<flatgov_messaging::accounts::ServerTlsFiles>,
}

impl PrivateNats {
    pub fn start() -> Self {
        let mut nats = Self {
            port: free_port(),
            store: tempfile::tempdir().expect("nats store directory"),
            process: None,
            accounts: None,
            tls: None,
        };
        nats.resume();
        nats
    }

    /// A server with the users of `accounts` (each with its permissions) and, when
    /// given, TLS required of every client.
    pub fn start_with_accounts(
        accounts: flatgov_messaging::accounts::AccountsDirectory,
        tls: Option<flatgov_messaging::accounts::ServerTlsFiles>,
    ) -> Self {
        let mut nats = Self {
            port: free_port(),
            store: tempfile::tempdir().expect("nats store directory"),
            process: None,
            accounts: Some(accounts),
            tls,
        };
        nats.write_config();
        nats.resume();
        nats
    }

    fn settings(&self) -> flatgov_messaging::accounts::ServerSettings {
        flatgov_messaging::accounts::ServerSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            store_dir: self.store.path().join("jetstream"),
            pid_file: self.store.path().join("nats.pid"),
            tls: self.tls.clone(),
            sync_always: false,
        }
    }

    fn write_config(&self) {
        if let Some(accounts) = &self.accounts {
            accounts
                .write_config(&self.settings())
                .expect("writing the nats configuration");
        }
    }

    /// Rewrites the configuration from the accounts directory (after a user was added
    /// or revoked) and has the server reload it.
    pub fn reload(&self) {
        self.write_config();
        if let Some(process) = &self.process {
            let status = Command::new("kill")
                .args(["-HUP", &process.id().to_string()])
                .status()
                .expect("kill -HUP");
            assert!(status.success(), "cannot signal nats-server to reload");
        }
    }

    /// `nats://127.0.0.1:<port>`, or `tls://localhost:<port>` for a TLS server (the
    /// name its certificate carries).
    pub fn url(&self) -> String {
        if self.tls.is_some() {
            format!("tls://localhost:{}", self.port)
        } else {
            format!("nats://127.0.0.1:{}", self.port)
        }
    }

    /// Kills the server (SIGKILL).
    pub fn stop(&mut self) {
        kill(&mut self.process);
    }

    /// Starts the server again on the same port with the same store.
    pub fn resume(&mut self) {
        let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
        let mut command = Command::new(&binary);
        match &self.accounts {
            Some(accounts) => {
                command.arg("-c").arg(accounts.config_file());
            }
            None => {
                command
                    .args([
                        "-a",
                        "127.0.0.1",
                        "-p",
                        &self.port.to_string(),
                        "-js",
                        "-sd",
                    ])
                    .arg(self.store.path());
            }
        }
        let process = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary} (set NATS_SERVER_BIN): {error}"));
        self.process = Some(process);
        wait_for_port(self.port, Duration::from_secs(10), "nats-server");
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        kill(&mut self.process);
    }
}

/// A PostgreSQL cluster of its own (initdb in a temporary directory), with
/// trust authentication for user `postgres`. As root it runs as the
/// `postgres` system user, because PostgreSQL refuses to run as root.
pub struct PrivatePostgres {
    port: u16,
    data: tempfile::TempDir,
    process: Option<Child>,
    run_as_postgres: bool,
    /// Whether the server speaks TLS only (no plaintext TCP connections).
    tls: bool,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        Self::initialise(None)
    }

    /// A server that accepts TCP connections over TLS only, presenting the
    /// certificate and key given (issued for `localhost`).
    pub fn start_with_tls(cert_file: &Path, key_file: &Path) -> Self {
        Self::initialise(Some((cert_file, key_file)))
    }

    fn initialise(tls: Option<(&Path, &Path)>) -> Self {
        let run_as_postgres = is_root();
        let data = tempfile::Builder::new()
            .prefix("flatgov-pg-")
            .tempdir()
            .expect("postgres data directory");
        if run_as_postgres {
            chown_to_postgres(data.path());
        }
        let initdb = pg_binary("initdb");
        let status = postgres_command(run_as_postgres, &initdb)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(data.path().join("cluster"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", initdb.display()));
        assert!(
            status.success(),
            "initdb failed in {}",
            data.path().display()
        );
        if let Some((cert_file, key_file)) = tls {
            let cluster = data.path().join("cluster");
            std::fs::copy(cert_file, cluster.join("server.crt")).expect("server certificate");
            std::fs::copy(key_file, cluster.join("server.key")).expect("server key");
            std::fs::write(
                cluster.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
            )
            .expect("pg_hba.conf");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(
                    cluster.join("server.key"),
                    std::fs::Permissions::from_mode(0o600),
                )
                .expect("key permissions");
            }
            if run_as_postgres {
                chown_to_postgres(&cluster);
            }
        }
        let mut postgres = Self {
            port: free_port(),
            data,
            process: None,
            run_as_postgres,
            tls: tls.is_some(),
        };
        postgres.resume();
        postgres
    }

    /// A URL naming `database` on this instance.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A URL naming `database` that verifies the server's certificate against
    /// `ca_file` and its host name (`sslmode=verify-full`).
    pub fn verified_url(&self, database: &str, ca_file: &Path) -> String {
        format!(
            "postgres://postgres@localhost:{}/{database}?sslmode=verify-full&sslrootcert={}",
            self.port,
            ca_file.display()
        )
    }

    /// Kills the server (SIGKILL), like a crash.
    pub fn stop(&mut self) {
        kill(&mut self.process);
        // A killed postmaster leaves children that still hold the port for
        // a moment; wait until it is free so `resume` can bind it.
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && started.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops the server as an operator's restart or a failover does (fast
    /// shutdown, SIGINT): every session is ended with SQLSTATE 57P01 before
    /// the server exits.
    pub fn shut_down(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = Command::new("kill")
                .args(["-INT", &process.id().to_string()])
                .status();
            let _ = process.wait();
        }
    }

    /// Starts the server again on the same port with the same data. After
    /// a crash the old backends need a moment to notice and release shared
    /// memory, so a start that exits at once is retried.
    pub fn resume(&mut self) {
        let started = Instant::now();
        loop {
            let mut process = self.spawn_postmaster();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    self.process = Some(process);
                    return;
                }
                if let Ok(Some(_)) = process.try_wait() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "postgres did not open port {}",
                    self.port
                );
                std::thread::sleep(Duration::from_millis(25));
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "postgres kept exiting at start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn spawn_postmaster(&self) -> Child {
        let postgres = pg_binary("postgres");
        let cluster = self.data.path().join("cluster");
        let mut command = postgres_command(self.run_as_postgres, &postgres);
        if self.tls {
            command.args([
                "-c",
                "ssl=on",
                "-c",
                "ssl_cert_file=server.crt",
                "-c",
                "ssl_key_file=server.key",
            ]);
        }
        command
            .arg("-D")
            .arg(&cluster)
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=100",
                "-k",
            ])
            .arg(self.data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", postgres.display()))
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        kill(&mut self.process);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to_postgres(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .expect("chown");
    assert!(
        status.success(),
        "cannot chown {} to postgres",
        path.display()
    );
}

fn postgres_command(run_as_postgres: bool, binary: &Path) -> Command {
    if run_as_postgres {
        // setpriv execs (unlike runuser, which forks and waits), so the child
        // we hold is the postmaster itself and killing it is a real crash.
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(binary);
        command
    } else {
        Command::new(binary)
    }
}

/// `PG_BIN_DIR/<name>`, else the newest `/usr/lib/postgresql/<v>/bin/<name>`.
fn pg_binary(name: &str) -> PathBuf {
    if let Ok(directory) = std::env::var("PG_BIN_DIR") {
        return PathBuf::from(directory).join(name);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, entry.path().join("bin").join(name)))
        })
        .filter(|(_, path)| path.exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, path)| path)
        .unwrap_or_else(|| PathBuf::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The failure this guards against: two services of one platform were
    /// handed the same port, one could not start, and the other answered
    /// calls meant for it with `Unimplemented`.
    #[test]
    fn ports_handed_out_are_never_handed_out_twice_and_are_bindable() {
        let ports: Vec<u16> = (0..100).map(|_| free_port()).collect();
        let distinct: std::collections::HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "a port was handed out twice");
        for port in ports {
            assert!(
                HANDED_OUT_PORTS.contains(&port),
                "{port} is in the ephemeral range"
            );
            TcpListener::bind(("127.0.0.1", port))
                .unwrap_or_else(|error| panic!("port {port} was handed out but is taken: {error}"));
        }
    }
}
