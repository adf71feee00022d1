//! Private nats-server and PostgreSQL instances that a test may kill and
//! restart without touching the shared ones.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
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
}

impl PrivateNats {
    pub fn start() -> Self {
        let mut nats = Self {
            port: free_port(),
            store: tempfile::tempdir().expect("nats store directory"),
            process: None,
        };
        nats.resume();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL).
    pub fn stop(&mut self) {
        kill(&mut self.process);
    }

    /// Starts the server again on the same port with the same store.
    pub fn resume(&mut self) {
        let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
        let process = Command::new(&binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
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
}

impl PrivatePostgres {
    pub fn start() -> Self {
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
        let mut postgres = Self {
            port: free_port(),
            data,
            process: None,
            run_as_postgres,
        };
        postgres.resume();
        postgres
    }

    /// A URL naming `database` on this instance.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
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
        postgres_command(self.run_as_postgres, &postgres)
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
