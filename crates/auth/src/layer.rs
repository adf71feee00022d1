//! The tower layer that turns a bearer token into a [`Caller`] before any
//! handler runs.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::{AuthError, Verifier};

/// Paths anyone may call without a token: load balancers and `grpcurl`
/// need health and reflection before they hold credentials.
const OPEN_PATH_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Verifies `authorization: Bearer <jwt>` on every call except health and
/// reflection; refuses with `UNAUTHENTICATED` naming what is wrong.
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Verifier,
}

impl AuthLayer {
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    verifier: Verifier,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for AuthService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        if OPEN_PATH_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
        {
            return Box::pin(self.inner.call(request));
        }
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|value| value.to_str().map_err(|_| AuthError::MalformedHeader));
        let verified = match header {
            None => self.verifier.verify_header(None),
            Some(Err(error)) => Err(error),
            Some(Ok(value)) => self.verifier.verify_header(Some(value)),
        };
        match verified {
            Ok(caller) => {
                tracing::Span::current().record("caller", caller.subject.as_str());
                request.extensions_mut().insert(caller);
                // The clone that was polled ready must serve this call.
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(async move { ready.call(request).await })
            }
            Err(error) => {
                tracing::debug!(%error, path, "request refused: unauthenticated");
                let status = tonic::Status::unauthenticated(error.to_string());
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
