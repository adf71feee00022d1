//! The gateways table. The URL and secret are read only by the delivery
//! worker; what the API shows is built from [`GatewayRow::hint`].

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};

use super::{DatabaseContext as _, StoreError};
use crate::domain::{GatewayCode, GatewayKind, GatewayUrl, WebhookSecret};

/// A gateway as stored.
#[derive(Debug, Clone)]
pub struct GatewayRow {
    pub code: GatewayCode,
    pub kind: GatewayKind,
    pub url: GatewayUrl,
    /// Signed webhooks only.
    pub secret: Option<WebhookSecret>,
    pub description: String,
    pub update_time: DateTime<Utc>,
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<GatewayRow, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("gateway {what}"));
    let code: String = row.try_get("code").context("reading a gateway")?;
    let kind: String = row.try_get("kind").context("reading a gateway")?;
    let url: String = row.try_get("url").context("reading a gateway")?;
    let secret: Option<String> = row.try_get("secret").context("reading a gateway")?;
    Ok(GatewayRow {
        code: GatewayCode::parse(&code).map_err(|_| corrupt("code"))?,
        kind: GatewayKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
        url: GatewayUrl::parse(&url).map_err(|_| corrupt("url"))?,
        secret: secret
            .map(|text| WebhookSecret::parse(&text))
            .transpose()
            .map_err(|_| corrupt("secret"))?,
        description: row.try_get("description").context("reading a gateway")?,
        update_time: row.try_get("update_time").context("reading a gateway")?,
    })
}

/// Registers or replaces a gateway; answers with it as stored.
pub async fn upsert(
    connection: &mut PgConnection,
    code: &GatewayCode,
    kind: GatewayKind,
    url: &GatewayUrl,
    secret: Option<&WebhookSecret>,
    description: &str,
) -> Result<GatewayRow, StoreError> {
    let row = sqlx::query(
        "insert into gateways (code, kind, url, secret, description, update_time)
         values ($1, $2, $3, $4, $5, now())
         on conflict (code) do update set kind = excluded.kind, url = excluded.url,
             secret = excluded.secret, description = excluded.description, update_time = now()
         returning code, kind, url, secret, description, update_time",
    )
    .bind(code.as_str())
    .bind(kind.as_str())
    .bind(url.expose())
    .bind(secret.map(WebhookSecret::expose))
    .bind(description)
    .fetch_one(connection)
    .await
    .context("saving a gateway")?;
    from_row(&row)
}

/// Every gateway, by code.
pub async fn list(connection: &mut PgConnection) -> Result<Vec<GatewayRow>, StoreError> {
    let rows = sqlx::query(
        "select code, kind, url, secret, description, update_time from gateways order by code",
    )
    .fetch_all(connection)
    .await
    .context("listing gateways")?;
    rows.iter().map(from_row).collect()
}

/// The gateway that serves `channel` (a case channel in lower snake case),
/// else the default one.
pub async fn for_channel(
    connection: &mut PgConnection,
    channel: &str,
) -> Result<Option<GatewayRow>, StoreError> {
    let row = sqlx::query(
        "select code, kind, url, secret, description, update_time from gateways
         where code = $1 or code = $2
         order by (code = $1) desc
         limit 1",
    )
    .bind(channel)
    .bind(crate::domain::gateway::DEFAULT_GATEWAY)
    .fetch_optional(connection)
    .await
    .context("choosing a gateway")?;
    row.as_ref().map(from_row).transpose()
}
