//! Calls to the block registry and the duty lists, with the service's own token.
//!
//! Every call has a timeout; failures are sorted into what will never succeed
//! (NOT_FOUND, INVALID_ARGUMENT: the saga records it on the case) and what is worth
//! retrying (everything else: the other service is down, overloaded or misconfigured).

use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use flatgov_grpc::client::{AuthenticatedChannel, ServiceInterceptor};
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_proto::duties::v1 as duties;
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use tonic::Code;

use crate::application::ops::MatterLimits;
use crate::convert;
use crate::domain::geo::GeoPoint;
use crate::domain::lifecycle::Tier;
use crate::domain::units::{BlockCode, DepartmentCode, DutyUnit};
use crate::domain::values::MatterCode;
use crate::store::{RefusalDetails, Responsibility, Team};

/// Why a call gave no answer the saga can use.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The other service says the thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The other service refuses the request for good.
    #[error("{0}")]
    Rejected(String),
    /// Down, slow or failing: try again later.
    #[error("{0}")]
    Unavailable(String),
}

fn classify(service: &str, status: tonic::Status) -> CallError {
    let message = format!("{service}: {} ({:?})", status.message(), status.code());
    match status.code() {
        Code::NotFound => CallError::NotFound(message),
        Code::InvalidArgument => CallError::Rejected(message),
        _ => CallError::Unavailable(message),
    }
}

/// A block as the registry describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedBlock {
    pub code: BlockCode,
    pub team: Team,
}

/// What the duty lists say about a matter at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedResponsibility {
    pub responsibility: Responsibility,
    pub default_tier: Option<Tier>,
    /// The matter's limits for its default tier, when the lists give both.
    pub limits: MatterLimits,
}

/// The gate's answer: `None` allowed, `Some` refused with what it said.
pub type GateAnswer = Option<RefusalDetails>;

/// Clients of the block registry and the duty lists.
#[derive(Clone)]
pub struct Directory {
    blocks: BlockRegistryClient<AuthenticatedChannel>,
    duties: DutyListsClient<AuthenticatedChannel>,
    timeout: Duration,
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn located(block: Option<blocks::Block>) -> Result<LocatedBlock, CallError> {
    let block =
        block.ok_or_else(|| CallError::Rejected("blocks: the answer holds no block".into()))?;
    let code = BlockCode::parse(&block.code)
        .or_else(|_| BlockCode::parse_name(&block.name))
        .map_err(|error| CallError::Rejected(format!("blocks: {error}")))?;
    let team = block.team.unwrap_or_default();
    Ok(LocatedBlock {
        code,
        team: Team {
            governor: non_empty(&team.governor),
            supervisor: non_empty(&team.supervisor),
        },
    })
}

impl Directory {
    /// Lazy channels: creating them never fails because the other service is down.
    pub fn new(
        blocks_url: &str,
        duties_url: &str,
        credentials: ServiceCredentials,
        tls: &flatgov_grpc::ClientTls,
        timeout: Duration,
    ) -> Result<Self, String> {
        let blocks_channel = flatgov_grpc::client::channel(blocks_url, tls)?;
        let duties_channel = flatgov_grpc::client::channel(duties_url, tls)?;
        Ok(Self {
            blocks: BlockRegistryClient::with_interceptor(
                blocks_channel,
                ServiceInterceptor::new(credentials.clone(), "blocks"),
            ),
            duties: DutyListsClient::with_interceptor(
                duties_channel,
                ServiceInterceptor::new(credentials, "duties"),
            ),
            timeout,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// The block containing `point` now, or in `generation` when given (a
    /// re-homing names the generation its event announced, so a registry
    /// replica that has not refreshed yet still answers from it).
    pub async fn locate(
        &self,
        point: &GeoPoint,
        generation: Option<&str>,
    ) -> Result<LocatedBlock, CallError> {
        let response = self
            .blocks
            .clone()
            .locate_point(self.request(blocks::LocatePointRequest {
                point: Some(convert::geo_point(point)),
                generation: generation.unwrap_or_default().to_owned(),
                ..Default::default()
            }))
            .await
            .map_err(|status| classify("blocks", status))?;
        located(response.into_inner().block)
    }

    /// One block and its team, now or in `generation` when given.
    pub async fn block(
        &self,
        code: &BlockCode,
        generation: Option<&str>,
    ) -> Result<LocatedBlock, CallError> {
        let response = self
            .blocks
            .clone()
            .get_block(self.request(blocks::GetBlockRequest {
                name: code.name(),
                generation: generation.unwrap_or_default().to_owned(),
                ..Default::default()
            }))
            .await
            .map_err(|status| classify("blocks", status))?;
        located(Some(response.into_inner()))
    }

    /// Who leads on `matter` in `block`, the default tier and the matter's limits.
    pub async fn responsibility(
        &self,
        matter: &MatterCode,
        block: &BlockCode,
    ) -> Result<ResolvedResponsibility, CallError> {
        let response = self
            .duties
            .clone()
            .resolve_responsibility(self.request(duties::ResolveResponsibilityRequest {
                matter_code: matter.to_string(),
                place: Some(duties::Place {
                    block_code: block.to_string(),
                    community_code: block.community().to_string(),
                    subdistrict_code: block.subdistrict().to_string(),
                    ..Default::default()
                }),
                at: None,
            }))
            .await
            .map_err(|status| classify("duties", status))?
            .into_inner();
        let lead = response
            .lead
            .as_ref()
            .and_then(convert::unit_from_proto)
            .ok_or_else(|| {
                CallError::Rejected("duties: the answer names no valid lead unit".into())
            })?;
        let default_tier =
            flatgov_proto::flatgov::r#type::v1::HandlingTier::try_from(response.default_tier)
                .ok()
                .and_then(convert::tier_from_proto);
        // The exact text (it keeps minute limits) when given, else the rounded durations.
        let limit =
            |text: &str, rounded: Option<&flatgov_proto::flatgov::r#type::v1::WorkingDuration>| {
                crate::domain::calendar::WorkingDuration::parse(text)
                    .ok()
                    .or_else(|| rounded.and_then(convert::working_duration))
            };
        let limits = limit(
            &response.response_limit_text,
            response.response_limit.as_ref(),
        )
        .zip(limit(
            &response.resolution_limit_text,
            response.resolution_limit.as_ref(),
        ));
        Ok(ResolvedResponsibility {
            responsibility: Responsibility {
                lead,
                cooperating: response
                    .cooperating_departments
                    .iter()
                    .filter_map(|code| DepartmentCode::parse(code).ok())
                    .collect(),
                list_item_code: response.list_item_code,
            },
            default_tier,
            limits,
        })
    }

    /// Asks the duty-list gate whether `from` may hand `matter` to `to`.
    ///
    /// `request_id` makes a retried question record at most one refusal.
    #[allow(clippy::too_many_arguments)]
    pub async fn check_assignment(
        &self,
        matter: &MatterCode,
        from: &DutyUnit,
        to: &DutyUnit,
        place: Option<&BlockCode>,
        attempted_by: &str,
        case: &str,
        request_id: &str,
    ) -> Result<GateAnswer, CallError> {
        let response = self
            .duties
            .clone()
            .check_assignment(self.request(duties::CheckAssignmentRequest {
                matter_code: matter.to_string(),
                from: Some(convert::unit(from)),
                to: Some(convert::unit(to)),
                at: None,
                attempted_by: attempted_by.to_owned(),
                case: case.to_owned(),
                request_id: request_id.to_owned(),
                place: place.map(|block| duties::Place {
                    block_code: block.to_string(),
                    community_code: block.community().to_string(),
                    subdistrict_code: block.subdistrict().to_string(),
                    ..Default::default()
                }),
            }))
            .await
            .map_err(|status| classify("duties", status))?
            .into_inner();
        if response.allowed {
            return Ok(None);
        }
        let reason = non_empty(&response.reason).unwrap_or_else(|| {
            format!("the duty lists refuse assigning {matter} from {from} to {to}")
        });
        Ok(Some(RefusalDetails {
            reason,
            reason_code: response.reason_code,
            responsible_instead: response
                .responsible_instead
                .as_ref()
                .and_then(convert::unit_from_proto),
            refusal: response.refusal,
            attempted_assignee: to.unit_name().to_string(),
        }))
    }
}
