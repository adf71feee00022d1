//! The block registry, asked with this service's own token who a notice's
//! audience is: every block under a district, subdistrict or community (or
//! the one block) in the active generation, with its households. The
//! registry is the one source of blocks, so a block without a robot is
//! counted and reported as not reachable rather than silently left out.

use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use flatgov_grpc::client::{AuthenticatedChannel, ServiceInterceptor};
use flatgov_proto::blocks::v1 as proto;
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_vocabulary::{DivisionCode, DivisionLevel};

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The registry's largest page.
const PAGE_SIZE: i32 = 500;

/// A block of an audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceBlock {
    pub code: String,
    pub households: u32,
}

/// Why the audience could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry does not know the division.
    #[error("the block registry does not know {0}")]
    Unknown(String),
    /// It could not answer now.
    #[error("the block registry is unavailable: {0}")]
    Unavailable(String),
}

fn unavailable(status: &tonic::Status) -> RegistryError {
    RegistryError::Unavailable(format!("{:?}: {}", status.code(), status.message()))
}

/// The block registry, reached with this service's own token.
#[derive(Clone)]
pub struct BlocksClient {
    client: BlockRegistryClient<AuthenticatedChannel>,
}

impl BlocksClient {
    /// A client of `url`; the channel connects lazily, so start-up never
    /// depends on the registry.
    pub fn new(
        url: &str,
        credentials: ServiceCredentials,
        tls: &flatgov_grpc::ClientTls,
    ) -> Result<Self, String> {
        let channel = flatgov_grpc::client::channel(url, tls)?;
        Ok(Self {
            client: BlockRegistryClient::with_interceptor(
                channel,
                ServiceInterceptor::new(credentials, "blocks"),
            ),
        })
    }

    /// Every block of `audience` in the active generation, by code.
    pub async fn audience(
        &self,
        audience: &DivisionCode,
    ) -> Result<Vec<AudienceBlock>, RegistryError> {
        let mut client = self.client.clone();
        if audience.level() == DivisionLevel::Block {
            let mut request = tonic::Request::new(proto::GetBlockRequest {
                name: audience.name(),
                ..Default::default()
            });
            request.set_timeout(CALL_TIMEOUT);
            return match client.get_block(request).await {
                Ok(block) => {
                    let block = block.into_inner();
                    Ok(vec![AudienceBlock {
                        code: block.code,
                        households: block.households,
                    }])
                }
                Err(status) if status.code() == tonic::Code::NotFound => {
                    Err(RegistryError::Unknown(audience.name()))
                }
                Err(status) => Err(unavailable(&status)),
            };
        }
        let mut blocks = Vec::new();
        let mut page_token = String::new();
        loop {
            let mut request = tonic::Request::new(proto::ListBlocksRequest {
                parent: audience.name(),
                page_size: PAGE_SIZE,
                page_token: std::mem::take(&mut page_token),
                ..Default::default()
            });
            request.set_timeout(CALL_TIMEOUT);
            let page = match client.list_blocks(request).await {
                Ok(page) => page.into_inner(),
                Err(status) if status.code() == tonic::Code::NotFound => {
                    return Err(RegistryError::Unknown(audience.name()));
                }
                Err(status) => return Err(unavailable(&status)),
            };
            blocks.extend(
                page.blocks
                    .into_iter()
                    // Only the audience's own blocks, whatever the registry's paging does.
                    .filter(|block| block.code.starts_with(audience.as_str()))
                    .map(|block| AudienceBlock {
                        code: block.code,
                        households: block.households,
                    }),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        blocks.sort_by(|a, b| a.code.cmp(&b.code));
        blocks.dedup_by(|a, b| a.code == b.code);
        Ok(blocks)
    }
}
