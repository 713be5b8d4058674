//! Logs and request context: the subscriber factory and the request middleware that gives every
//! request a span and an id.

use std::fmt::{self, Write as _};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::debug_fn;

use crate::error::Error;
use crate::metrics::{Metrics, UNMATCHED_ROUTE, method_label};
use crate::request_id;

/// The most bytes of header fields (names and values, summed) a request may carry; more is
/// answered 431. Heads past actix-http's own fixed caps (128 KiB, 96 fields) are refused by its
/// parser before any middleware runs, with an empty 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The longest request id adopted from a caller, in characters.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// The header that carries the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// How log lines are written (`GATEWAY_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object a line.
    Json,
    /// Human-readable text.
    Text,
}

/// Installs the global subscriber writing to `sink`, filtered by `RUST_LOG` or else `default`;
/// text lines carry ANSI colours only when `colour` is set (a terminal: a file or a log
/// collector would keep the escape codes). With a `tracer`, spans are exported through it too
/// (see [`crate::otel`]). Does nothing if one is installed already.
pub fn init_subscriber<W>(
    format: LogFormat,
    default_filter: &str,
    colour: bool,
    tracer: Option<opentelemetry_sdk::trace::Tracer>,
    sink: W,
) where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    type Stack = tracing_subscriber::layer::Layered<EnvFilter, tracing_subscriber::Registry>;

    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let lines = tracing_subscriber::fmt::layer().with_ansi(colour && format == LogFormat::Text);
    let mut layers: Vec<Box<dyn Layer<Stack> + Send + Sync>> = vec![match format {
        // serde_json escapes only the characters below U+0020: the writer escapes the rest.
        LogFormat::Json => lines
            .with_writer(JsonEscaping(sink))
            .json()
            .flatten_event(true)
            .boxed(),
        LogFormat::Text => lines
            .with_writer(sink)
            .fmt_fields(
                debug_fn(|writer, field, value| {
                    let text = format!("{value:?}");
                    match field.name() {
                        "message" => write!(writer, "{}", LogSafe(&text)),
                        name => write!(writer, "{name}={}", LogSafe(&text)),
                    }
                })
                .delimited(" "),
            )
            .boxed(),
    }];
    if let Some(tracer) = tracer {
        layers.push(tracing_opentelemetry::layer().with_tracer(tracer).boxed());
    }
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layers)
        .try_init();
}

/// Whether standard output may carry colours: it is a terminal and `NO_COLOR` is not set.
pub fn stdout_wants_colour() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Text as it may appear in a text log line: every control character (line breaks, escape
/// sequences, bidirectional overrides) written as an escape (`\n`, `\u{1b}`), so that text a
/// caller chose can neither start a forged line nor drive a terminal.
pub struct LogSafe<'a>(pub &'a str);

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match unsafe_in_logs(c) {
                true => write!(formatter, "{}", c.escape_default())?,
                false => formatter.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A control character (C0, DEL, C1), a line or paragraph separator, or a bidirectional
/// override or isolate: text that could forge a line or hide what a log line says.
fn unsafe_in_logs(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The JSON log sink: writes every character [`unsafe_in_logs`] as a `\uXXXX` escape. Such a
/// character can only stand inside a JSON string (the syntax is ASCII), so each line stays the
/// same JSON value.
struct JsonEscaping<W>(W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for JsonEscaping<W> {
    type Writer = JsonEscapingWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        JsonEscapingWriter(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        JsonEscapingWriter(self.0.make_writer_for(meta))
    }
}

/// One writer of [`JsonEscaping`].
struct JsonEscapingWriter<W>(W);

impl<W: std::io::Write> std::io::Write for JsonEscapingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // The formatter writes each line whole; bytes that are not UTF-8 pass unchanged.
        match std::str::from_utf8(bytes) {
            Ok(text) if text.chars().any(unsafe_in_logs) => {
                let mut escaped = String::with_capacity(text.len() + 16);
                for c in text.chars() {
                    // serde_json already escaped those below U+0020 (as JSON escapes).
                    match unsafe_in_logs(c) && c >= ' ' {
                        true => {
                            let _ = write!(escaped, "\\u{:04x}", u32::from(c));
                        }
                        false => escaped.push(c),
                    }
                }
                self.0.write_all(escaped.as_bytes())?;
                Ok(bytes.len())
            }
            _ => self.0.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The id of the request being handled, or `""` outside a request.
pub fn current_request_id() -> String {
    request_id::current()
}

/// A caller's id is adopted when it is 1 to [`MAX_REQUEST_ID_CHARS`] of `A-Z a-z 0-9 - _ . :`; otherwise one is made.
fn request_id_of(request: &ServiceRequest) -> String {
    request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            (1..=MAX_REQUEST_ID_CHARS).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            // A v4 UUID from the thread-local generator: no system call per request.
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string()
        })
}

/// The bytes of a request's header fields: names and values, summed.
fn header_bytes(request: &ServiceRequest) -> usize {
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

/// Middleware: a span per request (method, route, status, latency, caller, request id), the id
/// echoed in `X-Request-Id` on every answer; header fields over [`MAX_HEADER_BYTES`] are answered
/// 431 before any handler runs. The span's `method` and `route` come from closed
/// sets ([`method_label`], route templates), never from the caller's text.
pub async fn request_context(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = request_id_of(&request);
    let span = tracing::info_span!(
        "request",
        method = method_label(request.method()),
        route = Empty,
        request_id = %request_id,
        sub = Empty,
        status = Empty,
        latency_ms = Empty,
    );
    crate::otel::adopt_caller_trace(&span, request.headers());
    let started = Instant::now();
    let metrics = request.app_data::<web::Data<Metrics>>().cloned();
    let method = request.method().clone();
    // Held until this future ends or is dropped (a caller that goes away cancels it).
    let _in_flight = metrics.as_ref().map(|metrics| metrics.request_started());
    let call = async move {
        match header_bytes(&request) {
            bytes if bytes > MAX_HEADER_BYTES => Ok(request
                .error_response(Error::HeadersTooLarge {
                    limit: MAX_HEADER_BYTES,
                })
                .map_into_right_body()),
            _ => next
                .call(request)
                .await
                .map(ServiceResponse::map_into_left_body),
        }
    };
    let result = request_id::scope(request_id.clone(), call)
        .instrument(span.clone())
        .await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            if let Some(metrics) = &metrics {
                metrics.request_finished(
                    &method,
                    UNMATCHED_ROUTE,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    started.elapsed(),
                );
            }
            return Err(error);
        }
    };
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.into());
    let status = response.status();
    let elapsed = started.elapsed();
    span.record("route", route.as_str());
    span.record("status", status.as_u16());
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::info!("request finished"));
    if let Some(metrics) = &metrics {
        metrics.request_finished(&method, &route, status, elapsed);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::middleware::from_fn;
    use actix_web::test::{TestRequest, call_service, init_service};
    use actix_web::{App, HttpResponse};

    use super::*;

    /// Over HTTP/1 actix lets a handler run on when its caller goes away (half-closed
    /// connections are allowed); a request future is dropped mid-flight when the server stops
    /// past its drain deadline, or by whatever wraps the middleware. This drops it directly.
    #[actix_web::test]
    async fn a_cancelled_request_leaves_the_in_flight_gauge() {
        let metrics = web::Data::new(Metrics::new());
        let app = init_service(
            App::new()
                .app_data(metrics.clone())
                .wrap(from_fn(request_context))
                .route("/slow", web::get().to(std::future::pending::<HttpResponse>)),
        )
        .await;
        let call = call_service(&app, TestRequest::get().uri("/slow").to_request());
        let cut = tokio::time::timeout(Duration::from_millis(50), call).await;
        assert!(cut.is_err(), "the request was meant to be cancelled");
        let text = metrics.render();
        assert!(
            text.contains("ecnow_gateway_http_requests_in_flight 0"),
            "{text}"
        );
    }

    #[test]
    fn log_safe_text_escapes_control_characters_only() {
        assert_eq!(
            LogSafe("a\nb\r\u{1b}[31mé\u{2028}\u{202e}").to_string(),
            "a\\nb\\r\\u{1b}[31mé\\u{2028}\\u{202e}"
        );
    }
}
