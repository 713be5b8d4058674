//! Secrets never reach the logs: not the API key, not the upstream token, not the JWT secret,
//! not a caller's bearer token.

use ecnow_gateway::emulator::Fault;
use serde_json::json;

use crate::helpers::{
    API_KEY, JWT_SECRET, MOCK_TOKEN, captured_logs, full_token, json_of, problem_of, spawn_app,
    token_of,
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

/// The caller's `sub` is on its request's log line, whether its token was verified for that
/// request or taken from the verified-token cache.
#[tokio::test]
async fn each_request_line_names_its_caller() {
    let app = spawn_app().await;
    let sub = "logs-caller-5e1d";
    let token = token_of(sub);
    for _ in 0..2 {
        let response = app
            .send(
                reqwest::Method::GET,
                "/datasets/100/records?limit=1",
                Some(&token),
                None,
            )
            .await;
        json_of(response, 200).await;
    }
    let named = format!("\"sub\":\"{sub}\"");
    let lines = captured_logs()
        .lines()
        .filter(|line| line.contains("request finished") && line.contains(&named))
        .count();
    assert_eq!(lines, 2, "both request lines name the caller");
}
