//! Browsers (CORS): listed origins get preflights and readable answers (errors included), other
//! origins get nothing, and with no origin listed no CORS header is ever sent.

use ecnow_gateway::cors::CorsSettings;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::helpers::{AppOptions, TestApp, full_token, json_of, problem_of, spawn_app_with};

const PAGE_ORIGIN: &str = "https://crm.example.com";
const OTHER_ORIGIN: &str = "https://evil.example.net";
const EXPOSED: &str =
    "location, x-request-id, retry-after, idempotent-replayed, preference-applied";

async fn spawn_with_origins(origins: &str) -> TestApp {
    spawn_app_with(AppOptions {
        cors: CorsSettings::parse(Some(origins)).unwrap(),
        ..AppOptions::default()
    })
    .await
}

/// A browser's preflight of `method path` with the headers a page sends.
async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key,prefer,traceparent,x-request-id",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// A comma list header as a sorted list of lower-case items.
fn items(headers: &HeaderMap, name: &str) -> Vec<String> {
    let mut items: Vec<String> = header(headers, name)
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect();
    items.sort();
    items
}

fn sorted(list: &str) -> Vec<String> {
    let mut items: Vec<String> = list.split(", ").map(str::to_owned).collect();
    items.sort();
    items
}

fn assert_no_cors_headers(headers: &HeaderMap) {
    let cors: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "unexpected CORS headers: {cors:?}");
}

#[tokio::test]
async fn a_preflight_from_a_listed_origin_is_204_with_the_routes_methods_and_headers() {
    let app = spawn_with_origins("http://127.0.0.1:5173, https://crm.example.com").await;
    for (path, method, route_methods) in [
        ("/datasets/100/records", "GET", "GET, POST"),
        ("/datasets/100/records", "POST", "GET, POST"),
        ("/datasets/100/records/550000", "PATCH", "GET, PATCH"),
        ("/records/550000", "PATCH", "PATCH"),
        ("/campaigns/leads/records", "GET", "GET"),
    ] {
        let response = preflight(&app, path, PAGE_ORIGIN, method).await;
        assert_eq!(response.status(), 204, "{method} {path}");
        let headers = response.headers();
        assert_eq!(
            header(headers, "access-control-allow-origin"),
            Some(PAGE_ORIGIN)
        );
        assert!(items(headers, "vary").contains(&"origin".to_owned()));
        assert_eq!(
            items(headers, "access-control-allow-methods"),
            sorted(&route_methods.to_ascii_lowercase()),
            "{method} {path}"
        );
        assert_eq!(
            items(headers, "access-control-allow-headers"),
            sorted(
                "authorization, content-type, idempotency-key, prefer, traceparent, x-request-id"
            )
        );
        assert_eq!(header(headers, "access-control-max-age"), Some("600"));
        assert!(
            header(headers, "x-request-id").is_some(),
            "request id on preflights too"
        );
        assert!(response.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn answers_to_a_listed_origin_carry_allow_origin_and_exposed_headers() {
    let app = spawn_with_origins(PAGE_ORIGIN).await;
    let response = app
        .http
        .post(app.url("/datasets/100/records"))
        .bearer_auth(full_token())
        .header("origin", PAGE_ORIGIN)
        .header("idempotency-key", "\"cors-create-1\"")
        .json(&json!({"first_name": "Ada", "mobile_phone": "+44 7700 900123"}))
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    json_of(response, 201).await;
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some(PAGE_ORIGIN)
    );
    assert_eq!(
        items(&headers, "access-control-expose-headers"),
        sorted(EXPOSED)
    );
    assert!(items(&headers, "vary").contains(&"origin".to_owned()));
}

#[tokio::test]
async fn error_answers_to_a_listed_origin_carry_the_cors_headers() {
    let app = spawn_with_origins(PAGE_ORIGIN).await;
    let no_token = app
        .http
        .get(app.url("/datasets/100/records"))
        .header("origin", PAGE_ORIGIN);
    let unknown_route = app
        .http
        .get(app.url("/no/such/route"))
        .header("origin", PAGE_ORIGIN);
    let wrong_method = app
        .http
        .delete(app.url("/records/550000"))
        .bearer_auth(full_token())
        .header("origin", PAGE_ORIGIN);
    let bad_phone = app
        .http
        .post(app.url("/datasets/100/records"))
        .bearer_auth(full_token())
        .header("origin", PAGE_ORIGIN)
        .json(&json!({"first_name": "Ada", "mobile_phone": "not a phone"}));
    let not_json = app
        .http
        .post(app.url("/datasets/100/records"))
        .bearer_auth(full_token())
        .header("origin", PAGE_ORIGIN)
        .header("content-type", "application/json")
        .body("{");
    for (request, status) in [
        (no_token, 401),
        (unknown_route, 404),
        (wrong_method, 405),
        (bad_phone, 422),
        (not_json, 400),
    ] {
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        problem_of(response, status).await;
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            Some(PAGE_ORIGIN),
            "{status}"
        );
        assert_eq!(
            items(&headers, "access-control-expose-headers"),
            sorted(EXPOSED),
            "{status}"
        );
    }
}

#[tokio::test]
async fn another_origin_gets_no_cors_header_and_its_preflight_is_a_403_problem() {
    let app = spawn_with_origins(PAGE_ORIGIN).await;
    let response = app
        .http
        .get(app.url("/datasets/100/records?limit=1"))
        .bearer_auth(full_token())
        .header("origin", OTHER_ORIGIN)
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    json_of(response, 200).await;
    assert_no_cors_headers(&headers);

    for method in ["GET", "POST", "PATCH"] {
        let response = preflight(&app, "/datasets/100/records", OTHER_ORIGIN, method).await;
        let headers = response.headers().clone();
        let problem = problem_of(response, 403).await;
        assert_eq!(problem["code"], "forbidden");
        assert_no_cors_headers(&headers);
    }

    // A caller without Origin (curl, a server) sees no CORS header either.
    let response = app.get("/datasets/100/records?limit=1").await;
    assert_no_cors_headers(response.headers());

    // The request middleware sees refused preflights (outside the CORS layer).
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|line| line.contains("http_requests_total")
                && line.contains(r#"method="OPTIONS""#)
                && line.contains(r#"status="403""#)
                && line.ends_with(" 3")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_preflight_asking_for_an_unlisted_header_is_refused() {
    let app = spawn_with_origins(PAGE_ORIGIN).await;
    let response = app
        .http
        .request(Method::OPTIONS, app.url("/datasets/100/records"))
        .header("origin", PAGE_ORIGIN)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-sneaky")
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    problem_of(response, 403).await;
    assert_no_cors_headers(&headers);
}

#[tokio::test]
async fn with_no_origin_listed_no_cors_header_is_ever_sent() {
    let app = spawn_app_with(AppOptions::default()).await;
    let response = app
        .http
        .get(app.url("/datasets/100/records?limit=1"))
        .bearer_auth(full_token())
        .header("origin", PAGE_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_no_cors_headers(response.headers());

    let response = preflight(&app, "/datasets/100/records", PAGE_ORIGIN, "POST").await;
    let headers = response.headers().clone();
    problem_of(response, 405).await;
    assert_no_cors_headers(&headers);
}

#[test]
fn a_wildcard_or_malformed_origin_is_refused_at_start_up_naming_the_setting() {
    for (command, origins) in [
        ("serve", "https://crm.example.com,*"),
        ("serve", "https://crm.example.com/app"),
        ("sandbox", "*"),
        ("sandbox", "crm.example.com"),
    ] {
        let mut gateway = std::process::Command::new(env!("CARGO_BIN_EXE_ecnow-gateway"));
        for (name, _) in std::env::vars() {
            if name.starts_with("GATEWAY_") || name.starts_with("CONTACTNOW_") {
                gateway.env_remove(name);
            }
        }
        let output = gateway
            .arg(command)
            .envs([
                ("CONTACTNOW_BASE_URL", "https://api-106.dxi.eu/"),
                ("CONTACTNOW_USERNAME", "u"),
                ("CONTACTNOW_API_KEY", "k"),
                ("GATEWAY_JWT_HS256_SECRET", crate::helpers::JWT_SECRET),
                ("GATEWAY_LISTEN", "127.0.0.1:0"),
                ("GATEWAY_CORS_ORIGINS", origins),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{command} {origins}: {stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains("GATEWAY_CORS_ORIGINS"),
            "names the setting: {stderr}"
        );
    }
}
