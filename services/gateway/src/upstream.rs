//! The services behind the gateway: one lazily connecting channel each, typed
//! clients carrying the gateway's own service token (Open311), and a pass-through
//! unary call carrying the caller's own token (HTTP/JSON).

use bytes::{Buf as _, BufMut as _, Bytes};
use flatgov_auth::ServiceCredentials;
use flatgov_grpc::ClientTls;
use flatgov_grpc::client::{AuthenticatedChannel, ServiceInterceptor};
use flatgov_proto::blocks::v1::block_registry_client::BlockRegistryClient;
use flatgov_proto::cases::v1::case_dispatch_client::CaseDispatchClient;
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Request, Status};

use crate::config::{UPSTREAMS, Upstream};

/// The channels to every service and the gateway's own credentials.
#[derive(Clone)]
pub struct Upstreams {
    /// One channel per entry of [`UPSTREAMS`], in order.
    channels: Vec<Channel>,
    /// The gateway's own key: Open311 posts and reads are the gateway's calls.
    credentials: ServiceCredentials,
}

impl Upstreams {
    pub fn new(
        urls: &[String],
        tls: &ClientTls,
        credentials: ServiceCredentials,
    ) -> Result<Self, String> {
        let channels = urls
            .iter()
            .map(|url| flatgov_grpc::client::channel(url, tls))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            channels,
            credentials,
        })
    }

    fn channel_named(&self, name: &str) -> Channel {
        let index = UPSTREAMS
            .iter()
            .position(|upstream| upstream.name == name)
            .unwrap_or_default();
        self.channels[index].clone()
    }

    /// The service serving `grpc_service` (`flatgov.cases.v1.CaseDispatch`) and its channel.
    pub fn by_grpc_service(&self, grpc_service: &str) -> Option<(Upstream, Channel)> {
        UPSTREAMS
            .iter()
            .position(|upstream| upstream.grpc_service == grpc_service)
            .map(|index| (UPSTREAMS[index], self.channels[index].clone()))
    }

    fn as_gateway(&self, target: &'static str) -> AuthenticatedChannel {
        tonic::service::interceptor::InterceptedService::new(
            self.channel_named(target),
            ServiceInterceptor::new(self.credentials.clone(), target),
        )
    }

    /// The case dispatch service, called as the gateway.
    pub fn cases(&self) -> CaseDispatchClient<AuthenticatedChannel> {
        CaseDispatchClient::new(self.as_gateway("cases"))
    }

    /// The duty lists (the matter catalogue is public), called as the gateway.
    pub fn duties(&self) -> DutyListsClient<AuthenticatedChannel> {
        DutyListsClient::new(self.as_gateway("duties"))
    }

    /// The block registry, called as the gateway (locating a reported point).
    pub fn blocks(&self) -> BlockRegistryClient<AuthenticatedChannel> {
        BlockRegistryClient::new(self.as_gateway("blocks"))
    }
}

/// Calls `path` (`/flatgov.cases.v1.CaseDispatch/GetCase`) on `channel` with an
/// already encoded request, passing `metadata` (the caller's own token) through.
pub async fn unary_bytes(
    channel: Channel,
    path: &str,
    body: Bytes,
    metadata: tonic::metadata::MetadataMap,
) -> Result<Bytes, Status> {
    let path = http::uri::PathAndQuery::try_from(path)
        .map_err(|_| Status::invalid_argument("the method path is malformed"))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(format!("the service is unavailable: {error}")))?;
    let mut request = Request::new(body);
    *request.metadata_mut() = metadata;
    let response = grpc.unary(request, path, BytesCodec).await?;
    Ok(response.into_inner())
}

/// Messages as the bytes they already are.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let length = src.remaining();
        Ok(Some(src.copy_to_bytes(length)))
    }
}
