//! Calling other flatgov services: channels and the interceptor that adds
//! the caller's credentials and trace context.

use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use tonic::transport::{Channel, Endpoint};

/// A lazily connecting channel: creating it never fails because the other
/// service is down; calls fail with `UNAVAILABLE` until it is back.
pub fn channel(url: &str) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|error| format!("invalid service url {url:?}: {error}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}

/// Adds `authorization` (the service's own token, for the called service's
/// audience) and W3C trace context to every outgoing call.
#[derive(Clone)]
pub struct ServiceInterceptor {
    credentials: ServiceCredentials,
    /// The called service, e.g. `blocks`: its audience is on the token.
    target: &'static str,
}

impl ServiceInterceptor {
    pub fn new(credentials: ServiceCredentials, target: &'static str) -> Self {
        Self {
            credentials,
            target,
        }
    }
}

impl tonic::service::Interceptor for ServiceInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let bearer = self
            .credentials
            .bearer_for(self.target)
            .parse()
            .map_err(|_| tonic::Status::internal("service token is not a valid header value"))?;
        request.metadata_mut().insert("authorization", bearer);
        flatgov_telemetry::inject_into_request(&mut request);
        Ok(request)
    }
}

/// The interceptor type services use in their client aliases, e.g.
/// `BlockRegistryClient<InterceptedService<Channel, ServiceInterceptor>>`.
pub type AuthenticatedChannel =
    tonic::service::interceptor::InterceptedService<Channel, ServiceInterceptor>;
