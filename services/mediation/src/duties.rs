//! Asking the duty lists service which department is competent for a
//! dispute, so administrative mediation goes to it when the caller names
//! none.

use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use flatgov_grpc::client::{AuthenticatedChannel, ServiceInterceptor};
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use flatgov_proto::duties::v1::{Place, ResolveResponsibilityRequest};
use flatgov_proto::flatgov::r#type::v1::UnitKind;
use flatgov_vocabulary::CommunityCode;

use crate::domain::DisputeType;

/// The justice bureau (区司法局) mediates at the subdistrict through its
/// justice office (司法所), so the lists naming it mean the justice office.
const JUSTICE_BUREAU: &str = "judicial";

/// How long one call may take: registration never waits longer for the
/// duty lists before the justice office takes the stage.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The duty lists service, or none configured (the justice office then
/// mediates whenever no department is named).
#[derive(Clone, Default)]
pub struct Duties {
    client: Option<DutyListsClient<AuthenticatedChannel>>,
}

impl std::fmt::Debug for Duties {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Duties")
            .field("configured", &self.client.is_some())
            .finish()
    }
}

impl Duties {
    /// A client for `url` that signs its calls with `credentials`; the
    /// channel connects lazily, so start-up never depends on duties.
    pub fn new(
        url: &str,
        credentials: ServiceCredentials,
        tls: &flatgov_grpc::ClientTls,
    ) -> Result<Self, String> {
        let channel = flatgov_grpc::client::channel(url, tls)?;
        Ok(Self {
            client: Some(DutyListsClient::with_interceptor(
                channel,
                ServiceInterceptor::new(credentials, "duties"),
            )),
        })
    }

    /// The department the duty lists make competent for a dispute of
    /// `kind` in `community`: the lead when a department leads, otherwise
    /// the principal cooperating department. `None` when the lists name no
    /// department or the justice bureau, the type has no matter in the
    /// catalogue, or the lists cannot be asked now — the justice office
    /// mediates then.
    pub async fn competent_department(
        &self,
        kind: DisputeType,
        community: &CommunityCode,
    ) -> Option<String> {
        let client = self.client.as_ref()?;
        let matter = kind.matter()?;
        let mut request = tonic::Request::new(ResolveResponsibilityRequest {
            matter_code: matter.to_owned(),
            place: Some(Place {
                community_code: community.to_string(),
                subdistrict_code: community.subdistrict().to_string(),
                ..Default::default()
            }),
            at: None,
        });
        request.set_timeout(CALL_TIMEOUT);
        let mut client = client.clone();
        let call = client.resolve_responsibility(request);
        let response = match tokio::time::timeout(CALL_TIMEOUT + Duration::from_millis(500), call)
            .await
        {
            Ok(Ok(response)) => response.into_inner(),
            Ok(Err(status)) => {
                tracing::warn!(matter, code = ?status.code(), message = status.message(),
                        "the duty lists did not resolve a dispute's matter; the justice office mediates");
                return None;
            }
            Err(_) => {
                tracing::warn!(
                    matter,
                    "the duty lists did not answer in time; the justice office mediates"
                );
                return None;
            }
        };
        response
            .lead
            .filter(|unit| unit.kind == UnitKind::Department as i32 && !unit.code.is_empty())
            .map(|unit| unit.code)
            .or_else(|| response.cooperating_departments.into_iter().next())
            .filter(|department| department != JUSTICE_BUREAU)
    }
}
