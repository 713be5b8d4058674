//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{Error, Problem};
use crate::idempotency::Idempotency;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::upstream::ContactNowClient;

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is alive.
///
/// Always `200` while the process serves HTTP; for liveness probes.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The gateway can serve.
///
/// `200` when it is not draining, the upstream is not known to be down (circuit breaker open),
/// and an upstream token is held or can be obtained now; `503` otherwise. For readiness probes.
/// When ContactNow refused the API credentials the `503` has `code` `upstream_auth_failed`, and
/// probes are answered from that refusal: `token.php` is asked again at most once every 10 s.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "No upstream token can be obtained (`upstream_auth_failed` when ContactNow refused the API credentials), the upstream is known to be down (`upstream_unavailable`), or the gateway is draining (`draining`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(
    client: web::Data<ContactNowClient>,
    lifecycle: web::Data<Lifecycle>,
) -> Result<HttpResponse, Error> {
    if lifecycle.is_draining() {
        return Err(Error::Draining);
    }
    if client.upstream_known_down() {
        return Err(Error::UpstreamUnavailable("circuit breaker open".into()));
    }
    if !client.holds_token() {
        client.ensure_token().await.map_err(|error| match error {
            Error::UpstreamUnavailable(_) | Error::UpstreamAuthFailed(_) => error,
            other => Error::UpstreamUnavailable(other.to_string()),
        })?;
    }
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}

/// Prometheus metrics of this instance.
///
/// Text exposition format: requests by route and status, upstream exchanges by action and
/// outcome, token fetches and cache hits, circuit state, in-flight requests.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4",
        example = "# TYPE ecnow_gateway_http_requests_in_flight gauge\necnow_gateway_http_requests_in_flight 1\n"))
)]
#[get("/metrics")]
pub async fn metrics(
    metrics: web::Data<Metrics>,
    idempotency: Option<web::Data<Idempotency>>,
) -> HttpResponse {
    if let Some(idempotency) = idempotency {
        idempotency.refresh_key_count();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use actix_web::test::{TestRequest, call_service, init_service, read_body_json};
    use actix_web::{App, http::StatusCode};
    use secrecy::SecretString;

    use super::*;
    use crate::upstream::{UpstreamSettings, WireFormat};

    /// A client of a ContactNow that is never called.
    fn unused_client() -> ContactNowClient {
        let settings = UpstreamSettings {
            base_url: "http://127.0.0.1:9/".parse().unwrap(),
            username: "sandbox".into(),
            api_key: SecretString::from("sandbox"),
            format: WireFormat::Json,
            timeout: Duration::from_secs(1),
            max_concurrency: 1,
            queue_timeout: Duration::from_secs(1),
            breaker: Default::default(),
            metadata_ttl: Duration::from_secs(60),
        };
        ContactNowClient::new(&settings, Arc::new(Metrics::new())).unwrap()
    }

    #[actix_web::test]
    async fn a_draining_gateway_says_it_is_draining_not_that_contactnow_is_down() {
        let lifecycle = web::Data::new(Lifecycle::default());
        lifecycle.start_draining();
        let app = init_service(
            App::new()
                .app_data(web::Data::new(unused_client()))
                .app_data(lifecycle)
                .service(readyz),
        )
        .await;
        let response = call_service(&app, TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let problem: serde_json::Value = read_body_json(response).await;
        assert_eq!(problem["code"], "draining", "{problem}");
        assert!(
            !problem["detail"].as_str().unwrap().contains("ContactNow"),
            "{problem}"
        );
    }
}
