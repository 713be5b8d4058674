//! Bad input gets a clear 4xx problem and never reaches the upstream.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, full_token, problem_of, spawn_app, spawn_app_with};

#[tokio::test]
async fn invalid_writes_are_refused_before_the_upstream() {
    let app = spawn_app().await;
    let long = "x".repeat(300);
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/datasets/100/records",
            json!({"first_name": "Joe"}),
            422,
            "mobile_phone",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "12"}),
            422,
            "mobile_phone",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "firstname": "Joe"}),
            422,
            "firstname",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "id": 5}),
            422,
            "id",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "outcome_code": 0}),
            422,
            "outcome_code",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "process_type": "COMPLETE"}),
            422,
            "process_type",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "first_name": 5}),
            422,
            "first_name",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "last_name": long}),
            422,
            "last_name",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "custom": {"FirstName": "x"}}),
            422,
            "custom.FirstName",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "custom": {"dataset": "200"}}),
            422,
            "custom.dataset",
        ),
        (
            "/datasets/100/records",
            json!({"mobile_phone": "07123456789", "custom": {"a-b": "x"}}),
            422,
            "custom.a-b",
        ),
        ("/datasets/100/records", json!([]), 422, ""),
        (
            "/datasets/100/records",
            json!([{"mobile_phone": "07123456789"}, {"first_name": "x"}]),
            422,
            "[1].mobile_phone",
        ),
        ("/datasets/100/records", json!("a string"), 400, ""),
        (
            "/datasets/100&x=1/records",
            json!({"mobile_phone": "07123456789"}),
            400,
            "dataset",
        ),
        (
            "/datasets/0/records",
            json!({"mobile_phone": "07123456789"}),
            400,
            "dataset",
        ),
        (
            "/datasets/-1/records",
            json!({"mobile_phone": "07123456789"}),
            400,
            "dataset",
        ),
        (
            "/datasets/9007199254740992/records",
            json!({"mobile_phone": "07123456789"}),
            400,
            "dataset",
        ),
    ];
    for (path, body, status, field) in cases {
        let response = app
            .send(Method::POST, path, Some(&full_token()), Some(&body))
            .await;
        let problem = problem_of(response, status).await;
        if !field.is_empty() {
            let fields: Vec<&str> = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert!(fields.contains(&field), "{path} {body}: {problem}");
        }
    }
    let patches: Vec<(&str, Value, u16)> = vec![
        ("/records/550000", json!({"notes": "x"}), 422),
        (
            "/records/550000",
            json!({"dataset": 100, "table": "t", "notes": "x"}),
            422,
        ),
        (
            "/records/550000",
            json!({"dataset": "1x", "notes": "x"}),
            422,
        ),
        (
            "/datasets/100/records/550000",
            json!({"dataset": 200, "notes": "x"}),
            422,
        ),
        (
            "/datasets/100/records/550000",
            json!({"mobile_phone": "abc"}),
            422,
        ),
        (
            "/datasets/100/records/550000",
            json!({"process_type": "COMPLETE"}),
            422,
        ),
        ("/datasets/100/records/1.5", json!({"notes": "x"}), 400),
        (
            "/records/%35%35%30%30%30%30x",
            json!({"dataset": 100, "notes": "x"}),
            400,
        ),
        ("/records/550000", json!([{"dataset": 100}]), 400),
    ];
    for (path, body, status) in patches {
        let response = app
            .send(Method::PATCH, path, Some(&full_token()), Some(&body))
            .await;
        problem_of(response, status).await;
    }
    let calls = app.emulator().calls();
    assert_eq!(
        (calls.create, calls.update, calls.read, calls.token_get),
        (0, 0, 0, 0),
        "{calls:?}"
    );
}

#[tokio::test]
async fn invalid_reads_are_refused_before_the_upstream() {
    let app = spawn_app().await;
    for path in [
        "/datasets/100/records?limt=5",
        "/datasets/100/records?limit=1001",
        "/datasets/100/records?limit=0",
        "/datasets/100/records?outcome=1;2",
        "/datasets/100/records?mode=everything",
        "/datasets/100/records?dataset=200",
        "/datasets/100/records?search[loaddate]=2019",
        "/datasets/100/records?from=2019-01-01T25:00:00",
        "/datasets/100/records?limit=5&limit=6",
        "/datasets/abc/records",
        "/datasets/100/records/550000?x=1",
        "/campaigns/no-dash/records",
        "/campaigns/a%20b/records",
    ] {
        problem_of(app.get(path).await, 400).await;
    }
    assert_eq!(app.emulator().calls().read, 0);
}

#[tokio::test]
async fn bodies_must_be_json_and_within_the_limit() {
    let app = spawn_app_with(AppOptions {
        body_limit: 1024,
        ..AppOptions::default()
    })
    .await;
    let token = full_token();
    let not_json = app
        .http
        .post(app.url("/datasets/100/records"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(r#"{"mobile_phone":"07123456789"}"#)
        .send()
        .await
        .unwrap();
    problem_of(not_json, 415).await;
    let malformed = app
        .http
        .post(app.url("/datasets/100/records"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"mobile_phone":"0712"#)
        .send()
        .await
        .unwrap();
    problem_of(malformed, 400).await;
    let large = json!({"mobile_phone": "07123456789", "notes": "n".repeat(2000)});
    problem_of(
        app.send(
            Method::POST,
            "/datasets/100/records",
            Some(&token),
            Some(&large),
        )
        .await,
        413,
    )
    .await;
    assert_eq!(app.emulator().calls().create, 0);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_allow() {
    let app = spawn_app().await;
    problem_of(app.get("/nowhere").await, 404).await;
    problem_of(app.get("/datasets/100/records/550000/extra").await, 404).await;
    let response = app
        .send(
            Method::DELETE,
            "/datasets/100/records/550000",
            Some(&full_token()),
            None,
        )
        .await;
    assert_eq!(response.headers()["allow"], "GET, PATCH");
    problem_of(response, 405).await;
    let response = app
        .send(Method::PUT, "/datasets/100/records", None, None)
        .await;
    assert_eq!(response.headers()["allow"], "GET, POST");
    problem_of(response, 405).await;
}

#[tokio::test]
async fn request_ids_are_adopted_when_sane_and_made_otherwise() {
    let app = spawn_app().await;
    let adopted = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(adopted.headers()["x-request-id"], "abc-123");
    let replaced = app
        .http
        .get(app.url("/nowhere"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a generated uuid: {id}");
    let problem = problem_of(replaced, 404).await;
    assert_eq!(problem["request_id"], id.as_str());
}
