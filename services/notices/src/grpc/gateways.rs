//! SetGateway and ListGateways. Answers never hold a URL's key or a secret.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;

use super::NoticesService;
use crate::application::gateways::SetGateway;
use crate::domain::{GatewayCode, GatewayKind, GatewayUrl, WebhookSecret};
use crate::error::Error;
use crate::store::gateways::GatewayRow;

/// The longest description.
const MAX_DESCRIPTION_CHARS: usize = 200;

impl TryFrom<proto::SetGatewayRequest> for SetGateway {
    type Error = Error;

    fn try_from(request: proto::SetGatewayRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let code = violations.check(
            "name",
            flatgov_vocabulary::id_in(&request.name, "gateways")
                .map_err(|error| error.to_string())
                .and_then(|code| GatewayCode::parse(code).map_err(|error| error.to_string())),
        );
        let kind = violations.check(
            "kind",
            GatewayKind::from_proto(request.kind)
                .ok_or("must be GATEWAY_KIND_SIGNED_WEBHOOK or GATEWAY_KIND_WECOM_ROBOT"),
        );
        // The URL and the secret are never repeated in a refusal.
        let url = violations.check("url", GatewayUrl::parse(&request.url));
        let secret = match kind {
            Some(GatewayKind::SignedWebhook) => {
                violations.check("secret", WebhookSecret::parse(&request.secret))
            }
            Some(GatewayKind::WecomRobot) if !request.secret.is_empty() => {
                violations.add(
                    "secret",
                    "must be empty for a WeCom robot: its key is in the URL",
                );
                None
            }
            _ => None,
        };
        let description = request.description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            violations.add("description", "must be at most 200 characters");
        }
        violations.finish()?;
        match (code, kind, url) {
            (Some(code), Some(kind), Some(url)) => Ok(SetGateway {
                code,
                kind,
                url,
                secret,
                description,
            }),
            _ => Err(Error::corrupt("a checked field went missing")),
        }
    }
}

fn render(row: &GatewayRow) -> proto::Gateway {
    proto::Gateway {
        name: format!("gateways/{}", row.code),
        kind: row.kind.to_proto() as i32,
        url_hint: row.url.hint(),
        description: row.description.clone(),
        update_time: Some(timestamp(row.update_time)),
    }
}

pub(super) async fn set_gateway(
    service: &NoticesService,
    access: &Access,
    request: proto::SetGatewayRequest,
) -> Result<proto::Gateway, Error> {
    let command = SetGateway::try_from(request)?;
    let row = service.notices.set_gateway(access, command).await?;
    Ok(render(&row))
}

pub(super) async fn list_gateways(
    service: &NoticesService,
    _access: &Access,
    _request: proto::ListGatewaysRequest,
) -> Result<proto::ListGatewaysResponse, Error> {
    let rows = service.notices.list_gateways().await?;
    Ok(proto::ListGatewaysResponse {
        gateways: rows.iter().map(render).collect(),
    })
}
