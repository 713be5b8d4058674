//! Secrets never reach the logs: not the API key, not the upstream token, not the JWT secret,
//! not a caller's bearer token.

use std::time::Duration;

use ecnow_gateway::auth::{TokenRequest, mint};
use ecnow_gateway::config::RateLimit;
use ecnow_gateway::emulator::Fault;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{
    API_KEY, AppOptions, JWT_SECRET, MOCK_TOKEN, TestApp, captured_logs, full_token, json_of,
    problem_of, spawn_app, spawn_app_with, token_of,
};

#[tokio::test]
async fn a_full_scenario_logs_no_secret() {
    let app = spawn_app().await;
    let id = app.create_record(100).await;
    json_of(app.get(&format!("/datasets/100/records/{id}")).await, 200).await;
    json_of(
        app.patch(
            &format!("/records/{id}"),
            &json!({"dataset": 100, "notes": "x"}),
        )
        .await,
        200,
    )
    .await;
    let first_token = app.emulator().current_token().expect("a token was issued");
    app.emulator().expire_tokens();
    json_of(app.get("/datasets/100/records?limit=1").await, 200).await;
    app.emulator().inject_fault(Fault::ServerError, 1);
    problem_of(app.get("/datasets/100/records?limit=1").await, 502).await;
    problem_of(
        app.send(
            reqwest::Method::GET,
            "/datasets/100/records",
            Some("bad.token.here"),
            None,
        )
        .await,
        401,
    )
    .await;
    let second_token = app.emulator().current_token().expect("a token was issued");

    let logs = captured_logs();
    assert!(logs.contains("request finished"), "the log was captured");
    assert!(
        logs.contains("upstream exchange"),
        "upstream exchanges are logged"
    );
    for secret in [
        API_KEY,
        JWT_SECRET,
        MOCK_TOKEN,
        &first_token,
        &second_token,
        &full_token(),
    ] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
    }
    // The upstream URL carries the token in its query: no upstream query string is logged.
    assert!(
        !logs.contains("token="),
        "an upstream query string leaked into the logs"
    );
}

/// `GET /datasets/100/records?limit=1` with `token`.
async fn read_page(app: &TestApp, token: &str) -> reqwest::Response {
    app.send(
        reqwest::Method::GET,
        "/datasets/100/records?limit=1",
        Some(token),
        None,
    )
    .await
}

/// The statuses of the `request finished` lines naming caller `sub`.
fn statuses_logged_for(sub: &str) -> Vec<u64> {
    let mut statuses: Vec<u64> = captured_logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "request finished" && line["span"]["sub"] == sub)
        .filter_map(|line| line["span"]["status"].as_u64())
        .collect();
    statuses.sort_unstable();
    statuses
}

/// The caller's `sub` is on its request's log line, whether its token was verified for that
/// request or taken from the verified-token cache.
#[tokio::test]
async fn each_request_line_names_its_caller() {
    let app = spawn_app().await;
    let sub = "logs-caller-5e1d";
    let token = token_of(sub);
    for _ in 0..2 {
        json_of(read_page(&app, &token).await, 200).await;
    }
    assert_eq!(statuses_logged_for(sub), [200, 200]);
}

/// A request refused by the rate limit names its caller too: one whose token was verified for
/// it, and one whose token came from the cache.
#[tokio::test]
async fn a_rate_limited_request_line_names_its_caller() {
    let app = spawn_app_with(AppOptions {
        rate_limit: Some(RateLimit {
            per_second: 1.try_into().unwrap(),
            burst: 1.try_into().unwrap(),
        }),
        ..AppOptions::default()
    })
    .await;
    let sub = "logs-limited-8c2b";
    let token = token_of(sub);
    json_of(read_page(&app, &token).await, 200).await;
    problem_of(read_page(&app, &token).await, 429).await;
    // Another token of the same caller, not yet verified: the limit is checked after that.
    let other_token = mint(
        &SecretString::from(JWT_SECRET),
        &TokenRequest {
            sub: sub.into(),
            scope: "records:read".into(),
            datasets: None,
            tables: None,
            ttl: Duration::from_secs(600),
        },
    )
    .unwrap();
    problem_of(read_page(&app, &other_token).await, 429).await;
    assert_eq!(statuses_logged_for(sub), [200, 429, 429]);
}
