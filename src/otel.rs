//! OpenTelemetry traces over OTLP/HTTP (protobuf), on when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; the other standard `OTEL_*` variables (service
//! name, headers, timeout, sampler) are read by the SDK. A caller's W3C `traceparent` makes the
//! request span a child of the caller's trace.
//!
//! The SDK's batch processor exports from its own thread with a blocking wait; the exporter's
//! HTTP client is async reqwest, so each export runs on a small runtime of its own
//! ([`EXPORT_RUNTIME`]) rather than needing one on the exporting thread.

use std::sync::OnceLock;

use actix_web::http::header::HeaderMap;
use bytes::Bytes;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The variables that turn export on.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// The service name when `OTEL_SERVICE_NAME` is not set.
const SERVICE_NAME: &str = env!("CARGO_PKG_NAME");

/// The runtime the exports run on; never dropped.
static EXPORT_RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The provider, kept to flush it at exit.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The exporter's HTTP client: async reqwest, driven on [`EXPORT_RUNTIME`].
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move { client.send_bytes(request).await })
            .await?
    }
}

/// Whether the environment asks for trace export.
pub fn enabled() -> bool {
    ENDPOINT_VARIABLES
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

/// The tracer exporting over OTLP/HTTP when [`enabled`], after installing the W3C trace
/// context propagator; `Err` says why export cannot start (it names no secret: header values
/// from `OTEL_EXPORTER_OTLP_HEADERS` are not repeated).
pub fn tracer() -> Result<Option<Tracer>, String> {
    if !enabled() {
        return Ok(None);
    }
    let runtime = match EXPORT_RUNTIME.get() {
        Some(runtime) => runtime,
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("otlp-export")
                .enable_all()
                .build()
                .map_err(|e| format!("OTLP export runtime: {e}"))?;
            EXPORT_RUNTIME.get_or_init(|| runtime)
        }
    };
    let client = ExportClient {
        client: reqwest::Client::builder()
            .build()
            .map_err(|e| format!("OTLP HTTP client: {e}"))?,
        runtime: runtime.handle().clone(),
    };
    use opentelemetry_otlp::WithHttpConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .build()
        .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer(SERVICE_NAME);
    let _ = PROVIDER.set(provider);
    Ok(Some(tracer))
}

/// Exports the spans still buffered; call once the server has stopped.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        eprintln!("OTLP export: {error}");
    }
}

/// An actix header map as a propagation carrier.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Makes `span` a child of the caller's trace when the request carries a valid W3C
/// `traceparent` (and `tracestate`); otherwise, or with export off, it starts a new trace.
pub fn adopt_caller_trace(span: &tracing::Span, headers: &HeaderMap) {
    if PROVIDER.get().is_none() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}
