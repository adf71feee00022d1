//! `flatgov`: the command-line tool for operators and integrators.

use std::process::ExitCode;

use clap::Parser as _;

mod asyncapi;
mod audit;
mod auth;
mod boundaries;
mod cases;
mod certs;
mod connect;
mod delivery;
mod demo;
mod enforcement;
mod events;
mod export;
mod import;
mod indicators;
mod labels;
mod nats;
mod notices;
mod onboard;
mod open311;
mod privacy;
mod render;
mod sheet;
mod template;

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
    /// Language of table labels: zh-CN by default, from the locale (LANG, LC_ALL).
    #[arg(long, global = true, value_enum, env = "FLATGOV_LANG")]
    lang: Option<labels::Language>,
    #[command(flatten)]
    connection: connect::Connection,
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
    /// The platform's signing keys and the key set the services trust.
    Keys(auth::KeysArgs),
    /// Print a bearer token the platform accepts, alone on stdout.
    Token(auth::TokenArgs),
    /// Read the platform's event streams as an integrator does.
    Events(events::EventsArgs),
    /// The synthetic demo district.
    Demo(demo::DemoArgs),
    /// Import boundaries, the district's tables (subdistricts, communities,
    /// staff, teams) or duty lists from files.
    Import(import::ImportArgs),
    /// Write a ready-made XLSX (or CSV) template for a table import.
    Template(template::TemplateArgs),
    /// Export blocks (GeoJSON), staff and teams (CSV/XLSX) or a duty list
    /// in the format the import reads: exported and imported again, nothing changes.
    Export(export::ExportArgs),
    /// Report, follow and move cases through the closed loop.
    Case(cases::CaseArgs),
    /// Blow the whistle and follow joint enforcement operations.
    Whistle(enforcement::WhistleArgs),
    /// Block notices to the blocks' WeCom groups, block robots, feedback gateways.
    Notice(notices::NoticeArgs),
    /// Response, resolution and satisfaction rates and the rest, as tables.
    Indicators(indicators::IndicatorsArgs),
    /// Read and verify a service's audit trail.
    Audit(audit::AuditArgs),
    /// The local certificate authority and certificates (development).
    Certs(certs::CertsArgs),
    /// The NATS server configuration: users, permissions, TLS.
    Nats(nats::NatsArgs),
    /// Read-only NATS credentials for outside systems.
    Integrator(nats::IntegratorArgs),
    /// The gateway's Open311 API clients (civic apps, 311 systems).
    Open311(open311::Open311Args),
    /// Personal data: everything held about one person (access requests).
    Privacy(privacy::PrivacyArgs),
    /// Events a service's consumers gave up on: list, show, redrive.
    Deadletters(delivery::DeadLettersArgs),
    /// Outbox rows parked after repeated publish failures: show, retry.
    Outbox(delivery::OutboxArgs),
}

fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

fn with_session<F, Fut>(connection: &connect::Connection, command: F) -> anyhow::Result<()>
where
    F: FnOnce(connect::Session) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let session = connect::Session::open(connection)?;
    block_on(command(session))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    labels::choose(cli.lang);
    let result = match cli.command {
        Command::Keys(arguments) => block_on(auth::keys(&arguments, cli.output)),
        Command::Token(arguments) => auth::token(&arguments, cli.output),
        Command::Events(arguments) => block_on(events::run(&arguments, cli.output)),
        Command::Demo(arguments) => block_on(demo::run(&arguments, &cli.connection, cli.output)),
        Command::Import(arguments) => {
            block_on(import::run(&arguments, &cli.connection, cli.output))
        }
        Command::Template(arguments) => template::run(&arguments),
        Command::Export(arguments) => with_session(&cli.connection, |session| async move {
            export::run(&arguments, &session, cli.output).await
        }),
        Command::Case(arguments) => with_session(&cli.connection, |session| async move {
            cases::run(&arguments, &session, cli.output).await
        }),
        Command::Whistle(arguments) => with_session(&cli.connection, |session| async move {
            enforcement::run(&arguments, &session, cli.output).await
        }),
        Command::Notice(arguments) => block_on(notices::run_command(
            &arguments,
            &cli.connection,
            cli.output,
        )),
        Command::Indicators(arguments) => with_session(&cli.connection, |session| async move {
            indicators::run(&arguments, &session, cli.output).await
        }),
        Command::Audit(arguments) => with_session(&cli.connection, |session| async move {
            audit::run(&arguments, &session, cli.output).await
        }),
        Command::Certs(arguments) => certs::certs(&arguments, cli.output),
        Command::Nats(arguments) => nats::nats(&arguments, cli.output),
        Command::Integrator(arguments) => nats::integrator(&arguments, cli.output),
        Command::Open311(arguments) => block_on(open311::run(&arguments, cli.output)),
        Command::Privacy(arguments) => with_session(&cli.connection, |session| async move {
            privacy::run(&arguments, &session, cli.output).await
        }),
        Command::Deadletters(arguments) => with_session(&cli.connection, |session| async move {
            delivery::dead_letters(&arguments, &session, cli.output).await
        }),
        Command::Outbox(arguments) => with_session(&cli.connection, |session| async move {
            delivery::outbox(&arguments, &session, cli.output).await
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flatgov: {error:#}");
            ExitCode::FAILURE
        }
    }
}
