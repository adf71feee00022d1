//! `flatgov nats config` (the server configuration: a user per service with its
//! permissions, TLS) and `flatgov integrator credentials|revoke` (read-only NATS users
//! for outside systems).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use flatgov_messaging::accounts::{AccountsDirectory, ServerSettings, ServerTlsFiles};

use crate::Output;

/// Where `scripts/up` keeps the local platform's NATS users and configuration.
pub const DEFAULT_NATS_DIR: &str = ".flatgov/nats";

/// The services that publish and consume events.
const SERVICES: [&str; 9] = [
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

#[derive(Debug, clap::Args)]
pub struct NatsArgs {
    #[command(subcommand)]
    command: NatsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum NatsCommand {
    /// Write the server configuration: a user (nkey) per service allowed to publish
    /// only its own subjects, the integrators, JetStream, and TLS when a certificate
    /// directory is given. Seeds that exist are kept.
    Config(ConfigArgs),
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[arg(long, default_value = DEFAULT_NATS_DIR)]
    dir: PathBuf,
    /// host:port to listen on.
    #[arg(long, default_value = "127.0.0.1:4223")]
    listen: String,
    /// A directory from `flatgov certs init` (nats.pem, nats-key.pem, ca.pem): TLS on.
    #[arg(long)]
    tls_dir: Option<PathBuf>,
    /// Write `sync_interval: always` (nats-server 2.10 and later).
    #[arg(long)]
    sync_always: bool,
    /// Also write the `accounts { … }` block alone to this file, for a server
    /// configuration of your own that includes it.
    #[arg(long)]
    accounts_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct IntegratorArgs {
    #[command(subcommand)]
    command: IntegratorCommand,
}

#[derive(Debug, clap::Subcommand)]
enum IntegratorCommand {
    /// Issue read-only NATS credentials for an outside system (kept if it has some)
    /// and reload the server.
    Credentials {
        /// Lower-case letters, digits and hyphens, e.g. hotline-12345.
        #[arg(long)]
        name: String,
        #[arg(long, default_value = DEFAULT_NATS_DIR)]
        dir: PathBuf,
    },
    /// Withdraw an integrator's credentials and reload the server: it is locked out.
    Revoke {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = DEFAULT_NATS_DIR)]
        dir: PathBuf,
    },
}

/// What `nats config` wrote last, so integrator commands rewrite the same.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Written {
    host: String,
    port: u16,
    tls_dir: Option<PathBuf>,
    sync_always: bool,
}

fn settings(dir: &Path, written: &Written) -> anyhow::Result<ServerSettings> {
    let tls = match &written.tls_dir {
        None => None,
        Some(tls_dir) => Some(ServerTlsFiles {
            cert: absolute(&tls_dir.join("nats.pem"))?,
            key: absolute(&tls_dir.join("nats-key.pem"))?,
            ca: absolute(&tls_dir.join("ca.pem"))?,
            verify_clients: false,
        }),
    };
    Ok(ServerSettings {
        host: written.host.clone(),
        port: written.port,
        store_dir: absolute(dir)?.join("jetstream"),
        pid_file: absolute(dir)?.join("nats-server.pid"),
        tls,
        sync_always: written.sync_always,
    })
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    Ok(std::env::current_dir()?.join(path))
}

fn url_of(written: &Written) -> String {
    match written.tls_dir {
        Some(_) => format!("tls://localhost:{}", written.port),
        None => format!("nats://{}:{}", written.host, written.port),
    }
}

pub fn nats(arguments: &NatsArgs, output: Output) -> anyhow::Result<()> {
    let NatsCommand::Config(config) = &arguments.command;
    let (host, port) = config
        .listen
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
        .with_context(|| format!("--listen {:?} is not host:port", config.listen))?;
    let accounts = AccountsDirectory::new(&config.dir);
    accounts.ensure_services(&SERVICES)?;
    let written = Written {
        host,
        port,
        tls_dir: config.tls_dir.clone(),
        sync_always: config.sync_always,
    };
    let path = accounts.write_config(&settings(&config.dir, &written)?)?;
    if let Some(accounts_file) = &config.accounts_file {
        std::fs::write(
            accounts_file,
            flatgov_messaging::accounts::accounts_block(&accounts.users()?),
        )
        .with_context(|| format!("writing {}", accounts_file.display()))?;
    }
    std::fs::write(
        config.dir.join("settings.json"),
        serde_json::to_string_pretty(&written)?,
    )?;
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({ "config_file": path, "nats_url": url_of(&written) })
        ),
        Output::Table => println!("{}", path.display()),
    }
    Ok(())
}

fn reload(dir: &Path) -> anyhow::Result<()> {
    let pid_file = dir.join("nats-server.pid");
    let Ok(pid) = std::fs::read_to_string(&pid_file) else {
        eprintln!(
            "nats-server is not running here ({} missing): the change applies at its next start",
            pid_file.display()
        );
        return Ok(());
    };
    let status = std::process::Command::new("kill")
        .args(["-HUP", pid.trim()])
        .status()
        .context("signalling nats-server to reload")?;
    if !status.success() {
        eprintln!(
            "nats-server (pid {}) did not take the signal: is it still running?",
            pid.trim()
        );
    }
    Ok(())
}

pub fn integrator(arguments: &IntegratorArgs, output: Output) -> anyhow::Result<()> {
    match &arguments.command {
        IntegratorCommand::Credentials { name, dir } => {
            let written: Written = serde_json::from_str(
                &std::fs::read_to_string(dir.join("settings.json")).with_context(|| {
                    format!("no NATS configuration in {} yet: run `flatgov nats config` (scripts/up does)", dir.display())
                })?,
            )?;
            let accounts = AccountsDirectory::new(dir);
            let credentials = absolute(&accounts.add_integrator(name)?)?;
            accounts.write_config(&settings(dir, &written)?)?;
            reload(dir)?;
            let ca_file = written
                .tls_dir
                .as_ref()
                .map(|tls_dir| absolute(&tls_dir.join("ca.pem")))
                .transpose()?;
            let answer = serde_json::json!({
                "nats_url": url_of(&written),
                "credentials_file": credentials,
                "ca_file": ca_file,
            });
            match output {
                Output::Json => println!("{answer}"),
                Output::Table => {
                    println!("nats url:          {}", url_of(&written));
                    println!("credentials file:  {}", credentials.display());
                    if let Some(ca_file) = ca_file {
                        println!("ca file:           {}", ca_file.display());
                    }
                }
            }
            Ok(())
        }
        IntegratorCommand::Revoke { name, dir } => {
            let written: Written =
                serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json"))?)?;
            let accounts = AccountsDirectory::new(dir);
            if !accounts.revoke_integrator(name)? {
                anyhow::bail!("no integrator {name:?} in {}", dir.display());
            }
            accounts.write_config(&settings(dir, &written)?)?;
            reload(dir)?;
            println!("revoked {name}");
            Ok(())
        }
    }
}
