//! Each service's own PostgreSQL database.
//!
//! [`connect`] creates the database named in `DATABASE_URL` when it does not
//! exist yet (so a fresh PostgreSQL needs no manual setup), then opens a pool
//! sized from configuration. [`migrate`] applies embedded migrations under
//! sqlx's advisory lock, so several replicas starting together migrate once.
//!
//! Two roles: migrations run as the owner (`DATABASE_OWNER_URL`), which
//! then [`grant_application_privileges`] to the role the service runs as
//! (`DATABASE_URL`): read and write its tables, but only append to the
//! audit trail and the history tables it declares, never change or delete
//! them.
//!
//! [`clock::Clock`] is where every service takes the time from, and
//! [`StoreError`] is what every service's store answers with.

pub mod clock;
pub mod store;

pub use store::{DatabaseContext, StoreError};

use std::str::FromStr;
use std::time::Duration;

use flatgov_config::{ConfigError, Env, Secret};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _, PgPool};

pub use sqlx;

/// The longest pause between start-up's attempts to reach PostgreSQL. Start-up
/// waits for as long as it takes (not ready meanwhile): a database that is
/// away for minutes — a failover, a restore — must not turn every service into
/// a crash loop. It used to give up after 30 s and exit.
const CONNECT_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Database settings shared by every service.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/database`; the database is created
    /// if missing. A secret because it usually carries a password.
    pub url: Secret<String>,
    /// Upper bound of pooled connections per process.
    pub max_connections: u32,
    /// Apply migrations at start. Kubernetes turns this off and runs the
    /// `migrate` subcommand once per rollout instead.
    pub migrate_on_start: bool,
    /// The owner role's URL (same database), which migrates and grants the
    /// application role its privileges. Without it the application role
    /// migrates and owns the tables itself, so append-only tables are not
    /// protected from it (fine for a laptop, refused nowhere, warned at start).
    pub owner_url: Option<Secret<String>>,
}

impl DatabaseConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url: Secret<String> = env.required(
            "DATABASE_URL",
            "a postgres:// URL naming the service's database",
        )?;
        if let Err(error) = PgConnectOptions::from_str(url.expose()) {
            return Err(ConfigError::Malformed {
                name: "DATABASE_URL",
                value: "[redacted]".to_owned(),
                reason: error.to_string(),
                expected: "a postgres:// URL naming the service's database",
            });
        }
        let owner_url: Option<Secret<String>> = env.maybe(
            "DATABASE_OWNER_URL",
            "a postgres:// URL of the role that owns the service's database (migrations)",
        )?;
        if let Some(owner) = &owner_url
            && let Err(error) = PgConnectOptions::from_str(owner.expose())
        {
            return Err(ConfigError::Malformed {
                name: "DATABASE_OWNER_URL",
                value: "[redacted]".to_owned(),
                reason: error.to_string(),
                expected: "a postgres:// URL of the role that owns the service's database",
            });
        }
        Ok(Self {
            url,
            max_connections: env.optional("DATABASE_MAX_CONNECTIONS", 10, "a positive integer")?,
            migrate_on_start: env.optional("DATABASE_MIGRATE_ON_START", true, "true or false")?,
            owner_url,
        })
    }
}

/// Why the database could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("DATABASE_URL is not a valid postgres URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error("database name {0:?} must be lower-case letters, digits and underscores")]
    Name(String),
    #[error("cannot reach postgresql at {target} after {waited:?}: {source}")]
    Unreachable {
        target: String,
        waited: Duration,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create database {name}: {source}")]
    Create {
        name: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot grant the application role {role} its privileges: {source}")]
    Grant {
        role: String,
        #[source]
        source: sqlx::Error,
    },
}

/// Creates the configured database if needed and returns a pool on it.
pub async fn connect(config: &DatabaseConfig) -> Result<PgPool, DatabaseError> {
    connect_url(config.url.expose(), config.max_connections).await
}

/// Creates the database if needed and returns a small pool on it as the
/// owner role (or as the application role when no owner is configured),
/// for migrations and grants.
pub async fn connect_owner(config: &DatabaseConfig) -> Result<PgPool, DatabaseError> {
    let url = config.owner_url.as_ref().unwrap_or(&config.url);
    connect_url(url.expose(), 2).await
}

async fn connect_url(url: &str, max_connections: u32) -> Result<PgPool, DatabaseError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(DatabaseError::Url)?
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    let name = options
        .get_database()
        .unwrap_or_else(|| options.get_username())
        .to_owned();
    ensure_database(&options, &name).await?;
    PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| DatabaseError::Unreachable {
            target: name,
            waited: Duration::ZERO,
            source,
        })
}

/// Applies `migrators` in order. Each keeps its own history table, so the
/// chassis' tables and the service's evolve independently.
pub async fn migrate(pool: &PgPool, migrators: &[&Migrator]) -> Result<(), DatabaseError> {
    for migrator in migrators {
        migrator.run(pool).await?;
    }
    Ok(())
}

/// What the application role may not do to some tables, and which
/// functions it runs instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct Privileges<'a> {
    /// Tables the application may read and insert into, never update or
    /// delete from (history: case records, enforcement actions).
    pub append_only: &'a [&'a str],
    /// Tables the application may only read (written through functions).
    pub read_only: &'a [&'a str],
    /// Functions (with their argument types) the application executes.
    pub functions: &'a [&'a str],
}

/// Grants the application role (`application_url`'s user) what it needs
/// on the tables the owner's migrations made, and no more: every table
/// read and written, except `append_only` tables (no UPDATE, DELETE or
/// TRUNCATE), `read_only` tables and the migration histories (SELECT
/// only). Returns `false`, changing nothing, when the application is the
/// owner itself: then nothing can be withheld from it.
pub async fn grant_application_privileges(
    owner: &PgPool,
    application_url: &str,
    privileges: &Privileges<'_>,
) -> Result<bool, DatabaseError> {
    let options = PgConnectOptions::from_str(application_url).map_err(DatabaseError::Url)?;
    let role = options.get_username().to_owned();
    let grant_failed = |source| DatabaseError::Grant {
        role: role.clone(),
        source,
    };
    let current: String = sqlx::query_scalar("select current_user::text")
        .fetch_one(owner)
        .await
        .map_err(grant_failed)?;
    if current == role {
        return Ok(false);
    }
    let role_ident = quote_identifier(&role);
    let mut statements = vec![
        format!("grant usage on schema public to {role_ident}"),
        format!(
            "grant select, insert, update, delete on all tables in schema public to {role_ident}"
        ),
        format!("grant usage, select, update on all sequences in schema public to {role_ident}"),
    ];
    let migration_histories: Vec<String> = sqlx::query_scalar(
        "select tablename::text from pg_tables
          where schemaname = 'public' and tablename like '\\_%migrations'",
    )
    .fetch_all(owner)
    .await
    .map_err(grant_failed)?;
    for table in privileges
        .read_only
        .iter()
        .map(|table| (*table).to_owned())
        .chain(migration_histories)
    {
        statements.push(format!(
            "revoke insert, update, delete, truncate on {} from {role_ident}",
            quote_identifier(&table)
        ));
    }
    for table in privileges.append_only {
        statements.push(format!(
            "revoke update, delete, truncate on {} from {role_ident}",
            quote_identifier(table)
        ));
    }
    for function in privileges.functions {
        // Function signatures come from the chassis' own constants.
        statements.push(format!("revoke all on function {function} from public"));
        statements.push(format!(
            "grant execute on function {function} to {role_ident}"
        ));
    }
    let mut transaction = owner.begin().await.map_err(grant_failed)?;
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut *transaction)
            .await
            .map_err(grant_failed)?;
    }
    transaction.commit().await.map_err(grant_failed)?;
    Ok(true)
}

/// `name` as a double-quoted SQL identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// True when a trivial query answers within `timeout`.
pub async fn ping(pool: &PgPool, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, sqlx::query("select 1").execute(pool)).await,
        Ok(Ok(_))
    )
}

async fn ensure_database(options: &PgConnectOptions, name: &str) -> Result<(), DatabaseError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(DatabaseError::Name(name.to_owned()));
    }
    // Usually the database exists (always, under a managed PostgreSQL whose
    // role may not create databases): connecting to it directly is enough.
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        match options.connect().await {
            Ok(connection) => {
                let _ = connection.close().await;
                return Ok(());
            }
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("3D000") => break,
            Err(source) if is_transient(&source) => {
                tracing::warn!(
                    error = %source,
                    waited = ?started.elapsed(),
                    retry_in = ?pause,
                    "postgresql not reachable yet, waiting"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(CONNECT_MAX_BACKOFF);
            }
            Err(source) => {
                return Err(DatabaseError::Unreachable {
                    target: format!("{}:{}/{name}", options.get_host(), options.get_port()),
                    waited: started.elapsed(),
                    source,
                });
            }
        }
    }
    let maintenance = options.clone().database("postgres");
    let mut connection = maintenance
        .connect()
        .await
        .map_err(|source| DatabaseError::Create {
            name: name.to_owned(),
            source,
        })?;
    // The name was checked above to contain only [a-z0-9_], so quoting it as
    // an identifier is safe.
    let statement = format!("create database \"{name}\"");
    match sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(&mut connection)
        .await
    {
        Ok(_) => tracing::info!(database = name, "created database"),
        // Another replica created it first.
        Err(sqlx::Error::Database(error))
            if matches!(error.code().as_deref(), Some("42P04") | Some("23505")) => {}
        Err(source) => {
            return Err(DatabaseError::Create {
                name: name.to_owned(),
                source,
            });
        }
    }
    let _ = connection.close().await;
    Ok(())
}

/// Errors worth waiting out at start: the server is not up yet.
fn is_transient(error: &sqlx::Error) -> bool {
    is_connection_loss(error)
}

/// True when `error` says the database is (for now) out of reach rather
/// than that the statement was wrong, so the same work can succeed later:
/// a socket error, a pool timeout or closed pool, and the SQLSTATEs of a
/// server going away or refusing connections — class 08 (connection
/// exception), 57P01 admin_shutdown (a restart, a failover), 57P02
/// crash_shutdown, 57P03 cannot_connect_now (starting, in recovery), 53300
/// too_many_connections. RPCs answer these UNAVAILABLE; consumers pause on
/// them instead of counting a delivery; start-up waits.
pub fn is_connection_loss(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Drops a database, disconnecting its sessions; for test clean-up.
pub async fn drop_database(url: &str) -> Result<(), sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    let name = options.get_database().unwrap_or_default().to_owned();
    let mut connection = options.clone().database("postgres").connect().await?;
    let statement = format!("drop database if exists \"{name}\" with (force)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(&mut connection)
        .await?;
    connection.close().await
}
