//! gRPC-Web for browsers: `POST /{service}/{method}` with a gRPC-Web body
//! (`application/grpc-web[+proto]` or `-text`), translated by tonic-web into gRPC
//! and relayed to the service as it came, the caller's own token included. Like
//! HTTP/JSON, the gateway grants nothing: only flatgov services' methods are
//! relayed, and the service's policy table decides.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use tonic::body::Body;

use crate::{Gateway, PeerAddress};

/// Relays gRPC (already translated from gRPC-Web) to the service its path names.
#[derive(Clone)]
pub struct Relay {
    gateway: Arc<Gateway>,
}

impl Relay {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Self { gateway }
    }
}

/// A gRPC answer carrying only a status (HTTP 200, as gRPC says).
fn status_response(status: tonic::Status) -> http::Response<Body> {
    status.into_http()
}

impl tower::Service<http::Request<Body>> for Relay {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let gateway = self.gateway.clone();
        Box::pin(async move {
            // The same per-address budget as HTTP/JSON.
            if let Some(ConnectInfo(PeerAddress(address))) =
                request.extensions().get::<ConnectInfo<PeerAddress>>()
                && let Err(retry) = gateway.limiter.check(
                    &format!("api:{}", address.ip()),
                    gateway.config.api_per_minute,
                )
            {
                return Ok(status_response(tonic::Status::resource_exhausted(format!(
                    "too many requests; try again in {} s",
                    retry.seconds()
                ))));
            }
            let path = request.uri().path().to_owned();
            let mut parts = path.trim_start_matches('/').splitn(2, '/');
            let service = parts.next().unwrap_or_default().to_owned();
            let method = parts.next().unwrap_or_default().to_owned();
            let Some((_, channel)) = gateway.upstreams.by_grpc_service(&service) else {
                return Ok(status_response(tonic::Status::unimplemented(format!(
                    "{service} is not a flatgov service"
                ))));
            };
            let known = crate::api::pool()
                .get_service_by_name(&service)
                .is_some_and(|descriptor| descriptor.methods().any(|m| m.name() == method));
            if !known {
                return Ok(status_response(tonic::Status::unimplemented(format!(
                    "{service} has no method {method}"
                ))));
            }
            let (mut parts, body) = request.into_parts();
            // Only what gRPC needs and the caller's own credentials travel on.
            let mut headers = http::HeaderMap::new();
            for name in [
                "content-type",
                "te",
                "grpc-timeout",
                "grpc-encoding",
                "grpc-accept-encoding",
                "authorization",
                "traceparent",
                "tracestate",
            ] {
                if let Some(value) = parts.headers.get(name) {
                    headers.insert(name, value.clone());
                }
            }
            headers.insert("te", http::HeaderValue::from_static("trailers"));
            parts.headers = headers;
            parts.version = http::Version::HTTP_2;
            let mut channel = channel;
            let ready = tower::ServiceExt::ready(&mut channel).await;
            let answer = match ready {
                Ok(channel) => {
                    tower::Service::call(channel, http::Request::from_parts(parts, body)).await
                }
                Err(error) => Err(error),
            };
            match answer {
                Ok(response) => Ok(response),
                Err(error) => Ok(status_response(tonic::Status::unavailable(format!(
                    "{service} is unavailable: {error}"
                )))),
            }
        })
    }
}
