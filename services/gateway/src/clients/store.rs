//! The registry's SQL. Errors carry what was being done; SQL text never reaches a
//! caller.

use sqlx::{PgPool, Row as _};
use uuid::Uuid;

use super::{ApiKey, Client, NewClient, channel_name, digest};

/// Why the registry could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an active client is already named {0:?}")]
    NameTaken(String),
    #[error("no active client is named {0:?}")]
    NoSuchClient(String),
    #[error("the client registry is unavailable while {doing}")]
    Database {
        doing: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

fn database(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { doing, source }
}

/// The gateway's database of API clients.
#[derive(Clone)]
pub struct Registry {
    pool: PgPool,
}

const COLUMNS: &str =
    "id, name, channel, jurisdiction, rate_limit_per_minute, key_prefix, created_at, revoked_at";

fn client_from(row: &sqlx::postgres::PgRow) -> Result<Client, sqlx::Error> {
    let rate: i32 = row.try_get("rate_limit_per_minute")?;
    Ok(Client {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        channel: row.try_get("channel")?,
        jurisdiction: row.try_get("jurisdiction")?,
        rate_limit_per_minute: u32::try_from(rate).unwrap_or(1),
        key_prefix: row.try_get("key_prefix")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Registry {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The migrations of the registry.
    pub fn migrator() -> sqlx::migrate::Migrator {
        sqlx::migrate!("./migrations")
    }

    /// Registers `client` and returns it with its key, which is never seen again.
    pub async fn add(&self, client: &NewClient) -> Result<(Client, ApiKey), StoreError> {
        let key = ApiKey::generate();
        let rate = i32::try_from(client.rate_limit_per_minute).unwrap_or(i32::MAX);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into open311_clients (id, name, channel, jurisdiction, rate_limit_per_minute, key_prefix, key_sha256) \
             values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(&client.name)
        .bind(channel_name(client.channel))
        .bind(&client.jurisdiction)
        .bind(rate)
        .bind(key.visible_prefix())
        .bind(key.digest().as_slice())
        .fetch_one(&self.pool)
        .await
        .map_err(|source| {
            if flatgov_grpc::error::is_unique_violation(&source) {
                StoreError::NameTaken(client.name.clone())
            } else {
                StoreError::Database {
                    doing: "registering a client",
                    source,
                }
            }
        })?;
        let stored = client_from(&row).map_err(database("reading the registered client"))?;
        Ok((stored, key))
    }

    /// Every client, active ones first, newest first.
    pub async fn list(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from open311_clients order by revoked_at is not null, created_at desc"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(database("listing clients"))?;
        rows.iter()
            .map(client_from)
            .collect::<Result<_, _>>()
            .map_err(database("reading clients"))
    }

    /// Revokes the active client named `name`; its key stops working at once.
    pub async fn revoke(&self, name: &str) -> Result<Client, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "update open311_clients set revoked_at = now() where name = $1 and revoked_at is null returning {COLUMNS}"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(database("revoking a client"))?;
        match row {
            Some(row) => client_from(&row).map_err(database("reading the revoked client")),
            None => Err(StoreError::NoSuchClient(name.to_owned())),
        }
    }

    /// The active client whose key is `presented`, if any.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {COLUMNS} from open311_clients where key_sha256 = $1 and revoked_at is null"
        )))
        .bind(digest(presented).as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(database("checking an api_key"))?;
        row.as_ref()
            .map(client_from)
            .transpose()
            .map_err(database("reading a client"))
    }

    /// True while the database answers.
    pub async fn ping(&self) -> bool {
        flatgov_db::ping(&self.pool, std::time::Duration::from_secs(2)).await
    }
}
