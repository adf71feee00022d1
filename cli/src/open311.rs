//! `flatgov open311 clients`: the civic apps and systems allowed to post Open311
//! service requests to the gateway. Works on the gateway's own database, the only
//! state the gateway keeps; a new client's key is printed once, alone on stdout,
//! and only its hash is kept.

use flatgov_gateway::clients::{NewClient, Registry};

use crate::Output;
use crate::render::print_rows;

#[derive(Debug, clap::Args)]
pub struct Open311Args {
    /// The gateway's database (the client registry).
    #[arg(
        long,
        env = "GATEWAY_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/flatgov_gateway",
        hide_env_values = true
    )]
    database_url: String,
    #[command(subcommand)]
    command: Open311Command,
}

#[derive(Debug, clap::Subcommand)]
enum Open311Command {
    /// The registered API clients.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
enum ClientsCommand {
    /// Registers a client and prints its new api_key alone on stdout (shown once).
    Add {
        /// Who the client is, e.g. `yuhu-civic-app`; unique among active clients.
        #[arg(long)]
        name: String,
        /// The channel its reports arrive through: resident_app, hotline_12345,
        /// patrol, video_alert, walk_in or referral.
        #[arg(long)]
        channel: String,
        /// A division the client may report in and read (`subdistricts/430302001`
        /// or the code); the whole district when absent.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Requests a minute the client may make.
        #[arg(long, default_value_t = 60)]
        rate_limit: u32,
    },
    /// Every client, active first; never the keys.
    List,
    /// Revokes the active client of that name: its key stops working at once.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

/// The registry as the gateway's application role sees it: the gateway (or
/// `flatgov-gateway migrate`) prepared it, so the CLI needs no owner's password.
async fn registry(database_url: &str) -> anyhow::Result<Registry> {
    let env = flatgov_config::Env::from_pairs([("DATABASE_URL", database_url)]);
    let database = flatgov_db::DatabaseConfig::from_env(&env)?;
    let pool = flatgov_db::connect(&database).await.map_err(|error| {
        anyhow::anyhow!(
            "the client registry at GATEWAY_DATABASE_URL: {error} (start the gateway, or run `flatgov-gateway migrate`, first)"
        )
    })?;
    Ok(Registry::new(pool))
}

pub async fn run(arguments: &Open311Args, output: Output) -> anyhow::Result<()> {
    let Open311Command::Clients { command } = &arguments.command;
    let registry = registry(&arguments.database_url).await?;
    match command {
        ClientsCommand::Add {
            name,
            channel,
            jurisdiction,
            rate_limit,
        } => {
            let client = NewClient::parse(name, channel, jurisdiction.as_deref(), *rate_limit)
                .map_err(|problems| anyhow::anyhow!("{}", problems.join("; ")))?;
            let (stored, key) = registry.add(&client).await?;
            eprintln!(
                "registered {} (channel {}); the key below is shown once",
                stored.name, stored.channel
            );
            println!("{}", key.expose());
        }
        ClientsCommand::List => {
            let clients = registry.list().await?;
            let rows: Vec<serde_json::Value> = clients
                .iter()
                .map(|client| serde_json::to_value(client).unwrap_or_default())
                .collect();
            print_rows(
                &rows,
                &[
                    "name",
                    "channel",
                    "jurisdiction",
                    "rate_limit_per_minute",
                    "key_prefix",
                    "created_at",
                    "revoked_at",
                ],
                output,
            );
        }
        ClientsCommand::Revoke { name } => {
            let revoked = registry.revoke(name).await?;
            eprintln!("revoked {}: its key no longer works", revoked.name);
        }
    }
    Ok(())
}
