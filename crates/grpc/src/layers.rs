//! Per-call tracing and metrics, as one tower layer around every service.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument as _;

/// Labels of a per-RPC series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub service: String,
    pub method: String,
}

/// Labels of a per-RPC error series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcErrorLabels {
    pub service: String,
    pub method: String,
    /// The gRPC status code name, e.g. `InvalidArgument`.
    pub code: String,
}

fn latency_histogram() -> Histogram {
    // 250 µs … ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Requests, errors and latency per RPC.
#[derive(Clone)]
pub struct RpcMetrics {
    /// `/package.Service/Method` of every method the server serves: only
    /// these become label values, so a caller cannot mint series by calling
    /// made-up paths (they all count under `unknown`).
    known_paths: Arc<HashSet<String>>,
    requests: Family<RpcLabels, Counter>,
    errors: Family<RpcErrorLabels, Counter>,
    latency: Family<RpcLabels, Histogram, fn() -> Histogram>,
}

impl RpcMetrics {
    pub fn register(
        registry: &mut Registry,
        known_paths: impl IntoIterator<Item = String>,
    ) -> Self {
        let metrics = Self {
            known_paths: Arc::new(known_paths.into_iter().collect()),
            requests: Family::default(),
            errors: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "flatgov_grpc_requests",
            "gRPC calls received, per RPC",
            metrics.requests.clone(),
        );
        registry.register(
            "flatgov_grpc_errors",
            "gRPC calls answered with a non-OK status, per RPC and code",
            metrics.errors.clone(),
        );
        registry.register(
            "flatgov_grpc_latency_seconds",
            "Time to the response headers of a gRPC call, per RPC",
            metrics.latency.clone(),
        );
        metrics
    }
}

/// Opens a server span per call (continuing the caller's W3C trace) and
/// records the call's metrics.
#[derive(Clone)]
pub struct ObservabilityLayer {
    metrics: RpcMetrics,
}

impl ObservabilityLayer {
    pub fn new(metrics: RpcMetrics) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for ObservabilityLayer {
    type Service = ObservedService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ObservedService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ObservedService<S> {
    inner: S,
    metrics: RpcMetrics,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for ObservedService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let (service, method) = if self.metrics.known_paths.contains(&path) {
            split_path(&path)
        } else {
            ("unknown".to_owned(), "unknown".to_owned())
        };
        let span = tracing::info_span!(
            "grpc",
            otel.name = %path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            caller = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        flatgov_telemetry::continue_trace_from_http(&span, request.headers());
        let labels = RpcLabels { service, method };
        let metrics = self.metrics.clone();
        let clone = self.inner.clone();
        // The clone that was polled ready must serve this call.
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let future = {
            let _entered = span.enter();
            ready.call(request)
        };
        Box::pin(
            async move {
                let started = Instant::now();
                let result = future.await;
                metrics.requests.get_or_create(&labels).inc();
                metrics
                    .latency
                    .get_or_create(&labels)
                    .observe(started.elapsed().as_secs_f64());
                if let Ok(response) = &result {
                    // Unary errors travel as trailers-only responses, so the
                    // status is in the headers; OK responses put it in the
                    // trailers, hence a missing header means OK.
                    let code = tonic::Status::from_header_map(response.headers())
                        .map(|status| status.code())
                        .unwrap_or(tonic::Code::Ok);
                    tracing::Span::current().record("rpc.grpc.status_code", code as i32);
                    if code != tonic::Code::Ok {
                        metrics
                            .errors
                            .get_or_create(&RpcErrorLabels {
                                service: labels.service.clone(),
                                method: labels.method.clone(),
                                code: format!("{code:?}"),
                            })
                            .inc();
                    }
                }
                result
            }
            .instrument(span),
        )
    }
}

/// `/flatgov.cases.v1.CaseDispatch/ReportCase` → (`flatgov.cases.v1.CaseDispatch`, `ReportCase`).
fn split_path(path: &str) -> (String, String) {
    let trimmed = path.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((service, method)) => (service.to_owned(), method.to_owned()),
        None => (trimmed.to_owned(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grpc_path_splits_into_service_and_method() {
        assert_eq!(
            split_path("/flatgov.cases.v1.CaseDispatch/ReportCase"),
            ("flatgov.cases.v1.CaseDispatch".into(), "ReportCase".into())
        );
        assert_eq!(split_path("/odd"), ("odd".into(), String::new()));
    }
}
