//! Logging, tracing and W3C trace-context propagation for every flatgov
//! process.
//!
//! [`init`] is the one place a process sets up its subscriber: pretty or JSON
//! logs filtered by `RUST_LOG`, an OpenTelemetry tracer so every span has a
//! trace id (exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set), and the W3C `traceparent`/`tracestate` propagator. The helpers below
//! carry that context across gRPC metadata and NATS headers, so one trace
//! follows a request through every service it touches.

use std::collections::HashMap;
use std::str::FromStr;

use flatgov_config::{ConfigError, Env};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// How log lines are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when stdout is a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format {other:?}")),
        }
    }
}

/// Telemetry settings shared by every process.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Pretty for people, JSON for collectors.
    pub log_format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive such as `info,sqlx=warn`.
    pub log_filter: String,
    /// OTLP/gRPC collector endpoint; spans are only exported when set.
    pub otlp_endpoint: Option<String>,
}

impl TelemetryConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            log_format: env.optional("LOG_FORMAT", LogFormat::Pretty, "pretty or json")?,
            log_filter: env.optional(
                "RUST_LOG",
                "info".to_owned(),
                "a tracing filter such as info,sqlx=warn",
            )?,
            otlp_endpoint: env.maybe(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "an OTLP/gRPC URL such as http://otel-collector:4317",
            )?,
        })
    }
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter { filter: String, reason: String },
    #[error("cannot build the OTLP exporter for {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Flushes and shuts the tracer down when dropped: keep it alive in `main`.
#[must_use = "dropping the guard shuts tracing down"]
pub struct TelemetryGuard {
    /// The SDK provider whose batch exporter must be flushed before exit.
    tracer_provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.tracer_provider.shutdown() {
            eprintln!("telemetry shutdown failed: {error}");
        }
    }
}

/// Installs the global subscriber and propagator for a process named
/// `service_name` (e.g. `flatgov-cases`).
pub fn init(
    service_name: &str,
    config: &TelemetryConfig,
) -> Result<TelemetryGuard, TelemetryError> {
    let filter =
        EnvFilter::try_new(&config.log_filter).map_err(|error| TelemetryError::Filter {
            filter: config.log_filter.clone(),
            reason: error.to_string(),
        })?;

    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let mut provider_builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig as _;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|error| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                reason: error.to_string(),
            })?;
        provider_builder = provider_builder.with_batch_exporter(exporter);
    }
    // Without an exporter the provider still assigns trace and span ids, so
    // context propagates (and logs carry trace ids) even when nothing is
    // collected.
    let tracer_provider = provider_builder.build();
    let tracer = tracer_provider.tracer(service_name.to_owned());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());

    let fmt_layer = match config.log_format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_target(true).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    // Each layer filters for itself: RUST_LOG quietens the logs without
    // switching off the spans that carry trace context between services.
    let trace_filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("h2", tracing::Level::WARN)
        .with_target("hyper", tracing::Level::WARN)
        .with_target("tower", tracing::Level::WARN);
    tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(trace_filter),
        )
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { tracer_provider })
}

/// The W3C headers (`traceparent`, and `tracestate` when non-empty) that
/// continue `span`'s trace in another process. Empty when tracing is off.
pub fn trace_headers(span: &tracing::Span) -> Vec<(String, String)> {
    let context = span.context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut MapCarrier(&mut carrier));
    let mut headers: Vec<(String, String)> = carrier.into_iter().collect();
    headers.sort();
    headers
}

/// Makes `span` a child of the trace described by W3C headers, looked up
/// through `header` (case-insensitive names are the caller's business).
/// Headers that are absent or malformed leave `span` a root.
pub fn continue_trace(span: &tracing::Span, header: impl Fn(&str) -> Option<String>) {
    let mut carrier: HashMap<String, String> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|name| header(name).map(|value| (name.to_owned(), value)))
        .collect();
    let parent = TraceContextPropagator::new().extract(&MapCarrier(&mut carrier));
    if parent.span().span_context().is_valid() {
        // An error here only means the span is disabled by the filter.
        let _ = span.set_parent(parent);
    }
}

/// The 32-hex-digit trace id of `span`, if it has one.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Adds the current span's trace context to an outgoing gRPC request; use as
/// (or inside) a tonic client interceptor.
pub fn inject_into_request<T>(request: &mut tonic::Request<T>) {
    for (name, value) in trace_headers(&tracing::Span::current()) {
        if let (Ok(name), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(name.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            request.metadata_mut().insert(name, value);
        }
    }
}

/// Continues the trace carried in incoming HTTP/2 (gRPC) headers.
pub fn continue_trace_from_http(span: &tracing::Span, headers: &http::HeaderMap) {
    continue_trace(span, |name| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    });
}

struct MapCarrier<'a>(&'a mut HashMap<String, String>);

impl Injector for MapCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl Extractor for MapCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_parse_by_name() {
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("pretty".parse::<LogFormat>().unwrap(), LogFormat::Pretty);
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
