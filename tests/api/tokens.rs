//! The upstream token: one fetch for a crowd, refresh on rejection, no caching of failures.

use std::time::Duration;

use ecnow_gateway::emulator::{EmulatorConfig, Fault};
use futures_util::future::join_all;

use crate::helpers::{
    API_KEY, API_USER, AppOptions, json_of, problem_of, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn a_hundred_concurrent_requests_on_a_cold_cache_fetch_one_token() {
    let app = spawn_app().await;
    let responses = join_all((0..100).map(|_| app.get("/datasets/100/records?limit=1"))).await;
    for response in responses {
        assert_eq!(response.status(), 200);
    }
    let calls = app.emulator().calls();
    assert_eq!(calls.token_get, 1, "{calls:?}");
    assert_eq!(calls.read, 100, "{calls:?}");
}

#[tokio::test]
async fn an_expired_token_is_refetched_once_and_the_call_retried_once() {
    let app = spawn_app().await;
    json_of(app.get("/datasets/100/records/550000").await, 200).await;
    app.emulator().expire_tokens();
    app.emulator().reset_calls();

    json_of(app.get("/datasets/100/records/550000").await, 200).await;
    let calls = app.emulator().calls();
    assert_eq!(calls.token_get, 1, "one refetch: {calls:?}");
    assert_eq!(calls.read, 2, "the rejected call and one retry: {calls:?}");
}

#[tokio::test]
async fn a_token_rejected_twice_is_not_retried_in_a_loop() {
    let app = spawn_app().await;
    json_of(app.get("/healthz").await, 200).await;
    // A token lifetime of zero makes every fresh token expire at once.
    app.emulator().set_token_lifetime(Duration::ZERO);
    let problem = problem_of(app.get("/datasets/100/records/550000").await, 503).await;
    assert_eq!(problem["code"], "upstream_unavailable");
    // The first call is the records route's dataset-list read: rejected, retried once, then
    // answered; no record read is sent.
    let calls = app.emulator().calls();
    assert_eq!((calls.read, calls.other), (0, 2), "{calls:?}");
    assert_eq!(calls.token_get, 2, "{calls:?}");
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    let app = spawn_app_with(AppOptions {
        emulator: Some(EmulatorConfig {
            username: API_USER.into(),
            api_key: API_KEY.into(),
            token_lifetime: Duration::from_secs(2),
            ..EmulatorConfig::default()
        }),
        ..AppOptions::default()
    })
    .await;
    json_of(app.get("/datasets/100/records?limit=1").await, 200).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    json_of(app.get("/datasets/100/records?limit=1").await, 200).await;
    let calls = app.emulator().calls();
    assert_eq!(calls.token_get, 2, "{calls:?}");
    assert_eq!(calls.read, 2, "no call met an expired token: {calls:?}");
}

#[tokio::test]
async fn a_failing_token_endpoint_is_not_cached() {
    let app = spawn_app().await;
    app.emulator().inject_fault(Fault::ServerError, 1);
    let response = app.get("/datasets/100/records").await;
    assert_eq!(response.headers()["retry-after"], "5");
    problem_of(response, 503).await;
    json_of(app.get("/datasets/100/records").await, 200).await;
    assert_eq!(app.emulator().calls().token_get, 2);
}

#[tokio::test]
async fn wrong_api_credentials_answer_503_and_not_ready() {
    let app = spawn_app_with(AppOptions {
        emulator: Some(EmulatorConfig {
            username: API_USER.into(),
            api_key: "another-key".into(),
            ..EmulatorConfig::default()
        }),
        ..AppOptions::default()
    })
    .await;
    let problem = problem_of(app.get("/datasets/100/records").await, 503).await;
    assert_eq!(problem["code"], "upstream_auth_failed");
    problem_of(app.http.get(app.url("/readyz")).send().await.unwrap(), 503).await;
    assert_eq!(app.emulator().calls().read, 0);
    let logs = crate::helpers::captured_logs();
    assert!(
        logs.contains("ContactNow refused the API credentials"),
        "an error-level log names the credentials to check"
    );
}

#[tokio::test]
async fn readiness_follows_the_token() {
    let app = spawn_app().await;
    let ready = json_of(app.http.get(app.url("/readyz")).send().await.unwrap(), 200).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(app.emulator().calls().token_get, 1);
    json_of(app.http.get(app.url("/healthz")).send().await.unwrap(), 200).await;
}
