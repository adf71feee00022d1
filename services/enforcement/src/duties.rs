//! Asking the duty lists service whom a matter belongs to.

use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use flatgov_grpc::client::{AuthenticatedChannel, ServiceInterceptor};
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use flatgov_proto::duties::v1::{GetDepartmentRequest, Place, ResolveResponsibilityRequest};
use flatgov_proto::flatgov::r#type::v1::UnitKind;

use crate::domain::{AgencyCode, BlockCode, MatterCode, SubdistrictCode};

/// How long one call may take; a whistle never waits longer for the duty
/// lists than this before it is recorded.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// What the duty lists said about a matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Responsibility {
    /// The lead department (when a department leads) and the cooperating
    /// departments, as department codes.
    Departments {
        lead: Option<String>,
        cooperating: Vec<String>,
    },
    /// The matter is not in the catalogue (or the request was refused as
    /// malformed): asking again will not help.
    Unknown(String),
}

/// Why the duty lists could not answer now; worth trying again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duty lists unavailable: {0}")]
pub struct Unavailable(pub String);

/// The duty lists service, or none configured.
#[derive(Clone)]
pub struct DutiesClient {
    client: Option<DutyListsClient<AuthenticatedChannel>>,
}

impl DutiesClient {
    /// A client for `url` that signs its calls with `credentials`; the
    /// channel connects lazily, so start-up never depends on duties.
    pub fn new(
        url: &str,
        credentials: ServiceCredentials,
        tls: &flatgov_grpc::ClientTls,
    ) -> Result<Self, String> {
        let channel = flatgov_grpc::client::channel(url, tls)?;
        let client = DutyListsClient::with_interceptor(
            channel,
            ServiceInterceptor::new(credentials, "duties"),
        );
        Ok(Self {
            client: Some(client),
        })
    }

    /// No duty lists service: agencies come from requests or the default set.
    pub fn none() -> Self {
        Self { client: None }
    }

    pub fn is_configured(&self) -> bool {
        self.client.is_some()
    }

    /// The departments responsible for `matter` at the place.
    pub async fn resolve(
        &self,
        matter: &MatterCode,
        subdistrict: &SubdistrictCode,
        block: Option<&BlockCode>,
    ) -> Result<Responsibility, Unavailable> {
        let Some(client) = &self.client else {
            return Err(Unavailable("no duty lists service is configured".into()));
        };
        let mut request = tonic::Request::new(ResolveResponsibilityRequest {
            matter_code: matter.to_string(),
            place: Some(Place {
                block_code: block.map(ToString::to_string).unwrap_or_default(),
                community_code: block
                    .map(|block| block.community().to_string())
                    .unwrap_or_default(),
                subdistrict_code: subdistrict.to_string(),
                ..Default::default()
            }),
            at: None,
        });
        request.set_timeout(CALL_TIMEOUT);
        let mut client = client.clone();
        let call = client.resolve_responsibility(request);
        let response =
            match tokio::time::timeout(CALL_TIMEOUT + Duration::from_millis(500), call).await {
                Err(_) => return Err(Unavailable("no answer in time".into())),
                Ok(Err(status)) => {
                    return match status.code() {
                        tonic::Code::NotFound | tonic::Code::InvalidArgument => {
                            Ok(Responsibility::Unknown(format!(
                                "the duty lists do not know matter {matter}: {}",
                                status.message()
                            )))
                        }
                        code => Err(Unavailable(format!("{code:?}: {}", status.message()))),
                    };
                }
                Ok(Ok(response)) => response.into_inner(),
            };
        let lead = response
            .lead
            .filter(|unit| unit.kind == UnitKind::Department as i32)
            .map(|unit| unit.code);
        Ok(Responsibility::Departments {
            lead,
            cooperating: response.cooperating_departments,
        })
    }

    /// Whether the duty lists know `code` as a department: `Ok(None)` when no
    /// duty lists service is configured.
    pub async fn department_exists(&self, code: &AgencyCode) -> Result<Option<bool>, Unavailable> {
        let Some(client) = &self.client else {
            return Ok(None);
        };
        let mut request = tonic::Request::new(GetDepartmentRequest {
            name: format!("departments/{code}"),
        });
        request.set_timeout(CALL_TIMEOUT);
        let mut client = client.clone();
        let call = client.get_department(request);
        match tokio::time::timeout(CALL_TIMEOUT + Duration::from_millis(500), call).await {
            Err(_) => Err(Unavailable("no answer in time".into())),
            Ok(Ok(_)) => Ok(Some(true)),
            Ok(Err(status)) if status.code() == tonic::Code::NotFound => Ok(Some(false)),
            Ok(Err(status)) => Err(Unavailable(format!(
                "{:?}: {}",
                status.code(),
                status.message()
            ))),
        }
    }
}
