//! Upstream faults become clear 4xx/5xx problems, and nothing is retried that could duplicate.

use std::time::Duration;

use ecnow_gateway::emulator::Fault;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{
    AppOptions, mount_ecnow, mount_token, problem_of, spawn_app, spawn_app_with,
    spawn_app_with_mock,
};

#[tokio::test]
async fn updating_a_missing_record_is_404_with_the_upstream_words() {
    let app = spawn_app().await;
    let problem = problem_of(
        app.patch("/datasets/100/records/999999", &json!({"notes": "x"}))
            .await,
        404,
    )
    .await;
    assert_eq!(problem["detail"], "Record id [999999] does not exist.");
    problem_of(app.get("/datasets/100/records/999999").await, 404).await;
    problem_of(
        app.get("/campaigns/sandbox_campaign/records/999999").await,
        404,
    )
    .await;
}

#[tokio::test]
async fn creating_in_a_missing_dataset_is_404_and_in_an_expired_one_422() {
    let app = spawn_app().await;
    let problem = problem_of(
        app.post(
            "/datasets/4242/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        404,
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("4242"),
        "{problem}"
    );
    let problem = problem_of(
        app.post(
            "/datasets/300/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        problem["code"], "validation_failed",
        "refused before anything is sent"
    );
    assert_eq!(problem["errors"][0]["field"], "dataset");
}

#[tokio::test]
async fn a_slow_upstream_is_504_and_a_create_is_never_sent_twice() {
    let app = spawn_app_with(AppOptions {
        timeout: Duration::from_millis(300),
        ..AppOptions::default()
    })
    .await;
    crate::helpers::json_of(app.get("/healthz").await, 200).await;
    crate::helpers::json_of(app.http.get(app.url("/readyz")).send().await.unwrap(), 200).await;
    app.emulator()
        .inject_fault(Fault::Stall(Duration::from_secs(2)), 1);
    let problem = problem_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        504,
    )
    .await;
    assert_eq!(problem["code"], "upstream_timeout");
    assert_eq!(app.emulator().calls().create, 1);
}

#[tokio::test]
async fn garbage_and_http_errors_from_the_upstream_are_502() {
    let app = spawn_app().await;
    app.emulator().inject_fault(Fault::Garbage, 1);
    problem_of(app.get("/datasets/100/records").await, 502).await; // token.php answered garbage
    crate::helpers::json_of(app.http.get(app.url("/readyz")).send().await.unwrap(), 200).await;
    app.emulator().inject_fault(Fault::Garbage, 1);
    let problem = problem_of(app.get("/datasets/100/records").await, 502).await;
    assert_eq!(problem["code"], "upstream_failed");
    assert_eq!(
        problem["detail"],
        "ContactNow answered with an error or an invalid answer"
    );
    app.emulator().inject_fault(Fault::ServerError, 1);
    problem_of(app.get("/datasets/100/records").await, 502).await;
}

#[tokio::test]
async fn redirects_bad_arguments_and_missing_keys_are_502() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    Mock::given(path("/ecnow.php"))
        .and(wiremock::matchers::query_param("method", "ecnow_records"))
        .and(wiremock::matchers::query_param("action", "read"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "https://elsewhere.example/"),
        )
        .expect(1)
        .mount(app.mock())
        .await;
    problem_of(app.get("/datasets/100/records").await, 502).await;
    mount_ecnow(
        app.mock(),
        "update",
        json!({"success": false, "error": "Bad argument: id"}),
        1,
    )
    .await;
    problem_of(
        app.patch("/datasets/100/records/5", &json!({"notes": "x"}))
            .await,
        502,
    )
    .await;
    mount_ecnow(
        app.mock(),
        "create",
        json!({"success": true, "total": 1, "bad": 0}),
        1,
    )
    .await;
    problem_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        502,
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_503() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let app = spawn_app_with(AppOptions {
        base_url: Some(format!("http://127.0.0.1:{port}/")),
        ..AppOptions::default()
    })
    .await;
    let problem = problem_of(app.get("/datasets/100/records").await, 503).await;
    assert_eq!(problem["code"], "upstream_unavailable");
}
