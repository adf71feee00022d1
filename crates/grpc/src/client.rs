//! Calling other flatgov services: channels and the interceptor that adds
//! the caller's credentials and trace context.

use std::time::Duration;

use flatgov_auth::ServiceCredentials;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::config::ClientTls;

/// A lazily connecting channel: creating it never fails because the other
/// service is down; calls fail with `UNAVAILABLE` until it is back. An
/// `https://` URL is verified against `tls`'s authority (and presents its
/// client certificate when the service requires one).
pub fn channel(url: &str, tls: &ClientTls) -> Result<Channel, String> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|error| format!("invalid service url {url:?}: {error}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    if url.starts_with("https://") {
        endpoint = endpoint
            .tls_config(client_tls_config(tls)?)
            .map_err(|error| format!("TLS for {url}: {error}"))?;
    }
    Ok(endpoint.connect_lazy())
}

/// The TLS settings of a client verifying flatgov services.
pub fn client_tls_config(tls: &ClientTls) -> Result<ClientTlsConfig, String> {
    let mut config = ClientTlsConfig::new();
    match &tls.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|error| format!("GRPC_TLS_CA_FILE {}: {error}", path.display()))?;
            config = config.ca_certificate(Certificate::from_pem(pem));
        }
        None => config = config.with_enabled_roots(),
    }
    if let Some((cert, key)) = &tls.identity {
        let cert_pem = std::fs::read(cert)
            .map_err(|error| format!("client certificate {}: {error}", cert.display()))?;
        let key_pem =
            std::fs::read(key).map_err(|error| format!("client key {}: {error}", key.display()))?;
        config = config.identity(Identity::from_pem(cert_pem, key_pem));
    }
    Ok(config)
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
