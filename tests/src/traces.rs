//! W3C trace context for a journey's requests, and an OTLP/gRPC collector
//! the services export their spans to, so a journey can see which spans of
//! which service belong to one trace.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use rand::Rng as _;
use tokio_stream::wrappers::TcpListenerStream;

/// One trace a journey's client carries on its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// 32 lower-case hex digits.
    pub trace_id: String,
}

impl Trace {
    /// A new random trace id.
    pub fn new() -> Self {
        Self {
            trace_id: random_hex(16),
        }
    }

    /// A `traceparent` for one request of this trace (a fresh parent span
    /// id each time, sampled).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, random_hex(8))
    }

    /// `message` with the caller's bearer token and this trace's context.
    pub fn request<T>(&self, message: T, token: &str) -> tonic::Request<T> {
        let mut request = crate::with_token(message, token);
        request.metadata_mut().insert(
            "traceparent",
            self.traceparent().parse().expect("a traceparent is ascii"),
        );
        request
    }
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

fn random_hex(bytes: usize) -> String {
    let mut random = rand::thread_rng();
    loop {
        let value: String = (0..bytes)
            .map(|_| format!("{:02x}", random.r#gen::<u8>()))
            .collect();
        // All zeros is the invalid id.
        if value.bytes().any(|digit| digit != b'0') {
            return value;
        }
    }
}

/// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`),
/// if it is well formed.
pub fn trace_id_of_traceparent(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |text: &str, length: usize| {
        text.len() == length && text.bytes().all(|byte| byte.is_ascii_hexdigit())
    };
    (hex(version, 2) && hex(trace_id, 32) && hex(span_id, 16) && hex(flags, 2))
        .then(|| trace_id.to_ascii_lowercase())
}

/// A span a service exported.
#[derive(Debug, Clone)]
pub struct CollectedSpan {
    /// The exporting process's `service.name`, e.g. `flatgov-blocks`.
    pub service: String,
    /// The span name, e.g. `/flatgov.blocks.v1.BlockRegistry/LocatePoint`.
    pub name: String,
    /// 32 lower-case hex digits.
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
}

/// An OTLP/gRPC trace collector on a free local port, holding every span it
/// receives. Point a service at it with `OTEL_EXPORTER_OTLP_ENDPOINT`.
pub struct SpanCollector {
    endpoint: String,
    spans: Arc<Mutex<Vec<CollectedSpan>>>,
    server: tokio::task::JoinHandle<()>,
}

impl SpanCollector {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port for the span collector");
        let address = listener.local_addr().expect("the collector's address");
        let spans = Arc::new(Mutex::new(Vec::new()));
        let service = TraceServiceServer::new(Collector {
            spans: spans.clone(),
        });
        let server = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
            if let Err(error) = served {
                eprintln!("span collector stopped: {error}");
            }
        });
        Self {
            endpoint: format!("http://{address}"),
            spans,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<CollectedSpan> {
        self.spans.lock().expect("span list").clone()
    }
}

impl Drop for SpanCollector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Collector {
    spans: Arc<Mutex<Vec<CollectedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| resource.attributes.iter())
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref())
                .and_then(|value| match &value.value {
                    Some(Value::StringValue(name)) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for span in resource_spans
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
            {
                received.push(CollectedSpan {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                });
            }
        }
        self.spans.lock().expect("span list").extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_id_is_read_from_a_well_formed_traceparent_only() {
        assert_eq!(
            trace_id_of_traceparent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")
                .as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        assert_eq!(trace_id_of_traceparent("00-0af7-b7ad6b7169203331-01"), None);
        assert_eq!(trace_id_of_traceparent("garbage"), None);
    }

    #[test]
    fn every_request_of_a_trace_carries_its_trace_id_with_a_fresh_parent() {
        let trace = Trace::new();
        let first = trace.traceparent();
        let second = trace.traceparent();
        assert_ne!(first, second);
        assert_eq!(
            trace_id_of_traceparent(&first).as_deref(),
            Some(trace.trace_id.as_str())
        );
        assert_eq!(
            trace_id_of_traceparent(&second).as_deref(),
            Some(trace.trace_id.as_str())
        );
        assert_ne!(Trace::new(), trace);
    }
}
