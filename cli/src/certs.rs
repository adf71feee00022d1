//! `flatgov certs init`: a local certificate authority and a certificate per service,
//! NATS, PostgreSQL and the CLI, for development machines (production uses
//! cert-manager or the district's PKI).

use std::path::PathBuf;

use crate::Output;

pub const DEFAULT_TLS_DIR: &str = ".flatgov/tls";

#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    #[command(subcommand)]
    command: CertsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CertsCommand {
    /// Create the authority and every certificate that is missing; existing ones are kept.
    Init {
        #[arg(long, default_value = DEFAULT_TLS_DIR)]
        dir: PathBuf,
        /// More host names the certificates should carry (repeat).
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
}

pub fn certs(arguments: &CertsArgs, output: Output) -> anyhow::Result<()> {
    let CertsCommand::Init { dir, hosts } = &arguments.command;
    let extra: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let authority = flatgov_tls::init(dir, &extra)?;
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({ "ca_file": authority.ca_file(), "directory": dir })
        ),
        Output::Table => println!("{}", authority.ca_file().display()),
    }
    Ok(())
}
