//! Registering and listing the gateways reporters are reached through.

use flatgov_auth::policy::Access;

use super::{Notices, record_audit};
use crate::domain::{GatewayCode, GatewayKind, GatewayUrl, WebhookSecret};
use crate::error::Error;
use crate::store::{self, gateways::GatewayRow};

/// A gateway to register, fully checked.
#[derive(Debug)]
pub struct SetGateway {
    pub code: GatewayCode,
    pub kind: GatewayKind,
    pub url: GatewayUrl,
    /// Present exactly for signed webhooks.
    pub secret: Option<WebhookSecret>,
    pub description: String,
}

impl Notices {
    /// Registers or replaces a gateway.
    pub async fn set_gateway(
        &self,
        access: &Access,
        command: SetGateway,
    ) -> Result<GatewayRow, Error> {
        access
            .audit()
            .resource(format!("gateways/{}", command.code));
        let mut transaction = store::begin(&self.pool, "saving a gateway").await?;
        let row = store::gateways::upsert(
            &mut transaction,
            &command.code,
            command.kind,
            &command.url,
            command.secret.as_ref(),
            &command.description,
        )
        .await?;
        record_audit(&mut transaction, access, "saving a gateway").await?;
        store::commit(transaction, "saving a gateway").await?;
        tracing::info!(gateway = %row.code, kind = row.kind.as_str(), url = %row.url.hint(), "gateway set");
        Ok(row)
    }

    /// Every gateway.
    pub async fn list_gateways(&self) -> Result<Vec<GatewayRow>, Error> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|source| Error::database("listing gateways", source))?;
        Ok(store::gateways::list(&mut connection).await?)
    }
}
