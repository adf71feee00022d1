//! `flatgov`: the command-line tool for operators and integrators.

use std::process::ExitCode;

use clap::Parser as _;

mod asyncapi;
mod auth;
mod events;

/// Operate and integrate with a flatgov platform.
///
/// Endpoints and credentials come from flags or environment variables, so
/// the same commands work against `scripts/up` on a laptop and against a
/// deployment.
#[derive(Debug, clap::Parser)]
#[command(name = "flatgov", version, about, long_about = None)]
struct Cli {
    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table, env = "FLATGOV_OUTPUT")]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

/// Output format shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human-readable tables and text.
    Table,
    /// One JSON document per result, for scripts.
    Json,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create the Ed25519 key pair that signs tokens (kept if it exists).
    Keygen(auth::KeygenArgs),
    /// Print a bearer token the platform accepts, alone on stdout.
    Token(auth::TokenArgs),
    /// Read the platform's event streams as an integrator does.
    Events(events::EventsArgs),
}

fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(arguments) => auth::keygen(&arguments, cli.output),
        Command::Token(arguments) => auth::token(&arguments, cli.output),
        Command::Events(arguments) => block_on(events::run(&arguments, cli.output)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flatgov: {error:#}");
            ExitCode::FAILURE
        }
    }
}
